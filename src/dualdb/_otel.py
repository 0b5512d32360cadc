"""OpenTelemetry spans for every statement and transaction, on both backends.

Built on the query hooks (:mod:`dualdb._hooks`), so SQLite gets the same spans as
PostgreSQL, and ``execute_many`` (COPY on PostgreSQL), ``iterate`` and BEGIN/COMMIT/
ROLLBACK are traced like single statements. Attributes follow OpenTelemetry's database
semantic conventions: ``db.system.name``, ``db.namespace``, ``db.operation.name``,
``db.query.text`` (with placeholders: values are never recorded), ``server.address``,
``server.port``, ``db.response.returned_rows`` and ``error.type``.

Needs ``opentelemetry-api`` (``pip install 'dualdb[otel]'``); dualdb imports it only here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dualdb._hooks import QueryEvent, QueryOutcome
from dualdb.errors import ConfigurationError

if TYPE_CHECKING:
    from dualdb.database import Database

__all__ = ["instrument_opentelemetry"]

#: OpenTelemetry's ``db.system.name`` of each backend.
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}


def instrument_opentelemetry(db: Database, *, tracer_provider: Any = None) -> Callable[[], None]:
    """Trace every statement and transaction ``db`` runs as a CLIENT span of the current
    trace. Returns a function that stops it."""
    try:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
    except ImportError as exc:
        raise ConfigurationError(
            "OpenTelemetry tracing needs opentelemetry-api: pip install 'dualdb[otel]'"
        ) from exc
    tracer = trace.get_tracer("dualdb", tracer_provider=tracer_provider)

    def hook(event: QueryEvent) -> Callable[[QueryOutcome], None]:
        operation = event.verb or event.operation.upper()
        attributes: dict[str, Any] = {
            "db.system.name": _SYSTEMS.get(event.backend, event.backend),
            "db.namespace": event.namespace,
            "db.operation.name": operation,
            "db.query.text": event.sql,
            "dualdb.operation": event.operation,
        }
        if event.server is not None:
            attributes["server.address"], attributes["server.port"] = event.server
        span = tracer.start_span(
            f"{operation} {event.namespace}".strip(), kind=SpanKind.CLIENT, attributes=attributes
        )

        def finish(outcome: QueryOutcome) -> None:
            if outcome.rows is not None:
                span.set_attribute("db.response.returned_rows", outcome.rows)
            if outcome.error is not None:
                span.set_attribute("error.type", type(outcome.error).__qualname__)
                span.set_status(Status(StatusCode.ERROR, type(outcome.error).__qualname__))
            span.end()

        return finish

    return db.add_query_hook(hook)
