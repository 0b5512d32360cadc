"""The optional dependencies, imported where they are first needed.

``pip install dualdb`` brings only what SQLite needs; the PostgreSQL drivers and the
cryptography for OAuth tokens at rest come with extras. A missing one is reported as a
:class:`~dualdb.errors.ConfigurationError` naming the extra to install, at the point the
feature is used, rather than as an ImportError from deep inside dualdb.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dualdb.errors import ConfigurationError

__all__ = ["require"]


def require(module: str, *, extra: str, needed_for: str, variable: str | None = None) -> ModuleType:
    """``module``, imported; if it is not installed, a ConfigurationError saying that
    ``needed_for`` needs it and which ``pip install 'dualdb[extra]'`` brings it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing != module.partition(".")[0]:
            raise  # the package is there but broken: its own error says more
        raise ConfigurationError(
            f"{needed_for} needs {missing}, which is not installed: pip install 'dualdb[{extra}]'",
            variable=variable,
        ) from None
