"""The prose prints every glued number with the precision it was rounded to.

`glue_number(name, value, spec)` rounds at the source; the prose shows the value
with `{glue:text}`name:spec``. If the two specs differed, the prose could show
digits that were rounded away (".4f" of a value rounded to ".2f" prints two
made-up zeros) or hide the rounding the code chose. `glue_bound` glues text, shown
without a spec.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

from conftest import NOTEBOOKS
ROLE = re.compile(r"\{glue:text\}`(?:[\w/.-]+::)?(\w+)(?::([^`]*))?`")


def glued(nb) -> dict[str, tuple[str, str | None]]:
    """name -> (function, spec) for every glue call in the notebook's code."""
    found: dict[str, tuple[str, str | None]] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                func = node.func.id
                assert func != "glue", "glue numbers through emfit.reporting, not myst_nb.glue"
                if func in ("glue_number", "glue_bound"):
                    spec = node.args[2] if len(node.args) > 2 else None
                    spec = spec.value if isinstance(spec, ast.Constant) and func == "glue_number" else None
                    key = name_pattern(node.args[0])
                    assert key not in found, f"{key} is glued twice"
                    found[key] = (func, spec)
    return found


def name_pattern(node: ast.expr) -> str:
    """The glue name as a regex: literal, an f-string's pattern, or any name for a variable."""
    if isinstance(node, ast.Constant):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, ast.Constant) else r"\w+" for v in node.values)
    return r"\w+"


def lookup(calls: dict[str, tuple[str, str | None]], name: str) -> tuple[str, str | None]:
    """The glue call of ``name``: an exact name first, then the most specific pattern."""
    if re.escape(name) in calls:
        return calls[re.escape(name)]
    matches = sorted((p for p in calls if re.fullmatch(p, name)), key=len, reverse=True)
    assert matches, f"{{glue:text}}`{name}` has no glue_number/glue_bound"
    return calls[matches[0]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_uses_the_spec_each_number_was_rounded_to(path: Path):
    nb = nbformat.read(path, as_version=4)
    calls = glued(nb)
    used = set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for name, spec in ROLE.findall(cell.source):
            used.add(name)
            func, glued_spec = lookup(calls, name)
            if func == "glue_bound":
                assert not spec, f"{name} is a bound (text): show it without a spec"
            elif glued_spec in ("d", ",d"):
                assert spec in ("", "d", ",d"), f"{name} is an integer, printed with {spec!r}"
            else:
                # the same spec: printing fewer digits would round a rounded number again
                assert spec == glued_spec, f"{name}: glued with {glued_spec!r}, printed with {spec!r}"
    pages = "".join(p.read_text() for p in (ROOT / "chapters").glob("*.md"))
    unused = [p for p in calls if not any(re.fullmatch(p, u) for u in used) and not re.search(p, pages)]
    assert not unused, f"glued but never shown: {unused}"
