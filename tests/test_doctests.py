"""Every example in emfit's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import emfit

matplotlib.use("Agg")

# walk_packages: the modules of subpackages (emfit.poisson.*) too
MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(emfit.__path__, prefix="emfit.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
