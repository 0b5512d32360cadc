"""The backends, by name: the one place a backend is chosen.

A dialect is registered under a name (:data:`DialectName`) as a factory, so that a backend's
driver is imported only when that backend is used: an application on SQLite never imports
asyncpg. dualdb registers its own two; another package adds one with
:func:`register_dialect`, or by declaring an entry point in the ``dualdb.dialects`` group
(``name = "package.module:DialectClass"``), loaded the first time a name is not found.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeAlias

from dualdb.dialects.base import Dialect, MigrationBackend
from dualdb.errors import ConfigurationError

__all__ = [
    "Dialect",
    "DialectName",
    "MigrationBackend",
    "dialect_names",
    "embedded_dialect",
    "get_dialect",
    "is_registered",
    "register_dialect",
]

#: A registered dialect's name, e.g. ``"sqlite"`` or ``"postgresql"`` (what
#: :attr:`Settings.backend <dualdb.Settings.backend>` and ``Database.backend`` hold).
DialectName: TypeAlias = str

ENTRY_POINT_GROUP = "dualdb.dialects"

_FACTORIES: dict[DialectName, Callable[[], Dialect]] = {}
_INSTANCES: dict[DialectName, Dialect] = {}
_LOCK = threading.Lock()
_entry_points_loaded = False


def _builtin(path: str) -> Callable[[], Dialect]:
    def load() -> Dialect:
        module, _, name = path.partition(":")
        dialect: Dialect = getattr(importlib.import_module(module), name)()
        return dialect

    return load


def register_dialect(name: DialectName, factory: Callable[[], Dialect]) -> None:
    """Make ``name`` usable in ``DB_TYPE``/:func:`get_dialect`; ``factory`` (a Dialect
    class, say) is called once, on first use. Replacing a registered name is an error."""
    with _LOCK:
        if name in _FACTORIES:
            raise ConfigurationError(f"a dialect named {name!r} is already registered")
        _FACTORIES[name] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _FACTORIES:
            _FACTORIES[point.name] = point.load


def get_dialect(name: DialectName) -> Dialect:
    """The shared Dialect instance registered under ``name``."""
    dialect = _INSTANCES.get(name)
    if dialect is not None:
        return dialect
    with _LOCK:
        if name not in _FACTORIES:
            _load_entry_points()
        factory = _FACTORIES.get(name)
        if factory is None:
            raise ConfigurationError(
                f"unknown dialect {name!r}; registered: {', '.join(sorted(_FACTORIES))}",
                variable="DB_TYPE",
            )
        dialect = _INSTANCES.get(name)
        if dialect is None:
            dialect = _INSTANCES[name] = factory()
            if dialect.name != name:
                del _INSTANCES[name]
                raise ConfigurationError(
                    f"the dialect registered as {name!r} calls itself {dialect.name!r}"
                )
    return dialect


def is_registered(name: DialectName) -> bool:
    """Whether ``name`` is a dialect; installed packages' entry points are read only for
    a name dualdb does not register itself (reading them scans every installed package)."""
    if name in _FACTORIES:
        return True
    with _LOCK:
        _load_entry_points()
        return name in _FACTORIES


def dialect_names() -> tuple[DialectName, ...]:
    """The registered names, dualdb's own first."""
    with _LOCK:
        _load_entry_points()
        return tuple(_FACTORIES)


def embedded_dialect() -> Dialect:
    """The first registered embedded dialect (a database with no server: SQLite)."""
    for name in dialect_names():
        dialect = get_dialect(name)
        if dialect.is_embedded:
            return dialect
    raise ConfigurationError("no embedded dialect (one with no server, like SQLite) is registered")


register_dialect("sqlite", _builtin("dualdb.dialects.sqlite:SQLiteDialect"))
register_dialect("postgresql", _builtin("dualdb.dialects.postgres:PostgresDialect"))
