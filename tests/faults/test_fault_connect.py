"""A database that cannot be reached or opened fails fast, clearly, and without secrets."""

from __future__ import annotations

import logging
import re
import tempfile
import time
import traceback
from pathlib import Path

import pytest
from _faults import run_forked_as

import dualdb
from _network import black_hole, free_port
from _pgcluster import PgServer, dbname_from_url
from dualdb import raw

#: Upper bound on how long a failed connect may take beyond its connect timeout.
SLACK = 3.0


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_server_that_never_answers_fails_within_the_connect_timeout(backend: str) -> None:
    """A host that accepts TCP but never replies (hung server, firewall black hole).
    SQLite has no network; its counterpart is a file that cannot be opened, below."""
    with black_hole() as port:
        started = time.monotonic()
        with pytest.raises(dualdb.ConnectionFailed, match=r"within 0\.5s") as caught:
            await dualdb.connect(f"postgresql://u:pw@127.0.0.1:{port}/db", connect_timeout=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 0.5 + SLACK
    assert "DB_CONNECT_TIMEOUT" in str(caught.value)


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_wrong_port_is_refused_at_once_with_connection_failed(backend: str) -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(dualdb.ConnectionFailed, match=f"127.0.0.1:{port}"):
        await dualdb.connect(f"postgresql://u:pw@127.0.0.1:{port}/db", connect_timeout=5)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_unresolvable_host_fails_within_the_connect_timeout(backend: str) -> None:
    started = time.monotonic()
    with pytest.raises(dualdb.ConnectionFailed, match=r"no-such-host\.invalid"):
        await dualdb.connect("postgresql://u:pw@no-such-host.invalid:5432/db", connect_timeout=2)
    assert time.monotonic() - started < 2 + SLACK


async def test_wrong_password_is_connection_failed_and_never_shows_the_password(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL only: SQLite has no credentials."""
    secret = "Wr0ng-S3cret-pw"
    url = pg_server.url.replace(f":{_password(pg_server.url)}@", f":{secret}@")
    assert secret in url
    caplog.set_level(logging.DEBUG)
    with pytest.raises(dualdb.ConnectionFailed, match="rejected the credentials") as caught:
        await dualdb.connect(url)
    exc = caught.value
    shown = [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(exc)),  # the whole chain, driver error included
        caplog.text,
        repr(dualdb.load_settings(url=url)),
        dualdb.load_settings(url=url).display_url(),
    ]
    for text in shown:
        assert secret not in text
    assert "***" in str(exc)


async def test_missing_database_is_connection_failed_naming_it(pg_server: PgServer) -> None:
    url = pg_server.database_url("no_such_database_here")
    with pytest.raises(dualdb.ConnectionFailed, match="no_such_database_here"):
        await dualdb.connect(url)


async def test_connection_failed_is_an_operational_error(pg_server: PgServer) -> None:
    with pytest.raises(dualdb.OperationalError):
        await dualdb.connect(pg_server.database_url("nope"))
    assert dbname_from_url(pg_server.url) == "postgres"


# ---------------------------------------------------------------------------- SQLite paths


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_file_under_a_regular_file_fails_naming_the_folder(
    backend: str, tmp_path: Path
) -> None:
    """Runs as root, where permissions do not stop anything: a folder that is a regular
    file cannot be created or entered by anyone, so this fails for root too."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for target, error in (
        (blocker / "app.db", dualdb.ConnectionFailed),
        (blocker / "sub" / "app.db", dualdb.ConfigurationError),  # (no such folder)
    ):
        with pytest.raises(error) as caught:
            await dualdb.connect(f"sqlite:///{target}")
        assert str(blocker) in str(caught.value)
        assert "SQLITE_FILE" in str(caught.value)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_path_that_is_a_folder_fails_naming_it(backend: str, tmp_path: Path) -> None:
    with pytest.raises(dualdb.ConnectionFailed, match=re.escape(str(tmp_path))):
        await dualdb.connect(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_file_that_is_not_a_database_fails_naming_it(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages of an SQLite database " * 100)
    with pytest.raises(dualdb.OperationalError, match=re.escape(str(path))):
        db = await dualdb.connect(f"sqlite:///{path}")
        await db.close()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("where", ["file", "subfolder"])
def test_sqlite_in_an_unwritable_folder_fails_naming_the_path_for_an_unprivileged_user(
    backend: str, where: str
) -> None:
    """The same check as a real unprivileged user (``nobody``), in a forked process: root
    ignores permission bits, so only a non-root process sees the folder as read-only."""
    base = Path(tempfile.mkdtemp(prefix="dualdb-ro-", dir="/tmp"))
    try:
        base.chmod(0o555)  # r-x for everyone: nobody may enter, not create
        target = base / "app.db" if where == "file" else base / "sub" / "app.db"

        def connect() -> str:
            import asyncio

            async def attempt() -> str:
                db = await dualdb.connect(f"sqlite:///{target}")
                await db.execute(raw("CREATE TABLE t (x INTEGER)"))
                await db.close()
                return "connected"

            return asyncio.run(attempt())

        outcome, message = run_forked_as(65534, 65534, connect)
    finally:
        base.chmod(0o700)
        for path in sorted(base.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        base.rmdir()
    # (A folder that does not exist is a configuration error, before any permission.)
    assert outcome == ("ConnectionFailed" if where == "file" else "ConfigurationError"), message
    named = str(target) if where == "file" else str(target.parent)
    assert named in message


def _password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).password or "")
