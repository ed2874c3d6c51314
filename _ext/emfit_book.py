"""Local Sphinx extension of the emfit notes.

Two small jobs that configuration alone cannot do:

1. **Editions.** The environment variable ``EMFIT_EDITION`` chooses the PDF edition:
   ``instructor`` (default; exercises with solutions, ``emfit-notes.pdf``) or
   ``student`` (solutions left out, ``emfit-notes-student.pdf``). Both come from the
   same sources; the Makefile builds both. ``EMFIT_PAPER`` (``a4``, the default, or
   ``letter``) chooses the paper.
2. **No live-code scripts.** Jupyter Book always loads sphinx-thebe, whose inline
   configuration names a CDN and is emitted twice on incremental builds (a console
   error). The book has no live code, so its scripts are dropped from every page.
3. **API reference.** The fields of a ``NamedTuple`` are already described in its
   docstring's Attributes section; autodoc's extra "Alias for field number N"
   entries are skipped.
4. **Exercise labels in LaTeX.** sphinx-exercise labels an exercise
   ``exercise:<label>`` in LaTeX, while a ``{ref}`` to it links to
   ``<docname>:<label>``, which LaTeX prints as "??". We emit the second label too.
5. **Code without its docstring.** ``literalinclude`` with ``:pyobject:`` takes the
   option ``:no-docstring:``: the chapters show the function that ``fit`` runs, its
   signature and body, while its docstring (the API reference's business) is left
   out. The docstring is found with :mod:`ast`, not by line numbers.
6. **Website-only cells.** A notebook cell tagged ``html-only`` (an animation, which
   paper cannot play) is dropped from the LaTeX builds; the chapter shows a static
   figure of the same content for print.
7. **Cells by role.** Every code cell carries one role tag (``tests/test_cell_roles.py``
   checks it): ``derivation`` (a SymPy check that carries a step of a derivation),
   ``compute`` (a numerical demonstration), ``plot`` (the code of a figure) or
   ``plumbing`` (imports, glue, table formatting). The website shows ``derivation``
   and ``compute`` cells and collapses the others (they also carry ``hide-input``).
   The PDF handout prints the source of ``derivation`` cells only: for the other
   roles it keeps the outputs (figures, tables, printed results) and drops the code,
   which the website and the notebooks carry.
"""

from __future__ import annotations

import ast
import os
import textwrap

from docutils.parsers.rst import directives
from sphinx.directives import code

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms.post_transforms import SphinxPostTransform

EDITIONS = {
    "instructor": ("emfit-notes.tex", ""),
    "student": ("emfit-notes-student.tex", " (student edition)"),
}


def edition() -> str:
    """The edition named by ``EMFIT_EDITION`` (``instructor`` when unset)."""
    name = os.environ.get("EMFIT_EDITION", "instructor").strip().lower() or "instructor"
    if name not in EDITIONS:
        raise ValueError(f"EMFIT_EDITION must be one of {sorted(EDITIONS)}, got {name!r}")
    return name


#: ``EMFIT_PAPER`` (the Makefile's ``PAPER``) to LaTeX's paper option.
PAPERS = {"a4": "a4paper", "letter": "letterpaper"}


def paper() -> str:
    """The paper size named by ``EMFIT_PAPER`` (``a4`` when unset)."""
    name = os.environ.get("EMFIT_PAPER", "a4").strip().lower() or "a4"
    if name not in PAPERS:
        raise ValueError(f"EMFIT_PAPER must be one of {sorted(PAPERS)}, got {name!r}")
    return name


def _configure_edition(app: Sphinx, config: Config) -> None:
    config.hide_solutions = edition() == "student"
    config.latex_elements = {**(config.latex_elements or {}), "papersize": PAPERS[paper()]}


def _name_latex_document(app: Sphinx, env, docnames) -> None:
    # Jupyter Book sets latex_documents after Sphinx is initialised, so the edition's
    # file name and title are applied when reading starts, before anything is written.
    targetname, suffix = EDITIONS[edition()]
    documents = []
    for startdoc, _, title, author, theme, *rest in app.config.latex_documents:
        if not title.endswith(suffix):
            title += suffix
        documents.append((startdoc, targetname, title, author, theme, *rest))
    app.config.latex_documents = documents


def _label_exercises_for_refs(app: Sphinx) -> None:
    from sphinx_exercise import nodes as exercise_nodes

    def visit(self, node):
        # The label Sphinx's {ref} links to, next to the one sphinx-exercise writes.
        self.body.append(self.hypertarget(node.attributes["label"], withdoc=True, anchor=True))
        original_visit(self, node)

    original_visit = exercise_nodes.visit_exercise_enumerable_node
    for node_class in (exercise_nodes.exercise_enumerable_node, exercise_nodes.exercise_node):
        app.add_node(
            node_class,
            override=True,
            latex=(visit, exercise_nodes.depart_exercise_enumerable_node),
        )


def _drop_thebe(app: Sphinx, pagename, templatename, context, doctree) -> None:
    def is_thebe(asset) -> bool:
        text = f"{getattr(asset, 'filename', '') or ''} {asset.attributes.get('body', '')}"
        return "thebe" in text.lower()

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def _skip_namedtuple_aliases(app: Sphinx, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    return None


HTML_ONLY_TAG = "html-only"


#: The id of the API reference's section (chapters/api.md, label ``api``).
API_REFERENCE_ID = "api"
#: Roles whose source the PDF handout leaves out (it keeps their outputs).
ROLES_WITHOUT_SOURCE_IN_PRINT = frozenset({"compute", "plot", "plumbing"})
#: Every role a code cell can have.
CELL_ROLES = ROLES_WITHOUT_SOURCE_IN_PRINT | {"derivation"}


class PrintCells(SphinxPostTransform):
    """LaTeX: drop ``html-only`` cells, the source of cells whose role is not printed,
    and the sections of the API reference."""

    default_priority = 100
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.container)):
            metadata = node.get("cell_metadata") or {}
            tags = set(metadata.get("tags", ()))
            if HTML_ONLY_TAG in tags:
                node.parent.remove(node)
            elif tags & ROLES_WITHOUT_SOURCE_IN_PRINT:
                for child in list(node.children):
                    if child.get("nb_element") == "cell_code_source":
                        node.remove(child)
                if not node.children:
                    node.parent.remove(node)
        # The API reference is the website's: the handout keeps its introduction.
        # (An ``only`` directive cannot do this: MyST lifts the sections out of it.)
        for section in list(self.document.findall(nodes.section)):
            if API_REFERENCE_ID in section["ids"]:
                for child in [c for c in section.children if isinstance(c, nodes.section)]:
                    section.remove(child)


def _without_docstring(lines: list[str]) -> list[str]:
    """The lines of one function or class, less the lines of its docstring."""
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    first = node.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return lines
    return lines[: first.lineno - 1] + lines[first.end_lineno :]


def _pyobject_filter_without_docstring(filter_):
    def pyobject_filter(self, lines, location=None):
        lines = filter_(self, lines, location=location)
        if "no-docstring" in self.options:
            if not self.options.get("pyobject"):
                raise ValueError(":no-docstring: needs :pyobject:")
            lines = _without_docstring(lines)
        return lines

    return pyobject_filter


def setup(app: Sphinx) -> dict:
    code.LiteralInclude.option_spec["no-docstring"] = directives.flag
    if not getattr(code.LiteralIncludeReader.pyobject_filter, "_emfit", False):
        code.LiteralIncludeReader.pyobject_filter = _pyobject_filter_without_docstring(
            code.LiteralIncludeReader.pyobject_filter
        )
        code.LiteralIncludeReader.pyobject_filter._emfit = True
    app.setup_extension("sphinx_exercise")
    app.add_post_transform(PrintCells)
    app.connect("config-inited", _configure_edition, priority=900)
    app.connect("env-before-read-docs", _name_latex_document)
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("autodoc-skip-member", _skip_namedtuple_aliases)
    _label_exercises_for_refs(app)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
