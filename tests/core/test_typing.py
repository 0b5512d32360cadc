"""The public query methods are coroutine functions, so tools that inspect them work.

``inspect.iscoroutinefunction`` and ``unittest.mock.create_autospec`` (how users mock a
database) both look at the function itself, not at what it returns.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from unittest.mock import AsyncMock, create_autospec

import pytest

import dualdb

TYPED_USAGE = Path(__file__).resolve().parents[2] / "examples" / "typed_usage.py"
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


async def test_the_typed_usage_example_runs_on_both_backends(
    migrated_database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``examples/typed_usage.py`` is type-checked by scripts/test; here it also runs."""
    spec = importlib.util.spec_from_file_location("typed_usage", TYPED_USAGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Imported as Python imports a module: @dataclass looks its module up in sys.modules.
    monkeypatch.setitem(sys.modules, "typed_usage", module)
    spec.loader.exec_module(module)
    await module.main(migrated_database_url)
    printed = capsys.readouterr().out.split("\n")
    assert printed[0].startswith("True ")  # a valid session for the new user
    assert printed[1] == "False"  # a new user is no administrator
    assert printed[2] == "['a@example.com'] True"  # rows as a dataclass, by fetch_all and fetch_one
    assert printed[3] == "{'user': 1}"  # rows as a TypedDict, through iterate
    assert printed[4] == "Ada True"  # an upsert's RETURNING row as a dataclass
