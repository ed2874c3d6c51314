"""Gaussian mixtures: the Gaussian family for the EM driver and an estimator.

Two layers:

* :class:`GaussianFamily` implements the :class:`~emfit.em.MixtureFamily` hooks for
  five covariance structures (``"full"``, ``"tied"``, ``"diag"``, ``"spherical"`` and
  ``"fixed"``). It overrides the optional fused hook :meth:`GaussianFamily.em_step`
  with a blocked computation: rows are processed in cache-sized blocks (spread over
  the cores by a small thread pool, each running BLAS on one thread, results reduced
  in block order so they do not depend on the number of threads). A block works on
  ``y = x - m``, ``m`` the mean of the current means, and all ``K`` log-densities
  come from matrix products: ``(x - mu_k) L_k`` for every ``k`` (full, tied; only
  the triangle of ``L_k`` is multiplied), or ``[y, y^2, 1] @ B`` (diag, spherical)
  while a bound on its round-off allows, else exact differences ``x - mu_k`` (as
  always for fixed). The sufficient statistics about ``m`` are accumulated in the
  same pass from the same arrays (one triangle of each scatter), and any component
  whose covariance would lose more than four digits to the
  ``E[(x-m)(x-m)'] - (mu-m)(mu-m)'`` subtraction gets its scatter recomputed from
  data centred at its new mean (for diag and spherical, that mean corrected first).
* :class:`GaussianMixture` is the scikit-learn style estimator that calls
  :func:`emfit.em.fit_em` with that family.

Parametrisation follows scikit-learn: the shapes of ``covariances`` and
``precisions_cholesky`` are, for ``K`` components and ``d`` features,

============  ==================  =================================================
type          covariances         meaning
============  ==================  =================================================
full          (K, d, d)           one covariance matrix per component
tied          (d, d)              one covariance matrix shared by all components
diag          (K, d)              diagonal covariance per component
spherical     (K,)                ``sigma_k^2 I`` per component
fixed         (K,)                ``variance * I`` for every component; not estimated
============  ==================  =================================================

``precisions_cholesky`` is the Cholesky factor ``L`` of the precision
``Sigma^{-1} = L L'`` (upper triangular for full/tied, ``1/sqrt`` of the variances
otherwise), so ``log|Sigma^{-1}|^{1/2} = sum(log(diag(L)))`` and the Mahalanobis
distance is ``||(x - mu) L||^2``.

**The "fixed" model.** With ``covariance_type="fixed"`` every component is ``N(mu_k, variance * I)`` and only
the weights and means are estimated: the model whose ``variance -> 0`` limit is
k-means. It is computed in log space from ``log(variance)`` and the exact squared
distances ``D_ik = ||x_i - mu_k||^2``, with the nearest-mean distance
``D_i = min_k D_ik`` taken out before dividing by the variance::

    log pi_k f(x_i | mu_k) = c - D_i / (2 variance) - (D_ik - D_i) / (2 variance) + log pi_k

The second fraction is ``>= 0`` and may overflow to ``inf`` harmlessly (its
exponential is 0), so **responsibilities are always finite and, as variance -> 0,
equal the nearest-mean indicator**, for every ``variance > 0`` down to the smallest
subnormal. The log-likelihood ``l = n c + sum_i lse_i - W / (2 variance)``, with
``W = sum_i D_i`` the k-means objective, is finite whenever it is representable in
float64, i.e. when ``W / (2 variance) < 1.7e308`` (for ``variance = 1e-300``: ``W``
below about ``3.6e8``). Beyond that the log-likelihood is ``-inf`` in float64 and
:meth:`GaussianMixture.fit` raises a :class:`ValueError` telling the user to scale
the data or increase ``variance``; ``predict`` and ``predict_proba`` still work.

**Degenerate fits.** The Gaussian mixture likelihood is unbounded: a component whose
covariance collapses onto a point (or onto a lower-dimensional subspace holding a
few observations) drives it to ``+inf``. With ``reg_covar=0`` EM can end at such a
spike, where the log-likelihood is huge and its value is decided by round-off. A
fitted component is *degenerate* when, in units of the data's per-feature
variances, the smallest eigenvalue of its covariance is below
:data:`DEGENERATE_RTOL` (``r``) times the larger of its largest eigenvalue and
``r``: numerically singular (condition number above ``1/r``), or collapsed onto a
point (spread below ``r^2`` of the data's). For ``"diag"`` the eigenvalues are the
variances, ``"spherical"`` compares its variance with the mean data variance,
``"tied"`` checks the shared matrix, and ``"fixed"`` never degenerates (its variance
is not estimated). :meth:`GaussianFamily.degeneracy` applies this rule; the EM
driver uses it to set such restarts aside. The rule is relative to each
component's own largest eigenvalue rather than to the spread of all the data, so
tight, far-apart clusters (spread ``1``, ``1e7`` apart) are not degenerate.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg
from scipy.linalg.lapack import dtrtri as _dtrtri
from sklearn.base import BaseEstimator, DensityMixin
from threadpoolctl import ThreadpoolController

from ._base import MixtureEstimatorMixin, shared_docstrings
from ._validation import (
    check_array,
    check_feature_names,
    check_positive_float,
    check_positive_int,
    check_random_state,
    feature_labels,
    summary_frame,
)
from .em import EMFit, MixtureFamily, normalise_block

__all__ = [
    "COVARIANCE_TYPES",
    "DEGENERATE_RTOL",
    "GaussianFamily",
    "GaussianMixture",
    "GaussianParams",
    "compute_precision_cholesky",
    "estimate_gaussian_parameters",
    "gaussian_log_prob",
    "kmeans_plusplus",
]

#: The covariance structures understood by :class:`GaussianFamily`.
COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical", "fixed")

#: A fitted component is degenerate (numerically singular) when, with its covariance
#: measured in units of the data's per-feature variances, its smallest eigenvalue is
#: below ``DEGENERATE_RTOL`` times the larger of its largest eigenvalue and
#: ``DEGENERATE_RTOL``: a condition number above ``1e10`` (a spread under ``1e-5`` of
#: the component's own in some direction), or every eigenvalue below ``1e-20`` of the
#: data variance (collapsed onto a point); see :meth:`GaussianFamily.degeneracy`.
#: ``1e-10`` is six orders of magnitude above the relative round-off of a float64
#: variance (about ``1e-16``), so a covariance that is singular up to round-off is
#: caught, and far below the shape of any real cluster: such a component is not an
#: estimate of a cluster but a spike on a few (near-)coincident or coplanar points.
DEGENERATE_RTOL: float = 1e-10

_LOG_2PI = float(np.log(2.0 * np.pi))
# Added to the soft counts N_k so an empty component gives finite (if meaningless)
# means instead of 0/0; the same convention as scikit-learn.
_NK_EPS = 10.0 * np.finfo(np.float64).eps
# Target size of one block temporary (bytes); keeps the E-step working set in L2.
_BLOCK_BYTES = 1 << 20
# diag and spherical E-step by the expansion sum_j p_j (y_j - m_j)^2 = p.y^2 - 2 (p m).y
# + p.m^2 (one matrix product) only while its terms are below this bound; see
# _EStepConstants.expansion_is_accurate.
_MAX_EXPANSION = 1e4
# At most this many threads work on blocks of rows.
_MAX_WORKERS = 4

class _CollapsedCovarianceError(ValueError, FloatingPointError):
    """A component's covariance is not positive definite.

    A ``ValueError`` for whoever calls :func:`compute_precision_cholesky`; also a
    ``FloatingPointError``, which is what the EM driver (:func:`emfit.em.fit_em`) sets
    a restart aside for, so one collapsing restart does not end the other restarts.
    """


_COLLAPSE_MSG = (
    "Fitting the Gaussian mixture failed: the covariance of component(s) {ks} is not "
    "positive definite (a component collapsed onto too few, or identical, points). "
    "Increase reg_covar, scale the data, or use fewer components."
)


@dataclass
class GaussianParams:
    """Component parameters of a Gaussian mixture (not the weights).

    Attributes
    ----------
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shape by covariance type, see the module docstring.
    precisions_cholesky : ndarray
        Same shape as ``covariances``; Cholesky factor of the precision.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import GaussianParams
    >>> p = GaussianParams(np.zeros((2, 1)), np.ones(2), np.ones(2))  # spherical, K=2, d=1
    >>> p.means.shape
    (2, 1)
    """

    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


# ======================================================================= numerics
def _block_rows(n_cols: int) -> int:
    """Rows per block so that a (rows, n_cols) float64 temporary is ~1 MiB."""
    return int(np.clip(_BLOCK_BYTES // (8 * max(n_cols, 1)), 256, 16384))


def _n_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, _MAX_WORKERS))


_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_KEY: tuple[int, int] = (0, 0)  # (pid, workers) the pool was made for
_EXECUTOR_LOCK = threading.Lock()
_BLAS: ThreadpoolController | None = None


def _executor(workers: int) -> ThreadPoolExecutor:
    """A shared thread pool; a new one after ``os.fork`` (the old threads are gone)."""
    global _EXECUTOR, _EXECUTOR_KEY
    key = (os.getpid(), workers)
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None or _EXECUTOR_KEY != key:
            _EXECUTOR = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emfit")
            _EXECUTOR_KEY = key
        return _EXECUTOR


def _single_threaded_blas():
    """Context manager: BLAS on one thread (our blocks are too small to split)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


_SCRATCH = threading.local()


def _scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A C-contiguous work array of ``shape`` (contents undefined), one per thread and
    name, reused from block to block so that no block allocates (or page-faults) it."""
    size = math.prod(shape)
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    buf = buffers.get(name)
    if buf is None or buf.size < size:
        buf = buffers[name] = np.empty(size)
    return buf[:size].reshape(shape)


def _on_one_blas_thread(fn: Callable) -> Callable:
    """Decorator: run ``fn`` with BLAS on one thread.

    For the per-iteration and per-fit calls on small matrices (``K`` Cholesky
    factors of ``d x d`` covariances, ``K x d`` products): waking BLAS threads for
    them costs far more than the work, by milliseconds on a loaded machine.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


def _sum_in_order(parts: list[np.ndarray]) -> np.ndarray:
    """Sum of arrays in list order (deterministic, whatever the thread count)."""
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _map_blocks(fn: Callable[[int, int], Any], n: int, rows: int) -> list[Any]:
    """``[fn(start, stop) for each block of rows]``, in block order.

    Blocks are dealt round-robin to up to ``_n_workers()`` threads (NumPy and BLAS
    release the GIL), each running BLAS single-threaded; results come back in block
    order so that reductions over them are deterministic.
    """
    starts = list(range(0, n, rows))
    workers = min(_n_workers(), len(starts) // 4)
    with _single_threaded_blas():
        if workers <= 1:
            return [fn(s, min(s + rows, n)) for s in starts]

        def run(chunk: list[int]) -> list[Any]:
            return [fn(s, min(s + rows, n)) for s in chunk]

        futures = [_executor(workers).submit(run, starts[w::workers]) for w in range(workers)]
        per_worker = [f.result() for f in futures]
    out: list[Any] = [None] * len(starts)
    for w, res in enumerate(per_worker):
        out[w::workers] = res
    return out


def compute_precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factor of the precision from covariances.

    Parameters
    ----------
    covariances : ndarray
        ``(K, d, d)`` for full, ``(d, d)`` for tied, ``(K, d)`` for diag, ``(K,)`` for
        spherical and fixed.
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}

    Returns
    -------
    ndarray of the same shape
        ``L`` upper triangular with ``inv(Sigma) = L @ L.T`` (full, tied), or
        ``1 / sqrt(sigma^2)`` (diag, spherical, fixed).

    Raises
    ------
    ValueError
        If a covariance is not positive definite; the message tells the user to
        increase ``reg_covar`` or scale the data. The error is also a
        ``FloatingPointError``, so that EM sets such a restart aside and goes on with
        the others.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import compute_precision_cholesky
    >>> compute_precision_cholesky(np.array([[[4.0, 0.0], [0.0, 1.0]]]), "full")[0].tolist()
    [[0.5, 0.0], [0.0, 1.0]]
    """
    if covariance_type in ("full", "tied"):
        covs = np.asarray(covariances, dtype=np.float64)
        covs = covs[None] if covariance_type == "tied" else covs
        out = np.zeros_like(covs)
        # Once per iteration on (K, d, d): one batched Cholesky and K triangular
        # inverses, with BLAS on one thread (waking its threads for a d x d problem
        # costs more than the problem, by far on a loaded machine).
        with _single_threaded_blas():
            try:
                chols = np.linalg.cholesky(covs)  # lower, C = chol chol'
            except np.linalg.LinAlgError:  # find the failing ones
                chols = np.full_like(covs, np.nan)
                for k, cov in enumerate(covs):
                    try:
                        chols[k] = np.linalg.cholesky(cov)
                    except np.linalg.LinAlgError:
                        pass
            diagonals = np.diagonal(chols, axis1=1, axis2=2)
            ok = np.isfinite(chols).all(axis=(1, 2)) & (diagonals > 0).all(axis=1)
            bad = np.flatnonzero(~ok).tolist()
            for k in np.flatnonzero(ok):
                inverse, _ = _dtrtri(chols[k], lower=1)  # a positive diagonal: invertible
                out[k] = inverse.T  # upper triangular, inv(C) = out out'
            out += 0.0  # -0.0 (from -0 * x in the inverse) prints as 0.0
        if bad:
            raise _CollapsedCovarianceError(
                _COLLAPSE_MSG.format(ks=bad if covariance_type == "full" else "(tied)")
            )
        return out[0] if covariance_type == "tied" else out
    if covariance_type in ("diag", "spherical", "fixed"):
        ok = (covariances > 0) & np.isfinite(covariances)
        if not np.all(ok):
            bad = ~ok if ok.ndim == 1 else ~ok.all(axis=1)
            raise _CollapsedCovarianceError(_COLLAPSE_MSG.format(ks=np.flatnonzero(bad).tolist()))
        return 1.0 / np.sqrt(covariances)
    raise ValueError(f"unknown covariance_type {covariance_type!r}")


def _log_det_precision_cholesky(params: GaussianParams, covariance_type: str, d: int):
    """``log det(L_k)`` per component, shape (K,) (``0.5 log det`` of the precision)."""
    pc = params.precisions_cholesky
    K = params.means.shape[0]
    if covariance_type == "full":
        return np.log(np.diagonal(pc, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.full(K, np.log(np.diag(pc)).sum())
    if covariance_type == "diag":
        return np.log(pc).sum(axis=1)
    if covariance_type == "spherical":
        return d * np.log(pc)
    # fixed: from the variance itself, exact for any variance > 0.
    return -0.5 * d * np.log(params.covariances)


def _feature_chunks(d: int) -> list[tuple[int, int]]:
    """Consecutive ranges of features, about 4 wide (at most 8 of them).

    A triangular factor or a symmetric scatter needs only the entries on one side of
    its diagonal: split in ``c`` ranges of rows, each range's matrix product covers
    that side plus its own diagonal block, about ``(1 + 1/c) / 2`` of the full product.
    """
    c = int(np.clip(d // 4, 1, 8))
    bounds = np.linspace(0, d, c + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


class _EStepConstants:
    """Per-parameter quantities of the E-step, computed once per pass over the data.

    Block results are laid out component-major, shape ``(K, rows)``, so that the
    reductions over components are vectorised over rows. Every block works about the
    mean of the means ``c``, on ``y = x - c`` laid out feature-major, shape
    ``(features, rows)``: the E-step's matrix products then produce ``(K, rows)``
    directly, and the same array gives the statistics of the M-step.
    """

    def __init__(self, params: GaussianParams, covariance_type: str, log_weights: np.ndarray):
        means = np.asarray(params.means, dtype=np.float64)
        K, d = means.shape
        self.K, self.d = K, d
        self.kind = covariance_type
        self.means = means
        self.center = means.mean(axis=0)
        logdet = _log_det_precision_cholesky(params, covariance_type, d)
        # constant part of log pi_k f_k, as a column for (K, rows) blocks
        self.const = (np.asarray(log_weights, dtype=np.float64) + logdet - 0.5 * d * _LOG_2PI)[
            :, None
        ]
        pc = params.precisions_cholesky
        if covariance_type in ("full", "tied"):
            L = np.broadcast_to(pc, (K, d, d)) if covariance_type == "tied" else pc
            # AT @ [y_d, ..., y_1, 1]' = ((x - c) L_k - (mu_k - c) L_k)' for all k in
            # one product (y = x - c, features in reverse order): row (j, k) of AT
            # holds column j of L_k, reversed, then -((mu_k - c) L_k)_j. Centring at c
            # (the mean of the means) keeps offset data accurate, and the constant
            # comes last, so that (x - c) L_k - (mu_k - c) L_k is exactly 0 at x = mu_k
            # for a diagonal L_k (a collapsing component keeps its spike).
            AT = np.empty((d, K, d + 1))
            AT[:, :, :d] = L.transpose(2, 0, 1)[:, :, ::-1]
            AT[:, :, d] = -np.einsum("kd,kde->ek", means - self.center, L)
            self.chunks = _feature_chunks(d)
            if np.any(np.tril(L, -1)):  # not triangular: every entry of L counts
                self.chunks = [(0, d)]
            # Entry j of (x - mu_k) L_k only involves x_1..x_j (L_k upper triangular):
            # the rows j0 <= j < j1 of AT need only the last j1 + 1 of [y_d, ..., y_1, 1].
            self.AT_chunks = [
                np.ascontiguousarray(AT[j0:j1, :, d - j1 :].reshape((j1 - j0) * K, j1 + 1))
                for j0, j1 in self.chunks
            ]
            # -1/2 times the sum of squares over the d entries of each component
            self.half = np.full((1, d), -0.5)
        elif covariance_type in ("diag", "spherical"):
            p = pc**2 if covariance_type == "diag" else np.repeat((pc**2)[:, None], d, axis=1)
            m = means - self.center
            # -1/2 sum_j p_kj (y_j - m_kj)^2 + const_k = B_k . [y; y^2; 1]
            B = np.empty((K, 2 * d + 1))
            B[:, :d] = p * m
            B[:, d : 2 * d] = -0.5 * p
            B[:, 2 * d] = self.const[:, 0] - 0.5 * np.sum(p * m * m, axis=1)
            self.B = B
            # the round-off bound of expansion_is_accurate: q . max_i y_i^2 <= budget
            self.q = 2.0 * p.max(axis=0)
            self.budget = _MAX_EXPANSION - 2.0 * np.max(np.sum(p * m * m, axis=1))
            self.prec = (pc**2)[:, :, None] if covariance_type == "diag" else (pc**2)[:, None]
        elif covariance_type == "fixed":
            self.two_var = 2.0 * float(params.covariances[0])
        self.ones = np.ones((d, 1))
        # Rows per block, by the largest temporaries (sizes measured best here): for
        # full and tied (K d, rows), about 1.5 MiB; for diag and spherical
        # (2 d + 1 + K, rows) in all, about 1 MiB; for fixed (K, rows, d), 1 MiB.
        if covariance_type in ("full", "tied"):
            self.block = _block_rows(2 * K * d // 3)
        elif covariance_type in ("diag", "spherical"):
            self.block = _block_rows(2 * d + 1 + K)
        else:
            self.block = _block_rows(K * d)

    def rows_per_task(self, n: int) -> int:
        """Rows of one task of :func:`_map_blocks` for ``n`` rows of data.

        For full and tied covariances up to 4 blocks (their products block by block,
        the rest in one go), while there are at least 16 tasks: each task then makes
        fewer NumPy calls, so the threads wait less for each other's Python-level work
        (the GIL); one block otherwise (measured no faster). A function of ``n`` and
        the parameters' shapes only, so the sums do not depend on the number of threads.
        """
        if self.kind not in ("full", "tied"):
            return self.block
        return self.block * int(np.clip(n // (16 * self.block), 1, 4))

    def sub_blocks(self, rows: int) -> list[tuple[int, int]]:
        """``(start, stop)`` of the blocks of a task of ``rows`` rows."""
        return [(s, min(s + self.block, rows)) for s in range(0, rows, self.block)]

    def expansion_is_accurate(self, y2T: np.ndarray) -> bool:
        """Whether the expanded diag/spherical E-step is accurate on this block.

        With ``y = x - c`` and ``m_k = mu_k - c``, the terms of ``B_k . [y; y^2; 1]``
        add up to at most ``S/2 + |const_k|`` in magnitude, where ``S = max_k sum_j
        p_kj (max_i |y_ij| + |m_kj|)^2 <= sum_j q_j max_i y_ij^2 + 2 max_k sum_j p_kj
        m_kj^2`` with ``q_j = 2 max_k p_kj``; so its round-off is ``O(d eps S)``:
        below ``1e-11`` (and near ``1e-15`` relative to ``l``) while the bound is at
        most ``_MAX_EXPANSION``. Far-apart or very narrow components exceed it, and
        the block is computed from the exact differences ``x - mu_k`` instead.
        ``y2T`` holds ``y**2``, shape (d, rows).
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(self.q @ y2T.max(axis=1) <= self.budget)

    def block_log_prob(self, Xb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, Any]:
        """``log pi_k + log f(x_i | theta_k)`` for a block of rows, shape (K, rows).

        Returns ``(lpT, dmin, work)``. For ``"fixed"``, ``lpT`` omits the per-row term
        ``-dmin_i / (2 variance)`` (see the module docstring); otherwise ``dmin`` is
        None. ``work`` is reused by the fused sufficient statistics: ``[y_d, ..., y_1,
        1]'``, shape (d + 1, rows), for full/tied; ``[y; y**2; 1]``, shape (2 d + 1, rows),
        for diag and spherical; ``y``, shape (d, rows), for fixed (``y = x - c``).
        ``lpT`` and ``work`` are this thread's scratch arrays, overwritten by its next
        block.
        """
        kind = self.kind
        rows = Xb.shape[0]
        K, d = self.K, self.d
        if kind in ("full", "tied"):
            XaT = _scratch("XaT", (d + 1, rows))  # [y_d, ..., y_1, 1]'
            np.subtract(Xb.T[::-1], self.center[::-1, None], out=XaT[:d])
            XaT[d] = 1.0
            lpT = _scratch("lp", (K, rows))
            for s0, s1 in self.sub_blocks(rows):  # (K d, rows) temporaries stay in cache
                Y = _scratch("Y", (d * K, s1 - s0))  # rows (j, k): ((x - mu_k) L_k)_j
                for (j0, j1), A in zip(self.chunks, self.AT_chunks):
                    np.matmul(A, XaT[d - j1 :, s0:s1], out=Y[j0 * K : j1 * K])
                np.multiply(Y, Y, out=Y)
                half_distance = _scratch("dist", (1, K * (s1 - s0)))
                np.matmul(self.half, Y.reshape(d, -1), out=half_distance)  # -Mahalanobis / 2
                np.add(half_distance.reshape(K, -1), self.const, out=lpT[:, s0:s1])
            return lpT, None, XaT
        if kind in ("diag", "spherical"):
            QT = _scratch("QT", (2 * d + 1, rows))  # [y; y**2; 1]
            QT[2 * d] = 1.0
            lpT = _scratch("lp", (K, rows))
            for s0, s1 in self.sub_blocks(rows):
                yT, y2T = QT[:d, s0:s1], QT[d : 2 * d, s0:s1]
                np.subtract(Xb[s0:s1].T, self.center[:, None], out=yT)
                np.multiply(yT, yT, out=y2T)
                if self.expansion_is_accurate(y2T):
                    np.matmul(self.B, QT[:, s0:s1], out=lpT[:, s0:s1])
                else:
                    lpT[:, s0:s1] = self._exact_log_prob(Xb[s0:s1])[0]
            return lpT, None, QT
        QT = _scratch("QT", (d, rows))  # fixed: y
        np.subtract(Xb.T, self.center[:, None], out=QT)
        sqT, dmin = self._exact_log_prob(Xb)
        return sqT, dmin, QT

    def _exact_log_prob(self, Xb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """diag, spherical, fixed: ``(lpT, dmin)`` from the differences ``x - mu_k``.

        Exact differences to every mean: no cancellation, so far-apart clusters and
        narrow components keep full accuracy.
        """
        kind = self.kind
        D = Xb[None, :, :] - self.means[:, None, :]  # (K, rows, d)
        D2 = D * D
        if kind == "diag":
            sqT = np.matmul(D2, self.prec)[:, :, 0]
        else:  # row sums by a matrix product: much faster than sum(axis=2) for small d
            sqT = np.matmul(D2, self.ones)[:, :, 0]
            if kind == "spherical":
                sqT *= self.prec
        if kind == "fixed":
            dmin = sqT.min(axis=0)
            sqT -= dmin
            with np.errstate(over="ignore"):
                sqT /= self.two_var
            np.negative(sqT, out=sqT)
            sqT += self.const
            return sqT, dmin
        sqT *= -0.5
        sqT += self.const
        return sqT, None


# Sufficient statistics computed inside the E-pass, from the block the E-step has in
# cache anyway, for these covariance types (tied uses its own exact M-step).
_FUSED_STATS = ("full", "diag", "spherical", "fixed")


def _e_pass(
    X: np.ndarray,
    log_weights: np.ndarray,
    params: GaussianParams,
    covariance_type: str,
    *,
    want_resp: bool,
    want_samples: bool = False,
    want_stats: bool = False,
) -> tuple[float, np.ndarray | None, np.ndarray | None, Any]:
    """Blocked E-step.

    Returns ``(loglik, respT, samples, stats)``: the total log-likelihood, the
    responsibilities transposed, shape (K, n) (if ``want_resp``), the per-sample
    log-likelihoods (if ``want_samples``), and (if ``want_stats``; full, diag,
    spherical, fixed) the sufficient statistics about the reference point ``m``, the
    mean of the current means (shape (1, d), the same for every component)::

        (m, sum_i r_ik, sum_i r_ik (x_i - m), second)

    with ``second = sum_i r_ik (x_i - m)(x_i - m)'`` (full), ``sum_i r_ik
    (x_i - m)**2`` (diag, spherical) or None (fixed). Block partial sums are added
    in block order, so the result does not depend on the number of worker threads.
    """
    n = X.shape[0]
    log_weights = np.asarray(log_weights, dtype=np.float64)
    per_row = log_weights.ndim == 2  # concomitant weights: one row per observation
    lwT = np.ascontiguousarray(log_weights.T) if per_row else None
    prep = _EStepConstants(
        params, covariance_type, np.zeros(log_weights.shape[1]) if per_row else log_weights
    )
    K, d = prep.K, prep.d
    respT = np.empty((K, n)) if want_resp else None
    samples = np.empty(n) if want_samples else None
    fixed = covariance_type == "fixed"
    if want_stats and covariance_type not in _FUSED_STATS:
        raise ValueError(f"no fused statistics for covariance_type={covariance_type!r}")

    def block(start: int, stop: int) -> tuple[float, float, Any]:
        lpT, dmin, work = prep.block_log_prob(X[start:stop])
        if per_row:
            lpT += lwT[:, start:stop]
        norm = normalise_block(lpT, start)  # lpT now holds the responsibilities
        if want_resp:
            respT[:, start:stop] = lpT
        if want_samples:
            if fixed:
                with np.errstate(over="ignore"):
                    samples[start:stop] = norm - dmin / prep.two_var
            else:
                samples[start:stop] = norm
        stats = None
        if want_stats and covariance_type == "full":
            # Products give every component's weighted scatter and sum: rows (a, k) of
            # W hold r_ik y_ia, and W @ [y_d, ..., y_1, 1] has entries sum_i r_ik y_ia
            # y_ib and sum_i r_ik y_ia (y = x - c). The scatter is symmetric: each range
            # of rows a0 <= a < a1 needs only the columns b < a1.
            XaT = work
            products = []  # per block, per range of features
            for s0, s1 in prep.sub_blocks(stop - start):
                W = _scratch("Y", (d, K, s1 - s0))  # the E-step's Y is no longer needed
                np.multiply(XaT[d - 1 :: -1, None, s0:s1], lpT[None, :, s0:s1], out=W)
                products.append(
                    [
                        np.matmul(W[a0:a1].reshape((a1 - a0) * K, -1), XaT[d - a1 :, s0:s1].T)
                        for a0, a1 in prep.chunks
                    ]
                )
            stats = (lpT.sum(axis=1), products)
        elif want_stats:
            # R @ [y; y**2]': sums of r_ik y_ij (and of r_ik y_ij**2), shape (K, d or 2 d)
            stats = (lpT.sum(axis=1), [[lpT @ work[: d if fixed else 2 * d].T]])
        return float(norm.sum()), (float(dmin.sum()) if fixed else 0.0), stats

    parts = _map_blocks(block, n, prep.rows_per_task(n))
    total = float(np.sum([p[0] for p in parts]))
    if fixed:
        dmin_total = float(np.sum([p[1] for p in parts]))
        with np.errstate(over="ignore"):
            total -= dmin_total / prep.two_var
    stats = None
    if want_stats:
        nk = _sum_in_order([p[2][0] for p in parts])
        blocks = [b for p in parts for b in p[2][1]]  # in order: tasks, then their blocks
        products = [_sum_in_order([b[c] for b in blocks]) for c in range(len(blocks[0]))]
        if covariance_type == "full":
            sx, second = np.empty((K, d)), np.empty((K, d, d))
            for (a0, a1), M in zip(prep.chunks, products):
                M = M.reshape(a1 - a0, K, a1 + 1)  # columns b = a1 - 1, ..., 0, then sx
                sx[:, a0:a1] = M[:, :, a1].T
                second[:, a0:a1, :a1] = M[:, :, a1 - 1 :: -1].transpose(1, 0, 2)
            # the computed side of the diagonal, mirrored: exactly symmetric
            second = np.tril(second) + np.tril(second, -1).transpose(0, 2, 1)
        else:
            sx, second = products[0][:, :d], (None if fixed else products[0][:, d:])
        stats = (prep.center[None, :], nk, sx, second)
    return total, respT, samples, stats


# A covariance computed as E_k[(x - m)(x - m)'] - (mu_k - m)(mu_k - m)', m a reference
# point, loses about log10(ratio) digits, ratio = E_k[(x_j - m_j)^2] / Sigma_jj (at most
# 1 + (mu_k - m)' Sigma_k^{-1} (mu_k - m)). Above this ratio the component is
# recomputed exactly from data centred at its new mean (<= ~1e-12 relative error).
_MAX_CANCELLATION = 1e4


class _ExactPasses:
    """Exact second passes over the data for :func:`_m_step_from_stats`, in memory.

    A component whose covariance the subtraction would cancel is recomputed from the
    data: its weighted offsets from a mean and its scatter about it. ``X`` (n, d) and
    the responsibilities ``respT`` (K, n) of the E-step that gave the statistics; the
    Dask path (:mod:`emfit.distributed`) supplies the same three passes over chunks.
    """

    def __init__(self, X: np.ndarray, respT: np.ndarray) -> None:
        self.X, self.respT = X, respT

    def offsets(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return _weighted_offsets(self.X, self.respT, means, components)

    def full_scatter(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return _full_scatter(self.X, self.respT, means, components)

    def diag_scatter(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return _diag_scatter(self.X, self.respT, means, components)


def _m_step_from_stats(
    stats: Any,
    reg_covar: float,
    covariance_type: str,
    variance: float | None,
    exact: _ExactPasses,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step from the statistics fused into the E-pass (full, diag, spherical, fixed);
    ``exact`` recomputes the components the subtraction would cancel."""
    ref, nk, sx, second = stats
    nk = nk + _NK_EPS
    delta = sx / nk[:, None]  # mu_k - m_k
    means = ref + delta
    K, d = means.shape
    if covariance_type == "fixed":
        return nk, means, np.full(K, float(variance))
    if covariance_type == "full":
        raw = second / nk[:, None, None]  # E_k[(x - m)(x - m)']
        raw = 0.5 * (raw + raw.transpose(0, 2, 1))  # exactly symmetric
        covs = raw - delta[:, :, None] * delta[:, None, :]
        raw_diag = np.diagonal(raw, axis1=1, axis2=2)
        cov_diag = np.diagonal(covs, axis1=1, axis2=2)
        bad = np.flatnonzero(np.any(~(cov_diag * _MAX_CANCELLATION > raw_diag), axis=1))
        if bad.size:
            covs[bad] = exact.full_scatter(means, bad) / nk[bad, None, None]
        idx = np.arange(d)
        covs[:, idx, idx] += reg_covar
        return nk, means, covs
    raw = second / nk[:, None]  # E_k[(x - m)^2]
    var = raw - delta * delta
    bad = np.flatnonzero(np.any(~(var * _MAX_CANCELLATION > raw), axis=1))
    if bad.size:  # exactly: the mean (so points all at x give x), the scatter about it
        means[bad] += exact.offsets(means, bad) / nk[bad, None]
        var[bad] = exact.diag_scatter(means, bad) / nk[bad, None]
    var += reg_covar
    if covariance_type == "spherical":
        var = var.mean(axis=1)
    return nk, means, var


def _weighted_offsets(
    X: np.ndarray, respT: np.ndarray, means: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """``sum_i r_ik (x_i - mu_k)`` for the given components, shape (len, d).

    Zero for the exact weighted mean; ``mu_k + (this) / N_k`` corrects a mean computed
    about a distant reference point to full accuracy: exactly ``x`` when every
    weighted point is ``x``, so that the variances of a component collapsed onto
    identical points are exactly 0 (an error with ``reg_covar=0``).
    """
    n, d = X.shape

    def block(start: int, stop: int) -> np.ndarray:
        Xb = X[start:stop]
        acc = np.empty((len(components), d))
        for j, k in enumerate(components):
            np.matmul(respT[k, start:stop], Xb - means[k], out=acc[j])
        return acc

    return _sum_in_order(_map_blocks(block, n, _block_rows(d * 4)))


def _full_scatter(
    X: np.ndarray, respT: np.ndarray, means: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """``sum_i r_ik (x_i - mu_k)(x_i - mu_k)'`` for the given components, exactly."""
    n, d = X.shape

    def block(start: int, stop: int) -> np.ndarray:
        Xb = X[start:stop]
        sr = np.sqrt(respT[:, start:stop])
        S = np.empty((len(components), d, d))
        for j, k in enumerate(components):
            W = Xb - means[k]
            W *= sr[k][:, None]
            np.matmul(W.T, W, out=S[j])  # symmetric rank-rows update
        return S

    return _sum_in_order(_map_blocks(block, n, _block_rows(d * 4)))


def _diag_scatter(
    X: np.ndarray, respT: np.ndarray, means: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """``sum_i r_ik (x_i - mu_k)**2`` for the given components, shape (len, d)."""
    n, d = X.shape

    def block(start: int, stop: int) -> np.ndarray:
        Xb = X[start:stop]
        acc = np.empty((len(components), d))
        for j, k in enumerate(components):
            D = Xb - means[k]
            np.multiply(D, D, out=D)
            np.matmul(respT[k, start:stop], D, out=acc[j])
        return acc

    return _sum_in_order(_map_blocks(block, n, _block_rows(d * 4)))


def _tied_scatter(X: np.ndarray, respT: np.ndarray, means: np.ndarray) -> np.ndarray:
    """``sum_k sum_i r_ik (x_i - mu_k)(x_i - mu_k)'`` without cancellation.

    Equal to ``sum_i (x_i - m_i)(x_i - m_i)' + sum_{k<l} G_kl (mu_k - mu_l)(mu_k - mu_l)'``
    with ``m_i = sum_k r_ik mu_k`` and ``G = R'R``: a sum of PSD terms.
    """
    n, d = X.shape
    K = means.shape[0]

    def block(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        Rb = respT[:, start:stop]
        D = X[start:stop] - Rb.T @ means
        return D.T @ D, Rb @ Rb.T

    parts = _map_blocks(block, n, _block_rows(d * 4))
    cov = _sum_in_order([p[0] for p in parts])
    G = _sum_in_order([p[1] for p in parts])
    for k in range(K):
        for m in range(k + 1, K):
            delta = means[k] - means[m]
            cov += G[k, m] * np.outer(delta, delta)
    return cov


def estimate_gaussian_parameters(
    X: np.ndarray,
    resp: np.ndarray,
    reg_covar: float,
    covariance_type: str,
    variance: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted maximum-likelihood estimates of the Gaussian component parameters.

    Scatter matrices are accumulated in blocks, in float64, from data centred at the
    new means (full, diag, spherical) or through an exact cancellation-free
    decomposition (tied).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    resp : ndarray of shape (n_samples, n_components)
        Responsibilities (rows sum to one).
    reg_covar : float
        Added to the diagonal of each covariance (to each variance for diag and
        spherical). Not used for ``"fixed"``.
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}
    variance : float, optional
        The fixed variance (only for ``"fixed"``).

    Returns
    -------
    nk : ndarray of shape (n_components,)
        Soft counts ``sum_i r_ik`` (plus ``10 eps``, so an empty component stays finite).
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shape by covariance type.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import estimate_gaussian_parameters
    >>> X = np.array([[0.0], [2.0], [10.0], [12.0]])
    >>> resp = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    >>> nk, means, covs = estimate_gaussian_parameters(X, resp, 0.0, "diag")
    >>> means.ravel().round(6).tolist(), covs.ravel().round(6).tolist()
    ([1.0, 11.0], [1.0, 1.0])
    """
    return _estimate_parameters_T(X, np.asarray(resp).T, reg_covar, covariance_type, variance)


def _estimate_parameters_T(
    X: np.ndarray,
    respT: np.ndarray,
    reg_covar: float,
    covariance_type: str,
    variance: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`estimate_gaussian_parameters` from transposed responsibilities (K, n)."""
    _n, d = X.shape
    K = respT.shape[0]
    nk = respT.sum(axis=1) + _NK_EPS
    means = (respT @ X) / nk[:, None]
    idx = np.arange(d)
    all_k = np.arange(K)
    if covariance_type == "fixed":
        return nk, means, np.full(K, float(variance))
    if covariance_type == "full":
        covs = _full_scatter(X, respT, means, all_k) / nk[:, None, None]
        covs[:, idx, idx] += reg_covar
        return nk, means, covs
    if covariance_type == "tied":
        cov = _tied_scatter(X, respT, means) / nk.sum()
        cov[idx, idx] += reg_covar
        return nk, means, cov
    if covariance_type in ("diag", "spherical"):
        var = _diag_scatter(X, respT, means, all_k) / nk[:, None]
        var += reg_covar
        if covariance_type == "spherical":
            var = var.mean(axis=1)
        return nk, means, var
    raise ValueError(f"unknown covariance_type {covariance_type!r}")


def gaussian_log_prob(X: np.ndarray, params: GaussianParams, covariance_type: str) -> np.ndarray:
    """Log densities ``log N(x_i | mu_k, Sigma_k)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    params : GaussianParams
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}

    Returns
    -------
    ndarray of shape (n_samples, n_components)
        For ``"fixed"`` with a tiny variance, entries may be ``-inf`` (float64
        overflow of ``||x - mu||^2 / variance``); responsibilities computed by
        :class:`GaussianMixture` avoid this.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import GaussianParams, gaussian_log_prob
    >>> p = GaussianParams(np.zeros((1, 1)), np.ones(1), np.ones(1))
    >>> round(float(gaussian_log_prob(np.zeros((1, 1)), p, "spherical")[0, 0]), 6)
    -0.918939
    """
    K = params.means.shape[0]
    prep = _EStepConstants(params, covariance_type, np.zeros(K))
    out = np.empty((X.shape[0], K))
    for start in range(0, X.shape[0], prep.block):
        lpT, dmin, _ = prep.block_log_prob(X[start : start + prep.block])
        if dmin is not None:
            with np.errstate(over="ignore"):
                lpT -= dmin / prep.two_var
        out[start : start + prep.block] = lpT.T
    return out


def kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Seeding of k-means++ (Arthur and Vassilvitskii, 2007).

    The first centre is a uniformly drawn row; each next one is a row drawn with
    probability proportional to its squared distance to the nearest centre chosen
    so far (uniformly if all distances are zero).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_clusters : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_clusters,), dtype int
        Row indices of the centres.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import kmeans_plusplus
    >>> X = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> idx = kmeans_plusplus(X, 2, np.random.default_rng(0))
    >>> sorted((X[idx, 0] > 5).tolist())
    [False, True]
    """
    n = X.shape[0]
    idx = np.empty(n_clusters, dtype=np.intp)
    idx[0] = rng.integers(n)
    diff = X - X[idx[0]]
    dist = np.einsum("ij,ij->i", diff, diff)
    for j in range(1, n_clusters):
        total = dist.sum()
        if total > 0 and np.isfinite(total):
            c = rng.random() * total
            pick = int(np.searchsorted(np.cumsum(dist), c, side="right"))
            pick = min(pick, n - 1)
            while dist[pick] == 0 and pick > 0:  # never pick a chosen (zero) point
                pick -= 1
        else:
            pick = int(rng.integers(n))
        idx[j] = pick
        diff = X - X[pick]
        np.minimum(dist, np.einsum("ij,ij->i", diff, diff), out=dist)
    return idx


# ======================================================================= family
class GaussianFamily(MixtureFamily[GaussianParams]):
    """Multivariate Gaussian components for :func:`emfit.em.fit_em`.

    Parameters
    ----------
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}, default="full"
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated covariance.
    variance : float, optional
        The fixed variance of ``"fixed"`` (required there, ignored otherwise).
    init_params : {"kmeans++", "random"}, default="kmeans++"
        Initial responsibilities: hard assignment to k-means++ seeds, or uniform
        random numbers normalised per row.
    means_init : ndarray of shape (n_components, n_features), optional
        Overrides the initial means.
    precisions_cholesky_init : ndarray, optional
        Overrides the initial precisions (Cholesky factors, shape by type).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import fit_em
    >>> from emfit.gaussian import GaussianFamily
    >>> X = np.r_[np.random.default_rng(0).normal(size=(50, 2)), np.full((50, 2), 5.0)]
    >>> fit = fit_em(X, GaussianFamily("spherical"), 2, random_state=0)
    >>> np.sort(fit.params.means[:, 0]).round(0).tolist() == [0.0, 5.0]
    True
    """

    def __init__(
        self,
        covariance_type: str = "full",
        reg_covar: float = 1e-6,
        variance: float | None = None,
        init_params: str = "kmeans++",
        means_init: np.ndarray | None = None,
        precisions_cholesky_init: np.ndarray | None = None,
    ) -> None:
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {COVARIANCE_TYPES}; got {covariance_type!r}."
            )
        if covariance_type == "fixed":
            if variance is None:
                raise ValueError("variance must be given when covariance_type='fixed'.")
            variance = check_positive_float(variance, "variance")
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.variance = variance
        # Adding reg_covar to the diagonal is scikit-learn's M-step, but not the
        # maximiser of Q: the log-likelihood may then drop slightly (see emfit.em).
        self.exact_m_step = reg_covar == 0 or covariance_type == "fixed"
        self.init_params = init_params
        self.means_init = means_init
        self.precisions_cholesky_init = precisions_cholesky_init

    # ---- hooks
    def log_prob(self, data: np.ndarray, params: GaussianParams) -> np.ndarray:
        """``log N(x_i | mu_k, Sigma_k)``, shape (n_samples, n_components)."""
        return gaussian_log_prob(data, params, self.covariance_type)

    def m_step(self, data: np.ndarray, resp: np.ndarray, params: GaussianParams) -> GaussianParams:
        """Weighted MLE of means and covariances (plus ``reg_covar``)."""
        _, means, covs = estimate_gaussian_parameters(
            data, resp, self.reg_covar, self.covariance_type, self.variance
        )
        return GaussianParams(means, covs, compute_precision_cholesky(covs, self.covariance_type))

    @_on_one_blas_thread
    def initialize(
        self, data: np.ndarray, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, GaussianParams]:
        """Initial weights and parameters from k-means++ or random responsibilities."""
        X = data
        n = X.shape[0]
        if self.init_params == "kmeans++":
            centres = X[kmeans_plusplus(X, n_components, rng)]
            D = np.empty((n, n_components))
            for k in range(n_components):
                diff = X - centres[k]
                D[:, k] = np.einsum("ij,ij->i", diff, diff)
            resp = np.zeros((n, n_components))
            resp[np.arange(n), D.argmin(axis=1)] = 1.0
        elif self.init_params == "random":
            resp = rng.uniform(size=(n, n_components))
            resp /= resp.sum(axis=1, keepdims=True)
        else:
            raise ValueError(
                f"init_params must be 'kmeans++' or 'random'; got {self.init_params!r}."
            )
        nk, means, covs = _estimate_parameters_T(
            X, resp.T, self.reg_covar, self.covariance_type, self.variance
        )
        weights = nk / n
        if self.means_init is not None:
            means = np.array(self.means_init, dtype=np.float64)
        if self.precisions_cholesky_init is not None:
            pc = np.array(self.precisions_cholesky_init, dtype=np.float64)
            covs = _covariances_from_precisions_cholesky(pc, self.covariance_type)
        else:
            pc = compute_precision_cholesky(covs, self.covariance_type)
        return weights, GaussianParams(means, covs, pc)

    def n_parameters(self, params: GaussianParams) -> int:
        """Free parameters of means and covariances."""
        K, d = params.means.shape
        cov = {
            "full": K * d * (d + 1) // 2,
            "tied": d * (d + 1) // 2,
            "diag": K * d,
            "spherical": K,
            "fixed": 0,
        }[self.covariance_type]
        return int(cov + K * d)

    #: What to change when every restart is degenerate (the end of the error message).
    degeneracy_hint: str = "increase reg_covar, scale the data, or fit fewer components"

    @_on_one_blas_thread
    def degeneracy(
        self, data: np.ndarray, weights: np.ndarray, params: GaussianParams
    ) -> str | None:
        """Why the fitted components are degenerate (a singular covariance), or None.

        The rule of :data:`DEGENERATE_RTOL` (``r = 1e-10``): measured in units of the
        data's per-feature variances (the covariance ``C = D^-1/2 Sigma_k D^-1/2``,
        ``D`` the diagonal of the data variances), a component is degenerate when
        its smallest eigenvalue is below ``r`` times the larger of its largest
        eigenvalue and ``r``. That is, when the covariance is numerically singular
        (condition number above ``1/r``: the component lies in a subspace), or
        collapsed onto a point (every eigenvalue below ``r^2`` of the data
        variance); or when an eigenvalue is not positive or not finite. For
        ``"diag"`` the eigenvalues are the variances; for ``"spherical"`` the
        variance is measured against the mean of the data variances; ``"tied"``
        checks the shared matrix; ``"fixed"`` is never degenerate (the variance is
        not estimated). ``weights`` are not used (the EM driver checks them itself).

        Parameters
        ----------
        data : ndarray of shape (n_samples, n_features)
            The training data.
        weights : ndarray of shape (n_components,)
            Mixing weights (unused).
        params : GaussianParams
            The fitted component parameters.

        Returns
        -------
        str or None
            A message naming the component furthest past the bound (and the other
            degenerate ones) and what to change, or None.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.gaussian import GaussianFamily, GaussianParams
        >>> X = np.array([[0.0, 0.0], [1.0, 0.5], [5.0, 5.0], [5.0, 5.0]])
        >>> covs = np.array([[[0.25, 0.0], [0.0, 0.0625]], [[1.0, 1.0], [1.0, 1.0]]])
        >>> params = GaussianParams(X[[0, 2]], covs, np.full((2, 2, 2), np.nan))
        >>> message = GaussianFamily("full").degeneracy(X, np.array([0.5, 0.5]), params)
        >>> print(message.replace(": ", ":\\n").replace("; ", ";\\n"))
        component 1's covariance is numerically singular:
        its smallest eigenvalue is 0 times its largest (below 1e-10, in units of the data variances);
        increase reg_covar
        """
        kind = self.covariance_type
        if kind == "fixed":
            return None
        X = np.asarray(data, dtype=np.float64)
        var = np.var(X, axis=0)
        s2 = float(var.mean())
        # per-feature unit; a constant feature is measured in the mean data variance
        unit = np.where(var > 0, var, s2 if s2 > 0 else 1.0)
        covs = np.asarray(params.covariances, dtype=np.float64)
        if kind in ("full", "tied"):
            mats = (covs[None] if kind == "tied" else covs) / np.sqrt(np.outer(unit, unit))
            eig = [
                np.linalg.eigvalsh(c)[[0, -1]] if np.all(np.isfinite(c)) else [np.nan] * 2
                for c in mats
            ]
            low, high = np.array(eig, dtype=np.float64).reshape(-1, 2).T
            what = "eigenvalue"
        elif kind == "diag":
            scaled = covs / unit
            low, high = scaled.min(axis=1), scaled.max(axis=1)
            what = "variance"
        else:  # spherical: sigma_k^2 I against the mean data variance
            low = high = covs.reshape(-1) / (s2 if s2 > 0 else 1.0)
            what = "variance"
        reference = np.maximum(high, DEGENERATE_RTOL)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = low / reference
        bad = np.flatnonzero(~(ratio >= DEGENERATE_RTOL) | ~(low > 0))
        if bad.size == 0:
            return None
        ranked = bad[np.argsort(np.nan_to_num(ratio[bad], nan=-np.inf), kind="stable")]
        k = int(ranked[0])
        who = "the tied covariance" if kind == "tied" else f"component {k}'s covariance"
        if kind != "spherical" and not high[k] < DEGENERATE_RTOL:
            detail = (
                f"its smallest {what} is {ratio[k]:.2g} times its largest (below "
                f"{DEGENERATE_RTOL:g}, in units of the data variances)"
            )
        else:
            largest = what if kind == "spherical" else f"largest {what}"
            detail = (
                f"it collapsed onto a point: its {largest} is {high[k]:.2g} times the data "
                f"variance (below {DEGENERATE_RTOL ** 2:g})"
            )
        message = f"{who} is numerically singular: {detail}; increase reg_covar"
        if ranked.size > 1:
            others = ", ".join(str(int(j)) for j in ranked[1:])
            message += f" (also degenerate: component(s) {others})"
        return message

    # ---- fused fast path
    @_on_one_blas_thread
    def em_step(
        self,
        data: np.ndarray,
        log_weights: np.ndarray,
        params: GaussianParams,
        *,
        update: bool = True,
    ) -> tuple[float, np.ndarray | None, GaussianParams | None]:
        """Blocked E-step, then the M-step from the stored responsibilities.

        Every BLAS and LAPACK call of the iteration runs on one thread: the blocks
        are spread over the cores by ``_map_blocks`` instead.
        """
        kind = self.covariance_type
        fused = update and kind in _FUSED_STATS
        ll, respT, _, stats = _e_pass(
            data, log_weights, params, kind, want_resp=update, want_stats=fused
        )
        if not np.isfinite(ll):
            if kind == "fixed":
                raise ValueError(_overflow_message(self.variance))
            raise FloatingPointError(
                f"the log-likelihood is {ll}; increase reg_covar or scale the data."
            )
        if not update:
            return ll, None, None
        if fused:
            nk, means, covs = _m_step_from_stats(
                stats, self.reg_covar, kind, self.variance, _ExactPasses(data, respT)
            )
        else:
            nk, means, covs = _estimate_parameters_T(
                data, respT, self.reg_covar, kind, self.variance
            )
        new = GaussianParams(means, covs, compute_precision_cholesky(covs, self.covariance_type))
        return ll, respT, new

    # ---- unconstrained vector (SQUAREM)
    def to_vector(self, params: GaussianParams) -> np.ndarray:
        """Means and covariances as one unconstrained vector (for SQUAREM).

        The means as they are, then the covariances: for ``"full"`` and ``"tied"``
        the lower Cholesky factor ``C`` of each covariance (``Sigma = C C'``), row by
        row, with the logarithm of its diagonal; for ``"diag"`` and ``"spherical"``
        the log-variances; nothing for ``"fixed"``. Every real vector maps back
        (:meth:`from_vector`) to positive-definite covariances.

        Parameters
        ----------
        params : GaussianParams

        Returns
        -------
        ndarray of shape (K d + n_covariance_values,)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.gaussian import GaussianFamily, GaussianParams
        >>> from emfit.gaussian import compute_precision_cholesky as precision_cholesky
        >>> covs = np.array([[[4.0, 2.0], [2.0, 2.0]]])
        >>> params = GaussianParams(np.zeros((1, 2)), covs, precision_cholesky(covs, "full"))
        >>> family = GaussianFamily("full")
        >>> family.to_vector(params).round(4).tolist()  # means, log 2, 1, log 1
        [0.0, 0.0, 0.6931, 1.0, 0.0]
        >>> back = family.from_vector(family.to_vector(params), like=params)
        >>> bool(np.allclose(back.covariances, covs, rtol=1e-14))
        True
        """
        kind = self.covariance_type
        means = np.array(params.means, dtype=np.float64).ravel()
        covs = np.asarray(params.covariances, dtype=np.float64)
        if kind == "fixed":
            return means
        if kind in ("diag", "spherical"):
            return np.concatenate([means, np.log(covs).ravel()])
        chol = np.linalg.cholesky(covs[None] if kind == "tied" else covs)  # lower
        rows, cols = np.tril_indices(chol.shape[-1])
        entries = chol[:, rows, cols]
        on_diagonal = rows == cols
        entries[:, on_diagonal] = np.log(entries[:, on_diagonal])
        return np.concatenate([means, entries.ravel()])

    def from_vector(self, vector: np.ndarray, like: GaussianParams) -> GaussianParams:
        """Parameters from :meth:`to_vector`'s vector (its inverse).

        ``precisions_cholesky`` is recomputed by :func:`compute_precision_cholesky`;
        for ``"fixed"`` the covariances are those of ``like``.

        Parameters
        ----------
        vector : ndarray
            A vector of :meth:`to_vector`'s length.
        like : GaussianParams
            Gives the shapes (and, for ``"fixed"``, the covariances).

        Returns
        -------
        GaussianParams

        Raises
        ------
        FloatingPointError
            If a covariance overflows or underflows float64 (an extreme
            log-variance) or is not numerically positive definite.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.gaussian import GaussianFamily, GaussianParams
        >>> like = GaussianParams(np.zeros((2, 1)), np.ones(2), np.ones(2))
        >>> GaussianFamily("spherical").from_vector(np.log([1.0, 2.0, 4.0, 0.25]), like).covariances
        array([4.  , 0.25])
        """
        kind = self.covariance_type
        vector = np.asarray(vector, dtype=np.float64)
        K, d = np.shape(like.means)
        means = vector[: K * d].reshape(K, d).copy()
        rest = vector[K * d :]
        if kind == "fixed":
            return GaussianParams(
                means, np.array(like.covariances), np.array(like.precisions_cholesky)
            )
        with np.errstate(over="ignore", under="ignore"):
            if kind in ("diag", "spherical"):
                covs = np.exp(rest).reshape(np.shape(like.covariances))
                ok = np.all(np.isfinite(covs) & (covs > 0))
            else:
                rows, cols = np.tril_indices(d)
                entries = rest.reshape(-1, rows.size).copy()
                on_diagonal = rows == cols
                entries[:, on_diagonal] = np.exp(entries[:, on_diagonal])
                chol = np.zeros((entries.shape[0], d, d))
                chol[:, rows, cols] = entries
                covs = chol @ chol.transpose(0, 2, 1)
                covs = np.tril(covs) + np.tril(covs, -1).transpose(0, 2, 1)  # symmetric
                ok = np.all(np.isfinite(covs)) and np.all(entries[:, on_diagonal] > 0)
                if kind == "tied":
                    covs = covs[0]
        if not ok:
            raise FloatingPointError(
                "the covariances of the extrapolated parameters overflow or underflow float64."
            )
        try:
            precisions_cholesky = compute_precision_cholesky(covs, kind)
        except ValueError as exc:  # not numerically positive definite
            raise FloatingPointError(str(exc)) from exc
        return GaussianParams(means, covs, precisions_cholesky)


def _overflow_message(variance: float | None) -> str:
    return (
        "the log-likelihood is -inf in float64: with covariance_type='fixed' and "
        f"variance={variance!r} the sum of squared distances to the nearest means divided "
        "by 2*variance exceeds the largest float. Scale the data down or increase variance."
    )


def _covariance_shape(covariance_type: str, K: int, d: int) -> tuple[int, ...]:
    """Shape of the covariances (and precisions) of an estimated covariance type."""
    return {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}[covariance_type]


@_on_one_blas_thread
def _covariances_from_precisions_cholesky(pc: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type in ("full", "tied"):
        pcs = pc[None] if covariance_type == "tied" else pc
        d = pcs.shape[-1]
        covs = np.empty_like(pcs)
        for k, L in enumerate(pcs):
            Linv = linalg.solve_triangular(L, np.eye(d), lower=False, check_finite=False)
            covs[k] = Linv @ Linv.T
        return covs[0] if covariance_type == "tied" else covs
    return 1.0 / pc**2


@_on_one_blas_thread
def _precisions_cholesky_from_precisions(P: np.ndarray, covariance_type: str, name: str):
    """Upper-triangular ``L`` with ``P = L L'`` (full, tied), ``sqrt(P)`` otherwise."""
    if covariance_type in ("full", "tied"):
        Ps = P[None] if covariance_type == "tied" else P
        out = np.empty_like(Ps)
        for k, Pk in enumerate(Ps):
            if not np.allclose(Pk, Pk.T, rtol=1e-10, atol=0):
                raise ValueError(f"{name}[{k}] must be symmetric.")
            # Cholesky of the flipped matrix gives an upper-triangular factor.
            try:
                C = linalg.cholesky(Pk[::-1, ::-1], lower=True, check_finite=False)
            except linalg.LinAlgError:
                raise ValueError(f"{name}[{k}] must be positive definite.") from None
            out[k] = C[::-1, ::-1]
        return out[0] if covariance_type == "tied" else out
    if np.any(~(P > 0)):
        raise ValueError(f"{name} must be positive.")
    return np.sqrt(P)


# ======================================================================= estimator
@shared_docstrings
class GaussianMixture(MixtureEstimatorMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM.

    A scikit-learn style estimator on top of :func:`emfit.em.fit_em`. It agrees with
    :class:`sklearn.mixture.GaussianMixture` to round-off from the same initial
    parameters, records the log-likelihood after every iteration without lag, checks
    that it never decreases, and adds the ``"fixed"`` covariance model (k-means as
    ``variance -> 0``).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components ``K``.
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}, default="full"
        Structure of the covariances; see :mod:`emfit.gaussian`. ``"fixed"`` uses
        ``variance * I`` for every component and never estimates it.
    variance : float, optional
        The fixed variance, required (and only used) with ``covariance_type="fixed"``.
        Any value > 0 works (computations use ``log(variance)`` and nearest-mean
        shifted distances): responsibilities are never NaN and tend to the nearest-mean
        indicator; the log-likelihood is finite whenever float64 can represent it,
        i.e. while ``W / (2 variance) < 1.7e308`` with ``W`` the k-means objective
        (e.g. ``W < 3.6e8`` for ``variance=1e-300``), otherwise fit raises a
        ValueError (see :mod:`emfit.gaussian`).
    tol : float, default=1e-10
        Stop when the total log-likelihood changes by at most ``tol`` times its
        magnitude between two iterations (independent of the number of samples; far
        stricter than scikit-learn's default of ``1e-3`` on the mean).
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of every estimated covariance
        (to every variance for diag and spherical), so a component collapsing onto a
        point keeps a covariance of at least ``reg_covar``. If a covariance still fails
        to be positive definite, fit raises a ValueError asking to increase
        ``reg_covar`` or scale the data. Not used by ``"fixed"``. As in scikit-learn,
        the M-step adds ``reg_covar`` to the maximiser of ``Q``; the result is not
        itself a maximiser, so with ``reg_covar > 0`` the log-likelihood can decrease
        by a tiny amount between iterations and the driver's monotonicity check is
        off. ``reg_covar=0`` gives exact EM, checked at every iteration.
    max_iter : int, default=1000
        Maximum number of EM iterations (M-steps) per restart.
    n_init : int, default=1
        Number of restarts; the best is kept (the first of those tied to
        :data:`emfit.em.RESTART_TIE_RTOL`). Restart ``i`` is
        the same whatever ``n_init``.
    init_params : {"kmeans++", "random"}, default="kmeans++"
        Initial responsibilities: hard assignment to k-means++ seeds, or random.
    weights_init : array-like of shape (n_components,), optional
        Initial weights (positive, summing to one).
    means_init : array-like of shape (n_components, n_features), optional
        Initial means.
    precisions_init : array-like, optional
        Initial precisions (inverse covariances), with scikit-learn's shapes:
        ``(K, d, d)`` full, ``(d, d)`` tied, ``(K, d)`` diag, ``(K,)`` spherical.
        Not allowed with ``"fixed"``.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the initialisation (and default seed of :meth:`sample`).
    accelerate : {None, "squarem"}, default=None
        SHARED_PARAMETER accelerate (filled in by emfit._base.shared_docstrings)

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        ``(K, d, d)`` full, ``(d, d)`` tied, ``(K, d)`` diag, ``(K,)`` spherical/fixed.
    precisions_ : ndarray
        Inverses of ``covariances_``, same shape.
    precisions_cholesky_ : ndarray
        Cholesky factors of ``precisions_`` (upper triangular), same shape.
    loglik_ : float
        Total log-likelihood of the training data at the fitted parameters.
    history_ : ndarray, one entry per iteration (``n_iter_`` entries)
        Total log-likelihood after each iteration; ``history_[-1] == loglik_``.
    n_iter_ : int
        Number of iterations of the best restart.
    n_em_evaluations_ : int
        Evaluations of the EM map (E-steps) of the best restart: ``n_iter_ + 1``
        for plain EM, more per iteration with ``accelerate="squarem"``.
    converged_ : bool
        Whether the best restart met the stopping rule.
    restarts_ : list of RestartResult
        Every restart: its final log-likelihood, iterations, convergence, parameters
        (in the driver's form and order) and, if it was set aside, why
        (``degenerate``; see :func:`emfit.em.fit_em`).
    concomitant_coef_ : ndarray of shape (K, n_concomitant + 1) or None
        Coefficients ``[g_k, gamma_k]`` of the multinomial-logit mixing weights when
        ``fit`` was given ``Z`` (row 0, the reference component, is zero); then
        ``weights_`` holds the weights averaged over the training data. None otherwise.
    n_concomitant_in_ : int
        Number of concomitant covariates seen in ``fit`` (0 without ``Z``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,), dtype object
        Column names of ``X``, only when ``X`` was a pandas DataFrame whose column
        names are all strings; new data must then have the same columns.
    n_samples_fit_ : int
        Number of samples of the training data (for :meth:`summary`'s AIC and BIC).

    See Also
    --------
    emfit.em.fit_em : The driver.
    sklearn.mixture.GaussianMixture : The reference implementation.

    Examples
    --------
    >>> from emfit import GaussianMixture
    >>> from emfit.datasets import load_faithful
    >>> X = load_faithful()
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> sorted(gm.means_[:, 0].round(2).tolist())
    [2.04, 4.29]
    >>> round(gm.loglik_, 3)
    -1130.264
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        variance: float | None = None,
        tol: float = 1e-10,
        reg_covar: float = 1e-6,
        max_iter: int = 1000,
        n_init: int = 1,
        init_params: str = "kmeans++",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        accelerate: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.variance = variance
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.accelerate = accelerate

    # ------------------------------------------------------------------ validation
    def _validate_params_emfit(self) -> None:
        check_positive_int(self.n_components, "n_components")
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {', '.join(map(repr, COVARIANCE_TYPES))}; "
                f"got {self.covariance_type!r}."
            )
        if self.covariance_type == "fixed":
            if self.variance is None:
                raise ValueError(
                    "variance must be given (a float > 0) when covariance_type='fixed'."
                )
            check_positive_float(self.variance, "variance")
        elif self.variance is not None:
            raise ValueError(
                "variance is only used with covariance_type='fixed'; got "
                f"variance={self.variance!r} with covariance_type={self.covariance_type!r}."
            )
        check_positive_float(self.tol, "tol", allow_zero=True)
        check_positive_float(self.reg_covar, "reg_covar", allow_zero=True)
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        check_positive_int(self.n_init, "n_init")
        if self.init_params not in ("kmeans++", "random"):
            raise ValueError(
                f"init_params must be 'kmeans++' or 'random'; got {self.init_params!r}."
            )

    def _check_X(self, X: Any, *, reset: bool) -> np.ndarray:
        check_feature_names(self, X, reset=reset)  # feature_names_in_ of a DataFrame
        X = check_array(X, "X", ndim=2)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _check_inits(self, n_features: int) -> tuple[Any, Any, Any]:
        K, d, kind = self.n_components, n_features, self.covariance_type
        weights = means = pc = None
        if self.weights_init is not None:
            weights = check_array(self.weights_init, "weights_init", ndim=1)
            if weights.shape != (K,):
                raise ValueError(
                    f"weights_init must have shape ({K},) (n_components,); got {weights.shape}."
                )
            if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-8):
                raise ValueError(
                    f"weights_init must be non-negative and sum to 1; got sum {weights.sum()!r}."
                )
        if self.means_init is not None:
            means = check_array(self.means_init, "means_init", ndim=2)
            if means.shape != (K, d):
                raise ValueError(
                    f"means_init must have shape ({K}, {d}) (n_components, n_features); "
                    f"got {means.shape}."
                )
        if self.precisions_init is not None:
            if kind == "fixed":
                raise ValueError(
                    "precisions_init cannot be used with covariance_type='fixed': the "
                    "covariance is variance * I and is not estimated."
                )
            shape = _covariance_shape(kind, K, d)
            P = check_array(self.precisions_init, "precisions_init", ndim=len(shape))
            if P.shape != shape:
                raise ValueError(
                    f"precisions_init must have shape {shape} for covariance_type="
                    f"{kind!r}; got {P.shape}."
                )
            pc = _precisions_cholesky_from_precisions(P, kind, "precisions_init")
        return weights, means, pc

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, *, Z: Any = None) -> GaussianMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Or a ``dask.array`` chunked along its rows: each EM iteration is then one
            pass over the chunks, on the current dask scheduler or cluster (see
            ``emfit.distributed``).
        y : ignored
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates: the mixing weights become a multinomial logit
            ``pi_k(z_i)`` (see :mod:`emfit.weights`); every later call that takes data
            must then be given ``Z`` too. No column of ``Z`` may be constant.

        Returns
        -------
        self : GaussianMixture
        """
        from .distributed import _fit_gaussian_mixture, _is_dask_array

        if _is_dask_array(X):  # EM as map-reduce over the chunks of a dask array
            return _fit_gaussian_mixture(self, X, Z)
        self._validate_params_emfit()
        X = self._check_X(X, reset=True)
        n, d = X.shape
        if n < self.n_components:
            raise ValueError(
                f"X has {n} samples but n_components={self.n_components}; "
                "need n_samples >= n_components."
            )
        weights, means, pc = self._check_inits(d)
        Zd = self._concomitant_design(Z, n, fitting=True)
        family = GaussianFamily(
            self.covariance_type,
            reg_covar=float(self.reg_covar),
            variance=self.variance,
            init_params=self.init_params,
            means_init=means,
            precisions_cholesky_init=pc,
        )
        params_init = None  # complete user initialisation: used as is, for every restart
        if means is not None and self.covariance_type == "fixed":
            covs = np.full(self.n_components, float(self.variance))
            params_init = GaussianParams(means, covs, compute_precision_cholesky(covs, "fixed"))
        elif means is not None and pc is not None:
            covs = _covariances_from_precisions_cholesky(pc, self.covariance_type)
            params_init = GaussianParams(means, covs, pc)
        fit: EMFit = self._fit_em(
            X,
            family,
            self.n_components,
            weights_init=weights,
            params_init=params_init,
            concomitant=Zd,
        )
        return self._store_fit(fit, n)

    def _store_fit(self, fit: EMFit, n: int) -> GaussianMixture:
        """The fitted attributes from the driver's result (in memory or on Dask)."""
        p: GaussianParams = fit.params
        self._set_fit_result(fit)
        self.means_ = p.means
        self.covariances_ = p.covariances
        self.precisions_cholesky_ = p.precisions_cholesky
        self.precisions_ = self._precisions_from_cholesky(p.precisions_cholesky)
        self.n_samples_fit_ = n
        return self

    @classmethod
    def from_parameters(
        cls,
        weights: Any,
        means: Any,
        covariances: Any = None,
        *,
        covariance_type: str = "full",
        variance: float | None = None,
    ) -> GaussianMixture:
        """A mixture with given parameters, ready to evaluate (no fitting).

        Use it to evaluate the likelihood, the densities or the responsibilities at
        parameters of your choice, e.g. along a path towards a degenerate fit.

        Parameters
        ----------
        weights : array-like of shape (n_components,)
            Mixing weights, non-negative, summing to one.
        means : array-like of shape (n_components, n_features)
        covariances : array-like
            In scikit-learn's shape for ``covariance_type``: ``(K, d, d)`` full,
            ``(d, d)`` tied, ``(K, d)`` diag, ``(K,)`` spherical; each positive
            definite. Must be None for ``"fixed"``, which takes ``variance``.
        covariance_type : {"full", "tied", "diag", "spherical", "fixed"}, default "full"
        variance : float, optional
            The common variance of the ``"fixed"`` model.

        Returns
        -------
        GaussianMixture
            With ``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``
            and ``precisions_`` set, ``n_iter_ = 0``, ``converged_ = False`` and an
            empty ``history_``; ``predict``, ``predict_proba``, ``score_samples``,
            ``score``, ``bic``, ``aic`` and ``sample`` work.

        Raises
        ------
        ValueError
            If a shape does not match, the weights are not a probability vector, or a
            covariance is not positive definite.

        Examples
        --------
        >>> import numpy as np
        >>> gm = GaussianMixture.from_parameters([0.5, 0.5], [[0.0], [4.0]], [1.0, 1.0],
        ...                                      covariance_type="spherical")
        >>> gm.predict(np.array([[0.1], [3.9]])).tolist()
        [0, 1]
        """
        means = check_array(means, "means", ndim=2)
        K, d = means.shape
        model = cls(
            K, covariance_type=covariance_type, variance=variance,
            weights_init=weights, means_init=means,
        )
        model._validate_params_emfit()
        try:
            weights, means, _ = model._check_inits(d)
        except ValueError as exc:  # name the arguments of this method, not of fit
            message = str(exc).replace("weights_init", "weights").replace("means_init", "means")
            raise ValueError(message) from None
        if weights is None:
            raise ValueError("weights must be given.")
        if covariance_type == "fixed":
            if covariances is not None:
                raise ValueError(
                    "covariances must be None for covariance_type='fixed'; give variance."
                )
            covs = np.full(K, float(variance))
        else:
            if covariances is None:
                raise ValueError(f"covariances are required for covariance_type={covariance_type!r}.")
            shape = _covariance_shape(covariance_type, K, d)
            covs = check_array(covariances, "covariances", ndim=len(shape))
            if covs.shape != shape:
                raise ValueError(
                    f"covariances must have shape {shape} for "
                    f"covariance_type={covariance_type!r}; got {covs.shape}."
                )
        pc = compute_precision_cholesky(covs, covariance_type)
        model.n_features_in_ = d
        model.weights_, model.means_, model.covariances_ = weights, means, covs
        model.precisions_cholesky_ = pc
        model.precisions_ = model._precisions_from_cholesky(pc)
        model.n_iter_, model.converged_ = 0, False
        model.history_ = np.empty(0)
        model.restarts_ = []
        return model

    @_on_one_blas_thread
    def _precisions_from_cholesky(self, pc: np.ndarray) -> np.ndarray:
        if self.covariance_type == "full":
            return pc @ pc.transpose(0, 2, 1)
        if self.covariance_type == "tied":
            return pc @ pc.T
        if self.covariance_type == "fixed":
            return 1.0 / self.covariances_
        return pc**2

    def fit_predict(self, X: Any, y: Any = None, *, Z: Any = None) -> np.ndarray:
        """Fit, then return the most likely component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates of the mixing weights (see :meth:`fit`).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X, y, Z=Z).predict(X, Z=Z)

    # ------------------------------------------------------------------ inference
    def _params(self) -> GaussianParams:
        return GaussianParams(self.means_, self.covariances_, self.precisions_cholesky_)

    def _family_for_predict(self) -> GaussianFamily:
        return GaussianFamily(
            self.covariance_type, reg_covar=float(self.reg_covar), variance=self.variance
        )

    def _resp_and_samples(self, X: Any, Z: Any = None) -> tuple[np.ndarray, np.ndarray]:
        # the blocked E-pass of fitting, robust for tiny variances
        self._check_fitted()
        X = self._check_X(X, reset=False)
        _, respT, samples, _ = _e_pass(
            X, self._log_weights(Z, X.shape[0]), self._params(), self.covariance_type,
            want_resp=True, want_samples=True,
        )
        return np.ascontiguousarray(respT.T), samples

    def _n_component_parameters(self) -> int:
        return self._family_for_predict().n_parameters(self._params())

    # the public signatures; docstrings from emfit._base.shared_docstrings
    def predict_proba(self, X: Any, *, Z: Any = None) -> np.ndarray:
        return super().predict_proba(X, Z=Z)

    def predict(self, X: Any, *, Z: Any = None) -> np.ndarray:
        return super().predict(X, Z=Z)

    def score_samples(self, X: Any, *, Z: Any = None) -> np.ndarray:
        return super().score_samples(X, Z=Z)

    def score(self, X: Any, y: Any = None, *, Z: Any = None) -> float:
        return super().score(X, Z=Z)

    def bic(self, X: Any, *, Z: Any = None) -> float:
        return super().bic(X, Z=Z)

    def aic(self, X: Any, *, Z: Any = None) -> float:
        return super().aic(X, Z=Z)

    def summary(self) -> Any:
        """The fitted parameters as a table, with the fit's criteria in ``attrs``.

        One row per parameter, in the layout of
        :meth:`emfit.poisson.PoissonRegressionMixture.summary`, component by component: the
        weight (``"weight"``; with concomitant covariates, the coefficients
        ``"(weight intercept)"``, ``"(weight) z1"``, ... of components
        ``1, ..., K-1``), the mean of each feature (``"mean[name]"``), then the
        covariance:

        * ``"full"``: the upper triangle of each covariance matrix, row by row:
          variances ``"var[name]"`` on the diagonal, ``"cov[name1,name2]"`` above it;
        * ``"diag"``: ``"var[name]"`` per feature;
        * ``"spherical"``: one ``"var"`` per component;
        * ``"tied"``: the upper triangle of the shared matrix, after the
          components, under the component label ``"all"``;
        * ``"fixed"``: nothing; the variance is given, not estimated.

        Features are named by ``feature_names_in_`` when the model was fitted on a
        DataFrame, else ``x1, ..., xd``.

        There are no standard errors. The observed-information machinery of the
        book (the Hessian of the log-likelihood and Louis' identity, with standard
        errors that account for the uncertain memberships) exists for
        :class:`~emfit.poisson.PoissonRegressionMixture` only
        (:meth:`~emfit.poisson.PoissonRegressionMixture.standard_errors`); and standard
        errors from the Hessian of a mixture are unreliable near the boundary of the
        parameter space, where a weight approaches 0, a covariance approaches
        singularity (the likelihood is unbounded there) or two components nearly
        coincide.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(component, parameter)`` (components from 0, as the rows of
            ``means_``), one column ``estimate``. ``attrs`` holds the fit summary:
            ``"loglik"`` (``loglik_``), ``"aic"`` and ``"bic"`` (of the training
            data, equal to ``aic(X)`` and ``bic(X)``), ``"n_parameters"`` (free
            parameters; with constant weights, which sum to one, the table has one
            row more) and ``"n_samples"``. For a model made by
            :meth:`from_parameters` (not fitted on data) ``loglik``, ``aic``,
            ``bic`` and ``n_samples`` are None.

        Examples
        --------
        >>> import pandas as pd
        >>> from emfit import GaussianMixture
        >>> from emfit.datasets import FAITHFUL_COLUMNS, load_faithful
        >>> X = pd.DataFrame(load_faithful(), columns=FAITHFUL_COLUMNS)
        >>> table = GaussianMixture(2, random_state=0).fit(X).summary()
        >>> table.round(2)
                                          estimate
        component parameter
        0         weight                      0.36
                  mean[eruptions]             2.04
                  mean[waiting]              54.48
                  var[eruptions]              0.07
                  cov[eruptions,waiting]      0.44
                  var[waiting]               33.70
        1         weight                      0.64
                  mean[eruptions]             4.29
                  mean[waiting]              79.97
                  var[eruptions]              0.17
                  cov[eruptions,waiting]      0.94
                  var[waiting]               36.05
        >>> round(table.attrs["bic"], 2), table.attrs["n_parameters"]
        (2322.19, 11)
        """
        self._check_fitted()
        K, d = self.means_.shape
        kind = self.covariance_type
        names = feature_labels(self, d)
        upper = [(i, j) for i in range(d) for j in range(i, d)]
        cov_names = [
            f"var[{names[i]}]" if i == j else f"cov[{names[i]},{names[j]}]" for i, j in upper
        ]
        cov = self.covariances_
        rows: list[list[tuple[str, float]]] = []
        for k in range(K):
            own = [(f"mean[{names[j]}]", float(self.means_[k, j])) for j in range(d)]
            if kind == "full":
                own += [(c, float(cov[k, i, j])) for c, (i, j) in zip(cov_names, upper)]
            elif kind == "diag":
                own += [(f"var[{names[j]}]", float(cov[k, j])) for j in range(d)]
            elif kind == "spherical":
                own.append(("var", float(cov[k])))
            rows.append(own)
        shared = []
        if kind == "tied":
            shared = [(c, float(cov[i, j])) for c, (i, j) in zip(cov_names, upper)]
        return summary_frame(self, rows, shared)

    def sample(self, n_samples: int = 1, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, Generator or None
            Seed; defaults to the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
            Component of each sample, sorted.
        """
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        K, d = self.means_.shape
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        out = []
        for k in range(K):
            z = rng.standard_normal((counts[k], d))
            kind = self.covariance_type
            if kind in ("full", "tied"):
                cov = self.covariances_[k] if kind == "full" else self.covariances_
                out.append(self.means_[k] + z @ np.linalg.cholesky(cov).T)
            else:
                out.append(self.means_[k] + z * np.sqrt(self.covariances_[k]))
        labels = np.repeat(np.arange(K), counts)
        return np.vstack(out), labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
