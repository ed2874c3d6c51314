"""The code the book shows is the code that runs.

Every ``literalinclude`` of ``src/emfit`` in the chapters names a function with
``:pyobject:`` and leaves its docstring out (``:no-docstring:``, see
``_ext/emfit_book.py``). A private function shown must be executed when the book's
estimators are fitted and their standard errors computed (traced here); a public
one must be in its module's ``__all__`` and called by a chapter. The SymPy helpers of
``emfit.symbolic`` are derivations, shown as such.
"""

from __future__ import annotations

import importlib
import re
import sys
import warnings

import nbformat
import numpy as np
import pytest

from conftest import ROOT
from emfit import BernoulliMixture, GaussianMixture, PoissonRegressionMixture
from emfit.datasets import load_faithful, make_poisson_regression_mixture
from emfit.em import ConvergenceWarning

INCLUDE = re.compile(r"```\{literalinclude\} \.\./src/emfit/(\S+)\.py\n((?::[\w-]+:[^\n]*\n)*)")


def includes() -> list[tuple[str, str, str, str]]:
    """(chapter, module path, pyobject, options) of every literalinclude of emfit."""
    found = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for module, options in INCLUDE.findall(cell.source):
                    pyobject = re.search(r":pyobject: (\S+)", options)
                    found.append((path.stem, module, pyobject[1] if pyobject else "", options))
    return found


INCLUDES = includes()


def chapter_code() -> str:
    return "\n".join(
        cell.source
        for path in (ROOT / "chapters").glob("*.ipynb")
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code"
    )


@pytest.fixture(scope="module")
def executed() -> set[tuple[str, str]]:
    """(module path, function) of every emfit function run by the book's fits."""
    seen: set[tuple[str, str]] = set()

    def profile(frame, event, arg):
        if event == "call" and "/emfit/" in frame.f_code.co_filename:
            module = frame.f_code.co_filename.rsplit("/emfit/", 1)[1].removesuffix(".py")
            seen.add((module, frame.f_code.co_name))

    faithful = load_faithful()
    X, y, _ = make_poisson_regression_mixture(300, random_state=0)
    binary = (np.random.default_rng(0).random((100, 3)) < 0.5).astype(float)
    sys.setprofile(profile)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GaussianMixture(2, random_state=0).fit(faithful)
            model = PoissonRegressionMixture(2, random_state=0).fit(X, y)
            model.standard_errors(X, y)
            model.observed_information(X, y, method="louis")
            PoissonRegressionMixture(2, m_step="gradient", max_iter=5, random_state=0).fit(X, y)
            PoissonRegressionMixture(2, init="residual", random_state=0).fit(X, y)
            BernoulliMixture(2, random_state=0).fit(binary)
    finally:
        sys.setprofile(None)
    return seen


def test_the_chapters_show_library_code():
    assert len(INCLUDES) >= 10
    assert {module for _, module, _, _ in INCLUDES} >= {"em", "gaussian", "poisson/glm"}


@pytest.mark.parametrize("chapter, module, pyobject, options", INCLUDES, ids=lambda v: v if isinstance(v, str) and "\n" not in v else "")
def test_each_shown_function_is_the_one_that_runs(executed, chapter, module, pyobject, options):
    assert pyobject, f"{chapter}: include {module}.py by :pyobject:, not by line numbers"
    assert ":no-docstring:" in options, f"{chapter}: show {pyobject} without its docstring"
    mod = importlib.import_module("emfit." + module.replace("/", "."))
    assert hasattr(mod, pyobject.split(".")[0]), f"{pyobject} is not in emfit.{module}"
    if module == "symbolic":
        return
    if pyobject.startswith("_"):
        assert (module, pyobject) in executed, f"{chapter} shows {pyobject}, which fitting never runs"
    else:
        assert pyobject in mod.__all__, pyobject
        assert (module, pyobject) in executed or re.search(rf"\b{pyobject}\(", chapter_code()), (
            f"{chapter} shows {pyobject}, which neither fitting nor a chapter runs"
        )
