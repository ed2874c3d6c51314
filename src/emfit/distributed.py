"""EM beyond one machine's memory: Gaussian mixtures on the chunks of a ``dask.array``.

:meth:`emfit.gaussian.GaussianMixture.fit` hands a :class:`dask.array.Array` to this module.
An EM iteration is a **map** over the chunks of rows and a small **reduce**:

* map: each chunk, where it lives (a thread, or a worker of a ``dask.distributed``
  cluster), runs the blocked E-step of :mod:`emfit.gaussian` and returns its
  log-likelihood and its sufficient statistics about a reference point ``m_k`` that
  depends on the current parameters only (:func:`chunk_statistics`)::

      l_c,  R_k = sum_i r_ik,  s_k = sum_i r_ik (x_i - m_k),
      T_k = sum_i r_ik (x_i - m_k)(x_i - m_k)'

  (``T_k`` has one entry per feature for diagonal and spherical covariances, and
  none for ``"fixed"``);
* reduce: the client adds them up in chunk order (:func:`sum_statistics`), so the
  result does not depend on which worker finished first, and runs the M-step:
  ``pi_k = R_k / n``, ``mu_k = m_k + s_k / R_k``,
  ``Sigma_k = T_k / R_k - (mu_k - m_k)(mu_k - m_k)' + reg_covar I``.

So each iteration passes over the data once, and only ``O(K d^2)`` numbers per chunk
travel to the client. The statistics are those of the in-memory fast path, so from
the same start the two fits agree to round-off (summation order).

**Cancellation.** The covariance formula subtracts two numbers that are large when
a component is narrow and far from ``m_k``. As in memory, a component whose
covariance would lose more than four digits (``emfit.gaussian._MAX_CANCELLATION``)
gets its scatter ``sum_i r_ik (x_i - mu_k)(x_i - mu_k)'``
computed exactly about its new mean, by a second pass over the chunks for those
components only. For ``"tied"`` covariances the chunks return the statistics of
full covariances (the E-step of a tied covariance is that of full covariances that
happen to be equal) and the client pools them: ``Sigma = sum_k R_k Sigma_k / n``.

**Where the data live.** On a ``dask.distributed`` cluster, an array that fits in
half of the workers' memory limits is persisted on the workers before the first
iteration, so every pass reads it from their memory. A larger array (or any array
under the threaded or synchronous scheduler) is streamed: every pass recomputes its
chunks from their source (files, or the random generator of a simulation), and a
worker holds only the chunks it is working on. Call ``X.persist()`` yourself to keep
an array in memory under a local scheduler.

**Initialisation.** ``means_init``, ``weights_init`` and ``precisions_init`` are used as
given (with all three, nothing is computed from the data). What is missing comes
from k-means++ on a uniform random sample of at most 10,000 rows
(:data:`INIT_SAMPLE_ROWS`), drawn with the restart's generator; with fewer rows the
sample is the whole array, and the start is the in-memory fit's.

The rest is :func:`emfit.em.fit_em`, unchanged: restarts, the stopping rule, the
history, the monotonicity check and the degeneracy rule (from the data variances,
which the first iteration's statistics give by the law of total variance).
Concomitant weights (``Z``) are not supported on a dask array, nor is
:class:`~emfit.poisson.PoissonRegressionMixture`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .gaussian import (
    GaussianFamily,
    GaussianParams,
    _covariances_from_precisions_cholesky,
    _e_pass,
    _ExactPasses,
    _m_step_from_stats,
    _overflow_message,
    _sum_in_order,
    compute_precision_cholesky,
)

__all__ = ["INIT_SAMPLE_ROWS", "chunk_statistics", "sum_statistics"]

#: Rows of the uniform random sample that k-means++ initialises from (all rows of a
#: smaller array).
INIT_SAMPLE_ROWS: int = 10_000


# ======================================================================= map and reduce
def chunk_statistics(
    chunk: np.ndarray, log_weights: np.ndarray, params: GaussianParams, covariance_type: str
) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    """The map of one EM iteration: log-likelihood and sufficient statistics of a chunk.

    Parameters
    ----------
    chunk : ndarray of shape (rows, n_features)
        A block of rows of the data.
    log_weights : ndarray of shape (n_components,)
        Current log mixing weights.
    params : GaussianParams
        Current component parameters.
    covariance_type : {"full", "tied", "diag", "spherical", "fixed"}

    Returns
    -------
    loglik : float
        ``sum_i log sum_k pi_k f(x_i | theta_k)`` over the chunk's rows.
    stats : tuple
        ``(m, R, s, T)``: the reference point ``m``, shape (1, d), the mean of the
        current means (it depends on the parameters only, so it is the same for
        every chunk), the soft counts ``R_k``, the sums ``s_k = sum_i r_ik (x_i -
        m_k)`` and the second moments ``T_k`` about ``m_k`` ((K, d, d) for full and
        tied, (K, d) for diag and spherical, None for fixed). Statistics of two
        chunks add up (:func:`sum_statistics`).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import GaussianParams
    >>> from emfit.distributed import chunk_statistics
    >>> params = GaussianParams(np.array([[0.0], [10.0]]), np.ones(2), np.ones(2))
    >>> loglik, (m, R, s, T) = chunk_statistics(
    ...     np.array([[0.0], [1.0], [10.0]]), np.log([0.5, 0.5]), params, "spherical")
    >>> R.round(6).tolist()  # two rows near mean 0, one near mean 10
    [2.0, 1.0]
    """
    kind, params = _statistics_view(params, covariance_type)
    loglik, _, _, stats = _e_pass(
        chunk, log_weights, params, kind, want_resp=False, want_stats=True
    )
    return loglik, stats


def sum_statistics(parts: list[tuple[float, Any]]) -> tuple[float, Any]:
    """The reduce: add the log-likelihoods and statistics of the chunks, in list order.

    Parameters
    ----------
    parts : list of (loglik, stats)
        :func:`chunk_statistics` of each chunk, in chunk order.

    Returns
    -------
    loglik : float
        The total log-likelihood.
    stats : tuple
        ``(m, R, s, T)`` summed over the chunks (``m`` is common to all of them).
        Adding in a fixed order makes the result independent of the order in which
        the chunks were computed.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.gaussian import GaussianParams
    >>> from emfit.distributed import chunk_statistics, sum_statistics
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> params = GaussianParams(np.array([[0.0], [10.0]]), np.ones((2, 1)), np.ones((2, 1)))
    >>> log_weights = np.log([0.5, 0.5])
    >>> parts = [chunk_statistics(c, log_weights, params, "diag") for c in (X[:3], X[3:])]
    >>> loglik, (m, R, s, T) = sum_statistics(parts)
    >>> whole_loglik, (_, _, whole_s, whole_T) = chunk_statistics(X, log_weights, params, "diag")
    >>> R.round(6).tolist(), bool(np.allclose(T, whole_T)), bool(np.isclose(loglik, whole_loglik))
    ([2.0, 2.0], True, True)
    """
    loglik = float(np.sum([p[0] for p in parts]))
    ref = parts[0][1][0]
    second = [p[1][3] for p in parts]
    return loglik, (
        ref,
        _sum_in_order([p[1][1] for p in parts]),
        _sum_in_order([p[1][2] for p in parts]),
        None if second[0] is None else _sum_in_order(second),
    )


def _statistics_view(params: GaussianParams, covariance_type: str) -> tuple[str, GaussianParams]:
    """The covariance type whose statistics the chunks return, and the parameters in
    its shapes: a tied covariance as ``K`` equal full ones (the same E-step)."""
    if covariance_type != "tied":
        return covariance_type, params
    K, d = params.means.shape
    return "full", GaussianParams(
        params.means,
        np.broadcast_to(params.covariances, (K, d, d)),
        np.broadcast_to(params.precisions_cholesky, (K, d, d)),
    )


def _chunk_loglik(
    chunk: np.ndarray, log_weights: np.ndarray, params: GaussianParams, covariance_type: str
) -> float:
    """Log-likelihood of a chunk (the E-step alone, for the last evaluation of a fit)."""
    return _e_pass(chunk, log_weights, params, covariance_type, want_resp=False)[0]


def _chunk_exact(
    chunk: np.ndarray,
    log_weights: np.ndarray,
    params: GaussianParams,
    covariance_type: str,
    what: str,
    means: np.ndarray,
    components: np.ndarray,
) -> np.ndarray:
    """One exact pass of :class:`emfit.gaussian._ExactPasses` over a chunk (``what``:
    ``"offsets"``, ``"full_scatter"`` or ``"diag_scatter"``), with ``r`` from the
    parameters of the E-step that gave the statistics and ``mu`` the new means."""
    kind, params = _statistics_view(params, covariance_type)
    _, respT, _, _ = _e_pass(chunk, log_weights, params, kind, want_resp=True)
    return getattr(_ExactPasses(chunk, respT), what)(means, components)


class _ChunkPasses:
    """The exact passes of :func:`emfit.gaussian._m_step_from_stats`, one pass over
    the chunks each (sums in chunk order)."""

    def __init__(self, data: Any, log_weights: np.ndarray, params: GaussianParams, kind: str):
        self.args = (data, log_weights, params, kind)

    def _pass(self, what: str, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        data, *rest = self.args
        return _sum_in_order(_map_chunks(_chunk_exact, data, *rest, what, means, components))

    def offsets(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return self._pass("offsets", means, components)

    def full_scatter(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return self._pass("full_scatter", means, components)

    def diag_scatter(self, means: np.ndarray, components: np.ndarray) -> np.ndarray:
        return self._pass("diag_scatter", means, components)


def _m_step(
    stats: Any, covariance_type: str, reg_covar: float, variance: float | None, exact: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The M-step from the summed statistics, on the client.

    :func:`emfit.gaussian._m_step_from_stats` itself, without regularisation and per
    feature (a tied covariance as per-component full ones, spherical as diagonal);
    then the pooling, ``reg_covar`` and the spherical mean, in the same order as in
    memory. Returns ``(nk, means, covariances, spread)``, ``spread`` the per-feature
    variances of each component before pooling and regularisation, (K, d) (None for
    fixed), which the degeneracy check uses.
    """
    kind = {"tied": "full", "spherical": "diag"}.get(covariance_type, covariance_type)
    nk, means, covs = _m_step_from_stats(stats, 0.0, kind, variance, exact)
    if kind == "fixed":
        return nk, means, covs, None
    spread = np.diagonal(covs, axis1=1, axis2=2).copy() if kind == "full" else covs.copy()
    if covariance_type == "tied":
        covs = np.tensordot(nk, covs, axes=1) / nk.sum()
    if kind == "full":
        idx = np.arange(covs.shape[-1])
        covs[..., idx, idx] += reg_covar
        return nk, means, covs, spread
    covs += reg_covar
    if covariance_type == "spherical":
        covs = covs.mean(axis=1)
    return nk, means, covs, spread


class _SoftCounts:
    """What the driver's weights M-step reads of the responsibilities ``(K, n)``: their
    row sums ``R_k`` (``sum(axis=1)``) and ``shape``; the ``n`` columns never exist."""

    def __init__(self, nk: np.ndarray, n: int) -> None:
        self._nk = np.asarray(nk, dtype=np.float64)
        self.shape = (self._nk.size, int(n))

    def sum(self, axis: int) -> np.ndarray:
        if axis != 1:
            raise ValueError("only the row sums of the responsibilities are known")
        return self._nk.copy()


# ======================================================================= dask plumbing
def _compute(tasks: list[Any]) -> list[Any]:
    """Results of delayed tasks, in task order, with the current dask scheduler."""
    import dask

    return list(dask.compute(*tasks))


def _chunks(X: Any) -> list[Any]:
    """The chunks of rows of ``X`` (one column chunk) as delayed objects, in order."""
    return list(X.to_delayed().ravel())


def _shared(*values: Any) -> Any:
    """One delayed object holding ``values``, so each task refers to it instead of
    carrying its own copy of the parameters."""
    import dask

    return dask.delayed(values, traverse=False)


def _map_chunks(function: Any, X: Any, *args: Any) -> list[Any]:
    """``[function(chunk, *args) for chunk in X's chunks]``, computed by dask."""
    import dask

    shared = _shared(*args)
    call = dask.delayed(_apply, pure=False)
    return _compute([call(function, chunk, shared) for chunk in _chunks(X)])


def _apply(function: Any, chunk: np.ndarray, shared: tuple[Any, ...]) -> Any:
    return function(np.ascontiguousarray(chunk, dtype=np.float64), *shared)


class _DaskGaussianFamily(GaussianFamily):
    """:class:`~emfit.gaussian.GaussianFamily` on a dask array: each ``em_step`` maps
    :func:`chunk_statistics` over the chunks and reduces on the client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._data_variances: np.ndarray | None = None

    def n_samples(self, data: Any) -> int:
        return int(data.shape[0])

    def initialize(
        self, data: Any, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, GaussianParams]:
        """k-means++ (or random responsibilities) on a sample of the rows."""
        n = int(data.shape[0])
        if n <= INIT_SAMPLE_ROWS:
            sample = data
        else:
            sample = data[np.sort(rng.choice(n, size=INIT_SAMPLE_ROWS, replace=False))]
        return super().initialize(np.asarray(sample.compute(), dtype=np.float64), n_components, rng)

    def em_step(
        self, data: Any, log_weights: np.ndarray, params: GaussianParams, *, update: bool = True
    ) -> tuple[float, _SoftCounts | None, GaussianParams | None]:
        """One pass over the chunks: the E-step, then (if ``update``) the M-step."""
        kind = self.covariance_type
        log_weights = np.asarray(log_weights, dtype=np.float64)
        if log_weights.ndim != 1:
            raise ValueError("concomitant weights are not supported on a dask array")
        if not update:
            ll = float(np.sum(_map_chunks(_chunk_loglik, data, log_weights, params, kind)))
            return self._check_loglik(ll), None, None
        ll, stats = sum_statistics(_map_chunks(chunk_statistics, data, log_weights, params, kind))
        self._check_loglik(ll)

        exact = _ChunkPasses(data, log_weights, params, kind)
        _, means, covs, spread = _m_step(stats, kind, self.reg_covar, self.variance, exact)
        if self._data_variances is None and spread is not None:
            # The law of total variance, exact for any responsibilities: the variances
            # of the data for the degeneracy check, without a pass of their own.
            w = stats[1] / stats[1].sum()
            self._data_variances = w @ (spread + (means - w @ means) ** 2)
        new = GaussianParams(means, covs, compute_precision_cholesky(covs, kind))
        return ll, _SoftCounts(stats[1], data.shape[0]), new

    def _check_loglik(self, ll: float) -> float:
        if not np.isfinite(ll):
            if self.covariance_type == "fixed":
                raise ValueError(_overflow_message(self.variance))
            raise FloatingPointError(
                f"the log-likelihood is {ll}; increase reg_covar or scale the data."
            )
        return ll

    def degeneracy(self, data: Any, weights: np.ndarray, params: GaussianParams) -> str | None:
        """The in-memory rule, from the per-feature variances of the data (from the
        first iteration's statistics; by a pass of their own if there was none)."""
        if self.covariance_type == "fixed":
            return None
        if self._data_variances is None:
            self._data_variances = np.asarray(data.var(axis=0).compute(), dtype=np.float64)
        # The rule reads the data only through np.var(data, axis=0): two rows -sd, +sd
        # have those variances.
        sd = np.sqrt(self._data_variances)
        return super().degeneracy(np.stack([-sd, sd]), weights, params)


# ======================================================================= estimator
def _is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a dask array (without importing dask when it is not loaded)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def _check_dask_X(X: Any, n_components: int) -> Any:
    """A float64 dask array with its columns in one chunk; ValueError otherwise."""
    if X.ndim != 2:
        hint = " Reshape it with X.reshape(-1, 1) for a single feature." if X.ndim == 1 else ""
        raise ValueError(f"X must be a 2-d array; got {X.ndim}-d with shape {X.shape}.{hint}")
    if any(np.isnan(c) for sizes in X.chunks for c in sizes):
        raise ValueError(
            "X has chunks of unknown size; call X.compute_chunk_sizes() first."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must contain real numbers; got dtype {X.dtype}.")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"X is empty (shape {X.shape}).")
    if n < n_components:
        raise ValueError(
            f"X has {n} samples but n_components={n_components}; "
            "need n_samples >= n_components."
        )
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})  # chunks of whole rows
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    return X


def _current_client() -> Any:
    """The ``dask.distributed`` client that ``dask.compute`` would use, or None."""
    if "distributed" not in sys.modules:
        return None
    import dask.base
    from distributed import Client

    owner = getattr(dask.base.get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def _placed(X: Any) -> Any:
    """``X`` persisted on the workers of the current cluster if it fits in half of
    their memory limits; otherwise (or without a cluster) ``X`` itself, streamed."""
    client = _current_client()
    if client is None:
        return X
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    capacity = sum(limits) if limits and all(limits) else float("inf")
    if X.nbytes > capacity / 2:
        return X
    from distributed import wait

    X = client.persist(X)
    wait(X)
    return X


def _fit_gaussian_mixture(model: Any, X: Any, Z: Any = None) -> Any:
    """:meth:`emfit.gaussian.GaussianMixture.fit` for a dask array ``X`` (see the module docstring)."""
    model._validate_params_emfit()
    if Z is not None:
        raise ValueError(
            "Z (concomitant weights) is not supported when X is a dask array; "
            "fit in memory (X.compute()) to use Z."
        )
    X = _check_dask_X(X, model.n_components)
    n, d = X.shape
    if hasattr(model, "feature_names_in_"):
        del model.feature_names_in_
    model.n_features_in_ = d
    model.n_concomitant_in_ = 0
    weights, means, pc = model._check_inits(d)
    kind = model.covariance_type
    family = _DaskGaussianFamily(
        kind,
        reg_covar=float(model.reg_covar),
        variance=model.variance,
        init_params=model.init_params,
        means_init=means,
        precisions_cholesky_init=pc,
    )
    params_init = None  # a complete user initialisation, as in GaussianMixture.fit
    if means is not None and kind == "fixed":
        covs = np.full(model.n_components, float(model.variance))
        params_init = GaussianParams(means, covs, compute_precision_cholesky(covs, "fixed"))
    elif means is not None and pc is not None:
        params_init = GaussianParams(means, _covariances_from_precisions_cholesky(pc, kind), pc)
    fit = model._fit_em(
        _placed(X), family, model.n_components, weights_init=weights, params_init=params_init
    )
    return model._store_fit(fit, n)
