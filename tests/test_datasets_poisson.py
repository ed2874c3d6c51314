"""Bundled count data sets and the Poisson-regression-mixture simulator."""

from __future__ import annotations

import numpy as np
import pytest

from emfit.datasets import (
    PATENT_COLUMNS,
    SEIZURE_COLUMNS,
    load_patents,
    load_seizures,
    make_poisson_regression_mixture,
)


def test_load_patents():
    d = load_patents()
    assert tuple(d) == PATENT_COLUMNS
    for v in d.values():
        assert v.shape == (70,)
    assert d["Patents"].dtype == np.int64
    assert d["RDS"].dtype == np.float64 and d["lgRD"].dtype == np.float64
    assert d["Company"][0] == "ABBOTT LABORATORIES"
    assert d["Company"][1] == "AFFILIATED HOSPITAL PRDS"
    assert not any(c.endswith(" ") for c in d["Company"])
    assert (int(d["Patents"][0]), float(d["RDS"][0]), float(d["lgRD"][0])) == (42, 0.0549, 4.0869)
    assert d["Patents"].min() >= 0
    # New arrays on every call.
    d["Patents"][0] = -1
    assert load_patents()["Patents"][0] == 42


def test_load_seizures():
    d = load_seizures()
    assert tuple(d) == SEIZURE_COLUMNS
    for v in d.values():
        assert v.shape == (140,)
    np.testing.assert_array_equal(d["Day"], np.arange(1, 141))
    assert (int(d["Seizures"][0]), float(d["Hours"][0]), str(d["Treatment"][0])) == (56, 7.0, "No")
    assert set(d["Treatment"].tolist()) == {"No", "Yes"}
    assert (d["Treatment"][:27] == "No").all() and (d["Treatment"][27:] == "Yes").all()
    assert (d["Hours"] > 0).all()


def test_seizures_fit_with_exposure():
    """The data work with the estimator as a Poisson regression with offset log(Hours)."""
    from emfit.poisson import PoissonRegressionMixture

    d = load_seizures()
    X = np.column_stack([d["Treatment"] == "Yes", np.log(d["Day"])]).astype(float)
    model = PoissonRegressionMixture(2, n_init=3, random_state=0).fit(
        X, d["Seizures"], exposure=d["Hours"]
    )
    assert np.isfinite(model.loglik_) and model.converged_


def test_simulator_defaults_are_the_seed_model():
    X, y, labels, truth = make_poisson_regression_mixture(5000, return_truth=True, random_state=0)
    assert X.shape == (5000, 1) and y.shape == (5000,) and labels.shape == (5000,)
    assert y.dtype == np.int64 and (y >= 0).all()
    assert X.min() >= 0 and X.max() <= 2
    np.testing.assert_array_equal(truth["coef"], [[1.0], [2.0]])
    np.testing.assert_array_equal(truth["intercept"], [0.0, 0.0])
    np.testing.assert_array_equal(truth["weights"], [0.4, 0.6])
    assert abs(labels.mean() - 0.6) < 0.03
    # Conditional means match exp(beta_k x).
    for k, beta in enumerate([1.0, 2.0]):
        sel = labels == k
        assert y[sel].mean() == pytest.approx(np.exp(beta * X[sel, 0]).mean(), rel=0.05)


def test_simulator_is_reproducible_and_supports_exposure():
    a = make_poisson_regression_mixture(100, random_state=1)
    b = make_poisson_regression_mixture(100, random_state=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    e = np.full(2000, 10.0)
    X, y, labels = make_poisson_regression_mixture(
        2000, coef=[[0.0, 0.0]], intercept=[0.0], weights=[1.0], exposure=e, random_state=2
    )
    assert X.shape == (2000, 2) and (labels == 0).all()
    assert y.mean() == pytest.approx(10.0, rel=0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [0.5, 0.6]}, "weights"),
        ({"weights": [1.0]}, "weights"),
        ({"intercept": [0.0]}, "intercept"),
        ({"x_range": (1.0, 1.0)}, "x_range"),
        ({"exposure": [1.0, 1.0]}, "exposure"),
        ({"coef": [1.0, 2.0]}, "coef"),
    ],
)
def test_simulator_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_poisson_regression_mixture(10, **kwargs)


def test_simulator_random_stream_is_unchanged_without_a_design():
    X, y, labels = make_poisson_regression_mixture(20, random_state=3)
    assert X[:3, 0].tolist() == [0.17129833428724872, 0.4736210131921994, 1.6025489304127938]
    assert y.tolist() == [4, 2, 5, 4, 0, 7, 8, 1, 6, 1, 1, 5, 4, 11, 1, 46, 2, 19, 14, 1]
    assert labels.tolist() == [0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0]
    X, y, labels = make_poisson_regression_mixture(
        6,
        coef=[[0.5, -0.2], [1.0, 0.3]],
        intercept=[0.1, 0.2],
        exposure=np.arange(1, 7.0),
        random_state=4,
    )
    assert X[0].tolist() == [1.8861122111447353, 1.0226551056287232]
    assert y.tolist() == [7, 20, 15, 13, 52, 51]
    assert labels.tolist() == [1, 1, 1, 0, 1, 1]


def test_simulator_fixed_design():
    design = np.repeat([0.0, 1.0, 2.0], 4000)
    X, y, labels, truth = make_poisson_regression_mixture(
        X=design, intercept=[0.5, 1.0], return_truth=True, random_state=0
    )
    assert X.shape == (12000, 1) and y.shape == (12000,) and labels.shape == (12000,)
    np.testing.assert_array_equal(X[:, 0], design)
    assert X.base is not design and not np.shares_memory(X, design)
    for k in range(2):
        for v in (0.0, 1.0, 2.0):
            sel = (labels == k) & (X[:, 0] == v)
            lam = np.exp(truth["intercept"][k] + truth["coef"][k, 0] * v)
            assert y[sel].mean() == pytest.approx(lam, rel=0.06)
    # 2-d design, explicit matching n_samples, reproducible.
    X2 = np.column_stack([design[:50], -design[:50]])
    a = make_poisson_regression_mixture(50, X=X2, coef=[[1.0, 0.5], [0.2, 0.1]], random_state=1)
    b = make_poisson_regression_mixture(X=X2, coef=[[1.0, 0.5], [0.2, 0.1]], random_state=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[0], X2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 5, "X": np.zeros(4)}, "n_samples"),
        ({"X": np.zeros((4, 2))}, "X"),
        ({"X": [0.0, np.nan]}, "X"),
        ({"X": np.zeros((2, 2, 2))}, "X"),
    ],
)
def test_simulator_bad_design(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_poisson_regression_mixture(**kwargs)
