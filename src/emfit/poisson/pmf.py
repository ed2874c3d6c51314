r"""The Poisson log-density of the components, and the linear predictor.

``log f(y | lambda)``, for every observation and component, in one of two forms chosen
by one rule (:func:`_count_term`, see "Numerics" in :mod:`emfit.poisson`); the design
matrix; and the clipped linear predictor ``eta = offset + d^T beta``, which every other
module of the package builds on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

__all__ = [
    "ETA_MAX",
    "STABLE_COUNTS",
    "component_log_prob",
    "design_matrix",
    "log_pmf_constant",
]


#: Bound on the absolute value of a linear predictor ``eta = log(lambda)``.
ETA_MAX: float = 300.0

#: Counts above which the log-density is computed in the cancellation-free form.
STABLE_COUNTS: float = 2.0**16

_EPS_LO = -1.0 + 2.0**-52  # log1p argument floor: y / lambda below 2^-52 counts as 2^-52


def design_matrix(X: ArrayLike, fit_intercept: bool = True) -> np.ndarray:
    """Design matrix: ``X`` with a leading column of ones if ``fit_intercept``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Covariates.
    fit_intercept : bool, default=True
        Prepend a column of ones.

    Returns
    -------
    ndarray of shape (n_samples, n_features + fit_intercept)

    Examples
    --------
    >>> from emfit.poisson import design_matrix
    >>> design_matrix([[2.0], [3.0]]).tolist()
    [[1.0, 2.0], [1.0, 3.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if fit_intercept:
        return np.hstack([np.ones((X.shape[0], 1)), X])
    return np.ascontiguousarray(X)


def _offset(offset: ArrayLike | None, n: int) -> np.ndarray:
    if offset is None:
        return np.zeros(n)
    return np.broadcast_to(np.asarray(offset, dtype=np.float64), (n,))


def _float_arrays(*arrays: ArrayLike) -> tuple[np.ndarray, ...]:
    """Each argument as a float64 array (the array itself if it already is one)."""
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


def _eta(D: np.ndarray, beta: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Clipped linear predictor ``offset + D beta`` (beta of shape (q,) or (q, K))."""
    eta = D @ beta
    eta += offset if eta.ndim == 1 else offset[:, None]
    return np.clip(eta, -ETA_MAX, ETA_MAX, out=eta)


def _eta_t(
    DT: np.ndarray,
    beta: np.ndarray,
    offset: np.ndarray | None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Clipped linear predictor from the transposed design ``DT`` (q, n).

    ``beta`` of shape (q,) gives (n,); of shape (K, q) gives (K, n) (rows contiguous,
    the fast layout for the EM loop). ``offset=None`` means a zero offset (one pass
    less); ``out`` (C-contiguous, of the result's shape) receives the result.
    """
    eta = np.matmul(beta, DT, out=out)
    if offset is not None:
        eta += offset
    return np.clip(eta, -ETA_MAX, ETA_MAX, out=eta)


def log_pmf_constant(y: ArrayLike) -> np.ndarray:
    """``C(y) = y log y - y - log y!`` (0 for ``y = 0``), without cancellation.

    For ``y >= 20`` Stirling's series is used:
    ``C(y) = -log(2 pi y) / 2 - 1/(12 y) + 1/(360 y^3) - 1/(1260 y^5) + 1/(1680 y^7)``
    (truncation error below 1e-15).

    Parameters
    ----------
    y : array-like of shape (n,)
        Non-negative counts.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import gammaln
    >>> from emfit.poisson import log_pmf_constant
    >>> y = np.array([0.0, 3.0, 50.0])
    >>> ref = np.where(y > 0, y * np.log(np.maximum(y, 1)) - y, 0) - gammaln(y + 1)
    >>> bool(np.allclose(log_pmf_constant(y), ref, rtol=1e-13))
    True
    """
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros_like(y)
    small = (y > 0) & (y < 20)
    ys = y[small]
    out[small] = ys * np.log(ys) - ys - gammaln(ys + 1.0)
    big = y >= 20
    yb = y[big]
    r = 1.0 / yb
    r2 = r * r
    out[big] = -0.5 * np.log(2.0 * np.pi * yb) - r * (
        1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680))
    )
    return out


def _neg_deviance(y: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``-D(y, mu) = -(y log(y / mu) - (y - mu))``, accurate to ~eps * |y - mu|.

    ``out`` (not ``mu`` itself) receives the result.
    """
    e = y - mu
    d = np.divide(e, mu, out=out)
    np.maximum(d, _EPS_LO, out=d)
    np.log1p(d, out=d)
    d *= y
    np.subtract(e, d, out=d)
    return d


class _CountTerm(NamedTuple):
    """The ``y``-only part of ``log f(y | mu)`` and the kernel form it pairs with."""

    stable: bool  # some count above STABLE_COUNTS: the deviance form
    const: np.ndarray  # log_pmf_constant(y) if stable, else -log y!


def _count_term(y: np.ndarray) -> _CountTerm:
    """Choose the form of the log-density for the counts ``y`` (one rule, used everywhere).

    Up to :data:`STABLE_COUNTS` the direct form ``y eta - mu - log y!`` is exact to a
    few ulp of ``|y eta| + mu`` (below 1e-9 per observation) and twenty times faster;
    above it, the cancellation-free form ``C(y) - D(y, mu)``.
    """
    stable = bool(y.size and y.max() > STABLE_COUNTS)
    return _CountTerm(stable, log_pmf_constant(y) if stable else -_log_factorial(y))


def _log_factorial(y: np.ndarray) -> np.ndarray:
    """``log y! = gammaln(y + 1)``; from a table of ``gammaln(k + 1)`` (the same
    values, ten times faster) when the ``y`` are integers from 0 to below ``y.size``."""
    if y.size:
        with np.errstate(invalid="ignore"):  # NaN, inf: not integers, gammaln's turn
            k = y.astype(np.intp)
        if 0 <= k.min() and k.max() < y.size and np.array_equal(k, y):
            return gammaln(np.arange(k.max() + 1.0) + 1.0)[k]
    return gammaln(y + 1.0)


def _log_prob_kernel(
    y: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    stable: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The parameter-dependent part of ``log f(y | mu)``.

    ``stable``: ``-D(y, mu)``; otherwise ``y eta - mu``. Add ``_count_term(y).const``
    for the log-density. Works on (n,) or (K, n) arrays, or (n, 1) with (n, K).
    ``out`` receives the result; it may be ``eta`` itself (overwritten), not ``mu``.
    """
    if stable:
        return _neg_deviance(y, mu, out)
    k = np.multiply(eta, y, out=out)
    k -= mu
    return k


def _log_prob(y: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means ``mu = exp(eta)`` and the Poisson log-density ``log f(y | mu)``.

    The one log-density of the package: the kernel plus the count term, in the form
    :func:`_count_term` chooses for ``y``. Shapes as in :func:`_log_prob_kernel`.
    """
    term = _count_term(y)
    mu = np.exp(eta)
    lp = _log_prob_kernel(y, eta, mu, term.stable)
    lp += term.const
    return mu, lp


def component_log_prob(
    coef: ArrayLike, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    """Log Poisson probabilities ``log f(y_i | beta_k)`` of every component.

    Parameters
    ----------
    coef : array-like of shape (K, q)
        Coefficients on the design matrix, one row per component.
    D : array-like of shape (n, q)
        Design matrix.
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset; zero by default.

    Returns
    -------
    ndarray of shape (n, K)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import component_log_prob
    >>> component_log_prob([[0.0], [1.0]], np.ones((1, 1)), [0]).round(4).tolist()
    [[-1.0, -2.7183]]
    """
    D, y = _float_arrays(D, y)
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    eta = _eta(D, coef.T, _offset(offset, len(y)))
    return _log_prob(y[:, None], eta)[1]
