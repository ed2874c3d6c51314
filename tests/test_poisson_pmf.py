"""emfit.poisson.pmf: the log-density of the components, against scipy and mpmath."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from scipy.special import gammaln
from scipy.stats import poisson

from emfit.poisson import (
    STABLE_COUNTS,
    PoissonRegressionData,
    PoissonRegressionFamily,
    component_log_prob,
    design_matrix,
    log_pmf_constant,
    loglik,
    weighted_poisson_loglik,
)
from emfit.poisson.pmf import _count_term, _log_prob_kernel


def test_component_log_prob_matches_scipy_including_huge_counts():
    y = np.array([0, 1, 5, 40, 1e4, 1e9, 3e9])
    coef = np.array([[0.0], [2.0], [np.log(1e9)]])
    X = np.ones((len(y), 1))
    got = component_log_prob(coef, X, y)
    # scipy's logpmf itself loses ~1e-6 to cancellation at y ~ 1e9: use mpmath.
    mp.mp.dps = 50

    def ref(k, b):
        lam = mp.exp(mp.mpf(b))
        return float(k * mp.log(lam) - lam - mp.loggamma(k + 1))

    expected = np.array([[ref(int(k), b) for b in coef[:, 0]] for k in y])
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    np.testing.assert_allclose(got[:5], poisson.logpmf(y[:5, None], np.exp(coef[:, 0])), rtol=1e-12)


def test_log_pmf_constant():
    y = np.r_[0:60, 1e3, 1e6, 1e9, 1e15].astype(float)
    ref = np.where(y > 0, y * np.log(np.maximum(y, 1)) - y, 0.0) - gammaln(y + 1)
    got = log_pmf_constant(y)
    small = y < 1e6  # the reference itself cancels catastrophically for large y
    np.testing.assert_allclose(got[small], ref[small], rtol=1e-12, atol=1e-12)
    # Stirling: C(y) ~ -log(2 pi y) / 2
    np.testing.assert_allclose(got[-1], -0.5 * np.log(2 * np.pi * 1e15), rtol=1e-14)


def _mp_log_pmf(k: float, mu: float) -> float:
    mp.mp.dps = 50
    lam = mp.mpf(mu)
    return float(int(k) * mp.log(lam) - lam - mp.loggamma(int(k) + 1))


def test_direct_form_up_to_stable_counts_is_exact_to_a_bound():
    # Below STABLE_COUNTS the fast direct form y eta - mu - log y! is used: its error
    # against a 50-digit reference stays below 1e-9 per observation (the documented bound).
    y = np.array([0.0, 1, 7, 300, 5e3, STABLE_COUNTS])
    eta = np.log(y + 0.5)
    term = _count_term(y)
    assert not term.stable
    got = _log_prob_kernel(y, eta, np.exp(eta), term.stable) + term.const
    ref = np.array([_mp_log_pmf(k, np.exp(e)) for k, e in zip(y, eta)])
    assert np.max(np.abs(got - ref)) < 1e-9


def test_one_density_rule_for_every_module():
    # One count above STABLE_COUNTS switches every module to the deviance form; the
    # family's EM loop, the likelihood, the GLM objective and component_log_prob agree.
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 30)
    X = design_matrix(x)
    coef = np.array([[20.0, 0.5], [19.0, 1.0]])
    y = np.round(np.exp(X @ coef[0]) * rng.uniform(0.99, 1.01, 30))
    assert y.max() > STABLE_COUNTS
    data = PoissonRegressionData.from_arrays(X, y)
    assert data.stable
    by_family = PoissonRegressionFamily().log_prob(data, coef)
    by_pmf = component_log_prob(coef, X, y)
    ref = np.array([[_mp_log_pmf(k, np.exp(X[i] @ c)) for c in coef] for i, k in enumerate(y)])
    np.testing.assert_allclose(by_pmf, ref, rtol=1e-12)
    np.testing.assert_allclose(by_family, ref, rtol=1e-12)
    assert weighted_poisson_loglik(coef[0], X, y) == pytest.approx(ref[:, 0].sum(), rel=1e-12)
    theta = ([1.0, 0.0], coef)
    ll = loglik(theta, X, y)
    assert ll == pytest.approx(ref[:, 0].sum(), rel=1e-12)
