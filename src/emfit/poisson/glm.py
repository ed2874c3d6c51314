r"""Weighted Poisson regression of one component: the M-step solver.

One component's part of the EM function ``Q`` is a Poisson GLM log-likelihood with
observation weights ``w_i = r_ik`` (:func:`weighted_poisson_loglik`, with its gradient
and Hessian). It is maximised by Newton/IRLS with step halving
(:func:`fit_weighted_poisson`; exact EM) or by gradient ascent with Armijo
backtracking (:func:`gradient_ascent_poisson`; generalised EM).

The private solvers ``_newton`` and ``_gradient_steps``, which the EM loop calls, work
on the transposed design matrix ``DT`` of shape (q, n). The linear algebra
(``_solve_pd``, ``_neg_hessian``, ``_products``) knows nothing of the Poisson family;
the family enters through the objective ``_objective``, the mean ``mu = exp(eta)``
(log link) and the working weights ``w mu`` (variance equal to the mean).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .pmf import _eta, _eta_t, _float_arrays, _log_prob, _log_prob_kernel, _offset

__all__ = [
    "WeightedPoissonFit",
    "fit_weighted_poisson",
    "gradient_ascent_poisson",
    "weighted_poisson_gradient",
    "weighted_poisson_hessian",
    "weighted_poisson_loglik",
]


def _weights(sample_weight: ArrayLike | None, n: int) -> np.ndarray:
    """Observation weights; one for each of the ``n`` observations by default."""
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


def _solve_pd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``H d = g`` for a (numerically) positive definite ``H``, Jacobi-scaled.

    The diagonal scaling makes the solve insensitive to the scale of the covariates
    (e.g. an intercept column next to ``x ~ 1e3``). Falls back to least squares when
    ``H`` is singular.
    """
    s = np.sqrt(np.diag(H))
    s[~(s > 0) | ~np.isfinite(s)] = 1.0
    Hs = H / s[:, None] / s[None, :]
    gs = g / s
    try:
        d = np.linalg.solve(Hs, gs)
        if not np.all(np.isfinite(d)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        d = np.linalg.lstsq(Hs, gs, rcond=None)[0]
    return d / s


def weighted_poisson_loglik(
    beta: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    r"""Weighted Poisson log-likelihood of one component.

    .. math:: L(\beta) = \sum_i w_i \,[\, y_i \eta_i - e^{\eta_i} - \log y_i! \,],
              \qquad \eta_i = o_i + d_i^\top \beta.

    With ``w_i = r_ik`` this is component ``k``'s part of the EM function ``Q``.

    Parameters
    ----------
    beta : array-like of shape (q,)
        Coefficients on the design matrix.
    D : array-like of shape (n, q)
        Design matrix (see :func:`design_matrix`).
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset ``log(exposure)``; zero by default.
    sample_weight : array-like of shape (n,), optional
        Non-negative observation weights; one by default.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import weighted_poisson_loglik
    >>> from scipy.stats import poisson
    >>> D = np.ones((2, 1)); y = np.array([1.0, 3.0])
    >>> bool(np.isclose(weighted_poisson_loglik([0.5], D, y),
    ...                 poisson.logpmf(y, np.exp(0.5)).sum()))
    True
    """
    D, y = _float_arrays(D, y)
    w = _weights(sample_weight, len(y))
    eta = _eta(D, np.asarray(beta, dtype=np.float64), _offset(offset, len(y)))
    return float(w @ _log_prob(y, eta)[1])


def weighted_poisson_gradient(
    beta: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    r"""Gradient of :func:`weighted_poisson_loglik`: ``sum_i w_i (y_i - lambda_i) d_i``.

    Parameters
    ----------
    beta, D, y, offset, sample_weight
        As in :func:`weighted_poisson_loglik`.

    Returns
    -------
    ndarray of shape (q,)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import weighted_poisson_gradient
    >>> weighted_poisson_gradient([0.0], np.ones((2, 1)), [1.0, 3.0]).tolist()
    [2.0]
    """
    D, y = _float_arrays(D, y)
    w = _weights(sample_weight, len(y))
    mu = np.exp(_eta(D, np.asarray(beta, dtype=np.float64), _offset(offset, len(y))))
    return D.T @ (w * (y - mu))


def weighted_poisson_hessian(
    beta: ArrayLike,
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    r"""Hessian of :func:`weighted_poisson_loglik`: ``-sum_i w_i lambda_i d_i d_i^T``.

    Negative semi-definite (the weighted Poisson log-likelihood is concave), so
    Newton's method with step halving converges from any start.

    Parameters
    ----------
    beta, D, y, offset, sample_weight
        As in :func:`weighted_poisson_loglik` (``y`` is not used but kept for a
        uniform signature).

    Returns
    -------
    ndarray of shape (q, q)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import weighted_poisson_hessian
    >>> weighted_poisson_hessian([0.0], np.ones((2, 1)), [1.0, 3.0]).tolist()
    [[-2.0]]
    """
    D = np.asarray(D, dtype=np.float64)
    n = D.shape[0]
    w = _weights(sample_weight, n)
    mu = np.exp(_eta(D, np.asarray(beta, dtype=np.float64), _offset(offset, n)))
    return -(D.T @ ((w * mu)[:, None] * D))


class WeightedPoissonFit(NamedTuple):
    """Result of :func:`fit_weighted_poisson` and :func:`gradient_ascent_poisson`.

    Attributes
    ----------
    coef : ndarray of shape (q,)
        Coefficients on the design matrix.
    loglik : float
        Weighted log-likelihood (:func:`weighted_poisson_loglik`) at ``coef``.
    n_iter : int
        Number of accepted steps.
    converged : bool
        Whether the stopping rule was met (always False for gradient steps).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import fit_weighted_poisson
    >>> fit = fit_weighted_poisson(np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 2.0]))
    >>> round(float(np.exp(fit.coef[0])), 6), fit.converged
    (2.0, True)
    """

    coef: np.ndarray
    loglik: float
    n_iter: int
    converged: bool


#: Largest number of design columns for which :class:`PoissonRegressionData` stores the
#: pairwise products of the columns (so that a Hessian is one matrix-vector product).
_MAX_Q_PRODUCTS = 4


def _products(DT: np.ndarray) -> np.ndarray | None:
    """Rows ``DT[i] * DT[j]`` for ``i <= j`` (upper triangle order), or None if q is big."""
    q = DT.shape[0]
    if q > _MAX_Q_PRODUCTS:
        return None
    iu, ju = np.triu_indices(q)
    return DT[iu] * DT[ju]


def _neg_hessian(DT: np.ndarray, v: np.ndarray, DD: np.ndarray | None) -> np.ndarray:
    """``D^T diag(v) D`` from the transposed design (and its column products)."""
    if DD is None:
        return (DT * v) @ DT.T
    q = DT.shape[0]
    H = np.empty((q, q))
    iu, ju = np.triu_indices(q)
    h = DD @ v
    H[iu, ju] = h
    H[ju, iu] = h
    return H


def _weighted_arrays(
    D: ArrayLike, y: ArrayLike, offset: ArrayLike | None, sample_weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(DT, y, offset, sample_weight)`` as the solvers take them: the transposed design
    matrix (q, n), float counts, and the offset (0) and observation weights (1) by default."""
    DT = np.ascontiguousarray(np.asarray(D, dtype=np.float64).T)
    y = np.asarray(y, dtype=np.float64)
    return DT, y, _offset(offset, len(y)), _weights(sample_weight, len(y))


def _irls_start(DT: np.ndarray, y: np.ndarray, offset: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Textbook IRLS start: one weighted least-squares step from ``mu = (y + ybar) / 2``."""
    sw = w.sum()
    ybar = (w @ y) / sw if sw > 0 else y.mean()
    mu0 = 0.5 * (y + max(ybar, 1e-8))
    z = np.log(mu0) - offset
    ww = w * mu0
    H = (DT * ww) @ DT.T
    return _solve_pd(H, DT @ (ww * z))


def _objective(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    stable: bool,
    eta: np.ndarray | None = None,
    mu: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(eta, mu, L)`` at ``beta``: the clipped linear predictor, ``mu = exp(eta)`` and
    the objective ``L = sum w (y eta - exp(eta))`` of :func:`_newton` and
    :func:`_gradient_steps`, computed by :func:`_log_prob_kernel` (``stable`` chooses the form,
    so ``L`` leaves out the ``y``-only terms). ``eta`` and ``mu`` may be passed if
    already known."""
    if eta is None:
        eta = _eta_t(DT, beta, offset)
    if mu is None:
        mu = np.exp(eta)
    return eta, mu, float(w @ _log_prob_kernel(y, eta, mu, stable))


def _newton(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    eta: np.ndarray | None = None,
    mu: np.ndarray | None = None,
    *,
    tol: float,
    max_iter: int,
    need_loglik: bool = True,
    DD: np.ndarray | None = None,
    stable: bool = True,
) -> WeightedPoissonFit:
    """Newton/IRLS with step halving on ``sum w (y eta - exp(eta))``.

    ``DT`` is the transposed design matrix (q, n). ``eta`` (the clipped linear
    predictor at ``beta``) and ``mu = exp(eta)`` may be passed to save an ``exp``. A
    step is accepted only if it does not decrease the objective (step halving, at
    most 60 halvings); iterations stop when the Newton decrement ``g^T H^{-1} g`` is
    below ``tol * (1 + |L|)``, after taking that last (tiny) step, whose change of
    ``L`` is below round-off. With ``need_loglik=False`` the returned ``loglik`` may
    be NaN (saves an ``exp`` in the EM loop). ``DD`` (from :func:`_products`) makes
    the Hessian a single matrix-vector product. The objective is computed by
    :func:`_log_prob_kernel` (``stable`` chooses the form), so ``loglik`` leaves out the
    ``y``-only terms.
    """
    eta, mu, L = _objective(DT, y, offset, w, beta, stable, eta, mu)
    wy = w * y
    n_iter = 0
    converged = False
    for _ in range(max_iter):
        wmu = w * mu
        g = DT @ (wy - wmu)
        H = _neg_hessian(DT, wmu, DD)
        delta = _solve_pd(H, g)
        dec = float(g @ delta)
        if not np.isfinite(dec):
            break
        if dec <= tol * (1.0 + abs(L)):
            beta = beta + delta
            n_iter += 1
            converged = True
            eta = None
            break
        t = 1.0
        for _ in range(60):
            beta_new = beta + t * delta
            eta_new, mu_new, L_new = _objective(DT, y, offset, w, beta_new, stable)
            if L_new >= L:
                break
            t *= 0.5
        else:  # no ascent step found: at the maximum up to round-off
            converged = True
            break
        beta, eta, mu, L = beta_new, eta_new, mu_new, L_new
        n_iter += 1
    if eta is None:  # the last step was taken without re-evaluating L
        if need_loglik:
            L = _objective(DT, y, offset, w, beta, stable)[2]
        else:
            L = float("nan")
    return WeightedPoissonFit(beta, L, n_iter, converged)


def fit_weighted_poisson(
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    coef_init: ArrayLike | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> WeightedPoissonFit:
    r"""Weighted Poisson regression by Newton's method (IRLS) with step halving.

    Maximises :func:`weighted_poisson_loglik`. Each Newton step
    ``delta = (D^T W Lambda D)^{-1} D^T W (y - lambda)`` is halved until the
    objective does not decrease, so the objective never decreases. This is one
    component's M-step of the EM algorithm, with ``sample_weight`` the responsibilities.

    Parameters
    ----------
    D : array-like of shape (n, q)
        Design matrix.
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset; zero by default.
    sample_weight : array-like of shape (n,), optional
        Non-negative observation weights; one by default.
    coef_init : array-like of shape (q,), optional
        Starting value (warm start). By default one weighted least-squares step
        from ``lambda = (y + ybar) / 2`` (the usual IRLS start).
    tol : float, default=1e-10
        Stop when the Newton decrement ``g^T H^{-1} g`` (twice the predicted
        increase) is below ``tol * (1 + |L|)``.
    max_iter : int, default=100
        Maximum number of Newton steps.

    Returns
    -------
    WeightedPoissonFit

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import design_matrix, fit_weighted_poisson
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 1, 2000)
    >>> y = rng.poisson(np.exp(1.0 + 2.0 * x))
    >>> fit_weighted_poisson(design_matrix(x[:, None]), y).coef.round(1).tolist()
    [1.0, 2.0]
    """
    DT, y, off, w = _weighted_arrays(D, y, offset, sample_weight)
    if coef_init is None:
        beta = _irls_start(DT, y, off, w)
    else:
        beta = np.array(coef_init, dtype=np.float64)
    res = _newton(DT, y, off, w, beta, tol=tol, max_iter=max_iter, need_loglik=False)
    return res._replace(loglik=weighted_poisson_loglik(res.coef, D, y, off, w))


def _gradient_steps(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    eta: np.ndarray | None = None,
    mu: np.ndarray | None = None,
    *,
    n_steps: int,
    armijo: float = 1e-4,
    DD: np.ndarray | None = None,
    stable: bool = True,
) -> WeightedPoissonFit:
    """Gradient ascent with Armijo backtracking on ``sum w (y eta - exp(eta))``.

    The objective is computed by :func:`_log_prob_kernel` (see :func:`_newton`).
    """
    eta, mu, L = _objective(DT, y, offset, w, beta, stable, eta, mu)
    wy = w * y
    n_iter = 0
    for _ in range(n_steps):
        wmu = w * mu
        g = DT @ (wy - wmu)
        gg = float(g @ g)
        if not gg > 0:
            break
        # Initial step 1 / (largest eigenvalue of the negative Hessian): the step of
        # a quadratic with this curvature; then halve until the Armijo condition holds.
        lam_max = np.linalg.eigvalsh(_neg_hessian(DT, wmu, DD))[-1]
        t = 1.0 / lam_max if lam_max > 0 else 1.0
        for _ in range(60):
            beta_new = beta + t * g
            eta_new, mu_new, L_new = _objective(DT, y, offset, w, beta_new, stable)
            if L_new >= L + armijo * t * gg:
                break
            t *= 0.5
        else:
            break
        beta, eta, mu, L = beta_new, eta_new, mu_new, L_new
        n_iter += 1
    return WeightedPoissonFit(beta, L, n_iter, False)


def gradient_ascent_poisson(
    D: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    coef_init: ArrayLike | None = None,
    *,
    n_steps: int = 1,
    armijo: float = 1e-4,
) -> WeightedPoissonFit:
    r"""Gradient-ascent steps on the weighted Poisson log-likelihood (GEM M-step).

    Each step is ``beta <- beta + t g`` with ``g`` the gradient
    (:func:`weighted_poisson_gradient`); ``t`` starts at ``1 / lambda_max`` (the
    largest eigenvalue of the negative Hessian at ``beta``) and is halved until the
    Armijo condition ``L(beta + t g) >= L(beta) + armijo * t * |g|^2`` holds, so the
    objective increases at every step. Used as an M-step this is *generalised EM*:
    ``Q`` increases without being maximised, which is enough for the log-likelihood
    never to decrease.

    Parameters
    ----------
    D, y, offset, sample_weight
        As in :func:`fit_weighted_poisson`.
    coef_init : array-like of shape (q,), optional
        Starting point; zero by default.
    n_steps : int, default=1
        Number of gradient steps.
    armijo : float, default=1e-4
        Sufficient-increase constant of the Armijo condition.

    Returns
    -------
    WeightedPoissonFit

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import gradient_ascent_poisson, weighted_poisson_loglik
    >>> D = np.ones((3, 1)); y = np.array([1.0, 2.0, 6.0])
    >>> fit = gradient_ascent_poisson(D, y, n_steps=1)
    >>> bool(weighted_poisson_loglik(fit.coef, D, y) > weighted_poisson_loglik([0.0], D, y))
    True
    """
    DT, y, off, w = _weighted_arrays(D, y, offset, sample_weight)
    beta = np.zeros(DT.shape[0]) if coef_init is None else np.array(coef_init, dtype=float)
    res = _gradient_steps(DT, y, off, w, beta, n_steps=n_steps, armijo=armijo)
    return res._replace(loglik=weighted_poisson_loglik(res.coef, D, y, off, w))
