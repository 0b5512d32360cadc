"""Query logging on the ``dualdb.query`` logger, and the drivers' own loggers kept quiet
about values.

INFO: statement, number of parameters, duration. DEBUG: the same plus the values of
Params, except a Param named like a secret, or meeting a column named like one, or named
by :func:`register_secret_names`, which is written ``***``; so is every value that is no
Param (an inline literal, a ``raw()`` argument), whose secrecy nothing tells. Slow
statements (over ``slow_query_threshold``) are logged at WARNING without values. Nothing
is formatted unless a handler will see it, so logging costs two clock reads when it is off.

The drivers' own loggers are kept from logging values by each dialect (aiosqlite's: see
``dialects/sqlite/_aiosqlite.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from dualdb.sql.compile import Compiled

__all__ = ["fingerprint", "log_query", "logger", "redact", "register_secret_names"]

logger = logging.getLogger("dualdb.query")

_SECRET = re.compile(r"pass|pwd|token|secret|key|hash|verifier|credential|auth|cookie", re.I)

#: Names (lower case) of Params and columns the application registered as secret.
_registered: set[str] = set()

_HIDDEN = "***"


def register_secret_names(*names: str) -> None:
    """Never log the value of a Param with one of these names, nor of any value that
    meets a column with one of them (case-insensitive): for secrets whose names
    dualdb's own pattern (password, token, key, secret, …) does not catch, such as
    ``ssn`` or ``iban``. Process-wide; call it once at start-up."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a secret name is a non-empty str, got {name!r}")
        _registered.add(name.lower())


def _is_secret(name: str) -> bool:
    return name.lower() in _registered or _SECRET.search(name) is not None


def redact(compiled: Compiled, values: Sequence[Any]) -> dict[str, Any]:
    """The arguments of ``compiled`` for a log line, by label (see ``Compiled.labels``),
    each value shown only if it is a Param's that is no secret (see the module)."""
    targets = compiled.targets
    shown: dict[str, Any] = {}
    for index, (slot, value) in enumerate(zip(compiled.slots, values, strict=False)):
        name = slot.name
        target = targets[index] if targets is not None else None
        column = target.column if target is not None else None
        secret = name is None or _is_secret(name) or (column is not None and _is_secret(column))
        shown[name or f"${index + 1}"] = _HIDDEN if secret else value
    return shown


def fingerprint(sql: str) -> str:
    """A short, stable digest of a statement, grouping its executions (logs, hooks)."""
    return hashlib.blake2s(sql.encode(), digest_size=6).hexdigest()


def log_query(
    compiled: Compiled,
    args: Sequence[Any],
    elapsed: float,
    dialect: str,
    slow_threshold: float | None,
    operation: str = "",
    rows: int | None = None,
) -> None:
    """Log one statement. Each record also carries its parts as attributes, for a JSON
    formatter or a log pipeline: ``db_backend``, ``db_operation``, ``duration_ms``,
    ``rows``, ``statement`` and ``fingerprint`` (a short digest of the statement that
    groups its executions)."""
    extra = {
        "db_backend": dialect,
        "db_operation": operation,
        "duration_ms": round(elapsed * 1000, 3),
        "rows": rows,
        "statement": compiled.sql,
        "fingerprint": fingerprint(compiled.sql),
    }
    if slow_threshold is not None and elapsed >= slow_threshold:
        logger.warning(
            "slow query (%.1f ms > %.1f ms) on %s: %s [%d params]",
            elapsed * 1000,
            slow_threshold * 1000,
            dialect,
            compiled.sql,
            len(args),
            extra=extra,
        )
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s [%d params] %.3f ms on %s; values=%r",
            compiled.sql,
            len(args),
            elapsed * 1000,
            dialect,
            redact(compiled, args),
            extra=extra,
        )
    elif logger.isEnabledFor(logging.INFO):
        logger.info(
            "%s [%d params] %.3f ms on %s",
            compiled.sql,
            len(args),
            elapsed * 1000,
            dialect,
            extra=extra,
        )
