"""Observing dualdb in production: query hooks, structured log records, pool counters and
OpenTelemetry spans, the same on both backends (OpenTelemetry's own instrumentations gave
6 spans on PostgreSQL, none for COPY, and 0 on SQLite)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import dualdb
from dualdb import Param, Query, Table, raw

items = Table("items")
INSERT = Query.into(items).columns(items.id, items.secret_token).insert(Param("id"), Param("tok"))
SELECT = Query.from_(items).select(items.id).where(items.id == Param("id"))


@pytest.fixture
async def table(db: dualdb.Database) -> dualdb.Database:
    t = db.dialect.column_type
    await db.execute(
        raw(f"CREATE TABLE items (id {t('bigint')} PRIMARY KEY, secret_token {t('text')})")
    )
    return db


async def test_a_hook_sees_each_statement_with_its_outcome(table: dualdb.Database) -> None:
    outcomes: list[dualdb.QueryOutcome] = []
    remove = table.add_query_hook(lambda event: outcomes.append)
    await table.execute(INSERT, id=1, tok="t0ken-value")
    await table.fetch_all(SELECT, id=1)
    with pytest.raises(dualdb.UniqueViolation):
        await table.execute(INSERT, id=1, tok="t0ken-value")
    remove()
    await table.fetch_all(SELECT, id=1)  # not seen: removed
    assert [(o.event.operation, o.event.verb, o.rows) for o in outcomes] == [
        ("execute", "INSERT", 1),
        ("fetch_all", "SELECT", 1),
        ("execute", "INSERT", None),
    ]
    assert isinstance(outcomes[2].error, dualdb.UniqueViolation)
    assert all(o.duration >= 0 and o.event.backend == table.backend for o in outcomes)
    assert outcomes[0].event.fingerprint == outcomes[2].event.fingerprint
    assert all(o.event.values is None for o in outcomes)


@dataclass
class Item:
    id: int


async def test_a_hook_sees_fetch_all_into_a_model_as_fetch_all(table: dualdb.Database) -> None:
    outcomes: list[dualdb.QueryOutcome] = []
    table.add_query_hook(lambda event: outcomes.append)
    await table.execute(INSERT, id=1, tok="t0ken-value")
    assert await table.fetch_all(SELECT, id=1, as_=Item) == [Item(1)]
    assert await table.fetch_all(SELECT, id=2, as_=Item) == []
    assert [(o.event.operation, o.rows) for o in outcomes[1:]] == [
        ("fetch_all", 1),
        ("fetch_all", 0),
    ]


async def test_values_reach_a_hook_only_when_asked_and_redacted(table: dualdb.Database) -> None:
    events: list[dualdb.QueryEvent] = []

    def hook(event: dualdb.QueryEvent) -> None:
        events.append(event)

    table.add_query_hook(hook, values=True)
    await table.execute(INSERT, id=7, tok="t0ken-value")
    assert events[0].values == {"id": 7, "tok": "***"}


async def test_transactions_bulk_inserts_and_streams_are_seen(table: dualdb.Database) -> None:
    seen: list[tuple[str, int | None]] = []
    table.add_query_hook(lambda event: lambda o: seen.append((o.event.operation, o.rows)))
    async with table.transaction() as tx:
        await tx.execute_many(INSERT, [{"id": n, "tok": "x"} for n in range(3)])
        async for _ in tx.iterate(Query.from_(items).select(items.id)):
            pass
    with pytest.raises(RuntimeError):
        async with table.transaction() as tx:
            raise RuntimeError
    assert seen == [
        ("begin", None),
        ("execute_many", 3),
        ("iterate", 3),
        ("commit", None),
        ("begin", None),
        ("rollback", None),
    ]


async def test_a_failing_hook_is_logged_and_the_query_still_runs(
    table: dualdb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: dualdb.QueryEvent) -> None:
        raise ValueError("hook bug")

    table.add_query_hook(broken)
    with caplog.at_level(logging.WARNING, logger="dualdb.hooks"):
        assert await table.execute(INSERT, id=1, tok="x") == 1
    assert "query hook" in caplog.text


async def test_log_records_carry_structured_fields(
    table: dualdb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dualdb.query"):
        await table.execute(INSERT, id=1, tok="t0ken-value")
        await table.fetch_all(SELECT, id=1)
    records = [r for r in caplog.records if r.name == "dualdb.query"]
    fields = [
        (r.db_backend, r.db_operation, r.rows, r.statement.split()[0])  # type: ignore[attr-defined]
        for r in records
    ]
    assert fields == [
        (table.backend, "execute", 1, "INSERT"),
        (table.backend, "fetch_all", 1, "SELECT"),
    ]
    assert all(r.duration_ms >= 0 and len(r.fingerprint) == 12 for r in records)  # type: ignore[attr-defined]
    assert "t0ken-value" not in caplog.text


async def test_pool_counters_count_waits_timeouts_and_connects(database_url: str) -> None:
    """For a metrics exporter: counters since the pool opened (rates come from them)."""
    async with dualdb.connect(
        database_url, pool_max_size=1, sqlite_pool_size=1, pool_timeout=0.2
    ) as db:
        async with db.transaction() as tx:
            await tx.fetch_val(raw("SELECT 1"))
            with pytest.raises(dualdb.PoolTimeout):
                await db.fetch_val(raw("SELECT 1"))  # the one connection is in use
        await db.fetch_val(raw("SELECT 1"))
        stats = db.pool_stats()
    assert (stats.waits, stats.timeouts, stats.connect_failures) == (1, 1, 0)
    assert stats.wait_seconds >= 0.15
    assert stats.connects >= 1


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def test_opentelemetry_spans_follow_the_database_conventions(
    table: dualdb.Database, spans: tuple[TracerProvider, InMemorySpanExporter], backend: str
) -> None:
    provider, exporter = spans
    stop = dualdb.instrument_opentelemetry(table, tracer_provider=provider)
    async with table.transaction() as tx:
        await tx.execute_many(INSERT, [{"id": n, "tok": "t0ken-value"} for n in range(3)])
    await table.fetch_all(SELECT, id=1)
    with pytest.raises(dualdb.UniqueViolation):
        await table.execute(INSERT, id=1, tok="t0ken-value")
    stop()
    await table.fetch_all(SELECT, id=1)
    finished = exporter.get_finished_spans()
    assert [s.attributes["dualdb.operation"] for s in finished] == [  # type: ignore[index]
        "begin",
        "execute_many",
        "commit",
        "fetch_all",
        "execute",
    ]
    select = finished[3]
    assert select.attributes is not None
    assert select.attributes["db.system.name"] == backend
    assert select.attributes["db.operation.name"] == "SELECT"
    assert select.attributes["db.response.returned_rows"] == 1
    assert "$1" in str(select.attributes["db.query.text"]) or "?" in str(
        select.attributes["db.query.text"]
    )
    assert finished[4].attributes is not None
    assert finished[4].attributes["error.type"] == "UniqueViolation"
    assert not finished[4].status.is_ok
    if backend == "postgresql":
        assert "server.port" in select.attributes
    assert all("t0ken-value" not in str(s.to_json()) for s in finished)
