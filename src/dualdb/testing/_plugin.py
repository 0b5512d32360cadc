"""The pytest plugin (entry point ``pytest11``: ``dualdb``): migrated databases for a
project's own tests, on each backend it selects.

Only pytest imports this module, so pytest never becomes a dependency of dualdb itself.
See ``docs/testing.md`` for the options, fixtures and isolation modes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

import pytest

import dualdb
from dualdb._extras import require
from dualdb.dialects import dialect_names
from dualdb.errors import DatabaseError
from dualdb.testing._cluster import PostgresServer, start_postgres
from dualdb.testing._databases import (
    DatabaseTemplate,
    make_template,
    migration_sources,
    scratch_databases,
)

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover
    pytest_asyncio = None  # type: ignore[assignment]

#: How a test's database is kept apart from the other tests' (see docs/testing.md).
Isolation = Literal["rollback", "truncate", "database"]
ISOLATIONS: tuple[Isolation, ...] = get_args(Isolation)

ENV_BACKENDS = "DUALDB_TEST_BACKENDS"
ENV_POSTGRESQL_URL = "DUALDB_TEST_POSTGRESQL_URL"
DEFAULT_BACKENDS = "sqlite"

_BACKENDS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dualdb", "dualdb test databases")
    group.addoption(
        "--dualdb-backends",
        dest="dualdb_backends",
        metavar="NAMES",
        help=f"comma list of the backends tests using dualdb_backend/dualdb_url/dualdb_db run "
        f"on (also ${ENV_BACKENDS} and the dualdb_backends ini value; default: "
        f"{DEFAULT_BACKENDS})",
    )
    group.addoption(
        "--dualdb-postgresql-url",
        dest="dualdb_postgresql_url",
        metavar="URL",
        help=f"a PostgreSQL server whose user may CREATE DATABASE (also ${ENV_POSTGRESQL_URL});"
        " default: a throwaway cluster started for the session",
    )
    group.addoption(
        "--dualdb-migrations",
        dest="dualdb_migrations",
        action="append",
        metavar="DIR",
        help="a migrations folder to apply (repeat for several; default: the sources of "
        "yoyo.ini in the rootdir, else migrations/)",
    )
    parser.addini("dualdb_backends", "default of --dualdb-backends", default="")
    parser.addini("dualdb_migrations", "default of --dualdb-migrations", type="args")


def _selected_backends(config: pytest.Config) -> list[str]:
    raw = (
        config.getoption("dualdb_backends")
        or os.environ.get(ENV_BACKENDS, "").strip()
        or str(config.getini("dualdb_backends")).strip()
        or DEFAULT_BACKENDS
    )
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    known = [name for name in dialect_names() if scratch_databases(name) is not None]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise pytest.UsageError(
            f"dualdb backends {raw!r}: unknown {unknown}; choose from {', '.join(known)}"
        )
    return [name for name in known if name in names]  # dialect order, no duplicates


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dualdb(isolation): how the test's dualdb database is kept apart: 'rollback' "
        "(dualdb_db's default), 'truncate' (tables emptied after the test), 'database' (a "
        "copy of its own; dualdb_url's default)",
    )
    config.stash[_BACKENDS] = _selected_backends(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dualdb_backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = argnames.split(",") if isinstance(argnames, str) else list(argnames)
        if "dualdb_backend" in (name.strip() for name in names):
            return  # the test chose its backends itself
    backends = metafunc.config.stash[_BACKENDS]
    metafunc.parametrize("dualdb_backend", backends, indirect=True, ids=backends, scope="session")


def pytest_report_header(config: pytest.Config) -> str:
    backends = config.stash[_BACKENDS]
    return f"dualdb.testing (the dualdb_* fixtures) backends: {', '.join(backends)}"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true")


# --------------------------------------------------------------------------------------------
# Session fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dualdb_backend(request: pytest.FixtureRequest) -> str:
    """The backend this test runs on: the test runs once per selected backend."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def dualdb_postgresql(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: the one ``--dualdb-postgresql-url`` names, or a
    throwaway cluster, stopped at the end. In CI (``CI=true``) a server that cannot start
    fails the tests; elsewhere it skips them, saying what to install."""
    given = request.config.getoption("dualdb_postgresql_url") or os.environ.get(
        ENV_POSTGRESQL_URL, ""
    )
    try:
        for driver in ("psycopg2", "asyncpg"):  # (the test databases' and the tests')
            require(driver, extra="postgresql", needed_for="Testing on PostgreSQL")
        if given.strip():
            # A URL that is not PostgreSQL's is refused here, by the driver, clearly.
            server = PostgresServer(given.strip())
            server.execute("SELECT 1")
        else:
            server = start_postgres()
    except DatabaseError as exc:
        message = f"dualdb: PostgreSQL test server unavailable: {exc}"
        if _in_ci():
            pytest.fail(f"{message}\n(CI is set: the PostgreSQL tests are mandatory)", False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dualdb_template(
    dualdb_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseTemplate]:
    """This backend's database with every migration applied, made once per session."""
    config = request.config
    given = config.getoption("dualdb_migrations") or config.getini("dualdb_migrations")
    sources: list[Path] = []
    try:
        sources = migration_sources(config.rootpath, given)
        template = make_template(
            dualdb_backend,
            sources,
            tmp_path_factory.mktemp(f"dualdb-{dualdb_backend}"),
            lambda: cast(PostgresServer, request.getfixturevalue("dualdb_postgresql")),
        )
    except DatabaseError as exc:
        folders = ", ".join(str(path) for path in sources) or "none found"
        pytest.fail(
            f"dualdb: could not migrate the {dualdb_backend} test database "
            f"(migrations: {folders}):\n{type(exc).__name__}: {exc}",
            pytrace=False,
        )
    try:
        yield template
    finally:
        template.drop(template.url)


def _shared(template: DatabaseTemplate, folder: Path) -> Iterator[str]:
    url = template.copy(folder)
    try:
        yield url
    finally:
        template.drop(url)


@pytest.fixture(scope="session")
def _dualdb_rollback_url(
    dualdb_template: DatabaseTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database every ``rollback`` test of the session shares (nothing stays in it)."""
    yield from _shared(dualdb_template, tmp_path_factory.mktemp("dualdb-rollback"))


@pytest.fixture(scope="session")
def _dualdb_truncate_url(
    dualdb_template: DatabaseTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database every ``truncate`` test of the session shares (emptied after each)."""
    yield from _shared(dualdb_template, tmp_path_factory.mktemp("dualdb-truncate"))


# --------------------------------------------------------------------------------------------
# Per-test fixtures
# --------------------------------------------------------------------------------------------


def _isolation(request: pytest.FixtureRequest) -> Isolation:
    marker = request.node.get_closest_marker("dualdb")
    chosen: Any = None
    if marker is not None:
        chosen = marker.kwargs.get("isolation", marker.args[0] if marker.args else None)
    if chosen is None:
        return "database" if "dualdb_url" in request.fixturenames else "rollback"
    if chosen not in ISOLATIONS:
        pytest.fail(
            f"@pytest.mark.dualdb(isolation={chosen!r}): choose one of {', '.join(ISOLATIONS)}",
            pytrace=False,
        )
    return cast(Isolation, chosen)


@pytest.fixture
def dualdb_isolation(request: pytest.FixtureRequest) -> Isolation:
    """How this test's database is kept apart (the ``dualdb`` marker, or the default)."""
    return _isolation(request)


@pytest.fixture
def dualdb_url(
    dualdb_template: DatabaseTemplate,
    dualdb_isolation: Isolation,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[str]:
    """The URL of a migrated database for this test, for code that connects itself: a
    copy of its own, or with ``truncate`` isolation the shared one, emptied afterwards."""
    if dualdb_isolation == "rollback":
        pytest.fail(
            "dualdb_url with isolation='rollback': connections opened from the URL are not "
            "rolled back; use isolation='truncate' or 'database'",
            pytrace=False,
        )
    if dualdb_isolation == "truncate":
        url: str = request.getfixturevalue("_dualdb_truncate_url")
        try:
            yield url
        finally:
            dualdb_template.empty_tables(url)
        return
    url = dualdb_template.copy(tmp_path)
    try:
        yield url
    finally:
        dualdb_template.drop(url)


async def _database(request: pytest.FixtureRequest) -> AsyncIterator[dualdb.Database]:
    if _isolation(request) == "rollback":
        url: str = request.getfixturevalue("_dualdb_rollback_url")
        db = await dualdb.connect(url, force_rollback=True)
    else:
        db = await dualdb.connect(request.getfixturevalue("dualdb_url"))
    try:
        yield db
    finally:
        await db.close()


# pytest-asyncio's decorator serves its strict mode as well as its auto mode; without it,
# pytest itself says that an async fixture needs an async plugin.
_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    decorate: Any = pytest.fixture if pytest_asyncio is None else pytest_asyncio.fixture
    decorated: _F = decorate(function)
    return decorated


@_async_fixture
async def dualdb_db(
    dualdb_template: DatabaseTemplate, request: pytest.FixtureRequest
) -> AsyncIterator[dualdb.Database]:
    """A connected Database on this test's migrated database. By default everything runs
    in one transaction rolled back after the test (``force_rollback``); see the ``dualdb``
    marker for code that opens connections of its own."""
    async for db in _database(request):
        yield db


__all__ = [
    "ISOLATIONS",
    "Isolation",
    "dualdb_backend",
    "dualdb_db",
    "dualdb_isolation",
    "dualdb_postgresql",
    "dualdb_template",
    "dualdb_url",
]
