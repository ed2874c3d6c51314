"""emfit.poisson.family: the Poisson-regression family with the EM driver.

(Property-based tests of its monotonicity: test_poisson_properties.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from poisson_problems import problem

from emfit.datasets import make_poisson_regression_mixture
from emfit.em import e_step, fit_em
from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily, loglik, unpack_theta


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
