"""Cost of concomitant mixing weights: the same EM fit with and without them.

For n = 10,000 and 100,000 observations of a two-component mixture of Poisson
regressions whose weights depend on a covariate ``z`` (a logit ``0.3 + 1.5 z``), from
the same fixed start, prints for ``PoissonRegressionMixture``

* the time of one EM iteration with constant weights and with weights
  ``pi_k(z_i)`` (multinomial logit, Newton M-step), and their ratio,
* the iterations and the time to convergence (tol 1e-8) of both fits, and the gain
  in log-likelihood that the concomitant model buys.

Timings are medians over ``--repeats`` fits, BLAS limited to one thread (as inside
``fit``). Run: ``python benchmarks/bench_concomitant.py [--sizes 10000 100000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from emfit.poisson import PoissonRegressionMixture


def simulate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1))
    z = rng.normal(size=(n, 1))
    second = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 1.5 * z[:, 0])))
    y = rng.poisson(np.exp(np.where(second, 2.0 - 0.5 * x[:, 0], 0.5 + 1.5 * x[:, 0])))
    return x, y, z


def timed_fit(X, y, Z, repeats: int) -> tuple[float, PoissonRegressionMixture]:
    times, model = [], None
    for _ in range(repeats):
        model = PoissonRegressionMixture(
            2,
            tol=1e-8,
            weights_init=[0.5, 0.5],
            coef_init=[[1.0], [0.0]],
            intercept_init=[0.0, 1.5],
        )
        t = time.perf_counter()
        model.fit(X, y, Z=Z)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'n':>8} {'model':>12} {'iters':>6} {'fit s':>8} {'ms/iter':>8} {'loglik':>14}")
    with threadpool_limits(limits=1, user_api="blas"):
        for n in args.sizes:
            X, y, Z = simulate(n)
            per_iter = {}
            lls = {}
            for name, z in (("constant", None), ("concomitant", Z)):
                seconds, model = timed_fit(X, y, z, args.repeats)
                per_iter[name] = 1e3 * seconds / model.n_iter_
                lls[name] = model.loglik_
                print(
                    f"{n:>8} {name:>12} {model.n_iter_:>6} {seconds:>8.3f} "
                    f"{per_iter[name]:>8.2f} {model.loglik_:>14.3f}"
                )
            print(
                f"{n:>8} ratio of time per iteration (concomitant / constant): "
                f"{per_iter['concomitant'] / per_iter['constant']:.2f}; "
                f"gain in log-likelihood {lls['concomitant'] - lls['constant']:.1f}"
            )


if __name__ == "__main__":
    main()
