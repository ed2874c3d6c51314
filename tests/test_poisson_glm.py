"""emfit.poisson.glm: the weighted one-component Poisson regression (M-step solver)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from numdiff import central_diff, rel_err
from poisson_problems import problem

from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    fit_weighted_poisson,
    gradient_ascent_poisson,
    weighted_poisson_gradient,
    weighted_poisson_hessian,
    weighted_poisson_loglik,
)


# --------------------------------------------------------------- statsmodels checks
@pytest.mark.parametrize("kind", ["freq_weights", "var_weights"])
def test_weighted_m_step_equals_statsmodels(kind):
    X, y, offset, _ = problem(3, n=400, p=2)
    w = np.random.default_rng(4).uniform(0, 1, len(y))
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset, **{kind: w}).fit(tol=1e-14)
    got = fit_weighted_poisson(X, y, offset, w)
    np.testing.assert_allclose(got.coef, ref.params, rtol=0, atol=1e-8)
    assert got.converged
    # ... and the M-step of the family, warm-started from elsewhere, lands there too.
    data = PoissonRegressionData.from_arrays(X, y, offset)
    resp = np.column_stack([w, 1 - w])
    new = PoissonRegressionFamily().m_step(data, resp, np.zeros((2, X.shape[1])))
    np.testing.assert_allclose(new[0], ref.params, rtol=0, atol=1e-8)


# -------------------------------------------------------------------------- solvers
def test_weighted_fit_is_monotone_from_a_bad_start():
    X, y, offset, _ = problem(5, n=300)
    w = np.ones(len(y))
    start = np.array([5.0, -5.0])
    res = fit_weighted_poisson(X, y, offset, w, coef_init=start)
    ref = fit_weighted_poisson(X, y, offset, w)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-8)
    assert res.loglik >= weighted_poisson_loglik(start, X, y, offset, w)


def test_gradient_ascent_increases_and_approaches_the_maximum():
    X, y, offset, _ = problem(6, n=300)
    w = np.random.default_rng(0).uniform(0.2, 1, len(y))
    beta = np.zeros(X.shape[1])
    values = [weighted_poisson_loglik(beta, X, y, offset, w)]
    for _ in range(200):
        beta = gradient_ascent_poisson(X, y, offset, w, coef_init=beta).coef
        values.append(weighted_poisson_loglik(beta, X, y, offset, w))
    assert np.all(np.diff(values) >= 0)
    best = fit_weighted_poisson(X, y, offset, w)
    assert values[-1] == pytest.approx(best.loglik, rel=1e-6)


# ---------------------------------------------------------------------- derivatives
def test_weighted_component_derivatives_match_finite_differences():
    X, y, offset, _ = problem(20, n=200, p=2)
    w = np.random.default_rng(1).uniform(0, 1, len(y))
    beta = np.array([0.3, -0.2, 0.1])
    f = lambda b: weighted_poisson_loglik(b, X, y, offset, w)
    g = weighted_poisson_gradient(beta, X, y, offset, w)
    each = [1] * beta.size  # every coefficient at its own scale
    assert rel_err(g, central_diff(f, beta), each) < 1e-6
    H = weighted_poisson_hessian(beta, X, y, offset, w)
    H_fd = central_diff(lambda b: weighted_poisson_gradient(b, X, y, offset, w), beta)
    assert rel_err(H, H_fd, each) < 1e-6
