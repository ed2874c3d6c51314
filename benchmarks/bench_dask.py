"""EM on an array larger than each worker's memory: GaussianMixture.fit on a dask array.

A LocalCluster of two worker processes, each capped at ``--worker-memory`` (1 GB),
fits a three-component diagonal Gaussian mixture to an array of ``--gb`` (4 GB)
of float64 that is never held anywhere whole: its chunks are drawn lazily by
``dask.array.random`` (the same numbers at every pass, from per-chunk seeds), and
every EM iteration streams them through the workers once
(:mod:`emfit.distributed`). The script prints the time of each pass over the data
and the peak memory of each worker (the largest process memory its system monitor
recorded, and the peak resident set size of the worker process), next to the cap.

    python benchmarks/bench_dask.py              # 4 GB, 2 iterations (2-3 minutes on 2 cores)
    python benchmarks/bench_dask.py --gb 0.5     # a quick run

If the machine has too little free memory for two workers at the cap, the array
and the caps are scaled down together, and the output says so.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import dask.array as da
import numpy as np
import psutil
from distributed import Client, LocalCluster

import emfit.distributed as emfit_distributed
from emfit import GaussianMixture
from emfit.em import ConvergenceWarning

D = 8
CENTRES = np.array(
    [np.zeros(D), np.full(D, 4.0), np.r_[np.full(D // 2, -4.0), np.zeros(D - D // 2)]]
)
SCALES = np.array([1.0, 0.5, 1.5])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def simulate(n: int, rows: int, seed: int = 0) -> da.Array:
    """``n`` draws of the mixture in chunks of ``rows``: nothing is computed yet."""
    rng = da.random.default_rng(seed)
    noise = rng.standard_normal((n, D), chunks=(rows, D))
    labels = rng.choice(3, size=n, p=WEIGHTS, chunks=rows)

    def place(z: np.ndarray, k: np.ndarray) -> np.ndarray:
        return CENTRES[k[:, 0]] + SCALES[k[:, 0], None] * z

    return da.map_blocks(place, noise, labels[:, None], dtype=np.float64)


def peak_memory(dask_worker) -> tuple[float, float]:
    """(largest process memory in the worker's system monitor, peak RSS), in bytes."""
    sampled = max(dask_worker.monitor.quantities["memory"])
    return float(sampled), float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.0, help="size of the array (GB)")
    parser.add_argument("--worker-memory", type=float, default=1.0, help="cap per worker (GB)")
    parser.add_argument("--chunk-mb", type=float, default=32.0, help="size of a chunk (MB)")
    parser.add_argument("--iterations", type=int, default=2, help="EM iterations")
    args = parser.parse_args()

    size, cap = args.gb * 1e9, args.worker_memory * 1e9
    available = psutil.virtual_memory().available
    if 2 * cap > 0.8 * available:  # two workers must fit, with room for the client
        scale = 0.8 * available / (2 * cap)
        size, cap = size * scale, cap * scale
        print(f"NOTE: {available / 1e9:.1f} GB free: array and caps scaled down by {scale:.2f}")
    rows = int(args.chunk_mb * 1e6 // (8 * D))
    n = int(size // (8 * D))
    X = simulate(n, rows)
    print(
        f"array: {n:,} x {D} float64 = {X.nbytes / 1e9:.2f} GB in {X.numblocks[0]} chunks "
        f"of {rows * D * 8 / 1e6:.0f} MB; 2 workers x 1 thread, each capped at "
        f"{cap / 1e9:.2f} GB ({X.nbytes / cap:.1f} times the array)"
    )

    timings: list[float] = []
    em_step = emfit_distributed._DaskGaussianFamily.em_step

    def timed(self, *a, **k):
        t = time.perf_counter()
        try:
            return em_step(self, *a, **k)
        finally:
            timings.append(time.perf_counter() - t)

    emfit_distributed._DaskGaussianFamily.em_step = timed  # time each pass over the data
    init = dict(
        weights_init=[1 / 3] * 3,
        means_init=CENTRES + 0.5,
        precisions_init=np.ones((3, D)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's start-up notes; tol=0 stops at max_iter
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit=cap,
            dashboard_address=None,
        ) as cluster, Client(cluster) as client:
            placed = emfit_distributed._placed(X)
            print("data:", "persisted on the workers" if placed is not X else
                  "streamed (recomputed from the generator at every pass)")
            workers = set(client.scheduler_info(n_workers=-1)["workers"])
            start = time.perf_counter()
            model = GaussianMixture(
                3, covariance_type="diag", tol=0.0, max_iter=args.iterations, **init
            ).fit(X)
            total = time.perf_counter() - start
            peaks = client.run(peak_memory)
            same_workers = set(peaks) == workers  # none was killed and restarted
    emfit_distributed._DaskGaussianFamily.em_step = em_step

    print(f"fit: {total:.1f} s for {model.n_iter_} iterations "
          f"({len(timings)} passes over the data, the last one for l at the final parameters)")
    for i, t in enumerate(timings):
        what = "E-step and M-step" if i < len(timings) - 1 else "E-step (final l)"
        print(f"  pass {i + 1}: {t:6.1f} s  ({what}, {X.nbytes / 1e9 / t:.2f} GB/s)")
    print(f"time per iteration (median pass): {np.median(timings):.1f} s")
    for address, (sampled, rss) in sorted(peaks.items()):
        print(f"worker {address}: peak memory {sampled / 1e9:.2f} GB (monitor), "
              f"{rss / 1e9:.2f} GB (peak RSS); cap {cap / 1e9:.2f} GB")
    print("workers restarted during the fit:", "none" if same_workers else "SOME (over the cap?)")
    order = np.argsort(model.means_[:, 0])
    print("weights:", np.round(model.weights_[order], 3), "(true: [0.2 0.5 0.3] in this order)")
    print("loglik per row:", round(model.loglik_ / n, 4))


if __name__ == "__main__":
    main()
