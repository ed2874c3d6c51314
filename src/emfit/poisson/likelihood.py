r"""The mixture's log-likelihood ``l``, the EM function ``Q``, and their gradients.

Every function takes ``theta`` flat or as ``(weights, coef)`` (see "Parametrisation of
theta" in :mod:`emfit.poisson`; :func:`pack_theta` and :func:`unpack_theta` convert)
and a design matrix. ``_mixture_at_theta`` computes, once per ``theta``, what the gradients here
and the information matrices of :mod:`emfit.poisson.information` share: the means,
the log-probabilities, the responsibilities and ``l``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..em import e_step, logsumexp_rows
from .pmf import _eta, _float_arrays, _log_prob, _offset, component_log_prob

__all__ = [
    "loglik",
    "loglik_gradient",
    "pack_theta",
    "q_function",
    "q_gradient",
    "unpack_theta",
]


def pack_theta(weights: ArrayLike, coef: ArrayLike) -> np.ndarray:
    """Flat free-parameter vector ``(pi_1..pi_{K-1}, beta_1, ..., beta_K)``.

    Parameters
    ----------
    weights : array-like of shape (K,)
        Mixing weights (the last is dropped).
    coef : array-like of shape (K, q)
        Coefficients on the design matrix.

    Returns
    -------
    ndarray of shape ((K - 1) + K q,)

    Examples
    --------
    >>> from emfit.poisson import pack_theta
    >>> pack_theta([0.3, 0.7], [[1.0, 2.0], [3.0, 4.0]]).tolist()
    [0.3, 1.0, 2.0, 3.0, 4.0]
    """
    weights = np.asarray(weights, dtype=np.float64).ravel()
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if coef.shape[0] != weights.size:
        raise ValueError(
            f"coef must have one row per weight; got {coef.shape[0]} rows and "
            f"{weights.size} weights."
        )
    return np.concatenate([weights[:-1], coef.ravel()])


def unpack_theta(theta: ArrayLike, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_theta`.

    Parameters
    ----------
    theta : array-like of shape ((K - 1) + K q,)
        Flat free parameters.
    n_features : int
        ``q``, the number of columns of the design matrix.

    Returns
    -------
    weights : ndarray of shape (K,)
        With ``weights[-1] = 1 - sum(weights[:-1])``.
    coef : ndarray of shape (K, q)

    Examples
    --------
    >>> from emfit.poisson import unpack_theta
    >>> w, c = unpack_theta([0.25, 1.0, 2.0, 3.0, 4.0], 2)
    >>> w.tolist(), c.tolist()
    ([0.25, 0.75], [[1.0, 2.0], [3.0, 4.0]])
    """
    theta = np.asarray(theta, dtype=np.float64).ravel()
    q = int(n_features)
    K, rem = divmod(theta.size + 1, q + 1)
    if rem or K < 1:
        raise ValueError(
            f"theta has length {theta.size}, which is not (K - 1) + K * {q} for any K."
        )
    free = theta[: K - 1]
    weights = np.append(free, 1.0 - free.sum())
    return weights, theta[K - 1 :].reshape(K, q).copy()


def _weights_and_coef(theta: Any, q: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(theta, tuple):
        weights, coef = theta
        weights = np.asarray(weights, dtype=np.float64).ravel()
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        if coef.shape != (weights.size, q):
            raise ValueError(
                f"theta=(weights, coef) needs coef of shape ({weights.size}, {q}); "
                f"got {coef.shape}."
            )
        return weights, coef
    return unpack_theta(theta, q)


def _log(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(a)


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(a) / sum(exp(a))`` of an (n, K) array, normalised by the sum.

    Unlike ``exp(a - logsumexp(a))``, rows sum to one even when ``|a| > 1e16``.
    """
    e = np.exp(a - a.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class _MixtureAtTheta(NamedTuple):
    weights: np.ndarray  # (K,)
    coef: np.ndarray  # (K, q)
    mu: np.ndarray  # (n, K)
    log_prob: np.ndarray  # (n, K)  log f(y_i | beta_k)
    resp: np.ndarray  # (n, K)
    loglik: float


def _mixture_at_theta(
    theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None
) -> _MixtureAtTheta:
    D, y = _float_arrays(D, y)
    weights, coef = _weights_and_coef(theta, D.shape[1])
    mu, log_prob = _log_prob(y[:, None], _eta(D, coef.T, _offset(offset, len(y))))
    _, ll = e_step(_log(weights), log_prob)  # raises on zero density
    resp = _softmax_rows(log_prob + _log(weights))
    return _MixtureAtTheta(weights, coef, mu, log_prob, resp, ll)


def loglik(theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None) -> float:
    r"""Observed-data log-likelihood ``l(theta) = sum_i log sum_k pi_k f(y_i | beta_k)``.

    Parameters
    ----------
    theta : ndarray or tuple
        Flat free parameters or ``(weights, coef)``; see :mod:`emfit.poisson`.
    D : array-like of shape (n, q)
        Design matrix.
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset ``log(exposure)``; zero by default.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import loglik
    >>> from scipy.stats import poisson
    >>> D = np.ones((1, 1)); y = np.array([2.0])
    >>> ll = loglik(([0.5, 0.5], [[0.0], [1.0]]), D, y)
    >>> bool(np.isclose(ll, np.log(0.5 * poisson.pmf(2, 1) + 0.5 * poisson.pmf(2, np.e))))
    True
    """
    D, y = _float_arrays(D, y)
    weights, coef = _weights_and_coef(theta, D.shape[1])
    log_prob = component_log_prob(coef, D, y, offset)
    return float(logsumexp_rows(log_prob + _log(weights)).sum())


def _score_from(
    resp_w: np.ndarray,
    resp_b: np.ndarray,
    weights: np.ndarray,
    mu: np.ndarray,
    D: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """Flat gradient: ``resp_w`` weights the pi part, ``resp_b`` the beta part.

    The pi part is ``t_j - t_K`` with ``t_k = n_k / pi_k``, ``n_k = sum_i resp_w[i, k]``;
    a term with ``n_k = 0`` is 0 (whatever ``pi_k``), one with ``pi_k = 0 < n_k`` is
    ``+inf``. Raises ValueError if that gives ``inf - inf``.
    """
    K = weights.size
    n_k = resp_w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n_k > 0, n_k / weights, 0.0)
        g_pi = t[: K - 1] - t[K - 1]
    if np.any(np.isnan(g_pi)):
        raise ValueError(
            "the weight gradient is undefined (inf - inf): responsibility mass on two "
            "components whose weights are both 0."
        )
    g_beta = ((resp_b * (y[:, None] - mu)).T @ D).ravel()
    return np.concatenate([g_pi, g_beta])


def _density_ratios(p: _MixtureAtTheta) -> np.ndarray:
    """``f_ik / f_i`` (n, K), with ``f_i = sum_k pi_k f_ik``: equals ``r_ik / pi_k`` but is
    finite (defined) at ``pi_k = 0``. Capped at the largest float (when a zero-weight
    component is more than ``e^709`` times as likely as the mixture), so that
    products with ``r_ik = 0`` stay 0."""
    lse = logsumexp_rows(p.log_prob + _log(p.weights))
    with np.errstate(over="ignore"):
        R = np.exp(p.log_prob - lse[:, None])
    return np.minimum(R, np.finfo(np.float64).max, out=R)


def _resp_over_weights(p: _MixtureAtTheta) -> np.ndarray:
    """``r_ik / pi_k`` (n, K): the plain quotient when every weight is positive (the
    historical arithmetic), else :func:`_density_ratios` (its limit at ``pi_k = 0``)."""
    if np.all(p.weights > 0):
        return p.resp / p.weights
    return _density_ratios(p)


def loglik_gradient(
    theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    r"""Gradient of :func:`loglik` with respect to the flat free parameters.

    .. math::

        \frac{\partial \ell}{\partial \pi_j} = \sum_i \Big(\frac{r_{ij}}{\pi_j}
            - \frac{r_{iK}}{\pi_K}\Big), \qquad
        \frac{\partial \ell}{\partial \beta_k} = \sum_i r_{ik}\,(y_i - \lambda_{ik})\, d_i,

    with ``r_ik`` the responsibilities at ``theta`` (Fisher's identity:
    ``grad l(theta) = grad_theta Q(theta | theta)``).

    At a boundary weight (some ``pi_k = 0``, e.g. ``pi_j = 1``) ``r_ik / pi_k`` is
    ``0 / 0``; the weight part is then computed as
    ``sum_i (f_ij - f_iK) / f_i`` (``f_ik = f(y_i | beta_k)``,
    ``f_i = sum_k pi_k f_ik``), the same quantity, finite at the boundary (the
    one-sided derivative into the simplex, and the derivative of the polynomial
    extension of ``f_i`` across it).

    Parameters
    ----------
    theta, D, y, offset
        As in :func:`loglik`.

    Returns
    -------
    ndarray of shape ((K - 1) + K q,)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import loglik_gradient
    >>> loglik_gradient([0.0], np.ones((2, 1)), [1.0, 3.0]).tolist()  # K = 1
    [2.0]
    >>> loglik_gradient([1.0, 1.0, 2.0], np.ones((3, 1)), [0.0, 1.0, 5.0]).round(3).tolist()
    [1.575, -2.155, 0.0]
    """
    D, y = _float_arrays(D, y)
    p = _mixture_at_theta(theta, D, y, offset)
    if np.all(p.weights > 0):
        return _score_from(p.resp, p.resp, p.weights, p.mu, D, y)
    R = _density_ratios(p)
    K = p.weights.size
    g_pi = (R[:, : K - 1] - R[:, [K - 1]]).sum(axis=0)
    g_beta = ((p.resp * (y[:, None] - p.mu)).T @ D).ravel()
    return np.concatenate([g_pi, g_beta])


def q_function(
    theta: Any,
    theta_old: Any,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
) -> float:
    r"""The EM function ``Q(theta | theta_old)``, the expected complete log-likelihood.

    .. math::

        Q(\theta \mid \theta^{\text{old}}) = \sum_i \sum_k r_{ik}^{\text{old}}
            \big[\log \pi_k + \log f(y_i \mid \beta_k)\big],

    with ``r_ik^old`` the responsibilities at ``theta_old``. Terms with
    ``r_ik^old = 0`` count as zero (even if ``pi_k = 0``).

    Parameters
    ----------
    theta, theta_old : ndarray or tuple
        Flat free parameters or ``(weights, coef)``; see :mod:`emfit.poisson`.
    D, y, offset
        As in :func:`loglik`.

    Returns
    -------
    float

    Examples
    --------
    ``Q(theta | theta) - l(theta)`` is minus the entropy of the responsibilities,
    so ``Q(theta | theta) <= l(theta)``:

    >>> import numpy as np
    >>> from emfit.poisson import loglik, q_function
    >>> D = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = ([0.4, 0.6], [[0.0], [2.0]])
    >>> bool(q_function(th, th, D, y) <= loglik(th, D, y))
    True
    """
    D, y = _float_arrays(D, y)
    resp = _mixture_at_theta(theta_old, D, y, offset).resp
    weights, coef = _weights_and_coef(theta, D.shape[1])
    a = component_log_prob(coef, D, y, offset) + _log(weights)
    with np.errstate(invalid="ignore"):  # 0 * -inf where pi_k = 0; masked
        return float(np.where(resp > 0, resp * a, 0.0).sum())


def q_gradient(
    theta: Any,
    theta_old: Any,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
) -> np.ndarray:
    r"""Gradient of :func:`q_function` in its first argument (flat free parameters).

    .. math::

        \frac{\partial Q}{\partial \pi_j} = \sum_i \Big(\frac{r^{\text{old}}_{ij}}{\pi_j}
            - \frac{r^{\text{old}}_{iK}}{\pi_K}\Big), \qquad
        \frac{\partial Q}{\partial \beta_k} = \sum_i r^{\text{old}}_{ik}\,
            (y_i - \lambda_{ik})\, d_i .

    At ``theta == theta_old`` it equals :func:`loglik_gradient` (Fisher's identity)
    when every weight is positive.

    **Zero weights.** With ``n_k = sum_i r^old_ik``, the weight part is
    ``t_j - t_K`` with ``t_k = n_k / pi_k``, where

    * ``t_k = 0`` if ``n_k = 0``, whatever ``pi_k`` (``Q`` has no ``log pi_k`` term,
      as in :func:`q_function`). In particular at ``theta == theta_old`` with
      ``pi_k = 0`` (so ``r_ik = 0``), the result is the exact derivative of ``Q``,
      which lacks the ``f_ik / f_i`` term of :func:`loglik_gradient`: Fisher's
      identity fails on the boundary.
    * ``t_k = +inf`` if ``pi_k = 0 < n_k``: ``Q = -inf`` there, and the partial
      derivative is the limit from inside the simplex, ``+inf`` for ``pi_j`` (j < K)
      and ``-inf`` when ``pi_K = 0``.
    * If both ``t_j`` and ``t_K`` are infinite the derivative is undefined
      (``inf - inf``): ValueError.

    The result never contains NaN.

    Parameters
    ----------
    theta, theta_old, D, y, offset
        As in :func:`q_function`.

    Returns
    -------
    ndarray of shape ((K - 1) + K q,)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import loglik_gradient, q_gradient
    >>> D = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> bool(np.allclose(q_gradient(th, th, D, y), loglik_gradient(th, D, y)))
    True
    """
    D, y = _float_arrays(D, y)
    resp = _mixture_at_theta(theta_old, D, y, offset).resp
    weights, coef = _weights_and_coef(theta, D.shape[1])
    mu = np.exp(_eta(D, coef.T, _offset(offset, len(y))))
    return _score_from(resp, resp, weights, mu, D, y)
