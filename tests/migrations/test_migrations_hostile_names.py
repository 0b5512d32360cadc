"""A migration's name never becomes code: ``dualdb new`` refuses any name but letters,
digits, ``_`` and ``-``, and the files it writes hold nothing of the name but its slug.

Names reach ``dualdb new`` from scripts, chat-ops bots and CI parameters; a quote or a
newline written into a generated file would run as SQL on the next ``dualdb migrate``, or
as Python on every later ``dualdb status``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from _migrate_helpers import Result
from hypothesis import given, settings
from hypothesis import strategies as st

from dualdb import ConfigurationError
from dualdb.migrate.scaffold import new_migration

HOSTILE = [
    "x; DELETE FROM users; --",
    'x"""\nimport os\nos.system("id")\n"""',
    "x\nDELETE FROM users;",
    "../../etc/passwd",
    "x\x00y",
    "{title}{depends}",
    "%s%n",
    "a" * 81,
    "add\u202ephone",
    "ümlaut",
    "",
    " leading",
]


def _executable_parts(path: Path) -> list[str]:
    """What of a generated migration would run: SQL outside comments, or Python
    statements other than the template's docstring, imports, ``__depends__`` and an
    empty ``steps``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".sql":
        return [line for line in text.splitlines() if line.strip() and not line.startswith("--")]
    found = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom | ast.Import):
            continue
        if isinstance(node, ast.AnnAssign) and ast.unparse(node) == "steps: list[object] = []":
            continue
        if (
            isinstance(node, ast.AnnAssign)
            and ast.unparse(node.target) == "__depends__"
            and node.value is not None
            and (
                ast.unparse(node.value) == "set()"  # (when it depends on none)
                or (
                    isinstance(node.value, ast.Set)
                    and all(isinstance(e, ast.Constant) for e in node.value.elts)
                )
            )
        ):
            continue
        found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("python", [False, True], ids=["sql", "python"])
@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_a_hostile_migration_name_is_refused_and_nothing_is_written(
    tmp_path: Path, name: str, python: bool
) -> None:
    with pytest.raises(ConfigurationError, match="migration name") as raised:
        new_migration(tmp_path / "migrations", name, python=python)
    assert "\n" not in str(raised.value) and "\x00" not in str(raised.value)
    assert not (tmp_path / "migrations").exists() or not any((tmp_path / "migrations").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["migrations"])


@settings(max_examples=200)
@given(name=st.text(max_size=100), python=st.booleans())
def test_any_name_is_refused_or_gives_files_that_run_nothing(
    tmp_path_factory: pytest.TempPathFactory, name: str, python: bool
) -> None:
    folder = tmp_path_factory.mktemp("project") / "migrations"
    try:
        created = new_migration(folder, name, python=python)
    except ConfigurationError:
        assert not folder.exists() or not any(folder.iterdir())
        return
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\- ]{0,79}", name)
    for path in created:
        assert path.parent == folder
        assert re.fullmatch(r"0001_[a-z0-9_]+(\.rollback)?\.(sql|py)", path.name)
        assert _executable_parts(path) == []


def test_the_command_refuses_a_hostile_name_with_its_configuration_exit_code(
    dualdb: Callable[..., Result], project: Path
) -> None:
    before = sorted(p.name for p in (project / "migrations").iterdir())
    result = dualdb("new", "x; DELETE FROM users; --")
    assert result.returncode == 2, result.output
    assert "migration name" in result.stderr
    assert sorted(p.name for p in (project / "migrations").iterdir()) == before


def test_a_name_of_words_still_makes_a_readable_title(tmp_path: Path) -> None:
    (created, _) = new_migration(tmp_path, "Add user-phone to users")
    assert created.name == "0001_add_user_phone_to_users.sql"
    assert created.read_text().splitlines()[0] == "-- Add user phone to users."
