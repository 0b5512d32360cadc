"""The docs site's shape: every page is in the navigation, and every page the navigation
names exists (``mkdocs build --strict`` itself runs in scripts/test)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_page_is_in_the_navigation_and_every_entry_is_a_page() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config.split("\nnav:\n", 1)[1]
    in_nav = set(re.findall(r"^\s+- [^:]+: (\S+\.md)$", nav, re.M))
    on_disk = {path.name for path in (REPO / "docs").glob("*.md")}
    assert in_nav == on_disk


def test_the_readme_links_every_guide_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [
        path.name
        for path in (REPO / "docs").glob("*.md")
        if path.name != "index.md" and f"(docs/{path.name})" not in readme
    ]
    assert not missing
    assert len(readme.encode()) <= 10_000
