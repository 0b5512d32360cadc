"""Rows into the caller's own classes: ``fetch_all(query, as_=Model)``.

Reading a row into a model costs one constructor call: what to call with which columns is
worked out once per (model, column names) and cached, so the per-row work is the
constructor itself (``Model(*row)`` when the columns are the model's positional fields in
order). Which kind of model it is (dataclass, TypedDict, NamedTuple, pydantic model,
msgspec Struct) is told from the class itself: pydantic and msgspec are not imported unless
the model comes from them, when they are loaded already.

Errors never show a value: a row may hold a token or an email address. They name the
model, the field, the column and the value's *type*; pydantic's and msgspec's own
exceptions (whose text can quote the value) are neither chained nor kept.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import starmap
from operator import itemgetter
from typing import Any, Literal, TypeVar

from dualdb.errors import ResultMappingError

__all__ = ["map_one", "map_rows", "map_value", "stream_mapper"]

T = TypeVar("T")
Kind = Literal["dataclass", "TypedDict", "NamedTuple", "pydantic", "msgspec"]

#: Mappers kept per (model, column names); past this many, new shapes are built per call.
_CACHE_SIZE = 1024
_SUPPORTED = "a dataclass, TypedDict, NamedTuple, pydantic model or msgspec Struct"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    #: The keys a result column may have to fill this field (a pydantic alias, a msgspec
    #: encode name).
    keys: tuple[str, ...]
    required: bool
    #: Position in the constructor's positional arguments; None for keyword-only fields.
    position: int | None


@dataclass(frozen=True, slots=True)
class _Mapper:
    """How one result shape becomes instances of one model."""

    #: One row to one instance.
    one: Callable[[Any], Any]
    #: The model itself, when ``model(*row)`` is right: a whole result is then one
    #: ``starmap``, the fastest loop Python has.
    positional: Callable[..., Any] | None

    def all(self, rows: Iterable[Any]) -> list[Any]:
        if self.positional is not None:
            return list(starmap(self.positional, rows))
        return list(map(self.one, rows))


_mappers: dict[tuple[Any, tuple[str, ...]], _Mapper] = {}


def _is_from(model: type, module: str, name: str) -> bool:
    """Whether ``model`` subclasses ``module.name``, without importing ``module``."""
    return any(c.__name__ == name and c.__module__ == module for c in model.__mro__[1:])


def kind_of(model: object) -> Kind:
    """Which supported kind ``model`` is, or the error saying it is none of them."""
    if isinstance(model, type):
        if typing.is_typeddict(model):
            return "TypedDict"
        if dataclasses.is_dataclass(model):
            return "dataclass"
        if issubclass(model, tuple) and hasattr(model, "_fields"):
            return "NamedTuple"
        if _is_from(model, "pydantic.main", "BaseModel"):
            return "pydantic"
        if _is_from(model, "msgspec", "Struct"):
            return "msgspec"
    shown = model.__name__ if isinstance(model, type) else f"a {type(model).__name__} instance"
    raise ResultMappingError(
        f"as_= takes {_SUPPORTED} class; {shown} is none of these", model=_name(model)
    )


def _name(model: object) -> str:
    return getattr(model, "__qualname__", None) or type(model).__name__


def _fields(model: Any, kind: Kind) -> list[_Field]:
    if kind == "dataclass":
        out: list[_Field] = []
        position = 0
        for f in dataclasses.fields(model):
            if not f.init:
                continue
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            out.append(_Field(f.name, (f.name,), required, None if f.kw_only else position))
            position += 0 if f.kw_only else 1
        return out
    if kind == "NamedTuple":
        defaults = model._field_defaults
        return [
            _Field(name, (name,), name not in defaults, i) for i, name in enumerate(model._fields)
        ]
    if kind == "TypedDict":
        # The keys, without evaluating the annotations (a forward reference may not resolve).
        required_keys = model.__required_keys__
        keys = required_keys | model.__optional_keys__
        ordered = [k for k in model.__annotations__ if k in keys]
        ordered += sorted(keys.difference(ordered))
        return [_Field(k, (k,), k in required_keys, None) for k in ordered]
    if kind == "pydantic":
        out = []
        for name, info in model.model_fields.items():
            keys = [name]
            for alias in (info.validation_alias, info.alias):
                if isinstance(alias, str) and alias not in keys:
                    keys.append(alias)
            out.append(_Field(name, tuple(keys), info.is_required(), None))
        return out
    import msgspec  # the model is a Struct, so msgspec is loaded already

    return [
        _Field(f.name, (f.encode_name,), f.required, None) for f in msgspec.structs.fields(model)
    ]


def _build(model: Any, names: tuple[str, ...]) -> _Mapper:
    kind = kind_of(model)
    label = _name(model)
    fields = _fields(model, kind)
    by_key = {key: f for f in fields for key in f.keys}
    seen: set[str] = set()
    chosen: list[_Field] = []
    for column in names:
        if column in seen:
            raise ResultMappingError(
                f"the result has two columns named {column!r}; as_={label} needs distinct "
                "names (give one an alias with .as_())",
                model=label,
                column=column,
            )
        seen.add(column)
        found = by_key.get(column)
        if found is None:
            raise ResultMappingError(
                f"{label} has no field for the result column {column!r} (its fields: "
                f"{', '.join(f.name for f in fields)}); select only columns the model has",
                model=label,
                column=column,
            )
        chosen.append(found)
    filled = {f.name for f in chosen}
    for f in fields:
        if f.required and f.name not in filled:
            raise ResultMappingError(
                f"{label}.{f.name} is required but the result has no column for it "
                f"(columns: {', '.join(names)})",
                model=label,
                field=f.name,
            )
    if kind == "TypedDict":
        return _Mapper(_keyed(dict, names), None)
    if kind == "pydantic":
        return _Mapper(_pydantic(model, label, names), None)
    if kind == "msgspec":
        return _Mapper(_msgspec(model, label, names), None)
    return _constructor(model, chosen, names)


def _keyed(call: Callable[..., Any], keys: tuple[str, ...]) -> Callable[[Any], Any]:
    def one(row: Any) -> Any:
        return call(**dict(zip(keys, row, strict=True)))

    return one


def _constructor(model: Any, chosen: list[_Field], names: tuple[str, ...]) -> _Mapper:
    """A dataclass's or NamedTuple's fastest call: positional if the columns allow it."""
    positions = [f.position for f in chosen]
    leading = list(range(len(chosen)))
    if positions == leading:
        return _Mapper(lambda row: model(*row), model)
    given = [p for p in positions if p is not None]
    if len(given) == len(chosen) and sorted(given) == leading:
        # The model's leading positional fields, in another order: reorder, then call.
        order = sorted(leading, key=given.__getitem__)
        if len(order) == 1:
            index = order[0]
            return _Mapper(lambda row: model(row[index]), None)
        pick = itemgetter(*order)
        return _Mapper(lambda row: model(*pick(row)), None)
    return _Mapper(_keyed(model, tuple(f.name for f in chosen)), None)


def _value_type(names: Sequence[str], row: Any, column: str | None) -> str | None:
    if column is None or column not in names:
        return None
    return type(row[names.index(column)]).__name__


def _invalid(
    label: str,
    library: str,
    names: tuple[str, ...],
    row: Any,
    problems: list[tuple[str | None, str]],
) -> ResultMappingError:
    """The error for values a validating model refused: field, column, type; no value."""
    parts = []
    for column, reason in problems:
        if column is None:
            parts.append(reason)
            continue
        parts.append(f"{column} (a {_value_type(names, row, column)}): {reason}")
    first = problems[0][0] if problems else None
    return ResultMappingError(
        f"{library} refused a row as {label}: {'; '.join(parts)}",
        model=label,
        field=first,
        column=first if first in names else None,
        value_type=_value_type(names, row, first),
        problems=tuple(problems),
    )


def _pydantic(model: Any, label: str, names: tuple[str, ...]) -> Callable[[Any], Any]:
    from pydantic import ValidationError  # loaded already: the model is a pydantic model

    validate = model.model_validate

    def one(row: Any) -> Any:
        try:
            return validate(dict(zip(names, row, strict=True)))
        except ValidationError as exc:
            # Without input, context or URL: a validator's message is kept out too, since a
            # model's own validator may have written the value into it.
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
        # Raised outside the except block, so that pydantic's error (whose text quotes the
        # input) is not even the __context__.
        problems: list[tuple[str | None, str]] = []
        for error in errors:
            loc = error["loc"]
            head = str(loc[0]) if loc else None
            where = ".".join(map(str, loc[1:]))
            problems.append((head, error["type"] + (f" at {where}" if where else "")))
        raise _invalid(label, "pydantic", names, row, problems)

    return one


#: msgspec's "- at `$.field...`" suffix; and the type it expected, the one part of its text
#: that never holds the value (an enum or a __post_init__ message may quote it).
_MSGSPEC_AT = re.compile(r" - at `\$\.([A-Za-z_][A-Za-z0-9_]*)[^`]*`$")
_MSGSPEC_EXPECTED = re.compile(r"^Expected `([^`]+)`")


def _msgspec(model: Any, label: str, names: tuple[str, ...]) -> Callable[[Any], Any]:
    import msgspec  # loaded already: the model is a Struct

    convert = msgspec.convert
    invalid = msgspec.ValidationError

    def one(row: Any) -> Any:
        try:
            return convert(dict(zip(names, row, strict=True)), model)
        except invalid as exc:
            text = str(exc)
        at = _MSGSPEC_AT.search(text)
        expected = _MSGSPEC_EXPECTED.match(text)
        reason = f"expected {expected.group(1)}" if expected else "invalid value"
        raise _invalid(label, "msgspec", names, row, [(at.group(1) if at else None, reason)])

    return one


def _mapper(model: Any, row: Any) -> _Mapper:
    return _named_mapper(model, tuple(row.keys()))


def _named_mapper(model: Any, names: tuple[str, ...]) -> _Mapper:
    try:
        mapper = _mappers.get((model, names))
    except TypeError:  # an unhashable as_= (an instance): not a model
        mapper = None
    if mapper is None:
        mapper = _build(model, names)
        if len(_mappers) < _CACHE_SIZE:
            _mappers[(model, names)] = mapper
    return mapper


def map_rows(model: type[T], names: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[T]:
    """``rows`` (all of one result, so of one shape, readable by position; their columns
    are ``names``) as instances of ``model``."""
    if not rows:
        kind_of(model)
        return []
    return _named_mapper(model, names).all(rows)


def map_one(model: type[T], row: Any) -> T | None:
    if row is None:
        kind_of(model)
        return None
    result: T = _mapper(model, row).one(row)
    return result


def stream_mapper(model: type[T]) -> Callable[[Any], T]:
    """One row of a stream to a ``model``: the mapper is looked up at the first row only."""
    kind_of(model)
    found: list[Callable[[Any], T]] = []

    def one(row: Any) -> T:
        if not found:
            found.append(_mapper(model, row).one)
        return found[0](row)

    return one


def map_value(model: type[T], value: Any) -> T | None:
    """``fetch_val``'s value, checked to be a ``model`` (None passes: no row, or NULL)."""
    if not isinstance(model, type):
        raise ResultMappingError(
            f"fetch_val's as_= takes a class, got a {type(model).__name__} instance",
            model=_name(model),
        )
    if value is None or isinstance(value, model):
        return value
    raise ResultMappingError(
        f"fetch_val(as_={model.__qualname__}) got a {type(value).__name__}",
        model=model.__qualname__,
        value_type=type(value).__name__,
    )
