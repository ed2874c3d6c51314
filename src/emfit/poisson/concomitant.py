r"""The Poisson-regression mixture with concomitant weights: ``l``, its gradient, information.

The mixing weights are a multinomial logit on concomitant covariates ``z_i`` (with
an intercept; :mod:`emfit.weights`), so that

.. math::

    \ell(\phi) = \sum_i \log \sum_k \pi_k(z_i; \gamma)\, f(y_i \mid \beta_k), \qquad
    \phi = (\gamma_2, \dots, \gamma_K, \beta_1, \dots, \beta_K),

with ``gamma_1 = 0``. Writing ``a_ik = log pi_k(z_i) + log f(y_i | beta_k)``, ``r_ik``
the responsibilities and ``s_ik = grad a_ik``, every observation contributes

.. math::

    \nabla \ell_i = \sum_k r_{ik} s_{ik}, \qquad
    \nabla^2 \ell_i = \sum_k r_{ik} \nabla^2 a_{ik}
        + \sum_k r_{ik} s_{ik} s_{ik}^\top - \nabla \ell_i \nabla \ell_i^\top ,

(Louis' identity, observation by observation), where ``s_ik`` has ``(delta_jk -
pi_j(z_i)) z_i`` in the block of ``gamma_j`` and ``(y_i - mu_ik) d_i`` in the block
of ``beta_k``; ``grad^2 a_ik`` is ``-(diag(pi_i) - pi_i pi_i^T) (x) z_i z_i^T`` in the
``gamma`` block (the same for every ``k``) and ``-mu_ik d_i d_i^T`` in the block of
``beta_k``.

The flat parameter vector is ``phi = [gamma_2, ..., gamma_K, beta_1, ..., beta_K]``,
each ``gamma_j`` of length ``p`` (the columns of ``Z``) and each ``beta_k`` of length
``q`` (the columns of the design ``D``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..em import normalise_block
from ..weights import _log_softmax, _logit_neg_hessian
from .pmf import _eta, _float_arrays, _log_prob, _offset

__all__ = ["concomitant_gradient", "concomitant_information", "concomitant_loglik"]


def _unpack(phi: ArrayLike, K: int, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    phi = np.asarray(phi, dtype=np.float64)
    if phi.shape != ((K - 1) * p + K * q,):
        raise ValueError(
            f"phi must have length (K - 1) p + K q = {(K - 1) * p + K * q}; got {phi.shape}."
        )
    gamma = np.zeros((K, p))
    gamma[1:] = phi[: (K - 1) * p].reshape(K - 1, p)
    return gamma, phi[(K - 1) * p :].reshape(K, q)


class _AtPhi(NamedTuple):
    pi: np.ndarray  # (n, K) mixing weights pi_k(z_i)
    mu: np.ndarray  # (n, K) Poisson means
    resp: np.ndarray  # (n, K)
    loglik: float
    scores: np.ndarray  # (n, K, P) s_ik = grad a_ik


def _at_phi(
    phi: ArrayLike, K: int, Z: np.ndarray, D: np.ndarray, y: np.ndarray, offset: np.ndarray
) -> _AtPhi:
    n, p = Z.shape
    q = D.shape[1]
    gamma, coef = _unpack(phi, K, p, q)
    log_pi = _log_softmax(Z, gamma)
    mu, log_f = _log_prob(y[:, None], _eta(D, coef.T, offset))
    resp_t = np.ascontiguousarray((log_pi + log_f).T)
    loglik = float(normalise_block(resp_t).sum())  # resp_t now holds r_ik
    pi = np.exp(log_pi)
    P = (K - 1) * p + K * q
    scores = np.zeros((n, K, P))
    # gamma_j block (j = 2..K): (delta_jk - pi_ij) z_i
    for j in range(1, K):
        cols = slice((j - 1) * p, j * p)
        scores[:, :, cols] = -pi[:, j, None, None] * Z[:, None, :]
        scores[:, j, cols] += Z
    # beta_k block: (y_i - mu_ik) d_i, only for component k
    for k in range(K):
        cols = slice((K - 1) * p + k * q, (K - 1) * p + (k + 1) * q)
        scores[:, k, cols] = (y - mu[:, k])[:, None] * D
    return _AtPhi(pi, mu, resp_t.T, loglik, scores)


def _arrays(
    Z: ArrayLike, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    Z, D, y = _float_arrays(Z, D, y)
    return Z, D, y, _offset(offset, len(y))


def concomitant_loglik(
    phi: ArrayLike,
    n_components: int,
    Z: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
) -> float:
    r"""Log-likelihood ``l(phi)`` of the mixture with concomitant weights.

    Parameters
    ----------
    phi : array-like of shape ((K - 1) p + K q,)
        ``[gamma_2, ..., gamma_K, beta_1, ..., beta_K]`` (see the module docstring).
    n_components : int
        ``K``.
    Z : array-like of shape (n, p)
        Concomitant design (first column the intercept).
    D : array-like of shape (n, q)
        Design matrix of the Poisson regressions.
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset ``log(exposure)``.

    Returns
    -------
    float

    Examples
    --------
    With ``gamma = 0`` the weights are equal:

    >>> import numpy as np
    >>> from emfit.poisson import concomitant_loglik, loglik
    >>> Z = np.column_stack([np.ones(3), [0.0, 1.0, 2.0]]); D = np.ones((3, 1))
    >>> y = np.array([0.0, 2.0, 5.0])
    >>> ll = concomitant_loglik([0.0, 0.0, 0.1, 1.5], 2, Z, D, y)
    >>> bool(np.isclose(ll, loglik(([0.5, 0.5], [[0.1], [1.5]]), D, y)))
    True
    """
    Z, D, y, off = _arrays(Z, D, y, offset)
    return _at_phi(phi, n_components, Z, D, y, off).loglik


def concomitant_gradient(
    phi: ArrayLike,
    n_components: int,
    Z: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
) -> np.ndarray:
    r"""Gradient of :func:`concomitant_loglik`, ``sum_i sum_k r_ik s_ik``.

    Parameters
    ----------
    phi, n_components, Z, D, y, offset
        As in :func:`concomitant_loglik`.

    Returns
    -------
    ndarray of shape ((K - 1) p + K q,)

    Examples
    --------
    One component: the Poisson regression's score ``sum_i (y_i - mu_i) d_i``.

    >>> import numpy as np
    >>> from emfit.poisson import concomitant_gradient
    >>> Z = np.ones((2, 1)); D = np.ones((2, 1))
    >>> concomitant_gradient([0.0], 1, Z, D, [1.0, 3.0]).tolist()
    [2.0]
    """
    Z, D, y, off = _arrays(Z, D, y, offset)
    at = _at_phi(phi, n_components, Z, D, y, off)
    return np.einsum("ik,ikp->p", at.resp, at.scores)


def _louis_parts(at: _AtPhi, K: int, Z: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete information ``sum_i sum_k r_ik (-grad^2 a_ik)`` and missing information
    ``sum_i Cov_{r_i}(s_i)``; the observed information is their difference."""
    p, q = Z.shape[1], D.shape[1]
    g = (K - 1) * p
    P = g + K * q
    complete = np.zeros((P, P))
    if K > 1:  # gamma block: sum_i (diag(pi_i) - pi_i pi_i^T) (x) z_i z_i^T
        complete[:g, :g] = _logit_neg_hessian(np.ascontiguousarray(Z.T), at.pi[:, 1:].T)
    for k in range(K):  # beta_k block: sum_i r_ik mu_ik d_i d_i^T
        cols = slice(g + k * q, g + (k + 1) * q)
        complete[cols, cols] = (D * (at.resp[:, k] * at.mu[:, k])[:, None]).T @ D
    mean_s = np.einsum("ik,ikp->ip", at.resp, at.scores)
    missing = np.einsum("ik,ikp,ikq->pq", at.resp, at.scores, at.scores) - mean_s.T @ mean_s
    return complete, 0.5 * (missing + missing.T)


def concomitant_information(
    phi: ArrayLike,
    n_components: int,
    Z: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    *,
    parts: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Observed information ``-grad^2 l(phi)``, analytic (see the module docstring).

    Parameters
    ----------
    phi, n_components, Z, D, y, offset
        As in :func:`concomitant_loglik`.
    parts : bool, default=False
        Return Louis' complete and missing information instead, whose difference is
        the observed information.

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) p + K q``, or a pair of them

    Examples
    --------
    One component: the Poisson regression's information ``sum_i mu_i d_i d_i^T``.

    >>> import numpy as np
    >>> from emfit.poisson import concomitant_information
    >>> Z = np.ones((2, 1)); D = np.ones((2, 1))
    >>> concomitant_information([0.0], 1, Z, D, [1.0, 3.0]).tolist()
    [[2.0]]
    """
    Z, D, y, off = _arrays(Z, D, y, offset)
    at = _at_phi(phi, n_components, Z, D, y, off)
    complete, missing = _louis_parts(at, n_components, Z, D)
    return (complete, missing) if parts else complete - missing
