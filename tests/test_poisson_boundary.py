"""Poisson mixtures: boundary weights, singular information, Louis' decomposition."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numdiff import central_diff, rel_err, theta_blocks
from scipy.stats import poisson

from emfit.datasets import make_poisson_regression_mixture
from emfit.poisson import (
    PoissonRegressionMixture,
    SingularInformationWarning,
    complete_information,
    design_matrix,
    loglik,
    loglik_gradient,
    loglik_hessian,
    missing_information,
    observed_information,
    pack_theta,
    q_function,
    q_gradient,
    unpack_theta,
)


# ----------------------------------------------------------------------------- helpers
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


def boundary_problem(seed: int, K: int, zero: list[int], n: int = 150):
    """Design with intercept, counts, offset and a theta whose weights ``zero`` are 0."""
    rng = np.random.default_rng(seed)
    X = design_matrix(rng.normal(size=(n, 1)))
    offset = np.log(rng.uniform(0.5, 2.0, n))
    coef = rng.normal(scale=0.2, size=(K, 2)) + np.linspace(0.5, 1.2, K)[:, None]
    w = rng.uniform(0.5, 1.5, K)
    w[zero] = 0.0
    z = rng.choice(K, size=n, p=w / w.sum())
    y = rng.poisson(np.exp(offset + np.einsum("ij,ij->i", X, coef[z]))).astype(float)
    return X, y, offset, pack_theta(w / w.sum(), coef)


BOUNDARY_CASES = [(2, [0]), (2, [1]), (3, [1]), (3, [2]), (3, [0, 2]), (3, [1, 2])]


# ------------------------------------------------------------- boundary weights
def test_score_at_a_zero_weight_in_closed_form():
    g = loglik_gradient([1.0, 1.0, 2.0], np.ones((3, 1)), [0.0, 1.0, 5.0])
    y = np.array([0.0, 1.0, 5.0])
    f1, f2 = poisson.pmf(y, np.e), poisson.pmf(y, np.e**2)
    assert np.all(np.isfinite(g))
    assert g[0] == pytest.approx(np.sum(1.0 - f2 / f1), rel=1e-12)
    assert g[1] == pytest.approx(np.sum(y - np.e), rel=1e-12)
    assert g[2] == 0.0


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


# --------------------------------------------------- complete and missing information
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


# ------------------------------------------------------------- singular information
def constant_x_fit(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 300
    x = np.full((n, 1), 1.0)
    y = rng.poisson(np.where(rng.random(n) < 0.4, 1.0, 6.0))
    return x, y, PoissonRegressionMixture(2, random_state=0).fit(x, y)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_standard_errors_warn_on_singular_information(seed):
    x, y, model = constant_x_fit(seed)
    assert np.linalg.matrix_rank(model.observed_information(x, y)) == 3
    with pytest.warns(SingularInformationWarning, match="singular"):
        se = model.standard_errors(x, y)
    # Intercept and slope are confounded (x is constant): their SEs are NaN. The
    # weights are identified: their SEs are those of the mixture of two Poissons.
    assert np.all(np.isnan(se["intercept"])) and np.all(np.isnan(se["coef"]))
    ref = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(x, y)
    np.testing.assert_allclose(ref.weights_, model.weights_, rtol=1e-6)
    np.testing.assert_allclose(se["weights"], ref.standard_errors(x, y)["weights"], rtol=1e-4)


def test_standard_errors_warn_when_the_information_is_not_positive_definite():
    # Two identical components at the one-component MLE: a stationary point of the
    # likelihood that is not a maximum (overdispersed data).
    X, y, _ = make_poisson_regression_mixture(800, random_state=2)
    one = PoissonRegressionMixture(1, fit_intercept=False).fit(X, y)
    model = PoissonRegressionMixture(2, fit_intercept=False).fit(X, y)
    model.weights_ = np.array([0.5, 0.5])
    model.coef_ = np.vstack([one.coef_, one.coef_])
    assert np.linalg.eigvalsh(model.observed_information(X, y)).min() < 0
    with pytest.warns(SingularInformationWarning, match="not positive definite"):
        se = model.standard_errors(X, y)
    assert np.any(np.isnan(se["coef"]))


def test_standard_errors_unchanged_on_a_regular_fit():
    X, y, _ = make_poisson_regression_mixture(600, random_state=5)
    model = PoissonRegressionMixture(2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        se = model.standard_errors(X, y)
    cov = np.linalg.inv(model.observed_information(X, y))
    s = np.sqrt(np.diag(cov))
    # K = 2: pi_2 = 1 - pi_1, so the second weight has the first one's standard error
    np.testing.assert_array_equal(se["weights"], [s[0], s[0]])
    np.testing.assert_array_equal(se["intercept"], s[[1, 3]])
    np.testing.assert_array_equal(se["coef"].ravel(), s[[2, 4]])


def test_singular_information_warning_is_exported_and_caught_as_a_runtime_warning():
    namespace: dict = {}
    exec("from emfit.poisson import *", namespace)
    assert namespace["SingularInformationWarning"] is SingularInformationWarning
    x, y, model = constant_x_fit(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(SingularInformationWarning, match="singular"):
            model.standard_errors(x, y)


# ------------------------------------------------------------------ identifiability
# The claims of PoissonRegressionMixture's docstring ("Identifiability"), one by one;
# one design value with intercepts: test_standard_errors_warn_on_singular_information.
def test_without_intercept_one_nonzero_design_value_identifies_the_mixture():
    rng = np.random.default_rng(11)
    n = 600
    x = np.ones((n, 1))
    y = rng.poisson(np.exp(np.where(rng.random(n) < 0.35, 0.5, 2.0)))
    model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(x, y)
    np.testing.assert_allclose(model.coef_.ravel(), [0.5, 2.0], atol=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularInformationWarning)
        se = model.standard_errors(x, y)
    assert np.all(np.isfinite(se["weights"])) and np.all(se["weights"] > 0)
    assert np.all(np.isfinite(se["coef"])) and np.all(se["coef"] > 0)


def test_without_intercept_observations_at_x_zero_carry_no_information():
    # lambda = exp(beta_k * 0) = 1 for every component: the rows' likelihood is
    # sum_i log Poisson(y_i; 1) whatever theta, so their score and information are 0.
    y = np.random.default_rng(12).poisson(3.0, 200).astype(float)
    x0 = np.zeros((200, 1))
    for theta in (pack_theta([0.4, 0.6], [[0.5], [2.0]]), pack_theta([0.9, 0.1], [[-1.0], [3.0]])):
        assert loglik(theta, x0, y) == pytest.approx(poisson.logpmf(y, 1.0).sum(), rel=1e-12)
        np.testing.assert_allclose(loglik_gradient(theta, x0, y), 0.0, atol=1e-9)
        for method in ("hessian", "louis"):
            info = observed_information(theta, x0, y, method=method)
            np.testing.assert_allclose(info, 0.0, atol=1e-9)


def test_two_design_points_with_equal_weights_are_not_identified():
    """Cross-paired lines give the same law at two design points when p = 1/2."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    y = np.array([0.0, 4.0, 1.0, 9.0, 3.0])
    X = design_matrix(x[:, None])
    a1, b1, a2, b2 = 0.2, 0.5, 1.5, 0.8
    lines = ([0.5, 0.5], [[a1, b1], [a2, b2]])
    crossed = ([0.5, 0.5], [[a1, a2 + b2 - a1], [a2, a1 + b1 - a2]])
    assert loglik(lines, X, y) == pytest.approx(loglik(crossed, X, y), rel=1e-13)
    # Unequal weights, or a third design point, tell them apart.
    assert loglik(([0.3, 0.7], lines[1]), X, y) != pytest.approx(
        loglik(([0.3, 0.7], crossed[1]), X, y), rel=1e-6
    )
    X3 = design_matrix(np.array([0.0, 1.0, 2.0])[:, None])
    y3 = np.array([1.0, 2.0, 5.0])
    assert loglik(lines, X3, y3) != pytest.approx(loglik(crossed, X3, y3), rel=1e-6)


def test_gradient_m_step_is_slow_with_intercepts_and_not_without():
    """As the docstring says: on the patent data, with intercepts the gradient M-step
    takes about 100 times Newton's iterations; without, about as many."""
    from emfit.datasets import load_patents

    d = load_patents()
    x, y = d["lgRD"][:, None], d["Patents"]
    for fit_intercept, lo, hi in ((True, 30.0, 300.0), (False, 0.5, 2.0)):
        kw = dict(fit_intercept=fit_intercept, random_state=0, max_iter=20_000)
        newton = PoissonRegressionMixture(2, **kw).fit(x, y)
        grad = PoissonRegressionMixture(2, m_step="gradient", **kw).fit(x, y)
        assert newton.converged_ and grad.converged_
        ratio = grad.n_iter_ / newton.n_iter_
        assert lo < ratio < hi, (fit_intercept, grad.n_iter_, newton.n_iter_)
        # the same maximum, and neither ever decreases the log-likelihood
        assert grad.loglik_ == pytest.approx(newton.loglik_, rel=1e-6)
        for m in (newton, grad):
            assert np.all(np.diff(m.history_) >= -1e-9 * abs(m.loglik_))
