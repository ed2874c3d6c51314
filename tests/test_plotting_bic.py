"""plot_bic: one line per model structure, the best point marked."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from emfit import GaussianMixture  # noqa: E402
from emfit.datasets import load_faithful  # noqa: E402
from emfit.plotting import plot_bic  # noqa: E402
from emfit.selection import select_model  # noqa: E402


@pytest.fixture(scope="module")
def table():
    # BLAS on one thread: waking its threads costs more than these 2x2 fits
    with threadpool_limits(limits=1, user_api="blas"):
        return _table()


def _table():
    grid = {"n_components": [1, 2, 3], "covariance_type": ["full", "diag", "spherical"]}
    est = GaussianMixture(tol=1e-6, max_iter=300, random_state=0)
    return select_model(est, load_faithful(), param_grid=grid).table


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_one_line_per_covariance_type(table, ax):
    out = plot_bic(table, ax=ax)
    assert out is ax and isinstance(out, Axes)
    assert len(ax.lines) == 3
    assert [line.get_label() for line in ax.lines] == [
        "covariance_type=full", "covariance_type=diag", "covariance_type=spherical"
    ]
    for line, kind in zip(ax.lines, ["full", "diag", "spherical"]):
        rows = table[table["covariance_type"] == kind]
        np.testing.assert_array_equal(line.get_xdata(), rows["n_components"])
        np.testing.assert_array_equal(line.get_ydata(), rows["bic"])
        assert line.get_marker() not in (None, "None", "")
    assert len({line.get_marker() for line in ax.lines}) == 3
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "best" in legend


def test_best_point_is_marked(table, ax):
    plot_bic(table, y="icl", ax=ax)
    (best,) = ax.collections
    best_row = table.loc[table["icl"].idxmin()]
    np.testing.assert_array_equal(best.get_offsets(), [[best_row["n_components"], best_row["icl"]]])
    assert ax.get_ylabel() == "ICL (lower is better)"


def test_by_and_default_axes(table):
    fig = plt.figure()
    try:
        ax = plot_bic(table, by=[])
        assert ax is fig.gca()
        assert len(ax.lines) == 1
    finally:
        plt.close(fig)


def test_failed_rows_are_left_out(ax):
    t = pd.DataFrame({
        "n_components": [1, 2, 3], "loglik": [-3.0, -2.0, np.nan], "bic": [10.0, 8.0, np.nan]
    })
    plot_bic(t, ax=ax)
    (line,) = ax.lines
    assert line.get_xdata().tolist() == [1, 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"x": "K"}, "no column 'K'"), ({"y": "BIC"}, "no column 'BIC'"), ({"by": ["nope"]}, "nope")],
)
def test_bad_columns_raise(table, ax, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_bic(table, ax=ax, **kwargs)
