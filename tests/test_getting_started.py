"""The getting-started page, followed as a new user would: every command and program of
``docs/getting-started.md``, in order, in an empty folder, with dualdb installed from the
wheel built from this tree into a fresh virtual environment — nothing copied from the
repository. SQLite runs the page up to its PostgreSQL section; PostgreSQL runs all of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from _build import build
from _pgbouncer import driver_url

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "getting-started.md"
#: The placeholder URL of the page's PostgreSQL section, replaced by the test database's.
PAGE_URL = "postgresql://app:secret@localhost:5432/app"
POSTGRESQL_SECTION = "## On PostgreSQL"

_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
_FILE_NAME = re.compile(r"`(\w+\.py)`")


@dataclass(frozen=True)
class Step:
    """A command to run (``$ …`` in a console block) or a file to save (a python block)."""

    command: str | None = None
    file: str | None = None
    content: str = ""


def _steps(text: str) -> list[Step]:
    steps: list[Step] = []
    position = 0
    for block in _BLOCK.finditer(text):
        language, body = block.groups()
        if language == "console":
            steps.extend(
                Step(command=line[2:]) for line in body.splitlines() if line.startswith("$ ")
            )
        elif language == "python":
            # "Save this program as `app.py`:" — the last file name before the block.
            names = _FILE_NAME.findall(text, position, block.start())
            assert names, f"a python block without a file name before it: {body[:60]!r}"
            steps.append(Step(file=names[-1], content=body))
        position = block.end()
    return steps


def _page(through_postgresql: bool) -> list[Step]:
    text = PAGE.read_text(encoding="utf-8")
    return _steps(text if through_postgresql else text.split(POSTGRESQL_SECTION)[0])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = build(out, "--wheel")
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("dualdb-*.whl")
    return found


def _environment(project: Path) -> dict[str, str]:
    """The environment of a shell with the project's .venv activated, no dualdb setting."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DB_", "SQLITE_", "DUALDB_", "PYTHON", "VIRTUAL_ENV"))
        and key != "DATABASE_URL"
    }
    env["VIRTUAL_ENV"] = str(project / ".venv")
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _follow(steps: list[Step], project: Path, wheel: Path, url: str) -> str:
    """Run the steps as the page says; return everything the programs printed."""
    env = _environment(project)
    printed = []
    for step in steps:
        if step.file is not None:
            (project / step.file).write_text(step.content, encoding="utf-8")
            continue
        assert step.command is not None
        command = step.command.replace(PAGE_URL, url)
        if command == "python -m venv .venv":
            command = f"{sys.executable} -m venv .venv"  # (this suite's Python, not PATH's)
        elif command == ". .venv/bin/activate":
            continue  # _environment is the activated shell's
        elif command.startswith("pip install "):
            command = f'pip install --quiet "{wheel}[postgresql]"'
        elif command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            env[name] = value.strip('"')
            continue
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"$ {command}\n{done.stdout}{done.stderr}"
        printed.append(done.stdout)
    return "".join(printed)


def test_the_page_still_has_the_steps_this_test_follows() -> None:
    steps = _page(through_postgresql=True)
    commands = [step.command for step in steps if step.command]

    assert commands[:3] == ["python -m venv .venv", ". .venv/bin/activate", commands[2]]
    assert commands[2].startswith("pip install ")
    assert {"dualdb init", "dualdb migrate", "dualdb check", "python app.py"} <= set(commands)
    assert f'export DATABASE_URL="{PAGE_URL}"' in commands
    assert [step.file for step in steps if step.file] == ["app.py", "plan.py"]


@pytest.mark.not_through_pgbouncer("installs a package: nothing of it goes through PgBouncer")
def test_a_new_user_follows_getting_started_from_the_wheel(
    backend: str, database_url: str, wheel: Path, tmp_path: Path
) -> None:
    project = tmp_path / "myapp"
    project.mkdir()
    on_postgresql = backend == "postgresql"

    printed = _follow(_page(on_postgresql), project, wheel, driver_url(database_url))

    assert "signed up ada@example.com" in printed
    assert "logged in as Ada on sqlite" in printed
    assert "Ada is on the free plan" in printed
    if on_postgresql:
        assert "logged in as Ada on postgresql" in printed
        assert printed.count("signed up ada@example.com") == 2  # a new database, a new user
    installed = project / ".venv" / "lib"
    assert list(installed.glob("python3.*/site-packages/dualdb/migrations/0001_users.py"))
    assert not (project / "migrations" / "0001_users.py").exists()  # shipped, not copied
