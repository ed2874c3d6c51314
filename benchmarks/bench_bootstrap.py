"""Speed of the parametric bootstrap LR test, in one process and on two worker processes.

Two cases, each run with ``n_jobs=1`` (replicates in this process) and ``n_jobs=2``
(joblib's loky worker processes):

* Old Faithful (:func:`emfit.datasets.load_faithful`, n = 272): ``GaussianMixture``,
  full covariances, ``K = 2`` against ``K = 3``, ``n_init=3``;
* a simulated mixture of two Poisson regressions with intercepts (n = 1,000):
  ``PoissonRegressionMixture``, ``K = 2`` against ``K = 3``, ``n_init=2``.

Both with ``tol=1e-8`` (the relative change of the log-likelihood; mclust stops at
1e-5), so that a run takes seconds.

Prints, for each, the replicates per second, the speed-up of two workers over one
process, and whether the two runs gave the same bootstrap statistics (they must:
each replicate depends only on its own seed). The worker processes are started
(and import emfit) before the timing; that one-off cost is printed separately.
Run: ``python benchmarks/bench_bootstrap.py [--n-boot 24]``; well under a minute on
two idle cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from joblib import Parallel, delayed

from emfit import GaussianMixture, PoissonRegressionMixture
from emfit.bootstrap import bootstrap_lrt
from emfit.datasets import load_faithful, make_poisson_regression_mixture


def cases(n_poisson: int) -> dict[str, tuple]:
    X, y, _ = make_poisson_regression_mixture(
        n_poisson,
        coef=((1.5,), (-0.5,)),
        intercept=(0.5, 2.0),
        weights=(0.4, 0.6),
        x_range=(-1.0, 1.0),
        random_state=0,
    )
    return {
        "faithful GMM 2 vs 3": (
            GaussianMixture(2, covariance_type="full", n_init=3, tol=1e-8, random_state=0),
            (load_faithful(),),
        ),
        f"Poisson n={n_poisson:,} 2 vs 3": (
            PoissonRegressionMixture(2, n_init=2, tol=1e-8, random_state=0),
            (X, y),
        ),
    }


def start_workers(n_jobs: int) -> float:
    """Start the loky workers and import emfit in them; the seconds it took."""
    t = time.perf_counter()
    Parallel(n_jobs=n_jobs)(delayed(__import__)("emfit.bootstrap") for _ in range(2 * n_jobs))
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=24)
    parser.add_argument("--n-poisson", type=int, default=1000)
    args = parser.parse_args()
    print(f"worker start-up and import (n_jobs=2): {start_workers(2):.1f} s")
    print(
        f"{'case':<24} {'T':>8} {'p':>6} {'rep/s 1':>8} {'rep/s 2':>8} "
        f"{'speed-up':>8} {'same':>5}"
    )
    for name, (estimator, data) in cases(args.n_poisson).items():
        rate, result = {}, {}
        for n_jobs in (1, 2):
            t = time.perf_counter()
            result[n_jobs] = bootstrap_lrt(estimator, *data, n_boot=args.n_boot, n_jobs=n_jobs)
            rate[n_jobs] = args.n_boot / (time.perf_counter() - t)
        same = np.array_equal(result[1].boot_statistics, result[2].boot_statistics)
        print(
            f"{name:<24} {result[1].statistic:>8.2f} {result[1].p_value:>6.3f} "
            f"{rate[1]:>8.2f} {rate[2]:>8.2f} {rate[2] / rate[1]:>8.2f} {str(same):>5}",
            flush=True,
        )
    print(
        "rep/s 1, rep/s 2: replicates per second with n_jobs=1 and n_jobs=2 (two fits per "
        "replicate, plus the two fits to the data); speed-up: their ratio."
    )


if __name__ == "__main__":
    main()
