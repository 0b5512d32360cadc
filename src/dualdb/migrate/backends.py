"""yoyo's database backends, adjusted for dualdb: what every backend's subclass shares.

Each dialect subclasses yoyo's backend for its database (``dualdb.dialects``' migration
modules) with :class:`AtomicMigrations` first. The subclasses keep yoyo's bookkeeping
tables and SQL untouched, so ``yoyo`` and ``dualdb`` stay interchangeable on one database.
What changes:

* **One transaction per migration, bookkeeping included.** yoyo runs a migration's steps on a
  second connection, commits, and only then records it as applied: a crash in between leaves
  an applied but unrecorded migration. Here the steps, yoyo's log and mark rows and dualdb's
  checksum row commit together or not at all (migrations marked ``__transactional__ = False``
  keep yoyo's own behaviour).
* **No transactional-DDL probe.** Both backends have transactional DDL; yoyo's probe creates a
  table, which fails on SQLite while another process holds the write lock and would then
  switch yoyo to best-effort manual rollbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dualdb.dialects import DialectName, MigrationBackend, get_dialect
from dualdb.errors import UnsupportedFeature

__all__ = [
    "AfterChange",
    "AtomicMigrations",
    "dialect_of",
    "drop_everything",
    "drop_listed",
    "enforce_foreign_keys",
    "migrations_of",
]

#: Called inside a migration's transaction after yoyo's bookkeeping:
#: ``(backend, migration, "apply" | "rollback")``.
AfterChange = Callable[[Any, Any, str], None]


def _run_atomically(
    backend: Any, migration: Any, direction: str, fallback: Callable[[], None], force: bool
) -> None:
    """Run ``migration`` in ``direction`` with its bookkeeping in one transaction.

    A migration marked non-transactional (``CREATE INDEX CONCURRENTLY``…) cannot share a
    transaction with anything, so it takes yoyo's own path (``fallback``) and only the hook
    runs in a transaction of its own.
    """
    migration.load()
    if not migration.use_transactions:
        fallback()  # yoyo's own path; the hook then gets a transaction of its own
        if backend.after_change is not None:
            with backend.transaction():
                backend.after_change(backend, migration, direction)
        return
    backend.ensure_internal_schema_updated()
    before = backend.inexact_columns() if direction == "apply" else {}
    with backend.transaction():
        migration.process_steps(backend, direction, force=force)
        if direction == "apply":
            _refuse_inexact_columns(backend, before)
        backend.log_migration(migration, direction)
        if direction == "apply":
            backend.mark_one(migration, log=False)
        else:
            backend.unmark_one(migration, log=False)
        if backend.after_change is not None:
            backend.after_change(backend, migration, direction)


def _refuse_inexact_columns(backend: Any, before: dict[str, str]) -> None:
    """Fail the migration (rolled back with it) if it added a column the backend would
    store some values of inexactly: better now than a refused write in production."""
    added = {name: why for name, why in backend.inexact_columns().items() if name not in before}
    if added:
        name, why = next(iter(added.items()))
        raise UnsupportedFeature(f"the column {name}", backend.dialect, why)


class AtomicMigrations:
    """Runs each migration and its bookkeeping in one transaction (see the module docstring).

    Listed before yoyo's backend class, so ``super()`` here is yoyo's own implementation.
    """

    def inexact_columns(self) -> dict[str, str]:
        """The columns (``table.column``) whose declared type this backend would store
        some values of inexactly, each with why and what to declare instead."""
        return {}

    def apply_one(self, migration: Any, force: bool = False, mark: bool = True) -> None:
        parent: Any = super()
        if not mark:  # post-apply hooks are never recorded
            parent.apply_one(migration, force=force, mark=False)
            return
        _run_atomically(self, migration, "apply", lambda: parent.apply_one(migration, force), force)

    def rollback_one(self, migration: Any, force: bool = False) -> None:
        parent: Any = super()
        _run_atomically(
            self, migration, "rollback", lambda: parent.rollback_one(migration, force), force
        )


def dialect_of(backend: Any) -> DialectName:
    """The dialect name of a yoyo backend made by a dialect's migration module."""
    dialect: DialectName = backend.dialect
    return dialect


def migrations_of(backend: Any) -> MigrationBackend:
    """The :class:`MigrationBackend` of a yoyo backend made by a dialect's migration module."""
    return get_dialect(dialect_of(backend)).migrations()


def enforce_foreign_keys(backend: Any) -> None:
    """Make the connection obey the application's rules (``ON DELETE CASCADE`` on SQLite,
    where foreign keys are off by default). Must run outside a transaction."""
    migrations_of(backend).prepare(backend)


def drop_listed(
    backend: Any, objects: Iterable[tuple[str, str, str]], *, keep: frozenset[str]
) -> list[str]:
    """Run each ``(kind, name, DROP statement)`` but for the tables named in ``keep``, in one
    transaction; return what was dropped (for a dialect's ``drop_everything``)."""
    dropped: list[str] = []
    with backend.transaction():
        for kind, name, statement in objects:
            if name in keep:
                continue
            backend.execute(statement)
            dropped.append(f"{kind.lower()} {name}")
    return dropped


def drop_everything(backend: Any, *, keep: frozenset[str]) -> list[str]:
    """Drop every table, view, sequence, routine and type of the database (current schema on
    PostgreSQL) except the tables named in ``keep``; return what was dropped.

    One transaction: on failure nothing is dropped.
    """
    return migrations_of(backend).drop_everything(backend, keep=keep)
