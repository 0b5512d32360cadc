"""Render-time hooks into PyPika, active only while dualdb compiles a query.

PyPika's own parameter support turns values into strings before handing them over
(datetimes and UUIDs become ISO text, ``None`` becomes ``'null'``, dicts their ``repr``),
so the driver would no longer receive typed values. dualdb therefore changes how a few
PyPika classes render, only while a thread-local *binder* is active (any PyPika use
outside dualdb renders as PyPika does). With one active:

- every literal value is bound as a placeholder, keeping the original Python object;
- ``col == None`` / ``col != None`` render as ``IS NULL`` / ``IS NOT NULL``;
- ``x IN ()`` (an empty list) renders as a false condition, which PostgreSQL would reject;
- every LIKE gets ``ESCAPE '\\'``, so both backends escape alike;
- LIMIT/OFFSET accept only a non-negative ``int`` or a Param: PyPika pastes them into the text;
- every bound value that meets a column (INSERT, SET, an upsert, ``col op value``, IN,
  BETWEEN, LIMIT) is noted with that column (``Binder.expect``), so a dialect can check it
  as the column's type takes it and every error can name the Param and the column;
- ``orderby(order=)`` takes an Order or "asc"/"desc", nothing else;
- an expression written again in GROUP BY or ORDER BY is rendered from the select
  list's own terms (``_twin``), so both share their placeholders;
- where the compiler asks: each place whose SQL depends on a column's type (a column
  compared, sorted, grouped or in MIN/MAX, an arithmetic expression) is marked as a
  :class:`~dualdb.sql._target.Spot` for the driver to write once it knows the types
  (``typed_spots``), and unaliased expressions get the names PostgreSQL gives them
  (``names_expressions``);
- the dialect's :class:`~dualdb.dialects.base.Compiler` writes what backends spell
  differently (where NULLs sort, OFFSET without LIMIT, ``%``, a divisor, functions it
  computes its own way, ``RETURNING t.*``, set operations, FOR UPDATE)
  and refuses, with :class:`~dualdb.errors.UnsupportedFeature`, constructs its backend
  lacks (ILIKE, regex, DISTINCT ON, functions) before anything runs.

Builder-level differences are overrides on dualdb's own builders (:mod:`dualdb.query`),
which call the functions below. PyPika leaves no such seam for its terms, which any
builder holds, nor for builders made without ``dualdb.Query`` (``Table.select()`` makes
a plain PyPika one): those are global wrappers (:func:`_hook`) calling the same functions,
so every builder gets the same checked LIMIT/OFFSET and the same SQL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from typing import TYPE_CHECKING, Any, TypeVar

from pypika import functions as fn
from pypika import terms
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.enums import Arithmetic, Equality, Matching, Order
from pypika.queries import AliasedQuery, JoinOn, QueryBuilder, _SetOperation
from pypika.utils import format_alias_sql, format_quotes

from dualdb.errors import QueryError
from dualdb.sql._target import (
    LIKE_PATTERN,
    SCALAR,
    SELECTED_VALUE,
    TYPING,
    Operand,
    Spot,
    Target,
    cast_type,
    literal_type,
)

if TYPE_CHECKING:
    from dualdb.dialects.base import Compiler
    from dualdb.sql.compile import Binder

_state = threading.local()


def active() -> Binder | None:
    """The binder of the compilation running in this thread, if any."""
    binder: Binder | None = getattr(_state, "binder", None)
    return binder


def set_active(binder: Binder | None) -> None:
    _state.binder = binder


_Class = TypeVar("_Class", bound=type)

#: dualdb's builders (see :func:`renders_itself`).
_own_rendering: tuple[type, ...] = ()


def renders_itself(cls: _Class) -> _Class:
    """Class decorator for dualdb's builders: they render through their own overrides,
    so the global builder-level hooks leave them to PyPika's methods (which their
    overrides call)."""
    global _own_rendering
    _own_rendering = (*_own_rendering, cls)
    return cls


Method = Callable[..., str]
_Replacement = TypeVar("_Replacement", bound=Callable[..., str])


def _hook(cls: type, name: str, *, builder: bool = False) -> Callable[[_Replacement], _Replacement]:
    """Replace ``cls.name`` by a wrapper that defers to the original when no binder is
    active, or, for a ``builder`` method, when the builder is one of dualdb's
    (:func:`renders_itself`: its overrides did the work and called the original).

    Returns the replacement unchanged, so one function can be hooked onto several classes.
    """

    original: Method = getattr(cls, name)

    def install(replacement: _Replacement) -> _Replacement:
        def method(self: Any, *args: Any, **kwargs: Any) -> str:
            binder = getattr(_state, "binder", None)
            if binder is None:
                return original(self, *args, **kwargs)
            return replacement(binder, original, self, *args, **kwargs)

        def builder_method(self: Any, *args: Any, **kwargs: Any) -> str:
            binder = getattr(_state, "binder", None)
            if binder is None or isinstance(self, _own_rendering):
                return original(self, *args, **kwargs)
            return replacement(binder, original, self, *args, **kwargs)

        wrapper = builder_method if builder else method
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        wrapper.__doc__ = original.__doc__
        setattr(cls, name, wrapper)
        return replacement

    return install


# Term-level hooks: PyPika offers no seam but its classes' methods.


@_hook(terms.ValueWrapper, "get_sql")
def _value_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    value = self.value
    if isinstance(value, terms.Term):
        return original(self, **kwargs)
    sql = binder.bind_value(value, self)
    if kwargs.get("with_alias") and self.alias:
        return format_alias_sql(sql, self.alias, quote_char=kwargs.get("quote_char"))
    return sql


def _is_none(term: Any) -> bool:
    return isinstance(term, terms.NullValue) or (
        type(term) is terms.ValueWrapper and term.value is None
    )


def _column(field: Any) -> Target | None:
    """The column a term names, if it is a plain column (or a scalar subquery)."""
    if isinstance(field, QueryBuilder):
        return Target(None, SCALAR, source=field)
    if type(field) is not terms.Field:
        return None
    table = field.table
    if table is None:
        return Target(None, field.name)
    name = getattr(table, "_table_name", None)
    if isinstance(name, str):
        return Target(name, field.name)
    if isinstance(table, QueryBuilder | _SetOperation | AliasedQuery) and table.alias:
        # A subquery's (or CTE's) column: the dialect follows it to its origin.
        return Target(table.alias, field.name, source=table)
    return None


def _is_bound(term: Any) -> bool:
    from dualdb.sql.terms import Param  # which imports this module

    return isinstance(term, Param) or (
        type(term) is terms.ValueWrapper and not isinstance(term.value, terms.Term)
    )


def _meets(binder: Binder, value: Any, target: Target | None) -> None:
    if type(value) is terms.ValueWrapper and isinstance(value.value, terms.Term):
        value = value.value  # PyPika wraps some terms again (an upsert's Param)
    if _is_bound(value):
        # (None too: the same Param object may meet a column elsewhere in the query)
        binder.expect(value, target)


@_hook(terms.BasicCriterion, "get_sql")
def _criterion_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    comparator = self.comparator
    _meets(binder, self.right, _column(self.left))
    _meets(binder, self.left, _column(self.right))
    if comparator in (Equality.eq, Equality.ne) and (_is_none(self.right) or _is_none(self.left)):
        subject = self.left if _is_none(self.right) else self.right
        test = " IS NULL" if comparator is Equality.eq else " IS NOT NULL"
        quote = kwargs.get("quote_char", binder.dialect.quote_char)
        sql: str = subject.get_sql(quote_char=quote, **_without(kwargs))
        return sql + test
    if isinstance(comparator, Equality) and binder.dialect.compiler.typed_spots:
        spotted = _spotted_operand(binder, self)
        if spotted is not None:
            return str(original(spotted, **kwargs))
    if isinstance(comparator, Matching):
        binder.dialect.compiler.check_matching(comparator)
        if comparator in (Matching.like, Matching.not_like):
            _meets(binder, self.right, LIKE_PATTERN)
            # ESCAPE belongs to the comparison, before any alias ("x LIKE ? ESCAPE '\\' v").
            sql = str(original(self, **{**kwargs, "with_alias": False})) + " ESCAPE '\\'"
            if kwargs.get("with_alias") and self.alias:
                sql = format_alias_sql(
                    sql, self.alias, **_without(kwargs), quote_char=kwargs.get("quote_char")
                )
            return sql
    return str(original(self, **kwargs))


class _Spotted(terms.Term):
    """A column followed by the mark of a spot (see ``Binder.spot``)."""

    def __init__(self, term: Any, binder: Binder, target: Target, kind: str) -> None:
        super().__init__(alias=getattr(term, "alias", None))
        self.term = copy(term)
        self.term.alias = None  # (the alias is this term's, written after the mark)
        self.binder = binder
        self.target = target
        self.kind = kind

    def get_sql(self, with_alias: bool = False, **kwargs: Any) -> str:
        sql = str(self.term.get_sql(**kwargs)) + self.binder.spot(self.target, self.kind)
        if with_alias and self.alias:  # after the mark: "col COLLATE c alias"
            return format_alias_sql(sql, self.alias, **kwargs)
        return sql


def _spot(binder: Binder, term: Any, kind: str = "order") -> Any:
    """``term`` marked as a spot of ``kind`` if it is a column (and the compiler asks)."""
    target = _column(term) if binder.dialect.compiler.typed_spots else None
    return term if target is None else _Spotted(term, binder, target, kind)


def _spotted_operand(binder: Binder, criterion: Any) -> Any:
    """A copy of a comparison with its column operand marked (the left one if both are
    columns: SQLite compares with the left operand's collation), or None."""
    for side in ("left", "right"):
        term = getattr(criterion, side)
        spotted = _spot(binder, term)
        if spotted is not term:
            criterion = copy(criterion)
            setattr(criterion, side, spotted)
            return criterion
    return None


def _without(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    drop = {"quote_char", "with_alias", *names}
    return {k: v for k, v in kwargs.items() if k not in drop}


@_hook(terms.ContainsCriterion, "get_sql")
def _contains_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    container = self.container
    if isinstance(container, terms.Tuple) and not container.values:
        # "x IN ()" is a syntax error on PostgreSQL and false on SQLite: render its meaning.
        return "1=1" if self._is_negated else "1=0"
    if _is_bound(container):
        raise QueryError(
            "IN takes one value per placeholder, so a Param cannot stand for a whole list: "
            "write col.isin(values) with the values themselves (each is bound), or "
            "col.isin([Param('a'), Param('b')])"
        )
    target = _column(self.term)
    if isinstance(container, terms.Tuple):
        for value in container.values:
            _meets(binder, value, target)
    spotted = _spot(binder, self.term)
    if spotted is not self.term:
        self = copy(self)
        self.term = spotted
    return str(original(self, **kwargs))


@_hook(terms.BetweenCriterion, "get_sql")
def _between_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    target = _column(self.term)
    _meets(binder, self.start, target)
    _meets(binder, self.end, target)
    spotted = _spot(binder, self.term)
    if spotted is not self.term:
        self = copy(self)
        self.term = spotted
    return str(original(self, **kwargs))


# Where a statement writes a value into a column: INSERT's VALUES, UPDATE's SET, an
# upsert's DO UPDATE SET. The builders of every kind share these PyPika methods.


def _in_table(table: Any, field: Any) -> Target | None:
    name = getattr(table, "_table_name", None)
    column = field if isinstance(field, str) else getattr(field, "name", None)
    return Target(name, column) if isinstance(name, str) and isinstance(column, str) else None


@_hook(QueryBuilder, "_values_sql")
def _values_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    columns = [_in_table(self._insert_table, c) for c in self._columns]
    for row in self._values:
        for target, value in zip(columns, row, strict=False):
            _meets(binder, value, target)
    if len(self._values) > 1 and getattr(self, "_on_conflict_do_updates", None):
        # PostgreSQL refuses an upsert whose rows share a conflict key; note the keys.
        names = [getattr(c, "name", c) for c in self._columns]
        key = [getattr(f, "name", f) for f in getattr(self, "_on_conflict_fields", ())]
        if key and all(k in names for k in key):
            positions = [names.index(k) for k in key]
            for number, row in enumerate(self._values):
                for position in positions:
                    value = row[position] if position < len(row) else None
                    if type(value) is terms.ValueWrapper and isinstance(value.value, terms.Term):
                        value = value.value
                    binder.key(value, number, len(key))
    return str(original(self, **kwargs))


@_hook(QueryBuilder, "_set_sql")
def _set_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    return _in_part(binder, "select", lambda: _assignments_sql(binder, original, self, **kwargs))


def _assignments_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    updates = []
    for field, value in self._updates:
        target = _in_table(self._update_table, field)
        _meets(binder, value, target)
        if binder.dialect.compiler.typed_spots and target is not None and _is_expression(value):
            value = _Assigned(value, binder, target)
        updates.append((field, value))
    if all(new is old for (_, new), (_, old) in zip(updates, self._updates, strict=True)):
        return str(original(self, **kwargs))
    assigned = copy(self)
    assigned._updates = updates
    return str(original(assigned, **kwargs))


def _is_expression(term: Any) -> bool:
    """Whether ``term`` is computed by the database (not a bound value, NULL or DEFAULT)."""
    return isinstance(term, terms.Term) and not (
        _is_bound(term) or _is_none(term) or type(term).__name__ in ("Default", "Param")
    )


class _Assigned(terms.Term):
    """An expression assigned to a column (``SET col = expr``), as a spot the driver
    writes by the column's type and the expression's: PostgreSQL converts the value to
    the column's type (rounding a decimal into an integer), where SQLite would store it
    as it is (a float in an integer column)."""

    def __init__(self, term: Any, binder: Binder, target: Target) -> None:
        super().__init__()
        self.term, self.binder, self.target = term, binder, target

    def get_sql(self, **kwargs: Any) -> str:
        binder = self.binder
        index = binder.reserve(self)
        sql = str(self.term.get_sql(**kwargs))
        binder.fill(index, Spot("assign", self.target, operands=(_operand(binder, self.term),)))
        return binder.mark(index, "open") + sql + binder.mark(index, "close")


@_hook(PostgreSQLQueryBuilder, "_on_conflict_action_sql")
def _on_conflict_action_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    for field, value in self._on_conflict_do_updates:
        _meets(binder, value, _in_table(self._insert_table, field))
    return str(original(self, **kwargs))


@_hook(terms.Function, "get_sql")
def _function_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    compiler = binder.dialect.compiler
    _check_written(self.name, _WORD, "a function name")
    if self.name.upper() in _DATE_PART_FUNCTIONS:
        for arg in self.args:
            if isinstance(arg, terms.LiteralValue):  # (PyPika's wrapping of a date part)
                _check_written(str(arg._value), _DATE_PART, "a date part")
    if isinstance(self, fn.Cast | fn.Convert):
        as_type: Any = getattr(self, "as_type", "")
        written = as_type.get_sql() if hasattr(as_type, "get_sql") else str(as_type)
        _check_written(str(written).lower(), _TYPE, "a CAST type")
    compiler.check_function(self.name)
    window = isinstance(self, terms.AnalyticFunction)
    name = compiler.function(self.name.upper(), window=window)
    result = _result_spot(binder, self)
    common = None
    if name in ("COALESCE", "NULLIF", "GREATEST", "LEAST"):
        _one_type(binder, self.args)
        if compiler.typed_spots and name == "COALESCE":
            common = result = binder.reserve(self)
    if name in ("MIN", "MAX") and len(self.args) == 1:
        # The smallest decimal by value, not by text (and no MIN of a type without one).
        spotted = _spot(binder, self.args[0], "extreme")
        if spotted is not self.args[0]:
            self = copy(self)
            self.args = [spotted]
    elif isinstance(self, fn.Cast) and self.args:
        to = cast_type(self.as_type)
        logical = _CAST_LOGICAL.get(to.split("(")[0])
        if logical is not None:  # a bound value cast is of the type it is cast to
            _meets(binder, self.args[0], Target(None, None, logical))
        if to.split("(")[0] in _TEXTS:
            # A column as text: the backends write some types' values differently.
            spotted = _spot(binder, self.args[0], "text")
            if spotted is not self.args[0]:
                self = copy(self)
                self.args = [spotted]
        elif logical in ("integer", "bigint", "decimal", "float") and compiler.typed_spots:
            return _typed_call(binder, self, "cast", kwargs)
    elif name == "ABS" and len(self.args) == 1 and compiler.typed_spots:
        return _typed_call(binder, self, "negative", kwargs)
    if name != self.name.upper():
        renamed = copy(self)
        renamed.name = name
    else:
        renamed = self
    if result is None:
        return str(original(renamed, **kwargs))
    sql = str(original(renamed, **{**kwargs, "with_alias": False}))
    if common is not None:
        binder.fill(common, _common_spot(binder, self.args))
    elif binder.spots[result].kind == "reserved":  # an aggregate of an expression
        operand = _operand(binder, self.args[0])
        binder.fill(result, Spot("result", operator=self.name.upper(), operands=(operand,)))
    sql = binder.mark(result, "open") + sql + binder.mark(result, "close")
    if kwargs.get("with_alias") and self.alias:
        sql = format_alias_sql(
            sql, self.alias, quote_char=kwargs.get("quote_char"), **_without(kwargs)
        )
    return sql


def _one_type(binder: Binder, branches: Sequence[Any]) -> None:
    """A Param among the branches of a CASE or the arguments of COALESCE meets the first
    column among them: PostgreSQL types it from the other branches."""
    from dualdb.sql.terms import Param  # which imports this module

    column = next((c for c in map(_column, branches) if c is not None), None)
    if column is not None:
        for branch in branches:
            if isinstance(branch, Param):  # (a literal has the type it is written with)
                _meets(binder, branch, column)


@_hook(terms.Case, "get_sql")
def _case_sql(
    binder: Binder, original: Method, self: Any, with_alias: bool = False, **kwargs: Any
) -> str:
    branches = [then for _, then in self._cases] + [self._else] * (self._else is not None)
    _one_type(binder, branches)
    if not binder.dialect.compiler.typed_spots:
        return str(original(self, with_alias=with_alias, **kwargs))
    index = binder.reserve(self)
    sql = str(original(self, with_alias=False, **kwargs))
    binder.fill(index, _common_spot(binder, branches))
    sql = binder.mark(index, "open") + sql + binder.mark(index, "close")
    if with_alias and self.alias:
        sql = format_alias_sql(sql, self.alias, **kwargs)
    return sql


def _common_spot(binder: Binder, branches: Sequence[Any]) -> Spot:
    """The spot of a CASE or COALESCE whose branches PostgreSQL gives one type: written
    so that, when that type is a decimal, it compares and sorts by value (its branches
    rendered already; NULL branches say nothing of the type)."""
    operands = tuple(
        _TEXT_LITERAL if _is_literal(b) and isinstance(b.value, str) else _operand(binder, b)
        for b in branches
        if not _is_none(b)
    )
    return Spot("common", operands=operands)


#: A str literal among the branches of a CASE (see ``_common_spot``): asyncpg takes it
#: for a text, uuid or json branch, and refuses it for a number, boolean, date or bytes.
_TEXT_LITERAL = "str"


# What PyPika writes into the SQL text as it is given, checked: any other text from an
# application's input would be SQL (`fn.Cast(col, user_type)`, a window frame, a CTE name).

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DATE_PART = re.compile(r"[A-Za-z_]+")
_TYPE = re.compile(r"[a-z_][a-z0-9_]*( [a-z_][a-z0-9_]*)*(\(\d+(, ?-?\d+)?\))?( [a-z_]+)*(\[\])*")
_ZONE = re.compile(r"[A-Za-z0-9_+\-/:. ]+")
_FRAME_EDGE = r"(UNBOUNDED PRECEDING|UNBOUNDED FOLLOWING|CURRENT ROW|\d+ PRECEDING|\d+ FOLLOWING)"
_FRAME = re.compile(rf"(ROWS|RANGE) (BETWEEN {_FRAME_EDGE} AND {_FRAME_EDGE}|{_FRAME_EDGE})")
_DATE_PART_FUNCTIONS = frozenset({"EXTRACT", "DATE_ADD", "TIMESTAMPADD", "DATEDIFF", "DATE_DIFF"})


def _check_written(text: str, pattern: re.Pattern[str], what: str) -> None:
    """Refuse ``text``, which PyPika writes into the SQL as it is, unless it is what
    ``pattern`` allows: it may come from input, and would then be SQL."""
    if not isinstance(text, str) or not pattern.fullmatch(text):
        shown = repr(text)[:60]
        raise QueryError(
            f"{what} must match {pattern.pattern!r}, got {shown}: PyPika writes it into the "
            "SQL as it is, so dualdb takes only a plain name"
        )


@_hook(terms.Interval, "get_sql")
def _interval_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    for unit in ("quarters", "weeks"):  # (PyPika makes the other units ints itself)
        value = getattr(self, unit, None)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise QueryError(f"an Interval's {unit} must be an int, got {type(value).__name__}")
    return str(original(self, **kwargs))


@_hook(terms.AtTimezone, "get_sql")
def _at_timezone_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    _check_written(self.zone, _ZONE, "a time zone")
    return str(original(self, **kwargs))


@_hook(terms.AnalyticFunction, "get_partition_sql")
def _partition_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    for term in self._partition:
        if not isinstance(term, terms.Term):
            raise QueryError(
                f"a window's PARTITION BY takes columns (t.col), got {type(term).__name__}: "
                "PyPika would write a str into the SQL as it is"
            )
    return str(original(self, **kwargs))


@_hook(terms.WindowFrameAnalyticFunction, "get_frame_sql")
def _frame_sql(binder: Binder, original: Method, self: Any) -> str:
    sql = str(original(self))
    _check_written(sql, _FRAME, "a window frame")
    return sql


@_hook(terms.Parameter, "get_sql")
def _parameter_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    raise QueryError(
        "PyPika's Parameter writes its placeholder text into the SQL: use dualdb.Param(name)"
    )


@_hook(AliasedQuery, "get_sql")
def _aliased_query_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    _check_written(self.name, _WORD, "a CTE name")
    return str(original(self, **kwargs))


@_hook(QueryBuilder, "_with_sql")
def _with_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    for clause in self._with:
        _check_written(clause.name, _WORD, "a CTE name")
    return str(original(self, **kwargs))


@_hook(JoinOn, "get_sql")
def _join_on_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    if self.collate:
        _check_written(self.collate, _WORD, "a join's collation")
    return _in_part(binder, "from", lambda: original(self, **kwargs))


@_hook(QueryBuilder, "_from_sql")
def _from_sql(binder: Binder, original: Method, self: Any, *args: Any, **kwargs: Any) -> str:
    return _in_part(binder, "from", lambda: original(self, *args, **kwargs))


@_hook(QueryBuilder, "get_sql")
def _query_sql(binder: Binder, original: Method, self: Any, *args: Any, **kwargs: Any) -> str:
    """A query, counted for the order PostgreSQL types parameters in (``TYPING``): each
    top-level one (a UNION's member) in turn, each of its parts by ``_in_part``."""
    binder.depth += 1
    if binder.depth == 1:
        binder.member += 1
        binder.phase = TYPING["rest"]
    try:
        return str(original(self, *args, **kwargs))
    finally:
        binder.depth -= 1


def _in_part(binder: Binder, part: str, render: Callable[[], Any]) -> str:
    """``render()`` as the ``part`` of a top-level query (see ``TYPING``)."""
    if binder.depth != 1:
        return str(render())
    outer, binder.phase = binder.phase, TYPING[part]
    try:
        return str(render())
    finally:
        binder.phase = outer


def _typed_call(binder: Binder, function: Any, kind: str, kwargs: dict[str, Any]) -> str:
    """A CAST to a number (``kind`` "cast") or ABS (``kind`` "negative") of one
    argument, as a spot the driver writes by the argument's type."""
    index = binder.reserve(function)
    argument = function.args[0]
    sql = str(argument.get_sql(**{**kwargs, "with_alias": False}))
    operand = _operand(binder, argument)
    if kind == "cast":
        spot = Spot("cast", operator=cast_type(function.as_type).upper(), operands=(operand,))
    else:
        spot = Spot("negative", operator="ABS", operands=("value", operand))
    binder.fill(index, spot)
    sql = binder.mark(index, "open") + sql + binder.mark(index, "close")
    if kwargs.get("with_alias") and function.alias:
        sql = format_alias_sql(
            sql, function.alias, quote_char=kwargs.get("quote_char"), **_without(kwargs)
        )
    return sql


#: The logical type of the value of a CAST to each type.
_CAST_LOGICAL = {
    "smallint": "integer",
    "int2": "integer",
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "bigint": "bigint",
    "int8": "bigint",
    "numeric": "decimal",
    "decimal": "decimal",
    "double precision": "float",
    "float8": "float",
    "float": "float",
    "real": "float",
    "float4": "float",
    "text": "text",
    "varchar": "text",
    "boolean": "boolean",
    "bool": "boolean",
    "uuid": "uuid",
    "date": "date",
    "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz",
    "jsonb": "json",
    "json": "json",
    "bytea": "bytes",
}


def _result_spot(binder: Binder, function: Any) -> int | None:
    """The spot of an aggregate of one column or expression whose result may be decimal
    text (SUM, AVG, MIN, MAX): written so that it compares and sorts by value (in HAVING,
    ORDER BY) where it is, or None. An expression's spot is filled once it is rendered."""
    if not binder.dialect.compiler.typed_spots or len(function.args) != 1:
        return None
    if function.name.upper() not in ("SUM", "AVG", "MIN", "MAX"):
        return None
    argument = function.args[0]
    target = _column(argument)
    if target is None and not _is_expression(argument):
        return None
    index = binder.reserve(function)
    if target is not None:
        binder.fill(index, Spot("result", target, operator=function.name.upper()))
    return index


@_hook(terms.AnalyticFunction, "_orderby_field")
def _window_orderby_sql(
    binder: Binder, original: Method, self: Any, field: Any, orient: Any, **kwargs: Any
) -> str:
    orient = _order(orient)
    field = _spot(binder, field)  # a decimal column in the window's order, by value
    return str(original(self, field, orient, **kwargs)) + binder.dialect.compiler.nulls(orient)


class _Divisor(terms.Term):
    """The right operand of a division, as the compiler writes a divisor: with the
    dividend rendered again after it (its placeholders bound again, in text order)."""

    def __init__(self, term: Any, dividend: Any, compiler: Compiler) -> None:
        super().__init__()
        self.term = term
        self.dividend = dividend
        self.compiler = compiler

    def get_sql(self, **kwargs: Any) -> str:
        sql = str(self.term.get_sql(**kwargs))
        dividend = str(self.dividend.get_sql(**kwargs))
        return self.compiler.divisor(sql, dividend) or sql


@_hook(terms.ArithmeticExpression, "get_sql")
def _arithmetic_sql(
    binder: Binder, original: Method, self: Any, with_alias: bool = False, **kwargs: Any
) -> str:
    """PyPika's ``ArithmeticExpression.get_sql``, with two changes: a compound right
    operand is always in parentheses (PyPika writes ``0 + (0 + price)`` as ``0+0+price``,
    where PostgreSQL cannot type the two parameters added first); and, where the compiler
    asks (``typed_spots``), the expression is marked as a spot in three parts (before,
    the operator, after) for the driver to write by its operands' types."""
    from dualdb.sql.terms import Param  # which imports this module

    compiler = binder.dialect.compiler
    typed = compiler.typed_spots
    index = binder.reserve(self) if typed else 0

    def typed_as(term: Any, value: Any) -> Target | None:
        if isinstance(term, terms.ArithmeticExpression):
            return Target(None, None, expression=binder.reserve(term) if typed else -1)
        column = _column(term)
        if column is not None and typed:
            # The column, and this expression: a Param's type may come from elsewhere.
            return Target(column.table, column.column, expression=index)
        if column is None and isinstance(value, Param) and _is_literal(term):
            # ``:k + 1``: PostgreSQL types the parameter as the literal (an integer).
            literal = literal_type(term.value)
            return Target(None, None, literal) if literal else None
        return column

    # A bound operand takes the other operand's type, as PostgreSQL types a parameter.
    _meets(binder, self.right, typed_as(self.left, self.right))
    _meets(binder, self.left, typed_as(self.right, self.left))
    operator = self.operator
    right = self.right
    if operator is Arithmetic.div and compiler.divisor("", "") is not None:
        right = _Divisor(right, self.left, compiler)
    left_sql = str(self.left.get_sql(**kwargs))
    right_sql = str(right.get_sql(**kwargs))
    if self.left_needs_parens(operator, getattr(self.left, "operator", None)):
        left_sql = f"({left_sql})"
    if (
        getattr(self.right, "operator", None) is not None
        and not (operator is Arithmetic.div and compiler.divisor("", "") is not None)
    ) or isinstance(self.right, terms.Negative):  # (n - -m would start a comment: "--")
        right_sql = f"({right_sql})"
    if typed:
        operands = tuple(_operand(binder, term) for term in (self.left, self.right))
        binder.fill(index, Spot("arithmetic", operator=operator.value, operands=operands))
        sql = (
            binder.mark(index, "open")
            + left_sql
            + binder.mark(index, "op")
            + right_sql
            + binder.mark(index, "close")
        )
    else:
        sql = f"{left_sql}{operator.value}{right_sql}"
    if with_alias:
        return format_alias_sql(sql, self.alias, **kwargs)
    return sql


@_hook(terms.Negative, "get_sql")
def _negative_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    """``-x`` with its alias, and, where the compiler asks, as a spot the driver writes by
    x's type (exact over decimals, checked for overflow over integers)."""
    with_alias = kwargs.pop("with_alias", False)
    if not binder.dialect.compiler.typed_spots:
        # In parentheses: PyPika writes -(n - m) as "-n-m", and -(-n) as "--n", which
        # starts a comment.
        sql = f"-({self.term.get_sql(**kwargs)})"
    else:
        index = binder.reserve(self)
        sql = str(self.term.get_sql(**kwargs))
        operands = ("value", _operand(binder, self.term))
        binder.fill(index, Spot("negative", operator="-", operands=operands))
        sql = binder.mark(index, "open") + sql + binder.mark(index, "close")
    if with_alias and self.alias:  # (PyPika's own drops a negation's alias)
        return format_alias_sql(sql, self.alias, **kwargs)
    return sql


def _operand(binder: Binder, term: Any) -> Operand:
    """What an arithmetic operand is (see ``Operand``); its SQL is rendered already."""
    target = _column(term)
    if target is not None:
        return target
    nested = binder.spot_of.get(id(term))
    if nested is not None:
        return nested
    from dualdb.sql.terms import Param  # which imports this module

    if isinstance(term, Param):
        return f":{term.name}"
    if isinstance(term, fn.Cast) and cast_type(term.as_type).split("(")[0] in _TEXTS:
        return _CAST_TEXT
    if _is_literal(term) and not binder.expects(term):
        # Nothing typed it: the type PostgreSQL gives it as written (Compiler.literal).
        literal = literal_type(getattr(term, "value", None))
        return Target(None, None, literal) if literal else "value"
    if _is_bound(term):
        return "value"
    if isinstance(term, fn.Count):
        return _COUNTED
    return None


#: What a CAST to text is.
_CAST_TEXT = Target(None, None, "text")

#: What COUNT() computes.
_COUNTED = Target(None, None, "bigint")


@_hook(QueryBuilder, "_select_sql")
def _select_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    return _in_part(binder, "select", lambda: _select_list_sql(binder, original, self, **kwargs))


def _select_list_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    compiler = binder.dialect.compiler
    distinct = compiler.typed_spots and self._distinct
    from dualdb.sql.terms import Param  # which imports this module

    selects = list(self._selects)
    if compiler.names_expressions:
        selects = [_named(term) for term in selects]
    else:  # a literal written with its type (``Compiler.literal``) keeps its name
        selects = [_named(term) if _is_literal(term) else term for term in selects]
    typed = _params_within(selects) if not binder.set_members else None
    for term in selects:
        if typed is not None and isinstance(term, Param) and term.name not in typed:
            # Nothing types it but the select list, where PostgreSQL makes it text (unless
            # another term of the list types it, or it is a UNION's, typed by the others).
            _meets(binder, term, SELECTED_VALUE)
    if not distinct and all(a is b for a, b in zip(selects, self._selects, strict=True)):
        return str(original(self, **kwargs))
    if distinct:
        # DISTINCT compares decimals by value (9.0 and 9.00 are one row), as on
        # PostgreSQL; the column keeps its name.
        selects = [_distinct_column(binder, term) for term in selects]
    named = copy(self)
    named._selects = selects
    return str(original(named, **kwargs))


def _params_within(selects: Sequence[Any]) -> set[str]:
    """The names of the Params inside the terms of a select list (not alone)."""
    from dualdb.sql.terms import Param  # which imports this module

    names: set[str] = set()
    for term in selects:
        if isinstance(term, Param) or not hasattr(term, "nodes_"):
            continue
        names.update(node.name for node in term.nodes_() if isinstance(node, Param))
    return names


def _is_literal(term: Any) -> bool:
    return type(term) is terms.ValueWrapper and not isinstance(term.value, terms.Term)


def _distinct_column(binder: Binder, term: Any) -> Any:
    spotted = _spot(binder, term)
    if spotted is not term:
        spotted.alias = term.alias or term.name
    return spotted


def _named(term: Any) -> Any:
    """``term``, aliased with the name PostgreSQL gives it if it has none and is an
    expression whose name the backend would write differently."""
    if term.alias is not None or isinstance(term, terms.Field | terms.Star):
        return term
    name = postgres_name(term)
    if name is None:
        return term
    named = copy(term)
    named.alias = name
    return named


def postgres_name(term: Any) -> str | None:
    """The name PostgreSQL gives a select-list term without an alias (its parser's
    ``FigureColname``), or None where dualdb does not know it."""
    name, _ = _figure_name(term)
    return name


def _figure_name(term: Any) -> tuple[str | None, int]:
    """(name, strength), as ``FigureColnameInternal``: 2 for a column's or function's
    name, 1 for a fallback ("case", a type name), 0 for "?column?"."""
    if term.alias is not None:
        return term.alias, 2
    if isinstance(term, terms.Field):
        return term.name, 2
    if isinstance(term, fn.Cast):
        name, strength = _figure_name(term.args[0]) if term.args else (None, 0)
        if strength > 1:
            return name, strength
        return _TYPE_NAMES.get(str(term.as_type).lower().split("(")[0].strip()), 1
    if isinstance(term, terms.Case):
        name, strength = (None, 0) if term._else is None else _figure_name(term._else)
        return (name, strength) if strength > 1 else ("case", 1)
    if isinstance(term, terms.ExistsCriterion):
        return "exists", 2
    if isinstance(term, terms.Function):
        return term.name.lower(), 2
    if isinstance(term, QueryBuilder):  # a scalar subquery: its column's name
        return _figure_name(term._selects[0]) if len(term._selects) == 1 else (None, 0)
    if isinstance(term, terms.Term):
        return "?column?", 0
    return None, 0


#: The types a CAST to text is written with.
_TEXTS = frozenset({"text", "varchar", "character varying", "char", "character"})

#: PostgreSQL's own names of the types a CAST is written with (a cast's column name).
_TYPE_NAMES = {
    "bigint": "int8",
    "int8": "int8",
    "integer": "int4",
    "int": "int4",
    "int4": "int4",
    "smallint": "int2",
    "int2": "int2",
    "double precision": "float8",
    "float8": "float8",
    "float": "float8",
    "real": "float4",
    "float4": "float4",
    "numeric": "numeric",
    "decimal": "numeric",
    "boolean": "bool",
    "bool": "bool",
    "text": "text",
    "varchar": "varchar",
    "character varying": "varchar",
    "uuid": "uuid",
    "date": "date",
    "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz",
    "timestamp": "timestamp",
    "json": "json",
    "jsonb": "jsonb",
    "bytea": "bytea",
}


@_hook(PostgreSQLQueryBuilder, "_returning_sql")
def _returning_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    # PyPika's own loop, with a qualified star as the compiler writes it.
    compiler = binder.dialect.compiler
    returning = []
    for term in self._returns:
        if compiler.names_expressions:
            term = _named(term)
        sql = term.get_sql(with_alias=True, **kwargs)
        if isinstance(term, terms.Star) and term.table is not None:
            sql = compiler.returning_star(sql)
        returning.append(sql)
    return " RETURNING " + ",".join(returning)


@_hook(terms.Mod, "get_function_sql")
def _mod_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    # PyPika's own rendering of the operands (Function.get_function_sql).
    compiler = binder.dialect.compiler
    if len(self.args) == 2:  # a bound operand takes the other's type, as in arithmetic
        _meets(binder, self.args[1], _column(self.args[0]))
        _meets(binder, self.args[0], _column(self.args[1]))
    left, right = (
        _spot(binder, arg, "no decimal").get_sql(with_alias=False, subquery=True, **kwargs)
        for arg in self.args
    )
    if compiler.divisor("", "") is not None:
        dividend = self.args[0].get_sql(with_alias=False, subquery=True, **kwargs)
        right = compiler.divisor(right, dividend) or right
    checks = ""
    if compiler.typed_spots:
        # An expression (a CAST, arithmetic) must be no decimal or float either.
        for arg in self.args:
            operand = _operand(binder, arg)
            if isinstance(operand, int):
                binder.spots.append(Spot("no decimal", operands=(operand,)))
                checks += binder.mark(len(binder.spots) - 1, "after")
    return compiler.modulo(left, right) + checks


# Builder-level rendering: what dualdb's builders' overrides call, and what the hooks
# below call for builders that are not dualdb's.


def orderby_sql(
    compiler: Compiler,
    query: Any,
    quote_char: str | None = None,
    alias_quote_char: str | None = None,
    orderby_alias: bool = True,
    **kwargs: Any,
) -> str:
    """A SELECT's ORDER BY clause (``QueryBuilder._orderby_sql``)."""
    aliases = {s.alias for s in query._selects}
    orderbys = [(_twin(term, query._selects), order) for term, order in query._orderbys]
    return _orderby_clauses(
        compiler, orderbys, aliases, quote_char, alias_quote_char, orderby_alias, **kwargs
    )


def set_orderby_sql(
    compiler: Compiler, query: Any, quote_char: str | None = None, **kwargs: Any
) -> str:
    """A set operation's ORDER BY clause (``_SetOperation._orderby_sql``)."""
    aliases = {s.alias for s in query.base_query._selects}
    return _orderby_clauses(compiler, query._orderbys, aliases, quote_char, None, True, **kwargs)


def _orderby_clauses(
    compiler: Compiler,
    orderbys: Iterable[tuple[Any, Order | None]],
    aliases: set[Any],
    quote_char: str | None,
    alias_quote_char: str | None,
    orderby_alias: bool,
    **kwargs: Any,
) -> str:
    # PyPika's own loop, plus the compiler's NULLS suffix.
    clauses = []
    for field, order in orderbys:
        if orderby_alias and field.alias and field.alias in aliases:
            term = format_quotes(field.alias, alias_quote_char or quote_char)
        else:
            term = field.get_sql(quote_char=quote_char, alias_quote_char=alias_quote_char, **kwargs)
            binder = active()
            target = _column(field) if binder is not None else None
            if target is not None:
                assert binder is not None
                term += binder.spot(target, "order")
        order = _order(order)
        direction = f" {order.value}" if order is not None else ""
        clauses.append(f"{term}{direction}{compiler.nulls(order)}")
    return " ORDER BY " + ",".join(clauses)


def _order(order: Any) -> Order | None:
    """``orderby(..., order=)``: an :class:`Order`, or the text "asc"/"desc" (as a web
    request's sort parameter gives it); anything else would be pasted into the SQL."""
    if order is None or isinstance(order, Order):
        return order
    if isinstance(order, str) and order.lower() in ("asc", "desc"):
        return Order.asc if order.lower() == "asc" else Order.desc
    raise QueryError(f"order must be Order.asc, Order.desc, 'asc' or 'desc'; got {order!r}")


#: What a LIMIT or OFFSET Param meets.
_COUNT = Target(None, None, "bigint")


def _count(value: Any, clause: str) -> str:
    # PyPika formats LIMIT/OFFSET into the SQL text as given: a str from user input
    # ("1; DROP TABLE t", a subquery) would be injected. An int is written as a number,
    # a Param (any PyPika term) is rendered, that is bound; anything else is refused.
    from dualdb.sql.terms import Param  # which imports this module

    if isinstance(value, Param):
        binder = active()
        if binder is not None:
            _meets(binder, value, _COUNT)
        return str(value.get_sql(quote_char='"'))
    if not isinstance(value, int) or isinstance(value, bool):
        raise QueryError(f"{clause} must be an int or a Param, got {type(value).__name__}")
    if value < 0:
        raise QueryError(f"{clause} must not be negative")
    return str(int(value))


def limit_sql(compiler: Compiler, query: Any) -> str:
    return compiler.limit(_count(query._limit, "LIMIT"))


def offset_sql(compiler: Compiler, query: Any) -> str:
    # PyPika renders OFFSET right after LIMIT, or alone when there is no LIMIT.
    return compiler.offset(_count(query._offset, "OFFSET"), limited=query._limit is not None)


def check_distinct(compiler: Compiler, query: Any) -> None:
    if query._distinct_on:
        compiler.check_construct("DISTINCT ON")


def set_operation_sql(compiler: Compiler, query: Any, render: Callable[[Any], str]) -> str:
    """A UNION/INTERSECT/EXCEPT as ``render`` (PyPika's ``_SetOperation.get_sql``) writes
    it, with its members bare if the compiler says so."""
    members = [query.base_query, *(member for _, member in query._set_operation)]
    binder = active()
    if binder is not None:  # a Param alone in a member's select list takes the others' type
        binder.set_members += 1
    try:
        if compiler.parenthesize_set_members(members):
            return render(query)
        # Render a copy whose first query asks for unparenthesized members.
        bare = copy(query)
        bare.base_query = copy(compiler.bare_set_member(query.base_query))
        bare.base_query.wrap_set_operation_queries = False
        bare._set_operation = [(op, compiler.bare_set_member(m)) for op, m in query._set_operation]
        return render(bare)
    finally:
        if binder is not None:
            binder.set_members -= 1


# The same for builders that are not dualdb's (PyPika's own, e.g. from Table.select()).


@_hook(PostgreSQLQueryBuilder, "_distinct_sql", builder=True)
def _distinct_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    check_distinct(binder.dialect.compiler, self)
    return str(original(self, **kwargs))


@_hook(PostgreSQLQueryBuilder, "_for_update_sql", builder=True)
def _for_update_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    return binder.dialect.compiler.for_update(str(original(self, **kwargs)))


@_hook(QueryBuilder, "_orderby_sql", builder=True)
def _orderby_sql(
    binder: Binder,
    original: Method,
    self: Any,
    quote_char: str | None = None,
    alias_quote_char: str | None = None,
    orderby_alias: bool = True,
    **kwargs: Any,
) -> str:
    return orderby_sql(
        binder.dialect.compiler, self, quote_char, alias_quote_char, orderby_alias, **kwargs
    )


@_hook(_SetOperation, "_orderby_sql", builder=True)
def _set_orderby_sql(
    binder: Binder, original: Method, self: Any, quote_char: str | None = None, **kwargs: Any
) -> str:
    return set_orderby_sql(binder.dialect.compiler, self, quote_char, **kwargs)


@_hook(QueryBuilder, "_group_sql")
def _group_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    # PyPika's own, with each column grouped by marked (``_spot``): decimals that are
    # equal by value (9.0, 9.00) are one group, as on PostgreSQL; and each expression
    # written as one of the select list's is that one (``_twin``).
    grouped_by = [_spot(binder, _twin(term, self._selects)) for term in self._groupbys]
    if all(new is old for new, old in zip(grouped_by, self._groupbys, strict=True)):
        return str(original(self, **kwargs))
    grouped = copy(self)
    grouped._groupbys = grouped_by
    return str(original(grouped, **kwargs))


def _twin(term: Any, selects: Sequence[Any]) -> Any:
    """The select list's expression written as ``term`` is (another object with the
    same text, without its alias), or ``term``: rendered from the same objects, both
    share their placeholders, and PostgreSQL, which matches a GROUP BY or ORDER BY
    expression to the select list by its text, sees one expression."""
    if isinstance(term, terms.Field | terms.Star) or not selects:
        return term
    text = _plain_sql(term)
    for selected in selects:
        if selected is term:
            return term
        if isinstance(selected, terms.Field | terms.Star):
            continue
        if _plain_sql(selected) == text:
            if selected.alias is None:
                return selected
            # (Not by its alias: PostgreSQL reads a GROUP BY name as a column first.)
            twin = copy(selected)
            twin.alias = None
            return twin
    return term


def _plain_sql(term: Any) -> str:
    """``term`` as PyPika writes it, values inline: its text, to compare."""
    previous = active()
    set_active(None)
    try:
        return str(term.get_sql(quote_char='"', with_alias=False))
    finally:
        set_active(previous)


@_hook(QueryBuilder, "_limit_sql", builder=True)
@_hook(_SetOperation, "_limit_sql", builder=True)
def _limit_sql(binder: Binder, original: Method, self: Any) -> str:
    return limit_sql(binder.dialect.compiler, self)


@_hook(QueryBuilder, "_offset_sql", builder=True)
@_hook(_SetOperation, "_offset_sql", builder=True)
def _offset_sql(binder: Binder, original: Method, self: Any) -> str:
    return offset_sql(binder.dialect.compiler, self)


@_hook(_SetOperation, "get_sql", builder=True)
def _set_operation_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    return set_operation_sql(
        binder.dialect.compiler, self, lambda query: str(original(query, **kwargs))
    )
