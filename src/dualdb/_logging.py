"""Query logging on the ``dualdb.query`` logger.

INFO: statement, number of parameters, duration. DEBUG: the same plus the values, with
values of parameters named like a secret replaced by ``***``. Slow statements (over
``slow_query_threshold``) are logged at WARNING without values. Nothing is formatted
unless a handler will see it, so logging costs two clock reads when it is off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from dualdb.sql.compile import Compiled

__all__ = ["log_query", "logger", "redact"]

logger = logging.getLogger("dualdb.query")

_SECRET = re.compile(r"pass|pwd|token|secret|key|hash|verifier|credential|auth|cookie", re.I)


def redact(labels: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Parameter values for a log line, secrets masked."""
    return {
        label: "***" if _SECRET.search(label) else value
        for label, value in zip(labels, values, strict=False)
    }


def log_query(
    compiled: Compiled,
    args: Sequence[Any],
    elapsed: float,
    dialect: str,
    slow_threshold: float | None,
) -> None:
    if slow_threshold is not None and elapsed >= slow_threshold:
        logger.warning(
            "slow query (%.1f ms > %.1f ms) on %s: %s [%d params]",
            elapsed * 1000,
            slow_threshold * 1000,
            dialect,
            compiled.sql,
            len(args),
        )
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s [%d params] %.3f ms on %s; values=%r",
            compiled.sql,
            len(args),
            elapsed * 1000,
            dialect,
            redact(compiled.labels(), args),
        )
    elif logger.isEnabledFor(logging.INFO):
        logger.info(
            "%s [%d params] %.3f ms on %s", compiled.sql, len(args), elapsed * 1000, dialect
        )
