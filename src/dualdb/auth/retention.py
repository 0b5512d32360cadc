"""The retention job: expired sessions and OAuth states deleted in short batches, and
archived first where the application keeps them.

The auth tables grow without bound otherwise: a session row outlives its expiry, and an
OAuth state that was never consumed stays. :func:`run_retention` deletes both kinds in
batches of ``batch_size`` rows by primary key, each batch its own short transaction, so
no lock is held for long however large the backlog.

With an archive table, each batch is one ``DELETE … RETURNING`` and one ``INSERT`` of
exactly the returned rows into the archive, in one transaction: a row is archived by the
one job whose DELETE removed it, so two jobs running at once never archive a row twice,
and the row is never gone without being archived. The DELETE re-checks the expiry, so a
session that a login or a request extended meanwhile is never taken.

The archive table is the application's, made by its own migration (see docs/retention.md):
the source table's columns plus ``archived_at``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dualdb import Database, Param, Table
from dualdb.auth._batches import DEFAULT_BATCH_SIZE, purge_query
from dualdb.auth._clock import Clock, now_from, utc_now
from dualdb.auth._schema import SESSION_COLUMNS, from_, into
from dualdb.auth._schema import oauth_sessions as _oauth_sessions
from dualdb.auth._schema import user_sessions as _user_sessions
from dualdb.errors import ConfigurationError

__all__ = [
    "ARCHIVED_AT",
    "SESSION_ARCHIVE_COLUMNS",
    "STATE_ARCHIVE_COLUMNS",
    "RetentionReport",
    "TableRetention",
    "run_retention",
]

#: The column of an archive table that records when the row was archived.
ARCHIVED_AT = "archived_at"
#: What an archive keeps of each table: no secret (no token hash, no PKCE verifier).
SESSION_ARCHIVE_COLUMNS = SESSION_COLUMNS
STATE_ARCHIVE_COLUMNS = (
    _oauth_sessions.id,
    _oauth_sessions.state,
    _oauth_sessions.redirect_uri,
    _oauth_sessions.created_at,
    _oauth_sessions.expires_at,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class TableRetention:
    """What the job did to one table: rows deleted, and the archive they went to."""

    table: str
    deleted: int
    batches: int
    archive: str | None = None


@dataclass(frozen=True)
class RetentionReport:
    """The job's result, one entry per table."""

    tables: list[TableRetention] = field(default_factory=list)

    @property
    def deleted(self) -> int:
        return sum(entry.deleted for entry in self.tables)


def _archive_queries(table: Table, columns: tuple[Any, ...], archive: str) -> tuple[Any, Any]:
    if not _IDENTIFIER.fullmatch(archive):
        raise ConfigurationError(
            f"archive table names must be plain identifiers (letters, digits, _): "
            f"{archive!r} is not",
            variable="archive",
        )
    expired = (
        from_(table).select(table.id).where(table.expires_at <= Param("now")).limit(Param("batch"))
    )
    take = (
        from_(table)
        .delete()
        .where(table.id.isin(expired))
        .where(table.expires_at <= Param("now"))
        .returning(*columns)
    )
    target = Table(archive)
    names = [column.name for column in columns]
    put = (
        into(target)
        .columns(*names, ARCHIVED_AT)
        .insert(*(Param(name) for name in names), Param(ARCHIVED_AT))
    )
    return take, put


async def _retain(
    db: Database,
    table: Table,
    columns: tuple[Any, ...],
    archive: str | None,
    now: Any,
    batch_size: int,
) -> TableRetention:
    deleted = batches = 0
    if archive is None:
        purge = purge_query(table)
        while True:
            count = await db.execute(purge, now=now, batch=batch_size)
            deleted, batches = deleted + count, batches + 1
            if count < batch_size:
                break
        return TableRetention(table.get_table_name(), deleted, batches)
    take, put = _archive_queries(table, columns, archive)
    while True:
        async with db.transaction() as tx:
            rows = await tx.fetch_all(take, now=now, batch=batch_size)
            if rows:
                await tx.execute_many(put, [{**dict(row), ARCHIVED_AT: now} for row in rows])
        deleted, batches = deleted + len(rows), batches + 1
        if len(rows) < batch_size:
            break
    return TableRetention(table.get_table_name(), deleted, batches, archive)


async def run_retention(
    db: Database,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    archive_sessions: str | None = None,
    archive_states: str | None = None,
    clock: Clock = utc_now,
) -> RetentionReport:
    """Delete expired login sessions and expired OAuth states, ``batch_size`` rows per
    transaction; with ``archive_sessions``/``archive_states``, move them into those
    tables instead. Returns what was done per table.

    Takes the :class:`~dualdb.Database` (not a transaction): each batch must commit on
    its own, or the whole purge would be one long transaction holding its locks. Safe to
    run from a schedule while the application serves requests, and two at once.
    """
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be ≥ 1, got {batch_size}", variable="batch_size")
    now = now_from(clock)  # read once: the job ends even while rows keep expiring
    return RetentionReport(
        [
            await _retain(
                db, _user_sessions, SESSION_ARCHIVE_COLUMNS, archive_sessions, now, batch_size
            ),
            await _retain(
                db, _oauth_sessions, STATE_ARCHIVE_COLUMNS, archive_states, now, batch_size
            ),
        ]
    )
