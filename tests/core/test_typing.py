"""The public query methods are coroutine functions, so tools that inspect them work.

``inspect.iscoroutinefunction`` and ``unittest.mock.create_autospec`` (how users mock a
database) both look at the function itself, not at what it returns.
"""

from __future__ import annotations

import inspect
from unittest.mock import AsyncMock, create_autospec

import pytest

import dualdb

QUERY_METHODS = ("fetch_all", "fetch_one", "fetch_val", "execute", "execute_many")


@pytest.mark.parametrize("cls", [dualdb.Database, dualdb.Transaction])
@pytest.mark.parametrize("method", QUERY_METHODS)
def test_query_method_is_a_coroutine_function_on_the_class(cls: type, method: str) -> None:
    assert inspect.iscoroutinefunction(getattr(cls, method))


@pytest.mark.parametrize("method", QUERY_METHODS)
async def test_query_method_is_a_coroutine_function_on_a_database(
    db: dualdb.Database, method: str
) -> None:
    assert inspect.iscoroutinefunction(getattr(db, method))


@pytest.mark.parametrize("method", QUERY_METHODS)
async def test_query_method_is_a_coroutine_function_on_a_transaction(
    db: dualdb.Database, method: str
) -> None:
    async with db.transaction() as tx:
        assert inspect.iscoroutinefunction(getattr(tx, method))


@pytest.mark.parametrize("cls", [dualdb.Database, dualdb.Transaction])
async def test_autospec_of_the_class_gives_awaitable_query_methods(cls: type) -> None:
    mock = create_autospec(cls, instance=True)
    mock.fetch_val.return_value = 42
    for method in QUERY_METHODS:
        assert isinstance(getattr(mock, method), AsyncMock)
    assert await mock.fetch_val("SELECT 42") == 42


async def test_autospec_of_a_database_gives_awaitable_query_methods(db: dualdb.Database) -> None:
    mock = create_autospec(db)
    mock.fetch_one.return_value = None
    assert await mock.fetch_one("SELECT 1") is None
    mock.fetch_one.assert_awaited_once_with("SELECT 1")
