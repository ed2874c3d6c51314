"""Degenerate restarts are detected, recorded and never returned (emfit.em.fit_em)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from toy_families import UnitNormal

from emfit.em import (
    DegenerateFitError,
    DegenerateRestartWarning,
    MixtureFamily,
    fit_em,
)
from emfit.poisson import PoissonRegressionMixture


def test_every_restart_degenerate_raises_with_the_reasons():
    x = np.r_[np.linspace(-1, 1, 40) - 5, np.linspace(-1, 1, 40) + 5]
    with pytest.raises(DegenerateFitError, match=r"weight .* is below one observation") as info:
        fit_em(x, UnitNormal(), 3, weights_init=[0.4, 0.4, 0.2],
               params_init=np.array([-5.0, 5.0, 60.0]), max_iter=50)
    (record,) = info.value.restarts
    assert record.degenerate_kind == "weight"
    assert record.weights[2] * len(x) < 1
    assert np.isfinite(record.loglik)


def test_degenerate_restarts_are_set_aside_with_a_warning():
    x = np.r_[np.linspace(-1, 1, 40) - 5, np.linspace(-1, 1, 40) + 5]
    family = UnitNormal()
    plain = fit_em(x, family, 2, n_init=4, random_state=0)
    assert all(r.degenerate is None for r in plain.restarts)
    assert all(r.params is not None and r.weights is not None for r in plain.restarts)
    # allow_degenerate keeps them in the competition, marked
    kept = fit_em(x, family, 3, weights_init=[0.4, 0.4, 0.2],
                  params_init=np.array([-5.0, 5.0, 60.0]), max_iter=50, allow_degenerate=True)
    assert kept.restarts[0].degenerate_kind == "weight"


def zeros_and_counts(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, n)
    y = np.where(np.arange(n) < n // 2, 0, rng.poisson(np.exp(1 + 0.5 * x)))
    return x[:, None], y


def test_poisson_component_holding_only_zeros_is_degenerate():
    X, y = zeros_and_counts()
    with pytest.raises(DegenerateFitError, match="run off towards infinity") as info:
        PoissonRegressionMixture(2, n_init=3, random_state=0).fit(X, y)
    assert {r.degenerate_kind for r in info.value.restarts} == {"family"}
    assert "fit fewer components" in str(info.value)


class FarFirst(UnitNormal):
    """Restart 0 starts a component far from the data (it empties); the others do not."""

    def __init__(self):
        self.calls = 0

    def initialize(self, data, n_components, rng):
        self.calls += 1
        if self.calls == 1:
            return np.array([0.4, 0.4, 0.2]), np.array([-5.0, 5.0, 60.0])
        return np.full(3, 1 / 3), np.array([-5.0, 5.0, 4.0])


def test_the_best_regular_restart_is_returned_and_the_others_reported():
    x = np.r_[np.linspace(-1, 1, 40) - 5, np.linspace(-1, 1, 40) + 5]
    with pytest.warns(DegenerateRestartWarning, match="1 of 3 restarts"):
        fit = fit_em(x, FarFirst(), 3, n_init=3, random_state=0, max_iter=200)
    kinds = [r.degenerate_kind for r in fit.restarts]
    assert kinds == ["weight", None, None]
    # the degenerate restart (the K = 2 fit with an empty third component) has the
    # higher likelihood here, and is still not returned
    assert fit.restarts[0].loglik > fit.loglik
    assert fit.loglik == fit.restarts[1].loglik


@pytest.mark.slow
def test_iris_collapse_is_set_aside_and_the_regular_maximum_returned():
    """GaussianMixture(3, full, n_init=30, reg_covar=0) on iris: one restart collapses
    onto the 29 flowers with petal width 0.2 (l ~ +786, a singular covariance); the
    fit returns the regular maximum -180.19 and says one restart was set aside."""
    from sklearn.datasets import load_iris

    from emfit import GaussianMixture

    X = load_iris().data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no LikelihoodDecreaseWarning, nothing else
        with pytest.warns(DegenerateRestartWarning, match="1 of 30 restarts"):
            model = GaussianMixture(
                3, covariance_type="full", n_init=30, reg_covar=0, random_state=0
            ).fit(X)
    assert model.loglik_ == pytest.approx(-180.185, abs=1e-3)
    (bad,) = [r for r in model.restarts_ if r.degenerate is not None]
    assert bad.degenerate_kind == "family" and "numerically singular" in bad.degenerate
    assert bad.loglik > 700  # the unbounded likelihood, not an estimate
