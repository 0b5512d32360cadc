"""Shared pytest fixtures for the dualdb test-suite.

Sections (add new fixtures to the section they belong to, or a new section at the end):

1. Hypothesis profiles      -- $HYPOTHESIS_PROFILE, else ``ci`` when CI=true, else ``dev``;
                               ``pgbouncer`` for the pass through PgBouncer, ``quick`` for
                               the pass on the newest Python.
2. Backends                 -- ``backend``: every test using it (directly, or through
                               ``database_url``/``db``) runs once per backend.
3. PostgreSQL server        -- ``pg_server``, ``pg_admin_url`` (session; started lazily).
4. Per-test database        -- ``database_url`` (fresh empty database), ``db`` (connected).

Environment variables:

* ``DUALDB_TEST_BACKENDS``      comma list restricting the backends, e.g. ``sqlite`` for a quick
                                local run (default: ``sqlite,postgresql``).
* ``DUALDB_TEST_DATABASE_URL``  use this existing PostgreSQL server (its user needs
                                CREATE DATABASE) instead of starting a throwaway one.
* ``CI``                        ``true``/``1``: Hypothesis ``ci`` profile (unless
                                ``HYPOTHESIS_PROFILE`` names one); PostgreSQL is mandatory.
* ``HYPOTHESIS_PROFILE``        the profile (default ``ci`` in CI, else ``dev``).
* ``DUALDB_TEST_PGBOUNCER``     ``1``: the ``postgresql`` databases of ``database_url`` and
                                ``migrated_database_url`` are reached through a PgBouncer in
                                transaction mode (``?pgbouncer=true``); every other test, and
                                those marked ``not_through_pgbouncer`` (they need the server
                                itself), is deselected. ``scripts/test`` runs the API, auth,
                                fault and migration-lock tests so, after the main run.

Nothing here ever skips: a PostgreSQL server that cannot be started fails the tests that need it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from _pgbouncer import PgBouncer, start_pgbouncer
from _pgcluster import ENV_DATABASE_URL, PgServer, dbname_from_url, redact_url, start_server
from dualdb.dialects import dialect_names
from dualdb.testing._databases import DatabaseTemplate, make_template


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true")


IN_CI = _env_flag("CI")
THROUGH_PGBOUNCER = _env_flag("DUALDB_TEST_PGBOUNCER")

# --------------------------------------------------------------------------------------------
# 1. Hypothesis profiles
# --------------------------------------------------------------------------------------------

_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    # The second pass through PgBouncer tests the transport: the properties ran in full
    # in the main run, against the same server.
    "pgbouncer",
    derandomize=True,
    max_examples=25,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    # scripts/test's pass on the newest Python tests the interpreter (its deprecations,
    # the drivers' builds for it): the properties ran in full in the main run.
    "quick",
    derandomize=True,
    max_examples=10,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
if THROUGH_PGBOUNCER:
    settings.load_profile("pgbouncer")
else:
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))

# --------------------------------------------------------------------------------------------
# 2. Backends
# --------------------------------------------------------------------------------------------

#: Every registered dialect (dualdb's own and any a plugin registers) is a test backend;
#: section 4 must say how to make a database for each.
ALL_BACKENDS = dialect_names()


def _selected_backends() -> list[str]:
    raw = os.environ.get("DUALDB_TEST_BACKENDS", "")
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if not names:
        return list(ALL_BACKENDS)
    unknown = sorted(set(names) - set(ALL_BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"DUALDB_TEST_BACKENDS={raw!r}: unknown backend(s) {unknown}; "
            f"choose from {', '.join(ALL_BACKENDS)}"
        )
    return [name for name in ALL_BACKENDS if name in names]  # canonical order, no duplicates


BACKENDS = _selected_backends()


#: Technique markers, given by the folder a test lives in (the tree is organised by what
#: is tested; these say how): `pytest -m "not load"`, `pytest -m fault`.
TECHNIQUES = {
    "differential": "the same generated operations on every backend, answers compared",
    "faults": "a failure provoked for real: killed servers, cancellation, hostile input",
    "load": "many concurrent tasks over the pool",
}


def pytest_configure(config: pytest.Config) -> None:
    # Each backend parameter carries a marker of the same name: `pytest -m sqlite`.
    for name in ALL_BACKENDS:
        config.addinivalue_line("markers", f"{name}: test instance running on the {name} backend")
    for name, meaning in TECHNIQUES.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    config.addinivalue_line(
        "markers",
        "not_through_pgbouncer(reason): needs the PostgreSQL server itself (its session "
        "state, its pid, a setting at connect, a plain libpq URL): not run through PgBouncer",
    )


def _backends_needed(item: pytest.Item) -> set[str]:
    """Backends a collected test runs on: its ``backend`` parameter, plus ``postgresql`` if it
    uses the PostgreSQL server directly (``pg_server``/``pg_admin_url``)."""
    needed: set[str] = set()
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        needed.add(callspec.params["backend"])
    if {"pg_server", "pg_tls_server", "pgbouncer"} & set(getattr(item, "fixturenames", ())):
        needed.add("postgresql")
    return needed


#: The fixtures whose PostgreSQL database the pass through PgBouncer reaches through it.
_ROUTED = frozenset({"database_url", "migrated_database_url"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selection, so the markers added here count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Mark every test with the backend(s) it touches, and deselect (not skip: it is the
    # user's choice, like -k) tests needing a backend that DUALDB_TEST_BACKENDS left out,
    # e.g. tests pinned with @pytest.mark.parametrize("backend", ["postgresql"]).
    keep: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        for part in item.path.parts:
            if part in TECHNIQUES:
                item.add_marker(getattr(pytest.mark, part))
        needed = _backends_needed(item)
        for name in sorted(needed):
            item.add_marker(getattr(pytest.mark, name))
        # Through PgBouncer: the tests whose database it routes (section 4), except those
        # that need the server itself.
        skip_pass = THROUGH_PGBOUNCER and (
            "postgresql" not in needed
            or not _ROUTED & set(getattr(item, "fixturenames", ()))
            or item.get_closest_marker("not_through_pgbouncer") is not None
        )
        (keep if needed <= set(BACKENDS) and not skip_pass else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> list[str]:
    external = os.environ.get(ENV_DATABASE_URL, "").strip()
    if "postgresql" not in BACKENDS:
        where = "not used"
    elif external:
        where = f"external server {redact_url(external)} ({ENV_DATABASE_URL})"
    else:
        where = "throwaway server started on first use"
    if THROUGH_PGBOUNCER and "postgresql" in BACKENDS:
        where += ", reached through PgBouncer (transaction mode)"
    return [f"dualdb backends: {', '.join(BACKENDS)}; PostgreSQL: {where}"]


@pytest.fixture(
    scope="session",
    params=[pytest.param(name, id=name, marks=getattr(pytest.mark, name)) for name in BACKENDS],
)
def backend(request: pytest.FixtureRequest) -> str:
    """Name of the backend under test: ``"sqlite"`` or ``"postgresql"``.

    Session-scoped so that session fixtures may depend on it; pytest therefore runs all
    tests of one backend, then all of the other. A test may pin one backend with
    ``@pytest.mark.parametrize("backend", ["sqlite"])``.
    """
    name: str = request.param
    return name


# --------------------------------------------------------------------------------------------
# 3. PostgreSQL server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (see tests/_pgcluster.py).

    Started only when a test first needs it; stopped (and its files deleted) at session end.
    An atexit hook and a watchdog process also stop it if the session is interrupted or
    killed. If it cannot start, every test that needs it fails with the reason (never skips).
    """
    yield from _started(start_server)


@pytest.fixture(scope="session")
def pg_tls_server() -> Iterator[PgServer]:
    """A second PostgreSQL cluster of the session's own, which also takes TLS
    connections, with a test CA, server and client certificates (``tls_folder``), and
    listens on a Unix socket (``socket_folder``). Started when a test first needs it."""
    yield from _started(lambda: start_server(tls=True))


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PgServer) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of ``pg_server`` (tests/_pgbouncer.py)
    with two server connections per database, so that clients share them as they would
    in production. Started when a test first needs it; never skipped."""
    yield from _bouncer(pg_server, pool_size=2)


def _bouncer(server: PgServer, *, pool_size: int) -> Iterator[PgBouncer]:
    try:
        bouncer = start_pgbouncer(server, pool_size=pool_size)
    except Exception as exc:
        pytest.fail(f"PgBouncer unavailable: {type(exc).__name__}: {exc}", pytrace=False)
    try:
        yield bouncer
    finally:
        bouncer.stop()


def _started(start: Callable[[], PgServer]) -> Iterator[PgServer]:
    try:
        server = start()
    except Exception as exc:
        if IN_CI:
            hint = "CI is set: the PostgreSQL tests are mandatory."
        else:
            hint = (
                f"Set {ENV_DATABASE_URL}=postgresql://USER:PASSWORD@HOST/DB to use an existing "
                "server, or DUALDB_TEST_BACKENDS=sqlite to run only the SQLite tests."
            )
        pytest.fail(
            f"PostgreSQL test server unavailable: {type(exc).__name__}: {exc}\n{hint}",
            pytrace=False,
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_admin_url(pg_server: PgServer) -> str:
    """Admin URL of the session's PostgreSQL server (database ``postgres``). Has a password:
    do not print it (``_pgcluster.redact_url``)."""
    return pg_server.url


# --------------------------------------------------------------------------------------------
# 4. Per-test database
# --------------------------------------------------------------------------------------------


def _sqlite_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """``sqlite:///{tmp_path}/test.db`` (the file does not exist yet)."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield f"sqlite:///{tmp_path}/test.db"


@pytest.fixture(scope="session")
def routing_pgbouncer(pg_server: PgServer) -> Iterator[PgBouncer]:
    """With ``DUALDB_TEST_PGBOUNCER``: the PgBouncer the test databases are reached through,
    with room for the tests' own pools."""
    yield from _bouncer(pg_server, pool_size=40)


def _routed(request: pytest.FixtureRequest, url: str) -> str:
    """``url`` as the test uses it: through PgBouncer with ``DUALDB_TEST_PGBOUNCER``."""
    if not THROUGH_PGBOUNCER:
        return url
    bouncer: PgBouncer = request.getfixturevalue("routing_pgbouncer")
    return bouncer.url(dbname_from_url(url)) + "?pgbouncer=true"


def _postgresql_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database ``t_<12 hex>`` on ``pg_server``, dropped after the test (open
    connections to it are terminated first)."""
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield _routed(request, url)
    finally:
        server.drop_database(name)


#: How to make a fresh, empty database for each backend: a new dialect adds its entry here
#: (see CONTRIBUTING.md). A registered dialect without one fails collection, never skips.
FRESH_DATABASE: dict[str, Callable[[pytest.FixtureRequest], Iterator[str]]] = {
    "sqlite": _sqlite_database,
    "postgresql": _postgresql_database,
}
_without_harness = sorted(set(ALL_BACKENDS) - set(FRESH_DATABASE))
if _without_harness:
    raise pytest.UsageError(
        f"dialect(s) {_without_harness} are registered but tests/conftest.py has no "
        "FRESH_DATABASE entry for them"
    )


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database that belongs to this test alone (see
    ``FRESH_DATABASE``)."""
    yield from FRESH_DATABASE[backend](request)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Any]:
    """A ``dualdb`` connection to this test's fresh database."""
    import dualdb

    async with dualdb.connect(database_url) as db:
        yield db


# --------------------------------------------------------------------------------------------
# 5. Migrated databases (the repository's migrations/ applied)
# --------------------------------------------------------------------------------------------

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture(scope="session")
def migrated_template(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> DatabaseTemplate:
    """Once per session and backend: a database with every migration applied, to copy.

    Made by ``dualdb.testing``, the machinery of the pytest plugin dualdb ships to its users
    (a file copied per test on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).
    Plain yoyo applying the same folder is tested in tests/migrations.
    """
    return make_template(
        backend,
        [MIGRATIONS_DIR],
        tmp_path_factory.mktemp("template"),
        server=lambda: request.getfixturevalue("pg_server"),
    )


@pytest.fixture
def migrated_database_url(
    migrated_template: DatabaseTemplate, request: pytest.FixtureRequest
) -> Iterator[str]:
    """URL of a fresh database of this test's own with the full schema already applied."""
    url = migrated_template.copy(request.getfixturevalue("tmp_path"))
    try:
        yield _routed(request, url) if migrated_template.store.needs_server else url
    finally:
        migrated_template.drop(url)


@pytest.fixture
async def migrated_db(migrated_database_url: str) -> AsyncIterator[Any]:
    """A ``dualdb`` connection to this test's fresh, fully migrated database."""
    import dualdb

    async with dualdb.connect(migrated_database_url) as db:
        yield db


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, the drivers' own included, captured (for tests that assert
    that no secret is ever logged)."""
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("dualdb", "dualdb.query", "aiosqlite", "asyncpg", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog
