"""How the auth layer talks to the databases: bound parameters only, one statement where
atomicity depends on it, and the schema migration it adds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pypika.queries import QueryBuilder
from yoyo import get_backend, read_migrations

import dualdb
from _pgbouncer import driver_url
from dualdb import auth
from dualdb.auth import oauth, sessions, users, webauthn

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
BINDING_MIGRATION = "0004_oauth_sessions_browser_binding"


def module_queries() -> list[tuple[str, Any]]:
    """Every prebuilt query of the auth modules, with a name for the test id."""
    found: list[tuple[str, Any]] = []
    for module in (users, sessions, oauth, webauthn):
        for name, value in vars(module).items():
            if isinstance(value, QueryBuilder):
                found.append((f"{module.__name__.rsplit('.', 1)[1]}.{name}", value))
            elif isinstance(value, dict):
                for key, inner in value.items():
                    shapes = inner.items() if isinstance(inner, dict) else [("", inner)]
                    for shape, query in shapes:
                        if isinstance(query, QueryBuilder):
                            found.append((f"{name}[{key}]{shape}", query))
    return found


QUERIES = module_queries()


def test_every_auth_module_has_prebuilt_queries() -> None:
    assert len(QUERIES) > 60  # the list shapes alone are 40


async def test_every_query_binds_its_values_and_inlines_none(migrated_db: dualdb.Database) -> None:
    inlined = []
    for name, query in QUERIES:
        sql, args = migrated_db.compile(query)
        # The only quoted literal dualdb itself writes is LIKE's ESCAPE '\'.
        if "'" in sql.replace("ESCAPE '\\'", "") or not all(
            isinstance(a, dualdb.Param) or a == 0 for a in args
        ):
            inlined.append(name)
    assert inlined == []


async def test_queries_are_rendered_once_and_then_served_from_the_cache(
    migrated_db: dualdb.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = migrated_db.compile(oauth._CONSUME_STATE)

    def render_again(*args: object, **kwargs: object) -> str:
        raise AssertionError("rendered a second time")

    monkeypatch.setattr(type(oauth._CONSUME_STATE), "get_sql", render_again)
    assert migrated_db.compile(oauth._CONSUME_STATE) == first


GOLDEN_CONSUME = {
    "postgresql": (
        'DELETE FROM "oauth_sessions" WHERE "state"=$1 AND "expires_at">$2 '
        'AND "browser_binding"=$3 RETURNING "state","redirect_uri","code_verifier",'
        '"created_at","expires_at"'
    ),
    "sqlite": (
        "DELETE FROM `oauth_sessions` WHERE `state`=? AND `expires_at`>? "
        "AND `browser_binding`=? RETURNING `state`,`redirect_uri`,`code_verifier`,"
        "`created_at`,`expires_at`"
    ),
}


async def test_consume_state_is_one_delete_returning_statement(
    migrated_db: dualdb.Database,
) -> None:
    sql, _ = migrated_db.compile(oauth._CONSUME_STATE)
    assert sql == GOLDEN_CONSUME[migrated_db.backend]


async def test_webauthn_use_is_one_conditional_update(migrated_db: dualdb.Database) -> None:
    sql, _ = migrated_db.compile(webauthn._USE)
    q = migrated_db.dialect.quote_char
    assert sql.startswith(f"UPDATE {q}users{q} SET {q}webauthn_counter{q}=")
    assert f"{q}webauthn_counter{q}<" in sql


def _yoyo(url: str, action: str) -> None:
    backend = get_backend(driver_url(url))
    try:
        migrations = read_migrations(str(MIGRATIONS))
        with backend.lock():
            if action == "apply":
                backend.apply_migrations(backend.to_apply(migrations))
            else:
                mine = migrations.filter(lambda m: m.id == BINDING_MIGRATION)
                backend.rollback_migrations(backend.to_rollback(mine))
    finally:
        backend.connection.close()


async def _has_binding_column(url: str) -> bool:
    # Probed with an INSERT naming the column: SQLite reads an unknown double-quoted name
    # in a SELECT as a string literal (its "DQS" quirk) instead of failing.
    async with dualdb.connect(url) as db:
        try:
            await auth.create_state(db, "https://app/cb", browser_binding=auth.new_token())
        except dualdb.ProgrammingError:
            return False
    return True


async def test_browser_binding_migration_applies_and_rolls_back(database_url: str) -> None:
    await asyncio.to_thread(_yoyo, database_url, "apply")
    assert await _has_binding_column(database_url)
    await asyncio.to_thread(_yoyo, database_url, "rollback")
    assert not await _has_binding_column(database_url)
    await asyncio.to_thread(_yoyo, database_url, "apply")
    assert await _has_binding_column(database_url)
