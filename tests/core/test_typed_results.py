"""``fetch_one/fetch_all/iterate(..., as_=Model)``: rows into the caller's classes, by column
name, with every portable type arriving as the same Python type on both backends, and
errors that name the model, field, column and the value's type but never the value."""

from __future__ import annotations

import dataclasses
import traceback
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple, TypedDict

import msgspec
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdb
from dualdb import Param, Query, ResultMappingError

t = dualdb.Table("items")
COLUMNS = ("id", "name", "qty", "flag", "at", "day", "doc", "price", "blob", "ratio")
INSERT = Query.into(t).columns(*COLUMNS).insert(*(Param(c) for c in COLUMNS))
SELECT_ALL = Query.from_(t).select(*(t.field(c) for c in COLUMNS)).orderby(t.qty)
BY_ID = Query.from_(t).select(*(t.field(c) for c in COLUMNS)).where(t.id == Param("id"))

FULL: dict[str, Any] = {
    "id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
    "name": "Ada",
    "qty": 1,
    "flag": True,
    "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "day": date(1999, 12, 31),
    "doc": {"tags": ["a", "b"], "n": 1.5},
    "price": Decimal("12.30"),
    "blob": b"\x00\xffbytes",
    "ratio": 0.25,
}
EMPTY: dict[str, Any] = dict.fromkeys(COLUMNS) | {
    "id": uuid.UUID("00000000-0000-4000-8000-000000000002"),
    "qty": 2,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ItemDataclass:
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: Any
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


@dataclasses.dataclass(kw_only=True)
class ItemKwOnly:
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: Any
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


class ItemDict(TypedDict):
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: Any
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


class ItemTuple(NamedTuple):
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: Any
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


class ItemModel(pydantic.BaseModel):
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: dict[str, Any] | None
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


class ItemStruct(msgspec.Struct):
    id: uuid.UUID
    name: str | None
    qty: int | None
    flag: bool | None
    at: datetime | None
    day: date | None
    doc: dict[str, Any] | None
    price: Decimal | None
    blob: bytes | None
    ratio: float | None


MODELS = [ItemDataclass, ItemKwOnly, ItemDict, ItemTuple, ItemModel, ItemStruct]


def as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    return {c: getattr(obj, c) for c in COLUMNS}


def same(got: Any, expected: Any) -> bool:
    """Equal and of the same type (a UUID may be asyncpg's subclass of uuid.UUID)."""
    if isinstance(expected, uuid.UUID):
        return isinstance(got, uuid.UUID) and got == expected
    return type(got) is type(expected) and got == expected


async def insert(db: dualdb.Queryable, **values: Any) -> None:
    await db.execute(INSERT, **(dict.fromkeys(COLUMNS) | values))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_every_portable_type_arrives_in_the_model_as_the_same_python_type(
    items: dualdb.Database, model: type[Any]
) -> None:
    await insert(items, **FULL)
    await insert(items, **EMPTY)
    full, empty = await items.fetch_all(SELECT_ALL, as_=model)
    assert isinstance(full, model) if model is not ItemDict else isinstance(full, dict)
    got = as_dict(full)
    for column, expected in FULL.items():
        assert same(got[column], expected), column
    assert as_dict(empty) == EMPTY  # NULL into every Optional field


async def test_a_model_gets_the_values_the_records_hold(items: dualdb.Database) -> None:
    """``fetch_all(as_=…)`` reads rows into the model without making Records; the values
    are the ones ``fetch_all`` returns, type for type."""
    await insert(items, **FULL)
    await insert(items, **EMPTY)
    await insert(items, **(FULL | {"id": uuid.uuid4(), "qty": 3, "flag": False, "doc": [1]}))
    records = await items.fetch_all(SELECT_ALL)
    models = await items.fetch_all(SELECT_ALL, as_=ItemDataclass)
    assert len(models) == len(records) == 3
    for record, model in zip(records, models, strict=True):
        for column in COLUMNS:
            assert same(getattr(model, column), record[column]), column


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_fetch_one_maps_the_row_and_gives_none_without_one(
    items: dualdb.Database, model: type[Any]
) -> None:
    await insert(items, **FULL)
    found = await items.fetch_one(BY_ID, id=FULL["id"], as_=model)
    assert found is not None and as_dict(found)["name"] == "Ada"
    assert await items.fetch_one(BY_ID, id=uuid.uuid4(), as_=model) is None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_iterate_maps_every_row_across_batches(
    items: dualdb.Database, model: type[Any]
) -> None:
    for n in range(5):
        await insert(items, id=uuid.uuid4(), qty=n, name=f"n{n}")
    got = [as_dict(row)["qty"] async for row in items.iterate(SELECT_ALL, batch_size=2, as_=model)]
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_as_works_the_same_in_a_transaction(items: dualdb.Database, model: type[Any]) -> None:
    async with items.transaction() as tx:
        await insert(tx, **FULL)
        rows = await tx.fetch_all(SELECT_ALL, as_=model)
        one = await tx.fetch_one(BY_ID, id=FULL["id"], as_=model)
        streamed = [row async for row in tx.iterate(SELECT_ALL, as_=model)]
    assert [as_dict(r)["name"] for r in [*rows, one, *streamed]] == ["Ada"] * 3


@dataclasses.dataclass
class Named:
    name: str | None
    qty: int | None = None
    note: str = "default"


class NamedTupleWithDefault(NamedTuple):
    name: str | None
    qty: int | None = None


@pytest.mark.parametrize("model", [Named, NamedTupleWithDefault], ids=lambda m: m.__name__)
async def test_columns_in_any_order_and_defaults_for_the_fields_not_selected(
    items: dualdb.Database, model: type[Any]
) -> None:
    await insert(items, **FULL)
    reordered = await items.fetch_one(Query.from_(t).select(t.qty, t.name), as_=model)
    assert reordered == model(name="Ada", qty=1)
    only_name = await items.fetch_one(Query.from_(t).select(t.name), as_=model)
    assert only_name == model(name="Ada")


async def test_a_pydantic_alias_names_the_column(items: dualdb.Database) -> None:
    class Aliased(pydantic.BaseModel):
        label: str = pydantic.Field(alias="name")

    await insert(items, **FULL)
    assert await items.fetch_one(Query.from_(t).select(t.name), as_=Aliased) == Aliased(name="Ada")


async def test_a_msgspec_rename_names_the_column(items: dualdb.Database) -> None:
    class Renamed(msgspec.Struct, rename={"label": "name"}):
        label: str

    await insert(items, **FULL)
    assert await items.fetch_one(Query.from_(t).select(t.name), as_=Renamed) == Renamed("Ada")


async def test_an_empty_result_gives_an_empty_list(items: dualdb.Database) -> None:
    assert await items.fetch_all(SELECT_ALL, as_=ItemDataclass) == []


async def test_fetch_val_checks_the_type_it_is_given(items: dualdb.Database) -> None:
    await insert(items, **FULL)
    count = await items.fetch_val(Query.from_(t).select(dualdb.fn.Count("*")), as_=int)
    assert count == 1
    price = await items.fetch_val(Query.from_(t).select(t.price), as_=Decimal)
    assert same(price, Decimal("12.30"))
    assert await items.fetch_val(BY_ID, id=uuid.uuid4(), as_=uuid.UUID) is None
    with pytest.raises(ResultMappingError, match=r"fetch_val\(as_=int\) got a str") as caught:
        await items.fetch_val(Query.from_(t).select(t.name), as_=int)
    assert "Ada" not in str(caught.value)


# ------------------------------------------------------------------------------- errors


async def test_a_column_the_model_lacks_is_named(items: dualdb.Database) -> None:
    await insert(items, **FULL)
    query = Query.from_(t).select(t.name, t.flag)
    with pytest.raises(ResultMappingError, match="Named has no field for the result column 'flag'"):
        await items.fetch_one(query, as_=Named)


async def test_a_required_field_without_a_column_is_named(items: dualdb.Database) -> None:
    await insert(items, **FULL)
    with pytest.raises(ResultMappingError, match=r"ItemDataclass\.qty is required") as caught:
        await items.fetch_all(Query.from_(t).select(t.id, t.name), as_=ItemDataclass)
    assert (caught.value.model, caught.value.field) == ("ItemDataclass", "qty")


async def test_two_columns_of_one_name_are_refused(items: dualdb.Database) -> None:
    await insert(items, **FULL)
    query = Query.from_(t).select(t.name, t.name)
    with pytest.raises(ResultMappingError, match="two columns named 'name'"):
        await items.fetch_all(query, as_=Named)


class NotAModel:
    name: str


@pytest.mark.parametrize("model", [NotAModel, int, Named("x")], ids=["plain class", "int", "obj"])
async def test_a_model_of_no_supported_kind_is_refused_even_without_rows(
    items: dualdb.Database, model: Any
) -> None:
    with pytest.raises(ResultMappingError, match="as_= takes a dataclass, TypedDict"):
        await items.fetch_all(SELECT_ALL, as_=model)
    with pytest.raises(ResultMappingError, match="as_= takes a dataclass, TypedDict"):
        await items.fetch_one(BY_ID, id=uuid.uuid4(), as_=model)
    with pytest.raises(ResultMappingError, match="as_= takes a dataclass, TypedDict"):
        async for _ in items.iterate(SELECT_ALL, as_=model):
            pass


def test_a_param_cannot_be_named_as_() -> None:
    with pytest.raises(dualdb.QueryError, match="'as_' is reserved"):
        Param("as_")


def test_result_mapping_error_is_a_query_error() -> None:
    assert issubclass(ResultMappingError, dualdb.QueryError)
    assert "ResultMappingError" in dualdb.errors.__all__


class StrictName(pydantic.BaseModel):
    name: uuid.UUID


class EchoingValidator(pydantic.BaseModel):
    """A model whose own validator writes the value into its message."""

    name: str

    @pydantic.field_validator("name")
    @classmethod
    def refuse(cls, value: str) -> str:
        raise ValueError(f"refused {value}")


class IntName(msgspec.Struct):
    name: int


class RoleName(msgspec.Struct):
    name: Literal["admin", "member"]


VALIDATING = [StrictName, EchoingValidator, IntName, RoleName]


def shown(error: BaseException) -> str:
    """Everything a log or traceback could show of ``error``."""
    return "".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.mark.parametrize("model", VALIDATING, ids=lambda m: m.__name__)
async def test_a_refused_value_names_model_field_column_and_type(
    items: dualdb.Database, model: type[Any]
) -> None:
    await insert(items, **FULL)
    with pytest.raises(ResultMappingError) as caught:
        await items.fetch_all(Query.from_(t).select(t.name), as_=model)
    error = caught.value
    assert model.__name__ in str(error)
    assert "name (a str)" in str(error)
    assert (error.field, error.column, error.value_type) == ("name", "name", "str")
    assert error.__cause__ is None and error.__context__ is None


@settings(max_examples=20)
@given(secret=st.text(st.characters(exclude_characters="\x00", codec="utf-8")))
async def test_no_refused_value_ever_shows_in_the_error(
    items: dualdb.Database, secret: str
) -> None:
    value = f"SECRET-{secret}"
    row_id = uuid.uuid4()
    await insert(items, id=row_id, name=value)
    query = Query.from_(t).select(t.name).where(t.id == Param("id"))
    for model in VALIDATING:
        with pytest.raises(ResultMappingError) as caught:
            await items.fetch_one(query, id=row_id, as_=model)
        assert value not in shown(caught.value)
        assert caught.value.__cause__ is None and caught.value.__context__ is None
