"""Text functions answer alike on both backends.

SQLite's own ``lower()``/``upper()`` fold only ASCII; PostgreSQL's (in a UTF-8 database,
as the test clusters' C.UTF-8) fold every script by Unicode's simple case mapping.
dualdb's SQLite connections compute PyPika's ``fn.Lower``/``fn.Upper`` so.
"""

from __future__ import annotations

from typing import Any

import pytest
from _differential import ITEMS, Pair, examples, on_both, scratch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dualdb import Param, Query, fn

pytestmark = pytest.mark.postgresql

words = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)


@settings(max_examples=examples(200))
@given(text=words)
@example(text="ÉMILE")
@example(text="İstanbul")
@example(text="straße")
@example(text="ΣΑΣ ǅ ﬃ")
async def test_lower_and_upper_fold_case_alike_on_both(pair: Pair, text: str) -> None:
    query = Query.from_(ITEMS).select(
        fn.Lower(ITEMS.name).as_("lower"), fn.Upper(ITEMS.name).as_("upper")
    )
    insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.name).insert(1, Param("t"))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(insert, t=text)
        got: list[Any] = await on_both(txs, lambda db: db.fetch_one(query))
    assert [tuple(r) for r in got] == [tuple(got[1])] * 2


async def test_every_character_of_the_basic_plane_folds_alike_on_both(pair: Pair) -> None:
    """All 63,000-odd characters of the Basic Multilingual Plane (no surrogates), one by
    one, through LOWER and UPPER on both backends."""
    characters = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.name).insert(Param("id"), Param("t"))
    query = (
        Query.from_(ITEMS)
        .select(fn.Lower(ITEMS.name).as_("lower"), fn.Upper(ITEMS.name).as_("upper"))
        .orderby(ITEMS.id)
    )
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute_many(insert, [{"id": i, "t": c} for i, c in enumerate(characters)])
        sqlite, postgresql = await on_both(txs, lambda db: db.fetch_all(query))
    differing = [
        (characters[i], tuple(s), tuple(p))
        for i, (s, p) in enumerate(zip(sqlite, postgresql, strict=True))
        if tuple(s) != tuple(p)
    ]
    assert differing == []
    assert len(sqlite) == len(characters)
