"""What the tests that run the ``dualdb`` command share: its result, and an environment
without any dualdb setting of the machine's."""

from __future__ import annotations

import os
from dataclasses import dataclass

_SETTING_PREFIXES = ("DB_", "SQLITE_", "DUALDB_PG_")
_SETTINGS = {"DATABASE_URL"}


@dataclass(frozen=True)
class Result:
    """A finished command."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any dualdb setting, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SETTINGS and not key.startswith(_SETTING_PREFIXES)
    }
    env.update(extra)
    return env
