"""The migration lock: yoyo's ``yoyo_lock`` row, with a wait time and a useful message.

A ``yoyo apply`` and a ``dualdb migrate`` exclude each other: dualdb takes yoyo's lock row
too. But yoyo's row outlives a killed run (a container's SIGKILL, an OOM kill), and a pid
cannot tell whether its run is alive (in a container it is 1). So dualdb holds the lock in
a form the server or the operating system frees when the process dies: on PostgreSQL the
row is inserted in a transaction that stays open while the run lasts (a killed run's
transaction is rolled back, row and all); on SQLite an OS lock on a file beside the
database guards the row (see each backend's ``migration_lock``). yoyo waits a hard-coded
10 s and names only a pid; here the wait is configurable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from yoyo.exceptions import LockTimeout

from dualdb.errors import LockHeld
from dualdb.migrate.backends import migrations_of

__all__ = ["LockInfo", "held", "lock_holder", "migration_lock", "yoyo_row_lock"]

_CLEAR_HINT = (
    "This lock row was written by plain yoyo (or an older dualdb): if no migration is "
    "running, clear it with `dualdb migrate --break-lock` (which then migrates) or "
    "`yoyo break-lock`."
)


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock: the holder's process id and when it took the lock (UTC text)."""

    pid: int
    since: str | None

    def describe(self) -> str:
        since = f" since {self.since[:19].replace('T', ' ')} UTC" if self.since else ""
        return f"process {self.pid}{since}"


def lock_holder(backend: Any) -> LockInfo | None:
    """The current holder of the migration lock, or ``None`` when it is free."""
    if backend.lock_table not in backend.list_tables():
        return None
    row = backend.execute(
        f"SELECT pid, CAST(ctime AS TEXT) FROM {backend.lock_table_quoted}"
    ).fetchone()
    return None if row is None else LockInfo(int(row[0]), row[1])


@contextmanager
def migration_lock(
    backend: Any,
    *,
    timeout: float,
    break_lock: bool = False,
    echo: Callable[[str], None] = print,
) -> Iterator[None]:
    """Hold the migration lock for the ``with`` block, waiting up to ``timeout`` seconds.

    The lock is freed by the server or the operating system when the process holding it
    dies (see ``MigrationBackend.migration_lock``), so a killed run leaves nothing to
    clear. A lock row left by plain yoyo (or a dualdb before this one) is waited for as
    yoyo does; ``break_lock`` first removes it (saying so, naming its holder). Raises
    :class:`LockHeld` when the lock is still taken after the wait.
    """
    if timeout <= 0:
        raise ValueError("the lock timeout must be positive")  # yoyo treats 0 as "forever"
    with migrations_of(backend).migration_lock(
        backend, timeout=timeout, break_lock=break_lock, echo=echo
    ):
        yield


@contextmanager
def yoyo_row_lock(
    backend: Any, *, timeout: float, break_lock: bool, echo: Callable[[str], None]
) -> Iterator[None]:
    """yoyo's own lock row, as plain ``yoyo apply`` takes it: waited for up to
    ``timeout``, removed first with ``break_lock``."""
    holder = lock_holder(backend)
    if holder is not None and break_lock:
        backend.break_lock()
        echo(f"Removed the migration lock held by {holder.describe()}.")
        holder = None
    if holder is not None:
        echo(f"Waiting up to {timeout:g} s for the migration lock held by {holder.describe()}…")
    try:
        with backend.lock(timeout=timeout):
            yield
    except LockTimeout as exc:
        holder = lock_holder(backend)
        raise held(holder, timeout) from exc


def held(holder: LockInfo | None, timeout: float, *, live: bool = False) -> LockHeld:
    """The error for a lock still held after ``timeout``: by a running dualdb (``live``,
    which frees it when it ends or dies), or by a yoyo lock row."""
    who = holder.describe() if holder is not None else "another run"
    hint = "A migration is running; try again when it has finished." if live else _CLEAR_HINT
    return LockHeld(
        f"the migration lock is still held by {who} after waiting {timeout:g} s. {hint}",
        pid=holder.pid if holder else None,
        since=holder.since if holder else None,
        stale=False,
    )
