"""emfit._base: the plumbing every estimator shares, written once."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from emfit import BernoulliMixture, GaussianMixture, PoissonRegressionMixture
from emfit.datasets import make_poisson_regression_mixture

rng = np.random.default_rng(0)
X_GAUSS = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))]
X_BIN = (rng.random((80, 3)) < np.repeat([[0.2, 0.8, 0.5], [0.9, 0.1, 0.5]], 40, axis=0)).astype(float)
X_POIS, Y_POIS, _ = make_poisson_regression_mixture(300, random_state=1)

CASES = [
    (GaussianMixture(2, random_state=0), (X_GAUSS,)),
    (BernoulliMixture(2, random_state=0), (X_BIN,)),
    (PoissonRegressionMixture(2, random_state=0), (X_POIS, Y_POIS)),
]
METHODS = ["predict_proba", "predict", "score_samples", "score", "bic", "aic"]


@pytest.mark.parametrize("model, data", CASES, ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_unfitted_estimators_raise_scikit_learns_error(model, data):
    for name in METHODS:
        with pytest.raises(NotFittedError, match=rf"{type(model).__name__} is not fitted yet"):
            getattr(model, name)(*data)


@pytest.mark.parametrize("model, data", CASES, ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_predictions_come_from_one_e_step(model, data):
    model.fit(*data)
    resp, samples = model.predict_proba(*data), model.score_samples(*data)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-14)
    # the E-step's normaliser is the per-sample log-likelihood, summed it is loglik_
    assert samples.sum() == pytest.approx(model.loglik_, rel=1e-9)
    np.testing.assert_array_equal(model.predict(*data), resp.argmax(axis=1))
    n, P = len(samples), model._n_parameters()
    assert model.score(*data) == pytest.approx(samples.mean(), rel=1e-14)
    assert model.bic(*data) == pytest.approx(-2 * samples.sum() + P * np.log(n), rel=1e-14)
    assert model.aic(*data) == pytest.approx(-2 * samples.sum() + 2 * P, rel=1e-14)


@pytest.mark.parametrize("cls", [GaussianMixture, BernoulliMixture, PoissonRegressionMixture])
def test_shared_methods_have_one_docstring_with_the_estimators_arguments(cls):
    for name in METHODS:
        doc = getattr(cls, name).__doc__
        assert doc and "Parameters\n----------\n" + cls._data_doc in doc, (cls.__name__, name)
    assert ("y : ignored" in cls.score.__doc__) == (cls is not PoissonRegressionMixture)


def test_shared_constructor_parameters_are_filled_into_every_estimator_docstring():
    from emfit import BernoulliMixture, GaussianMixture, PoissonRegressionMixture
    from emfit._base import _PARAMETER_DOCS

    for cls in (GaussianMixture, PoissonRegressionMixture, BernoulliMixture):
        assert "SHARED_PARAMETER" not in cls.__doc__, cls.__name__
        first = _PARAMETER_DOCS["accelerate"].splitlines()[0]
        assert f'accelerate : {{None, "squarem"}}, default=None\n        {first}' in cls.__doc__
