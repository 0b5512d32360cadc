"""The distributions: the sdist and wheel build offline, pass ``twine check --strict``, and
hold what is meant to be shipped (the package, its typing marker, the licence, the
metadata of ``pyproject.toml``) and nothing else."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

import dualdb

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

BUILD = [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist"]

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
    built = subprocess.run(
        [*BUILD, "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
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
