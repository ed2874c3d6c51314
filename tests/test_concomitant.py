"""Mixing weights that depend on concomitant covariates (emfit.weights, the driver,
emfit.poisson.concomitant and the estimator), against statsmodels and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from emfit.datasets import load_patents, make_poisson_regression_mixture
from emfit.em import fit_em
from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    PoissonRegressionMixture,
    concomitant_gradient,
    concomitant_information,
    concomitant_loglik,
    design_matrix,
)
from emfit.weights import ConcomitantWeights, multinomial_logit_m_step
from numdiff import central_diff, rel_err


def _responsibilities(rng, n, K, denominator=10):
    """Responsibilities in multiples of 1/denominator (rows sum to one)."""
    counts = rng.multinomial(denominator, np.ones(K) / K, size=n)
    return counts / denominator, counts


def test_weights_m_step_agrees_with_statsmodels_logit_for_two_components():
    rng = np.random.default_rng(0)
    Z = design_matrix(rng.normal(size=(300, 2)))
    resp = np.column_stack([1 - (p := rng.uniform(0.05, 0.95, 300)), p])
    gamma = multinomial_logit_m_step(Z, resp, np.zeros((2, 3)))
    # Fractional-response logit: the same objective sum_i r_i2 log p_i + r_i1 log(1 - p_i).
    ref = sm.GLM(resp[:, 1], Z, family=sm.families.Binomial()).fit(tol=1e-14).params
    np.testing.assert_allclose(gamma[1], ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(gamma[0], 0.0)


def test_weights_m_step_agrees_with_statsmodels_mnlogit_for_three_components():
    # Responsibilities in tenths: expanding each observation into 10 labelled copies
    # makes MNLogit's (unweighted) likelihood 10 times the weighted one.
    rng = np.random.default_rng(1)
    n, K = 120, 3
    Z = design_matrix(rng.normal(size=(n, 1)))
    resp, counts = _responsibilities(rng, n, K)
    gamma = multinomial_logit_m_step(Z, resp, np.zeros((K, 2)))
    rows = np.repeat(np.arange(n), 10)
    labels = np.concatenate([np.repeat(np.arange(K), c) for c in counts])
    ref = sm.MNLogit(labels, Z[rows]).fit(method="newton", tol=1e-14, disp=False).params
    np.testing.assert_allclose(gamma[1:].T, ref, rtol=1e-8, atol=1e-10)


def test_weights_m_step_never_decreases_its_objective_from_a_far_start():
    rng = np.random.default_rng(2)
    Z = design_matrix(rng.normal(size=(50, 1)))
    resp, _ = _responsibilities(rng, 50, 3)
    start = np.vstack([np.zeros(2), rng.normal(scale=20, size=(2, 2))])
    model = ConcomitantWeights(Z)

    def objective(g):
        return float(np.sum(resp * model.log_weights(g)))

    gamma = multinomial_logit_m_step(Z, resp, start, max_iter=1)
    assert objective(gamma) >= objective(start)
    best = multinomial_logit_m_step(Z, resp, start)
    assert objective(best) >= objective(gamma)


def test_intercept_only_concomitant_design_reproduces_constant_weights():
    X, y, _ = make_poisson_regression_mixture(500, random_state=3)
    data = PoissonRegressionData.from_arrays(design_matrix(X), y)
    family = PoissonRegressionFamily()
    plain = fit_em(data, family, 2, random_state=0, tol=1e-12)
    logit = fit_em(data, family, 2, random_state=0, tol=1e-12, concomitant=np.ones((500, 1)))
    assert logit.loglik == pytest.approx(plain.loglik, rel=1e-10)
    np.testing.assert_allclose(logit.weights, plain.weights, rtol=1e-6)
    np.testing.assert_allclose(logit.params, plain.params, rtol=1e-6, atol=1e-8)
    pi = np.exp(logit.concomitant_coef[:, 0]) / np.exp(logit.concomitant_coef[:, 0]).sum()
    np.testing.assert_allclose(pi, plain.weights, rtol=1e-6)


def _concomitant_problem(seed=4, n=400):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, n)
    z = rng.normal(size=n)
    second = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 1.5 * z)))  # weights depend on z
    y = rng.poisson(np.exp(np.where(second, 2.0 - 0.5 * x, 0.2 + 0.8 * x)))
    return x[:, None], y, z[:, None]


def test_gradient_and_information_agree_with_finite_differences():
    X, y, Z = _concomitant_problem()
    model = PoissonRegressionMixture(2, random_state=0, n_init=3).fit(X, y, Z=Z)
    Zd, D = design_matrix(Z), design_matrix(X)
    phi = model._phi() + 0.05  # away from the maximum, where the gradient is not 0
    K = 2
    grad = concomitant_gradient(phi, K, Zd, D, y)
    fd_grad = central_diff(lambda t: concomitant_loglik(t, K, Zd, D, y), phi)
    blocks = [2, 2, 2]  # gamma_2, (b_1, beta_1), (b_2, beta_2)
    assert rel_err(grad, fd_grad, blocks) < 1e-6  # round-off eps |l| / h ~ 2e-7 of l ~ 1e3
    info = concomitant_information(phi, K, Zd, D, y)
    fd_info = -central_diff(lambda t: concomitant_gradient(t, K, Zd, D, y), phi)
    assert rel_err(info, fd_info, blocks) < 1e-6
    complete, missing = concomitant_information(phi, K, Zd, D, y, parts=True)
    np.testing.assert_allclose(complete - missing, info, rtol=1e-12, atol=1e-9)
    # at the fit: a maximum, the gradient vanishes and the information is positive definite
    at_fit = concomitant_gradient(model._phi(), K, Zd, D, y)
    info_fit = model.observed_information(X, y, Z=Z)
    assert np.linalg.eigvalsh(info_fit).min() > 0
    # the Newton decrement: how much l could still gain by one Newton step
    assert at_fit @ np.linalg.solve(info_fit, at_fit) / 2 < 1e-6


def test_concomitant_fit_recovers_the_weights_model_and_is_monotone():
    X, y, Z = _concomitant_problem(seed=5, n=3000)
    model = PoissonRegressionMixture(2, random_state=0, n_init=2).fit(X, y, Z=Z)
    assert np.all(np.diff(model.history_) >= -1e-9 * np.abs(model.history_[1:]))
    # canonical order: intercepts increasing, so component 0 is (0.2, 0.8), the reference
    np.testing.assert_allclose(model.intercept_, [0.2, 2.0], atol=0.15)
    np.testing.assert_allclose(model.coef_[:, 0], [0.8, -0.5], atol=0.15)
    np.testing.assert_allclose(model.concomitant_coef_[1], [0.3, 1.5], atol=0.3)
    np.testing.assert_array_equal(model.concomitant_coef_[0], 0.0)
    # the fitted-data likelihood and the per-sample scores agree, with Z
    assert model.score(X, y, Z=Z) * len(y) == pytest.approx(model.loglik_, rel=1e-9)
    proba = model.predict_proba(X, y, Z=Z)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # Z changes the responsibilities: the same count at another z
    flipped = model.predict_proba(X[:5], y[:5], Z=-Z[:5])
    assert np.abs(flipped - proba[:5]).max() > 0.05
    se = model.standard_errors(X, y, Z=Z)
    assert se["concomitant_coef"].shape == (2, 2) and np.all(se["concomitant_coef"][1] > 0)
    assert model.bic(X, y, Z=Z) == pytest.approx(-2 * model.loglik_ + 6 * np.log(len(y)), rel=1e-12)


def test_patent_data_prefer_weights_that_depend_on_rds():
    """Wang, Cockburn & Puterman (1998): mixing weights depending on R&D intensity."""
    d = load_patents()
    X, y, Z = d["lgRD"].reshape(-1, 1), d["Patents"], d["RDS"].reshape(-1, 1)
    const = PoissonRegressionMixture(3, n_init=20, random_state=0).fit(X, y)
    conc = PoissonRegressionMixture(3, n_init=20, random_state=0).fit(X, y, Z=Z)
    assert conc.loglik_ > const.loglik_ + 5  # LR statistic > 10 on 2 degrees of freedom
    assert conc.bic(X, y, Z=Z) < const.bic(X, y)
    assert conc.loglik_ == pytest.approx(-197.675, abs=1e-3)
    table = conc.summary(X, y, Z=Z)
    assert table.shape == (10, 6) and np.all(np.isfinite(table["std_err"]))


@pytest.mark.parametrize(
    "Z, match",
    [
        (np.ones((10, 1)), r"Z's column 0 is constant"),
        (np.zeros((9, 1)), r"one row per sample \(10\)"),
        (np.r_[np.nan, np.arange(9.0)][:, None], r"Z"),
        (np.r_[np.inf, np.arange(9.0)][:, None], r"Z"),
    ],
)
def test_bad_concomitant_covariates_are_rejected(Z, match):
    X, y = np.arange(10.0)[:, None], np.arange(10)
    with pytest.raises(ValueError, match=match):
        PoissonRegressionMixture(2, random_state=0).fit(X, y, Z=Z)


def test_z_is_required_exactly_when_fitted_with_it():
    X, y, Z = _concomitant_problem(n=200)
    with_z = PoissonRegressionMixture(2, random_state=0).fit(X, y, Z=Z)
    with pytest.raises(ValueError, match="Z is required"):
        with_z.predict_proba(X, y)
    with pytest.raises(ValueError, match="Z has 2 columns"):
        with_z.score(X, y, Z=np.hstack([Z, Z]))
    without = PoissonRegressionMixture(2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="Z must be None"):
        without.score(X, y, Z=Z)
    counts, labels = with_z.sample(X, random_state=0, Z=Z)
    assert counts.shape == labels.shape == (200,)
    assert with_z.predict_mean(X, Z=Z).shape == (200,)


def test_gaussian_and_bernoulli_mixtures_take_concomitant_weights():
    from emfit import BernoulliMixture, GaussianMixture

    rng = np.random.default_rng(6)
    n = 2000
    z = rng.normal(size=n)
    second = rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 2.0 * z)))
    X = np.where(second, 4.0, 0.0)[:, None] + rng.normal(size=(n, 1))
    gm = GaussianMixture(2, random_state=0, n_init=2).fit(X, Z=z[:, None])
    assert np.all(np.diff(gm.history_) >= -1e-9 * np.abs(gm.history_[1:]))
    first = int(np.argmin(gm.means_[:, 0]))  # the component near 0 is the reference
    sign = 1.0 if first == 0 else -1.0
    np.testing.assert_allclose(sign * gm.concomitant_coef_[1], [-0.5, 2.0], atol=0.3)
    plain = GaussianMixture(2, random_state=0, n_init=2).fit(X)
    assert gm.loglik_ > plain.loglik_ + 100  # z explains the labels
    assert gm.bic(X, Z=z[:, None]) < plain.bic(X)
    with pytest.raises(ValueError, match="Z is required"):
        gm.predict(X)

    B = (rng.random((n, 4)) < np.where(second[:, None], 0.8, 0.2)).astype(float)
    bm = BernoulliMixture(2, random_state=0, n_init=2).fit(B, Z=z[:, None])
    assert bm.loglik_ > BernoulliMixture(2, random_state=0, n_init=2).fit(B).loglik_
    assert bm.predict_proba(B, Z=z[:, None]).shape == (n, 2)
