"""JSON documents come back alike on both backends.

PostgreSQL's jsonb rewrites a document: numbers as its numeric writes them (``1e2`` is
``100``, an int when read; ``-0.0`` is ``0.0``), object keys in its own order (shorter
first, then by bytes), a repeated key once. dualdb's SQLite connections store JSON as
jsonb would give it back, so a document reads back identically, keys in the same order.
"""

from __future__ import annotations

from typing import Any

import pytest
from _differential import ITEMS, Pair, examples, on_both, scratch
from hypothesis import given, settings
from hypothesis import strategies as st

from dualdb import Json, Param, Query

pytestmark = pytest.mark.postgresql

INSERT = Query.into(ITEMS).columns(ITEMS.id, ITEMS.doc).insert(1, Param("doc"))
READ = Query.from_(ITEMS).select(ITEMS.doc)


async def _round_trip(pair: Pair, doc: Any) -> list[Any]:
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(INSERT, doc=doc)
        return await on_both(txs, lambda db: db.fetch_val(READ))


def _typed(value: Any) -> Any:
    """A document with each number's type and each object's key order kept visible."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 1e2, "m": 1.50, "z": -0.0, "big": 1E+20, "small": 1.5e-7}',
        '{"bb": 1, "a": 2, "ccc": 3, "b": 4, "é": 5, "e": 6}',
        '{"k": 1, "k": 2}',
        "[1.0, 10e-1, 0.1e1, -0]",
    ],
    ids=["numbers", "key order", "repeated key", "spellings of one"],
)
async def test_json_text_reads_back_as_jsonb_writes_it_on_both(pair: Pair, text: str) -> None:
    sqlite, postgresql = await _round_trip(pair, text)
    assert _typed(sqlite) == _typed(postgresql)


async def test_negative_zero_in_a_json_document_is_zero_on_both(pair: Pair) -> None:
    sqlite, postgresql = await _round_trip(pair, Json([-0.0, {"x": -0.0}]))
    assert _typed(sqlite) == _typed(postgresql) == _typed([0.0, {"x": 0.0}])


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', '["\\udfff"]'])
async def test_json_text_with_nan_or_a_lone_surrogate_is_refused_on_both(
    pair: Pair, text: str
) -> None:
    async with scratch(pair) as txs:
        outcomes = await on_both(txs, lambda db: db.execute(INSERT, doc=text))
    assert outcomes == [("raises", "DataError")] * 2


keys = st.text(max_size=4).filter(lambda k: "\x00" not in k)
numbers = st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, allow_infinity=False)
documents = st.recursive(
    st.none() | st.booleans() | numbers | keys,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=examples(300))
@given(doc=documents)
async def test_a_json_document_reads_back_identically_on_both(pair: Pair, doc: Any) -> None:
    sqlite, postgresql = await _round_trip(pair, Json(doc))
    assert _typed(sqlite) == _typed(postgresql)
