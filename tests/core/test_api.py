"""The Database query methods, on both backends."""

from __future__ import annotations

import gc
import uuid
from typing import Any, cast

import pytest

import dualdb
from dualdb import Param, Query, raw

t = dualdb.Table("items")

INSERT = Query.into(t).columns(t.id, t.name, t.qty).insert(Param("id"), Param("name"), Param("qty"))
BY_ID = Query.from_(t).select(t.id, t.name, t.qty).where(t.id == Param("id"))
ALL = Query.from_(t).select(t.name, t.qty).orderby(t.qty)
COUNT = Query.from_(t).select(dualdb.fn.Count("*"))


def numbered_rows(count: int) -> list[dict[str, object]]:
    return [{"id": uuid.uuid4(), "name": f"n{i}", "qty": i} for i in range(count)]


async def add(db: dualdb.Database, name: str, qty: int) -> uuid.UUID:
    uid = uuid.uuid4()
    await db.execute(INSERT, id=uid, name=name, qty=qty)
    return uid


async def test_fetch_one_returns_the_row(items: dualdb.Database) -> None:
    uid = await add(items, "a", 1)
    row = await items.fetch_one(BY_ID, id=uid)
    assert row is not None
    assert (row["id"], row["name"], row["qty"]) == (uid, "a", 1)


async def test_fetch_one_without_match_is_none(items: dualdb.Database) -> None:
    assert await items.fetch_one(BY_ID, id=uuid.uuid4()) is None


async def test_fetch_all_returns_rows_in_order(items: dualdb.Database) -> None:
    for name, qty in [("b", 2), ("a", 1), ("c", 3)]:
        await add(items, name, qty)
    assert [tuple(r) for r in await items.fetch_all(ALL)] == [("a", 1), ("b", 2), ("c", 3)]


async def test_fetch_val_returns_first_column(items: dualdb.Database) -> None:
    await add(items, "a", 41)
    assert await items.fetch_val(Query.from_(t).select(t.qty)) == 41
    assert await items.fetch_val(Query.from_(t).select(t.qty).where(t.qty > 100)) is None


async def test_execute_returns_affected_row_count(items: dualdb.Database) -> None:
    for qty in (1, 2, 3):
        await add(items, "x", qty)
    assert await items.execute(Query.update(t).set(t.name, "y").where(t.qty >= 2)) == 2
    assert await items.execute(Query.from_(t).delete().where(t.qty == 1)) == 1


async def test_execute_many_inserts_every_row(items: dualdb.Database) -> None:
    rows = numbered_rows(250)
    await items.execute_many(INSERT, rows)
    assert await items.fetch_val(COUNT) == 250


async def test_execute_many_is_atomic(items: dualdb.Database) -> None:
    uid = uuid.uuid4()
    rows = [{"id": uuid.uuid4(), "name": "a", "qty": 1}, {"id": uid, "name": "b", "qty": 2}]
    rows.append({"id": uid, "name": "dup", "qty": 3})
    with pytest.raises(dualdb.UniqueViolation):
        await items.execute_many(INSERT, rows)
    assert await items.fetch_val(COUNT) == 0


async def test_execute_many_rejects_a_nul_in_any_row_and_inserts_none(
    items: dualdb.Database,
) -> None:
    rows = numbered_rows(1200)
    rows[1100]["name"] = "bad\x00name"  # in the last of several statements on SQLite
    with pytest.raises(dualdb.DataError, match="NUL"):
        await items.execute_many(INSERT, rows)
    assert await items.fetch_val(COUNT) == 0


async def test_execute_many_inserts_rows_in_order_across_statements(
    items: dualdb.Database,
) -> None:
    rows = numbered_rows(1201)
    await items.execute_many(INSERT, rows)
    stored = await items.fetch_all(Query.from_(t).select(t.id, t.name, t.qty).orderby(t.qty))
    assert [(r["id"], r["name"], r["qty"]) for r in stored] == [
        (r["id"], r["name"], r["qty"]) for r in rows
    ]


async def test_execute_many_with_upsert_uses_the_statement(items: dualdb.Database) -> None:
    upsert = (
        cast(Any, Query.into(t))
        .columns(t.id, t.name, t.qty)
        .insert(Param("id"), Param("name"), Param("qty"))
        .on_conflict(t.id)
        .do_update(t.qty)
    )
    uid = uuid.uuid4()
    await items.execute_many(upsert, [{"id": uid, "name": "a", "qty": q} for q in (1, 2, 3)])
    assert await items.fetch_val(Query.from_(t).select(t.qty)) == 3


async def test_execute_many_with_no_rows_does_nothing(items: dualdb.Database) -> None:
    await items.execute_many(INSERT, [])
    assert await items.fetch_val(COUNT) == 0


async def test_iterate_streams_every_row_in_batches(items: dualdb.Database) -> None:
    await items.execute_many(
        INSERT, [{"id": uuid.uuid4(), "name": "n", "qty": i} for i in range(1234)]
    )
    seen = [row["qty"] async for row in items.iterate(ALL, batch_size=100)]
    assert seen == list(range(1234))


async def test_iterate_can_stop_early(items: dualdb.Database) -> None:
    for qty in range(10):
        await add(items, "n", qty)
    got = []
    async for row in items.iterate(ALL, batch_size=3):
        got.append(row["qty"])
        if len(got) == 4:
            break
    assert got == [0, 1, 2, 3]
    assert await items.fetch_val(COUNT) == 10


async def test_iterate_holds_no_record_the_caller_has_taken(items: dualdb.Database) -> None:
    # A record left in its batch until the batch ends outlives the garbage collector's
    # young generation, and is collected again later with every object in it.
    await items.execute_many(INSERT, numbered_rows(7))
    held = []
    async for row in items.iterate(ALL, batch_size=5):
        held.append(sum(isinstance(r, list) for r in gc.get_referrers(row)))
    assert held == [0] * 7


async def test_upsert_do_nothing_keeps_existing_row(items: dualdb.Database) -> None:
    uid = await add(items, "first", 1)
    q = (
        cast(Any, Query.into(t))
        .columns(t.id, t.name, t.qty)
        .insert(Param("id"), Param("name"), Param("qty"))
        .on_conflict(t.id)
        .do_nothing()
    )
    assert await items.execute(q, id=uid, name="second", qty=2) == 0
    row = await items.fetch_one(BY_ID, id=uid)
    assert row is not None and row["name"] == "first"


async def test_upsert_do_update_with_returning(items: dualdb.Database) -> None:
    uid = await add(items, "first", 1)
    q = (
        cast(Any, Query.into(t))
        .columns(t.id, t.name, t.qty)
        .insert(Param("id"), Param("name"), Param("qty"))
        .on_conflict(t.id)
        .do_update(t.name)
        .returning(t.id, t.name, t.qty)
    )
    row = await items.fetch_one(q, id=uid, name="second", qty=99)
    assert row is not None
    assert (row["id"], row["name"], row["qty"]) == (uid, "second", 1)


async def test_delete_returning_gives_deleted_rows(items: dualdb.Database) -> None:
    uid = await add(items, "gone", 5)
    rows = await items.fetch_all(
        cast(Any, Query.from_(t)).delete().where(t.id == Param("id")).returning(t.name), id=uid
    )
    assert [r["name"] for r in rows] == ["gone"]
    assert await items.fetch_one(BY_ID, id=uid) is None


async def test_equals_none_matches_null_rows(items: dualdb.Database) -> None:
    await items.execute(Query.into(t).columns(t.id, t.name).insert(uuid.uuid4(), None))
    await add(items, "named", 1)
    rows = await items.fetch_all(Query.from_(t).select(t.name).where(t.name == None))  # noqa: E711
    assert [r["name"] for r in rows] == [None]


async def test_empty_in_list_matches_nothing(items: dualdb.Database) -> None:
    await add(items, "a", 1)
    assert await items.fetch_all(Query.from_(t).select(t.id).where(t.qty.isin([]))) == []
    assert len(await items.fetch_all(Query.from_(t).select(t.id).where(t.qty.notin([])))) == 1


async def test_like_escapes_wildcards_from_user_input(items: dualdb.Database) -> None:
    for name in ("50% off", "50 dollars", "a_b", "axb"):
        await add(items, name, 1)
    like = Query.from_(t).select(t.name).where(t.name.like(cast(str, Param("p")))).orderby(t.name)
    assert [r[0] for r in await items.fetch_all(like, p=dualdb.escape_like("50%") + "%")] == [
        "50% off"
    ]
    assert [r[0] for r in await items.fetch_all(like, p=dualdb.escape_like("a_") + "%")] == ["a_b"]


async def test_like_is_case_sensitive_on_both(items: dualdb.Database) -> None:
    await add(items, "Alice", 1)
    q = Query.from_(t).select(t.name).where(t.name.like(cast(str, Param("p"))))
    assert await items.fetch_all(q, p="alice") == []


async def test_unsupported_construct_fails_before_sending(items: dualdb.Database) -> None:
    q = Query.from_(t).select(t.id).where(t.name.ilike("x"))
    if items.backend == "sqlite":
        with pytest.raises(dualdb.UnsupportedFeature):
            await items.fetch_all(q)
    else:
        assert await items.fetch_all(q) == []


async def test_misspelt_column_is_an_error_on_both(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.ProgrammingError):
        await items.fetch_all(Query.from_(t).select(t.id).where(t.nmae == "x"))


async def test_a_bad_call_raises_when_awaited_not_when_made(items: dualdb.Database) -> None:
    # So calls can be made first and awaited together (asyncio.gather) like coroutines.
    missing_value = items.fetch_one(BY_ID)
    count = items.fetch_val(COUNT)
    with pytest.raises(dualdb.QueryError, match="no value for Param id"):
        await missing_value
    assert await count == 0


async def test_ad_hoc_query_with_inline_values_works(items: dualdb.Database) -> None:
    uid = await add(items, "a", 7)
    row = await items.fetch_one(Query.from_(t).select(t.qty).where(t.id == uid))
    assert row is not None and row["qty"] == 7


async def test_raw_sql_uses_the_dialects_placeholders(items: dualdb.Database) -> None:
    await add(items, "a", 7)
    placeholder = items.dialect.placeholder(1)
    assert await items.fetch_val(raw(f"SELECT qty FROM items WHERE name = {placeholder}", "a")) == 7


async def test_compile_shows_sql_and_arguments(items: dualdb.Database) -> None:
    uid = uuid.uuid4()
    sql, args = items.compile(BY_ID, id=uid)
    quote = items.dialect.quote_char
    assert sql.endswith(f"{quote}id{quote}=" + items.dialect.placeholder(1))
    assert args == [uid]


async def test_explain_returns_plan_lines(items: dualdb.Database) -> None:
    lines = await items.explain(BY_ID, id=uuid.uuid4())
    assert lines and all(isinstance(line, str) for line in lines)


async def test_health_reports_backend_and_latency(db: dualdb.Database, backend: str) -> None:
    health = await db.health()
    assert health.backend == backend
    assert 0 < health.latency < 5
    assert ("SQLite" if backend == "sqlite" else "PostgreSQL") in health.server_version


async def test_closed_database_refuses_queries(database_url: str) -> None:
    db = await dualdb.connect(database_url)
    await db.close()
    with pytest.raises(dualdb.DatabaseError):
        await db.fetch_val(raw("SELECT 1"))


async def test_concurrent_tasks_each_get_a_connection(items: dualdb.Database) -> None:
    import asyncio

    await asyncio.gather(*(add(items, f"n{i}", i) for i in range(40)))
    assert await items.fetch_val(COUNT) == 40
