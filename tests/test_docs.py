"""The documentation points at what exists: links and paths resolve, anchors exist, and the canvas
example in docs/canvas.md is a valid design."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from app.terraform.canvas import Canvas
from app.terraform.catalog import load_catalog
from app.terraform.validate import validate

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PATH = re.compile(r"`(\.\./[^`\s]+|docs/[^`\s]+\.md)`")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_and_paths_resolve(doc: Path) -> None:
    text = doc.read_text()
    targets = [t for t in _LINK.findall(text) if not t.startswith(("http://", "https://", "mailto:"))]
    targets += _PATH.findall(text)
    broken = []
    for target in targets:
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(), re.MULTILINE)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(target)
    assert broken == []


def test_the_canvas_example_is_a_valid_design() -> None:
    text = (ROOT / "docs" / "canvas.md").read_text()
    example = re.search(r"```json\n(.*?)```", text, re.DOTALL)
    assert example is not None
    canvas = msgspec.convert(json.loads(example.group(1)), Canvas)
    assert validate(canvas, load_catalog(None)).problems == []
