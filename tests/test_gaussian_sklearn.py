"""emfit.GaussianMixture against scikit-learn: same numbers, and sklearn's API checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from emfit import GaussianMixture
from emfit.em import ConvergenceWarning

TYPES = ["full", "diag", "spherical", "tied"]


def _data(seed=0, n=600, d=3, K=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(K, d))  # overlapping: EM keeps moving
    scales = rng.uniform(0.5, 1.5, size=(K, d))
    z = rng.integers(0, K, n)
    return centres[z] + rng.normal(size=(n, d)) * scales[z]


def _init(X, K, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    n, d = X.shape
    P = np.linalg.inv(np.cov(X.T))
    return {
        "weights_init": rng.dirichlet(np.full(K, 5.0)),
        "means_init": X[rng.choice(n, K, replace=False)],
        "precisions_init": {
            "full": np.stack([P * s for s in rng.uniform(0.5, 2, K)]),
            "tied": P,
            "diag": np.diag(P) * rng.uniform(0.5, 2, (K, d)),
            "spherical": np.diag(P).mean() * rng.uniform(0.5, 2, K),
        }[covariance_type],
    }


def ignore_both_convergence_warnings():
    """Ignore scikit-learn's ConvergenceWarning raised by scikit-learn, and emfit's.

    (emfit's class derives from scikit-learn's, so the module keeps the first filter
    from catching emfit's warnings too.)
    """
    warnings.filterwarnings("ignore", category=SkConvergenceWarning, module=r"sklearn\.")
    warnings.simplefilter("ignore", ConvergenceWarning)


def _assert_rel(a, b, rtol, what):
    """Each component (each row of the leading axis) relative to its own scale in b."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    rows_a, rows_b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    err = np.max(np.abs(rows_a - rows_b), axis=1) / np.max(np.abs(rows_b), axis=1)
    assert err.max() <= rtol, f"{what}: relative difference {err.max():.2e} > {rtol:.0e}"


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("max_iter", [1, 50])
def test_same_iterates_as_sklearn(covariance_type, max_iter):
    X = _data()
    K, n = 3, X.shape[0]
    init = _init(X, K, covariance_type)
    common = {
        "covariance_type": covariance_type,
        "max_iter": max_iter,
        "tol": 0.0,
        "reg_covar": 1e-6,
    }
    with warnings.catch_warnings():
        ignore_both_convergence_warnings()
        # sklearn: max_iter x (E-step, M-step), parameters after the last M-step.
        sk = SkGaussianMixture(K, init_params="random", **common, **init).fit(X)
        em = GaussianMixture(K, **common, **init).fit(X)
    assert em.n_iter_ == sk.n_iter_ == max_iter
    rtol = 1e-9
    _assert_rel(em.weights_, sk.weights_, rtol, "weights")
    _assert_rel(em.means_, sk.means_, rtol, "means")
    _assert_rel(em.covariances_, sk.covariances_, rtol, "covariances")
    _assert_rel(em.precisions_cholesky_, sk.precisions_cholesky_, rtol, "precisions_cholesky")
    _assert_rel(em.precisions_, sk.precisions_, rtol, "precisions")
    # emfit's loglik_ is at the returned parameters; sklearn's lower_bound_ lags one
    # iterate, so compare with sklearn's score at its final parameters.
    ll_sk = sk.score(X) * n
    assert em.loglik_ == pytest.approx(ll_sk, rel=rtol)
    assert em.history_[-1] == em.loglik_
    # the lagged bound of sklearn is emfit's previous history entry
    if max_iter > 1:
        assert em.history_[-2] == pytest.approx(sk.lower_bound_ * n, rel=rtol)
    # everything downstream agrees too
    np.testing.assert_allclose(em.score_samples(X), sk.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(em.predict_proba(X), sk.predict_proba(X), atol=1e-9)
    assert em.bic(X) == pytest.approx(sk.bic(X), rel=1e-9)
    assert em.aic(X) == pytest.approx(sk.aic(X), rel=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_offset_data_matches_sklearn_on_centred_data(covariance_type):
    """Data offset by 1e6: emfit on the raw data equals sklearn on the centred data.

    (scikit-learn itself loses about log10(1e12 / variance) digits in its diag and
    spherical E-step on the raw data; emfit works with differences x - mu.)
    """
    offset = 1e6
    Xc = _data(seed=3, n=400)
    init = _init(Xc, 3, covariance_type, seed=2)
    common = {"covariance_type": covariance_type, "max_iter": 20, "tol": 0.0}
    with warnings.catch_warnings():
        ignore_both_convergence_warnings()
        sk = SkGaussianMixture(3, init_params="random", **common, **init).fit(Xc)
        shifted = {**init, "means_init": init["means_init"] + offset}
        em = GaussianMixture(3, **common, **shifted).fit(Xc + offset)
    assert np.isfinite(em.loglik_)
    assert em.loglik_ == pytest.approx(sk.score(Xc) * Xc.shape[0], rel=1e-9)
    np.testing.assert_allclose(em.means_ - offset, sk.means_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(em.covariances_, sk.covariances_, rtol=1e-8)


# ---------------------------------------------------------------- sklearn API checks
# Every check passes; no expected failures. (The array-API check is skipped by
# scikit-learn itself when SCIPY_ARRAY_API is not set.)
@parametrize_with_checks(
    [
        GaussianMixture(random_state=0),
        GaussianMixture(n_components=2, covariance_type="diag", random_state=0),
        GaussianMixture(n_components=2, covariance_type="tied", random_state=0),
        GaussianMixture(n_components=2, covariance_type="spherical", random_state=0),
        GaussianMixture(n_components=2, covariance_type="fixed", variance=1.0, random_state=0),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # tiny check data sets may not converge within max_iter; that is not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
