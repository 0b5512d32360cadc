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
- asks the dialect about constructs it may not support (ILIKE, regex, DISTINCT ON,
  functions), raising :class:`~dualdb.errors.UnsupportedFeature` before anything runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pypika import terms
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.enums import Equality, Matching
from pypika.utils import format_alias_sql

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


def _hook(cls: type, name: str) -> Callable[[Callable[..., str]], None]:
    """Replace ``cls.name`` by a wrapper that defers to the original when no binder is active."""

    original: Method = getattr(cls, name)

    def install(replacement: Callable[..., str]) -> None:
        def method(self: Any, *args: Any, **kwargs: Any) -> str:
            binder = getattr(_state, "binder", None)
            if binder is None:
                return original(self, *args, **kwargs)
            return replacement(binder, original, self, *args, **kwargs)

        method.__wrapped__ = original  # type: ignore[attr-defined]
        method.__doc__ = original.__doc__
        setattr(cls, name, method)

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
        sql: str = subject.get_sql(quote_char=kwargs.get("quote_char", '"'), **_without(kwargs))
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
