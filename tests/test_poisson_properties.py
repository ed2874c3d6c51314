"""Property-based tests: EM and generalised EM never decrease the log-likelihood."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emfit.em import ConvergenceWarning, LikelihoodDecreaseWarning, fit_em
from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    design_matrix,
    loglik,
    pack_theta,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=60)


def simulate(
    seed: int, n: int, K_true: int, p: int, scale: float, exposure: bool, big: bool = False
):
    rng = np.random.default_rng(seed)
    X = design_matrix(rng.normal(scale=scale, size=(n, p)))
    coef = rng.normal(scale=1.0 / (1 + scale), size=(K_true, p + 1))
    coef[:, 0] += rng.uniform(-1, 3, K_true)
    z = rng.integers(K_true, size=n)
    offset = np.log(rng.uniform(0.2, 5, n)) if exposure else np.zeros(n)
    if big:  # counts ~ 1e8 - 1e10: the cancellation-free log-probabilities
        offset = offset + np.log(1e8)
    eta = np.clip(offset + np.einsum("ij,ij->i", X, coef[z]), -30, 23)
    y = rng.poisson(np.exp(eta)).astype(float)
    # A few outliers now and then.
    if seed % 3 == 0:
        y[: max(1, n // 50)] *= 10
    return X, y, offset


def check_monotone(history: np.ndarray, initial: float) -> None:
    values = np.r_[initial, history]
    tol = 1e-9 * np.maximum(np.abs(values[1:]), np.abs(values[:-1])) + 1e-9
    assert np.all(np.diff(values) >= -tol), np.diff(values).min()


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 200),
    K=st.integers(1, 3),
    K_true=st.integers(1, 3),
    p=st.integers(1, 3),
    scale=st.sampled_from([0.1, 1.0, 3.0]),
    exposure=st.booleans(),
    big=st.booleans(),
    m_step=st.sampled_from(["newton", "gradient"]),
)
def test_em_never_decreases_the_loglik(seed, n, K, K_true, p, scale, exposure, big, m_step):
    X, y, offset = simulate(seed, n, K_true, p, scale, exposure, big)
    data = PoissonRegressionData.from_arrays(X, y, offset)
    family = PoissonRegressionFamily(m_step=m_step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 never converges
        fit = fit_em(data, family, K, tol=0.0, max_iter=25, random_state=seed, allow_degenerate=True)
    check_monotone(fit.history, fit.initial_loglik)
    # The driver's history is the observed-data log-likelihood at the returned params.
    theta = pack_theta(fit.weights, fit.params)
    assert np.isclose(loglik(theta, X, y, offset), fit.loglik, rtol=1e-10, atol=1e-8)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 150),
    K=st.integers(2, 3),
    spread=st.sampled_from([0.5, 2.0, 5.0]),
    m_step=st.sampled_from(["newton", "gradient"]),
)
def test_em_from_arbitrary_starts_never_decreases(seed, n, K, spread, m_step):
    """Far-off starts (large linear predictors) stay monotone and finite."""
    X, y, offset = simulate(seed, n, 2, 1, 1.0, False)
    rng = np.random.default_rng(seed + 1)
    params = rng.normal(scale=spread, size=(K, X.shape[1]))
    weights = rng.dirichlet(np.ones(K))
    data = PoissonRegressionData.from_arrays(X, y, offset)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_em(
            data,
            PoissonRegressionFamily(m_step=m_step),
            K,
            weights_init=weights,
            params_init=params,
            tol=0.0,
            max_iter=20,
            allow_degenerate=True,  # arbitrary starts may empty a component
        )
    check_monotone(fit.history, fit.initial_loglik)
    assert np.all(np.isfinite(fit.params))
