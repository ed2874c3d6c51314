"""Speed of emfit.GaussianMixture against scikit-learn, from identical initial parameters.

Both estimators run a fixed number of EM iterations (``tol=0``, no early stop) from the
same weights, means and precisions; the script prints, per case, the median wall time
of each, the ratio sklearn/emfit (> 1 means emfit is faster), the relative
difference of the final total log-likelihoods (scikit-learn's is ``score(X) * n``, at
its final parameters, like emfit's ``loglik_``), emfit's time per iteration (the fit's
time over its iterations) and its rate in GFLOP/s.

The rate counts the floating-point operations of one iteration written as dense matrix
products (:func:`nominal_flops`), next to the rate of one large float64 matrix product
measured in the same run (numpy with the machine's BLAS and threads): how close the
iteration comes to the machine's peak.

Run it with the BLAS kernel the machine would pick by itself, e.g.::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gaussian.py
    python benchmarks/bench_gaussian.py --quick      # fewer iterations and repeats

The machine is shared and timings are noisy: each case is repeated and the median
reported.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_info

from emfit import GaussianMixture

CASES = [
    (200_000, 16, 8, "full"),
    (200_000, 2, 3, "full"),
    (200_000, 16, 8, "diag"),
    (200_000, 16, 8, "spherical"),
]


def make_case(n: int, d: int, K: int, covariance_type: str, seed: int = 0):
    """Data from K well-separated Gaussian clusters and a shared initialisation."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(K, d))
    X = centres[rng.integers(0, K, n)] + rng.normal(size=(n, d))
    means = X[rng.choice(n, K, replace=False)]
    P = np.linalg.inv(np.atleast_2d(np.cov(X.T)))
    precisions = {
        "full": np.repeat(P[None], K, axis=0),
        "tied": P,
        "diag": np.repeat(np.diag(P)[None], K, axis=0),
        "spherical": np.full(K, np.diag(P).mean()),
    }[covariance_type]
    init = {
        "weights_init": np.full(K, 1.0 / K),
        "means_init": means,
        "precisions_init": precisions,
    }
    return X, init


def nominal_flops(n: int, d: int, K: int, covariance_type: str) -> float:
    """Floating-point operations of one EM iteration, as dense matrix products.

    Full (and tied) covariances: the Mahalanobis terms ``[x - c, 1] @ A``, ``A`` of
    shape ``(d + 1, K d)``, and the weighted scatter ``W' @ [x - c, 1]`` of the same
    size, ``2 n (d + 1) K d`` each. Diagonal and spherical: the log-densities
    ``[x - c, (x - c)^2, 1] @ B``, ``B`` of shape ``(2 d + 1, K)``, and the
    statistics ``R' @ [x - c, (x - c)^2]``, ``2 n (2 d + 1) K`` each. Exploiting
    triangular and symmetric factors, emfit does fewer; exp and log are not counted.
    """
    if covariance_type in ("full", "tied"):
        return 4.0 * n * (d + 1) * K * d
    return 4.0 * n * (2 * d + 1) * K


def matmul_peak(size: int = 2000, repeats: int = 3) -> float:
    """GFLOP/s of the fastest of ``repeats`` float64 products of two (size, size) matrices."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    a @ b  # warm up the BLAS threads
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_case(n, d, K, covariance_type, n_iter, repeats):
    X, init = make_case(n, d, K, covariance_type)
    common = dict(covariance_type=covariance_type, max_iter=n_iter, tol=0.0, **init)
    sk = SkGaussianMixture(K, init_params="random", **common)
    em = GaussianMixture(K, **common)
    t_sk, t_em = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(repeats):  # alternate, so both see the same machine load
            t0 = time.perf_counter()
            sk.fit(X)
            t_sk.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            em.fit(X)
            t_em.append(time.perf_counter() - t0)
    ll_sk = sk.score(X) * n
    rel = abs(ll_sk - em.loglik_) / abs(ll_sk)
    return statistics.median(t_sk), statistics.median(t_em), rel, em.n_iter_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 iterations, 3 repeats")
    parser.add_argument("--iter", type=int, default=None, help="EM iterations per fit")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per case")
    args = parser.parse_args(argv)
    n_iter = args.iter or (5 if args.quick else 20)
    repeats = args.repeats or (3 if args.quick else 5)

    for info in threadpool_info():
        if info.get("user_api") == "blas":
            print(
                f"# BLAS {info.get('internal_api')} {info.get('version')} "
                f"kernel={info.get('architecture')} threads={info.get('num_threads')}"
            )
    peak = matmul_peak()
    print(f"# numpy float64 matrix product (2000 x 2000): {peak:.1f} GFLOP/s")
    print(f"# {n_iter} EM iterations per fit, median of {repeats} fits")
    header = f"{'n':>7} {'d':>3} {'K':>2} {'type':<9} {'sklearn s':>9} {'emfit s':>8}"
    print(header + f" {'sk/emfit':>8} {'rel dlogL':>9} {'ms/it':>6} {'GFLOP/s':>7} {'peak':>5}")
    for n, d, K, kind in CASES:
        t_sk, t_em, rel, iters = run_case(n, d, K, kind, n_iter, repeats)
        per_iter = t_em / max(iters, 1)
        rate = nominal_flops(n, d, K, kind) / per_iter / 1e9
        print(
            f"{n:>7} {d:>3} {K:>2} {kind:<9} {t_sk:>9.3f} {t_em:>8.3f} "
            f"{t_sk / t_em:>8.2f} {rel:>9.1e} {per_iter * 1e3:>6.1f} {rate:>7.1f} {peak:>5.0f}"
        )


if __name__ == "__main__":
    main()
