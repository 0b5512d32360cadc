"""Helpers of the operations tests: the CLI's result, its environment, the test password."""

from __future__ import annotations

from collections.abc import Callable

from _cli import Result as Result
from _cli import clean_env as clean_env
from _pgcluster import PASSWORD

#: The test server's password (tests/_pgcluster.py): it must never be printed.
TEST_PASSWORD = PASSWORD


Cli = Callable[..., Result]
