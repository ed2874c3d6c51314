"""summary() of GaussianMixture and BernoulliMixture: one row per parameter, criteria in attrs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from emfit import BernoulliMixture, GaussianMixture


def _check_layout(table):
    assert isinstance(table, pd.DataFrame)
    assert table.columns.tolist() == ["estimate"]
    assert table.index.names == ["component", "parameter"]
    assert table["estimate"].dtype == np.float64


def _gaussian_data(seed=0, n=240):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.5
    return rng.normal(size=(n, 3)) + np.where(z[:, None], 0.0, 3.0) * [1.0, -1.0, 2.0]


def _binary_data(seed=0, n=800):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    return rng.random((n, 3)) < np.where(z[:, None], 0.8, 0.1)


def _check_attrs(model, table, *data, **kw):
    attrs = table.attrs
    assert set(attrs) == {"loglik", "aic", "bic", "n_parameters", "n_samples"}
    assert attrs["loglik"] == model.loglik_
    assert attrs["n_samples"] == len(data[0])
    assert attrs["n_parameters"] == model._n_parameters()
    assert attrs["aic"] == pytest.approx(model.aic(*data, **kw), rel=1e-10)
    assert attrs["bic"] == pytest.approx(model.bic(*data, **kw), rel=1e-10)
    # one row per free parameter, and one for the weight fixed by the others
    constant_weights = "Z" not in kw
    assert len(table) == attrs["n_parameters"] + constant_weights


def table_parameters(model):
    return model.summary().index.get_level_values("parameter").tolist()


# ------------------------------------------------------------------------ Gaussian
def _expected_gaussian_rows(gm, names):
    """(component, parameter, estimate) written out from the fitted attributes."""
    K, d = gm.means_.shape
    kind = gm.covariance_type
    rows = []

    def matrix(cov, k):
        return [
            (k, f"var[{names[i]}]" if i == j else f"cov[{names[i]},{names[j]}]", cov[i, j])
            for i in range(d)
            for j in range(i, d)
        ]

    for k in range(K):
        rows.append((k, "weight", gm.weights_[k]))
        rows += [(k, f"mean[{names[j]}]", gm.means_[k, j]) for j in range(d)]
        if kind == "full":
            rows += matrix(gm.covariances_[k], k)
        elif kind == "diag":
            rows += [(k, f"var[{names[j]}]", gm.covariances_[k, j]) for j in range(d)]
        elif kind == "spherical":
            rows.append((k, "var", gm.covariances_[k]))
    if kind == "tied":
        rows += matrix(gm.covariances_, "all")
    return rows


def _rows(table):
    return [(c, p, e) for (c, p), e in zip(table.index, table["estimate"])]


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "fixed"])
def test_gaussian_summary_rows_and_attrs(covariance_type):
    X = _gaussian_data()
    variance = 1.0 if covariance_type == "fixed" else None
    gm = GaussianMixture(
        2, covariance_type=covariance_type, variance=variance, random_state=0
    ).fit(X)
    table = gm.summary()
    _check_layout(table)
    assert _rows(table) == _expected_gaussian_rows(gm, ["x1", "x2", "x3"])
    _check_attrs(gm, table, X)


def test_gaussian_summary_full_names_upper_triangle():
    gm = GaussianMixture(1, random_state=0).fit(_gaussian_data()[:, :2])
    assert table_parameters(gm) == [
        "weight", "mean[x1]", "mean[x2]", "var[x1]", "cov[x1,x2]", "var[x2]"
    ]


def test_gaussian_summary_tied_covariance_has_no_component():
    gm = GaussianMixture(2, covariance_type="tied", random_state=0).fit(_gaussian_data())
    table = gm.summary()
    shared = table.loc["all"]
    assert shared.index.str.match(r"(var|cov)\[").all() and len(shared) == 6
    assert shared.loc["cov[x1,x3]", "estimate"] == gm.covariances_[0, 2]
    assert len(table) - len(shared) == 2 * (1 + 3)


def test_gaussian_summary_uses_feature_names():
    X = pd.DataFrame(_gaussian_data(), columns=["height", "weight", "age"])
    gm = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    names = table_parameters(gm)
    assert "mean[height]" in names and "cov[weight,age]" in names and "var[age]" in names
    _check_attrs(gm, gm.summary(), X)
    gm.fit(X.to_numpy())  # refitted on an array: generic names again
    assert "mean[x1]" in table_parameters(gm)


def test_gaussian_summary_from_parameters_has_no_fit_statistics():
    gm = GaussianMixture.from_parameters(
        [0.3, 0.7], [[0.0], [4.0]], [1.0, 2.0], covariance_type="spherical"
    )
    table = gm.summary()
    assert table["estimate"].tolist() == [0.3, 0.0, 1.0, 0.7, 4.0, 2.0]
    assert table.attrs == {
        "loglik": None, "aic": None, "bic": None, "n_parameters": 5, "n_samples": None
    }


def test_gaussian_summary_needs_a_fit():
    with pytest.raises(NotFittedError):
        GaussianMixture(2).summary()


def test_summary_is_a_new_frame_each_time():
    gm = GaussianMixture(2, random_state=0).fit(_gaussian_data())
    table = gm.summary()
    table.loc[(0, "weight"), "estimate"] = -1.0
    table.attrs["loglik"] = 0.0
    assert gm.summary().loc[(0, "weight"), "estimate"] == gm.weights_[0]
    assert gm.summary().attrs["loglik"] == gm.loglik_


# ------------------------------------------------------------------------ Bernoulli
def test_bernoulli_summary_rows_and_attrs():
    X = _binary_data()
    bm = BernoulliMixture(2, random_state=0).fit(X)
    table = bm.summary()
    _check_layout(table)
    expected = []
    for k in range(2):
        expected.append((k, "weight", bm.weights_[k]))
        expected += [(k, f"p[x{j + 1}]", bm.probabilities_[k, j]) for j in range(3)]
    assert _rows(table) == expected
    _check_attrs(bm, table, X)


def test_bernoulli_summary_uses_feature_names():
    X = pd.DataFrame(_binary_data(), columns=["fever", "cough", "rash"])
    bm = BernoulliMixture(2, random_state=0).fit(X)
    assert table_parameters(bm)[:4] == ["weight", "p[fever]", "p[cough]", "p[rash]"]
    _check_attrs(bm, bm.summary(), X)


def test_bernoulli_summary_needs_a_fit():
    with pytest.raises(NotFittedError):
        BernoulliMixture(2).summary()


# ------------------------------------------------------------- concomitant weights
def test_summary_with_concomitant_weights():
    # With weights pi_k(z), the weight rows are the logit coefficients of components
    # 1..K-1 (component 0 is the reference), named as in the Poisson summary.
    X = _gaussian_data()
    Z = np.random.default_rng(7).normal(size=(len(X), 1))
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X, Z=Z)
    table = gm.summary()
    _check_layout(table)
    assert table.loc[0].index.tolist() == [f"{v}[x{j}]" for v in ("mean", "var") for j in (1, 2, 3)]
    assert table.loc[1].index[:2].tolist() == ["(weight intercept)", "(weight) z1"]
    np.testing.assert_array_equal(table.loc[1]["estimate"][:2], gm.concomitant_coef_[1])
    _check_attrs(gm, table, X, Z=Z)
