"""Speed of the Poisson-regression-mixture EM, and of its M-step against statsmodels.

For n = 10,000, 100,000 and 1,000,000 observations of a two-component mixture of
Poisson regressions (intercept and one covariate), from a fixed start, prints

* the time of one EM iteration (E-step + M-step; median over iterations),
* the time and the number of iterations to convergence (relative change of the
  log-likelihood below 1e-8), for the estimator ``PoissonRegressionMixture``,
* the time of one M-step (both components' weighted Poisson regressions, warm-started
  as in EM), of one cold weighted fit (``fit_weighted_poisson`` from the IRLS start),
  and of one ``statsmodels`` weighted Poisson GLM fit (``var_weights``) of the same
  size,
* the ratios to that ``statsmodels`` fit: of one EM iteration, of the whole EM fit, of
  one M-step and of one cold weighted fit.

All timings are medians over ``--repeats`` runs, with BLAS limited to one thread for
both libraries (what emfit does inside ``fit``; on a shared 2-core machine BLAS threads
only add noise). They are CPU times of the process (``--clock cpu``, the default),
which other jobs on a shared machine disturb much less than wall-clock times
(``--clock wall``); on an idle machine the two agree. Run:
``python benchmarks/bench_poisson.py [--sizes 10000 100000] [--clock wall]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from emfit.em import e_step, fit_em
from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    PoissonRegressionMixture,
    design_matrix,
    fit_weighted_poisson,
)

TRUE_WEIGHTS = np.array([0.4, 0.6])
TRUE_COEF = np.array([[0.5, 1.5], [2.0, -0.5]])  # rows: (intercept, slope)
START_WEIGHTS = np.array([0.5, 0.5])
START_COEF = np.array([[0.0, 1.0], [1.5, 0.0]])


def simulate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1))
    z = rng.choice(2, size=n, p=TRUE_WEIGHTS)
    y = rng.poisson(np.exp(TRUE_COEF[z, 0] + TRUE_COEF[z, 1] * x[:, 0]))
    return x, y


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def median_time(f, repeats: int, clock=time.process_time) -> float:
    times = []
    for _ in range(repeats):
        t = clock()
        f()
        times.append(clock() - t)
    return float(np.median(times))


def bench(n: int, repeats: int, clock=time.process_time) -> dict[str, float]:
    x, y = simulate(n)
    X = design_matrix(x)
    data = PoissonRegressionData.from_arrays(X, y)
    family = PoissonRegressionFamily()
    out: dict[str, float] = {"n": n}

    # One EM iteration: 20 iterations from the fixed start, per-iteration median.
    iters = 20
    per_iter = []
    for _ in range(repeats):
        t = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning (tol=0)
            fit_em(
                data,
                family,
                2,
                weights_init=START_WEIGHTS,
                params_init=START_COEF,
                tol=0.0,
                max_iter=iters,
            )
        per_iter.append((clock() - t) / (iters + 1))  # + the final E-step
    out["iter_ms"] = 1e3 * float(np.median(per_iter))

    # To convergence with the estimator (validation and design matrix included).
    model = PoissonRegressionMixture(
        2,
        tol=1e-8,
        weights_init=START_WEIGHTS,
        coef_init=START_COEF[:, 1:],
        intercept_init=START_COEF[:, 0],
    )
    out["fit_s"] = median_time(lambda: model.fit(x, y), repeats, clock)
    out["fit_iter"] = model.n_iter_
    out["fit_err"] = float(
        np.abs(np.column_stack([model.intercept_, model.coef_]) - TRUE_COEF).max()
    )

    # One M-step (both components), with the responsibilities at the start.
    log_resp, _ = e_step(np.log(START_WEIGHTS), family.log_prob(data, START_COEF))
    resp = np.exp(log_resp)
    # ... warm-started from the coefficients one EM iteration earlier, as inside EM:
    warm = family.m_step(data, resp, START_COEF)
    warm_start = START_COEF + 0.5 * (warm - START_COEF)
    m_step = lambda: family.m_step(data, resp, warm_start)
    out["mstep_ms"] = 1e3 * median_time(m_step, repeats, clock)
    w = np.ascontiguousarray(resp[:, 0])
    out["cold_ms"] = 1e3 * median_time(lambda: fit_weighted_poisson(X, y, None, w), repeats, clock)
    glm = lambda: sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w).fit()
    out["sm_ms"] = 1e3 * median_time(glm, repeats, clock)
    ref = glm().params
    out["sm_diff"] = float(np.abs(fit_weighted_poisson(X, y, None, w).coef - ref).max())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    print(f"{args.clock} time; load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'n':>9} {'ms/iter':>8} {'fit s':>7} {'iters':>5} {'max err':>8} "
        f"{'M-step ms':>9} {'cold ms':>8} {'sm ms':>8} {'iter/sm':>7} {'fit/sm':>6} "
        f"{'M/sm(K=2)':>9} {'cold/sm':>7}"
    )
    with threadpool_limits(limits=1, user_api="blas"):
        for n in args.sizes:
            r = bench(n, args.repeats if n < 1_000_000 else max(1, args.repeats // 2), clock)
            print(
                f"{r['n']:>9,d} {r['iter_ms']:>8.2f} {r['fit_s']:>7.3f} {r['fit_iter']:>5d} "
                f"{r['fit_err']:>8.4f} {r['mstep_ms']:>9.2f} {r['cold_ms']:>8.2f} "
                f"{r['sm_ms']:>8.2f} {r['iter_ms'] / r['sm_ms']:>7.3f} "
                f"{1e3 * r['fit_s'] / r['sm_ms']:>6.2f} {r['mstep_ms'] / r['sm_ms']:>9.3f} "
                f"{r['cold_ms'] / r['sm_ms']:>7.3f}",
                flush=True,
            )
    print(
        "Ratios to one statsmodels weighted GLM fit of the same size: iter/sm, one EM "
        "iteration; fit/sm, the EM fit to convergence; M/sm(K=2), one EM M-step (two "
        "warm-started weighted fits); cold/sm, one cold weighted fit."
    )


if __name__ == "__main__":
    main()
