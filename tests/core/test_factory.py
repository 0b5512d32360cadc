"""connect(): from URL, settings or environment; context manager; app-wide accessor."""

from __future__ import annotations

from pathlib import Path

import pytest

import dualdb
from dualdb import raw


async def test_connect_as_context_manager_closes(database_url: str) -> None:
    async with dualdb.connect(database_url) as db:
        assert await db.fetch_val(raw("SELECT 1")) == 1
    with pytest.raises(dualdb.DatabaseError):
        await db.fetch_val(raw("SELECT 1"))


async def test_await_connect_returns_open_database(database_url: str, backend: str) -> None:
    db = await dualdb.connect(database_url)
    try:
        assert db.backend == backend
        assert await db.fetch_val(raw("SELECT 1")) == 1
    finally:
        await db.close()


async def test_repr_never_shows_the_password(database_url: str) -> None:
    async with dualdb.connect(database_url) as db:
        assert "dualdb-test-pw" not in repr(db)
        assert "dualdb-test-pw" not in repr(db.settings)


async def test_connect_reads_environment_and_dotenv(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DB_TYPE", "DATABASE_URL", "SQLITE_FILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n")
    async with dualdb.connect() as db:
        assert db.backend == backend
        assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_default_sqlite_file_creates_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DB_TYPE", "DATABASE_URL", "SQLITE_FILE"):
        monkeypatch.delenv(name, raising=False)
    async with dualdb.connect() as db:
        await db.execute(raw("CREATE TABLE t (x INTEGER)"))
    assert (tmp_path / "data" / "app.db").is_file()


async def test_sqlite_connections_use_wal_and_foreign_keys(database_url: str, backend: str) -> None:
    async with dualdb.connect(database_url) as db:
        if backend == "sqlite":
            assert await db.fetch_val(raw("PRAGMA journal_mode")) == "wal"
            assert await db.fetch_val(raw("PRAGMA foreign_keys")) == 1
            assert await db.fetch_val(raw("PRAGMA synchronous")) == 1  # NORMAL
            assert await db.fetch_val(raw("PRAGMA busy_timeout")) == 5000
        else:
            assert await db.fetch_val(raw("SHOW server_encoding")) == "UTF8"


async def test_statement_timeout_raises_query_timeout(database_url: str, backend: str) -> None:
    if backend == "sqlite":  # SQLite has no statement timeout; documented
        return
    async with dualdb.connect(database_url, statement_timeout=0.05) as db:
        with pytest.raises(dualdb.QueryTimeout):
            await db.execute(raw("SELECT pg_sleep(1)"))
        assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_statement_cache_size_zero_works(database_url: str) -> None:
    async with dualdb.connect(database_url, statement_cache_size=0) as db:
        for _ in range(3):
            assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_get_database_returns_one_shared_instance(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DB_TYPE", raising=False)
    first = await dualdb.get_database()
    try:
        assert await dualdb.get_database() is first
    finally:
        await dualdb.close_database()
    second = await dualdb.get_database()
    try:
        assert second is not first
    finally:
        await dualdb.close_database()


async def test_bad_environment_fails_with_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DB_TYPE", "oracle")
    with pytest.raises(dualdb.ConfigurationError, match="DB_TYPE"):
        await dualdb.connect()


async def test_unreachable_postgres_fails_fast_with_connection_failed() -> None:
    import time

    started = time.monotonic()
    with pytest.raises(dualdb.ConnectionFailed) as info:
        await dualdb.connect("postgresql://u:topsecret@127.0.0.1:1/app", connect_timeout=1)
    assert time.monotonic() - started < 5
    assert "topsecret" not in str(info.value)


def test_unclosed_database_does_not_block_interpreter_exit(database_url: str) -> None:
    import subprocess
    import sys

    program = (
        "import asyncio, dualdb\n"
        "async def main():\n"
        f"    db = await dualdb.connect({database_url!r})\n"
        "    await db.fetch_val(dualdb.raw('SELECT 1'))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", program], timeout=30, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
