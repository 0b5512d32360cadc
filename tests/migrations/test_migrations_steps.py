"""The logical type vocabulary and the step helpers that migration files import."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _migrate_helpers import execute

from dualdb.errors import MigrationError
from dualdb.migrate.connection import Target
from dualdb.migrate.introspect import introspect
from dualdb.migrate.logical_types import LOGICAL_TYPES, logical_type
from dualdb.migrate.steps import backend_of, by_backend, typed_sql


def test_a_type_outside_the_vocabulary_never_matches_a_logical_type() -> None:
    assert logical_type("VARCHAR(255)", "sqlite") == "sqlite:varchar(255)"


def test_introspection_reads_back_every_logical_type(db: Callable[[], Target]) -> None:
    columns = ", ".join(f"c_{name} {{{name}}}" for name in LOGICAL_TYPES)
    with db() as target:
        with target.backend.transaction():
            typed_sql(f"CREATE TABLE every_type (id {{uuid}} PRIMARY KEY NOT NULL, {columns})")(
                target.backend.connection
            )
        found = introspect(target.backend).tables["every_type"].columns
    assert {name: found[f"c_{name}"].type for name in LOGICAL_TYPES} == {
        name: name for name in LOGICAL_TYPES
    }


def test_json_and_decimal_columns_keep_their_exact_text(db: Callable[[], Target]) -> None:
    # On SQLite, JSON TEXT and DECIMAL TEXT have TEXT affinity: '1.0' must not become 1.
    with db() as target:
        with target.backend.transaction():
            typed_sql("CREATE TABLE doc (body {json}, amount {decimal})")(target.backend.connection)
        execute(target, "INSERT INTO doc (body, amount) VALUES ('1.0', '1.50')")
        rows = execute(target, "SELECT CAST(body AS TEXT), CAST(amount AS TEXT) FROM doc")
    assert rows == [("1.0", "1.50")]


def test_by_backend_runs_the_statement_written_for_the_connection(
    db: Callable[[], Target], backend: str
) -> None:
    step = by_backend(
        sqlite="CREATE TABLE made_on_sqlite (id TEXT)",
        postgresql=["CREATE TABLE made_on_postgresql (id TEXT)"],
    )
    with db() as target:
        assert backend_of(target.backend.connection) == backend
        with target.backend.transaction():
            step(target.backend.connection)
        assert set(introspect(target.backend).tables) == {f"made_on_{backend}"}


def test_typed_sql_leaves_other_braces_alone(db: Callable[[], Target]) -> None:
    with db() as target:
        with target.backend.transaction():
            typed_sql("CREATE TABLE j (body {json} DEFAULT '{}')")(target.backend.connection)
        default = introspect(target.backend).tables["j"].columns["body"].default
    assert default == "'{}'"


def test_typed_sql_refuses_a_placeholder_that_names_no_type() -> None:
    with pytest.raises(MigrationError, match=r"unknown type placeholder \{jsn\}.*\{json\}"):
        typed_sql("CREATE TABLE events (body {jsn} NOT NULL)")


def test_typed_sql_leaves_a_word_in_braces_inside_a_string_literal_alone() -> None:
    typed_sql("CREATE TABLE tags (names TEXT NOT NULL DEFAULT '{draft}')")
