"""Render-time hooks into PyPika, active only while dualdb compiles a query.

PyPika's own parameter support turns values into strings before handing them over
(datetimes and UUIDs become ISO text, ``None`` becomes ``'null'``, dicts their ``repr``),
so the driver would no longer receive typed values. dualdb therefore wraps a handful of
PyPika's ``get_sql`` methods. Each wrapper first checks a thread-local *binder*; with none
active (any PyPika use outside dualdb) it calls the original method unchanged. With one
active it:

- binds every literal value as a placeholder and keeps the original Python object;
- renders ``col == None`` / ``col != None`` as ``IS NULL`` / ``IS NOT NULL``;
- renders ``x IN ()`` (an empty list) as a false condition, which PostgreSQL would reject;
- adds ``ESCAPE '\\'`` to every LIKE, so both backends escape alike;
- spells out where NULLs sort when the dialect's default differs from PostgreSQL's
  (NULLs last ascending, first descending), and renders ``%`` as the integer remainder;
- accepts only non-negative ``int`` LIMIT/OFFSET: PyPika pastes them into the text;
- asks the dialect about constructs it may not support (ILIKE, regex, DISTINCT ON,
  functions), raising :class:`~dualdb.errors.UnsupportedFeature` before anything runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from copy import copy
from typing import TYPE_CHECKING, Any, TypeVar

from pypika import terms
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.enums import Equality, Matching, Order
from pypika.queries import QueryBuilder, _SetOperation
from pypika.utils import format_alias_sql, format_quotes

from dualdb.errors import QueryError

if TYPE_CHECKING:
    from dualdb.sql.compile import Binder

_state = threading.local()


def active() -> Binder | None:
    """The binder of the compilation running in this thread, if any."""
    binder: Binder | None = getattr(_state, "binder", None)
    return binder


def set_active(binder: Binder | None) -> None:
    _state.binder = binder


Method = Callable[..., str]
_Replacement = TypeVar("_Replacement", bound=Callable[..., str])


def _hook(cls: type, name: str) -> Callable[[_Replacement], _Replacement]:
    """Replace ``cls.name`` by a wrapper that defers to the original when no binder is active.

    Returns the replacement unchanged, so one function can be hooked onto several classes.
    """

    original: Method = getattr(cls, name)

    def install(replacement: _Replacement) -> _Replacement:
        def method(self: Any, *args: Any, **kwargs: Any) -> str:
            binder = getattr(_state, "binder", None)
            if binder is None:
                return original(self, *args, **kwargs)
            return replacement(binder, original, self, *args, **kwargs)

        method.__wrapped__ = original  # type: ignore[attr-defined]
        method.__doc__ = original.__doc__
        setattr(cls, name, method)
        return replacement

    return install


@_hook(terms.ValueWrapper, "get_sql")
def _value_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    value = self.value
    if isinstance(value, terms.Term):
        return original(self, **kwargs)
    sql = binder.bind_value(value)
    if kwargs.get("with_alias") and self.alias:
        return format_alias_sql(sql, self.alias, quote_char=kwargs.get("quote_char"))
    return sql


def _is_none(term: Any) -> bool:
    return isinstance(term, terms.NullValue) or (
        type(term) is terms.ValueWrapper and term.value is None
    )


@_hook(terms.BasicCriterion, "get_sql")
def _criterion_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    comparator = self.comparator
    if comparator in (Equality.eq, Equality.ne) and (_is_none(self.right) or _is_none(self.left)):
        subject = self.left if _is_none(self.right) else self.right
        test = " IS NULL" if comparator is Equality.eq else " IS NOT NULL"
        quote = kwargs.get("quote_char", binder.dialect.quote_char)
        sql: str = subject.get_sql(quote_char=quote, **_without(kwargs))
        return sql + test
    if isinstance(comparator, Matching):
        binder.dialect.check_matching(comparator)
        if comparator in (Matching.like, Matching.not_like):
            return str(original(self, **kwargs)) + " ESCAPE '\\'"
    return str(original(self, **kwargs))


def _without(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    drop = {"quote_char", "with_alias", *names}
    return {k: v for k, v in kwargs.items() if k not in drop}


@_hook(terms.ContainsCriterion, "get_sql")
def _contains_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    container = self.container
    if isinstance(container, terms.Tuple) and not container.values:
        # "x IN ()" is a syntax error on PostgreSQL and false on SQLite: render its meaning.
        return "1=1" if self._is_negated else "1=0"
    return str(original(self, **kwargs))


@_hook(terms.Function, "get_sql")
def _function_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    binder.dialect.check_function(self.name)
    return str(original(self, **kwargs))


@_hook(PostgreSQLQueryBuilder, "_distinct_sql")
def _distinct_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    if self._distinct_on:
        binder.dialect.check_construct("DISTINCT ON")
    return str(original(self, **kwargs))


@_hook(PostgreSQLQueryBuilder, "_for_update_sql")
def _for_update_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    if self._for_update and not binder.dialect.supports_for_update:
        # SQLite locks the whole database for a write transaction (dualdb begins them
        # IMMEDIATE), which already gives FOR UPDATE's guarantee; the clause is dropped.
        return ""
    return str(original(self, **kwargs))


def _nulls(binder: Binder, order: Order | None) -> str:
    """The NULLS FIRST/LAST suffix this dialect needs to sort NULLs as PostgreSQL does."""
    suffixes = binder.dialect.nulls_order
    if suffixes is None:
        return ""
    return suffixes[1] if order is Order.desc else suffixes[0]


def _orderby_clauses(
    binder: Binder,
    orderbys: Any,
    aliases: set[Any],
    quote_char: str | None,
    alias_quote_char: str | None,
    orderby_alias: bool,
    **kwargs: Any,
) -> str:
    # PyPika's own loop (QueryBuilder._orderby_sql), plus the NULLS suffix.
    clauses = []
    for field, order in orderbys:
        if orderby_alias and field.alias and field.alias in aliases:
            term = format_quotes(field.alias, alias_quote_char or quote_char)
        else:
            term = field.get_sql(quote_char=quote_char, alias_quote_char=alias_quote_char, **kwargs)
        direction = f" {order.value}" if order is not None else ""
        clauses.append(f"{term}{direction}{_nulls(binder, order)}")
    return " ORDER BY " + ",".join(clauses)


@_hook(QueryBuilder, "_orderby_sql")
def _orderby_sql(
    binder: Binder,
    original: Method,
    self: Any,
    quote_char: str | None = None,
    alias_quote_char: str | None = None,
    orderby_alias: bool = True,
    **kwargs: Any,
) -> str:
    aliases = {s.alias for s in self._selects}
    return _orderby_clauses(
        binder, self._orderbys, aliases, quote_char, alias_quote_char, orderby_alias, **kwargs
    )


@_hook(_SetOperation, "_orderby_sql")
def _set_orderby_sql(
    binder: Binder, original: Method, self: Any, quote_char: str | None = None, **kwargs: Any
) -> str:
    aliases = {s.alias for s in self.base_query._selects}
    return _orderby_clauses(binder, self._orderbys, aliases, quote_char, None, True, **kwargs)


@_hook(terms.AnalyticFunction, "_orderby_field")
def _window_orderby_sql(
    binder: Binder, original: Method, self: Any, field: Any, orient: Any, **kwargs: Any
) -> str:
    return str(original(self, field, orient, **kwargs)) + _nulls(binder, orient)


def _count(value: Any, clause: str) -> str:
    # PyPika formats LIMIT/OFFSET into the SQL text as given: a str from user input
    # ("1; DROP TABLE t", a subquery) would be injected. An int is written as a number,
    # a Param (any PyPika term) is rendered, that is bound; anything else is refused.
    if isinstance(value, terms.Term):
        return str(value.get_sql(quote_char='"'))
    if not isinstance(value, int) or isinstance(value, bool):
        raise QueryError(f"{clause} must be an int or a Param, got {type(value).__name__}")
    if value < 0:
        raise QueryError(f"{clause} must not be negative")
    return str(int(value))


@_hook(QueryBuilder, "_limit_sql")
@_hook(_SetOperation, "_limit_sql")
def _limit_sql(binder: Binder, original: Method, self: Any) -> str:
    return f" LIMIT {_count(self._limit, 'LIMIT')}"


@_hook(QueryBuilder, "_offset_sql")
@_hook(_SetOperation, "_offset_sql")
def _offset_sql(binder: Binder, original: Method, self: Any) -> str:
    return _offset(binder, self._limit, self._offset)


def _offset(binder: Binder, limit: Any, offset: Any) -> str:
    # PyPika renders OFFSET right after LIMIT, or alone when there is no LIMIT.
    prefix = binder.dialect.unlimited if limit is None and binder.dialect.unlimited else ""
    return f"{prefix} OFFSET {_count(offset, 'OFFSET')}"


@_hook(_SetOperation, "get_sql")
def _set_operation_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    if binder.dialect.parenthesized_set_operations:
        return str(original(self, **kwargs))
    members = [self.base_query, *(query for _, query in self._set_operation)]
    if any(m._orderbys or m._limit is not None or m._offset for m in members):
        binder.dialect.check_construct("ORDER BY/LIMIT inside a UNION member")
    # Render a copy whose first query asks for unparenthesized members.
    bare = copy(self)
    bare.base_query = copy(self.base_query)
    bare.base_query.wrap_set_operation_queries = False
    return str(original(bare, **kwargs))


@_hook(terms.Mod, "get_function_sql")
def _mod_sql(binder: Binder, original: Method, self: Any, **kwargs: Any) -> str:
    if not binder.dialect.mod_operator:
        return str(original(self, **kwargs))
    # SQLite's MOD() is the floating-point math function (MOD(7, 2) = 1.0); its ``%``
    # is the integer remainder that PostgreSQL's MOD() computes for integers.
    left, right = (arg.get_sql(with_alias=False, subquery=True, **kwargs) for arg in self.args)
    return f"({left} % {right})"
