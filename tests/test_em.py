"""The family-agnostic EM driver (emfit.em) on toy families."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from toy_families import UnitNormal

from emfit.em import (
    ConvergenceWarning,
    RESTART_TIE_RTOL,
    EMFit,
    LikelihoodDecreaseWarning,
    MixtureFamily,
    RestartResult,
    _first_best,
    e_step,
    normalise_block,
    fit_em,
    logsumexp_rows,
)


class SpoiledNormal(UnitNormal):
    """A broken M-step: moves the means away from the optimum after iteration 3."""

    def __init__(self):
        self.calls = 0

    def m_step(self, data, resp, params):
        self.calls += 1
        good = super().m_step(data, resp, params)
        return good if self.calls < 3 else good + 1.0


class TupleData(UnitNormal):
    """Same model, data passed as a tuple (x, unused): exercises n_samples()."""

    def log_prob(self, data, params):
        return super().log_prob(data[0], params)

    def m_step(self, data, resp, params):
        return super().m_step(data[0], resp, params)

    def initialize(self, data, n_components, rng):
        return super().initialize(data[0], n_components, rng)


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(-3, 1, 150), rng.normal(3, 1, 100)]


def test_e_step_matches_scipy():
    rng = np.random.default_rng(1)
    lp = rng.normal(scale=50, size=(40, 4))
    lw = np.log(rng.dirichlet(np.ones(4)))
    log_resp, ll = e_step(lw, lp)
    expected = logsumexp(lp + lw, axis=1)
    assert ll == pytest.approx(expected.sum(), rel=1e-14)
    np.testing.assert_allclose(log_resp, lp + lw - expected[:, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0, rtol=1e-14)


def test_e_step_zero_weight_and_extreme_values():
    lp = np.array([[-1e300, -1.0], [-2000.0, -2001.0]])
    log_resp, ll = e_step(np.array([-np.inf, 0.0]), lp)
    assert np.isfinite(ll)
    np.testing.assert_array_equal(np.exp(log_resp)[:, 0], 0.0)
    assert logsumexp_rows(np.array([[-np.inf, -np.inf]]))[0] == -np.inf


def test_e_step_all_minus_inf_row_raises():
    with pytest.raises(FloatingPointError, match="zero density"):
        e_step(np.log([0.5, 0.5]), np.array([[0.0, 0.0], [-np.inf, -np.inf]]))


def test_fit_recovers_means_and_history_semantics(x):
    fit = fit_em(x, UnitNormal(), 2, random_state=0)
    assert isinstance(fit, EMFit)
    assert fit.converged
    np.testing.assert_allclose(np.sort(fit.params), [-3, 3], atol=0.3)
    # history[-1] is the log-likelihood of the returned parameters (no lag).
    lw = np.log(fit.weights)
    _, ll = e_step(lw, UnitNormal().log_prob(x, fit.params))
    assert fit.history[-1] == fit.loglik
    assert ll == pytest.approx(fit.loglik, rel=1e-13)
    assert fit.history.shape == (fit.n_iter,)
    assert np.all(np.diff(fit.history) >= -1e-9 * np.abs(fit.history[1:]))
    # history[0] is after the first M-step, so it exceeds the initial log-likelihood.
    assert fit.history[0] >= fit.initial_loglik
    assert fit.weights.sum() == pytest.approx(1.0, rel=1e-14)


def test_stopping_rule_is_relative_change_of_total(x):
    tol = 1e-6
    init = {"weights_init": [0.5, 0.5], "params_init": np.array([-1.0, 0.5])}
    fit = fit_em(x, UnitNormal(), 2, tol=tol, **init)
    h = fit.history
    assert abs(h[-1] - h[-2]) <= tol * abs(h[-1])
    assert np.all(np.abs(np.diff(h[:-1])) > tol * np.abs(h[1:-1]))
    # the rule does not depend on n: duplicating the data gives the same iterations
    fit2 = fit_em(np.r_[x, x], UnitNormal(), 2, tol=tol, **init)
    assert fit2.n_iter == fit.n_iter


def test_convergence_warning_and_fixed_iterations(x):
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        fit = fit_em(x, UnitNormal(), 2, tol=0, max_iter=3, random_state=0)
    assert fit.n_iter == 3 and not fit.converged and fit.history.size == 3


def test_warning_filters_for_the_base_classes_catch_emfit_warnings(x):
    """A filter written for scikit-learn's ConvergenceWarning, or for RuntimeWarning,
    acts on emfit's warnings."""
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", SkConvergenceWarning)
        with pytest.raises(SkConvergenceWarning, match="max_iter=3"):
            fit_em(x, UnitNormal(), 2, tol=0, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(LikelihoodDecreaseWarning, match="decreased"):
            fit_em(x, SpoiledNormal(), 2, tol=0, max_iter=6, random_state=0)


def test_max_iter_zero_evaluates_initial_fit(x):
    fit = fit_em(x, UnitNormal(), 2, max_iter=0, random_state=0)
    assert fit.n_iter == 0 and fit.history.size == 0
    assert fit.loglik == fit.initial_loglik


def test_decrease_is_detected_and_names_iteration(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(LikelihoodDecreaseWarning, match=r"iteration \d+ .* by [0-9.e+]+"):
            fit_em(x, SpoiledNormal(), 2, tol=0, max_iter=6, random_state=0)
        # can be switched off
        with warnings.catch_warnings():
            warnings.simplefilter("error", LikelihoodDecreaseWarning)
            fit_em(x, SpoiledNormal(), 2, tol=0, max_iter=6, random_state=0, check_monotone=False)


def test_restarts_recorded_best_kept_and_prefix_stable(x):
    fits = [fit_em(x, UnitNormal(), 3, n_init=m, random_state=7, tol=1e-8) for m in (1, 2, 5)]
    for f in fits:
        assert all(isinstance(r, RestartResult) for r in f.restarts)
        top = max(r.loglik for r in f.restarts)
        kept = next(i for i, r in enumerate(f.restarts) if r.loglik == f.loglik)
        # the first restart tied with the best (to RESTART_TIE_RTOL) is kept
        assert f.loglik >= top - RESTART_TIE_RTOL * abs(top)
        assert all(r.loglik < top - RESTART_TIE_RTOL * abs(top) for r in f.restarts[:kept])
    assert [len(f.restarts) for f in fits] == [1, 2, 5]
    # restart i is the same whatever n_init, and keeps its parameters
    def summary(r):
        return (r.loglik, r.n_iter, r.converged, tuple(r.weights), tuple(r.params))

    assert [summary(r) for r in fits[2].restarts[:2]] == [summary(r) for r in fits[1].restarts]
    assert [summary(r) for r in fits[1].restarts[:1]] == [summary(r) for r in fits[0].restarts]
    best = next(r for r in fits[2].restarts if r.loglik == fits[2].loglik)
    np.testing.assert_array_equal(best.params, fits[2].params)
    tie = RESTART_TIE_RTOL * abs(fits[2].loglik)
    assert fits[0].loglik <= fits[1].loglik + tie and fits[1].loglik <= fits[2].loglik + tie


def test_ties_between_restarts_go_to_the_first():
    """Restarts that reach one maximum differ in the last bits: the first is kept."""
    lls = [-100.0, -50.0 * (1 + 0.4 * RESTART_TIE_RTOL), -50.0, -50.0 * (1 + 2 * RESTART_TIE_RTOL)]
    runs = [
        EMFit(weights=np.ones(1), params=i, loglik=ll, history=np.array([ll]), n_iter=1, converged=True, initial_loglik=ll)
        for i, ll in enumerate(lls)
    ]
    assert _first_best(runs).params == 1  # within the tolerance of the best (run 2), and first
    assert _first_best(runs[2:]).params == 2
    assert _first_best(runs[3:]).params == 3


def test_random_state_generator_and_reproducibility(x):
    a = fit_em(x, UnitNormal(), 2, random_state=3)
    b = fit_em(x, UnitNormal(), 2, random_state=3)
    np.testing.assert_array_equal(a.params, b.params)
    g = fit_em(x, UnitNormal(), 2, random_state=np.random.default_rng(3))
    assert np.isfinite(g.loglik)


def test_user_initialisation_used_for_every_restart(x):
    fit = fit_em(
        x, UnitNormal(), 2, weights_init=[0.5, 0.5], params_init=np.array([-1.0, 1.0]), n_init=3
    )
    assert len({r.loglik for r in fit.restarts}) == 1
    # only weights given: params come from the family
    fit2 = fit_em(x, UnitNormal(), 2, weights_init=np.array([0.9, 0.1]), max_iter=0, random_state=0)
    np.testing.assert_array_equal(fit2.weights, [0.9, 0.1])


def test_tuple_data(x):
    fit = fit_em((x, None), TupleData(), 2, random_state=0)
    ref = fit_em(x, UnitNormal(), 2, random_state=0)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components"),
        ({"n_components": 1.5}, "n_components"),
        ({"max_iter": -1}, "max_iter"),
        ({"n_init": 0}, "n_init"),
        ({"tol": -1.0}, "tol"),
        ({"weights_init": [0.2, 0.2]}, "weights_init"),
        ({"weights_init": [0.5, 0.5, 0.0]}, "weights_init"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_arguments(x, kwargs, match):
    args = {"n_components": 2, **kwargs}
    k = args.pop("n_components")
    with pytest.raises(ValueError, match=match):
        fit_em(x, UnitNormal(), k, **args)


def test_family_is_abstract():
    with pytest.raises(TypeError):
        MixtureFamily()  # type: ignore[abstract]


@pytest.mark.parametrize("K", [1, 3])
def test_e_step_leaves_its_input_and_agrees_with_the_block_e_step(K):
    rng = np.random.default_rng(K)
    log_prob = rng.normal(size=(50, K)) * 30
    log_weights = np.log(rng.dirichlet(np.ones(K)))
    before = log_prob.copy()
    log_resp, ll = e_step(log_weights, log_prob)
    np.testing.assert_array_equal(log_prob, before)
    joint_t = (log_prob + log_weights).T.copy()
    norm = normalise_block(joint_t)
    np.testing.assert_allclose(np.exp(log_resp), joint_t.T, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(norm, logsumexp(log_prob + log_weights, axis=1), rtol=1e-13)
    assert ll == pytest.approx(norm.sum(), rel=1e-14)


def test_block_e_step_names_the_row_with_zero_density():
    a = np.zeros((2, 4))
    a[:, 2] = -np.inf
    with pytest.raises(FloatingPointError, match=r"1 observation\(s\) \(first: row 12\).*zero density"):
        normalise_block(a, first_row=10)
