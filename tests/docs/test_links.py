"""Links in README.md and docs/ stay inside the repository, and their anchors exist.

A link into a page that is present must name one of its headings; no link may leave
the checkout (a clone has nothing beside it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+ (.*)$", re.MULTILINE)
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    headings = _HEADING.findall(_FENCED.sub("", page.read_text()))
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_stay_in_the_repository_and_hit_their_anchors(page: Path) -> None:
    for target in _LINK.findall(_FENCED.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        assert destination.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        if anchor and destination.exists():
            assert anchor in anchors(destination), f"{page.name}: no #{anchor} in {path}"
