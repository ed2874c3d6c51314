r"""Second derivatives of ``l``: the analytic Hessian and Louis' (1982) formula.

The observed information ``-grad^2 l(theta)`` in the flat free parameters by two
routes, minus the Hessian (:func:`loglik_hessian`) and complete-data minus missing
information (:func:`complete_information`, :func:`missing_information`), exact at
every ``theta``; at a zero weight, the limits from inside the simplex.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .likelihood import _density_ratios, _mixture_at_theta, _MixtureAtTheta, _resp_over_weights
from .pmf import _float_arrays

__all__ = [
    "complete_information",
    "loglik_hessian",
    "missing_information",
    "observed_information",
]


def _hessian_direct(p: _MixtureAtTheta, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Analytic Hessian of l, block by block (see :func:`loglik_hessian`)."""
    r, mu = p.resp, p.mu
    K, q = p.coef.shape
    m = K - 1
    P = m + K * q
    u = y[:, None] - mu  # (n, K)
    H = np.empty((P, P))
    # rw_ik = r_ik / pi_k = f_ik / f_i (finite at pi_k = 0)
    rw = _resp_over_weights(p)
    # W_ij = r_ij / pi_j - r_iK / pi_K = d l_i / d pi_j
    W = rw[:, :m] - rw[:, [m]]
    H[:m, :m] = -(W.T @ W)
    for l in range(K):
        sl = slice(m + l * q, m + (l + 1) * q)
        # d^2 l_i / d pi_j d beta_l = [delta_jl r_ij/pi_j - delta_Kl r_iK/pi_K - r_il W_ij] u_il d_i
        C = -r[:, [l]] * W
        if l < m:
            C[:, l] += rw[:, l]
        else:
            C -= rw[:, [m]]
        B = C.T @ ((u[:, l])[:, None] * D)
        H[:m, sl] = B
        H[sl, :m] = B.T
        for k in range(l, K):
            sk = slice(m + k * q, m + (k + 1) * q)
            # d^2 l_i / d beta_k d beta_l^T
            #   = [delta_kl r_ik (u_ik^2 - mu_ik) - r_ik r_il u_ik u_il] d_i d_i^T
            c = -r[:, k] * r[:, l] * u[:, k] * u[:, l]
            if k == l:
                c += r[:, k] * (u[:, k] ** 2 - mu[:, k])
            blk = D.T @ (c[:, None] * D)
            H[sk, sl] = blk
            H[sl, sk] = blk.T
    return H


def _louis_parts(p: _MixtureAtTheta, D: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete-data and missing information (Louis 1982), in the flat parameters.

    At a zero weight ``pi_k = 0`` the weight block of both is computed as its limit
    from inside the simplex: entries containing ``sum_i r_ik / pi_k^2`` are ``+inf``
    (their difference, the observed information, is finite: see :func:`_louis`).
    """
    weights, r, mu = p.weights, p.resp, p.mu
    K, q = p.coef.shape
    m = K - 1
    P = m + K * q
    n = D.shape[0]
    u = y[:, None] - mu
    interior = bool(np.all(weights > 0))
    # Complete-data information  -E[grad^2 log p(y, z | theta) | y].
    Ic = np.zeros((P, P))
    if interior:
        n_k = r.sum(axis=0)
        Ic[:m, :m] = np.diag(n_k[:m] / weights[:m] ** 2) + n_k[m] / weights[m] ** 2
    else:
        # n_k / pi_k^2 = sum_i (f_ik / f_i) / pi_k, +inf at pi_k = 0.
        rw = _density_ratios(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(weights > 0, rw.sum(axis=0) / weights, np.inf)
        Ic[:m, :m] = np.diag(c[:m]) + c[m]
    for k in range(K):
        sk = slice(m + k * q, m + (k + 1) * q)
        Ic[sk, sk] = D.T @ ((r[:, k] * mu[:, k])[:, None] * D)
    # Missing information: sum_i Cov_{z_i | y_i}(complete-data score of observation i).
    # A_k[i] is the complete-data score of observation i if z_i = k.
    second = np.zeros((P, P))
    g = np.zeros((n, P))
    if interior:
        for k in range(K):
            A = np.zeros((n, P))
            if k < m:
                A[:, k] = 1.0 / weights[k]
            else:
                A[:, :m] = -1.0 / weights[m]
            A[:, m + k * q : m + (k + 1) * q] = u[:, [k]] * D
            second += A.T @ (r[:, [k]] * A)
            g += r[:, [k]] * A
        return Ic, second - g.T @ g
    # Boundary: r_ik A_k is finite (its weight part is r_ik / pi_k = f_ik / f_i), and
    # so is every block of sum_k r_ik A_k A_k^T except the weight block, which equals
    # that of Ic.
    for k in range(K):
        Ab = np.zeros((n, P))  # beta part of A_k
        Ab[:, m + k * q : m + (k + 1) * q] = u[:, [k]] * D
        B = r[:, [k]] * Ab  # r_ik A_k: beta part ...
        if k < m:  # ... plus the weight part
            B[:, k] = rw[:, k]
        else:
            B[:, :m] = -rw[:, [m]]
        Bw = B.copy()
        Bw[:, m:] = 0.0
        second += Ab.T @ B + Bw.T @ Ab
        g += B
    second[:m, :m] = Ic[:m, :m]
    with np.errstate(invalid="ignore"):
        Im = second - g.T @ g
    # Infinite complete-data entries stay +inf (even if g^T g overflowed too).
    Im[:m, :m][np.isposinf(Ic[:m, :m])] = np.inf
    return Ic, Im


def _louis(p: _MixtureAtTheta, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Observed information by Louis' formula: I_complete - I_missing.

    At a zero weight the weight blocks of both terms are infinite; their difference
    is ``W^T W`` (``W_ij = f_ij / f_i - f_iK / f_i``), exactly as in the Hessian.
    """
    Ic, Im = _louis_parts(p, D, y)
    with np.errstate(invalid="ignore"):  # inf - inf in the weight block at pi_k = 0
        info = Ic - Im
    if not np.all(p.weights > 0):
        m = p.weights.size - 1
        rw = _density_ratios(p)
        W = rw[:, :m] - rw[:, [m]]
        info[:m, :m] = W.T @ W
    return info


def loglik_hessian(
    theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    r"""Exact analytic Hessian of :func:`loglik` in the flat free parameters.

    With ``u_ik = y_i - lambda_ik`` and ``W_ij = r_ij / pi_j - r_iK / pi_K``:

    .. math::

        \frac{\partial^2 \ell}{\partial \pi_j \partial \pi_{j'}} &= -\sum_i W_{ij} W_{ij'},\\
        \frac{\partial^2 \ell}{\partial \pi_j \partial \beta_l} &= \sum_i
            \Big[\delta_{jl}\frac{r_{ij}}{\pi_j} - \delta_{Kl}\frac{r_{iK}}{\pi_K}
            - r_{il} W_{ij}\Big] u_{il}\, d_i,\\
        \frac{\partial^2 \ell}{\partial \beta_k \partial \beta_l^\top} &= \sum_i
            \big[\delta_{kl}\, r_{ik}(u_{ik}^2 - \lambda_{ik}) - r_{ik} r_{il} u_{ik} u_{il}\big]
            d_i d_i^\top .

    Parameters
    ----------
    theta, D, y, offset
        As in :func:`loglik`.

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) + K q``

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import loglik_hessian
    >>> loglik_hessian([0.0], np.ones((2, 1)), [1.0, 3.0]).tolist()  # K = 1: -sum lambda
    [[-2.0]]
    """
    D, y = _float_arrays(D, y)
    return _hessian_direct(_mixture_at_theta(theta, D, y, offset), D, y)


def observed_information(
    theta: Any,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    method: str = "hessian",
) -> np.ndarray:
    r"""Observed information ``-grad^2 l(theta)`` in the flat free parameters.

    Two routes to the same matrix:

    * ``"hessian"``: minus the analytic Hessian of the observed-data log-likelihood
      (:func:`loglik_hessian`);
    * ``"louis"``: Louis' (1982) formula, complete-data information minus missing
      information,

      .. math::

          I(\theta) = \mathbb E\big[-\nabla^2 \log p(y, z \mid \theta) \mid y\big]
                      - \sum_i \operatorname{Cov}\big(\nabla \log p(y_i, z_i \mid \theta)
                      \mid y_i\big),

      exact at every ``theta`` (not only at the maximum).

    At the maximum-likelihood estimate its inverse estimates the covariance of the
    estimator (see :meth:`PoissonRegressionMixture.standard_errors`).

    Parameters
    ----------
    theta, D, y, offset
        As in :func:`loglik`.
    method : {"hessian", "louis"}, default="hessian"

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) + K q``

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import observed_information
    >>> D = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> bool(np.allclose(observed_information(th, D, y),
    ...                  observed_information(th, D, y, method="louis")))
    True
    """
    if method not in ("hessian", "louis"):
        raise ValueError(f"method must be 'hessian' or 'louis'; got {method!r}.")
    D, y = _float_arrays(D, y)
    p = _mixture_at_theta(theta, D, y, offset)
    if method == "hessian":
        return -_hessian_direct(p, D, y)
    return _louis(p, D, y)


def complete_information(
    theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    r"""Complete-data information ``E[-grad^2 log p(y, z | theta) | y]`` (Louis 1982).

    The expected information of the complete data (counts *and* labels), given the
    observed counts, in the flat free parameters. It is ``-grad^2_theta Q(theta |
    theta_old)`` at ``theta_old = theta``:

    .. math::

        I_c = \begin{pmatrix}
            \operatorname{diag}(n_j / \pi_j^2) + (n_K / \pi_K^2)\, \mathbf 1 \mathbf 1^\top & 0 \\
            0 & \operatorname{blockdiag}_k \sum_i r_{ik} \lambda_{ik} d_i d_i^\top
        \end{pmatrix}, \qquad n_k = \sum_i r_{ik}.

    The observed information is ``complete_information - missing_information``
    (:func:`observed_information` with ``method="louis"``), and the eigenvalues of
    ``I_c^{-1} I_m`` (the fractions of missing information) govern the speed of EM.

    At a zero weight ``pi_k = 0`` the weight entries containing ``n_k / pi_k^2`` are
    the limit from inside the simplex, ``+inf`` (``n_k ~ pi_k``); the other entries
    are finite.

    Parameters
    ----------
    theta, D, y, offset
        As in :func:`loglik`.

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) + K q``

    See Also
    --------
    missing_information, observed_information

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import (complete_information, missing_information,
    ...                            observed_information)
    >>> D = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> Ic, Im = complete_information(th, D, y), missing_information(th, D, y)
    >>> bool(np.allclose(Ic - Im, observed_information(th, D, y)))
    True
    """
    D, y = _float_arrays(D, y)
    return _louis_parts(_mixture_at_theta(theta, D, y, offset), D, y)[0]


def missing_information(
    theta: Any, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    r"""Missing information ``sum_i Cov(grad log p(y_i, z_i | theta) | y_i)`` (Louis 1982).

    The information lost by not observing the labels: the sum over observations of
    the conditional covariance, given ``y_i``, of the complete-data score. Positive
    semi-definite. ``complete_information - missing_information`` is the observed
    information.

    At a zero weight ``pi_k = 0`` the weight entries containing ``sum_i r_ik / pi_k^2``
    are ``+inf`` (see :func:`complete_information`); the others are finite.

    Parameters
    ----------
    theta, D, y, offset
        As in :func:`loglik`.

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) + K q``

    See Also
    --------
    complete_information, observed_information

    Examples
    --------
    One component: no labels are missing.

    >>> import numpy as np
    >>> from emfit.poisson import missing_information
    >>> missing_information([0.0], np.ones((2, 1)), [1.0, 3.0]).tolist()
    [[0.0]]
    """
    D, y = _float_arrays(D, y)
    return _louis_parts(_mixture_at_theta(theta, D, y, offset), D, y)[1]
