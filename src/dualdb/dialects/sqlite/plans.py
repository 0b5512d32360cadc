"""Decoding plans: how one statement's rows become Records on one SQLite database.

SQLite returns what it stored (UUIDs as text, booleans as 0/1), so each result column is
decoded by the declared type of the table column it comes from. Where a column comes from
is read from the query once, when it is compiled (:class:`Sources`, in
``Compiled.state``); the declared types are read with ``PRAGMA table_xinfo`` in the
snapshot of the statement itself, keyed by ``PRAGMA schema_version``, so a schema changed
by another connection, process or migration tool is seen before a row is decoded. The
version is read again only after SQLite prepared a statement (it prepares a cached one
again whenever the schema changed; the connection's authorizer tells dualdb so).

The same declared types decide, per schema version, how each argument is encoded
(:func:`make_binds`) and how the statement's type-dependent places are written
(:func:`typed_sql`: decimals compared by value, exact decimal arithmetic, integer
overflow checked), so that SQLite answers as PostgreSQL, which types every expression.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pypika import Table, terms
from pypika import functions as fn
from pypika.queries import AliasedQuery, QueryBuilder, _SetOperation

from dualdb import errors
from dualdb.dialects.sqlite.codec import (
    Binds,
    bind_like_pattern,
    binder_for,
    decoder_for,
    encode_value,
    inline_decoder,
    kind_of,
    to_bool,
)
from dualdb.dialects.sqlite.compiler import (
    CAST_VALUE,
    DECIMAL_ARITHMETIC,
    DECIMAL_ORDER,
    FLOAT_ARITHMETIC,
    INTEGER_RANGE,
    UNARY,
)
from dualdb.records import Record, record_class
from dualdb.sql._target import LIKE_PATTERN, SCALAR, Spot, Target, cast_type, literal_type
from dualdb.sql.terms import Param, Raw

if TYPE_CHECKING:
    from dualdb.sql.compile import Compiled

__all__ = [
    "Moved",
    "NewPlan",
    "Plan",
    "Schema",
    "SchemaVersion",
    "Sources",
    "make_binds",
    "make_plan",
    "sources_of",
    "typed_sql",
]

#: Functions whose result has the type of their first argument.
_PASSTHROUGH_FUNCTIONS = frozenset({"MIN", "MAX"})
#: Functions whose result has the type PostgreSQL resolves for all their arguments.
_COMMON_FUNCTIONS = frozenset({"COALESCE", "IFNULL", "NULLIF", "GREATEST", "LEAST"})
#: Aggregates whose result type PostgreSQL derives from their argument's (see ``Summary``).
_SUMMARIES = frozenset({"SUM", "AVG"})


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """Where a result column comes from: ``table.column``, or ``table.*`` when column is
    None (every table the query reads when table is None too)."""

    table: str | None
    column: str | None


@dataclass(frozen=True, slots=True)
class Fixed:
    """A result column whose type the query itself says: a comparison is a boolean."""

    decode: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Spread:
    """``sub.*`` (or ``*`` over subqueries): the subquery's own result columns."""

    origins: tuple[Origin, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """SUM or AVG (``name``) of ``origin``: computed by dualdb's exact aggregates, and
    typed as PostgreSQL types them for the argument's type (see ``_summary_decoder``)."""

    name: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Computed:
    """An arithmetic expression, whose type follows from its operands' (see
    ``_combined``): each a table column, another expression, a bound value (``"value"``)
    or None (anything else)."""

    operands: tuple[ResultColumn | Computed | str | None, ...]


@dataclass(frozen=True, slots=True)
class _Summarized:
    """A :class:`Summary` whose argument's kind is known, for this schema (see ``_Kind``)."""

    name: str
    kind: _Kind


@dataclass(frozen=True, slots=True)
class Common:
    """The branches of a CASE, the arguments of COALESCE, or a column of the members of
    a UNION: PostgreSQL gives their values one type (an integer and a decimal are a
    numeric), where SQLite keeps each value's own. Each branch is an origin, or the kind
    of a literal (see ``_Kind``)."""

    branches: tuple[Origin | int | str, ...]


@dataclass(frozen=True, slots=True)
class Cast:
    """A CAST to a number: of that kind (see ``_CAST_KINDS``), as dualdb's SQLite
    connections compute it (a numeric comes back as decimal text)."""

    kind: str | int | None


Origin = ResultColumn | Fixed | Spread | Summary | Computed | Common | Cast | None


class Sources:
    """What decoding needs to know about one statement, worked out when it is compiled:
    where each result column comes from (None when unknown), the tables it reads (to
    resolve a column that names no table, or a ``*``), and the plans made for it, one per
    schema version. ``names`` maps result column names to decoders instead, for raw SQL
    given ``types=``."""

    __slots__ = (
        "binds",
        "column_type",
        "ctes",
        "names",
        "origins",
        "plans",
        "sqls",
        "stars",
        "tables",
    )

    def __init__(
        self,
        origins: tuple[Origin, ...] | None,
        tables: tuple[str, ...],
        stars: tuple[str | Spread, ...] = (),
        names: dict[str, Callable[[Any], Any]] | None = None,
        column_type: Callable[[str], str] | None = None,
        ctes: dict[str, Any] | None = None,
    ) -> None:
        self.origins = origins
        self.tables = tables
        #: What ``*`` expands to, in FROM/JOIN order: a table, or a subquery's columns.
        self.stars = stars or tables
        self.names = names
        self.plans: dict[SchemaVersion, Plan] = {}
        #: Per schema version, an encoder per argument (see ``make_binds``).
        self.binds: dict[SchemaVersion, Binds] = {}
        #: Per schema version, the statement's text (see ``typed_sql``).
        self.sqls: dict[SchemaVersion, str] = {}
        #: Logical type → declared type, for an argument that meets a logical type (LIMIT).
        self.column_type = column_type
        #: The statement's CTEs by name: a column read from one is typed by its origin.
        self.ctes = ctes or {}


def sources_of(query: Any, column_type: Callable[[str], str]) -> Sources:
    """The :class:`Sources` of a statement; ``column_type`` maps a logical type to the
    declared one (for ``raw(..., types=…)``)."""
    if isinstance(query, Raw):
        if not query.types:
            return Sources(None, ())
        names = {}
        for name, logical in query.types.items():
            decode = decoder_for(column_type(logical))
            if decode is not None:
                names[name] = decode
        return Sources(None, (), names=names)
    if not isinstance(query, QueryBuilder | _SetOperation):
        return Sources(None, ())
    if isinstance(query, _SetOperation):
        # Its columns are those of its first SELECT, of a type common to every member's.
        base = query.base_query
        return Sources(
            _set_origins(query),
            _tables(base),
            _stars(base),
            column_type=column_type,
            ctes=_ctes(base),
        )
    return Sources(
        _origins(query), _tables(query), _stars(query), column_type=column_type, ctes=_ctes(query)
    )


def make_binds(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, compiled: Compiled
) -> Binds:
    """An encoder per argument, from the declared type of the column it meets (where it
    meets none, or one whose type dualdb does not know: the encoding of any value)."""
    types = _Types(conn, schema, sources, compiled)
    out: list[Callable[[Any], Any]] = []
    for slot, target in zip(compiled.slots, compiled.targets or (), strict=False):
        if target == LIKE_PATTERN:
            out.append(bind_like_pattern)
            continue
        declared = None if target is None else types.declared(target)
        if slot.name is not None and target is not None:
            # A Param has one type, where the statement first gives it one: where it
            # meets a number elsewhere, it is that number here too.
            kind = types.param(f":{slot.name}")
            if kind != "value" and (target.expression is not None or _number_kind(declared)):
                declared = types.holding(kind) or declared
        encoder = binder_for(declared) if declared else None
        out.append(encode_value if encoder is None else encoder)
    return Binds(out)


def typed_sql(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, compiled: Compiled
) -> str:
    """The statement as it runs with this schema's column types (``Compiled.spots``), as
    PostgreSQL would type it: a decimal column compared or sorted gets the collation that
    orders it by value; arithmetic over decimals is computed exactly (SQLite would use
    binary floating point), and over integers checked for overflow (SQLite would make it
    a float) at the width PostgreSQL computes it in."""
    spots = compiled.spots
    assert spots is not None
    types = _Types(conn, schema, sources, compiled)

    def write(index: int, part: str) -> str:
        spot = spots[index]
        if spot.kind == "negative":
            kind = types.kind(index)
            operator = spot.operator.lower()
            if kind == "decimal":
                opening = f"CAST({DECIMAL_ARITHMETIC}('{operator}', 0, "
                return opening if part == "open" else f") AS TEXT) COLLATE {DECIMAL_ORDER}"
            if isinstance(kind, int):
                return f"{INTEGER_RANGE}({kind}, {operator}(" if part == "open" else "))"
            if kind == "float":
                return spot.plain(part)
            return f"{UNARY}('{operator}', " if part == "open" else ")"
        if spot.kind == "cast":
            return _cast_part(types, spot, part)
        if spot.kind == "assign":
            return _assign_part(types, spot, part)
        if spot.kind == "common" and part == "open":
            _check_branches(types, spot)
        if spot.kind in ("common", "result") and spot.target is None:
            # A CASE/COALESCE, or an aggregate of an expression, that is a decimal: text
            # that compares and sorts by value, as the expression's own would.
            if part == "op" or types.kind(index) != "decimal":
                return ""
            return "CAST(" if part == "open" else f" AS TEXT) COLLATE {DECIMAL_ORDER}"
        if spot.kind == "no decimal" and spot.target is None:
            kind = types.kind(spot.operands[0]) if isinstance(spot.operands[0], int) else None
            if kind in ("decimal", "float"):
                raise errors.UnsupportedFeature(
                    f"% on a {kind} expression",
                    "sqlite",
                    "PostgreSQL has no % of a float, and dualdb computes none of a decimal "
                    "on SQLite: write it in Python, or keep the value as integer cents",
                )
            return ""
        if spot.kind == "arithmetic":
            kind = types.kind(index)
            if kind == "decimal":
                return {
                    "open": f"CAST({DECIMAL_ARITHMETIC}('{spot.operator}', ",
                    "op": ", ",
                    "close": f") AS TEXT) COLLATE {DECIMAL_ORDER}",
                }[part]
            if isinstance(kind, int):
                wrap = {"open": f"{INTEGER_RANGE}({kind}, ", "op": spot.operator, "close": ")"}
                return wrap[part]
            if kind == "float":
                return {
                    "open": f"{FLOAT_ARITHMETIC}('{spot.operator}', ",
                    "op": ", ",
                    "close": ")",
                }[part]
            return spot.operator if part == "op" else ""
        assert spot.target is not None
        logical = types.logical(spot.target)
        column = spot.target.describe()
        if spot.kind == "result":
            # An aggregate whose result is decimal text: text that compares by value
            # (CAST gives it TEXT affinity, which a number compared with it takes).
            decimal = logical == "decimal" or (
                spot.operator == "AVG" and logical in ("bigint", "integer", "smallint")
            )
            if not decimal or part == "op":
                return ""
            return "CAST(" if part == "open" else f" AS TEXT) COLLATE {DECIMAL_ORDER}"
        if spot.kind == "extreme" and logical in _UNORDERED:
            raise errors.UnsupportedFeature(
                f"MIN/MAX of the {logical} column {column}",
                "sqlite",
                "PostgreSQL has no MIN or MAX of this type: ORDER BY the column with "
                "LIMIT 1 (for a boolean: MAX(CAST(col AS INTEGER)))",
            )
        if spot.kind == "text" and logical is not None and logical in _TEXT_FORMS:
            raise errors.UnsupportedFeature(
                f"CAST of the {logical} column {column} to text",
                "sqlite",
                f"PostgreSQL writes {_TEXT_FORMS[logical]}: read the value and format it in Python",
            )
        if spot.kind == "no decimal" and logical == "float":
            raise errors.UnsupportedFeature(
                f"% on the float column {column}",
                "sqlite",
                "PostgreSQL has no % (MOD) of a double precision: write it in Python",
            )
        if logical != "decimal":
            return ""
        if spot.kind == "no decimal":
            raise errors.UnsupportedFeature(
                f"% on the decimal column {column}",
                "sqlite",
                "write it in Python with Decimal, or keep the value as integer cents",
            )
        return f" COLLATE {DECIMAL_ORDER}" if spot.kind in ("order", "extreme") else ""

    return compiled.write(write)


def _cast_part(types: _Types, spot: Spot, part: str) -> str:
    """Part of a CAST to a number, as PostgreSQL computes it (``functions.cast_value``)."""
    to = _cast_target(spot.operator)
    if to is None:
        return spot.plain(part)
    numeric = to.startswith("numeric")
    if part == "close":
        return f") AS TEXT) COLLATE {DECIMAL_ORDER}" if numeric else ")"
    operand = spot.operands[0]
    # Text is read as PostgreSQL reads text ('1.5' is no integer) only from a text column:
    # any other text here is a number dualdb computes as decimal text (a SUM, a COALESCE).
    source = "decimal"
    if isinstance(operand, Target):
        logical = types.logical(operand)
        if logical in _UNCASTABLE or (logical == "boolean" and to != "integer"):
            raise errors.UnsupportedFeature(
                f"CAST of the {logical} column {operand.describe()} to {spot.operator}",
                "sqlite",
                "PostgreSQL casts a boolean to integer only, and none of uuid, json, bytes "
                "or dates to a number: convert the value in Python",
            )
        source = "text" if logical in ("text", None) else "decimal"
    opening = f"{CAST_VALUE}('{to}', '{source}', "
    return f"CAST({opening}" if numeric else opening


def _check_branches(types: _Types, spot: Spot) -> None:
    """Refuse a CASE or COALESCE whose branches PostgreSQL cannot give one type (a number
    and a boolean, text and a uuid), where SQLite would return each as it is."""
    known = {
        logical
        for logical in (types.logical(o) for o in spot.operands if isinstance(o, Target))
        if logical is not None
    }
    if any(isinstance(o, int) and types.kind(o) is not None for o in spot.operands):
        known.add("number")  # (an arithmetic expression, a CAST to a number...)
    kinds = {"number" if k in _NUMBER_KINDS else k for k in known}
    if "str" in spot.operands and kinds & {"number", "boolean", "date", "timestamptz", "bytes"}:
        kinds.add("text")  # (a str literal: PostgreSQL refuses it as any of these)
    if len(kinds) > 1 and kinds != {"date", "timestamptz"}:
        raise errors.UnsupportedFeature(
            f"a CASE or COALESCE of {' and '.join(sorted(kinds))} values",
            "sqlite",
            "PostgreSQL gives its branches one type and cannot match these: CAST the "
            "branches to one type",
        )


def _assign_part(types: _Types, spot: Spot, part: str) -> str:
    """Part of an expression assigned to a column (``SET col = expr``): converted to the
    column's type as PostgreSQL converts it, where SQLite would keep a decimal or a float
    in an integer column, or a 64-bit integer in a 32-bit one."""
    assert spot.target is not None
    to = _NUMBER_KINDS.get(types.logical(spot.target) or "")
    operand = spot.operands[0]
    if isinstance(operand, Target):
        logical = types.logical(operand)
        kind = _NUMBER_KINDS.get(logical or "")
        source = "text" if logical == "text" else "decimal"
    else:
        kind = types.kind(operand) if isinstance(operand, int) else None
        source = "decimal"
    if isinstance(to, int) and not (isinstance(kind, int) and kind <= to):
        if isinstance(operand, Target) and source == "text":
            raise errors.UnsupportedFeature(
                f"assigning the text column {operand.describe()} to the integer column "
                f"{spot.target.describe()}",
                "sqlite",
                "PostgreSQL assigns no text to a number: CAST it (CAST(col AS BIGINT))",
            )
        name = _LOGICAL[to]
        return f"{CAST_VALUE}('{name}', '{source}', " if part == "open" else ")"
    if to == "decimal" and kind == "float":
        return f"CAST({CAST_VALUE}('numeric', '', " if part == "open" else ") AS TEXT)"
    return ""


def _cast_target(type_sql: str) -> str | None:
    """The type ``functions.cast_value`` knows a CAST's type (``NUMERIC(5,2)``) by."""
    match = _CAST_TYPE.fullmatch(type_sql.lower())
    if match is None:
        return None
    to = _CAST_TARGETS[match[1]]
    if match[2] and to == "numeric":
        return f"numeric({match[2]}{',' + match[3] if match[3] else ''})"
    if match[2] and match[1] == "float":  # float(p): real up to 24 bits, else double
        return "float4" if int(match[2]) <= 24 else "float8"
    return None if match[2] else to


#: The types a CAST to a number may name, by the names ``functions.cast_value`` knows.
_CAST_TARGETS = {
    "smallint": "smallint",
    "int2": "smallint",
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "bigint": "bigint",
    "int8": "bigint",
    "numeric": "numeric",
    "decimal": "numeric",
    "double precision": "float8",
    "float8": "float8",
    "float": "float8",
    "real": "float4",
    "float4": "float4",
}
_CAST_TYPE = re.compile(
    "(" + "|".join(sorted(_CAST_TARGETS, key=len, reverse=True)) + r")(?:\((\d+)(?:,(-?\d+))?\))?"
)

#: The kinds of column PostgreSQL casts to no number.
_UNCASTABLE = frozenset({"uuid", "json", "bytes", "date", "timestamptz"})

#: The kind of number a CAST to each type is.
_CAST_KINDS: dict[str, _Kind] = {
    "smallint": 16,
    "integer": 32,
    "bigint": 64,
    "float8": "float",
    "float4": "float",
}


class _Types:
    """The types of one statement's columns and arithmetic expressions in one schema."""

    def __init__(
        self, conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, compiled: Compiled
    ) -> None:
        self.conn, self.schema, self.sources = conn, schema, sources
        self.spots: Sequence[Spot] = compiled.spots or ()
        self.slots, self.targets = compiled.slots, compiled.targets or ()
        #: The slots in PostgreSQL's order of typing parameters (see ``param``).
        self.order = compiled.typing_order or range(len(self.slots))
        self.kinds: dict[int, _Kind] = {}
        self.params: dict[str, _Kind] = {}

    def declared(self, target: Target) -> str | None:
        """The declared type of what ``target`` names (an expression: the type of a
        column holding what it computes)."""
        if target.expression is None:
            return _declared(self.conn, self.schema, self.sources, target)
        kind = self.kind(target.expression)
        if target.column is not None and kind == self.column(target):
            return _declared(self.conn, self.schema, self.sources, target)
        return self.holding(kind)

    def holding(self, kind: _Kind) -> str | None:
        """The declared type of a column holding numbers of ``kind`` (None if unknown).
        A smallint is bound as an integer: it is no logical type of its own."""
        logical = _LOGICAL.get(kind)
        if logical == "smallint":
            logical = "integer"
        column_type = self.sources.column_type
        return column_type(logical) if logical and column_type else None

    def logical(self, target: Target) -> str | None:
        """The kind of value the column ``target`` names holds (``codec.kind_of``)."""
        declared = _declared(self.conn, self.schema, self.sources, target)
        return kind_of(declared) if declared else None

    def column(self, target: Target) -> _Kind:
        return _NUMBER_KINDS.get(self.logical(target) or "")

    def kind(self, index: int) -> _Kind:
        """The kind of number the arithmetic expression (or aggregate) of spot ``index``
        computes."""
        if index not in self.kinds and self.spots[index].kind == "cast":
            to = _cast_target(self.spots[index].operator) or ""
            self.kinds[index] = "decimal" if to.startswith("numeric") else _CAST_KINDS.get(to)
        if index not in self.kinds and self.spots[index].kind == "common":
            kinds = [self._operand_kind(o) for o in self.spots[index].operands]
            # (a bound value or an untyped Param takes the type of the others)
            self.kinds[index] = _common(
                [
                    k
                    for k, o in zip(kinds, self.spots[index].operands, strict=True)
                    if k is not None or not isinstance(o, str)
                ]
            )
        if index not in self.kinds and self.spots[index].kind == "result":
            spot = self.spots[index]
            if spot.target is not None:
                kind = self.column(spot.target)
            else:
                kind = self._operand_kind(spot.operands[0]) if spot.operands else None
            if spot.operator == "SUM":  # as PostgreSQL types sum(): bigint's is numeric
                kind = _SUMMED.get(kind, kind)
            elif spot.operator == "AVG":
                kind = "decimal" if kind in (64, 32, 16, "decimal") else kind
            self.kinds[index] = kind
        if index not in self.kinds:
            spot = self.spots[index]
            found: list[_Kind] = []
            for operand in spot.operands:
                if isinstance(operand, Target):
                    logical = self.logical(operand)
                    if logical in _NO_ARITHMETIC:
                        raise errors.UnsupportedFeature(
                            f"{spot.operator} on the {logical} column {operand.describe()}",
                            "sqlite",
                            _NO_ARITHMETIC[logical],
                        )
                    found.append(_NUMBER_KINDS.get(logical or ""))
                elif isinstance(operand, str) and operand.startswith(":"):
                    found.append(self.param(operand))
                else:
                    found.append(self.kind(operand) if isinstance(operand, int) else operand)
            self.kinds[index] = _combined(*found) if len(found) == 2 else None
        return self.kinds[index]

    def _operand_kind(self, operand: Any) -> _Kind:
        """The kind of number an operand (see ``Operand``) is, or None if unknown."""
        if isinstance(operand, Target):
            return self.column(operand)
        if isinstance(operand, int):
            return self.kind(operand)
        if isinstance(operand, str) and operand.startswith(":"):
            kind = self.param(operand)
            return None if kind == "value" else kind
        return None

    def param(self, name: str) -> _Kind:
        """The kind of number the Param ``name`` (``":name"``) is ("value" if none):
        PostgreSQL types a parameter once, where the statement first gives it a type (a
        column or type it meets, or the typed operand of its first arithmetic), and keeps
        that type everywhere else; its parser reads FROM and JOIN first, then the select
        list, then the rest (``Compiled.typing_order``)."""
        if name not in self.params:
            self.params[name] = "value"  # (while it is worked out: no cycle)
            for index in self.order:
                slot = self.slots[index]
                target = self.targets[index] if index < len(self.targets) else None
                if target is None or slot.name != name[1:]:
                    continue
                if target.expression is None:
                    declared = None if target == LIKE_PATTERN else self.declared(target)
                    kind = _number_kind(declared)
                    self.params[name] = "value" if kind is None else kind
                    break
                if target.column is not None:
                    kind = self.column(target)
                else:
                    kind = self.kind(target.expression)
                if kind is not None and kind != "value":
                    self.params[name] = kind
                    break
        return self.params[name]


#: The kinds of column whose values PostgreSQL writes as text otherwise than SQLite
#: holds them, with an example.
_TEXT_FORMS = {
    "float": "1.0 as '1' and 1e16 as '1e+16'",
    "boolean": "true as 'true' (SQLite holds 1)",
    "timestamptz": "a timestamp in its session's time zone, as '2024-01-02 03:04:05+00'",
    "json": "a document with its own spacing and key order",
    "bytes": "bytea as '\\x0102'",
}

#: The kinds of column PostgreSQL has no MIN or MAX of (SQLite compares anything).
_UNORDERED = frozenset({"uuid", "boolean", "json", "bytes"})

#: The kinds of column whose arithmetic SQLite would do with numbers it reads from their
#: text, where PostgreSQL has no such operator or computes dates: the hint for each.
_NO_ARITHMETIC = {
    "text": "PostgreSQL has no arithmetic on text (SQLite would read '12abc' as 12): "
    "concatenate with || in raw SQL",
    "uuid": "PostgreSQL has no arithmetic on uuid",
    "boolean": "PostgreSQL has no arithmetic on boolean: CAST(col AS INTEGER) first",
    "json": "PostgreSQL has no arithmetic on json",
    "bytes": "PostgreSQL has no arithmetic on bytea",
    "date": "date arithmetic differs between the backends: compute the date in Python",
    "timestamptz": "timestamp arithmetic differs between the backends: compute it in Python",
}


#: What an arithmetic operand holds, as its expression's type follows from it: a
#: decimal, a float, an integer of so many bits, a bound value (which takes the other
#: operand's type, as PostgreSQL types a parameter), or None (unknown: left to SQLite).
_Kind = str | int | None

_NUMBER_KINDS: dict[str, _Kind] = {
    "decimal": "decimal",
    "float": "float",
    "bigint": 64,
    "integer": 32,
    "smallint": 16,
}


#: The kind of a sum of each kind of integer (PostgreSQL's sum(bigint) is a numeric).
_SUMMED: dict[_Kind, _Kind] = {64: "decimal", 32: 64, 16: 64}

#: The logical type of a column holding a kind of number.
_LOGICAL: dict[_Kind, str] = {kind: name for name, kind in _NUMBER_KINDS.items()}


def _number_kind(declared: str | None) -> _Kind:
    """The kind of number a column of this declared type holds (None: not a number)."""
    return _NUMBER_KINDS.get(kind_of(declared) or "") if declared else None


def _combined(left: _Kind, right: _Kind) -> _Kind:
    """The type of ``left <op> right`` as PostgreSQL resolves it."""
    if left is None or right is None or left == right == "value":
        return None
    if left == "value":
        left = right
    elif right == "value":
        right = left
    if "float" in (left, right):
        return "float"
    if "decimal" in (left, right):
        return "decimal"
    if isinstance(left, int) and isinstance(right, int):
        return max(left, right)
    return None


def _declared(
    conn: sqlite3.Connection,
    schema: SchemaVersion,
    sources: Sources,
    target: Target,
    seen: frozenset[tuple[int, str]] = frozenset(),
) -> str | None:
    """The declared type of what ``target`` names: a logical type, or a column (of the
    table it names, or of the first table the statement reads that has it; of a
    subquery or CTE: of the column it reads, or of one holding what it computes)."""
    if target.column is None:
        assert sources.column_type is not None, "a builder's Sources carry it"
        return sources.column_type(str(target.logical))
    source = target.source
    if source is None and target.table is not None:
        source = sources.ctes.get(target.table)
    if source is not None:
        return _declared_in(conn, schema, sources, source, target.column, seen)
    table = target.table
    if table is None:
        table = next((t for t in sources.tables if target.column in schema.columns(conn, t)), None)
    if table is None:
        return None
    declared = schema.columns(conn, table).get(target.column)
    if declared is None:
        declared = schema.columns(conn, table, refresh=True).get(target.column)
    return declared


def _declared_in(
    conn: sqlite3.Connection,
    schema: SchemaVersion,
    sources: Sources,
    source: Any,
    column: str,
    seen: frozenset[tuple[int, str]],
) -> str | None:
    """The declared type of the result column ``column`` of the subquery (or CTE)
    ``source``: PostgreSQL gives it the type of what the subquery selects there."""
    if isinstance(source, AliasedQuery):
        source = source.query if source.query is not None else sources.ctes.get(source.name)
    if source is None or (id(source), column) in seen:
        return None  # (a recursive CTE: the type its first member gives, unresolved)
    seen = seen | {(id(source), column)}
    if column == SCALAR:
        origins = _origins(source)
        origin = origins[0] if origins else None
    elif isinstance(source, _SetOperation):
        origins = _set_origins(source)
        names = [_name_of(t) for t in _attr(source.base_query, "_selects", ())]
        origin = origins[names.index(column)] if origins and column in names else None
    else:
        origin = _column_of(source, column)
    if isinstance(origin, ResultColumn) and origin.column is not None:
        table = origin.table
        if table is None:
            table = next(
                (t for t in _tables(source) if origin.column in schema.columns(conn, t)), None
            )
        if table is None:
            return None
        return _declared(conn, schema, sources, Target(table, origin.column), seen)
    kind = _kind(conn, schema, sources, origin, seen)
    logical = _LOGICAL.get(kind)
    return sources.column_type(logical) if logical and sources.column_type else None


def _name_of(term: Any) -> str | None:
    """The name of the result column a select-list term makes."""
    return term.alias or (term.name if isinstance(term, terms.Field) else None)


class Plan:
    """How to turn one result shape's tuples into Records on one database."""

    __slots__ = ("_row", "_rows", "_tuples", "cls", "decoders")

    def __init__(self, cls: type[Record], decoders: tuple[tuple[int, Callable[[Any], Any]], ...]):
        self.cls = cls
        self.decoders = decoders
        self._rows: Callable[[list[tuple[Any, ...]]], list[Record]] | None = None
        self._row: Callable[[tuple[Any, ...]], Record] | None = None
        self._tuples: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None = None
        if decoders:
            self._rows, self._row, self._tuples = _converters(cls, decoders)

    def row(self, raw: tuple[Any, ...]) -> Record:
        convert = self._row
        if convert is None:
            return self.cls(raw)
        try:
            return convert(raw)
        except Exception:
            return self._failed([raw])[0]

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        convert = self._rows
        if convert is None:
            # map over the class: the records are made in C, no Python frame per row
            # (about 40% cheaper than a partial of tuple.__new__).
            return list(map(self.cls, raw))
        try:
            return convert(raw)
        except Exception:
            return self._failed(raw)

    def tuples(self, raw: list[tuple[Any, ...]]) -> Sequence[Sequence[Any]]:
        """The rows decoded as :meth:`rows` decodes them, as plain tuples: for a caller
        that reads them into its own type (``as_=``), so no Record is made per row."""
        convert = self._tuples
        if convert is None:
            return raw
        try:
            return convert(raw)
        except Exception:
            return self._failed(raw)

    def _failed(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        """Decode again, one value at a time, to say which column failed (or to succeed,
        if what failed was not a decoder: then the answer is the same as the fast one)."""
        cls = self.cls
        out = []
        index = 0
        try:
            for row in raw:
                values = list(row)
                for index, decode in self.decoders:
                    value = values[index]
                    if value is not None:
                        values[index] = decode(value)
                out.append(cls(values))
        except _OutOfRange as exc:
            raise errors.DataError(str(exc), dialect="sqlite") from None
        except (ValueError, ArithmeticError, TypeError) as exc:
            # A value another tool stored ('yesterday' in a TIMESTAMPTZ column): say which
            # column, not the value (it may be a secret).
            name: tuple[str, ...] = cls.__dict__.get("_keys", ())
            column = name[index] if index < len(name) else f"#{index + 1}"
            reason = exc.message if isinstance(exc, errors.DatabaseError) else type(exc).__name__
            raise errors.DataError(
                f"column {column} holds a value its declared type cannot read ({reason}); "
                "it was stored without dualdb's checks",
                dialect="sqlite",
            ) from None
        return out


_Converters = tuple[
    Callable[[list[tuple[Any, ...]]], list[Record]],
    Callable[[tuple[Any, ...]], Record],
    Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]],
]
#: Code of the converters per row shape: (width, decoded positions and how each is written
#: out) → their factory.
_factories: dict[tuple[int, tuple[tuple[int, str | None], ...]], Callable[..., _Converters]] = {}


def _converters(
    cls: type[Record], decoders: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> _Converters:
    """A rows converter and a row converter written out for one row shape, as
    ``collections.namedtuple`` writes its class: a comprehension that unpacks each row and
    decodes only the columns that need it, the common decoders written out inline
    (``codec.inline_decoder``), with no Python loop over the columns.
    The source is made of positions and dualdb's own templates only (never a name or a
    value from the database)."""
    width = len(cls._keys)
    inline = [(i, inline_decoder(decode)) for i, decode in decoders]
    key = (width, tuple((i, None if how is None else how[0]) for i, how in inline))
    factory = _factories.get(key)
    if factory is None:
        names = [f"v{i}" for i in range(width)]
        values = list(names)
        params = ["cls"]
        for i, how in inline:
            other = f"(None if v{i} is None else d{i}(v{i}))"
            params.append(f"d{i}")
            if how is None:
                values[i] = other
                continue
            template, helpers = how
            fill = {f"h{k}": f"h{i}_{k}" for k in range(len(helpers))}
            params += fill.values()
            values[i] = template.format(v=f"v{i}", t=f"t{i}", other=other, **fill)
        unpack = ", ".join(names) + ","
        plain = "(" + ", ".join(values) + ",)"
        build = f"cls({plain})"
        source = (
            f"def factory({', '.join(params)}):\n"
            f"    def rows(raw):\n"
            f"        return [{build} for {unpack} in raw]\n"
            f"    def row(raw):\n"
            f"        {unpack} = raw\n"
            f"        return {build}\n"
            f"    def tuples(raw):\n"
            f"        return [{plain} for {unpack} in raw]\n"
            f"    return rows, row, tuples\n"
        )
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<dualdb row shape {width}>", "exec"), namespace)  # noqa: S102
        factory = namespace["factory"]
        if len(_factories) < 1024:
            _factories[key] = factory
    arguments: list[Any] = [cls]
    for (_, decode), (_, how) in zip(decoders, inline, strict=True):
        arguments.append(decode)
        if how is not None:
            arguments += how[1]
    return factory(*arguments)


class NewPlan(Plan):
    """A plan not yet confirmed: kept, and used, for its statement's later runs, which
    check their column names against it until one of them decodes a row with it.

    A plan pairs the statement's columns (its cursor's description) with the declared
    types of the schema version read just before. Both come from the same schema only
    if the statement still held its read snapshot then, which is certain once it has a
    row to decode (SQLite ends the read as soon as the rows run out).
    """

    __slots__ = ("key", "names", "plans")

    def __init__(
        self,
        plan: Plan,
        names: tuple[str, ...],
        plans: dict[SchemaVersion, Plan],
        key: SchemaVersion,
    ) -> None:
        super().__init__(plan.cls, plan.decoders)
        self.names = names
        self.plans = plans
        self.key = key

    def row(self, raw: tuple[Any, ...]) -> Record:
        return self._confirm().row(raw)

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        return self._confirm().rows(raw)

    def tuples(self, raw: list[tuple[Any, ...]]) -> Sequence[Sequence[Any]]:
        return self._confirm().tuples(raw)

    def _confirm(self) -> Plan:
        plan = Plan(self.cls, self.decoders)
        self.plans[self.key] = plan
        return plan


class Moved(Exception):
    """The schema version changed while a plan was being made (see ``SchemaVersion.columns``)."""


class SchemaVersion:
    """Declared column types per table in one version of the schema, read lazily and
    cached; also the key, in ``Sources.plans``, of the plans made with them."""

    __slots__ = ("tables", "version")

    def __init__(self, version: int) -> None:
        self.version = version
        self.tables: dict[str, dict[str, str]] = {}

    def columns(
        self, conn: sqlite3.Connection, table: str, refresh: bool = False
    ) -> dict[str, str]:
        cached = self.tables.get(table)
        if cached is not None and not refresh:
            return cached
        # The version in the same statement, so in the same snapshot as the columns.
        rows = conn.execute(
            "SELECT v.schema_version, x.name, x.type FROM pragma_schema_version AS v"
            " LEFT JOIN pragma_table_xinfo(?) AS x",
            (table,),
        ).fetchall()
        if rows[0][0] != self.version:
            raise Moved
        found = {name: declared or "" for _, name, declared in rows if name is not None}
        if found:
            self.tables[table] = found
        return found


class Schema:
    """The schema versions (``PRAGMA schema_version``) one database's connections have
    read from. Any connection, process or tool changing the schema changes the version,
    and connections in older transactions still read older versions meanwhile."""

    def __init__(self) -> None:
        self.versions: dict[int, SchemaVersion] = {}

    def at(self, version: int) -> SchemaVersion:
        versions = self.versions
        found = versions.get(version)
        if found is None:
            if len(versions) > 8:
                versions.clear()  # versions nobody reads any more
            found = versions.setdefault(version, SchemaVersion(version))
        return found


def make_plan(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, names: tuple[str, ...]
) -> Plan:
    cls = record_class(names)
    if sources.names is not None:
        known = sources.names
        return Plan(cls, tuple((i, known[n]) for i, n in enumerate(names) if n in known))
    origins = sources.origins
    if origins is None:
        return Plan(cls, ())
    expanded: list[tuple[str | None, str | None] | Fixed | _Summarized] = []
    _expand(conn, schema, sources, origins, expanded)
    if len(expanded) != len(names):
        return Plan(cls, ())  # a shape we cannot map column-for-column: values as stored
    decoders = []
    for index, source in enumerate(expanded):
        if isinstance(source, Fixed):
            decoders.append((index, source.decode))
            continue
        if isinstance(source, _Summarized):
            decoders.append((index, _summary_decoder(source.name, source.kind)))
            continue
        table, column = source
        if table is None or column is None:
            continue
        declared: str | None = schema.columns(conn, table).get(column)
        if declared is None:
            declared = schema.columns(conn, table, refresh=True).get(column)
        decode = decoder_for(declared or "")
        if decode is not None:
            decoders.append((index, decode))
    return Plan(cls, tuple(decoders))


def _expand(
    conn: sqlite3.Connection,
    schema: SchemaVersion,
    sources: Sources,
    origins: Sequence[Origin],
    out: list[tuple[str | None, str | None] | Fixed | _Summarized],
) -> None:
    for origin in origins:
        if origin is None:
            out.append((None, None))
        elif isinstance(origin, Fixed):
            out.append(origin)
        elif isinstance(origin, Summary):
            kind = _kind(conn, schema, sources, origin.origin)
            out.append(_Summarized(origin.name, None if kind == "value" else kind))
        elif isinstance(origin, Cast):
            out.append(_CAST_DECODERS.get(origin.kind, _UNDECODED))
        elif isinstance(origin, Computed):
            kind = _kind(conn, schema, sources, origin)
            out.append(_COMMON_DECODERS["float"] if kind == "float" else _EXACT_TEXT)
        elif isinstance(origin, Common):
            kinds = [
                branch if isinstance(branch, int | str) else _kind(conn, schema, sources, branch)
                for branch in origin.branches
            ]
            common = _common(kinds)
            if common in _COMMON_DECODERS:
                out.append(_COMMON_DECODERS[common])
            else:  # one type already, or types dualdb does not resolve: the first's
                first = next((b for b in origin.branches if not isinstance(b, int | str)), None)
                _expand(conn, schema, sources, (first,), out)
        elif isinstance(origin, Spread):
            _expand(conn, schema, sources, origin.origins, out)
        elif origin.column is not None:
            out.append((_table_of(conn, schema, sources, origin), origin.column))
        elif origin.table is not None:
            out.extend((origin.table, c) for c in schema.columns(conn, origin.table))
        else:
            for star in sources.stars:
                if isinstance(star, Spread):
                    _expand(conn, schema, sources, star.origins, out)
                else:
                    out.extend((star, c) for c in schema.columns(conn, star))


def _kind(
    conn: sqlite3.Connection,
    schema: SchemaVersion,
    sources: Sources,
    origin: Any,
    seen: frozenset[tuple[int, str]] = frozenset(),
) -> _Kind:
    """The kind of number an expression holds, for this schema (see ``_Kind``)."""
    if isinstance(origin, ResultColumn):
        if origin.column is None:
            return None
        table = _table_of(conn, schema, sources, origin)
        declared = _declared(conn, schema, sources, Target(table, origin.column), seen)
        return _number_kind(declared)
    if isinstance(origin, Computed) and len(origin.operands) == 2:
        left, right = (_kind(conn, schema, sources, o, seen) for o in origin.operands)
        return _combined(left, right)
    if isinstance(origin, Cast):
        return origin.kind
    if isinstance(origin, Summary):
        kind = _kind(conn, schema, sources, origin.origin, seen)
        if origin.name == "SUM":
            return _SUMMED.get(kind, kind)
        return "decimal" if kind in (64, 32, 16, "decimal") else kind
    if isinstance(origin, Common):
        return _common(
            [
                b if isinstance(b, int | str) else _kind(conn, schema, sources, b, seen)
                for b in origin.branches
            ]
        )
    return "value" if origin == "value" else None


def _table_of(
    conn: sqlite3.Connection, schema: SchemaVersion, sources: Sources, origin: ResultColumn
) -> str | None:
    if origin.table is not None:
        return origin.table
    for table in sources.tables:
        if origin.column in schema.columns(conn, table):
            return table
    return None


def _ctes(query: Any) -> dict[str, Any]:
    return {cte.name: cte.query for cte in _attr(query, "_with", ()) if cte.query is not None}


def _tables(query: Any) -> tuple[str, ...]:
    return tuple(s for s in dict.fromkeys(_from_items(query)) if isinstance(s, str))


def _stars(query: Any) -> tuple[str | Spread, ...]:
    stars: list[str | Spread] = []
    for item in _from_items(query):
        if isinstance(item, str):
            if item not in stars:
                stars.append(item)
        else:
            stars.append(Spread(_origins(item) or ()))
    return tuple(stars)


def _attr(query: Any, name: str, default: Any) -> Any:
    # Not getattr: a PyPika builder makes a Field of any attribute it lacks (a plain
    # QueryBuilder has no ``_returns``).
    return vars(query).get(name, default) if hasattr(query, "__dict__") else default


def _from_items(query: Any) -> list[Any]:
    """What the query reads, in order: table names, and the subqueries (and CTEs) it
    reads from as their queries."""
    items: list[Any] = []
    for source in [
        *_attr(query, "_from", ()),
        _attr(query, "_insert_table", None),
        _attr(query, "_update_table", None),
        *(j.item for j in _attr(query, "_joins", ())),
    ]:
        resolved = _resolve_source(query, source)
        if isinstance(resolved, Table):
            items.append(resolved._table_name)
        elif resolved is not None:
            items.append(resolved)
    return items


def _resolve_source(scope: Any, source: Any) -> Any:
    """A FROM item as a Table or a query: a CTE referenced by name becomes its query."""
    if isinstance(source, AliasedQuery):
        if source.query is not None:
            return source.query
        for cte in _attr(scope, "_with", ()):
            if cte.name == source.name:
                return cte.query
        return None
    if isinstance(source, Table):
        for cte in _attr(scope, "_with", ()):
            if cte.name == source._table_name:
                return cte.query
        return source
    if isinstance(source, QueryBuilder | _SetOperation):
        return source.base_query if isinstance(source, _SetOperation) else source
    return None


#: Terms whose value is true/false (0/1 on SQLite).
_BOOLEAN_TERMS = (
    terms.BasicCriterion,
    terms.ContainsCriterion,
    terms.ExistsCriterion,
    terms.RangeCriterion,
    terms.NullCriterion,
    terms.Not,
)


def _origin(term: Any, scope: Any) -> Origin:
    if isinstance(term, terms.Star):
        source = _resolve_source(scope, term.table)
        if isinstance(source, Table):
            return ResultColumn(source._table_name, None)
        if source is not None:
            return Spread(_origins(source) or ())
        return ResultColumn(None, None)
    if isinstance(term, terms.Field):
        source = _resolve_source(scope, term.table)
        if isinstance(source, Table):
            return ResultColumn(source._table_name, term.name)
        if source is not None:
            return _column_of(source, term.name)
        return ResultColumn(None, term.name)
    if isinstance(term, _BOOLEAN_TERMS):
        return Fixed(to_bool)
    if isinstance(term, terms.Case):
        results = [then for _, then in term._cases]
        if term._else is not None:
            results.append(term._else)
        return _branches(results, scope)
    if isinstance(term, QueryBuilder):  # a scalar subquery
        origins = _origins(term)
        return origins[0] if origins else None
    if isinstance(term, terms.ArithmeticExpression):
        return Computed(tuple(_operand_origin(t, scope) for t in (term.left, term.right)))
    if isinstance(term, terms.Negative):
        return Computed(("value", _operand_origin(term.term, scope)))
    if isinstance(term, fn.Cast) and term.args:
        target = _cast_target(cast_type(term.as_type)) or ""
        kind = "decimal" if target.startswith("numeric") else _CAST_KINDS.get(target)
        return Cast(kind) if kind is not None else None
    if isinstance(term, terms.Function) and term.args:
        name = term.name.upper()
        if name == "ABS" and len(term.args) == 1:
            return Computed(("value", _operand_origin(term.args[0], scope)))
        if name in _SUMMARIES:
            return Summary(name, _origin(term.args[0], scope))
        if name in _PASSTHROUGH_FUNCTIONS:
            return _origin(term.args[0], scope)
        if name in _COMMON_FUNCTIONS or isinstance(term, fn.Coalesce):
            return _branches(term.args, scope)
    if type(term) is terms.ValueWrapper:
        return _LITERALS.get(type(term.value))
    return None


def _branches(results: Sequence[Any], scope: Any) -> Origin:
    """The origin of a value that is one of ``results`` (see :class:`Common`)."""
    branches: list[Origin | int | str] = []
    for result in results:
        kind = _literal_kind(result)
        if kind is not None:
            branches.append(kind)
        elif not _is_null(result) and not isinstance(result, Param):  # (typed by the others)
            branches.append(_origin(result, scope))
    if len(branches) == 1 and not isinstance(branches[0], int | str):
        return branches[0]
    return Common(tuple(branches)) if branches else None


def _is_null(term: Any) -> bool:
    return isinstance(term, terms.NullValue) or (
        type(term) is terms.ValueWrapper and term.value is None
    )


def _literal_kind(term: Any) -> _Kind:
    """The kind of number a literal is, as dualdb binds it on PostgreSQL (see
    ``literal_type``), or None."""
    if type(term) is not terms.ValueWrapper:
        return None
    return _NUMBER_KINDS.get(literal_type(term.value) or "")


def _common(kinds: Sequence[_Kind]) -> _Kind:
    """The type PostgreSQL gives values of ``kinds`` together (None: not all numbers)."""
    if not kinds or any(k is None or k == "value" for k in kinds):
        return None
    common = kinds[0]
    for kind in kinds[1:]:
        common = _combined(common, kind)
    return common


def _to_float(value: Any) -> Any:
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):  # decimal text, or NaN from dualdb's functions
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _operand_origin(term: Any, scope: Any) -> ResultColumn | Computed | str | None:
    if isinstance(term, terms.Field | terms.ArithmeticExpression | terms.Negative | fn.Abs):
        origin = _origin(term, scope)
        return origin if isinstance(origin, ResultColumn | Computed) else None
    if isinstance(term, Param) or (
        type(term) is terms.ValueWrapper and not isinstance(term.value, terms.Term)
    ):
        return "value"
    return None


class _OutOfRange(Exception):
    """A value the result column's type cannot hold (see ``Plan.rows``)."""


def _summary_decoder(name: str, kind: _Kind) -> Callable[[Any], Any]:
    """How a SUM or AVG comes back, as PostgreSQL types it: SUM of a bigint is a numeric
    (a Decimal), of a smaller integer a bigint (an int; beyond 64 bits an error, as
    there), of a float a float; AVG of integers or decimals a numeric. dualdb's
    aggregates return decimal text for what is exact (``functions.ExactSum``)."""
    if name == "SUM" and kind == 64:
        return _to_decimal
    if name == "SUM" and kind in (32, 16):
        return _to_bigint
    return _exact_text


def _exact_text(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) else value


_EXACT_TEXT = Fixed(_exact_text)


def _to_decimal(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str | int) else value


def _to_bigint(value: Any) -> Any:
    if isinstance(value, str):
        raise _OutOfRange("bigint out of range")
    return value


def _column_of(query: Any, name: str) -> Origin:
    """The origin of the result column ``name`` of a subquery."""
    for term in _attr(query, "_selects", ()):
        if term.alias == name or (
            term.alias is None and isinstance(term, terms.Field) and term.name == name
        ):
            return _origin(term, query)
        if isinstance(term, terms.Star):
            star = _origin(term, query)
            if isinstance(star, ResultColumn) and star.table is not None:
                return ResultColumn(star.table, name)
    return None


def _set_origins(query: _SetOperation) -> tuple[Origin, ...] | None:
    """The origins of a UNION's (INTERSECT's, EXCEPT's) columns: each :class:`Common` to
    the members' columns."""
    members = [_member_origins(query.base_query)]
    members += [_member_origins(q) for _, q in query._set_operation]
    first = members[0]
    if first is None or any(m is None or len(m) != len(first) for m in members):
        return _origins(query.base_query)
    return tuple(Common(tuple(m[i] for m in members if m is not None)) for i in range(len(first)))


def _member_origins(query: Any) -> tuple[Origin | int | str, ...] | None:
    selected: Sequence[Any] = _attr(query, "_selects", None) or ()
    if not selected:
        return None
    return tuple(_literal_kind(term) or _origin(term, query) for term in selected)


def _origins(query: Any) -> tuple[Origin, ...] | None:
    if isinstance(query, _SetOperation):
        query = query.base_query
    selected: Sequence[Any] = _attr(query, "_returns", None) or _attr(query, "_selects", None) or ()
    if not selected:
        return None
    return tuple(_origin(term, query) for term in selected)


#: How a value of a CASE (COALESCE, UNION) is decoded when its branches have several
#: kinds of number: as the one PostgreSQL gives them all.
_COMMON_DECODERS = {"decimal": Fixed(_to_decimal), "float": Fixed(_to_float)}

#: The origin of a literal alone in a select list, by its Python type: SQLite gives back
#: 0/1 for a bool and text for a Decimal.
_LITERALS: dict[type, Origin] = {bool: Fixed(to_bool), Decimal: Fixed(_exact_text)}

#: How a CAST to each kind of number comes back (an integer as it is).
_CAST_DECODERS: dict[_Kind, Fixed] = {"decimal": _EXACT_TEXT, "float": _COMMON_DECODERS["float"]}
_UNDECODED: tuple[None, None] = (None, None)
