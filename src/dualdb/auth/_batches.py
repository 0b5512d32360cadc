"""Deleting expired rows in bounded batches.

One ``DELETE … WHERE id IN (SELECT id … WHERE expires_at <= $now LIMIT $n)`` per batch:
each batch is its own short statement (its own transaction when run on a Database), so
purging a large backlog never holds locks on the table for long, on either backend.
"now" is read once, so the loop ends even while new rows keep expiring.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dualdb import Param, Queryable, Table
from dualdb.auth._schema import from_

__all__ = ["DEFAULT_BATCH_SIZE", "purge_query", "run_purge"]

DEFAULT_BATCH_SIZE = 1000


def purge_query(table: Table) -> Any:
    """The one-batch DELETE for a table with ``id`` and an indexed ``expires_at``."""
    expired = (
        from_(table).select(table.id).where(table.expires_at <= Param("now")).limit(Param("batch"))
    )
    return from_(table).delete().where(table.id.isin(expired))


async def run_purge(db: Queryable, query: Any, now: datetime, batch_size: int) -> int:
    """Run ``query`` until a batch deletes fewer rows than ``batch_size``; the total."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    total = 0
    while True:
        deleted = await db.execute(query, now=now, batch=batch_size)
        total += deleted
        if deleted < batch_size:
            return total
