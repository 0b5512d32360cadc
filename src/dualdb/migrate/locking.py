"""The migration lock: yoyo's ``yoyo_lock`` row, with a wait time and a useful message.

dualdb takes the same lock as plain yoyo, so a ``yoyo apply`` and a ``dualdb migrate``
exclude each other too. yoyo waits a hard-coded 10 s and then names only a pid; here the wait
is configurable, and a lock that outlived its run is reported with how to clear it. Where the
database is a local file (SQLite), a lock whose process no longer exists on this machine is
known to be stale at once; with a server the holder may run anywhere, so only the timeout
tells (:meth:`MigrationBackend.lock_holder_gone`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from yoyo.exceptions import LockTimeout

from dualdb.errors import LockHeld
from dualdb.migrate.backends import migrations_of

__all__ = ["LockInfo", "lock_holder", "migration_lock"]

_CLEAR_HINT = (
    "If no migration is running (for example a run was killed), clear the lock with "
    "`dualdb migrate --break-lock` (which then migrates) or `yoyo break-lock`."
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
    """Hold yoyo's migration lock for the ``with`` block, waiting up to ``timeout`` seconds.

    ``break_lock`` first removes any lock (say so, naming its holder). Raises
    :class:`LockHeld` when the lock is still taken after the wait, or at once when the
    holder is known to be dead.
    """
    if timeout <= 0:
        raise ValueError("the lock timeout must be positive")  # yoyo treats 0 as "forever"
    holder = lock_holder(backend)
    if holder is not None and break_lock:
        backend.break_lock()
        echo(f"Removed the migration lock held by {holder.describe()}.")
        holder = None
    if holder is not None:
        if migrations_of(backend).lock_holder_gone(holder.pid):
            raise LockHeld(
                f"the migration lock was left behind by {holder.describe()}, which is no "
                f"longer running on this machine. {_CLEAR_HINT}",
                pid=holder.pid,
                since=holder.since,
                stale=True,
            )
        echo(f"Waiting up to {timeout:g} s for the migration lock held by {holder.describe()}…")
    try:
        with backend.lock(timeout=timeout):
            yield
    except LockTimeout as exc:
        holder = lock_holder(backend)
        who = holder.describe() if holder is not None else "another run"
        raise LockHeld(
            f"the migration lock is still held by {who} after waiting {timeout:g} s. {_CLEAR_HINT}",
            pid=holder.pid if holder else None,
            since=holder.since if holder else None,
            stale=False,
        ) from exc
