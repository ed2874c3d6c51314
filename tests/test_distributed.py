"""GaussianMixture.fit on a dask array equals the in-memory fit (emfit.distributed).

From the same start the two fits run the same iterations on the same sufficient
statistics, added in another order, so they agree to round-off: every comparison
below allows a relative 1e-10 of the largest entry (round-off is near 1e-15).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from emfit import GaussianMixture  # noqa: E402
from emfit import distributed as emfit_distributed  # noqa: E402
from emfit.distributed import chunk_statistics, sum_statistics  # noqa: E402
from emfit.em import ConvergenceWarning, fit_em  # noqa: E402
from emfit.gaussian import GaussianParams, _e_pass  # noqa: E402

RTOL = 1e-10
KINDS = ["full", "diag", "spherical", "tied"]


def three_clusters(n: int = 1000, seed: int = 0, gap: float = 1.0) -> np.ndarray:
    """Three clusters in 3-d, offset from the origin; overlapping unless ``gap`` > 1."""
    rng = np.random.default_rng(seed)
    sizes = [n // 2, n // 3, n - n // 2 - n // 3]
    centres = gap * np.array([[0.0, 0.0, 0.0], [2.5, 0.5, 0.0], [0.0, 3.0, 1.0]]) + 10.0
    scales = [1.0, 0.6, 1.4]
    return np.vstack(
        [c + s * rng.normal(size=(m, 3)) for c, s, m in zip(centres, scales, sizes)]
    )


X = three_clusters()
SEPARATED = three_clusters(gap=1.7)  # EM converges in 8 to 30 iterations


def start(kind: str, d: int = 3) -> dict:
    """A complete initialisation: weights, means, precisions in scikit-learn's shapes."""
    precision = np.linalg.inv(np.cov(X, rowvar=False))
    precisions = {
        "full": np.stack([precision] * 3),
        "tied": precision,
        "diag": np.tile(np.diag(precision), (3, 1)),
        "spherical": np.full(3, np.diag(precision).mean()),
    }[kind]
    return dict(
        weights_init=[0.4, 0.3, 0.3],
        means_init=X[[0, 600, 900]],
        precisions_init=precisions,
    )


def same(a: np.ndarray, b: np.ndarray, rtol: float = RTOL) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.max(np.abs(b)))


def assert_same_fit(fit: GaussianMixture, ref: GaussianMixture) -> None:
    assert fit.n_iter_ == ref.n_iter_
    assert fit.converged_ == ref.converged_
    assert abs(fit.loglik_ - ref.loglik_) <= RTOL * abs(ref.loglik_)
    same(fit.history_, ref.history_)
    same(fit.weights_, ref.weights_)
    same(fit.means_, ref.means_)
    same(fit.covariances_, ref.covariances_)
    same(fit.precisions_cholesky_, ref.precisions_cholesky_)


def fit_both(data: np.ndarray, chunks: int, scheduler: str = "threads", **kwargs):
    with warnings.catch_warnings():  # tol=0 stops at max_iter on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(3, **kwargs).fit(data)
        with dask.config.set(scheduler=scheduler):
            fit = GaussianMixture(3, **kwargs).fit(da.from_array(data, chunks=(chunks, -1)))
    return fit, ref


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunks", [97, 250, 1000])  # 97: uneven last chunk; 1000: one chunk
def test_same_start_same_fit(kind, chunks):
    fit, ref = fit_both(X, chunks, covariance_type=kind, tol=0.0, max_iter=25, **start(kind))
    assert ref.n_iter_ == 25
    assert_same_fit(fit, ref)


@pytest.mark.parametrize("kind", KINDS + ["fixed"])
def test_converged_fit_from_kmeans_start(kind):
    # 1000 rows <= INIT_SAMPLE_ROWS: k-means++ sees every row, as in memory
    extra = dict(variance=1.0) if kind == "fixed" else {}
    fit, ref = fit_both(SEPARATED, 128, covariance_type=kind, random_state=0, n_init=2, **extra)
    assert ref.converged_
    assert_same_fit(fit, ref)
    assert [r.loglik for r in fit.restarts_] == pytest.approx(
        [r.loglik for r in ref.restarts_], rel=RTOL
    )


def test_the_result_does_not_depend_on_the_scheduler():
    kwargs = dict(covariance_type="full", tol=0.0, max_iter=10, **start("full"))
    threads, _ = fit_both(X, 97, scheduler="threads", **kwargs)
    synchronous, _ = fit_both(X, 97, scheduler="synchronous", **kwargs)
    np.testing.assert_array_equal(threads.history_, synchronous.history_)
    np.testing.assert_array_equal(threads.covariances_, synchronous.covariances_)


@pytest.mark.parametrize("kind", ["full", "tied", "diag"])
def test_cancelling_components_are_recomputed_exactly(kind, monkeypatch):
    # A narrow cluster 1e5 standard deviations from the others: the covariance formula
    # about the reference point would lose all its digits, so the second pass runs.
    rng = np.random.default_rng(1)
    far = np.vstack([X[:700], 1e5 + 0.01 * rng.normal(size=(300, 3))])
    calls = []
    scatter = emfit_distributed._chunk_exact

    def spy(*args):
        calls.append(args[-1].tolist())
        return scatter(*args)

    monkeypatch.setattr(emfit_distributed, "_chunk_exact", spy)
    precision = np.linalg.inv(np.cov(X[:700], rowvar=False))
    precisions = {"full": np.stack([precision] * 3), "tied": precision,
                  "diag": np.tile(np.diag(precision), (3, 1))}[kind]
    # the far component starts 50 (5000 of its standard deviations) from its cluster
    means = np.vstack([far[[0, 600]], np.full(3, 1e5 - 50.0)])
    init = dict(weights_init=[0.35, 0.35, 0.3], means_init=means, precisions_init=precisions)
    fit, ref = fit_both(far, 128, covariance_type=kind, tol=0.0, max_iter=8, **init)
    assert calls, "the exact recomputation never ran"
    assert_same_fit(fit, ref)


def test_a_constant_feature():
    # its variance is 0 in every component: recomputed exactly at every iteration
    data = np.column_stack([SEPARATED[:, :2], np.full(len(X), 3.0)])
    fit, ref = fit_both(data, 300, covariance_type="diag", random_state=0)
    assert_same_fit(fit, ref)


def test_statistics_of_the_chunks_add_up_to_those_of_the_data():
    params = GaussianParams(X[[0, 600, 900]], np.ones((3, 3)), np.ones((3, 3)))
    log_weights = np.log([0.4, 0.3, 0.3])
    whole = _e_pass(X, log_weights, params, "diag", want_resp=False, want_stats=True)
    parts = [
        chunk_statistics(X[i : i + 300], log_weights, params, "diag") for i in range(0, 1000, 300)
    ]
    loglik, stats = sum_statistics(parts)
    assert loglik == pytest.approx(whole[0], rel=1e-13)
    for got, expected in zip(stats, whole[3]):
        same(got, expected, rtol=1e-13)


def test_fitted_model_predicts_in_memory():
    fit, ref = fit_both(SEPARATED, 200, covariance_type="full", random_state=0)
    np.testing.assert_array_equal(fit.predict(X), ref.predict(X))
    assert fit.bic(X) == pytest.approx(ref.bic(X), rel=RTOL)
    assert fit.n_features_in_ == 3 and fit.n_samples_fit_ == 1000


def test_not_converging_warns_as_in_memory():
    Xd = da.from_array(X, chunks=(250, 3))
    with dask.config.set(scheduler="threads"), pytest.warns(ConvergenceWarning):
        GaussianMixture(3, max_iter=2, random_state=0).fit(Xd)


def test_a_larger_array_initialises_from_a_sample():
    data = three_clusters(12_000, seed=2)
    with dask.config.set(scheduler="threads"):
        fit = GaussianMixture(3, random_state=0, tol=1e-14).fit(
            da.from_array(data, chunks=(5000, 3))
        )
    ref = GaussianMixture(3, random_state=0, tol=1e-14).fit(data)
    assert fit.converged_
    order, ref_order = np.argsort(fit.means_[:, 0]), np.argsort(ref.means_[:, 0])
    # not the same start, but the same maximum
    same(fit.means_[order], ref.means_[ref_order], rtol=1e-4)
    assert fit.loglik_ == pytest.approx(ref.loglik_, rel=1e-10)


# ------------------------------------------------------------------ bad input
def test_chunks_along_columns_are_rechunked():
    fit, ref = fit_both(SEPARATED, 200, covariance_type="full", random_state=0)
    with dask.config.set(scheduler="threads"):
        columns = GaussianMixture(3, covariance_type="full", random_state=0).fit(
            da.from_array(SEPARATED, chunks=(200, 1))
        )
    assert_same_fit(columns, ref)


def test_integer_data_are_converted():
    data = np.round(SEPARATED * 10).astype(np.int64)
    fit, ref = fit_both(data, 300, covariance_type="diag", random_state=0)
    assert_same_fit(fit, ref)


def test_a_1d_array_is_refused():
    with pytest.raises(ValueError, match=r"X must be a 2-d array"):
        GaussianMixture(2).fit(da.from_array(X[:, 0], chunks=100))


def test_fewer_rows_than_components_is_refused():
    with pytest.raises(ValueError, match="n_components=3"):
        GaussianMixture(3).fit(da.from_array(X[:2], chunks=(1, 3)))


def test_concomitant_weights_are_refused():
    with pytest.raises(ValueError, match="Z"):
        GaussianMixture(2).fit(da.from_array(X, chunks=(100, 3)), Z=X[:, :1])


def test_unknown_chunk_sizes_are_refused():
    Xd = da.from_array(X, chunks=(100, 3))
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        GaussianMixture(2).fit(Xd[Xd[:, 0] > 0])


# ------------------------------------------------------------------ a real cluster
@pytest.mark.slow
def test_local_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed")
    kwargs = dict(covariance_type="full", tol=0.0, max_iter=10, **start("full"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(3, **kwargs).fit(X)
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster, distributed.Client(cluster) as client:
            Xd = da.from_array(X, chunks=(300, 3))
            placed = emfit_distributed._placed(Xd)
            assert placed is not Xd  # small enough: persisted on the workers
            assert emfit_distributed._current_client() is client
            fit = GaussianMixture(3, **kwargs).fit(Xd)
            default = GaussianMixture(3, random_state=0).fit(
                da.from_array(SEPARATED, chunks=(300, 3))
            )
    assert_same_fit(fit, ref)
    assert_same_fit(default, GaussianMixture(3, random_state=0).fit(SEPARATED))


@pytest.mark.parametrize("kind", KINDS)
def test_data_variances_come_from_the_statistics(kind):
    # The degeneracy rule's per-feature variances, by the law of total variance, from
    # the first iteration; accurate far beyond the rule's needs (it compares with 1e-10),
    # also for a feature of spread 1e-3 offset by 1e6.
    family = emfit_distributed._DaskGaussianFamily(kind)
    data = three_clusters(1000, seed=3) * [1.0, 1e-3, 1e4] + [0.0, 1e6, -5.0]
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one iteration, on purpose
        fit_em(da.from_array(data, chunks=(300, 3)), family, 3, random_state=0, max_iter=1)
    np.testing.assert_allclose(family._data_variances, data.var(axis=0), rtol=1e-6)


def test_one_pass_over_the_chunks_per_iteration(monkeypatch):
    passes = []
    map_chunks = emfit_distributed._map_chunks

    def count(function, *args):
        passes.append(function.__name__)
        return map_chunks(function, *args)

    monkeypatch.setattr(emfit_distributed, "_map_chunks", count)
    fit, _ = fit_both(SEPARATED, 128, covariance_type="full", tol=0.0, max_iter=7, **start("full"))
    # one map per iteration, one for l at the final parameters; nothing else (the start
    # is given, and the data variances come from the first iteration's statistics)
    assert passes == ["chunk_statistics"] * 7 + ["_chunk_loglik"]
    assert fit.n_iter_ == 7


@pytest.mark.skipif(
    "accelerate" not in GaussianMixture().get_params(), reason="no SQUAREM in the driver"
)
def test_squarem_on_chunks():
    # the driver's acceleration works on any family's em_step, the chunked one too
    kwargs = dict(covariance_type="diag", accelerate="squarem", max_iter=5, **start("diag"))
    fit, ref = fit_both(X, 250, **kwargs)
    assert_same_fit(fit, ref)
