"""emfit.poisson.likelihood: theta, the log-likelihood, Q and their gradients."""

from __future__ import annotations

import numpy as np
import pytest
from numdiff import central_diff, rel_err, theta_blocks
from poisson_problems import boundary_problem, problem
from scipy.stats import poisson

from emfit.em import e_step
from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    loglik,
    loglik_gradient,
    pack_theta,
    q_function,
    q_gradient,
    unpack_theta,
)


# ---------------------------------------------------------------------- theta and l
def test_pack_unpack_roundtrip_and_structured_theta():
    weights = np.array([0.2, 0.3, 0.5])
    coef = np.arange(6.0).reshape(3, 2)
    theta = pack_theta(weights, coef)
    assert theta.shape == (2 + 6,)
    w2, c2 = unpack_theta(theta, 2)
    np.testing.assert_allclose(w2, weights)
    np.testing.assert_array_equal(c2, coef)
    X, y, offset, _ = problem(7, K=3)
    assert loglik(theta, X, y, offset) == pytest.approx(loglik((weights, coef), X, y, offset))
    with pytest.raises(ValueError, match="theta"):
        unpack_theta(np.zeros(4), 2)
    with pytest.raises(ValueError, match="coef"):
        pack_theta([0.5, 0.5], np.zeros((3, 2)))


def test_loglik_matches_direct_mixture_density():
    X, y, offset, theta = problem(8, n=50, K=3)
    w, c = unpack_theta(theta, X.shape[1])
    lam = np.exp(offset[:, None] + X @ c.T)
    ref = np.log((w * poisson.pmf(y[:, None], lam)).sum(axis=1)).sum()
    assert loglik(theta, X, y, offset) == pytest.approx(ref, rel=1e-12)


# ------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fisher_identity(K, seed):
    """grad_theta Q(theta | theta_old) at theta = theta_old is grad l(theta_old)."""
    X, y, offset, theta = problem(seed, K=K, p=2)
    np.testing.assert_allclose(
        q_gradient(theta, theta, X, y, offset),
        loglik_gradient(theta, X, y, offset),
        rtol=1e-10,
        atol=1e-8,
    )


@pytest.mark.parametrize("K", [1, 2, 3])
def test_gradients_match_finite_differences(K):
    X, y, offset, theta = problem(10 + K, n=200, K=K, p=1)
    _, theta_old = theta, theta + 0.05 * np.random.default_rng(K).normal(size=theta.size)
    g = loglik_gradient(theta, X, y, offset)
    blocks = theta_blocks(K, X.shape[1])
    g_fd = central_diff(lambda t: loglik(t, X, y, offset), theta)
    assert rel_err(g, g_fd, blocks) < 1e-6
    gq = q_gradient(theta, theta_old, X, y, offset)
    gq_fd = central_diff(lambda t: q_function(t, theta_old, X, y, offset), theta)
    assert rel_err(gq, gq_fd, blocks) < 1e-6


def test_q_function_bounds_loglik_and_em_step_increases_both():
    X, y, offset, theta = problem(41, n=300, K=2)
    ll = loglik(theta, X, y, offset)
    assert q_function(theta, theta, X, y, offset) <= ll
    # One EM step from theta.
    w, c = unpack_theta(theta, X.shape[1])
    data = PoissonRegressionData.from_arrays(X, y, offset)
    fam = PoissonRegressionFamily()
    log_resp, _ = e_step(np.log(w), fam.log_prob(data, c))
    resp = np.exp(log_resp)
    new = pack_theta(resp.mean(axis=0), fam.m_step(data, resp, c))
    assert q_function(new, theta, X, y, offset) >= q_function(theta, theta, X, y, offset)
    assert loglik(new, X, y, offset) >= ll
    # The new theta maximises Q(. | theta): its Q-gradient vanishes (pi part included).
    assert np.max(np.abs(q_gradient(new, theta, X, y, offset))) < 1e-6 * len(y)


# ----------------------------------------------------------------- boundary weights
def test_score_at_a_zero_weight_in_closed_form():
    g = loglik_gradient([1.0, 1.0, 2.0], np.ones((3, 1)), [0.0, 1.0, 5.0])
    y = np.array([0.0, 1.0, 5.0])
    f1, f2 = poisson.pmf(y, np.e), poisson.pmf(y, np.e**2)
    assert np.all(np.isfinite(g))
    assert g[0] == pytest.approx(np.sum(1.0 - f2 / f1), rel=1e-12)
    assert g[1] == pytest.approx(np.sum(y - np.e), rel=1e-12)
    assert g[2] == 0.0


def test_q_gradient_at_a_boundary_weight():
    X, y, offset, theta = boundary_problem(4, 2, [0])
    # theta_old = theta: no responsibility on the empty component, so Q does not
    # contain log pi_1 and the gradient is finite; it is the exact derivative of
    # q_function (one-sided, into the simplex).
    g = q_gradient(theta, theta, X, y, offset)
    assert np.all(np.isfinite(g))
    h = 1e-6
    e = np.zeros_like(theta)
    e[0] = h
    q0 = q_function(theta, theta, X, y, offset)
    q1 = q_function(theta + e, theta, X, y, offset)
    q2 = q_function(theta + 2 * e, theta, X, y, offset)
    fd = (-3 * q0 + 4 * q1 - q2) / (2 * h)
    assert g[0] == pytest.approx(fd, rel=1e-6)
    g_fd = central_diff(lambda t: q_function(np.r_[theta[0], t], theta, X, y, offset), theta[1:])
    assert rel_err(g[1:], g_fd, theta_blocks(2, 2)[1:]) < 1e-6
    # Positive responsibility mass on a zero weight: Q = -inf there and the partial
    # derivative is +inf (pi_j = 0) or -inf (pi_K = 0), never NaN.
    old = theta.copy()
    old[0] = 0.3
    g = q_gradient(theta, old, X, y, offset)
    assert g[0] == np.inf and np.all(np.isfinite(g[1:]))
    other = theta.copy()
    other[0] = 1.0
    g = q_gradient(other, old, X, y, offset)
    assert g[0] == -np.inf and np.all(np.isfinite(g[1:]))


def test_q_gradient_raises_when_two_infinite_terms_cancel():
    X, y, offset, theta = boundary_problem(5, 3, [0, 2])
    old = pack_theta([0.3, 0.3, 0.4], unpack_theta(theta, 2)[1])
    with pytest.raises(ValueError, match="undefined"):
        q_gradient(theta, old, X, y, offset)
