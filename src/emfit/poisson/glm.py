r"""Weighted Poisson regression of one component: the M-step solver.

One component's part of the EM function ``Q`` is a Poisson GLM log-likelihood with
observation weights ``w_i = r_ik`` (:func:`weighted_poisson_loglik`, with its gradient
and Hessian). It is maximised by Newton/IRLS with step halving
(:func:`fit_weighted_poisson`; exact EM) or by gradient ascent with Armijo
backtracking (:func:`gradient_ascent_poisson`; generalised EM).

The private solvers ``_newton`` and ``_gradient_steps``, which the EM loop calls, work
on the transposed design matrix ``DT`` of shape (q, n). The linear algebra
(``_solve_pd``, ``_gram_rows``, ``_symmetric``) knows nothing of the Poisson family;
the family enters through the objective ``_objective``, the mean ``mu = exp(eta)``
(log link) and the working weights ``w mu`` (variance equal to the mean) of
``_score_information``.

Speed (the EM loop calls these solvers for every component at every iteration): one
``exp`` per evaluation of the objective, whose ``mu`` then serves the next gradient
and Hessian; the gradient and the Hessian as one matrix product against the rows
precomputed by ``_gram_rows``; the working arrays of length n kept from one call to
the next (``_Scratch``), as fresh large arrays cost page faults at every iteration.
"""

from __future__ import annotations

import functools
import itertools
import threading
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
#: pairwise products of the columns (so that a gradient and a Hessian are one matrix
#: product).
_MAX_Q_PRODUCTS = 4


@functools.cache
def _triu(q: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(q)``, computed once per ``q`` (do not modify)."""
    return np.triu_indices(q)


class _Gram(NamedTuple):
    """The rows that give ``D^T v`` and ``D^T diag(v) D`` in one product ``G @ v``.

    ``G`` holds the distinct rows among the rows ``DT[i]`` of the transposed design
    and their products ``DT[i] * DT[j]`` (``i <= j``, upper triangle order); ``index``
    says where each of these ``q + q (q + 1) / 2`` rows is in ``G``. With an
    intercept, its products repeat ``DT``: ``(1, x)`` needs the rows ``1, x, x^2``.
    """

    G: np.ndarray  # (r, n), C-contiguous
    index: np.ndarray  # (q + q (q + 1) / 2,)


def _gram_rows(DT: np.ndarray) -> _Gram | None:
    """:class:`_Gram` of the transposed design ``DT`` (q, n); None if q is big."""
    q, n = DT.shape
    if q > _MAX_Q_PRODUCTS:
        return None
    iu, ju = _triu(q)
    G = np.empty((q + iu.size, n))
    index = np.empty(q + iu.size, dtype=np.intp)
    r = 0  # rows of G kept so far
    for row, (i, j) in enumerate(itertools.chain(((i, -1) for i in range(q)), zip(iu, ju))):
        if j < 0:
            G[r] = DT[i]
        else:
            np.multiply(DT[i], DT[j], out=G[r])
        same = (s for s in range(r) if _equal_rows(G[s], G[r]))
        index[row] = next(same, r)
        r += index[row] == r
    return _Gram(G[:r], index)  # the rows beyond r were never touched: no memory


def _equal_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal(a, b)``, with an early answer for most unequal rows."""
    return bool(np.array_equal(a[:64], b[:64]) and np.array_equal(a, b))


def _symmetric(h: np.ndarray, q: int) -> np.ndarray:
    """The symmetric (q, q) matrix whose upper triangle, row by row, is ``h``."""
    H = np.empty((q, q))
    iu, ju = _triu(q)
    H[iu, ju] = h
    H[ju, iu] = h
    return H


def _score_information(
    DT: np.ndarray,
    wy: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    V: np.ndarray,
    gram: _Gram | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient ``g = D^T W (y - mu)`` and negative Hessian ``H = D^T W diag(mu) D``.

    ``wy = w * y``; ``V`` (2, n) is scratch, left holding ``w mu`` and ``w (y - mu)``;
    with ``gram`` (:func:`_gram_rows`) both come from one product ``G @ V^T``.
    """
    wmu, wr = V
    np.multiply(w, mu, out=wmu)
    np.subtract(wy, wmu, out=wr)
    if gram is None:
        return DT @ wr, _times_transpose(DT * wmu, DT)
    q = DT.shape[0]
    M = _times_transpose(gram.G, V)  # column 0: against w mu, column 1: against w (y - mu)
    return M[gram.index[:q], 1], _symmetric(M[gram.index[q:], 0], q)


#: Columns per block of :func:`_times_transpose`: the blocks of both operands (a few
#: rows of 2^17 float64 each) stay in the cache.
_BLOCK = 2**17


def _times_transpose(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B.T`` for two short, wide matrices, summed over blocks of columns.

    Out of the cache, one product copies (packs) its long operands before reading them,
    and takes twice as long as the same product block by block.
    """
    n = A.shape[1]
    M = A[:, :_BLOCK] @ B[:, :_BLOCK].T
    for start in range(_BLOCK, n, _BLOCK):
        M += A[:, start : start + _BLOCK] @ B[:, start : start + _BLOCK].T
    return M


class _Scratch:
    """Named float64 arrays reused from one call to the next (one set per thread).

    The EM iteration needs a few arrays of length n; allocated afresh at every
    iteration, each costs page faults (the allocator hands large blocks back to the
    system), which cost more than the arithmetic. A copy (pickle) starts empty.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        arrays = self._local.__dict__
        a = arrays.get(name)
        if a is None or a.shape != shape:
            a = arrays[name] = np.empty(shape)
        return a

    def __reduce__(self) -> tuple[type, tuple]:
        return (_Scratch, ())


def _weighted_arrays(
    D: ArrayLike, y: ArrayLike, offset: ArrayLike | None, sample_weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(DT, y, offset, sample_weight)`` as the solvers take them: the transposed design
    matrix (q, n), float counts, the offset (None: zero) and the observation weights
    (1 by default)."""
    DT = np.ascontiguousarray(np.asarray(D, dtype=np.float64).T)
    y = np.asarray(y, dtype=np.float64)
    off = None if offset is None else _offset(offset, len(y))
    return DT, y, off, _weights(sample_weight, len(y))


def _irls_start(
    DT: np.ndarray, y: np.ndarray, offset: np.ndarray | None, w: np.ndarray
) -> np.ndarray:
    """Textbook IRLS start: one weighted least-squares step from ``mu = (y + ybar) / 2``."""
    sw = w.sum()
    ybar = (w @ y) / sw if sw > 0 else y.mean()
    mu0 = 0.5 * (y + max(ybar, 1e-8))
    z = np.log(mu0)
    if offset is not None:
        z -= offset
    ww = w * mu0
    H = (DT * ww) @ DT.T
    return _solve_pd(H, DT @ (ww * z))


def _objective(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None,
    w: np.ndarray,
    beta: np.ndarray,
    stable: bool,
    eta: np.ndarray | None = None,
    mu: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """``(mu, L)`` at ``beta``: the mean ``mu = exp(eta)`` of the clipped linear
    predictor ``eta`` and the objective ``L = sum w (y eta - exp(eta))`` of
    :func:`_newton` and :func:`_gradient_steps`, computed by :func:`_log_prob_kernel`
    (``stable`` chooses the form, so ``L`` leaves out the ``y``-only terms). One
    ``exp``; ``eta`` and ``mu``, if given, are the arrays written to (``eta`` is left
    holding the kernel)."""
    eta = _eta_t(DT, beta, offset, out=eta)
    mu = np.exp(eta, out=mu)
    return mu, float(w @ _log_prob_kernel(y, eta, mu, stable, out=eta))


def _newton(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None,
    w: np.ndarray,
    beta: np.ndarray,
    mu: np.ndarray | None = None,
    L: float | None = None,
    *,
    tol: float,
    max_iter: int,
    need_loglik: bool = True,
    gram: _Gram | None = None,
    stable: bool = True,
    scratch: _Scratch | None = None,
) -> WeightedPoissonFit:
    """Newton/IRLS with step halving on ``sum w (y eta - exp(eta))``.

    ``DT`` is the transposed design matrix (q, n); ``offset=None`` is a zero offset.
    ``mu = exp(eta)`` at ``beta`` and the objective ``L`` there (as
    :func:`_objective` computes it) may be passed, as the E-step knows them: the first
    Newton step then needs no ``exp``. A step is accepted only if it does not
    decrease the objective (step halving, at most 60 halvings); the objective at the
    accepted point, and its ``mu``, are those of the next step. Iterations stop when
    the Newton decrement ``g^T H^{-1} g`` is below ``tol * (1 + |L|)``, after taking
    that last (tiny) step, whose change of ``L`` is below round-off. With
    ``need_loglik=False`` the returned ``loglik`` may be NaN (saves an ``exp`` in the
    EM loop). ``gram`` (from :func:`_gram_rows`) makes the gradient and the Hessian
    one matrix product; ``scratch`` (a :class:`_Scratch`) holds the working arrays
    from one call to the next. The objective is computed by :func:`_log_prob_kernel`
    (``stable`` chooses the form), so ``loglik`` leaves out the ``y``-only terms.
    """
    n = y.size
    scratch = _Scratch() if scratch is None else scratch
    eta, V = scratch("newton_eta", (n,)), scratch("newton_V", (2, n))
    mus = scratch("newton_mu", (2, n))  # trial means, alternately, never the caller's mu
    if mu is None or L is None:
        mu, L = _objective(DT, y, offset, w, beta, stable, eta, mus[1])
    wy = np.multiply(w, y, out=scratch("newton_wy", (n,)))
    n_iter = 0
    converged = False
    at_beta = True  # L (and mu) are the objective at beta
    trial = 0
    for _ in range(max_iter):
        g, H = _score_information(DT, wy, w, mu, V, gram)
        delta = _solve_pd(H, g)
        dec = float(g @ delta)
        if not np.isfinite(dec):
            break
        if dec <= tol * (1.0 + abs(L)):
            beta = beta + delta
            n_iter += 1
            converged = True
            at_beta = False
            break
        t = 1.0
        for _ in range(60):
            beta_new = beta + t * delta
            mu_new, L_new = _objective(DT, y, offset, w, beta_new, stable, eta, mus[trial])
            if L_new >= L:
                break
            t *= 0.5
        else:  # no ascent step found: at the maximum up to round-off
            converged = True
            break
        beta, mu, L = beta_new, mu_new, L_new
        trial = 1 - trial  # the next trials write the other row: mu stays
        n_iter += 1
    if not at_beta:  # the last step was taken without re-evaluating L
        if need_loglik:
            L = _objective(DT, y, offset, w, beta, stable, eta, mus[trial])[1]
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
    res = _newton(
        DT, y, off, w, beta, tol=tol, max_iter=max_iter, need_loglik=False, gram=_gram_rows(DT)
    )
    return res._replace(loglik=weighted_poisson_loglik(res.coef, D, y, off, w))


def _gradient_steps(
    DT: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None,
    w: np.ndarray,
    beta: np.ndarray,
    mu: np.ndarray | None = None,
    L: float | None = None,
    *,
    n_steps: int,
    armijo: float = 1e-4,
    gram: _Gram | None = None,
    stable: bool = True,
    scratch: _Scratch | None = None,
) -> WeightedPoissonFit:
    """Gradient ascent with Armijo backtracking on ``sum w (y eta - exp(eta))``.

    Arguments and the objective as in :func:`_newton`.
    """
    n = y.size
    scratch = _Scratch() if scratch is None else scratch
    eta, V = scratch("newton_eta", (n,)), scratch("newton_V", (2, n))
    mus = scratch("newton_mu", (2, n))
    if mu is None or L is None:
        mu, L = _objective(DT, y, offset, w, beta, stable, eta, mus[1])
    wy = np.multiply(w, y, out=scratch("newton_wy", (n,)))
    n_iter = 0
    trial = 0
    for _ in range(n_steps):
        g, H = _score_information(DT, wy, w, mu, V, gram)
        gg = float(g @ g)
        if not gg > 0:
            break
        # Initial step 1 / (largest eigenvalue of the negative Hessian): the step of
        # a quadratic with this curvature; then halve until the Armijo condition holds.
        lam_max = np.linalg.eigvalsh(H)[-1]
        t = 1.0 / lam_max if lam_max > 0 else 1.0
        for _ in range(60):
            beta_new = beta + t * g
            mu_new, L_new = _objective(DT, y, offset, w, beta_new, stable, eta, mus[trial])
            if L_new >= L + armijo * t * gg:
                break
            t *= 0.5
        else:
            break
        beta, mu, L = beta_new, mu_new, L_new
        trial = 1 - trial
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
