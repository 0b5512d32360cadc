"""Every code block of the docs site (``docs/*.md``) and of the README runs as written, on
both backends.

A page's ```python blocks run in order in one namespace (top-level ``await`` allowed), and
its shell blocks that call ``dualdb`` or ``yoyo`` run between them, in a temporary project
folder holding a copy of ``migrations/`` and ``yoyo.ini``. The environment names a freshly
migrated database, so a page connects itself (``db = await dualdb.connect()``).

Two markers, as a block's first line, change what happens to it:

- ``# docs: file: <path>``: the block is a file of the project (a migration), written to
  that path in the project folder for the blocks after it to use;
- ``# docs: skip-run: <why>``: the block is shown, not run (keep these rare).

Any other ``# docs:`` line fails, so a typo cannot silently turn a block off.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
ALL_PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
#: Pages that a test of their own follows step by step (the tutorial installs the wheel into
#: a new virtual environment and runs its programs as scripts): not run here.
OWN_TEST = {"getting-started.md": "tests/test_getting_started.py"}
PAGES = [page for page in ALL_PAGES if page.name not in OWN_TEST]
BIN = Path(sys.executable).parent

PYTHON = {"python", "py"}
SHELL = {"bash", "sh", "shell", "console"}
MARKER = "# docs:"
SKIP = "# docs: skip-run:"
FILE = "# docs: file:"
#: The blocks shown but not run, all pages together: keep it small.
MAX_SKIPPED = 4

#: A fence at any indentation (blocks inside list items are indented).
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S
)
#: A command a shell block runs for real: ``dualdb …`` or ``yoyo …``.
RUNS_TOOL = re.compile(r"^(?:\$ )?(?:dualdb|yoyo)\b", re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str

    @property
    def skipped(self) -> bool:
        return self.code.startswith(SKIP)

    @property
    def file(self) -> str | None:
        first = self.code.split("\n", 1)[0]
        return first.removeprefix(FILE).strip() if first.startswith(FILE) else None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(page, line, match["lang"].lower(), code))
    return found


def _checked_marker(block: Block) -> None:
    first = block.code.split("\n", 1)[0]
    if first.startswith(MARKER):
        argument = first.removeprefix(SKIP if first.startswith(SKIP) else FILE).strip()
        assert first.startswith((SKIP, FILE)) and argument, (
            f"{block.where}: unknown docs marker {first!r}; the markers are "
            f"'{SKIP} <why it cannot run>' and '{FILE} <path in the project>'"
        )


def _project(root: Path) -> Path:
    """A project folder as the docs assume one: migrations/, yoyo.ini and data/."""
    shutil.copytree(
        REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "yoyo.ini", root / "yoyo.ini")
    (root / "data").mkdir()
    return root


async def _run_python(block: Block, module: ModuleType) -> None:
    # Leading newlines keep the page's line numbers in tracebacks.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, module.__dict__)  # noqa: S307 - our own docs
    if code.co_flags & inspect.CO_COROUTINE:
        await result


async def _run_shell(block: Block, cwd: Path, env: dict[str, str]) -> None:
    if block.lang == "console":
        lines = [line[2:] for line in block.code.splitlines() if line.startswith("$ ")]
    else:
        lines = block.code.splitlines()
    # Installing is what tests/test_getting_started.py does, from the built wheel into a
    # new environment; here dualdb is installed already (this suite's environment).
    lines = [line for line in lines if not line.startswith("pip install ")]
    script = "set -euo pipefail\n" + "\n".join(lines)
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, f"{block.where} failed:\n{output.decode()}"


def _environment(backend: str, url: str) -> dict[str, str]:
    """The process environment without dualdb settings, then the page's database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("DB_", "SQLITE_", "DUALDB_TOKEN"))
    }
    env.update(DB_TYPE=backend, DATABASE_URL=url)
    if url.startswith("sqlite:///"):
        env["SQLITE_FILE"] = url.removeprefix("sqlite:///")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
async def test_page_runs_as_written(
    page: Path,
    backend: str,
    migrated_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _environment(backend, migrated_database_url)
    for key in os.environ.keys() - env.keys():
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)

    module = ModuleType(f"docs_{page.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    try:
        for block in blocks(page):
            _checked_marker(block)
            if block.skipped:
                continue
            if block.file is not None:
                (project / block.file).write_text(block.code, encoding="utf-8")
            elif block.lang in PYTHON:
                await _run_python(block, module)
            elif block.lang in SHELL and RUNS_TOOL.search(block.code):
                await _run_shell(block, project, env)
    finally:
        del sys.modules[module.__name__]


def test_few_blocks_are_shown_without_running() -> None:
    skipped = [b.where for page in ALL_PAGES for b in blocks(page) if b.skipped]
    assert len(skipped) <= MAX_SKIPPED, skipped


def test_every_docs_page_has_code_that_runs_or_none_that_looks_runnable() -> None:
    """A ```python block is the only way to show Python on a page: an untagged fence or
    another spelling would not be executed."""
    odd = [
        b.where
        for page in ALL_PAGES
        for b in blocks(page)
        if b.lang not in PYTHON | SHELL | {"text", "ini", "json", "yaml", "toml", "sql"}
    ]
    assert not odd, f"fences with no or an unknown language: {odd}"
