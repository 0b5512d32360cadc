"""The compiler seam: a dialect's SQL differences are methods a subclass overrides.

These tests need no server: they render with dialects made here, which are never
registered. Golden SQL for the shipped dialects is in tests/core/test_compile.py.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import pytest
from pypika import Query as PyPikaQuery
from pypika import analytics as an
from pypika.enums import Order

from dualdb import Query, Table, UnsupportedFeature
from dualdb.dialects import dialect_names, get_dialect
from dualdb.dialects.base import Compiler
from dualdb.dialects.postgres import PostgresDialect
from dualdb.dialects.postgres.compiler import PostgresCompiler
from dualdb.dialects.sqlite import SQLiteDialect
from dualdb.dialects.sqlite.compiler import SQLiteCompiler
from dualdb.sql.compile import compile_query

users = Table("users")


class _NullsFirstCompiler(SQLiteCompiler):
    """SQLite as it sorts by itself: NULLs first ascending."""

    __slots__ = ()

    def nulls(self, order: Order | None) -> str:
        return ""


class _NullsFirstSQLite(SQLiteDialect):
    name = "sqlite_nulls_first"
    compiler = _NullsFirstCompiler(name)


class _NullsLastCompiler(PostgresCompiler):
    __slots__ = ()

    def nulls(self, order: Order | None) -> str:
        return " NULLS LAST"


class _NullsLastPostgres(PostgresDialect):
    name = "postgresql_nulls_last"
    compiler = _NullsLastCompiler(name)


class _ModFunctionCompiler(SQLiteCompiler):
    __slots__ = ()

    def modulo(self, left: str, right: str) -> str:
        return Compiler.modulo(self, left, right)


class _ModFunctionSQLite(SQLiteDialect):
    name = "sqlite_mod_function"
    compiler = _ModFunctionCompiler(name)


class _NoDistinctOnCompiler(PostgresCompiler):
    __slots__ = ()

    unsupported_constructs: ClassVar[dict[str, str]] = {"DISTINCT ON": "use GROUP BY"}


class _NoDistinctOnPostgres(PostgresDialect):
    name = "postgresql_no_distinct_on"
    compiler = _NoDistinctOnCompiler(name)


def test_overriding_nulls_changes_every_order_by_the_dialect_renders() -> None:
    query = Query.from_(users).select(users.id).orderby(users.name, order=Order.desc)
    assert compile_query(query, get_dialect("sqlite")).sql.endswith(
        "ORDER BY `name` DESC NULLS FIRST"
    )
    assert compile_query(query, _NullsFirstSQLite()).sql.endswith("ORDER BY `name` DESC")

    union = Query.from_(users).select(users.id) + Query.from_(users).select(users.id)
    assert compile_query(union.orderby(users.id), _NullsFirstSQLite()).sql.endswith("ORDER BY `id`")
    window = Query.from_(users).select(an.RowNumber().orderby(users.id).as_("r"))
    assert compile_query(window, _NullsFirstSQLite()).sql == (
        'SELECT ROW_NUMBER() OVER(ORDER BY `id`) "r" FROM `users`'
    )


def test_builders_made_with_plain_pypika_render_through_the_same_compiler() -> None:
    # PyPika's own builder (Table.select() makes one) is not dualdb's: global hooks
    # render its clauses, calling the same compiler methods.
    query = PyPikaQuery.from_(users).select(users.id).orderby(users.id).offset(2)
    assert compile_query(query, get_dialect("postgresql")).sql == (
        'SELECT "id" FROM "users" ORDER BY "id" OFFSET 2'
    )
    assert compile_query(query, _NullsLastPostgres()).sql == (
        'SELECT "id" FROM "users" ORDER BY "id" NULLS LAST OFFSET 2'
    )


def test_overriding_modulo_changes_how_percent_renders() -> None:
    query = Query.from_(users).select((users.n % 2).as_("r"))
    assert compile_query(query, get_dialect("sqlite")).sql == (
        'SELECT (`n` % dualdb_nonzero(?, `n`)) "r" FROM `users`'
    )
    assert compile_query(query, _ModFunctionSQLite()).sql == (
        'SELECT MOD(`n`,dualdb_nonzero(?, `n`)) "r" FROM `users`'
    )


def test_a_construct_the_compiler_lists_is_refused_naming_its_dialect() -> None:
    query = cast(Any, Query.from_(users)).distinct_on(users.email).select(users.id)
    assert "DISTINCT ON" in compile_query(query, get_dialect("postgresql")).sql
    with pytest.raises(UnsupportedFeature, match=r"DISTINCT ON.*postgresql_no_distinct_on"):
        compile_query(query, _NoDistinctOnPostgres())


def test_every_registered_dialect_has_a_compiler_for_its_name() -> None:
    for name in dialect_names():
        compiler = get_dialect(name).compiler
        assert isinstance(compiler, Compiler)
        assert compiler.dialect == name
