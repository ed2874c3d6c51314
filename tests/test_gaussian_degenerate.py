"""GaussianFamily.degeneracy: a singular fitted covariance is flagged, a regular one not.

The hook is called directly, on parameters built without the EM driver where
possible, so these tests do not depend on what the driver does with its answer.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_iris

from emfit import GaussianMixture
from emfit.em import LikelihoodDecreaseWarning, e_step
from emfit.gaussian import (
    DEGENERATE_RTOL,
    GaussianFamily,
    GaussianParams,
    compute_precision_cholesky,
    estimate_gaussian_parameters,
)

SINGULAR = re.compile(
    r"^(component (?P<k>\d+)'s covariance|the tied covariance) is numerically singular: "
    r"(its smallest (eigenvalue|variance) is (?P<ratio>\S+) times its largest \(below 1e-10, "
    r"in units of the data variances\)|it collapsed onto a point: its (largest eigenvalue|"
    r"largest variance|variance) is (?P<size>\S+) times the data variance \(below 1e-20\))"
    r"; increase reg_covar( \(also degenerate: component\(s\) [\d, ]+\))?$"
)


def _params(means, covs):
    """GaussianParams without a Cholesky factor (the hook reads only the covariances)."""
    return GaussianParams(np.asarray(means), np.asarray(covs), np.full(np.shape(covs), np.nan))


def _hard_fit(X, labels, covariance_type, reg_covar=0.0):
    """Weights and M-step parameters of the partition ``labels`` (no EM driver)."""
    K = labels.max() + 1
    nk, means, covs = estimate_gaussian_parameters(
        X, np.eye(K)[labels], reg_covar, covariance_type
    )
    return nk / len(X), _params(means, covs)


def _flagged_component(message):
    match = SINGULAR.match(message or "")
    assert match, message
    return None if match["k"] is None else int(match["k"])


# ----------------------------------------------------------------------------- iris
def _iris():
    data = load_iris()
    return data.data, data.target


def test_iris_em_fixed_point_on_29_equal_petal_widths_is_flagged():
    # 29 setosa flowers have petal width exactly 0.2: a component on them has a
    # covariance that is singular (zero variance along petal width). EM with
    # reg_covar=0 from that partition stays there, at l ~ +785.86 (decided by
    # round-off: the log-determinant of a matrix with eigenvalue ~3e-33).
    X, y = _iris()
    labels = np.where((y == 0) & (X[:, 3] == 0.2), 0, np.where(y == 0, 1, 2))
    assert np.bincount(labels).tolist() == [29, 21, 100]
    family = GaussianFamily("full", reg_covar=0.0)
    weights, params = _hard_fit(X, labels, "full")
    params = GaussianParams(
        params.means, params.covariances, compute_precision_cholesky(params.covariances, "full")
    )
    for _ in range(30):  # EM by the family's hooks, without the driver
        log_resp, loglik = e_step(np.log(weights), family.log_prob(X, params))
        resp = np.exp(log_resp)
        weights, params = resp.mean(axis=0), family.m_step(X, resp, params)
    assert loglik > 700
    assert np.linalg.eigvalsh(params.covariances[0]).min() < 1e-30
    message = family.degeneracy(X, weights, params)
    assert _flagged_component(message) == 0
    assert float(SINGULAR.match(message)["ratio"]) < 1e-30  # singular, not small


@pytest.mark.slow  # 30 restarts: 3 to 5 s
def test_iris_fit_without_regularisation_returns_a_flagged_spike(monkeypatch):
    # The fit of the brief: with the hook switched off (so that a driver that sets
    # degenerate restarts aside returns what it returned before it had the hook), the
    # best of 30 restarts is the spike on 29 points, reached through likelihood
    # decreases (round-off near the singularity). The hook flags it.
    X, _ = _iris()
    monkeypatch.setattr(GaussianFamily, "degeneracy", lambda self, data, weights, params: None)
    with pytest.warns(LikelihoodDecreaseWarning):
        gm = GaussianMixture(
            3, covariance_type="full", n_init=30, reg_covar=0, random_state=0
        ).fit(X)
    monkeypatch.undo()
    assert gm.loglik_ > 700
    spike = int(np.argmin([np.linalg.eigvalsh(c).min() for c in gm.covariances_]))
    assert round(gm.weights_[spike] * len(X)) == 29
    message = GaussianFamily("full", reg_covar=0.0).degeneracy(X, gm.weights_, gm._params())
    assert _flagged_component(message) == spike


def test_regular_iris_fit_is_not_flagged():
    X, _ = _iris()
    gm = GaussianMixture(3, covariance_type="full", n_init=5, random_state=0).fit(X)
    assert gm.loglik_ == pytest.approx(-180.19, abs=0.01)
    assert GaussianFamily("full", reg_covar=gm.reg_covar).degeneracy(
        X, gm.weights_, gm._params()
    ) is None


# ------------------------------------------------------------------ duplicated points
def _with_duplicates(seed=0):
    """60 scattered points and a cluster of 20 copies of one point (labels 0 and 1)."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(60, 2)) * [1.0, 2.0], np.tile([6.0, -4.0], (20, 1))])
    return X, np.repeat([0, 1], [60, 20])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_duplicated_points_are_flagged(covariance_type):
    X, labels = _with_duplicates()
    weights, params = _hard_fit(X, labels, covariance_type)
    message = GaussianFamily(covariance_type, reg_covar=0.0).degeneracy(X, weights, params)
    assert _flagged_component(message) == 1
    assert "collapsed onto a point" in message


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_regularised_duplicates_are_not_flagged(covariance_type):
    # reg_covar=1e-6 keeps the variance of the spike at 1e-6, far above 1e-10 s^2.
    X, labels = _with_duplicates()
    weights, params = _hard_fit(X, labels, covariance_type, reg_covar=1e-6)
    family = GaussianFamily(covariance_type, reg_covar=1e-6)
    assert family.degeneracy(X, weights, params) is None


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_regular_fits_are_not_flagged(covariance_type):
    X, labels = _with_duplicates()
    X[60:] += np.random.default_rng(1).normal(scale=0.5, size=(20, 2))
    weights, params = _hard_fit(X, labels, covariance_type)
    assert GaussianFamily(covariance_type, reg_covar=0.0).degeneracy(X, weights, params) is None


def test_fitted_duplicates_with_default_regularisation_are_not_flagged():
    X, _ = _with_duplicates()
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    family = GaussianFamily("diag", reg_covar=gm.reg_covar)
    assert family.degeneracy(X, gm.weights_, gm._params()) is None


# ------------------------------------------------------------------------------ tied
def test_tied_covariance_singular_within_clusters_is_flagged():
    # Within each cluster x2 is constant (but differs between clusters): the pooled
    # within-cluster covariance is singular though the data vary along x2.
    rng = np.random.default_rng(2)
    x1 = rng.normal(size=80) + np.repeat([0.0, 5.0], 40)
    X = np.column_stack([x1, np.repeat([0.0, 3.0], 40)])
    labels = np.repeat([0, 1], 40)
    weights, params = _hard_fit(X, labels, "tied")
    message = GaussianFamily("tied", reg_covar=0.0).degeneracy(X, weights, params)
    assert message.startswith("the tied covariance is numerically singular: its smallest")
    assert _flagged_component(message) is None


# ------------------------------------------------------------------------------ rules
def test_fixed_variance_is_never_degenerate():
    X, labels = _with_duplicates()
    family = GaussianFamily("fixed", variance=1e-300)
    params = _params(np.array([[0.0, 0.0], [6.0, -4.0]]), np.full(2, 1e-300))
    assert family.degeneracy(X, np.array([0.75, 0.25]), params) is None


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e8])
def test_thresholds_are_relative(scale):
    # Data with variance scale^2 in each feature; the rule is scale free.
    X = scale * np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    s2 = scale**2
    means = np.zeros((2, 2))
    family = GaussianFamily("full", reg_covar=0.0)
    weights = np.array([0.5, 0.5])
    for factor, flagged in [(0.5, True), (2.0, False)]:
        # shape: condition number against 1 / DEGENERATE_RTOL, whatever the size
        for size in (1.0, 1e-8):
            covs = np.stack([np.eye(2), np.diag([1.0, factor * DEGENERATE_RTOL])]) * size * s2
            message = family.degeneracy(X, weights, _params(means, covs))
            assert (message is not None) == flagged, (factor, size, message)
        # size: a round component against DEGENERATE_RTOL**2 of the data variance
        covs = np.stack([np.eye(2), np.eye(2) * factor * DEGENERATE_RTOL**2]) * s2
        message = family.degeneracy(X, weights, _params(means, covs))
        assert (message is not None) == flagged, (factor, message)
        if flagged:
            assert _flagged_component(message) == 1
            assert "collapsed onto a point" in message


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_tight_far_apart_clusters_are_not_flagged(covariance_type):
    # Unit spread, 1e7 apart: tiny against the data variance (~2.5e13), yet regular.
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [1e7, -1e7]]
    weights, params = _hard_fit(X, np.repeat([0, 1], 100), covariance_type)
    assert GaussianFamily(covariance_type, reg_covar=0.0).degeneracy(X, weights, params) is None


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_features_on_very_different_scales_are_not_flagged(covariance_type):
    X, labels = _with_duplicates()
    X[60:] += np.random.default_rng(1).normal(scale=0.5, size=(20, 2))
    X *= [1e-6, 1e6]  # variances 1e12 x 1e-12: a condition number 1e24 in raw units
    weights, params = _hard_fit(X, labels, covariance_type)
    assert GaussianFamily(covariance_type, reg_covar=0.0).degeneracy(X, weights, params) is None


def test_every_degenerate_component_is_named_worst_first():
    X = np.random.default_rng(4).normal(size=(40, 2))
    covs = np.array([[1.0, 1e-14], [1.0, 1.0], [1e-20, 1.0]])  # diag
    message = GaussianFamily("diag", reg_covar=0.0).degeneracy(
        X, np.full(3, 1 / 3), _params(np.zeros((3, 2)), covs)
    )
    assert _flagged_component(message) == 2
    assert float(SINGULAR.match(message)["ratio"]) < 1e-19
    assert message.endswith("(also degenerate: component(s) 0)")


def test_nan_or_non_positive_covariance_is_flagged():
    X = np.zeros((5, 1))  # no variance at all: measured in units of 1
    family = GaussianFamily("spherical", reg_covar=0.0)
    assert family.degeneracy(X, np.array([1.0]), _params(np.zeros((1, 1)), [1e-6])) is None
    zero = family.degeneracy(X, np.array([1.0]), _params(np.zeros((1, 1)), [0.0]))
    assert _flagged_component(zero) == 0
    full = GaussianFamily("full", reg_covar=0.0)
    covs = np.array([[[1.0, 0.0], [0.0, 1.0]], [[np.nan, 0.0], [0.0, 1.0]]])
    X2 = np.random.default_rng(5).normal(size=(10, 2))
    message = full.degeneracy(X2, np.array([0.5, 0.5]), _params(np.zeros((2, 2)), covs))
    assert _flagged_component(message) == 1
    assert "is nan times" in message
    negative = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])  # eigenvalue -1
    message = full.degeneracy(X2, np.array([0.5, 0.5]), _params(np.zeros((2, 2)), negative))
    assert _flagged_component(message) == 1


def test_reg_covar_zero_is_accepted():
    X, _ = _iris()
    gm = GaussianMixture(2, covariance_type="diag", reg_covar=0, random_state=0).fit(X)
    assert np.isfinite(gm.loglik_)


def test_a_restart_whose_covariance_collapses_exactly_is_set_aside_not_fatal():
    # Old Faithful's waiting times are whole minutes: with reg_covar=0 a diagonal
    # component can land on one waiting value, whose variance is then exactly 0.
    from emfit.datasets import load_faithful
    from emfit.em import DegenerateRestartWarning

    X = load_faithful()
    with pytest.warns(DegenerateRestartWarning):
        gm = GaussianMixture(5, covariance_type="diag", reg_covar=0.0, n_init=5,
                             random_state=1).fit(X)
    kinds = [r.degenerate_kind for r in gm.restarts_]
    assert "failed" in kinds and None in kinds
    failed = next(r for r in gm.restarts_ if r.degenerate_kind == "failed")
    assert "not positive definite" in failed.degenerate and "reg_covar" in failed.degenerate
    assert np.isfinite(gm.loglik_)
    # called directly, the collapse is still a ValueError that names the remedy
    with pytest.raises(ValueError, match="reg_covar"):
        compute_precision_cholesky(np.array([[1.0, 0.0]]), "diag")
