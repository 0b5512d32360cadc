"""PyPika → dialect SQL: bound parameters, caching, rewrites and rejected constructs.

Golden SQL per dialect, as Kysely's tests do: the text each backend receives is part of
the contract. These tests need no server; the run-time behaviour of the same queries is
covered on both backends in test_api.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pypika import PostgreSQLQuery
from pypika import analytics as an
from pypika import functions as fn
from pypika.terms import ValueWrapper

from dualdb import Json, Order, Param, Query, QueryError, Table, UnsupportedFeature
from dualdb.dialects import get_dialect
from dualdb.sql.compile import compile_query

users = Table("users")


def sql_of(query: object, dialect: str) -> str:
    return compile_query(query, get_dialect(dialect)).sql


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_params_render_as_each_dialects_placeholder() -> None:
    q = Query.from_(users).select(users.id).where(users.email == Param("email"))
    assert sql_of(q, "sqlite") == "SELECT `id` FROM `users` WHERE `email`=?"
    assert sql_of(q, "postgresql") == 'SELECT "id" FROM "users" WHERE "email"=$1'


def test_repeated_param_reuses_placeholder_on_postgres_only() -> None:
    q = (
        Query.from_(users)
        .select(users.id)
        .where((users.email == Param("v")) | (users.name == Param("v")))
    )
    assert sql_of(q, "postgresql").count("$1") == 2
    compiled = compile_query(q, get_dialect("sqlite"))
    assert compiled.sql.count("?") == 2
    assert list(compiled.arguments({"v": "x"})) == ["x", "x"]


def test_inline_values_are_bound_with_their_python_types(dialect: str) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    uid = uuid.uuid4()
    q = Query.from_(users).select(users.id).where((users.at > when) & (users.id == uid))
    compiled = compile_query(q, get_dialect(dialect))
    assert "2026" not in compiled.sql
    assert compiled.arguments({}) == [when, uid]


def test_hostile_string_value_never_enters_the_sql(dialect: str) -> None:
    hostile = "'; DROP TABLE users; --"
    compiled = compile_query(
        Query.from_(users).select("*").where(users.name == hostile), get_dialect(dialect)
    )
    assert "DROP" not in compiled.sql
    assert compiled.arguments({}) == [hostile]


def test_upsert_with_returning_renders_the_same_text_for_both(dialect: str) -> None:
    q = (
        cast(Any, Query.into(users))
        .columns(users.id, users.email)
        .insert(Param("id"), Param("email"))
        .on_conflict(users.email)
        .do_update(users.email)
        .returning(users.id)
    )
    expected = {
        "sqlite": "INSERT INTO `users` (`id`,`email`) VALUES (?,?) ON CONFLICT (`email`) "
        "DO UPDATE SET `email`=EXCLUDED.`email` RETURNING `id`",
        "postgresql": 'INSERT INTO "users" ("id","email") VALUES ($1,$2) ON CONFLICT ("email") '
        'DO UPDATE SET "email"=EXCLUDED."email" RETURNING "id"',
    }
    assert sql_of(q, dialect) == expected[dialect]


def quoted(name: str, dialect: str) -> str:
    return get_dialect(dialect).quote_char + name + get_dialect(dialect).quote_char


def test_sqlite_backquotes_names_so_a_misspelt_one_is_an_error() -> None:
    """SQLite reads an unknown double-quoted name as a string; never a backquoted one."""
    q = Query.from_(users).select(users.id)
    assert sql_of(q, "sqlite") == "SELECT `id` FROM `users`"
    assert sql_of(q, "postgresql") == 'SELECT "id" FROM "users"'


def test_quote_inside_a_name_is_doubled(dialect: str) -> None:
    q = Query.from_(users).select(users.field('a"b`c'))
    expected = {
        "sqlite": 'SELECT `a"b``c` FROM `users`',
        "postgresql": 'SELECT "a""b`c" FROM "users"',
    }
    assert sql_of(q, dialect) == expected[dialect]


def test_equals_none_renders_is_null(dialect: str) -> None:
    q = Query.from_(users).select(users.id).where(users.deleted_at == None)  # noqa: E711
    assert sql_of(q, dialect).endswith(f"WHERE {quoted('deleted_at', dialect)} IS NULL")


def test_not_equals_none_renders_is_not_null(dialect: str) -> None:
    q = Query.from_(users).select(users.id).where(users.deleted_at != None)  # noqa: E711
    assert sql_of(q, dialect).endswith(f"WHERE {quoted('deleted_at', dialect)} IS NOT NULL")


def test_empty_in_list_is_false_and_empty_not_in_is_true(dialect: str) -> None:
    assert sql_of(Query.from_(users).select(users.id).where(users.id.isin([])), dialect).endswith(
        "WHERE 1=0"
    )
    assert sql_of(Query.from_(users).select(users.id).where(users.id.notin([])), dialect).endswith(
        "WHERE 1=1"
    )


def test_like_always_declares_backslash_escape(dialect: str) -> None:
    q = Query.from_(users).select(users.id).where(users.name.like(cast(str, Param("p"))))
    assert sql_of(q, dialect).endswith(
        "LIKE " + get_dialect(dialect).placeholder(1) + " ESCAPE '\\'"
    )


def test_ilike_is_rejected_on_sqlite_before_running() -> None:
    q = Query.from_(users).select(users.id).where(users.name.ilike("a%"))
    with pytest.raises(UnsupportedFeature) as info:
        sql_of(q, "sqlite")
    assert "ILIKE" in str(info.value) and "sqlite" in str(info.value)
    assert sql_of(q, "postgresql").endswith("ILIKE $1")


def test_distinct_on_is_rejected_on_sqlite() -> None:
    q = cast(Any, Query.from_(users)).distinct_on(users.email).select(users.id)
    with pytest.raises(UnsupportedFeature, match="DISTINCT ON"):
        sql_of(q, "sqlite")
    assert "DISTINCT ON" in sql_of(q, "postgresql")


def test_postgres_only_function_is_rejected_on_sqlite() -> None:
    q = Query.from_(users).select(fn.Function("date_trunc", "day", users.at))
    with pytest.raises(UnsupportedFeature, match="DATE_TRUNC"):
        sql_of(q, "sqlite")


def test_sqlite_only_function_is_rejected_on_postgres() -> None:
    q = Query.from_(users).select(fn.Function("group_concat", users.name))
    with pytest.raises(UnsupportedFeature, match="GROUP_CONCAT"):
        sql_of(q, "postgresql")


def test_for_update_is_dropped_on_sqlite_and_kept_on_postgres() -> None:
    q = Query.from_(users).select(users.id).for_update()
    assert "FOR UPDATE" not in sql_of(q, "sqlite")
    assert sql_of(q, "postgresql").endswith("FOR UPDATE")


def test_compiled_sql_is_cached_on_the_query_object(dialect: str) -> None:
    q = Query.from_(users).select(users.id).where(users.id == Param("id"))
    first = compile_query(q, get_dialect(dialect))
    assert compile_query(q, get_dialect(dialect)) is first


def test_derived_query_does_not_reuse_its_parents_cache(dialect: str) -> None:
    base = Query.from_(users).select(users.id)
    compile_query(base, get_dialect(dialect))
    derived = base.where(users.email == Param("email"))
    assert "WHERE" in sql_of(derived, dialect)
    assert "WHERE" not in sql_of(base, dialect)


def test_missing_param_value_names_it(dialect: str) -> None:
    compiled = compile_query(
        Query.from_(users).select(users.id).where(users.id == Param("id")), get_dialect(dialect)
    )
    with pytest.raises(QueryError, match="no value for Param id"):
        compiled.arguments({})


def test_unexpected_param_value_is_a_typo_guard(dialect: str) -> None:
    compiled = compile_query(
        Query.from_(users).select(users.id).where(users.id == Param("id")), get_dialect(dialect)
    )
    with pytest.raises(QueryError, match="unexpected value"):
        compiled.arguments({"id": 1, "idd": 2})


def test_json_wrapper_is_bound_not_inlined(dialect: str) -> None:
    value = Json({"a": [1, "x"]})
    compiled = compile_query(
        Query.into(users).columns(users.doc).insert(value), get_dialect(dialect)
    )
    assert compiled.arguments({}) == [value]


def test_plain_insert_of_params_is_a_bulk_target(dialect: str) -> None:
    q: Any = Query.into(users).columns(users.id, users.email).insert(Param("id"), Param("email"))
    assert compile_query(q, get_dialect(dialect)).bulk_target == ("users", ("id", "email"))
    upsert = q.on_conflict(users.id).do_nothing()
    assert compile_query(upsert, get_dialect(dialect)).bulk_target is None


def test_param_outside_dualdb_renders_readably() -> None:
    assert str(Query.from_(users).select(users.id).where(users.id == Param("id"))).endswith(
        '"id"=:id'
    )


def test_pypika_outside_dualdb_is_unchanged() -> None:
    q = Query.from_(users).select(users.id).where(users.name == "x")
    assert str(q) == 'SELECT "id" FROM "users" WHERE "name"=\'x\''


def test_param_name_must_be_an_identifier() -> None:
    with pytest.raises(ValueError, match="identifier"):
        Param("not valid")


def test_non_query_is_rejected(dialect: str) -> None:
    with pytest.raises(QueryError, match="PyPika query"):
        compile_query(42, get_dialect(dialect))


# What the dialects' compilers write differently (dualdb/dialects/*/compiler.py).

members = Table("members")


def test_order_by_sorts_nulls_as_postgresql_does_on_both(dialect: str) -> None:
    q = (
        Query.from_(users)
        .select(users.id)
        .orderby(users.name, order=Order.desc)
        .orderby(users.id)
        .orderby(users.at, order=Order.asc)
    )
    expected = {
        "sqlite": "SELECT `id` FROM `users` "
        "ORDER BY `name` DESC NULLS FIRST,`id` NULLS LAST,`at` ASC NULLS LAST",
        "postgresql": 'SELECT "id" FROM "users" ORDER BY "name" DESC,"id","at" ASC',
    }
    assert sql_of(q, dialect) == expected[dialect]


def test_window_order_by_sorts_nulls_as_postgresql_does_on_both(dialect: str) -> None:
    q = Query.from_(users).select(an.RowNumber().orderby(users.at, order=Order.desc))
    expected = {
        # (aliased with the name PostgreSQL gives it: see test_diff_names.py)
        "sqlite": 'SELECT ROW_NUMBER() OVER(ORDER BY `at` DESC NULLS FIRST) "row_number" '
        "FROM `users`",
        "postgresql": 'SELECT ROW_NUMBER() OVER(ORDER BY "at" DESC) FROM "users"',
    }
    assert sql_of(q, dialect) == expected[dialect]


def test_offset_without_limit_gets_an_unbounded_limit_on_sqlite(dialect: str) -> None:
    q = Query.from_(users).select(users.id).offset(cast(Any, Param("skip")))
    expected = {
        # (dualdb_offset: the bound count checked as PostgreSQL checks it, see
        # test_diff_refusals.py)
        "sqlite": "SELECT `id` FROM `users` LIMIT -1 OFFSET dualdb_offset(?)",
        "postgresql": 'SELECT "id" FROM "users" OFFSET $1',
    }
    assert sql_of(q, dialect) == expected[dialect]
    assert sql_of(q.limit(5), dialect).endswith(
        " LIMIT 5 OFFSET " + {"sqlite": "dualdb_offset(?)", "postgresql": "$1"}[dialect]
    )


def test_limit_and_offset_take_only_a_non_negative_int_or_a_param(dialect: str) -> None:
    q = cast(Any, Query.from_(users).select(users.id))
    for bad, message in (("1; DROP TABLE users", "got str"), (-1, "negative"), (True, "got bool")):
        with pytest.raises(QueryError, match=message):
            sql_of(q.limit(bad), dialect)
        with pytest.raises(QueryError, match=message):
            sql_of(q.offset(bad), dialect)


def test_limit_of_a_plain_pypika_builder_is_checked_too() -> None:
    # Table.select() makes PyPika's own builder, not dualdb's.
    q = cast(Any, PostgreSQLQuery.from_(users).select(users.id)).limit("1; DROP TABLE users")
    with pytest.raises(QueryError, match="LIMIT must be an int or a Param"):
        sql_of(q, "postgresql")


def test_percent_is_the_integer_remainder_on_both(dialect: str) -> None:
    q = Query.from_(users).select(users.n % 7)
    expected = {
        "sqlite": 'SELECT (`n` % dualdb_nonzero(?, `n`)) "mod" FROM `users`',
        "postgresql": 'SELECT MOD("n",$1) FROM "users"',
    }
    assert sql_of(q, dialect) == expected[dialect]


def test_set_operation_members_are_bare_on_sqlite(dialect: str) -> None:
    a = Query.from_(users).select(users.id)
    b = Query.from_(members).select(members.id)
    q = ((a + b) * b).intersect(b).except_of(b).orderby(users.id).limit(3)
    expected = {
        "sqlite": "SELECT `id` FROM `users` UNION SELECT `id` FROM `members` "
        "UNION ALL SELECT `id` FROM `members` INTERSECT SELECT `id` FROM `members` "
        "EXCEPT SELECT `id` FROM `members` ORDER BY `id` NULLS LAST LIMIT 3",
        "postgresql": '(SELECT "id" FROM "users") UNION (SELECT "id" FROM "members") '
        'UNION ALL (SELECT "id" FROM "members") INTERSECT (SELECT "id" FROM "members") '
        'EXCEPT (SELECT "id" FROM "members") ORDER BY "id" LIMIT 3',
    }
    assert sql_of(q, dialect) == expected[dialect]
    assert sql_of(a.union_all(b).offset(1), dialect).endswith(
        {"sqlite": "`members` LIMIT -1 OFFSET 1", "postgresql": '"members") OFFSET 1'}[dialect]
    )


def test_a_union_member_with_its_own_order_and_limit_is_selected_from_on_sqlite() -> None:
    """SQLite's grammar has no parenthesised UNION members, and a bare one cannot have an
    ORDER BY or LIMIT: such a member is selected from as a subquery there."""
    q = (
        Query.from_(users)
        .select(users.id)
        .orderby(users.id)
        .limit(1)
        .union(Query.from_(members).select(members.id))
    )
    assert sql_of(q, "sqlite") == (
        "SELECT * FROM (SELECT `id` FROM `users` ORDER BY `id` NULLS LAST LIMIT 1) "
        "UNION SELECT `id` FROM `members`"
    )
    assert sql_of(q, "postgresql").startswith(
        '(SELECT "id" FROM "users" ORDER BY "id" LIMIT 1) UNION'
    )


def test_rendered_outside_dualdb_a_query_is_pypikas_text() -> None:
    a = Query.from_(users).select(users.id).orderby(users.id).offset(2)
    assert str(a) == 'SELECT "id" FROM "users" ORDER BY "id" OFFSET 2'
    assert str(a + a) == (
        '(SELECT "id" FROM "users" ORDER BY "id" OFFSET 2) UNION '
        '(SELECT "id" FROM "users" ORDER BY "id" OFFSET 2)'
    )
    assert str(Query.from_(users).select(users.n % 2).for_update()) == (
        'SELECT MOD("n",2) FROM "users" FOR UPDATE'
    )


def test_a_literal_nothing_types_is_written_with_its_type_on_postgresql() -> None:
    """PostgreSQL cannot type ``SELECT $1`` (text) or ``SUM($1)`` (ambiguous); written
    inline, 1 is an integer. The column keeps the name PostgreSQL gives a literal."""
    q = Query.from_(users).select(1, fn.Sum(ValueWrapper(2.5)), users.id == 3_000_000_000)
    assert sql_of(q, "postgresql") == (
        'SELECT $1::integer "?column?",SUM($2::double precision),"id"=$3 FROM "users"'
    )
    assert sql_of(q, "sqlite").startswith("SELECT ? `?column?`,")


def test_a_literal_that_meets_a_column_is_not_cast(dialect: str) -> None:
    q = Query.from_(users).select(users.id + 1).where(users.id == 2)
    assert "::" not in sql_of(q, dialect)


def test_a_cast_to_a_number_is_a_function_of_dualdbs_on_sqlite_only(dialect: str) -> None:
    """SQLite's CAST reads 'x' as 0: dualdb's driver writes the CAST by the column's type
    (see test_diff_types); ``Compiled.sql`` keeps the plain CAST."""
    q = Query.from_(users).select(fn.Cast(users.name, "INTEGER").as_("n"))
    assert (
        sql_of(q, dialect)
        == {
            "sqlite": 'SELECT CAST(`name` AS INTEGER) "n" FROM `users`',
            "postgresql": 'SELECT CAST("name" AS INTEGER) "n" FROM "users"',
        }[dialect]
    )
