r"""Mixtures of Poisson regressions (Problem 3 of the seed).

Model
-----
Observation ``i`` has counts ``y_i``, a covariate row ``x_i`` and an exposure ``e_i``
(offset ``o_i = log e_i``, zero by default). It comes from component ``k`` with
probability ``pi_k``; given the component,

.. math::

    y_i \mid z_i = k \sim \operatorname{Poisson}(\lambda_{ik}), \qquad
    \log \lambda_{ik} = \eta_{ik} = o_i + d_i^\top \beta_k ,

where ``d_i`` is the *design row*: ``d_i = (1, x_i)`` with an intercept, ``d_i = x_i``
without. Without intercept, offset or exposure this is exactly the seed's model
``lambda_ji = exp(beta_j x_i)``.

Parametrisation of theta
------------------------
The module-level functions (:func:`loglik`, :func:`loglik_gradient`,
:func:`q_function`, :func:`q_gradient`, :func:`observed_information`) work on a
*design matrix* ``X`` of shape ``(n, q)`` (build it with :func:`design_matrix`; with
an intercept its first column is ones) and on ``theta`` in one of two forms:

* **flat** (free parameters), a 1-d array of length ``P = (K - 1) + K q``::

      theta = (pi_1, ..., pi_{K-1}, beta_1[0], ..., beta_1[q-1], ..., beta_K[q-1])

  The last weight is not a parameter: ``pi_K = 1 - (pi_1 + ... + pi_{K-1})``. Gradients
  and information matrices are always with respect to this vector; ``K`` is
  recovered from its length and ``q``. :func:`pack_theta` / :func:`unpack_theta`
  convert.
* **structured**, a ``tuple`` ``(weights, coef)`` with ``weights`` of shape ``(K,)``
  (summing to one) and ``coef`` of shape ``(K, q)`` (row ``k`` is ``beta_k``; with an
  intercept ``coef[:, 0]`` is the intercept).

Numerics
--------
Linear predictors are clipped to ``[-ETA_MAX, ETA_MAX]`` (:data:`ETA_MAX` = 300) before
``exp``, so ``lambda`` stays finite (``exp(300) ~ 1.9e130``) even for huge covariates;
inside the bound (any fit that describes real data) the clipping changes nothing.
Mixtures are combined in log space. The Poisson log-probability is computed without
cancellation, as

.. math::

    \log f(y \mid \lambda) = C(y) - D(y, \lambda), \qquad
    D(y, \lambda) = y \log\frac{y}{\lambda} - (y - \lambda) \ge 0, \qquad
    C(y) = y \log y - y - \log y!,

with ``y log(y / lambda) = y log1p((y - lambda) / lambda)`` and ``C`` by Stirling's
series for large ``y``: the naive ``y eta - lambda - log y!`` loses about
``1e-16 * y log y`` to round-off, ~1e-6 per observation for ``y ~ 1e9``, enough to make
a converging EM look non-monotone. (The EM loop uses the naive form, which is faster,
when all counts are below :data:`STABLE_COUNTS`.)
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from ._base import MixtureEstimatorMixin, canonical_order
from ._validation import (
    check_array,
    check_counts,
    check_exposure,
    check_positive_float,
    check_positive_int,
    check_random_state,
)
from .em import MixtureFamily, e_step, logsumexp_rows

__all__ = [
    "ETA_MAX",
    "STABLE_COUNTS",
    "PoissonRegressionData",
    "PoissonRegressionFamily",
    "PoissonRegressionMixture",
    "SingularInformationWarning",
    "WeightedPoissonFit",
    "complete_information",
    "component_log_prob",
    "design_matrix",
    "fit_weighted_poisson",
    "gradient_ascent_poisson",
    "log_pmf_constant",
    "loglik",
    "loglik_gradient",
    "loglik_hessian",
    "missing_information",
    "observed_information",
    "pack_theta",
    "q_function",
    "q_gradient",
    "unpack_theta",
    "weighted_poisson_gradient",
    "weighted_poisson_hessian",
    "weighted_poisson_loglik",
]

#: Bound on the absolute value of a linear predictor ``eta = log(lambda)``.
ETA_MAX: float = 300.0

#: Counts above which the EM loop switches to the cancellation-free log-probability.
STABLE_COUNTS: float = 2.0**16

_EPS_LO = -1.0 + 2.0**-52  # log1p argument floor: y / lambda below 2^-52 counts as 2^-52

#: M-step variants of :class:`PoissonRegressionFamily`.
M_STEPS: tuple[str, ...] = ("newton", "gradient")
#: Initialisations of :class:`PoissonRegressionFamily`.
INITS: tuple[str, ...] = ("random", "residual")


class SingularInformationWarning(RuntimeWarning):
    """The observed information is singular or not positive definite.

    Issued by :meth:`PoissonRegressionMixture.standard_errors`. A singular
    information means that some parameters are not identified by these data (e.g.
    an intercept and a slope when every ``x_i`` is equal, or two equal components),
    or that the fit is not at a strict maximum; a matrix that is not positive
    definite means the fit is not at a local maximum (a saddle point, or EM has not
    converged). The standard errors of the affected parameters are NaN.

    Examples
    --------
    With an intercept and a single covariate value, intercept and slope cannot be
    told apart:

    >>> import warnings
    >>> import numpy as np
    >>> from emfit import PoissonRegressionMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.ones((300, 1))
    >>> y = np.where(rng.random(300) < 0.5, rng.poisson(2.0, 300), rng.poisson(9.0, 300))
    >>> model = PoissonRegressionMixture(2, random_state=0).fit(X, y)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     se = model.standard_errors(X, y)
    >>> any(issubclass(w.category, SingularInformationWarning) for w in caught)
    True
    >>> bool(np.isnan(se["coef"]).all())
    True
    """


# =============================================================================== helpers
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


def _weights(weights: ArrayLike | None, n: int) -> np.ndarray:
    """Observation weights; one for each of the ``n`` observations by default."""
    return np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)


def _float_arrays(*arrays: ArrayLike) -> tuple[np.ndarray, ...]:
    """Each argument as a float64 array (the array itself if it already is one)."""
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


def _eta(X: np.ndarray, beta: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Clipped linear predictor ``offset + X beta`` (beta of shape (q,) or (q, K))."""
    eta = X @ beta
    eta += offset if eta.ndim == 1 else offset[:, None]
    return np.clip(eta, -ETA_MAX, ETA_MAX, out=eta)


def _eta_t(XT: np.ndarray, beta: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Clipped linear predictor from the transposed design ``XT`` (q, n).

    ``beta`` of shape (q,) gives (n,); of shape (K, q) gives (K, n) (rows contiguous,
    the fast layout for the EM loop).
    """
    eta = beta @ XT
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


def _neg_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``-D(y, mu) = -(y log(y / mu) - (y - mu))``, accurate to ~eps * |y - mu|."""
    e = y - mu
    d = e / mu
    np.maximum(d, _EPS_LO, out=d)
    np.log1p(d, out=d)
    d *= y
    np.subtract(e, d, out=d)
    return d


def _kernel(y: np.ndarray, eta: np.ndarray, mu: np.ndarray, stable: bool) -> np.ndarray:
    """The parameter-dependent part of ``log f(y | mu)``.

    ``stable``: ``-D(y, mu)`` (add :func:`log_pmf_constant`); otherwise
    ``y eta - mu`` (add ``-log y!``). Works on (n,) or (K, n) arrays.
    """
    if stable:
        return _neg_deviance(y, mu)
    k = eta * y
    k -= mu
    return k


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


# ============================================================== one weighted component
def weighted_poisson_loglik(
    beta: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> float:
    r"""Weighted Poisson log-likelihood of one component.

    .. math:: L(\beta) = \sum_i w_i \,[\, y_i \eta_i - e^{\eta_i} - \log y_i! \,],
              \qquad \eta_i = o_i + d_i^\top \beta.

    With ``w_i = r_ik`` this is component ``k``'s part of the EM function ``Q``.

    Parameters
    ----------
    beta : array-like of shape (q,)
        Coefficients on the design matrix.
    X : array-like of shape (n, q)
        Design matrix (see :func:`design_matrix`).
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset ``log(exposure)``; zero by default.
    weights : array-like of shape (n,), optional
        Non-negative weights; one by default.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import weighted_poisson_loglik
    >>> from scipy.stats import poisson
    >>> X = np.ones((2, 1)); y = np.array([1.0, 3.0])
    >>> bool(np.isclose(weighted_poisson_loglik([0.5], X, y),
    ...                 poisson.logpmf(y, np.exp(0.5)).sum()))
    True
    """
    X, y = _float_arrays(X, y)
    w = _weights(weights, len(y))
    eta = _eta(X, np.asarray(beta, dtype=np.float64), _offset(offset, len(y)))
    return float(w @ (_neg_deviance(y, np.exp(eta)) + log_pmf_constant(y)))


def weighted_poisson_gradient(
    beta: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Gradient of :func:`weighted_poisson_loglik`: ``sum_i w_i (y_i - lambda_i) d_i``.

    Parameters
    ----------
    beta, X, y, offset, weights
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
    X, y = _float_arrays(X, y)
    w = _weights(weights, len(y))
    mu = np.exp(_eta(X, np.asarray(beta, dtype=np.float64), _offset(offset, len(y))))
    return X.T @ (w * (y - mu))


def weighted_poisson_hessian(
    beta: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> np.ndarray:
    r"""Hessian of :func:`weighted_poisson_loglik`: ``-sum_i w_i lambda_i d_i d_i^T``.

    Negative semi-definite (the weighted Poisson log-likelihood is concave), so
    Newton's method with step halving converges from any start.

    Parameters
    ----------
    beta, X, y, offset, weights
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
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    w = _weights(weights, n)
    mu = np.exp(_eta(X, np.asarray(beta, dtype=np.float64), _offset(offset, n)))
    return -(X.T @ ((w * mu)[:, None] * X))


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


def _products(XT: np.ndarray) -> np.ndarray | None:
    """Rows ``XT[i] * XT[j]`` for ``i <= j`` (upper triangle order), or None if q is big."""
    q = XT.shape[0]
    if q > _MAX_Q_PRODUCTS:
        return None
    iu, ju = np.triu_indices(q)
    return XT[iu] * XT[ju]


def _neg_hessian(XT: np.ndarray, v: np.ndarray, XX: np.ndarray | None) -> np.ndarray:
    """``X^T diag(v) X`` from the transposed design (and its column products)."""
    if XX is None:
        return (XT * v) @ XT.T
    q = XT.shape[0]
    H = np.empty((q, q))
    iu, ju = np.triu_indices(q)
    h = XX @ v
    H[iu, ju] = h
    H[ju, iu] = h
    return H


def _weighted_arrays(
    X: ArrayLike, y: ArrayLike, offset: ArrayLike | None, weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(XT, y, offset, weights)`` as the solvers take them: the transposed design
    matrix (q, n), float counts, and the offset (0) and weights (1) by default."""
    XT = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
    y = np.asarray(y, dtype=np.float64)
    return XT, y, _offset(offset, len(y)), _weights(weights, len(y))


def _irls_start(XT: np.ndarray, y: np.ndarray, offset: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Textbook IRLS start: one weighted least-squares step from ``mu = (y + ybar) / 2``."""
    sw = w.sum()
    ybar = (w @ y) / sw if sw > 0 else y.mean()
    mu0 = 0.5 * (y + max(ybar, 1e-8))
    z = np.log(mu0) - offset
    ww = w * mu0
    H = (XT * ww) @ XT.T
    return _solve_pd(H, XT @ (ww * z))


def _objective(
    XT: np.ndarray,
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
    :func:`_gradient_steps`, computed by :func:`_kernel` (``stable`` chooses the form,
    so ``L`` leaves out the ``y``-only terms). ``eta`` and ``mu`` may be passed if
    already known."""
    if eta is None:
        eta = _eta_t(XT, beta, offset)
    if mu is None:
        mu = np.exp(eta)
    return eta, mu, float(w @ _kernel(y, eta, mu, stable))


def _newton(
    XT: np.ndarray,
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
    XX: np.ndarray | None = None,
    stable: bool = True,
) -> WeightedPoissonFit:
    """Newton/IRLS with step halving on ``sum w (y eta - exp(eta))``.

    ``XT`` is the transposed design matrix (q, n). ``eta`` (the clipped linear
    predictor at ``beta``) and ``mu = exp(eta)`` may be passed to save an ``exp``. A
    step is accepted only if it does not decrease the objective (step halving, at
    most 60 halvings); iterations stop when the Newton decrement ``g^T H^{-1} g`` is
    below ``tol * (1 + |L|)``, after taking that last (tiny) step, whose change of
    ``L`` is below round-off. With ``need_loglik=False`` the returned ``loglik`` may
    be NaN (saves an ``exp`` in the EM loop). ``XX`` (from :func:`_products`) makes
    the Hessian a single matrix-vector product. The objective is computed by
    :func:`_kernel` (``stable`` chooses the form), so ``loglik`` leaves out the
    ``y``-only terms.
    """
    eta, mu, L = _objective(XT, y, offset, w, beta, stable, eta, mu)
    wy = w * y
    n_iter = 0
    converged = False
    for _ in range(max_iter):
        wmu = w * mu
        g = XT @ (wy - wmu)
        H = _neg_hessian(XT, wmu, XX)
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
            eta_new, mu_new, L_new = _objective(XT, y, offset, w, beta_new, stable)
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
            L = _objective(XT, y, offset, w, beta, stable)[2]
        else:
            L = float("nan")
    return WeightedPoissonFit(beta, L, n_iter, converged)


def fit_weighted_poisson(
    X: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    coef_init: ArrayLike | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> WeightedPoissonFit:
    r"""Weighted Poisson regression by Newton's method (IRLS) with step halving.

    Maximises :func:`weighted_poisson_loglik`. Each Newton step
    ``delta = (X^T W Lambda X)^{-1} X^T W (y - lambda)`` is halved until the
    objective does not decrease, so the objective never decreases. This is one
    component's M-step of the EM algorithm, with ``weights`` the responsibilities.

    Parameters
    ----------
    X : array-like of shape (n, q)
        Design matrix.
    y : array-like of shape (n,)
        Counts.
    offset : array-like of shape (n,), optional
        Offset; zero by default.
    weights : array-like of shape (n,), optional
        Non-negative weights; one by default.
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
    XT, y, off, w = _weighted_arrays(X, y, offset, weights)
    if coef_init is None:
        beta = _irls_start(XT, y, off, w)
    else:
        beta = np.array(coef_init, dtype=np.float64)
    res = _newton(XT, y, off, w, beta, tol=tol, max_iter=max_iter, need_loglik=False)
    return res._replace(loglik=weighted_poisson_loglik(res.coef, X, y, off, w))


def _gradient_steps(
    XT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    eta: np.ndarray | None = None,
    mu: np.ndarray | None = None,
    *,
    n_steps: int,
    armijo: float = 1e-4,
    XX: np.ndarray | None = None,
    stable: bool = True,
) -> WeightedPoissonFit:
    """Gradient ascent with Armijo backtracking on ``sum w (y eta - exp(eta))``.

    The objective is computed by :func:`_kernel` (see :func:`_newton`).
    """
    eta, mu, L = _objective(XT, y, offset, w, beta, stable, eta, mu)
    wy = w * y
    n_iter = 0
    for _ in range(n_steps):
        wmu = w * mu
        g = XT @ (wy - wmu)
        gg = float(g @ g)
        if not gg > 0:
            break
        # Initial step 1 / (largest eigenvalue of the negative Hessian): the step of
        # a quadratic with this curvature; then halve until the Armijo condition holds.
        lam_max = np.linalg.eigvalsh(_neg_hessian(XT, wmu, XX))[-1]
        t = 1.0 / lam_max if lam_max > 0 else 1.0
        for _ in range(60):
            beta_new = beta + t * g
            eta_new, mu_new, L_new = _objective(XT, y, offset, w, beta_new, stable)
            if L_new >= L + armijo * t * gg:
                break
            t *= 0.5
        else:
            break
        beta, eta, mu, L = beta_new, eta_new, mu_new, L_new
        n_iter += 1
    return WeightedPoissonFit(beta, L, n_iter, False)


def gradient_ascent_poisson(
    X: ArrayLike,
    y: ArrayLike,
    offset: ArrayLike | None = None,
    weights: ArrayLike | None = None,
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
    X, y, offset, weights
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
    >>> X = np.ones((3, 1)); y = np.array([1.0, 2.0, 6.0])
    >>> fit = gradient_ascent_poisson(X, y, n_steps=1)
    >>> bool(weighted_poisson_loglik(fit.coef, X, y) > weighted_poisson_loglik([0.0], X, y))
    True
    """
    XT, y, off, w = _weighted_arrays(X, y, offset, weights)
    beta = np.zeros(XT.shape[0]) if coef_init is None else np.array(coef_init, dtype=float)
    res = _gradient_steps(XT, y, off, w, beta, n_steps=n_steps, armijo=armijo)
    return res._replace(loglik=weighted_poisson_loglik(res.coef, X, y, off, w))


def component_log_prob(
    coef: ArrayLike, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
) -> np.ndarray:
    """Log Poisson probabilities ``log f(y_i | beta_k)`` of every component.

    Parameters
    ----------
    coef : array-like of shape (K, q)
        Coefficients on the design matrix, one row per component.
    X : array-like of shape (n, q)
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
    X, y = _float_arrays(X, y)
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    eta = _eta(X, coef.T, _offset(offset, len(y)))
    return _neg_deviance(y[:, None], np.exp(eta)) + log_pmf_constant(y)[:, None]


# ============================================================ theta, l, Q and gradients
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


def _parts(theta: Any, q: int) -> tuple[np.ndarray, np.ndarray]:
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


class _Pieces(NamedTuple):
    weights: np.ndarray  # (K,)
    coef: np.ndarray  # (K, q)
    mu: np.ndarray  # (n, K)
    log_prob: np.ndarray  # (n, K)  log f(y_i | beta_k)
    resp: np.ndarray  # (n, K)
    loglik: float


def _pieces(theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None) -> _Pieces:
    X, y = _float_arrays(X, y)
    weights, coef = _parts(theta, X.shape[1])
    eta = _eta(X, coef.T, _offset(offset, len(y)))
    mu = np.exp(eta)
    log_prob = _neg_deviance(y[:, None], mu) + log_pmf_constant(y)[:, None]
    _, ll = e_step(_log(weights), log_prob)  # raises on zero density
    resp = _softmax_rows(log_prob + _log(weights))
    return _Pieces(weights, coef, mu, log_prob, resp, ll)


def loglik(theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None) -> float:
    r"""Observed-data log-likelihood ``l(theta) = sum_i log sum_k pi_k f(y_i | beta_k)``.

    Parameters
    ----------
    theta : ndarray or tuple
        Flat free parameters or ``(weights, coef)``; see the module docstring.
    X : array-like of shape (n, q)
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
    >>> X = np.ones((1, 1)); y = np.array([2.0])
    >>> ll = loglik(([0.5, 0.5], [[0.0], [1.0]]), X, y)
    >>> bool(np.isclose(ll, np.log(0.5 * poisson.pmf(2, 1) + 0.5 * poisson.pmf(2, np.e))))
    True
    """
    X, y = _float_arrays(X, y)
    weights, coef = _parts(theta, X.shape[1])
    log_prob = component_log_prob(coef, X, y, offset)
    return float(logsumexp_rows(log_prob + _log(weights)).sum())


def _score_from(
    resp_w: np.ndarray,
    resp_b: np.ndarray,
    weights: np.ndarray,
    mu: np.ndarray,
    X: np.ndarray,
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
    g_beta = ((resp_b * (y[:, None] - mu)).T @ X).ravel()
    return np.concatenate([g_pi, g_beta])


def _density_ratios(p: _Pieces) -> np.ndarray:
    """``f_ik / f_i`` (n, K), with ``f_i = sum_k pi_k f_ik``: equals ``r_ik / pi_k`` but is
    finite (defined) at ``pi_k = 0``. Capped at the largest float (when a zero-weight
    component is more than ``e^709`` times as likely as the mixture), so that
    products with ``r_ik = 0`` stay 0."""
    lse = logsumexp_rows(p.log_prob + _log(p.weights))
    with np.errstate(over="ignore"):
        R = np.exp(p.log_prob - lse[:, None])
    return np.minimum(R, np.finfo(np.float64).max, out=R)


def _resp_over_weights(p: _Pieces) -> np.ndarray:
    """``r_ik / pi_k`` (n, K): the plain quotient when every weight is positive (the
    historical arithmetic), else :func:`_density_ratios` (its limit at ``pi_k = 0``)."""
    if np.all(p.weights > 0):
        return p.resp / p.weights
    return _density_ratios(p)


def loglik_gradient(
    theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
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
    theta, X, y, offset
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
    X, y = _float_arrays(X, y)
    p = _pieces(theta, X, y, offset)
    if np.all(p.weights > 0):
        return _score_from(p.resp, p.resp, p.weights, p.mu, X, y)
    R = _density_ratios(p)
    K = p.weights.size
    g_pi = (R[:, : K - 1] - R[:, [K - 1]]).sum(axis=0)
    g_beta = ((p.resp * (y[:, None] - p.mu)).T @ X).ravel()
    return np.concatenate([g_pi, g_beta])


def q_function(
    theta: Any,
    theta_old: Any,
    X: ArrayLike,
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
        Flat free parameters or ``(weights, coef)``; see the module docstring.
    X, y, offset
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
    >>> X = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = ([0.4, 0.6], [[0.0], [2.0]])
    >>> bool(q_function(th, th, X, y) <= loglik(th, X, y))
    True
    """
    X, y = _float_arrays(X, y)
    resp = _pieces(theta_old, X, y, offset).resp
    weights, coef = _parts(theta, X.shape[1])
    a = component_log_prob(coef, X, y, offset) + _log(weights)
    with np.errstate(invalid="ignore"):  # 0 * -inf where pi_k = 0; masked
        return float(np.where(resp > 0, resp * a, 0.0).sum())


def q_gradient(
    theta: Any,
    theta_old: Any,
    X: ArrayLike,
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
    theta, theta_old, X, y, offset
        As in :func:`q_function`.

    Returns
    -------
    ndarray of shape ((K - 1) + K q,)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import loglik_gradient, q_gradient
    >>> X = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> bool(np.allclose(q_gradient(th, th, X, y), loglik_gradient(th, X, y)))
    True
    """
    X, y = _float_arrays(X, y)
    resp = _pieces(theta_old, X, y, offset).resp
    weights, coef = _parts(theta, X.shape[1])
    mu = np.exp(_eta(X, coef.T, _offset(offset, len(y))))
    return _score_from(resp, resp, weights, mu, X, y)


# ===================================================================== information
def _hessian_direct(p: _Pieces, X: np.ndarray, y: np.ndarray) -> np.ndarray:
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
        B = C.T @ ((u[:, l])[:, None] * X)
        H[:m, sl] = B
        H[sl, :m] = B.T
        for k in range(l, K):
            sk = slice(m + k * q, m + (k + 1) * q)
            # d^2 l_i / d beta_k d beta_l^T
            #   = [delta_kl r_ik (u_ik^2 - mu_ik) - r_ik r_il u_ik u_il] d_i d_i^T
            c = -r[:, k] * r[:, l] * u[:, k] * u[:, l]
            if k == l:
                c += r[:, k] * (u[:, k] ** 2 - mu[:, k])
            blk = X.T @ (c[:, None] * X)
            H[sk, sl] = blk
            H[sl, sk] = blk.T
    return H


def _louis_parts(p: _Pieces, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete-data and missing information (Louis 1982), in the flat parameters.

    At a zero weight ``pi_k = 0`` the weight block of both is computed as its limit
    from inside the simplex: entries containing ``sum_i r_ik / pi_k^2`` are ``+inf``
    (their difference, the observed information, is finite: see :func:`_louis`).
    """
    weights, r, mu = p.weights, p.resp, p.mu
    K, q = p.coef.shape
    m = K - 1
    P = m + K * q
    n = X.shape[0]
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
        Ic[sk, sk] = X.T @ ((r[:, k] * mu[:, k])[:, None] * X)
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
            A[:, m + k * q : m + (k + 1) * q] = u[:, [k]] * X
            second += A.T @ (r[:, [k]] * A)
            g += r[:, [k]] * A
        return Ic, second - g.T @ g
    # Boundary: r_ik A_k is finite (its weight part is r_ik / pi_k = f_ik / f_i), and
    # so is every block of sum_k r_ik A_k A_k^T except the weight block, which equals
    # that of Ic.
    for k in range(K):
        Ab = np.zeros((n, P))  # beta part of A_k
        Ab[:, m + k * q : m + (k + 1) * q] = u[:, [k]] * X
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


def _louis(p: _Pieces, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Observed information by Louis' formula: I_complete - I_missing.

    At a zero weight the weight blocks of both terms are infinite; their difference
    is ``W^T W`` (``W_ij = f_ij / f_i - f_iK / f_i``), exactly as in the Hessian.
    """
    Ic, Im = _louis_parts(p, X, y)
    with np.errstate(invalid="ignore"):  # inf - inf in the weight block at pi_k = 0
        info = Ic - Im
    if not np.all(p.weights > 0):
        m = p.weights.size - 1
        rw = _density_ratios(p)
        W = rw[:, :m] - rw[:, [m]]
        info[:m, :m] = W.T @ W
    return info


def loglik_hessian(
    theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
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
    theta, X, y, offset
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
    X, y = _float_arrays(X, y)
    return _hessian_direct(_pieces(theta, X, y, offset), X, y)


def observed_information(
    theta: Any,
    X: ArrayLike,
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
    theta, X, y, offset
        As in :func:`loglik`.
    method : {"hessian", "louis"}, default="hessian"

    Returns
    -------
    ndarray of shape (P, P), ``P = (K - 1) + K q``

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import observed_information
    >>> X = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> bool(np.allclose(observed_information(th, X, y),
    ...                  observed_information(th, X, y, method="louis")))
    True
    """
    if method not in ("hessian", "louis"):
        raise ValueError(f"method must be 'hessian' or 'louis'; got {method!r}.")
    X, y = _float_arrays(X, y)
    p = _pieces(theta, X, y, offset)
    if method == "hessian":
        return -_hessian_direct(p, X, y)
    return _louis(p, X, y)


def complete_information(
    theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
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
    theta, X, y, offset
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
    >>> X = np.ones((3, 1)); y = np.array([0.0, 2.0, 7.0])
    >>> th = np.array([0.4, 0.0, 2.0])
    >>> Ic, Im = complete_information(th, X, y), missing_information(th, X, y)
    >>> bool(np.allclose(Ic - Im, observed_information(th, X, y)))
    True
    """
    X, y = _float_arrays(X, y)
    return _louis_parts(_pieces(theta, X, y, offset), X, y)[0]


def missing_information(
    theta: Any, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
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
    theta, X, y, offset
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
    X, y = _float_arrays(X, y)
    return _louis_parts(_pieces(theta, X, y, offset), X, y)[1]


# ========================================================================== family
class PoissonRegressionData(NamedTuple):
    """The ``data`` object :class:`PoissonRegressionFamily` works on.

    Build it with :meth:`from_arrays`.

    Attributes
    ----------
    X : ndarray of shape (n, q)
        Design matrix.
    y : ndarray of shape (n,)
        Counts, as float64.
    offset : ndarray of shape (n,)
        Offset ``log(exposure)``.
    XT : ndarray of shape (q, n)
        C-contiguous transpose of ``X`` (the fast layout of the EM loop).
    XX : ndarray of shape (q (q + 1) / 2, n) or None
        Products of pairs of design columns (upper triangle, row-major), stored
        when ``q <= 4`` so that a weighted Hessian is one matrix-vector product.
    stable : bool
        Whether the EM loop uses the cancellation-free log-probability (some count
        above :data:`STABLE_COUNTS`).
    const : ndarray of shape (n,)
        The ``y``-only part of ``log f(y_i | lambda)`` matching ``stable``:
        :func:`log_pmf_constant` if ``stable``, else ``-log y_i!``.
    sum_const : float
        ``const.sum()``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import PoissonRegressionData, design_matrix
    >>> data = PoissonRegressionData.from_arrays(design_matrix([[0.5], [1.0]]), [2, 0])
    >>> data.XT.shape, data.stable
    ((2, 2), False)
    """

    X: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    XT: np.ndarray
    XX: np.ndarray | None
    stable: bool
    const: np.ndarray
    sum_const: float

    @classmethod
    def from_arrays(
        cls, X: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
    ) -> PoissonRegressionData:
        """Build from a design matrix, counts and an optional offset (not validated).

        Parameters
        ----------
        X : array-like of shape (n, q)
            Design matrix (see :func:`design_matrix`).
        y : array-like of shape (n,)
            Counts.
        offset : array-like of shape (n,), optional
            Offset ``log(exposure)``; zero by default.

        Returns
        -------
        PoissonRegressionData
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        off = np.ascontiguousarray(_offset(offset, len(y)))
        XT = np.ascontiguousarray(X.T)
        stable = bool(y.size and y.max() > STABLE_COUNTS)
        const = log_pmf_constant(y) if stable else -gammaln(y + 1.0)
        return cls(X, y, off, XT, _products(XT), stable, const, float(const.sum()))


def _e_step_t(log_weights: np.ndarray, log_prob_t: np.ndarray) -> tuple[np.ndarray, float]:
    """E-step on log-probabilities of shape (K, n); returns resp (K, n) and l.

    Overwrites ``log_prob_t``. Same result as :func:`emfit.em.e_step`, but reduces
    over the short first axis (much faster for large ``n``), and normalises the
    responsibilities by their sum, so that rows sum to one even when the
    log-probabilities are so large (``|log f| > 1e16``, absurd parameters) that
    ``log r = a - logsumexp(a)`` would lose ``log 2`` to round-off.
    """
    a = log_prob_t
    a += log_weights[:, None]
    m = a.max(axis=0)
    if not np.all(np.isfinite(m)):
        # Let the driver's E-step raise its diagnostic (zero density, NaN).
        e_step(log_weights, (a - log_weights[:, None]).T)
        raise FloatingPointError("non-finite log-likelihood.")  # pragma: no cover
    a -= m
    np.exp(a, out=a)
    total = a.sum(axis=0)
    a /= total
    np.log(total, out=total)
    total += m
    return a, float(total.sum())


class PoissonRegressionFamily(MixtureFamily):
    """Poisson-regression components for :func:`emfit.em.fit_em`.

    ``data`` is a :class:`PoissonRegressionData`; ``params`` is the coefficient
    array of shape ``(K, q)`` on the design matrix (row ``k`` is ``beta_k``).

    Parameters
    ----------
    m_step : {"newton", "gradient"}, default="newton"
        ``"newton"``: each component's weighted Poisson regression is solved by
        Newton/IRLS warm-started from the previous coefficients, with step halving
        (exact EM). ``"gradient"``: ``n_gradient_steps`` gradient-ascent steps with
        Armijo backtracking (generalised EM); much slower than Newton when the
        components have an intercept (badly conditioned steps; see
        :class:`PoissonRegressionMixture`). Both never decrease ``Q``, hence never
        decrease the log-likelihood.
    init : {"random", "residual"}, default="random"
        ``"random"``: responsibilities drawn from a flat Dirichlet distribution, then
        one M-step (weighted fits from the IRLS start). ``"residual"``
        (deterministic): fit one Poisson regression, sort the observations by Pearson
        residual, split them into ``K`` equal groups and fit each group.
    newton_tol : float, default=1e-10
        Stopping rule of the Newton iterations (see :func:`fit_weighted_poisson`).
    newton_max_iter : int, default=50
        Maximum number of Newton steps per component per M-step.
    n_gradient_steps : int, default=1
        Gradient steps per component per M-step (``m_step="gradient"``).

    Notes
    -----
    :meth:`em_step` is overridden: it computes the E-step on ``(K, n)`` arrays (fast
    reductions over the short axis) and reuses the E-step's linear predictors and
    means as the start of the Newton iterations. The result equals the default
    ``log_prob`` / ``e_step`` / ``m_step`` sequence up to round-off.
    A component whose responsibilities sum to (almost) zero keeps its coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import fit_em
    >>> from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(0, 2, 4000)
    >>> z = rng.random(4000) < 0.4
    >>> y = rng.poisson(np.exp(np.where(z, 1.0, 2.0) * x))
    >>> data = PoissonRegressionData.from_arrays(x[:, None], y)
    >>> fit = fit_em(data, PoissonRegressionFamily(), 2, random_state=0)
    >>> np.sort(fit.params.ravel()).round(1).tolist()
    [1.0, 2.0]
    """

    def __init__(
        self,
        m_step: str = "newton",
        init: str = "random",
        *,
        newton_tol: float = 1e-10,
        newton_max_iter: int = 50,
        n_gradient_steps: int = 1,
    ) -> None:
        if m_step not in M_STEPS:
            raise ValueError(f"m_step must be one of {M_STEPS}; got {m_step!r}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {init!r}.")
        self.m_step_method = m_step
        self.init = init
        self.newton_tol = check_positive_float(newton_tol, "newton_tol")
        self.newton_max_iter = check_positive_int(newton_max_iter, "newton_max_iter")
        self.n_gradient_steps = check_positive_int(n_gradient_steps, "n_gradient_steps")

    # ------------------------------------------------------------------ hooks
    @staticmethod
    def _log_prob_t(
        data: PoissonRegressionData, params: np.ndarray, *, with_factorial: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear predictors, means and log-probabilities, all of shape (K, n).

        With ``with_factorial=False`` the ``y``-only term ``data.const`` (the same
        for every component) is left out of the log-probabilities.
        """
        eta = _eta_t(data.XT, np.asarray(params, dtype=np.float64), data.offset)
        mu = np.exp(eta)
        lp = _kernel(data.y, eta, mu, data.stable)
        if with_factorial:
            lp += data.const
        return eta, mu, lp

    def log_prob(self, data: PoissonRegressionData, params: np.ndarray) -> np.ndarray:
        return self._log_prob_t(data, params)[2].T

    def _update(
        self,
        data: PoissonRegressionData,
        resp_t: np.ndarray,
        params: np.ndarray,
        eta: np.ndarray | None = None,
        mu: np.ndarray | None = None,
    ) -> np.ndarray:
        """M-step from responsibilities of shape (K, n)."""
        new = np.array(params, dtype=np.float64, copy=True)
        n_k = resp_t.sum(axis=1)
        for k in range(new.shape[0]):
            if not n_k[k] > 1e-12 * len(data.y):  # empty component: keep it
                continue
            eta_k = None if eta is None else eta[k]
            mu_k = None if mu is None else mu[k]
            new[k] = self._component_update(
                data, resp_t[k], new[k], eta_k, mu_k, method=self.m_step_method
            )
        return new

    def _component_update(
        self,
        data: PoissonRegressionData,
        w: np.ndarray,
        beta: np.ndarray,
        eta: np.ndarray | None = None,
        mu: np.ndarray | None = None,
        *,
        method: str,
    ) -> np.ndarray:
        """One component's weighted Poisson regression, from ``beta`` with weights ``w``:
        solved by Newton (``method="newton"``) or ``n_gradient_steps`` gradient steps."""
        args = (data.XT, data.y, data.offset, w, beta, eta, mu)
        if method == "newton":
            return _newton(
                *args,
                tol=self.newton_tol,
                max_iter=self.newton_max_iter,
                need_loglik=False,
                XX=data.XX,
                stable=data.stable,
            ).coef
        return _gradient_steps(
            *args, n_steps=self.n_gradient_steps, XX=data.XX, stable=data.stable
        ).coef

    def m_step(
        self, data: PoissonRegressionData, resp: np.ndarray, params: np.ndarray
    ) -> np.ndarray:
        return self._update(data, np.ascontiguousarray(np.asarray(resp).T), params)

    def em_step(
        self,
        data: PoissonRegressionData,
        log_weights: np.ndarray,
        params: np.ndarray,
        *,
        update: bool = True,
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        # The y-only term is common to all components: it cancels in the
        # responsibilities and enters the log-likelihood as a constant sum.
        eta, mu, lp = self._log_prob_t(data, params, with_factorial=False)
        resp_t, ll = _e_step_t(np.asarray(log_weights, dtype=np.float64), lp)
        ll += data.sum_const
        if not update:
            return ll, None, None
        return ll, resp_t.sum(axis=1), self._update(data, resp_t, params, eta, mu)

    def initialize(
        self, data: PoissonRegressionData, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(data.y)
        if self.init == "random":
            resp = rng.dirichlet(np.ones(n_components), size=n)
        else:
            fit = fit_weighted_poisson(data.X, data.y, data.offset)
            mu = np.exp(_eta_t(data.XT, fit.coef, data.offset))
            order = np.argsort((data.y - mu) / np.sqrt(mu), kind="stable")
            labels = np.empty(n, dtype=np.intp)
            labels[order] = np.arange(n) * n_components // n
            resp = np.zeros((n, n_components))
            resp[np.arange(n), labels] = 1.0
        coef = np.empty((n_components, data.X.shape[1]))
        for k in range(n_components):
            w = np.ascontiguousarray(resp[:, k])
            start = _irls_start(data.XT, data.y, data.offset, w)
            coef[k] = self._component_update(data, w, start, method="newton")
        weights = resp.mean(axis=0)
        return weights / weights.sum(), coef

    def n_samples(self, data: PoissonRegressionData) -> int:
        return int(data.y.shape[0])

    def n_parameters(self, params: np.ndarray) -> int:
        return int(np.size(params))


# ================================================================== inverse information
#: Relative eigenvalue bound (after diagonal scaling) below which the observed
#: information counts as singular in :meth:`PoissonRegressionMixture.standard_errors`.
_SINGULAR_RTOL = 1e-10
#: Loading on a singular direction above which a parameter counts as affected.
_LOADING_TOL = 1e-6


class _Directions(NamedTuple):
    """Singular / negative eigen-directions ``V`` of the scaled information, and the
    scale ``s`` (``info = S A S``, ``S = diag(s)``)."""

    V: np.ndarray
    s: np.ndarray


def _information_inverse(info: np.ndarray) -> tuple[np.ndarray, _Directions | None]:
    """Inverse of a positive definite observed information, with a check.

    Returns ``(inv(info), None)`` if ``info`` is positive definite and well
    conditioned after Jacobi scaling (``D^{-1/2} info D^{-1/2}``, ``D = diag(info)``,
    so that the check does not depend on the units of the covariates): every
    eigenvalue above ``_SINGULAR_RTOL`` times the largest. Otherwise warns
    (:class:`SingularInformationWarning`) and returns the pseudo-inverse on the good
    eigen-directions together with ``bad``, the singular or negative directions
    (columns, in the scaled coordinates; see :func:`_loads_on`).
    """
    P = info.shape[0]
    if not np.all(np.isfinite(info)):
        warnings.warn(
            "the observed information is not finite; standard errors are NaN.",
            SingularInformationWarning,
            stacklevel=3,
        )
        return np.full((P, P), np.nan), _Directions(np.eye(P), np.ones(P))
    d = np.diag(info)
    s = np.sqrt(np.where(d > 0, d, 1.0))
    A = info / s[:, None] / s[None, :]
    ev, V = np.linalg.eigh(0.5 * (A + A.T))
    tol = _SINGULAR_RTOL * max(float(np.abs(ev).max()), np.finfo(float).tiny)
    bad = ev <= tol
    if not bad.any():
        return np.linalg.inv(info), None
    rank = int((np.abs(ev) > tol).sum())
    if np.any(ev < -tol):
        msg = (
            f"the observed information is not positive definite (smallest scaled "
            f"eigenvalue {ev[0]:.3g}, largest {ev[-1]:.3g}): the fit is not at a local "
            "maximum (a saddle point, or EM has not converged)."
        )
    else:
        msg = (
            f"the observed information is singular (rank {rank} of {P}): some "
            "parameters are not identifiable from these data (e.g. too few distinct "
            "covariate values, equal components, a weight of 0 or 1), or the fit is "
            "not at a strict maximum."
        )
    warnings.warn(
        msg + " The standard errors of the affected parameters are NaN.",
        SingularInformationWarning,
        stacklevel=3,
    )
    good = ~bad
    cov = (V[:, good] / ev[good]) @ V[:, good].T / s[:, None] / s[None, :]
    return cov, _Directions(V[:, bad], s)


def _loads_on(bad: _Directions, C: np.ndarray) -> np.ndarray:
    """Which linear combinations (rows of ``C``) involve a bad direction.

    ``c^T theta`` is estimable iff ``c`` is orthogonal to the null space of the
    information, i.e. iff ``S^{-1} c`` is orthogonal to the scaled bad directions.
    """
    Cs = C / bad.s
    Cs = Cs / np.linalg.norm(Cs, axis=1, keepdims=True)
    return np.linalg.norm(Cs @ bad.V, axis=1) > _LOADING_TOL


# ================================================================== validation
def _check_offset(exposure: Any, n: int) -> np.ndarray:
    """``log(exposure)`` after validation; zeros if ``exposure`` is None."""
    if exposure is None:
        return np.zeros(n)
    return np.log(check_exposure(exposure, n))


# ================================================================== estimator
class PoissonRegressionMixture(MixtureEstimatorMixin, BaseEstimator):
    r"""Finite mixture of Poisson regressions fitted by EM.

    .. math::

        p(y_i \mid x_i) = \sum_{k=1}^K \pi_k \operatorname{Poisson}\big(y_i;\,
            e_i \exp(b_k + x_i^\top \beta_k)\big),

    with exposure ``e_i`` (offset ``log e_i``). With ``fit_intercept=False`` and no
    exposure this is the seed's model ``lambda_ki = exp(beta_k x_i)``.

    **Identifiability** (on a fixed design; see the book chapter "Identifiability").
    It always needs distinct components (``(b_j, beta_j) != (b_k, beta_k)``) and
    every weight in ``(0, 1)``, and holds at best up to a relabelling of the
    components. Which designs suffice, for one covariate:

    * without intercept (``lambda = exp(beta_k x)``), a single nonzero value of
      ``x`` suffices (identified up to labels iff ``0 < p < 1`` and
      ``beta_1 != beta_2``); observations with ``x = 0`` carry no information;
    * with intercepts, one distinct value of ``x`` never suffices; two distinct
      values fail when ``p = 1/2`` (the cross-paired lines give the same law) unless
      the two lines cross at a design point; three or more distinct values suffice
      (``0 < p < 1``, distinct lines).

    Fitted components are therefore returned in a **canonical order**: increasing intercept, ties broken
    by the first coefficient, then the second, ... (lexicographic order of the rows
    of ``[intercept_, coef_]``; without intercept, of ``coef_``).

    Parameters
    ----------
    n_components : int, default=2
        Number of components ``K``.
    fit_intercept : bool, default=True
        Give each component its own intercept ``b_k``. If False, ``intercept_`` is 0.
    m_step : {"newton", "gradient"}, default="newton"
        ``"newton"``: exact EM, each component's weighted Poisson regression solved
        by Newton/IRLS (warm-started, with step halving). ``"gradient"``:
        generalised EM, one gradient-ascent step with Armijo backtracking per
        component and iteration (slow; for teaching). It can be much slower than
        Newton when the components have an intercept: the intercept and slope
        directions are badly conditioned (one step of length
        ``1 / lambda_max`` barely moves along the flat direction). On the patent
        data (:func:`emfit.datasets.load_patents`, ``K = 2``, ``x = lgRD``) it takes
        about 100 times as many iterations as Newton, ~45x the run time (as
        measured for the book; 20x-45x depending on the start and the machine).
        Without intercept the two are about as fast. The log-likelihood never
        decreases with either.
    tol : float, default=1e-10
        Stop when the relative change of the total log-likelihood is at most ``tol``.
    max_iter : int, default=1000
        Maximum number of EM iterations per restart.
    n_init : int, default=1
        Number of restarts; the best is kept (the first of those tied to
        :data:`emfit.em.RESTART_TIE_RTOL`).
    init : {"random", "residual"}, default="random"
        ``"random"``: flat-Dirichlet random responsibilities, then an M-step.
        ``"residual"``: deterministic, from the Pearson residuals of a one-component
        fit split into ``K`` quantile groups (every restart is then the same).
        Ignored when ``weights_init`` and the initial coefficients are all given.
    weights_init : array-like of shape (K,), optional
        Initial mixing weights.
    coef_init : array-like of shape (K, n_features), optional
        Initial slopes. If given, the start is ``(intercept_init or 0, coef_init)``.
    intercept_init : array-like of shape (K,), optional
        Initial intercepts (only with ``fit_intercept=True`` and ``coef_init``).
    random_state : None, int or numpy.random.Generator
        Seed of the initialisation.

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
        Mixing weights.
    intercept_ : ndarray of shape (K,)
        Intercepts (zeros if ``fit_intercept=False``).
    coef_ : ndarray of shape (K, n_features)
        Slopes.
    loglik_ : float
        Total log-likelihood of the training data at the fitted parameters.
    history_ : ndarray, one entry per iteration (``n_iter_`` entries)
        Log-likelihood after each EM iteration (``history_[-1] == loglik_``).
    n_iter_ : int
        Number of EM iterations of the best restart.
    converged_ : bool
        Whether the best restart met the stopping rule.
    restarts_ : list of RestartResult
        Final log-likelihood, iterations and convergence of every restart.
    n_features_in_ : int
        Number of covariates seen in :meth:`fit`.

    Notes
    -----
    Linear predictors are clipped to ``[-ETA_MAX, ETA_MAX]`` (``ETA_MAX = 300``) so
    that ``exp`` never overflows; log-probabilities are computed without
    cancellation (see the module docstring), so huge counts (``y ~ 1e9``) are fine.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import PoissonRegressionMixture
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 2, size=(5000, 1))
    >>> z = rng.random(5000) < 0.3
    >>> y = rng.poisson(np.exp(np.where(z, 1.0, 2.0) * x[:, 0]))
    >>> model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(x, y)
    >>> model.coef_.round(1).ravel().tolist(), model.weights_.round(1).tolist()
    ([1.0, 2.0], [0.3, 0.7])
    """

    _fitted_attribute = "coef_"
    _fit_call = "fit(X, y)"

    def __init__(
        self,
        n_components: int = 2,
        *,
        fit_intercept: bool = True,
        m_step: str = "newton",
        tol: float = 1e-10,
        max_iter: int = 1000,
        n_init: int = 1,
        init: str = "random",
        weights_init: ArrayLike | None = None,
        coef_init: ArrayLike | None = None,
        intercept_init: ArrayLike | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.m_step = m_step
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init = init
        self.weights_init = weights_init
        self.coef_init = coef_init
        self.intercept_init = intercept_init
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _validate(
        self, X: Any, y: Any | None, exposure: Any, *, fitting: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        X = check_array(X, name="X", ndim=2)
        if not fitting:
            self._check_fitted()
            self._check_features(X)
        n = X.shape[0]
        y_arr = None if y is None else check_counts(y, "y", n)
        return X, y_arr, _check_offset(exposure, n)

    def _design(
        self, X: Any, y: Any | None, exposure: Any
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Design matrix, counts and offset of new data, validated for the fitted model."""
        X, y_arr, offset = self._validate(X, y, exposure)
        return design_matrix(X, self.fit_intercept), y_arr, offset

    def _full_coef(self) -> np.ndarray:
        if self.fit_intercept:
            return np.column_stack([self.intercept_, self.coef_])
        return self.coef_

    def _split_intercept(self, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`_full_coef`: ``(intercepts, slopes)`` from a (K, q) array
        on the design matrix (intercepts 0 when ``fit_intercept=False``)."""
        if self.fit_intercept:
            return full[:, 0].copy(), full[:, 1:].copy()
        return np.zeros(full.shape[0]), full.copy()

    def _theta(self) -> tuple[np.ndarray, np.ndarray]:
        return self.weights_, self._full_coef()

    def _initial_params(self, p: int) -> np.ndarray | None:
        K = self.n_components
        if self.coef_init is None:
            if self.intercept_init is not None:
                raise ValueError("intercept_init needs coef_init as well.")
            return None
        coef = check_array(self.coef_init, name="coef_init", ndim=2)
        if coef.shape != (K, p):
            raise ValueError(f"coef_init must have shape ({K}, {p}); got {coef.shape}.")
        if not self.fit_intercept:
            if self.intercept_init is not None:
                raise ValueError("intercept_init is only used with fit_intercept=True.")
            return coef.copy()
        if self.intercept_init is None:
            b = np.zeros(K)
        else:
            b = check_array(self.intercept_init, name="intercept_init", ndim=1)
            if b.shape != (K,):
                raise ValueError(f"intercept_init must have shape ({K},); got {b.shape}.")
        return np.column_stack([b, coef])

    # ------------------------------------------------------------------ fit
    def fit(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None
    ) -> PoissonRegressionMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Covariates (2-d; use ``x.reshape(-1, 1)`` for one covariate).
        y : array-like of shape (n_samples,)
            Non-negative integer counts.
        exposure : array-like of shape (n_samples,), optional
            Positive exposures; ``log(exposure)`` enters as an offset.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On invalid input, naming the argument.
        """
        X, y_arr, offset = self._validate(X, y, exposure, fitting=True)
        K = check_positive_int(self.n_components, "n_components")
        if self.m_step not in M_STEPS:
            raise ValueError(f"m_step must be one of {M_STEPS}; got {self.m_step!r}.")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}.")
        data = PoissonRegressionData.from_arrays(
            design_matrix(X, self.fit_intercept), y_arr, offset
        )
        family = PoissonRegressionFamily(m_step=self.m_step, init=self.init)
        params_init = self._initial_params(X.shape[1])
        # The loop is made of many small matrix-vector products: BLAS threads only
        # cost synchronisation (and are very slow on a busy machine), as in
        # scikit-learn's KMeans.
        with threadpool_limits(limits=1, user_api="blas"):
            fit = self._fit_em(
                data, family, K, weights_init=self.weights_init, params_init=params_init
            )
        coef = np.asarray(fit.params)
        order = canonical_order(coef)
        self._set_fit_result(fit, order)
        self.intercept_, self.coef_ = self._split_intercept(coef[order])
        self.n_features_in_ = X.shape[1]
        return self

    # ------------------------------------------------------------------ inference
    def _log_joint(self, Z: np.ndarray, y: np.ndarray, offset: np.ndarray) -> np.ndarray:
        return component_log_prob(self._full_coef(), Z, y, offset) + self._log_weights()

    def score_samples(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None
    ) -> np.ndarray:
        """Log-likelihood of each sample, ``log p(y_i | x_i)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return logsumexp_rows(self._log_joint(*self._design(X, y, exposure)))

    def score(self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None) -> float:
        """Mean log-likelihood per sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        return super().score(X, y, exposure)

    def predict_proba(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None
    ) -> np.ndarray:
        """Posterior component probabilities (responsibilities) ``P(z_i = k | x_i, y_i)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Rows sum to one; columns in the canonical component order.
        """
        return _softmax_rows(self._log_joint(*self._design(X, y, exposure)))

    def predict(self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None) -> np.ndarray:
        """Most probable component of each sample (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,), dtype int
        """
        return super().predict(X, y, exposure)

    def predict_mean(self, X: ArrayLike, exposure: ArrayLike | None = None) -> np.ndarray:
        """Mixture mean ``E[y | x] = sum_k pi_k e exp(b_k + x^T beta_k)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        Z, _, off = self._design(X, None, exposure)
        return np.exp(_eta(Z, self._full_coef().T, off)) @ self.weights_

    def _n_component_parameters(self) -> int:
        return self._full_coef().size

    def bic(self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None) -> float:
        """Bayesian information criterion ``-2 l + P log n`` (lower is better).

        ``P = (K - 1) + K (n_features + fit_intercept)`` free parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        return super().bic(X, y, exposure)

    def aic(self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None) -> float:
        """Akaike information criterion ``-2 l + 2 P`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        return super().aic(X, y, exposure)

    def sample(
        self, X: ArrayLike, exposure: ArrayLike | None = None, random_state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one count per row of ``X`` from the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        exposure : array-like of shape (n_samples,), optional
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype int64
            Simulated counts.
        labels : ndarray of shape (n_samples,), dtype int
            Component of each draw.
        """
        Z, _, off = self._design(X, None, exposure)
        n = Z.shape[0]
        rng = check_random_state(random_state)
        labels = rng.choice(self.n_components, size=n, p=self.weights_)
        eta = _eta(Z, self._full_coef().T, off)[np.arange(n), labels]
        return rng.poisson(np.exp(eta)).astype(np.int64), labels

    # ------------------------------------------------------------------ information
    def observed_information(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        method: str = "hessian",
    ) -> np.ndarray:
        """Observed information at the fitted parameters (flat free parameters).

        The parameter order is ``(pi_1, ..., pi_{K-1}, [b_1,] beta_1, ...,
        [b_K,] beta_K)`` in the canonical component order (see
        :func:`observed_information` and the module docstring).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional
        method : {"hessian", "louis"}, default="hessian"

        Returns
        -------
        ndarray of shape (P, P)
        """
        Z, y_arr, off = self._design(X, y, exposure)
        return observed_information(self._theta(), Z, y_arr, off, method=method)

    def information_parts(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Complete-data and missing information at the fitted parameters (Louis 1982).

        Same parameter order as :meth:`observed_information`, which equals
        ``complete - missing`` (its ``method="louis"`` route). See
        :func:`complete_information` and :func:`missing_information`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional

        Returns
        -------
        complete : ndarray of shape (P, P)
        missing : ndarray of shape (P, P)
        """
        Z, y_arr, off = self._design(X, y, exposure)
        p = _pieces(self._theta(), Z, y_arr, off)
        return _louis_parts(p, Z, y_arr)

    def standard_errors(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        method: str = "hessian",
    ) -> dict[str, np.ndarray]:
        """Standard errors from the observed information at the fitted parameters.

        The covariance of the free parameters ``(pi_1..pi_{K-1}, [b_k, beta_k]_k)`` is
        the inverse observed information (:meth:`observed_information`); the
        standard error of ``pi_K = 1 - sum_{j<K} pi_j`` follows by the delta method
        (exactly, as the map is linear): ``Var(pi_K) = 1^T Cov(pi_1..pi_{K-1}) 1``.
        Unlike the standard errors of the M-step's weighted regressions, these
        account for the uncertainty of the component memberships.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training covariates.
        y : array-like of shape (n_samples,)
            The training counts.
        exposure : array-like of shape (n_samples,), optional
        method : {"hessian", "louis"}, default="hessian"
            Route to the observed information.

        Returns
        -------
        dict
            ``"weights"`` (K,), ``"intercept"`` (K,) and ``"coef"`` (K, n_features),
            shaped like the fitted attributes. The intercept entries are 0 when
            ``fit_intercept=False`` (the intercept is fixed, not estimated).

        Warns
        -----
        SingularInformationWarning
            If the observed information is singular (after scaling by its diagonal,
            an eigenvalue ``<= 1e-10`` times the largest: the parameters are not
            identifiable from these data, e.g. an intercept and a slope when every
            ``x_i`` is equal, or the fit is not at a strict maximum) or not positive
            definite (a saddle point, or EM has not converged). The standard errors
            of the parameters involved in the singular or negative directions are
            then NaN; the others come from the pseudo-inverse of the information
            (an identified parameter's variance does not depend on the
            non-identified ones).
        """
        info = self.observed_information(X, y, exposure, method=method)
        K, q = self._full_coef().shape
        m = K - 1
        P = info.shape[0]
        cov, bad = _information_inverse(info)
        if bad is None:  # positive definite: the plain inverse
            var = np.diag(cov).copy()
            cov_pi = cov[:m, :m]
            var_last = float(cov_pi.sum()) if m else 0.0
        else:
            # Standard errors only of the parameters (and of pi_K = 1 - sum pi_j)
            # that are orthogonal to the singular / negative directions.
            var = np.diag(cov).copy()
            var[_loads_on(bad, np.eye(P))] = np.nan
            c = np.zeros(P)
            c[:m] = 1.0
            var_last = float(c @ cov @ c) if m else 0.0
            if m and _loads_on(bad, c[None, :])[0]:
                var_last = np.nan
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.where(var >= 0, var, np.nan))
            se_w = np.append(se[:m], np.sqrt(var_last) if var_last >= 0 else np.nan)
        se_b, se_c = self._split_intercept(se[m:].reshape(K, q))
        return {"weights": se_w, "intercept": se_b, "coef": se_c}
