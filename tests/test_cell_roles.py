"""Every code cell has one role, which decides how the website and the PDF show it;
the PDF's paper comes from EMFIT_PAPER.

The roles and what the book does with them are described in ``_ext/emfit_book.py``
(item 7): the website collapses ``plot`` and ``plumbing`` cells (``hide-input``); the PDF
handout prints the source of ``derivation`` cells only.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
from conftest import NOTEBOOKS


_spec = importlib.util.spec_from_file_location("emfit_book", ROOT / "_ext" / "emfit_book.py")
emfit_book = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emfit_book)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_has_exactly_one_role(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for cell in (c for c in cells if c["cell_type"] == "code"):
        tags = set(cell["metadata"].get("tags", []))
        roles = tags & emfit_book.CELL_ROLES
        start = "".join(cell["source"])[:60]
        assert len(roles) == 1, f"{notebook.stem}: {start!r} has roles {sorted(roles)}"
        collapsed = "hide-input" in tags
        assert collapsed == bool(roles & {"plot", "plumbing"}), f"{notebook.stem}: {start!r}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_derivation_cells_use_sympy_and_plot_cells_draw(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for cell in (c for c in cells if c["cell_type"] == "code"):
        tags, source = set(cell["metadata"].get("tags", [])), "".join(cell["source"])
        if "derivation" in tags:
            assert "sp." in source or "sympy" in source, source[:80]
        if "plot" in tags:
            assert "plt." in source or "ax" in source or "house_style" in source, source[:80]


def test_the_pdf_prints_the_source_of_derivations_only():
    assert emfit_book.CELL_ROLES - emfit_book.ROLES_WITHOUT_SOURCE_IN_PRINT == {"derivation"}


@pytest.mark.parametrize(("value", "option"), [(None, "a4paper"), ("a4", "a4paper"),
                                               ("Letter", "letterpaper")])
def test_the_paper_comes_from_emfit_paper(monkeypatch, value, option):
    if value is None:
        monkeypatch.delenv("EMFIT_PAPER", raising=False)
    else:
        monkeypatch.setenv("EMFIT_PAPER", value)
    assert emfit_book.PAPERS[emfit_book.paper()] == option


def test_an_unknown_paper_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("EMFIT_PAPER", "a5")
    with pytest.raises(ValueError, match="EMFIT_PAPER must be one of"):
        emfit_book.paper()
