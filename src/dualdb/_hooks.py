"""Query hooks: what each statement was, how long it took, what it returned or raised.

A hook is called before each statement with a :class:`QueryEvent` and may return a
function, called after it with the :class:`QueryOutcome`: enough for metrics, tracing
(:mod:`dualdb._otel` builds OpenTelemetry spans on it) and audit logs. Values are given
to a hook only if it asks (``values=True``), redacted as the DEBUG log redacts them.

A hook that raises is logged and otherwise ignored: observing must not break the
application. With no hook registered a statement costs one more attribute test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dualdb._logging import fingerprint, redact
from dualdb.sql.compile import Compiled

__all__ = ["Hooks", "QueryEvent", "QueryHook", "QueryOutcome", "count_rows"]

_logger = logging.getLogger("dualdb.hooks")


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """One statement (or a transaction's BEGIN, COMMIT or ROLLBACK) about to run."""

    #: The SQL as sent, with placeholders (never values).
    sql: str
    #: ``fetch_all``, ``fetch_one``, ``fetch_val``, ``execute``, ``execute_many``,
    #: ``iterate``, or ``begin``/``commit``/``rollback``.
    operation: str
    #: ``"sqlite"`` or ``"postgresql"``.
    backend: str
    #: The first word of the SQL (``SELECT``, ``INSERT`` …).
    verb: str
    #: A short, stable digest of ``sql``, to group statements in metrics.
    fingerprint: str
    #: The database (PostgreSQL's name, or SQLite's file), and its server's host and port.
    namespace: str
    server: tuple[str, int] | None
    #: Argument values by Param name (``$n`` for others), secrets shown as ``***``; None
    #: unless the hook was added with ``values=True``.
    values: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    """How a statement ended."""

    event: QueryEvent
    #: Seconds from sending the statement to its result (or error).
    duration: float
    #: Rows returned (``fetch_*``, ``iterate``) or changed (``execute``, ``execute_many``);
    #: None where unknown (``fetch_val``, transaction control).
    rows: int | None
    #: What it raised (a dualdb error, or a cancellation), or None.
    error: BaseException | None


#: ``hook(event)`` → None, or a function to call with the outcome.
QueryHook = Callable[[QueryEvent], "Callable[[QueryOutcome], None] | None"]


class Hooks:
    """The hooks of one Database, shared by its transactions."""

    __slots__ = ("entries", "namespace", "server")

    def __init__(self, namespace: str, server: tuple[str, int] | None) -> None:
        #: A list, changed in place: the hot path tests it (a C-level truth test) rather
        #: than the object.
        self.entries: list[tuple[QueryHook, bool]] = []
        self.namespace = namespace
        self.server = server

    def at(self, namespace: str, server: tuple[str, int] | None) -> Hooks:
        """The same hooks, with events naming another server (a read replica's)."""
        view = Hooks(namespace, server)
        view.entries = self.entries
        return view

    def add(self, hook: QueryHook, values: bool) -> Callable[[], None]:
        entry = (hook, values)
        self.entries.append(entry)

        def remove() -> None:
            if entry in self.entries:
                self.entries.remove(entry)

        return remove

    def before(
        self,
        operation: str,
        backend: str,
        compiled: Compiled | None,
        sql: str,
        args: Sequence[Any] = (),
    ) -> list[tuple[QueryEvent, Callable[[QueryOutcome], None]]]:
        """Call each hook with the event; the finishers they returned, with their events."""
        words = sql.split(None, 1)
        plain = QueryEvent(
            sql=sql,
            operation=operation,
            backend=backend,
            verb=words[0].upper() if words else "",
            fingerprint=fingerprint(sql),
            namespace=self.namespace,
            server=self.server,
        )
        finishers = []
        for hook, wants_values in tuple(self.entries):
            event = plain
            if wants_values and compiled is not None:
                event = _with_values(plain, redact(compiled, args))
            try:
                finish = hook(event)
            except Exception:
                _logger.warning("query hook %r failed", hook, exc_info=True)
                continue
            if finish is not None:
                finishers.append((event, finish))
        return finishers

    @staticmethod
    def after(
        finishers: list[tuple[QueryEvent, Callable[[QueryOutcome], None]]],
        duration: float,
        rows: int | None,
        error: BaseException | None,
    ) -> None:
        for event, finish in finishers:
            try:
                finish(QueryOutcome(event, duration, rows, error))
            except Exception:
                _logger.warning("query hook %r failed", finish, exc_info=True)


def _with_values(event: QueryEvent, values: Mapping[str, Any]) -> QueryEvent:
    return QueryEvent(
        event.sql,
        event.operation,
        event.backend,
        event.verb,
        event.fingerprint,
        event.namespace,
        event.server,
        values,
    )


def shown(operation: str) -> str:
    """The operation as hooks and logs name it: ``fetch_rows`` is ``fetch_all(as_=…)``."""
    return "fetch_all" if operation == "fetch_rows" else operation


def count_rows(operation: str, result: Any) -> int | None:
    """The rows an operation's result stands for (see ``QueryOutcome.rows``)."""
    if operation == "fetch_all":
        return len(result)
    if operation == "fetch_rows":
        return len(result[1])
    if operation == "fetch_one":
        return 0 if result is None else 1
    if operation == "execute":
        return int(result)
    return None
