"""emfit.poisson.inference: standard errors, and singular information."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from emfit.datasets import make_poisson_regression_mixture
from emfit.poisson import PoissonRegressionMixture, SingularInformationWarning


# --------------------------------------------------------------- statsmodels checks
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
