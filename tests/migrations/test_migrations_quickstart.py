"""``scripts/quickstart``, the README's first command, on a copy of the repository."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from _migrate_helpers import REPO, clean_env, run


def _copy_of_repository(root: Path) -> Path:
    """The files quickstart uses, plus a stand-in for the installed ``.venv``.

    The stand-in shares this venv's interpreter and site-packages (where dualdb is installed
    in editable mode) and carries quickstart's "installed" stamp, so the copy neither
    reinstalls nor repoints the real editable install.
    """
    for name in ("migrations", "seeds", "scripts"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "yoyo.ini"):
        shutil.copy(REPO / name, root / name)
    (root / "data").mkdir()
    venv, real_venv = root / ".venv", Path(sys.prefix)
    (venv / "bin").mkdir(parents=True)
    shutil.copy(real_venv / "pyvenv.cfg", venv / "pyvenv.cfg")
    os.symlink(os.path.realpath(sys.executable), venv / "bin" / "python")
    os.symlink(real_venv / "lib", venv / "lib")
    (venv / ".dualdb-installed").touch()
    return root


def test_quickstart_migrates_seeds_and_summarises_the_sqlite_database(tmp_path: Path) -> None:
    root = _copy_of_repository(tmp_path / "clone")
    # A configured PostgreSQL must not matter: quickstart always uses ./data/app.db.
    env = clean_env(DATABASE_URL="postgresql://nobody:secret@127.0.0.1:1/nothing")
    result = run(["bash", "scripts/quickstart"], cwd=root, env=env)
    assert result.returncode == 0, result.output
    assert (root / "data" / "app.db").is_file()
    summary = result.stdout.split("==> summary", 1)[1]
    assert "user admin@example.com (admin)" in summary
    assert "github account 1000001 linked to user@example.com" in summary
    assert "Rows now:" in summary
    assert "Pending (0): none" in result.stdout


def test_quickstart_can_run_again(tmp_path: Path) -> None:
    root = _copy_of_repository(tmp_path / "clone")
    assert run(["bash", "scripts/quickstart"], cwd=root, env=clean_env()).returncode == 0
    again = run(["bash", "scripts/quickstart"], cwd=root, env=clean_env())
    assert again.returncode == 0, again.output
    assert "Nothing to apply" in again.stdout
