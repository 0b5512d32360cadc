"""The README's "API by example" program runs as written, on both backends."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def example_module() -> ModuleType:
    section = README.read_text().split("## The API by example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    module = ModuleType("readme_api_example")
    exec(compile(code.group(1), str(README), "exec"), module.__dict__)  # noqa: S102 - our docs
    return module


async def test_api_example_runs_and_prints_the_renamed_note(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DB_TYPE", raising=False)
    await example_module().main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("groceries 20")
    assert out[1].endswith(" shopping")
    assert out[2] == "1 note(s)"
