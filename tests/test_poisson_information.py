"""emfit.poisson.information: the Hessian of l, Louis' formula, at boundary weights too."""

from __future__ import annotations

import numpy as np
import pytest
from numdiff import central_diff, rel_err, theta_blocks
from poisson_problems import boundary_problem, problem
from scipy.stats import poisson

from emfit.datasets import make_poisson_regression_mixture
from emfit.poisson import (
    PoissonRegressionMixture,
    complete_information,
    design_matrix,
    loglik_gradient,
    loglik_hessian,
    missing_information,
    observed_information,
    pack_theta,
    q_gradient,
    unpack_theta,
)


# -------------------------------------------------------------------------- helpers
def densities(theta, X, y, offset):
    """Weights, component densities f_ik (n, K) and residuals y - lambda (n, K)."""
    w, c = unpack_theta(theta, X.shape[1])
    lam = np.exp(offset[:, None] + X @ c.T)
    return w, poisson.pmf(y[:, None], lam), y[:, None] - lam


def ref_loglik(theta, X, y, offset):
    """sum_i log sum_k pi_k f_ik: a polynomial in pi inside the log, defined for pi < 0."""
    w, f, _ = densities(theta, X, y, offset)
    return float(np.log(f @ w).sum())


def ref_gradient(theta, X, y, offset):
    """Closed-form score: sum_i (f_ij - f_iK) / f_i and sum_i pi_k f_ik u_ik d_i / f_i."""
    w, f, u = densities(theta, X, y, offset)
    fi = f @ w
    g_pi = ((f[:, :-1] - f[:, [-1]]) / fi[:, None]).sum(axis=0)
    g_beta = ((w * f * u / fi[:, None]).T @ X).ravel()
    return np.concatenate([g_pi, g_beta])


BOUNDARY_CASES = [(2, [0]), (2, [1]), (3, [1]), (3, [2]), (3, [0, 2]), (3, [1, 2])]


# ------------------------------------------------------------- observed information
@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_hessian_and_louis_match_finite_differences(K, seed):
    X, y, offset, theta = problem(30 + seed, n=250, K=K, p=2)
    H_fd = central_diff(lambda t: loglik_gradient(t, X, y, offset), theta)
    H_fd = 0.5 * (H_fd + H_fd.T)
    H = loglik_hessian(theta, X, y, offset)
    info_h = observed_information(theta, X, y, offset, method="hessian")
    info_l = observed_information(theta, X, y, offset, method="louis")
    assert H.shape == (theta.size, theta.size)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-9)
    blocks = theta_blocks(K, X.shape[1])
    assert rel_err(H, H_fd, blocks) < 1e-6
    assert rel_err(-info_l, H_fd, blocks) < 1e-6
    assert rel_err(info_h, info_l, blocks) < 1e-10
    np.testing.assert_array_equal(info_h, -H)


def test_observed_information_at_the_mle_is_positive_definite():
    X, y, offset, _ = problem(40, n=2000, K=2, p=1)
    model = PoissonRegressionMixture(2, random_state=0).fit(X[:, 1:], y, exposure=np.exp(offset))
    info = model.observed_information(X[:, 1:], y, np.exp(offset))
    assert np.all(np.linalg.eigvalsh(info) > 0)
    # At the maximum the score vanishes: the Newton step it implies is negligible
    # compared with the standard errors.
    theta = pack_theta(model.weights_, np.column_stack([model.intercept_, model.coef_]))
    g = loglik_gradient(theta, X, y, offset)
    step = np.linalg.solve(info, g)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    assert np.max(np.abs(step) / se) < 1e-3


# ----------------------------------------------------------------- boundary weights
@pytest.mark.parametrize("K, zero", BOUNDARY_CASES)
def test_score_and_hessian_are_finite_and_exact_at_a_boundary_weight(K, zero):
    X, y, offset, theta = boundary_problem(K + 7 * len(zero), K, zero)
    blocks = theta_blocks(K, X.shape[1])
    g = loglik_gradient(theta, X, y, offset)
    assert np.all(np.isfinite(g))
    g_ref = ref_gradient(theta, X, y, offset)
    assert rel_err(g, g_ref, blocks) < 1e-10
    # The reference is right: central differences of the log-likelihood, extended
    # analytically across the boundary.
    assert rel_err(g_ref, central_diff(lambda t: ref_loglik(t, X, y, offset), theta), blocks) < 1e-6
    H = loglik_hessian(theta, X, y, offset)
    assert np.all(np.isfinite(H))
    H_fd = central_diff(lambda t: ref_gradient(t, X, y, offset), theta)
    assert rel_err(H, 0.5 * (H_fd + H_fd.T), blocks) < 1e-6
    info_l = observed_information(theta, X, y, offset, method="louis")
    assert np.all(np.isfinite(info_l))
    assert rel_err(info_l, -H, blocks) < 1e-10
    np.testing.assert_array_equal(observed_information(theta, X, y, offset), -H)


def test_boundary_is_the_limit_of_interior_values():
    # theta = (pi_1, beta_1, beta_2) with pi_1 = 0; inner has pi_1 = eps.
    X, y, offset, theta = boundary_problem(3, 2, [0])
    eps = 1e-9
    inner = theta.copy()
    inner[0] = eps
    g_at, g_in = loglik_gradient(theta, X, y, offset), loglik_gradient(inner, X, y, offset)
    H_at, H_in = loglik_hessian(theta, X, y, offset), loglik_hessian(inner, X, y, offset)
    pi, empty, full = [0], [1, 2], [3, 4]
    # Blocks that do not vanish at pi_1 = 0 are the limits of their interior values.
    kept = pi + full
    assert rel_err(g_at[kept], g_in[kept], [1, 2]) < 1e-6
    assert rel_err(H_at[np.ix_(kept, kept)], H_in[np.ix_(kept, kept)], [1, 2]) < 1e-6
    assert rel_err(H_at[0, empty], H_in[0, empty], [2]) < 1e-6
    # Every derivative in beta_1 carries a factor pi_1: exactly 0 on the boundary, O(eps)
    # inside, where the score is eps times the cross derivative d2l / dpi_1 dbeta_1.
    assert np.all(g_at[empty] == 0)
    assert np.all(H_at[np.ix_(empty, empty + full)] == 0)
    np.testing.assert_allclose(g_in[empty], eps * H_at[0, empty], rtol=1e-4)
    assert np.max(np.abs(H_in[np.ix_(empty, empty + full)])) < 1e3 * eps


@pytest.mark.parametrize("seed", range(6))
def test_derivatives_never_nan_on_the_boundary(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(2, 4))
    zero = sorted(rng.choice(K, size=int(rng.integers(1, K)), replace=False).tolist())
    X, y, offset, theta = boundary_problem(100 + seed, K, zero)
    old = theta.copy()
    for out in (
        loglik_gradient(theta, X, y, offset),
        loglik_hessian(theta, X, y, offset),
        observed_information(theta, X, y, offset, method="louis"),
        q_gradient(theta, theta, X, y, offset),
        q_gradient(old, theta, X, y, offset),
        complete_information(theta, X, y, offset),
        missing_information(theta, X, y, offset),
    ):
        assert not np.any(np.isnan(out))


# ------------------------------------------------- complete and missing information
@pytest.mark.parametrize("K", [1, 2, 3])
def test_louis_decomposition(K):
    rng = np.random.default_rng(K)
    n = 200
    X = design_matrix(rng.normal(size=(n, 2)))
    offset = np.log(rng.uniform(0.5, 2, n))
    coef = rng.normal(scale=0.4, size=(K, 3)) + np.linspace(0, 1.5, K)[:, None]
    z = rng.integers(K, size=n)
    y = rng.poisson(np.exp(offset + np.einsum("ij,ij->i", X, coef[z]))).astype(float)
    theta = pack_theta(rng.dirichlet(np.full(K, 5.0)), coef + 0.1)
    Ic = complete_information(theta, X, y, offset)
    Im = missing_information(theta, X, y, offset)
    P = theta.size
    assert Ic.shape == Im.shape == (P, P)
    np.testing.assert_array_equal(
        Ic - Im, observed_information(theta, X, y, offset, method="louis")
    )
    blocks = theta_blocks(K, X.shape[1])
    assert rel_err(Ic - Im, -loglik_hessian(theta, X, y, offset), blocks) < 1e-10
    # Complete information = -Hessian of Q(. | theta) at theta.
    Hq = central_diff(lambda t: q_gradient(t, theta, X, y, offset), theta)
    assert rel_err(Ic, -0.5 * (Hq + Hq.T), blocks) < 1e-6
    # Missing information is a sum of covariance matrices.
    np.testing.assert_allclose(Im, Im.T, atol=1e-9 * np.abs(Ic).max())
    assert np.linalg.eigvalsh(Im).min() > -1e-9 * np.abs(Ic).max()


def test_fraction_of_missing_information_at_the_mle():
    X, y, _ = make_poisson_regression_mixture(1500, random_state=3)
    model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(X, y)
    Ic, Im = model.information_parts(X, y)
    theta = pack_theta(model.weights_, model.coef_)
    np.testing.assert_array_equal(Ic, complete_information(theta, X, y))
    np.testing.assert_array_equal(Im, missing_information(theta, X, y))
    assert rel_err(Ic - Im, model.observed_information(X, y), theta_blocks(2, 1)) < 1e-10
    rates = np.linalg.eigvals(np.linalg.solve(Ic, Im)).real
    assert rates.min() > -1e-10 and rates.max() < 1.0


def test_information_parts_at_the_boundary_are_infinite_only_in_the_weight_block():
    X, y, offset, theta = boundary_problem(8, 3, [1])
    Ic = complete_information(theta, X, y, offset)
    Im = missing_information(theta, X, y, offset)
    assert Ic[1, 1] == np.inf and Im[1, 1] == np.inf
    for M in (Ic, Im):
        assert not np.any(np.isnan(M))
        assert np.all(np.isfinite(M[2:, :])) and np.all(np.isfinite(M[:, 2:]))
    assert np.isfinite(Ic[0, 0]) and np.isfinite(Im[0, 0])
