"""Every public class and function of emfit is documented, with a runnable example.

(The examples themselves are run by test_doctests.py.)
"""

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "emfit.em",
    "emfit.weights",
    "emfit.distributed",
    "emfit.gaussian",
    "emfit.poisson",
    "emfit.poisson.pmf",
    "emfit.poisson.glm",
    "emfit.poisson.likelihood",
    "emfit.poisson.information",
    "emfit.poisson.concomitant",
    "emfit.poisson.inference",
    "emfit.poisson.family",
    "emfit.poisson.estimator",
    "emfit.bernoulli",
    "emfit.datasets",
    "emfit.symbolic",
    "emfit.plotting",
    "emfit.selection",
    "emfit.reporting",
    "emfit.bootstrap",
]


def public_objects():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} must declare its public names in __all__"
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize("qualname, obj", list(public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_object_has_summary_and_example(qualname, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{qualname} has no docstring"
    assert "Examples\n--------" in doc, f"{qualname} has no Examples section"


def test_api_page_lists_every_public_module():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "chapters" / "api.md").read_text()
    for name in PUBLIC_MODULES:
        assert name in page, f"{name} is missing from chapters/api.md"
