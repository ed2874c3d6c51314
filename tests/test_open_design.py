"""The design is open: a new mixture is one small family plus the shared pieces.

An exponential mixture, written here in full: its family is the log-density, the
weighted-MLE M-step, an initialiser and the parameter count. The driver
(:func:`emfit.em.fit_em`: the E-step, the loop, restarts, the monotonicity check) and
the estimator plumbing (:class:`emfit._base.MixtureEstimatorMixin`: predictions,
scores, criteria, the not-fitted error, the docstrings) come for free.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from emfit._base import MixtureEstimatorMixin, shared_docstrings
from emfit.em import MixtureFamily


class ExponentialFamily(MixtureFamily):
    """Components ``f(x | rate) = rate exp(-rate x)``, ``x > 0``; params: rates (K,)."""

    def log_prob(self, data, params):
        return np.log(params)[None, :] - data[:, None] * params[None, :]

    def m_step(self, data, resp, params):
        return resp.sum(axis=0) / (resp.T @ data)  # weighted MLE: 1 / weighted mean

    def initialize(self, data, n_components, rng):
        return np.full(n_components, 1.0 / n_components), 1.0 / rng.choice(data, n_components)

    def n_parameters(self, params):
        return params.size


@shared_docstrings
class ExponentialMixture(MixtureEstimatorMixin, BaseEstimator):
    """Mixture of exponential distributions, fitted by EM."""

    _fitted_attribute = "rates_"
    _data_doc = "x : array-like of shape (n_samples,)\n    Positive observations."

    def __init__(self, n_components=2, *, tol=1e-10, max_iter=1000, n_init=1, random_state=None):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, x):
        x = np.asarray(x, dtype=float)
        fit = self._fit_em(x, ExponentialFamily(), self.n_components, weights_init=None, params_init=None)
        order = np.argsort(fit.params)
        self._set_fit_result(fit, order)
        self.rates_ = fit.params[order]
        return self

    def _log_prob(self, x):
        return ExponentialFamily().log_prob(np.asarray(x, dtype=float), self.rates_)

    def _n_component_parameters(self):
        return ExponentialFamily().n_parameters(self.rates_)

    def score_samples(self, x):
        return super().score_samples(x)

    def predict_proba(self, x):
        return super().predict_proba(x)

    def bic(self, x):
        return super().bic(x)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(0)
    z = rng.random(20_000) < 0.3
    return rng.exponential(np.where(z, 1.0, 0.1)), z  # rates 1 and 10


def test_new_family_fits_by_the_shared_driver(sample):
    x, _ = sample
    model = ExponentialMixture(2, n_init=3, random_state=0).fit(x)
    np.testing.assert_allclose(model.rates_, [1.0, 10.0], rtol=0.05)
    np.testing.assert_allclose(model.weights_, [0.3, 0.7], atol=0.02)
    assert model.converged_ and np.all(np.diff(model.history_) >= -1e-9 * abs(model.loglik_))
    # the shared E-step gives the mixture density that scipy computes
    direct = np.log(model.weights_ @ stats.expon.pdf(x[None, :], scale=1 / model.rates_[:, None]))
    np.testing.assert_allclose(model.score_samples(x), direct, rtol=1e-12)
    assert model.score_samples(x).sum() == pytest.approx(model.loglik_, rel=1e-12)


def test_new_estimator_gets_the_plumbing(sample):
    x, z = sample
    with pytest.raises(NotFittedError, match="ExponentialMixture is not fitted yet"):
        ExponentialMixture().predict_proba(x)
    model = ExponentialMixture(2, random_state=1).fit(x)
    resp = model.predict_proba(x)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-14)
    assert np.mean(model.predict(x) == np.where(z, 0, 1)) > 0.8  # slow component first
    assert model.bic(x) == pytest.approx(-2 * model.loglik_ + 3 * np.log(len(x)), rel=1e-12)
    assert ExponentialMixture.bic.__doc__.startswith("Bayesian information criterion")
    assert "x : array-like of shape (n_samples,)" in ExponentialMixture.predict_proba.__doc__
