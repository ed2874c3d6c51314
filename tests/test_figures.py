"""Every figure of every chapter is numbered, described and referenced.

A figure is a code cell whose stored outputs include a PNG. Its cell metadata names it
(``mystnb.figure.name``), gives it a caption (``mystnb.figure.caption``, which Sphinx
numbers "Figure N" on the site and in the PDF) and alt text (``mystnb.image.alt``);
the chapter's prose refers to it with ``{numref}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from conftest import NOTEBOOKS


def figure_cells(cells: list[dict]) -> list[dict]:
    return [
        cell for cell in cells
        if cell["cell_type"] == "code"
        and any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_name_caption_alt_text_and_a_reference(notebook):
    chapter = notebook.stem
    cells = json.loads(notebook.read_text())["cells"]
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    referenced = set(re.findall(r"\{numref\}`(?:[^`<]*<)?([^`>]+)>?`", prose))
    figures = figure_cells(cells)
    names = []
    for cell in figures:
        mystnb = cell["metadata"].get("mystnb", {})
        figure, image = mystnb.get("figure", {}), mystnb.get("image", {})
        source = "".join(cell["source"])[:60]
        assert figure.get("name", "").startswith("fig-"), f"{chapter}: unnamed figure in {source!r}"
        assert len(figure.get("caption", "")) > 10, f"{chapter}: no caption for {figure.get('name')}"
        assert len(image.get("alt", "")) > 40, f"{chapter}: alt text too short for {figure['name']}"
        names.append(figure["name"])
    assert len(set(names)) == len(names), f"{chapter}: figure names repeat"
    assert set(names) <= referenced, f"{chapter}: never referenced: {sorted(set(names) - referenced)}"


def test_the_reference_pattern_finds_plain_and_titled_references():
    text = "see {numref}`fig-a` and {numref}`Figure %s, left <fig-b>`"
    assert set(re.findall(r"\{numref\}`(?:[^`<]*<)?([^`>]+)>?`", text)) == {"fig-a", "fig-b"}
