"""emfit.poisson.estimator: PoissonRegressionMixture, its API, validation and numerics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import poisson
from sklearn.base import clone

from emfit.datasets import make_poisson_regression_mixture
from emfit.em import RESTART_TIE_RTOL, ConvergenceWarning, DegenerateFitError, fit_em
from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    PoissonRegressionMixture,
    SingularInformationWarning,
    design_matrix,
    loglik,
    loglik_gradient,
    observed_information,
    pack_theta,
)


# --------------------------------------------------------------- statsmodels checks
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


# ------------------------------------------------------------------------ estimator
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


# ----------------------------------------------------------------------- validation
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


# ----------------------------------------------------------------- extreme numerics
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


def test_absurd_start_with_huge_values_gives_finite_results_or_a_clear_error():
    rng = np.random.default_rng(10)
    n = 500
    x = rng.uniform(-1000, 1000, size=(n, 2))
    y = rng.poisson(1e9, n)
    D = design_matrix(x)
    start = np.column_stack([np.zeros(2), np.full((2, 2), 5.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # may not converge
        # The EM path from the absurd start stays finite and monotone ...
        fit = fit_em(PoissonRegressionData.from_arrays(D, y), PoissonRegressionFamily(), 2,
                     weights_init=[0.5, 0.5], params_init=start, max_iter=50,
                     allow_degenerate=True)
        # ... and ends where a component's rates are exp(-163): the estimator says so.
        with pytest.raises(DegenerateFitError, match="run off towards infinity") as info:
            PoissonRegressionMixture(2, coef_init=np.full((2, 2), 5.0), max_iter=50).fit(x, y)
    assert np.isfinite(fit.loglik) and np.all(np.isfinite(fit.params))
    np.testing.assert_allclose(fit.weights.sum(), 1.0)
    assert np.all(np.diff(fit.history) >= -1e-9 * np.abs(fit.history[1:]))
    (record,) = info.value.restarts
    assert record.degenerate_kind == "family" and np.isfinite(record.loglik)


# ------------------------------------------------------------------ identifiability
# The claims of PoissonRegressionMixture's docstring ("Identifiability"), one by one;
# one design value with intercepts: test_poisson_inference.py,
# test_standard_errors_warn_on_singular_information.
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
