"""Every relative link in the repository's Markdown resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")
SKIP_DIRS = {".venv", "node_modules", "build", ".git", ".pytest_cache"}


def markdown_files() -> list[Path]:
    return [p for p in REPO.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(REPO).parts)]


def test_relative_links_resolve_inside_the_repository() -> None:
    broken = []
    for md in markdown_files():
        for target in LINK.findall(md.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # URLs and in-page anchors
            path = (md.parent / target.split("#", 1)[0]).resolve()
            if not path.exists() or (REPO.resolve() not in path.parents and path != REPO):
                broken.append(f"{md.relative_to(REPO)}: {target}")
    assert not broken, broken


def test_the_design_document_is_in_the_repository() -> None:
    assert (REPO / "docs" / "design.md").read_text().count("## ") >= 6
    assert "docs/design.md" in (REPO / "README.md").read_text()
