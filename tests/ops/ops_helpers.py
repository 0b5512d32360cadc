"""Helpers of the operations tests: the CLI's result, its environment, the test password."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from _pgcluster import PASSWORD

#: The test server's password (tests/_pgcluster.py): it must never be printed.
TEST_PASSWORD = PASSWORD


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any dualdb setting, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("DB_", "SQLITE_", "DUALDB_PG_"))
    }
    env.update(extra)
    return env


Cli = Callable[..., Result]
