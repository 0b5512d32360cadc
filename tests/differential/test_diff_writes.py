"""Generated sequences of writes (insert, upsert, update, delete, with RETURNING) leave
the same data, return the same rows and counts, and raise the same errors on both.

Each operation runs in a savepoint, so an expected error (a duplicate key) rolls back
that operation alone, on both backends.
"""

from __future__ import annotations

from typing import Any, cast

from _differential import KV, Pair, canon_rows, examples, on_both, scratch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypika import Order
from pypika.terms import ValueWrapper

from dualdb import Param, Query

KEYS = ["a", "b", "A", "é", "e\u0301", ""]
keys = st.sampled_from(KEYS)
values = st.integers(-1000, 1000)
notes = st.none() | st.sampled_from(["", "n", "N"])

INSERT: Any = (
    Query.into(KV).columns(KV.k, KV.v, KV.note).insert(Param("k"), Param("v"), Param("note"))
)
UPSERT_UPDATE = INSERT.on_conflict(KV.k).do_update(KV.v).returning(KV.k, KV.v, KV.note)
UPSERT_NOTHING = INSERT.on_conflict(KV.k).do_nothing().returning(KV.k, KV.v)
UPSERT_ADD = INSERT.on_conflict(KV.k).do_update(KV.v, KV.v + Param("v")).returning(KV.v, KV.note)
UPDATE = (
    cast(Any, Query.update(KV))
    .set(KV.v, KV.v + Param("delta"))
    .set(KV.note, Param("note"))
    .where(KV.k >= Param("k"))
    .returning(KV.k, KV.v)
)
DELETE = cast(Any, Query.from_(KV)).delete().where(KV.v < Param("v")).returning(KV.k, KV.note)
STATE = Query.from_(KV).select(KV.k, KV.v, KV.note).orderby(KV.k, order=Order.asc)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), keys, values, notes),
        st.tuples(st.just("upsert_update"), keys, values, notes),
        st.tuples(st.just("upsert_nothing"), keys, values, notes),
        st.tuples(st.just("upsert_add"), keys, values, notes),
        st.tuples(st.just("update"), keys, values, notes),
        st.tuples(st.just("delete"), keys, values, notes),
        st.tuples(st.just("insert_many"), st.lists(keys, max_size=3, unique=True), values, notes),
    ),
    max_size=8,
)


def _sorted(rows: list[Any]) -> list[Any]:
    # UPDATE/DELETE … RETURNING order is unspecified by both backends.
    return sorted(rows, key=repr)


async def _apply(db: Any, op: tuple[Any, ...]) -> Any:
    kind, key, value, note = op
    if kind == "insert":
        return await db.execute(INSERT, k=key, v=value, note=note)
    if kind == "upsert_update":
        return canon_rows(await db.fetch_all(UPSERT_UPDATE, k=key, v=value, note=note))
    if kind == "upsert_nothing":
        return canon_rows(await db.fetch_all(UPSERT_NOTHING, k=key, v=value, note=note))
    if kind == "upsert_add":  # through fetch_one: SQLite must still run it to completion
        row = await db.fetch_one(UPSERT_ADD, k=key, v=value, note=note)
        return canon_rows([row] if row is not None else [])
    if kind == "update":
        return _sorted(canon_rows(await db.fetch_all(UPDATE, k=key, delta=value, note=note)))
    if kind == "delete":
        return _sorted(canon_rows(await db.fetch_all(DELETE, v=value)))
    # A multi-row INSERT … RETURNING returns rows in VALUES order on both.
    q: Any = Query.into(KV).columns(KV.k, KV.v, KV.note)
    for k in key:
        q = q.insert(k, value, note)
    if not key:
        return []
    return canon_rows(await db.fetch_all(q.returning(KV.k, KV.v)))


@settings(max_examples=examples(1500))
@given(ops=operations)
@example(ops=[("insert", "a", 1, None), ("insert", "a", 2, None)])  # UniqueViolation on both
@example(  # PyPika shared ON CONFLICT targets between queries built from one INSERT
    ops=[("upsert_add", "é", 1, "n"), ("upsert_add", "é", 2, None)]
)
@example(ops=[("insert_many", ["a", "b"], 3, ""), ("delete", "", 4, None)])
@example(ops=[("insert", "e\u0301", 1, None), ("insert", "é", 1, None)])  # distinct keys
async def test_write_sequences_agree(pair: Pair, ops: list[tuple[Any, ...]]) -> None:
    async with scratch(pair) as (s, p):
        for op in ops:
            # cast: mypy infers no type for a lambda with a default argument
            sqlite, postgresql = await on_both((s, p), cast(Any, lambda db, op=op: _apply(db, op)))
            assert sqlite == postgresql, op
        assert canon_rows(await s.fetch_all(STATE)) == canon_rows(await p.fetch_all(STATE))


@settings(max_examples=examples(500))
@given(ops=operations)
async def test_execute_counts_affected_rows_alike(pair: Pair, ops: list[tuple[Any, ...]]) -> None:
    """``execute`` (no RETURNING) reports the same row counts for upserts and bulk changes."""
    async with scratch(pair) as (s, p):
        for kind, key, value, note in ops:
            if kind == "insert_many":
                continue
            if kind == "update":
                q: Any = Query.update(KV).set(KV.v, KV.v + value).where(KV.k >= key)
            elif kind == "delete":
                q = Query.from_(KV).delete().where(KV.v < value)
            elif kind == "upsert_nothing":
                q = (
                    cast(Any, Query.into(KV))
                    .columns(KV.k, KV.v, KV.note)
                    .insert(key, value, note)
                    .on_conflict(KV.k)
                    .do_nothing()
                )
            else:
                q = (
                    cast(Any, Query.into(KV))
                    .columns(KV.k, KV.v, KV.note)
                    .insert(key, value, note)
                    .on_conflict(KV.k)
                    .do_update(KV.v, ValueWrapper(value))
                )
            counts = await on_both((s, p), cast(Any, lambda db, q=q: db.execute(q)))
            assert counts[0] == counts[1], (kind, key, value)
        everything = await on_both((s, p), lambda db: db.execute(Query.from_(KV).delete()))
        assert everything[0] == everything[1]
