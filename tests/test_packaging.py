"""The distributions: the sdist and wheel build offline, pass ``twine check --strict``, and
hold what is meant to be shipped (the package, its typing marker, the licence, the
metadata of ``pyproject.toml``) and nothing else. A plain ``pip install dualdb`` is light
(SQLite only, its dependencies at their floors) and says which extra the rest needs."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import dualdb
from _build import build

REPO = Path(__file__).resolve().parents[1]
NAME = f"dualdb-{dualdb.__version__}"

#: Besides src/dualdb/**.py and src/dualdb.egg-info/*: everything the sdist may hold.
SDIST_FILES = {
    "CHANGELOG.md",
    "LICENSE",
    "MANIFEST.in",
    "PKG-INFO",
    "README.md",
    "SECURITY.md",
    "pyproject.toml",
    "setup.cfg",  # (setuptools' egg_info tag settings)
    "src/dualdb/py.typed",
    # The users/sessions/OAuth schema (src/dualdb/migrations → ../../migrations).
    "src/dualdb/migrations/0002_user_sessions.sql",
    "src/dualdb/migrations/0002_user_sessions.rollback.sql",
    "src/dualdb/migrations/0003_oauth.sql",
    "src/dualdb/migrations/0003_oauth.rollback.sql",
    "src/dualdb/migrations/0004_oauth_sessions_browser_binding.sql",
    "src/dualdb/migrations/0004_oauth_sessions_browser_binding.rollback.sql",
    "src/dualdb/migrations/dualdb.sum",
    "src/dualdb/migrations/schema.json",
}

#: What a SQLite-only install must not bring, and the extra each comes with.
HEAVY = {"asyncpg": "postgresql", "psycopg2-binary": "postgresql", "cryptography": "crypto"}

#: The extras holding what dualdb itself imports; the others are tools (tests, benchmarks).
RUNTIME_EXTRAS = ("postgresql", "crypto", "otel")

MIN_CONSTRAINTS = REPO / "constraints" / "min.txt"


CLASSIFIERS = {
    "Framework :: AsyncIO",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Topic :: Database",
    "Typing :: Typed",
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from the working tree without network access: no
    build isolation, so setuptools and wheel come from this environment (the dev extra)."""
    out = tmp_path_factory.mktemp("dist")
    built = build(out, "--wheel", "--sdist")
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _one(dist: Path, pattern: str) -> Path:
    [found] = dist.glob(pattern)
    return found


def _metadata(dist: Path) -> Message:
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        text = wheel.read(f"{NAME}.dist-info/METADATA").decode()
    return Parser().parsestr(text)


def test_twine_check_strict_passes(dist: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_wheel_holds_the_package_its_typing_marker_and_the_licence(dist: Path) -> None:
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        names = set(wheel.namelist())
    info = f"{NAME}.dist-info"
    assert "dualdb/py.typed" in names
    shipped = {
        path.name for path in (REPO / "migrations").iterdir() if not path.name.startswith("_")
    }
    assert {name.removeprefix("dualdb/migrations/") for name in names} >= shipped
    assert "dualdb/__init__.py" in names
    assert f"{info}/licenses/LICENSE" in names
    others = {name for name in names if not name.startswith(("dualdb/", f"{info}/"))}
    assert others == set()
    assert not {name for name in names if "__pycache__" in name or name.endswith(".pyc")}


def test_the_metadata_has_the_one_version_the_licence_and_the_classifiers(dist: Path) -> None:
    metadata = _metadata(dist)
    assert metadata["Name"] == "dualdb"
    assert metadata["Version"] == dualdb.__version__
    assert metadata["License-Expression"] == "MIT"
    assert set(metadata.get_all("Classifier") or []) >= CLASSIFIERS
    assert metadata["Keywords"]
    assert metadata["Requires-Python"] == ">=3.11"
    # There is no public repository or documentation address to point to yet.
    assert not metadata.get_all("Project-URL")


def test_the_sdist_holds_the_package_and_its_documents_only(dist: Path) -> None:
    sdist = _one(dist, "*.tar.gz")
    assert sdist.name == f"{NAME}.tar.gz"
    with tarfile.open(sdist) as archive:
        files = {
            member.name.removeprefix(f"{NAME}/")
            for member in archive.getmembers()
            if member.isfile()
        }
    package = {
        name
        for name in files
        if (name.startswith("src/dualdb/") and name.endswith(".py"))
        or name.startswith("src/dualdb.egg-info/")
    }
    assert "src/dualdb/__init__.py" in package
    assert files - package == SDIST_FILES
    assert not {name for name in files if name.startswith("tests/") or "__pycache__" in name}
    with tarfile.open(sdist) as archive:
        licence = archive.extractfile(f"{NAME}/LICENSE")
        assert licence is not None
        assert b"Copyright (c) 2026 the dualdb authors" in licence.read()


def test_a_plain_install_requires_no_postgresql_driver_nor_cryptography(dist: Path) -> None:
    requires = [Requirement(text) for text in _metadata(dist).get_all("Requires-Dist") or []]
    plain = {canonicalize_name(r.name) for r in requires if r.marker is None}
    assert plain == {"pypika", "aiosqlite", "yoyo-migrations", "python-dotenv", "sqlparse"}
    for name, extra in HEAVY.items():
        [required] = [r for r in requires if r.name == name]
        assert required.marker is not None
        assert required.marker.evaluate({"extra": extra})
        assert not required.marker.evaluate({"extra": "otel"})


def _floors() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        texts += project["optional-dependencies"][extra]
    floors: dict[str, str] = {}
    for text in texts:
        requirement = Requirement(text)
        [floor] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        floors[canonicalize_name(requirement.name)] = floor
    return floors


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def test_the_min_constraints_pin_exactly_the_floors_of_pyproject() -> None:
    # Every runtime dependency has a floor, and tox -e py311-min installs exactly it.
    assert _pins(MIN_CONSTRAINTS) == _floors()


#: Run in the light install: SQLite works end to end (the schema migrated by the CLI,
#: users, sessions, an OAuth link), and PostgreSQL or token keys name their extra.
LIGHT_PROGRAM = textwrap.dedent(
    """
    import asyncio
    import importlib.util
    from datetime import timedelta

    import dualdb
    from dualdb import auth

    missing = [m for m in ("asyncpg", "psycopg2", "cryptography") if importlib.util.find_spec(m)]
    assert not missing, missing


    async def main() -> None:
        db = await dualdb.connect("sqlite:///app.db")
        try:
            user = await auth.create_user(db, "ada@example.com", name="Ada")
            issued = await auth.create_session(db, user.id, timedelta(hours=1))
            valid = await auth.validate_session(db, issued.token)
            assert valid is not None and valid.user.id == user.id
            account = await auth.link_account(db, user.id, "github", "1", access_token="t")
            assert account.access_token == "t"
        finally:
            await db.close()
        try:
            await dualdb.connect("postgresql://app@127.0.0.1:9/app")
        except dualdb.ConfigurationError as exc:
            print("connect:", exc)
        try:
            auth.TokenCipher([("k1", bytes(32))])
        except dualdb.ConfigurationError as exc:
            print("keys:", exc)


    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def light_python(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding what ``pip install dualdb`` brings (the wheel, its dependencies at
    their floors) and nothing else. This environment's pip installs into it (--python),
    which saves the venv a pip of its own."""
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--disable-pip-version-check", "--no-input", "--constraint"),
            *(str(MIN_CONSTRAINTS), str(_one(dist, "*.whl"))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


def _run_light(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No DB_*/DATABASE_URL/DUALDB_* from the test run: the program chooses its database.
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [str(python), "-W", "error", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_plain_install_runs_sqlite_and_names_the_extra_postgresql_needs(
    light_python: Path, tmp_path: Path
) -> None:
    versions = _run_light(
        light_python,
        tmp_path,
        "-c",
        "from importlib.metadata import distributions as d; "
        "print(*sorted(f'{x.name.lower()}=={x.version}' for x in d()))",
    )
    assert versions.returncode == 0, versions.stderr
    installed = dict(line.split("==") for line in versions.stdout.split())
    assert not set(installed) & set(HEAVY)
    for name, floor in _pins(MIN_CONSTRAINTS).items():
        assert installed.get(name, floor) == floor  # the light ones, at their floors

    migrations = str(REPO / "migrations")
    migrated = _run_light(
        light_python, tmp_path, "-m", "dualdb", "migrate", "--database", "sqlite:///app.db",
        "--migrations", migrations,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    ran = _run_light(light_python, tmp_path, "-c", LIGHT_PROGRAM)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == [
        "connect: dualdb on PostgreSQL needs asyncpg, which is not installed: "
        "pip install 'dualdb[postgresql]'",
        "keys: Encrypting OAuth tokens (DUALDB_TOKEN_KEYS) needs cryptography, which is not "
        "installed: pip install 'dualdb[crypto]'",
    ]

    on_postgresql = _run_light(
        light_python, tmp_path, "-m", "dualdb", "migrate",
        "--database", "postgresql://app@127.0.0.1:9/app", "--migrations", migrations,
    )  # fmt: skip
    assert on_postgresql.returncode == 2, on_postgresql.stdout + on_postgresql.stderr
    assert on_postgresql.stderr == (
        "dualdb: error: Running migrations on PostgreSQL needs psycopg2, which is not "
        "installed: pip install 'dualdb[postgresql]'\n"
    )
