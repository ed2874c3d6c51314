"""emfit.poisson.family: the Poisson-regression family with the EM driver.

(Property-based tests of its monotonicity: test_poisson_properties.py.)
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from poisson_problems import problem
from scipy.special import gammaln

from emfit.datasets import make_poisson_regression_mixture
from emfit.em import e_step, fit_em
from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily, loglik, unpack_theta
from emfit.poisson import glm as glm_module


def test_fused_em_step_equals_default_sequence():
    X, y, offset, theta = problem(42, n=300, K=3)
    w, c = unpack_theta(theta, X.shape[1])
    data = PoissonRegressionData.from_arrays(X, y, offset)
    fam = PoissonRegressionFamily()
    ll, resp_t, new = fam.em_step(data, np.log(w), c)
    log_resp, ll_ref = e_step(np.log(w), fam.log_prob(data, c))
    resp = np.exp(log_resp)
    assert ll == pytest.approx(ll_ref, rel=1e-12)
    assert ll == pytest.approx(loglik(theta, X, y, offset), rel=1e-12)
    np.testing.assert_allclose(resp_t, resp.T, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(new, fam.m_step(data, resp, c), atol=1e-8)


def test_family_hooks_with_the_driver():
    X, y, _ = make_poisson_regression_mixture(500, random_state=8)
    data = PoissonRegressionData.from_arrays(X, y)
    fam = PoissonRegressionFamily()
    fit = fit_em(data, fam, 2, random_state=0)
    assert fit.params.shape == (2, 1)
    assert fam.n_parameters(fit.params) == 2
    assert fam.n_samples(data) == 500
    assert fam.log_prob(data, fit.params).shape == (500, 2)


def test_em_step_reuses_the_e_step_and_returns_fresh_responsibilities():
    X, y, offset, theta = problem(43, n=400)
    w, c = unpack_theta(theta, X.shape[1])
    data = PoissonRegressionData.from_arrays(X, y, offset)
    fam = PoissonRegressionFamily()
    fit = fit_em(data, fam, 2, weights_init=w, params_init=c, tol=1e-14, max_iter=500)
    _, resp_t, new = fam.em_step(data, np.log(fit.weights), fit.params)
    kept = resp_t.copy()
    # At the maximum each component's first Newton step meets the stopping rule: the
    # E-step's means and kernels serve it, and no objective is evaluated.
    calls = []
    original = glm_module._objective
    try:
        glm_module._objective = lambda *a, **k: calls.append(1) or original(*a, **k)
        fam.em_step(data, np.log(fit.weights), new)
    finally:
        glm_module._objective = original
    assert calls == []
    np.testing.assert_array_equal(resp_t, kept)  # not overwritten by the next E-step
    np.testing.assert_allclose(new, fit.params, atol=1e-5)  # one more EM step


def test_data_constants_and_zero_offset():
    X, y, offset, _ = problem(44, n=300)
    y[:3] = [0.5, 2.25, 0.0]  # non-integer "counts" take scipy's gammaln directly
    for yy in (np.round(y), y):
        data = PoissonRegressionData.from_arrays(X, yy, offset)
        np.testing.assert_array_equal(data.const, -gammaln(yy + 1.0))
        assert not data.zero_offset and data.eta_offset() is data.offset
    zero = PoissonRegressionData.from_arrays(X, y)
    assert zero.zero_offset and zero.eta_offset() is None
    fam = PoissonRegressionFamily()
    c = np.array([[0.1, 0.3], [1.0, -0.2]])
    explicit = PoissonRegressionData.from_arrays(X, y, np.zeros(len(y)))
    log_w = np.log([0.3, 0.7])
    for a, b in zip(fam.em_step(zero, log_w, c), fam.em_step(explicit, log_w, c)):
        np.testing.assert_array_equal(a, b)
    copy = pickle.loads(pickle.dumps(zero))
    assert copy.scratch is not zero.scratch
    np.testing.assert_array_equal(copy.gram.G, zero.gram.G)
