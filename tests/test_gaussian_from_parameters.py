"""GaussianMixture.from_parameters evaluates a mixture at parameters of one's choice."""

import numpy as np
import pytest
from scipy import stats

from emfit import GaussianMixture


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(4, 1, (50, 2))])


def test_matches_the_fitted_model(data):
    fitted = GaussianMixture(2, random_state=0).fit(data)
    rebuilt = GaussianMixture.from_parameters(fitted.weights_, fitted.means_, fitted.covariances_)
    assert rebuilt.score(data) * len(data) == pytest.approx(fitted.loglik_, rel=1e-12)
    np.testing.assert_allclose(rebuilt.predict_proba(data), fitted.predict_proba(data), atol=1e-12)


@pytest.mark.parametrize(
    "covariance_type, covariances, dense",
    [
        ("full", [[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]]],
         [[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]]]),
        ("tied", [[1.0, 0.3], [0.3, 2.0]], [[[1.0, 0.3], [0.3, 2.0]]] * 2),
        ("diag", [[1.0, 2.0], [0.5, 0.25]], [np.diag([1.0, 2.0]), np.diag([0.5, 0.25])]),
        ("spherical", [1.5, 0.5], [1.5 * np.eye(2), 0.5 * np.eye(2)]),
    ],
)
def test_densities_equal_scipy(data, covariance_type, covariances, dense):
    weights, means = np.array([0.3, 0.7]), np.array([[0.0, 0.0], [4.0, 4.0]])
    gm = GaussianMixture.from_parameters(weights, means, covariances, covariance_type=covariance_type)
    expected = np.log(sum(w * stats.multivariate_normal(m, c).pdf(data)
                          for w, m, c in zip(weights, means, dense)))
    np.testing.assert_allclose(gm.score_samples(data), expected, rtol=1e-12)


def test_fixed_model_takes_variance(data):
    gm = GaussianMixture.from_parameters([0.5, 0.5], [[0.0, 0.0], [4.0, 4.0]],
                                         covariance_type="fixed", variance=1e-300)
    nearest = np.argmin(((data[:, None, :] - gm.means_[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(gm.predict(data), nearest)
    assert np.isfinite(gm.score(data))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weights=[0.5, 0.6], means=[[0.0], [1.0]], covariances=[1.0, 1.0],
              covariance_type="spherical"), "weights must be non-negative and sum to 1"),
        (dict(weights=[0.5, 0.5], means=[[0.0], [1.0]], covariances=[1.0],
              covariance_type="spherical"), "covariances must have shape"),
        (dict(weights=[0.5, 0.5], means=[[0.0], [1.0]], covariances=[[[1.0]], [[-1.0]]]),
         "positive"),
        (dict(weights=[0.5, 0.5], means=[[0.0], [1.0]]), "covariances are required"),
        (dict(weights=[0.5, 0.5], means=[[0.0], [1.0]], covariances=[1.0, 1.0],
              covariance_type="fixed", variance=1.0), "covariances must be None"),
        (dict(weights=[0.5, 0.5], means=[[np.nan], [1.0]], covariances=[1.0, 1.0],
              covariance_type="spherical"), "means"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture.from_parameters(**kwargs)
