"""Every statement dualdb sends for a user is one statement: text that smuggles a second
one in (here through a type name taken from user input) is an error on both backends,
and the second statement never runs.

PostgreSQL's simple query protocol runs stacked statements; dualdb must use the extended
protocol (one prepared statement) for every user statement, with arguments or without.
"""

from __future__ import annotations

from typing import Any

import pytest

import dualdb
from dualdb import Query, Table, fn, raw

H = Table("h")
#: A type name as an attacker would write it.
HOSTILE_TYPE = "text); CREATE TABLE pwned (x int); --"
PWNED = Query.from_(Table("pwned")).select(fn.Count("*"))
STACKED = {
    "fetch_all": raw("SELECT 1; CREATE TABLE pwned (x int)"),
    "fetch_one": raw("SELECT 1; CREATE TABLE pwned (x int)"),
    "fetch_val": raw("SELECT 1; CREATE TABLE pwned (x int)"),
    "execute": raw("UPDATE h SET s = s; CREATE TABLE pwned (x int)"),
    "explain": raw("SELECT 1; CREATE TABLE pwned (x int)"),
}


async def _pwned_exists(db: dualdb.Database) -> bool:
    try:
        await db.fetch_val(PWNED)
    except dualdb.ProgrammingError:
        return False
    return True


async def test_a_hostile_cast_type_without_arguments_runs_no_second_statement(
    db: dualdb.Database,
) -> None:
    await db.execute(raw("CREATE TABLE h (s TEXT)"))
    with pytest.raises(dualdb.DatabaseError):
        await db.execute(Query.update(H).set(H.s, fn.Cast(H.s, HOSTILE_TYPE)))
    assert not await _pwned_exists(db)


@pytest.mark.parametrize("method", sorted(STACKED))
async def test_stacked_statements_are_refused_by_every_method(
    db: dualdb.Database, method: str
) -> None:
    await db.execute(raw("CREATE TABLE h (s TEXT)"))
    call: Any = getattr(db, method)
    with pytest.raises(dualdb.DatabaseError):
        await call(STACKED[method])
    assert not await _pwned_exists(db)


async def test_stacked_statements_are_refused_when_streamed(db: dualdb.Database) -> None:
    with pytest.raises(dualdb.DatabaseError):
        async for _row in db.iterate(raw("SELECT 1; CREATE TABLE pwned (x int)")):
            pass
    assert not await _pwned_exists(db)


async def test_stacked_statements_are_refused_inside_a_transaction(db: dualdb.Database) -> None:
    await db.execute(raw("CREATE TABLE h (s TEXT)"))
    with pytest.raises(dualdb.DatabaseError):
        async with db.transaction() as tx:
            await tx.execute(raw("UPDATE h SET s = s; CREATE TABLE pwned (x int)"))
    assert not await _pwned_exists(db)
