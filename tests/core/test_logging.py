"""Query logging on the dualdb.query logger."""

from __future__ import annotations

import logging
import uuid

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


SECRET = "S3CRET-logged-value"


async def test_an_inline_literal_is_never_logged(
    items: dualdb.Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    """Nothing tells whether a literal is a secret: it is written ``***``."""
    await items.fetch_all(Query.from_(t).select(t.id).where(t.name == SECRET))
    assert SECRET not in debug_logs.text
    assert "'$1': '***'" in debug_logs.text


async def test_raw_arguments_are_never_logged(
    items: dualdb.Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    p = items.dialect.placeholder
    await items.fetch_all(raw(f"SELECT id FROM items WHERE name = {p(1)}", SECRET))
    assert SECRET not in debug_logs.text


async def test_a_param_meeting_a_column_named_like_a_secret_is_not_logged(
    items: dualdb.Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    """The Param's name (``who``) says nothing; the column's does, here because the
    application registered it (names like ``api_key`` are caught without)."""
    dualdb.register_secret_names("NAME")
    await items.fetch_all(Query.from_(t).select(t.id).where(t.name == Param("who")), who=SECRET)
    assert SECRET not in debug_logs.text
    assert "'who': '***'" in debug_logs.text


async def test_a_registered_param_name_is_not_logged(
    items: dualdb.Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    dualdb.register_secret_names("iban")
    query = Query.from_(t).select(t.id).where(t.qty == Param("n")).where(t.name == Param("iban"))
    await items.fetch_all(query, n=5, iban=SECRET)
    assert SECRET not in debug_logs.text
    assert "'n': 5" in debug_logs.text


async def test_the_drivers_own_debug_lines_show_no_values(
    items: dualdb.Database, debug_logs: pytest.LogCaptureFixture
) -> None:
    """aiosqlite logs each call with its arguments at DEBUG; dualdb's filter keeps the
    line and drops the arguments (asyncpg logs no values)."""
    insert = Query.into(t).columns(t.id, t.name).insert(Param("id"), Param("password"))
    await items.execute(insert, id=uuid.uuid4(), password=SECRET)
    assert SECRET not in debug_logs.text
    driver_lines = [r for r in debug_logs.records if r.name == "aiosqlite"]
    assert all("(…)" in r.getMessage() for r in driver_lines if "executing" in r.msg)


def test_a_secret_name_must_be_a_non_empty_string() -> None:
    with pytest.raises(TypeError):
        dualdb.register_secret_names("")


@pytest.fixture(autouse=True)
def _registered_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """register_secret_names is process-wide: each test starts from none."""
    monkeypatch.setattr("dualdb._logging._registered", set())
