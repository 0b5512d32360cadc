"""Query logging on the dualdb.query logger."""

from __future__ import annotations

import logging

import pytest

import dualdb
from dualdb import Param, Query, raw

t = dualdb.Table("items")


async def test_info_logs_statement_param_count_and_duration(
    items: dualdb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dualdb.query")
    await items.fetch_all(Query.from_(t).select(t.id).where(t.name == Param("name")), name="bob")
    record = next(r for r in caplog.records if r.name == "dualdb.query")
    assert record.levelno == logging.INFO
    quote = items.dialect.quote_char
    assert f"FROM {quote}items{quote}" in record.getMessage()
    assert "[1 params]" in record.getMessage()
    assert " ms " in record.getMessage()
    assert "bob" not in record.getMessage()


async def test_debug_logs_values_with_secrets_redacted(
    items: dualdb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dualdb.query")
    q = Query.from_(t).select(t.id).where(t.name == Param("name")).where(t.blob == Param("token"))
    await items.fetch_all(q, name="bob", token=b"hunter2")
    message = next(r for r in caplog.records if r.name == "dualdb.query").getMessage()
    assert "'name': 'bob'" in message
    assert "hunter2" not in message
    assert "'token': '***'" in message


@pytest.mark.parametrize("name", ["password", "api_key", "session_token", "client_secret"])
async def test_secret_like_param_names_are_redacted(
    items: dualdb.Database, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="dualdb.query")
    await items.fetch_all(
        Query.from_(t).select(t.id).where(t.name == Param(name)), **{name: "SEKRIT"}
    )
    assert "SEKRIT" not in caplog.text


async def test_slow_query_logged_at_warning(
    database_url: str, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    caplog.set_level(logging.WARNING, logger="dualdb.query")
    sleep = (
        "SELECT pg_sleep(0.05)"
        if backend == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000) "
        "SELECT count(*) FROM c"
    )
    async with dualdb.connect(database_url, slow_query_threshold=0.001) as db:
        await db.fetch_all(raw(sleep))
    warning = next(r for r in caplog.records if r.name == "dualdb.query")
    assert warning.levelno == logging.WARNING
    assert "slow query" in warning.getMessage()


async def test_nothing_logged_when_logger_is_quiet(
    items: dualdb.Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dualdb.query")
    await items.fetch_all(Query.from_(t).select(t.id))
    assert not [r for r in caplog.records if r.name == "dualdb.query"]
