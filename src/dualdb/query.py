"""``dualdb.Query``: the PyPika builder to start portable queries from.

It is PyPika's PostgreSQL builder, whose text (double-quoted identifiers,
``ON CONFLICT … DO UPDATE``, ``RETURNING``) SQLite ≥ 3.35 also runs. Where a backend
writes a clause differently, or cannot run it, the builder asks the dialect's
:class:`~dualdb.dialects.base.Compiler` while dualdb compiles the query; rendered any
other way (``str(query)``) it writes what PyPika writes.
"""

from __future__ import annotations

from copy import copy
from typing import TYPE_CHECKING, Any

from pypika import PostgreSQLQuery
from pypika.dialects import PostgreSQLQueryBuilder
from pypika.enums import SetOperation
from pypika.queries import _SetOperation as _PyPikaSetOperation
from pypika.utils import builder

from dualdb.sql import _render

if TYPE_CHECKING:
    from typing import Self

    from pypika.queries import Selectable, Table
    from pypika.terms import EmptyCriterion, Field, Term

__all__ = ["Query"]


@_render.renders_itself
class _Builder(PostgreSQLQueryBuilder):
    """PyPika's PostgreSQL builder, minus its shared-list bug, rendering its clauses
    through the dialect's compiler.

    Each builder method works on a copy of the query, but PyPika's ``__copy__`` leaves
    three lists shared with the original, which later calls append to: two upserts
    derived from one module-level ``INSERT`` would both render
    ``ON CONFLICT ("k","k")`` (which SQLite rejects).
    """

    def __copy__(self) -> _Builder:
        newone: _Builder = super().__copy__()  # type: ignore[assignment]
        newone._on_conflict_fields = copy(self._on_conflict_fields)
        newone._distinct_on = copy(self._distinct_on)
        newone._using = copy(self._using)
        return newone

    # Set operations (and ``+ * -``, which call these) make dualdb's set operation.

    @builder
    def union(self, other: Any) -> _SetOperation:
        return _SetOperation(self, other, SetOperation.union, wrapper_cls=self._wrapper_cls)

    @builder
    def union_all(self, other: Any) -> _SetOperation:
        return _SetOperation(self, other, SetOperation.union_all, wrapper_cls=self._wrapper_cls)

    @builder
    def intersect(self, other: Any) -> _SetOperation:
        return _SetOperation(self, other, SetOperation.intersect, wrapper_cls=self._wrapper_cls)

    @builder
    def except_of(self, other: Any) -> _SetOperation:
        return _SetOperation(self, other, SetOperation.except_of, wrapper_cls=self._wrapper_cls)

    @builder
    def minus(self, other: Any) -> _SetOperation:
        return _SetOperation(self, other, SetOperation.minus, wrapper_cls=self._wrapper_cls)

    # Rendering: the dialect's compiler while dualdb compiles, PyPika's text otherwise.

    def _distinct_sql(self, **kwargs: Any) -> str:
        binder = _render.active()
        if binder is not None:
            _render.check_distinct(binder.dialect.compiler, self)
        return super()._distinct_sql(**kwargs)

    def _for_update_sql(self, **kwargs: Any) -> str:
        clause: str = super()._for_update_sql(**kwargs)
        binder = _render.active()
        return clause if binder is None else binder.dialect.compiler.for_update(clause)

    def _orderby_sql(
        self,
        quote_char: str | None = None,
        alias_quote_char: str | None = None,
        orderby_alias: bool = True,
        **kwargs: Any,
    ) -> str:
        binder = _render.active()
        if binder is None:
            return super()._orderby_sql(
                quote_char=quote_char,
                alias_quote_char=alias_quote_char,
                orderby_alias=orderby_alias,
                **kwargs,
            )
        return _render.orderby_sql(
            binder.dialect.compiler, self, quote_char, alias_quote_char, orderby_alias, **kwargs
        )

    def _limit_sql(self) -> str:
        binder = _render.active()
        if binder is None:
            return super()._limit_sql()
        return _render.limit_sql(binder.dialect.compiler, self)

    def _offset_sql(self) -> str:
        binder = _render.active()
        if binder is None:
            return super()._offset_sql()
        return _render.offset_sql(binder.dialect.compiler, self)

    if TYPE_CHECKING:
        # PyPika's @builder methods are typed with the class they were written in, so a
        # chain (``Query.into(t).columns(...).on_conflict(...)``) lost its type after the
        # first call under mypy. The same methods, typed to return the builder itself;
        # at run time PyPika's own are used.
        def from_(self, selectable: Any) -> Self: ...
        def select(self, *terms: Any) -> Self: ...
        def where(self, criterion: Term | EmptyCriterion) -> Self: ...
        def having(self, criterion: Term | EmptyCriterion) -> Self: ...
        def groupby(self, *terms: str | int | Term) -> Self: ...
        def orderby(self, *fields: Any, **kwargs: Any) -> Self: ...
        def limit(self, limit: int) -> Self: ...
        def offset(self, offset: int) -> Self: ...
        def distinct(self) -> Self: ...
        def distinct_on(self, *fields: str | Term) -> Self: ...
        def for_update(
            self, nowait: bool = False, skip_locked: bool = False, of: tuple[str, ...] = ()
        ) -> Self: ...
        def into(self, table: str | Table) -> Self: ...
        def columns(self, *terms: Any) -> Self: ...
        def insert(self, *terms: Any) -> Self: ...
        def delete(self) -> Self: ...
        def update(self, table: str | Table) -> Self: ...
        def set(self, field: Field | str, value: Any) -> Self: ...
        def on_conflict(self, *target_fields: str | Term) -> Self: ...
        def do_nothing(self) -> Self: ...
        def do_update(self, update_field: str | Field, update_value: Any | None = None) -> Self: ...
        def returning(self, *terms: Any) -> Self: ...


@_render.renders_itself
class _SetOperation(_PyPikaSetOperation):
    """PyPika's UNION/INTERSECT/EXCEPT, rendering through the dialect's compiler."""

    def get_sql(self, with_alias: bool = False, subquery: bool = False, **kwargs: Any) -> str:
        binder = _render.active()
        if binder is None:
            return super().get_sql(with_alias, subquery, **kwargs)
        return _render.set_operation_sql(
            binder.dialect.compiler,
            self,
            lambda query: _PyPikaSetOperation.get_sql(query, with_alias, subquery, **kwargs),
        )

    def _orderby_sql(self, quote_char: str | None = None, **kwargs: Any) -> str:
        binder = _render.active()
        if binder is None:
            return super()._orderby_sql(quote_char=quote_char, **kwargs)
        return _render.set_orderby_sql(binder.dialect.compiler, self, quote_char, **kwargs)

    def _limit_sql(self) -> str:
        binder = _render.active()
        if binder is None:
            return super()._limit_sql()
        return _render.limit_sql(binder.dialect.compiler, self)

    def _offset_sql(self) -> str:
        binder = _render.active()
        if binder is None:
            return super()._offset_sql()
        return _render.offset_sql(binder.dialect.compiler, self)


class Query(PostgreSQLQuery):
    """Start a query: ``Query.from_(users).select(users.id).where(users.email == Param("email"))``.

    Also ``Query.into(t)…on_conflict(t.col).do_update(t.other)…returning(t.id)``,
    ``Query.update(t)``, ``Query.from_(t).delete()``.
    """

    @classmethod
    def _builder(cls, **kwargs: Any) -> _Builder:
        return _Builder(**kwargs)

    if TYPE_CHECKING:
        # (PyPika types these as its base builder: see _Builder's TYPE_CHECKING block)
        @classmethod
        def from_(cls, table: Selectable | str, **kwargs: Any) -> _Builder: ...
        @classmethod
        def into(cls, table: Table | str, **kwargs: Any) -> _Builder: ...
        @classmethod
        def select(cls, *terms: Any, **kwargs: Any) -> _Builder: ...
        @classmethod
        def update(cls, table: str | Table, **kwargs: Any) -> _Builder: ...
        @classmethod
        def with_(cls, table: str | Selectable, name: str, **kwargs: Any) -> _Builder: ...
