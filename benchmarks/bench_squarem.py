"""SQUAREM against plain EM: EM-map evaluations and time to convergence.

For four fits, from the same start (the family's initialisation with a fixed seed),
both methods run to ``tol = 1e-8`` (relative change of the log-likelihood between
accepted steps) and the script prints the accepted steps (``n_iter``), the
evaluations of the EM map (``n_em_evaluations``, calls of the family's ``em_step``),
the time, the final log-likelihood and the ratios plain / SQUAREM:

* ``gauss3``: 2-d Gaussians, n = 20,000, K = 3 full covariances, heavily overlapping
  (plain EM needs hundreds of iterations);
* ``faithful``: Old Faithful (:func:`emfit.datasets.load_faithful`), K = 2 full
  (plain EM converges in a few dozen iterations: the case where acceleration has
  least to gain);
* ``fish``: the sheet's Poisson simulation
  (:func:`emfit.datasets.make_poisson_regression_mixture`, ``lambda = exp(beta_k x)``,
  no intercept), n = 20,000;
* ``fish+b``: the same with intercepts ``(0.5, -0.3)``, n = 20,000.

**Same maximum.** At ``tol = 1e-8`` plain EM stops where the log-likelihood still
grows by ``1e-8`` of itself per iteration; on a slow case (convergence rate ``r``
close to 1) that is ``r / (1 - r)`` times as far from the maximum, so the two
methods' values at ``tol = 1e-8`` can differ by far more than ``1e-9``. The script
therefore also continues each fit (same method, from where it stopped) to
``tol = 1e-13`` and asserts that both reach the same log-likelihood to ``1e-9``
relative. It prints the gap at ``tol = 1e-8`` as well.

Targets (reported, not asserted): >= 3x fewer EM-map evaluations on slow cases, never
more than 20% slower. Times are CPU times of the process (``--clock cpu``, the
default; the Gaussian E-step's worker threads included), which other jobs on a
shared machine disturb less than wall-clock times (``--clock wall``); the best of
``--repeats`` runs. Run: ``python benchmarks/bench_squarem.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from emfit.datasets import load_faithful, make_poisson_regression_mixture
from emfit.em import fit_em
from emfit.gaussian import GaussianFamily
from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily, design_matrix

TOL = 1e-8
TOL_CHECK = 1e-13
LOGLIK_RTOL = 1e-9
METHODS = (None, "squarem")


def overlapping_gaussians(n: int = 20_000, seed: int = 0) -> np.ndarray:
    """Three heavily overlapping 2-d Gaussians of different shapes."""
    means = np.array([[0.0, 0.0], [1.2, 0.3], [0.3, 1.2]])
    covs = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 0.5]],
                     [[1.5, -0.5], [-0.5, 1.0]]])
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
    noise = np.einsum("nij,nj->ni", np.linalg.cholesky(covs)[z], rng.normal(size=(n, 2)))
    return means[z] + noise


def fish(intercept: tuple[float, float] | None, n: int = 20_000):
    x, y, _ = make_poisson_regression_mixture(n, intercept=intercept, random_state=0)
    D = design_matrix(x, fit_intercept=intercept is not None)
    return PoissonRegressionData.from_arrays(D, y)


def cases():
    yield "gauss3", overlapping_gaussians(), GaussianFamily("full"), 3
    yield "faithful", load_faithful(), GaussianFamily("full"), 2
    yield "fish", fish(None), PoissonRegressionFamily(), 2
    yield "fish+b", fish((0.5, -0.3)), PoissonRegressionFamily(), 2


def run(data, family, K, weights, params, accelerate, tol, max_iter=100_000):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning, no decrease allowed
        return fit_em(data, family, K, weights_init=weights, params_init=params, tol=tol,
                      max_iter=max_iter, accelerate=accelerate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    header = (f"{'case':9s} {'method':8s} {'n_iter':>7s} {'evals':>7s} {'seconds':>8s} "
              f"{'loglik (tol 1e-8)':>20s} {'loglik (tol 1e-13)':>20s}")
    print(f"time to tol={TOL:g}, {args.clock} clock, best of {args.repeats}")
    print(header)
    print("-" * len(header))
    summary = []
    for name, data, family, K in cases():
        weights, params = family.initialize(data, K, np.random.default_rng(0))
        fits, seconds, checked = {}, {}, {}
        for method in METHODS:
            times = []
            for _ in range(args.repeats):
                start = clock()
                fits[method] = run(data, family, K, weights, params, method, TOL)
                times.append(clock() - start)
            seconds[method] = min(times)
            fit = fits[method]
            # continue from where it stopped, by the same method, to check the maximum
            checked[method] = run(data, family, K, fit.weights, fit.params, method, TOL_CHECK)
            print(f"{name:9s} {str(method):8s} {fit.n_iter:7d} {fit.n_em_evaluations:7d} "
                  f"{seconds[method]:8.3f} {fit.loglik:20.10f} {checked[method].loglik:20.10f}")
        plain, fast = fits[None], fits["squarem"]
        l_plain, l_fast = checked[None].loglik, checked["squarem"].loglik
        assert abs(l_fast - l_plain) <= LOGLIK_RTOL * abs(l_plain), (name, l_plain, l_fast)
        summary.append((
            name,
            plain.n_iter / fast.n_iter,
            plain.n_em_evaluations / fast.n_em_evaluations,
            seconds[None] / seconds["squarem"],
            (fast.loglik - plain.loglik) / abs(plain.loglik),
            (l_fast - l_plain) / abs(l_plain),
        ))
    print()
    print("ratios plain / squarem (> 1: SQUAREM does better); relative gaps squarem - plain")
    columns = ("n_iter", "evals", "time")
    print(f"{'case':9s} " + " ".join(f"{c:>7s}" for c in columns)
          + f" {'gap 1e-8':>10s} {'gap 1e-13':>10s}")
    for name, it, ev, t, gap, gap_check in summary:
        print(f"{name:9s} {it:7.2f} {ev:7.2f} {t:7.2f} {gap:10.1e} {gap_check:10.1e}")
    print(f"\nsame maximum (continued to tol={TOL_CHECK:g}): every case within "
          f"{LOGLIK_RTOL:g} relative")


if __name__ == "__main__":
    # The Poisson loop is made of small matrix-vector products; BLAS threads only add
    # noise on a shared machine (PoissonRegressionMixture.fit limits them the same way).
    with threadpool_limits(limits=1, user_api="blas"):
        main()
