"""Every relative link in README.md and docs/*.md leads to a file of this repository
(and a #fragment to a heading there): the docs must work in a fresh clone, where
nothing outside the checkout (../shared, say) exists. Pure: files only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:


def links(text: str) -> list[str]:
    """The link targets of Markdown `text`, code blocks and code spans left out."""
    return LINK.findall(CODE.sub("", FENCE.sub("", text)))


def anchors(text: str) -> set[str]:
    """GitHub's ids of the headings in `text`: lower case, punctuation dropped,
    spaces as hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", text), re.M):
        plain = re.sub(r"[`*_\[\]()]", "", heading).strip().lower()
        found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", plain)))
    return found


def broken(doc: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for target in links(doc.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if file != root and root not in file.parents:
            problems.append(f"{target}: outside the repository")
        elif not file.exists():
            problems.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(
                file.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{fragment} in {file.name}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_in_the_repository(doc):
    assert broken(doc) == []


def test_the_readme_links_the_docs_a_user_needs():
    targets = set(links((ROOT / "README.md").read_text(encoding="utf-8")))
    for needed in ("docs/architecture.md", "docs/saga.md", "docs/invariants.md",
                   "docs/http-api.md"):
        assert needed in targets, needed


def test_a_broken_link_is_found(tmp_path):
    tmp_path = tmp_path.resolve()
    doc = tmp_path / "README.md"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A title\n")
    doc.write_text("[ok](docs/a.md#a-title) [gone](docs/b.md) [up](../shared/DESIGN.md) "
                   "[frag](docs/a.md#nope) `[code](not/checked.md)` [web](https://x.y/z)\n")
    assert broken(doc, tmp_path) == ["docs/b.md: no such file",
                           "../shared/DESIGN.md: outside the repository",
                           "docs/a.md#nope: no heading #nope in a.md"]
