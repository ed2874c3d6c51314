"""Mixtures of Poisson regressions: numerics, cross-checks and the estimator API."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import statsmodels.api as sm
from numdiff import central_diff, rel_err, theta_blocks
from scipy.special import gammaln
from scipy.stats import poisson
from sklearn.base import clone

from emfit.datasets import make_poisson_regression_mixture
from emfit.em import RESTART_TIE_RTOL, ConvergenceWarning, e_step, fit_em
from emfit.poisson import (
    ETA_MAX,
    PoissonRegressionData,
    PoissonRegressionFamily,
    PoissonRegressionMixture,
    component_log_prob,
    design_matrix,
    fit_weighted_poisson,
    gradient_ascent_poisson,
    log_pmf_constant,
    loglik,
    loglik_gradient,
    loglik_hessian,
    observed_information,
    pack_theta,
    q_function,
    q_gradient,
    unpack_theta,
    weighted_poisson_gradient,
    weighted_poisson_hessian,
    weighted_poisson_loglik,
)


# ----------------------------------------------------------------------------- helpers
def problem(seed: int, n: int = 300, K: int = 2, p: int = 1, exposure: bool = True):
    """Random design (with intercept), counts, offset and a random interior theta."""
    rng = np.random.default_rng(seed)
    X = design_matrix(rng.normal(size=(n, p)))
    offset = np.log(rng.uniform(0.5, 2.0, n)) if exposure else np.zeros(n)
    coef = rng.normal(scale=0.5, size=(K, p + 1)) + np.linspace(0, 1.5, K)[:, None]
    weights = rng.dirichlet(np.full(K, 5.0))
    z = rng.choice(K, size=n, p=weights)
    y = rng.poisson(np.exp(offset + np.einsum("ij,ij->i", X, coef[z]))).astype(float)
    # A theta near, but not at, the truth.
    theta = pack_theta(0.8 * weights + 0.2 / K, coef + rng.normal(scale=0.1, size=coef.shape))
    return X, y, offset, theta


# ------------------------------------------------------------------ statsmodels checks
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("with_exposure", [False, True])
def test_one_component_equals_statsmodels_glm(fit_intercept, with_exposure):
    rng = np.random.default_rng(1)
    n = 500
    x = rng.uniform(-1, 1, size=(n, 2))
    e = rng.uniform(0.5, 3.0, n) if with_exposure else None
    eta = 0.3 * fit_intercept + x @ [0.8, -0.5] + (np.log(e) if with_exposure else 0)
    y = rng.poisson(np.exp(eta))
    model = PoissonRegressionMixture(1, fit_intercept=fit_intercept).fit(x, y, exposure=e)
    Z = sm.add_constant(x) if fit_intercept else x
    ref = sm.GLM(y, Z, family=sm.families.Poisson(), exposure=e).fit(tol=1e-14)
    got = np.r_[model.intercept_, model.coef_.ravel()] if fit_intercept else model.coef_.ravel()
    np.testing.assert_allclose(got, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.loglik_, ref.llf, rtol=1e-12)
    assert model.weights_.tolist() == [1.0]
    if not fit_intercept:
        assert model.intercept_.tolist() == [0.0]


def test_one_component_standard_errors_equal_statsmodels():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(400, 1))
    y = rng.poisson(np.exp(1.0 + 0.7 * x[:, 0]))
    model = PoissonRegressionMixture(1).fit(x, y)
    ref = sm.GLM(y, sm.add_constant(x), family=sm.families.Poisson()).fit(tol=1e-14)
    for method in ("hessian", "louis"):
        se = model.standard_errors(x, y, method=method)
        np.testing.assert_allclose(np.r_[se["intercept"], se["coef"].ravel()], ref.bse, rtol=1e-7)
        assert se["weights"].tolist() == [0.0]


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


# -------------------------------------------------------- log-probabilities and theta
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


# ------------------------------------------------------------------ derivatives
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


def test_fused_em_step_equals_default_sequence():
    X, y, offset, theta = problem(42, n=300, K=3)
    w, c = unpack_theta(theta, X.shape[1])
    data = PoissonRegressionData.from_arrays(X, y, offset)
    fam = PoissonRegressionFamily()
    ll, resp_sum, new = fam.em_step(data, np.log(w), c)
    log_resp, ll_ref = e_step(np.log(w), fam.log_prob(data, c))
    resp = np.exp(log_resp)
    assert ll == pytest.approx(ll_ref, rel=1e-12)
    assert ll == pytest.approx(loglik(theta, X, y, offset), rel=1e-12)
    np.testing.assert_allclose(resp_sum, resp.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(new, fam.m_step(data, resp, c), atol=1e-8)


# ------------------------------------------------------------------ estimator
def test_recovers_the_fish_problem_truth():
    X, y, labels, truth = make_poisson_regression_mixture(20000, return_truth=True, random_state=0)
    model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(X, y)
    assert model.converged_
    np.testing.assert_allclose(model.coef_, truth["coef"], atol=0.03)
    np.testing.assert_allclose(model.weights_, truth["weights"], atol=0.02)
    assert model.intercept_.tolist() == [0.0, 0.0]
    # Most observations are classified to their true component where lines separate.
    far = X[:, 0] > 1.0
    assert np.mean(model.predict(X, y)[far] == labels[far]) > 0.85


def test_recovers_truth_with_intercept_and_exposure():
    rng = np.random.default_rng(1)
    n = 20000
    e = rng.uniform(1, 5, n)
    X, y, _, truth = make_poisson_regression_mixture(
        n,
        coef=[[1.0, -0.5], [0.2, 0.5]],
        intercept=[0.0, 1.5],
        weights=[0.3, 0.7],
        x_range=(-1, 1),
        exposure=e,
        return_truth=True,
        random_state=1,
    )
    model = PoissonRegressionMixture(2, random_state=0).fit(X, y, exposure=e)
    np.testing.assert_allclose(model.intercept_, truth["intercept"], atol=0.05)
    np.testing.assert_allclose(model.coef_, truth["coef"], atol=0.05)
    np.testing.assert_allclose(model.weights_, truth["weights"], atol=0.02)
    se = model.standard_errors(X, y, exposure=e)
    assert se["coef"].shape == (2, 2) and se["intercept"].shape == (2,)
    assert np.all((se["coef"] > 0) & (se["coef"] < 0.05))
    # K = 2: pi_2 = 1 - pi_1, so both weights have the same standard error.
    assert se["weights"][0] == pytest.approx(se["weights"][1])


def test_fitted_attributes_history_and_scores():
    X, y, _ = make_poisson_regression_mixture(600, random_state=3)
    model = PoissonRegressionMixture(2, n_init=3, random_state=0).fit(X, y)
    n = len(y)
    assert model.weights_.shape == (2,) and model.coef_.shape == (2, 1)
    assert model.intercept_.shape == (2,)
    assert model.history_.shape == (model.n_iter_,)
    assert model.history_[-1] == model.loglik_
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.loglik_))
    assert len(model.restarts_) == 3
    top = max(r.loglik for r in model.restarts_)
    kept = next(r for r in model.restarts_ if r.loglik >= top - RESTART_TIE_RTOL * abs(top))
    assert model.loglik_ == kept.loglik  # the first restart tied with the best
    assert model.score(X, y) * n == pytest.approx(model.loglik_, rel=1e-12)
    P = 1 + 2 * 2
    assert model.bic(X, y) == pytest.approx(-2 * model.loglik_ + P * np.log(n))
    assert model.aic(X, y) == pytest.approx(-2 * model.loglik_ + 2 * P)
    proba = model.predict_proba(X, y)
    assert proba.shape == (n, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X, y), proba.argmax(axis=1))
    lam = np.exp(model.intercept_ + X @ model.coef_.T)
    np.testing.assert_allclose(model.predict_mean(X), lam @ model.weights_)
    e = np.full(n, 2.0)
    np.testing.assert_allclose(model.predict_mean(X, exposure=e), 2 * lam @ model.weights_)


def test_canonical_order_does_not_depend_on_the_start():
    X, y, _ = make_poisson_regression_mixture(2000, random_state=4)
    a = PoissonRegressionMixture(
        2, fit_intercept=False, coef_init=[[0.5], [2.5]], weights_init=[0.5, 0.5]
    ).fit(X, y)
    b = PoissonRegressionMixture(
        2, fit_intercept=False, coef_init=[[2.5], [0.5]], weights_init=[0.5, 0.5]
    ).fit(X, y)
    assert a.coef_[0, 0] < a.coef_[1, 0]
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)
    np.testing.assert_allclose(a.weights_, b.weights_, atol=1e-6)
    c = PoissonRegressionMixture(2, coef_init=[[1.0], [1.0]], intercept_init=[1.0, -1.0])
    c.fit(X, y)
    assert c.intercept_[0] <= c.intercept_[1]


def test_sample_shapes_and_frequencies():
    X, y, _ = make_poisson_regression_mixture(3000, random_state=5)
    model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(X, y)
    ys, labels = model.sample(X, random_state=0)
    assert ys.shape == (3000,) and ys.dtype == np.int64 and labels.shape == (3000,)
    assert abs(np.mean(labels == 1) - model.weights_[1]) < 0.03
    ys2, _ = model.sample(X, random_state=0)
    np.testing.assert_array_equal(ys, ys2)
    assert abs(ys.mean() - model.predict_mean(X).mean()) < 0.05 * ys.mean()


def test_get_params_set_params_clone():
    model = PoissonRegressionMixture(3, m_step="gradient", init="residual", tol=1e-6)
    params = model.get_params()
    assert params["n_components"] == 3 and params["m_step"] == "gradient"
    model2 = clone(model).set_params(n_components=2)
    assert model2.n_components == 2 and model2.init == "residual"
    assert not hasattr(model2, "coef_")


def test_gradient_m_step_is_monotone_and_slower_than_newton():
    X, y, _ = make_poisson_regression_mixture(1000, random_state=6)
    start = {"fit_intercept": False, "coef_init": [[0.5], [2.5]], "weights_init": [0.5, 0.5]}
    newton = PoissonRegressionMixture(2, **start).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grad = PoissonRegressionMixture(2, m_step="gradient", max_iter=30, **start).fit(X, y)
    assert np.all(np.diff(grad.history_) >= -1e-9 * abs(grad.loglik_))
    assert grad.loglik_ <= newton.loglik_ + 1e-9 * abs(newton.loglik_)
    assert newton.history_[:30][-1] >= grad.history_[-1] - 1e-9 * abs(grad.loglik_)


def test_residual_init_is_deterministic():
    X, y, _ = make_poisson_regression_mixture(1000, random_state=7)
    a = PoissonRegressionMixture(2, init="residual", random_state=0).fit(X, y)
    b = PoissonRegressionMixture(2, init="residual", random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_family_hooks_with_the_driver():
    X, y, _ = make_poisson_regression_mixture(500, random_state=8)
    data = PoissonRegressionData.from_arrays(X, y)
    fam = PoissonRegressionFamily()
    fit = fit_em(data, fam, 2, random_state=0)
    assert fit.params.shape == (2, 1)
    assert fam.n_parameters(fit.params) == 2
    assert fam.n_samples(data) == 500
    assert fam.log_prob(data, fit.params).shape == (500, 2)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "bad_y, match",
    [
        ([1, -1, 2, 3], "non-negative"),
        ([1, 1.5, 2, 3], "integer"),
        ([1, np.nan, 2, 3], "NaN"),
        ([1, np.inf, 2, 3], "infinity"),
        ([[1], [2], [3], [4]], "1-d"),
        ([1, 2, 3], "has 3 values"),
    ],
)
def test_bad_counts_raise_value_error_naming_y(bad_y, match):
    X = np.arange(4.0)[:, None]
    with pytest.raises(ValueError, match=match) as info:
        PoissonRegressionMixture(1).fit(X, bad_y)
    assert "y" in str(info.value)


@pytest.mark.parametrize(
    "bad_X, match",
    [
        (np.arange(4.0), "2-d"),
        (np.zeros((4, 1, 1)), "2-d"),
        (np.array([[0.0], [np.nan], [1.0], [2.0]]), "NaN"),
        (np.array([[0.0], [np.inf], [1.0], [2.0]]), "infinity"),
    ],
)
def test_bad_covariates_raise_value_error_naming_x(bad_X, match):
    with pytest.raises(ValueError, match=match) as info:
        PoissonRegressionMixture(1).fit(bad_X, [0, 1, 2, 3])
    assert "X" in str(info.value)


@pytest.mark.parametrize(
    "bad_e, match",
    [
        ([1.0, 0.0, 1.0, 1.0], "positive"),
        ([1.0, -2.0, 1.0, 1.0], "positive"),
        ([1.0, 1.0, 1.0], "has 3 values"),
        ([1.0, np.nan, 1.0, 1.0], "NaN"),
        ([1.0, np.inf, 1.0, 1.0], "infinity"),
    ],
)
def test_bad_exposure_raises_value_error_naming_it(bad_e, match):
    X = np.arange(4.0)[:, None]
    with pytest.raises(ValueError, match=match) as info:
        PoissonRegressionMixture(1).fit(X, [0, 1, 2, 3], exposure=bad_e)
    assert "exposure" in str(info.value)


def test_bad_hyperparameters_and_unfitted_use():
    X, y = np.arange(6.0)[:, None], np.arange(6)
    with pytest.raises(ValueError, match="m_step"):
        PoissonRegressionMixture(m_step="sgd").fit(X, y)
    with pytest.raises(ValueError, match="init"):
        PoissonRegressionMixture(init="kmeans").fit(X, y)
    with pytest.raises(ValueError, match="n_components"):
        PoissonRegressionMixture(0).fit(X, y)
    with pytest.raises(ValueError, match="coef_init"):
        PoissonRegressionMixture(2, coef_init=[[1.0, 2.0]]).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        observed_information(np.zeros(1), np.ones((2, 1)), [0.0, 1.0], method="bfgs")
    with pytest.raises(AttributeError, match="not fitted"):
        PoissonRegressionMixture().predict(X, y)
    model = PoissonRegressionMixture(1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((3, 2)), [0, 1, 2])


# ------------------------------------------------------------------ extreme numerics
def test_huge_counts_and_covariates_stay_finite_and_monotone():
    rng = np.random.default_rng(9)
    n = 2000
    x = rng.uniform(0, 1000, size=(n, 1))
    z = rng.random(n) < 0.5
    y = rng.poisson(np.exp(np.where(z, 1 + 0.02 * x[:, 0], 0.5 + 0.015 * x[:, 0])))
    assert y.max() > 1e8
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = PoissonRegressionMixture(2, random_state=0).fit(x, y)
        se = model.standard_errors(x, y)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.loglik_))
    np.testing.assert_allclose(model.intercept_, [0.5, 1.0], atol=0.01)
    np.testing.assert_allclose(model.coef_.ravel(), [0.015, 0.02], atol=1e-4)
    for v in se.values():
        assert np.all(np.isfinite(v))


def test_absurd_start_with_huge_values_gives_finite_results():
    rng = np.random.default_rng(10)
    n = 500
    x = rng.uniform(-1000, 1000, size=(n, 2))
    y = rng.poisson(1e9, n)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # may not converge
        model = PoissonRegressionMixture(2, coef_init=np.full((2, 2), 5.0), max_iter=50).fit(x, y)
        ll = model.score_samples(x, y)
        proba = model.predict_proba(x, y)
        mean = model.predict_mean(x)
    assert np.isfinite(model.loglik_) and np.all(np.isfinite(ll))
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.weights_.sum(), 1.0)
    assert np.all(np.isfinite(mean)) and mean.max() <= np.exp(ETA_MAX)
    assert np.all(np.diff(model.history_) >= -1e-9 * np.abs(model.history_[1:]))
