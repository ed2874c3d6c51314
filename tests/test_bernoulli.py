"""Mixtures of multivariate Bernoulli distributions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import bernoulli
from sklearn.base import clone

from emfit.bernoulli import (
    BernoulliFamily,
    BernoulliMixture,
    bernoulli_log_prob,
    bernoulli_m_step,
)
from emfit.em import ConvergenceWarning, LikelihoodDecreaseWarning, e_step, fit_em


def simulate(n: int, probabilities, weights, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = np.asarray(probabilities)
    z = rng.choice(len(weights), size=n, p=weights)
    return (rng.random((n, p.shape[1])) < p[z]).astype(np.int64), z


def test_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(20, 4))
    p = rng.uniform(0.05, 0.95, size=(3, 4))
    ref = bernoulli.logpmf(X[:, None, :], p[None, :, :]).sum(axis=2)
    np.testing.assert_allclose(bernoulli_log_prob(X, p), ref, rtol=1e-12)


def test_m_step_equals_closed_form():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(200, 5)).astype(float)
    resp = rng.dirichlet(np.ones(3), size=200)
    weights, p = bernoulli_m_step(X, resp)
    np.testing.assert_allclose(weights, resp.mean(axis=0))
    ref = (resp.T @ X) / resp.sum(axis=0)[:, None]
    np.testing.assert_allclose(p, np.clip(ref, 1e-10, 1 - 1e-10), rtol=1e-13)
    family = BernoulliFamily()
    np.testing.assert_allclose(family.m_step(X, resp, np.full((3, 5), 0.5)), p, rtol=1e-13)
    # Loop form, component by component.
    for k in range(3):
        num = sum(resp[i, k] * X[i] for i in range(200))
        np.testing.assert_allclose(p[k], num / resp[:, k].sum(), rtol=1e-12)


def test_seed_problem_3b_one_dimensional_update():
    """p_0 = sum w_i x_i / sum w_i, p_1 = sum (1 - w_i) x_i / sum (1 - w_i), lambda = mean w."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, size=50).astype(float)
    w = rng.uniform(size=50)
    weights, p = bernoulli_m_step(x[:, None], np.column_stack([w, 1 - w]))
    assert weights[0] == pytest.approx(w.mean())
    assert p[0, 0] == pytest.approx((w * x).sum() / w.sum())
    assert p[1, 0] == pytest.approx(((1 - w) * x).sum() / (1 - w).sum())


def test_m_step_clips_to_alpha_and_keeps_empty_components():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    resp = np.array([[1.0, 0.0], [1.0, 0.0]])
    _, p = bernoulli_m_step(X, resp, alpha=1e-3)
    np.testing.assert_allclose(p[0], [1 - 1e-3, 1e-3])
    np.testing.assert_allclose(p[1], [1 - 1e-3, 1e-3])  # empty: column means, clipped
    previous = np.array([[0.5, 0.5], [0.3, 0.7]])
    kept = BernoulliFamily(alpha=1e-3).m_step(X, resp, previous)
    np.testing.assert_allclose(kept[1], [0.3, 0.7])  # during EM: the previous values
    np.testing.assert_array_equal(kept, bernoulli_m_step(X, resp, 1e-3, previous=previous)[1])


def test_recovers_truth():
    probs = [
        [0.9, 0.9, 0.1, 0.1, 0.5, 0.8],
        [0.1, 0.2, 0.9, 0.8, 0.5, 0.8],
        [0.5, 0.9, 0.9, 0.1, 0.1, 0.1],
    ]
    weights = [0.5, 0.3, 0.2]
    X, _z = simulate(20000, probs, weights, seed=3)
    model = BernoulliMixture(3, n_init=3, random_state=0).fit(X)
    order = np.lexsort(np.asarray(probs).T[::-1])
    np.testing.assert_allclose(model.probabilities_, np.asarray(probs)[order], atol=0.03)
    np.testing.assert_allclose(model.weights_, np.asarray(weights)[order], atol=0.02)
    assert model.converged_
    assert model.means_ is model.probabilities_


def test_api_and_attributes():
    X, _ = simulate(800, [[0.8, 0.7, 0.2], [0.2, 0.3, 0.9]], [0.4, 0.6], seed=4)
    model = BernoulliMixture(2, random_state=0).fit(X)
    n = len(X)
    assert model.history_[-1] == model.loglik_
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.loglik_))
    assert model.score(X) * n == pytest.approx(model.loglik_, rel=1e-12)
    P = 1 + 2 * 3
    assert model.bic(X) == pytest.approx(-2 * model.loglik_ + P * np.log(n))
    assert model.aic(X) == pytest.approx(-2 * model.loglik_ + 2 * P)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))
    Xs, labels = model.sample(500, random_state=0)
    assert Xs.shape == (500, 3) and set(np.unique(Xs)) <= {0, 1} and labels.shape == (500,)
    np.testing.assert_array_equal(model.sample(500, random_state=0)[0], Xs)
    assert model.probabilities_[0, 0] <= model.probabilities_[1, 0]  # canonical order
    assert len(model.restarts_) == 1
    m2 = clone(model).set_params(alpha=1e-6)
    assert m2.alpha == 1e-6 and not hasattr(m2, "probabilities_")
    # bool input is accepted
    assert BernoulliMixture(2, random_state=0).fit(X.astype(bool)).loglik_ == model.loglik_


def test_one_dimensional_mixture_fits_only_the_marginal():
    """d = 1 is not identifiable: every fit reproduces P(x = 1) and nothing more."""
    x = (np.random.default_rng(5).random((1000, 1)) < 0.3).astype(int)
    for seed in range(3):
        model = BernoulliMixture(2, random_state=seed).fit(x)
        marginal = model.weights_ @ model.probabilities_[:, 0]
        assert marginal == pytest.approx(x.mean(), abs=1e-6)


def test_initial_parameters_are_used():
    X, _ = simulate(500, [[0.8, 0.7, 0.2], [0.2, 0.3, 0.9]], [0.4, 0.6], seed=6)
    model = BernoulliMixture(
        2,
        weights_init=[0.5, 0.5],
        probabilities_init=[[0.6, 0.6, 0.4], [0.4, 0.4, 0.6]],
        max_iter=1,
        tol=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    assert model.n_iter_ == 1
    with pytest.raises(ValueError, match="probabilities_init"):
        BernoulliMixture(2, probabilities_init=[[0.0, 0.5, 0.5], [0.5, 0.5, 0.5]]).fit(X)
    with pytest.raises(ValueError, match="probabilities_init"):
        BernoulliMixture(2, probabilities_init=[[0.5, 0.5]]).fit(X)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0, 1], [2, 0]], "only 0 and 1"),
        ([[0, 0.5], [1, 0]], "only 0 and 1"),
        ([[0, -1], [1, 0]], "only 0 and 1"),
        ([[0, np.nan], [1, 0]], "NaN"),
        ([0, 1, 1], "2-d"),
    ],
)
def test_bad_data_raise_value_error_naming_x(bad, match):
    with pytest.raises(ValueError, match=match) as info:
        BernoulliMixture(2).fit(bad)
    assert "X" in str(info.value)


def test_bad_hyperparameters_and_unfitted_use():
    X = np.array([[0, 1], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match="alpha"):
        BernoulliMixture(2, alpha=0.5).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        BernoulliMixture(2, alpha=0).fit(X)
    with pytest.raises(ValueError, match="init"):
        BernoulliMixture(2, init="kmeans").fit(X)
    with pytest.raises(AttributeError, match="not fitted"):
        BernoulliMixture(2).predict(X)
    model = BernoulliMixture(1).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 3)))


@settings(derandomize=True, deadline=None, max_examples=60)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(5, 300),
    d=st.integers(1, 8),
    K=st.integers(1, 4),
    init=st.sampled_from(["random", "random_resp"]),
    alpha=st.sampled_from([1e-10, 1e-3]),
)
def test_em_never_decreases_the_loglik(seed, n, d, K, init, alpha):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=(3, d)) ** rng.uniform(0.2, 3)
    z = rng.integers(3, size=n)
    X = (rng.random((n, d)) < p[z]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_em(
            X, BernoulliFamily(alpha=alpha, init=init), K, tol=0, max_iter=30, random_state=seed
        )
    values = np.r_[fit.initial_loglik, fit.history]
    assert np.all(np.diff(values) >= -1e-9 * np.abs(values[1:]) - 1e-9)
    assert np.all((fit.params >= alpha) & (fit.params <= 1 - alpha))
    # history is the log-likelihood at the returned parameters
    _, ll = e_step(np.log(fit.weights), bernoulli_log_prob(X, fit.params))
    assert ll == pytest.approx(fit.loglik, rel=1e-12, abs=1e-9)


def test_random_init_uses_random_state_in_one_dimension():
    """d = 1: the seeding must depend on random_state (not always one 0-row, one 1-row)."""
    x = (np.random.default_rng(5).random((1000, 1)) < 0.3).astype(float)
    starts = [BernoulliFamily().initialize(x, 2, np.random.default_rng(s)) for s in range(5)]
    assert len({tuple(p.ravel().round(12)) for _, p in starts}) == 5
    for w, p in starts:
        assert np.all((p > 0) & (p < 1)) and w.sum() == pytest.approx(1.0)
    fits = [BernoulliMixture(2, random_state=s).fit(x) for s in range(5)]
    assert len({tuple(m.probabilities_.ravel().round(6)) for m in fits}) > 1
    for m in fits:  # every fit still reproduces the marginal
        assert m.weights_ @ m.probabilities_[:, 0] == pytest.approx(x.mean(), abs=1e-6)
    again = BernoulliMixture(2, random_state=3).fit(x)
    np.testing.assert_array_equal(again.probabilities_, fits[3].probabilities_)


def test_random_init_is_unchanged_for_several_coordinates():
    X = (np.random.default_rng(11).random((40, 3)) < 0.4).astype(float)
    _, p = BernoulliFamily().initialize(X, 3, np.random.default_rng(5))
    np.testing.assert_allclose(
        p, [[0.75, 0.7375, 0.7375], [0.25, 0.2375, 0.7375], [0.75, 0.2375, 0.2375]], rtol=1e-12
    )
