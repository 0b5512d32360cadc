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


@pytest.fixture
def no_database_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no .env, and no database variable set."""
    monkeypatch.chdir(tmp_path)
    for name in ("DB_TYPE", "DATABASE_URL", "SQLITE_FILE", "DB_PRODUCTION"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


async def test_the_default_sqlite_file_says_where_it_is_made(
    no_database_configured: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="dualdb.connect"):
        async with dualdb.connect():
            pass
    made = str(no_database_configured / "data" / "app.db")
    assert [r.levelname for r in caplog.records if made in r.getMessage()] == ["WARNING"]


async def test_in_production_no_configuration_is_an_error_not_a_sqlite_file(
    no_database_configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PRODUCTION", "true")
    with pytest.raises(dualdb.ConfigurationError, match="DATABASE_URL"):
        await dualdb.connect()
    assert not (no_database_configured / "data").exists()


async def test_in_production_a_configured_database_connects(
    no_database_configured: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """A PostgreSQL URL, or a SQLite file that exists already."""
    async with dualdb.connect(database_url):
        pass  # (made here, outside production)
    monkeypatch.setenv("DB_PRODUCTION", "1")
    monkeypatch.setenv("DATABASE_URL", database_url)
    async with dualdb.connect() as db:
        assert db.settings.production
        assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_in_production_a_missing_sqlite_file_is_not_created(
    no_database_configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PRODUCTION", "on")
    monkeypatch.setenv("SQLITE_FILE", "app.db")
    with pytest.raises(dualdb.ConfigurationError, match="does not exist"):
        await dualdb.connect()
    assert not (no_database_configured / "app.db").exists()


async def test_a_sqlite_path_in_a_missing_folder_is_an_error(
    no_database_configured: Path,
) -> None:
    with pytest.raises(dualdb.ConfigurationError, match=r"folder .* does not exist"):
        await dualdb.connect("sqlite:///typo/app.db")
    assert not (no_database_configured / "typo").exists()


async def test_a_new_sqlite_file_in_an_existing_folder_is_made_and_logged(
    no_database_configured: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="dualdb.connect"):
        async with dualdb.connect("sqlite:///new.db"):
            pass
    assert (no_database_configured / "new.db").is_file()
    assert any(str(no_database_configured / "new.db") in r.getMessage() for r in caplog.records)


def test_db_production_takes_only_true_or_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PRODUCTION", "prod")
    with pytest.raises(dualdb.ConfigurationError, match="DB_PRODUCTION"):
        dualdb.load_settings(env_file=None)


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
