r"""The parametric bootstrap likelihood-ratio test for the number of components.

:func:`bootstrap_lrt` tests ``K`` components (the null) against ``K + 1`` (the
alternative) as McLachlan (1987) proposed and as R's ``mclust::mclustBootstrapLRT``
does: fit both models to the data, compute the likelihood-ratio statistic

.. math:: T = 2\,(\ell_{K+1} - \ell_K),

then simulate ``B`` data sets from the fitted ``K``-component model, refit both models
to each, and compare ``T`` with the ``B`` simulated statistics ``T^*_b``:

.. math:: p = \frac{1 + \#\{b : T^*_b \ge T\}}{B + 1}.

**Why not a chi-square.** Wilks' theorem needs the null to be an interior point of
the alternative's parameter space, at which the alternative is identifiable with a
non-singular Fisher information. A ``K``-component mixture is a ``(K + 1)``-component
mixture either with a weight ``pi_{K+1} = 0`` (a point on the *boundary* of the
parameter space, at which the parameters of the empty component are not identified
at all) or with two equal components (whose weights are then identified only through
their sum). Neither set is a regular point, and the statistic is not asymptotically
chi-square with the difference in the number of parameters as degrees of freedom:
its null distribution depends on the model, the parameters and ``n`` (for the
univariate normal mixture with unknown means, ``T`` is not even bounded in
probability as ``n`` grows; Hartigan 1985). The bootstrap estimates that distribution
by simulation instead.

**Reproducibility and parallelism.** ``random_state`` seeds a
:class:`numpy.random.SeedSequence`; replicate ``b`` draws its data and the seeds of
its two fits from the ``b``-th child of that sequence only, so it is the same whatever
``n_jobs`` and whatever ``n_boot`` (replicate 3 of a run with ``n_boot=19`` is
replicate 3 of a run with ``n_boot=99``). Replicates run in order in this process
(``n_jobs`` None or 1) or in ``joblib`` worker processes (results collected in
replicate order); every replicate runs with BLAS on one thread, so both paths compute
the same numbers, and two worker processes do not compete for the same cores.

**Degenerate replicate fits.** Under the null, the ``K + 1`` fit to simulated data
often ends with a component holding less than one observation, which
:func:`~emfit.em.fit_em` sets aside as degenerate. Such a fit is the ``K``-component
fit embedded in the ``(K + 1)``-component parameter space, a valid point of it, so its
log-likelihood counts in the replicate. A fit whose every restart collapsed (an
unbounded likelihood) or failed has no usable value; the replicate then redraws its
data, as ``mclustBootstrapLRT`` does (see :func:`bootstrap_lrt`, Notes).

References
----------
G. J. McLachlan (1987), "On bootstrapping the likelihood ratio test statistic for the
number of components in a normal mixture", *Journal of the Royal Statistical Society,
Series C (Applied Statistics)* 36(3), 318--324.

J. A. Hartigan (1985), "A failure of likelihood asymptotics for normal mixtures",
*Proceedings of the Berkeley Conference in Honor of Jerzy Neyman and Jack Kiefer*,
vol. II, 807--810.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import clone
from threadpoolctl import ThreadpoolController
from tqdm import tqdm

from ._validation import check_positive_int
from .em import ConvergenceWarning, DegenerateFitError, DegenerateRestartWarning, RestartResult

__all__ = ["BootstrapLRT", "bootstrap_lrt"]

#: Errors of a replicate fit that :func:`bootstrap_lrt` reports as a RuntimeError
#: naming the replicate (a degenerate fit: numpy's LinAlgError is a ValueError).
_REPLICATE_ERRORS: tuple[type[BaseException], ...] = (FloatingPointError, ValueError)
#: Kinds of degenerate restart whose log-likelihood a replicate uses: None (a regular
#: restart) and "weight" (a component below one observation: a fit with fewer
#: components, a valid point of the parameter space).
_USABLE_KINDS = (None, "weight")  # "weight": T* = 0 when no regular restart exists
#: How many times a replicate redraws its data when a fit has no usable restart.
MAX_REDRAWS = 10
#: Keyword arguments of ``sample`` that are never taken from ``fit_params``.
_NOT_FROM_FIT_PARAMS = frozenset({"self", "n_samples", "X", "random_state"})
_THREADPOOLS: ThreadpoolController | None = None


@dataclass(frozen=True, eq=False)
class BootstrapLRT:
    """The result of :func:`bootstrap_lrt`.

    Attributes
    ----------
    n_components : int
        ``K``, the number of components of the null; the alternative has ``K + 1``.
    statistic : float
        ``T = 2 (l_{K+1} - l_K)`` on the data, clipped at 0 (see :func:`bootstrap_lrt`).
    p_value : float
        ``(1 + #{b : T*_b >= T}) / (n_boot + 1)``, between ``1 / (n_boot + 1)`` and 1.
    boot_statistics : ndarray of shape (n_boot,)
        ``T*_b`` of each replicate, in replicate order (read-only).
    loglik_null : float
        Total log-likelihood of the data under the fitted ``K``-component model.
    loglik_alt : float
        Total log-likelihood of the data under the fitted ``(K + 1)``-component model.
    n_boot : int
        Number of bootstrap replicates ``B``.
    n_not_converged : int
        How many of the ``2 n_boot`` replicate fits stopped at ``max_iter`` before
        meeting the stopping rule (their :class:`~emfit.em.ConvergenceWarning` is
        counted here instead of shown); for each fit, the restart whose
        log-likelihood is used.
    n_degenerate : int
        How many of the ``2 n_boot`` replicate fits had a restart ending with a
        mixing weight below one observation (set aside by the fit, with a
        :class:`~emfit.em.DegenerateRestartWarning`, or refused with a
        :class:`~emfit.em.DegenerateFitError` when every restart was so); their
        log-likelihoods are used nonetheless (see :func:`bootstrap_lrt`, Notes).
    n_redrawn : int
        How many simulated data sets were discarded and redrawn, over all the
        replicates, because a fit had no usable restart (every one collapsed or
        failed).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.bootstrap import BootstrapLRT
    >>> r = BootstrapLRT(1, 0.5, 0.75, np.array([0.1, 2.0, 0.7]), -10.0, -9.75, 3, 0)
    >>> bool(r.p_value == (1 + np.sum(r.boot_statistics >= r.statistic)) / (r.n_boot + 1))
    True
    """

    n_components: int
    statistic: float
    p_value: float
    boot_statistics: np.ndarray
    loglik_null: float
    loglik_alt: float
    n_boot: int
    n_not_converged: int = 0
    n_degenerate: int = 0
    n_redrawn: int = 0


# ---------------------------------------------------------------------- validation
def _check_random_state(random_state: Any) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, Integral):
        raise ValueError(
            f"random_state must be a non-negative integer or None; got {random_state!r}."
        )
    if int(random_state) < 0:
        raise ValueError(
            f"random_state must be a non-negative integer or None; got {random_state}."
        )
    return int(random_state)


def _check_n_jobs(n_jobs: Any) -> int | None:
    if n_jobs is None:
        return None
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be None or a non-zero integer (-1: all cores); got {n_jobs!r}."
        )
    return int(n_jobs)


def _check_estimator(estimator: Any) -> int:
    """``K`` of the null, after checking that the estimator can be bootstrapped."""
    if not hasattr(estimator, "get_params") or not callable(getattr(estimator, "sample", None)):
        raise ValueError(
            "estimator must be an emfit mixture estimator (with get_params and sample); "
            f"got {type(estimator).__name__}."
        )
    params = estimator.get_params(deep=False)
    for required in ("n_components", "random_state"):
        if required not in params:
            raise ValueError(
                f"estimator must have a {required} parameter; "
                f"{type(estimator).__name__} has none."
            )
    fixed = [
        k for k, v in params.items() if k.endswith("_init") and k != "n_init" and v is not None
    ]
    if fixed:
        raise ValueError(
            f"estimator has a user initialisation ({', '.join(sorted(fixed))}), which "
            "the (K+1)-component alternative cannot use; set it to None."
        )
    return check_positive_int(params["n_components"], "estimator.n_components")


# ---------------------------------------------------------------------- replicates
@dataclass(frozen=True)
class _Problem:
    """What every replicate needs: the fitted null, the two unfitted templates, the data."""

    null_model: Any  # fitted K-component estimator: the model simulated from
    null_template: Any  # unfitted, K components
    alt_template: Any  # unfitted, K + 1 components
    n_samples: int
    X: Any  # covariates of a regression model (kept fixed); None for a density model
    fit_params: Mapping[str, Any]
    sample_params: Mapping[str, Any]  # the fit_params that ``sample`` accepts too

    def simulate(self, rng: np.random.Generator) -> tuple[Any, ...]:
        """Positional data for ``fit``: ``(X*,)`` or ``(X, y*)``."""
        if self.X is None:
            out = self.null_model.sample(self.n_samples, random_state=rng, **self.sample_params)
        else:
            out = self.null_model.sample(self.X, random_state=rng, **self.sample_params)
        simulated = out[0] if isinstance(out, tuple) else out
        return (simulated,) if self.X is None else (self.X, simulated)


def _module_of(filename: str) -> str | None:
    """Name of the imported module defined in ``filename``, for warning filters."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def _one_thread():
    global _THREADPOOLS
    if _THREADPOOLS is None:
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1)


@dataclass(frozen=True)
class _FitValue:
    """What a replicate keeps of one fit: the log-likelihood used and its restart's state."""

    loglik: float
    converged: bool
    weight_degenerate: bool  # some restart ended with a weight below one observation


def _usable_fit(restarts: list[RestartResult]) -> _FitValue | None:
    """The highest log-likelihood among the usable restarts (see ``_USABLE_KINDS``).

    None if no restart is usable (each collapsed, i.e. an unbounded likelihood, or
    failed). The first of equal highest values is taken.
    """
    light = any(r.degenerate_kind == "weight" for r in restarts)
    regular = [r for r in restarts if r.degenerate_kind is None]
    if regular:
        best = regular[int(np.argmax([r.loglik for r in regular]))]
        return _FitValue(float(best.loglik), bool(best.converged), light)
    if light:  # only fits with an emptied component: the fit of fewer components
        return _FitValue(-np.inf, True, True)
    return None


def _fit_replicate(
    template: Any, fit_seed: int, data: tuple[Any, ...], fit_params: Mapping[str, Any]
) -> tuple[_FitValue | None, BaseException | None]:
    """Fit ``template`` to simulated ``data``: ``(value, None)`` or ``(None, failure)``.

    A :class:`~emfit.em.DegenerateFitError` (every restart degenerate) still gives a
    value if one of its restarts is usable; a FloatingPointError (``fit_em`` re-raises
    it when every restart failed) gives none. Other errors propagate.
    """
    model = clone(template).set_params(random_state=fit_seed)
    try:
        model.fit(*data, **fit_params)
    except DegenerateFitError as exc:
        restarts, failure = list(getattr(exc, "restarts", [])), exc
    except FloatingPointError as exc:
        return None, exc
    else:
        restarts, failure = list(getattr(model, "restarts_", None) or []), None
        if not restarts:  # an estimator that records no restarts: its own result
            return _FitValue(float(model.loglik_), bool(model.converged_), False), None
    value = _usable_fit(restarts)
    return (value, None) if value is not None else (None, failure)


def _redraw_seed(seed: np.random.SeedSequence, redraw: int) -> np.random.SeedSequence:
    """The seed of redraw ``redraw`` (1, 2, ...) of a replicate: a child of its seed.

    The same as the ``redraw``-th ``seed.spawn(1)[0]`` of a fresh ``seed``, built
    without changing ``seed`` (whose spawn counter a worker process would not share).
    """
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, redraw - 1), pool_size=seed.pool_size
    )


def _describe(seed: np.random.SeedSequence, index: int) -> str:
    return (
        f"bootstrap replicate {index} (SeedSequence entropy={seed.entropy}, "
        f"spawn_key={seed.spawn_key})"
    )


def _replicate(
    problem: _Problem, seed: np.random.SeedSequence, index: int
) -> tuple[float, tuple[int, int, int], list[tuple[Any, ...]]]:
    """``T*_b``, the counts and the warnings of replicate ``index``.

    The counts are ``(n_not_converged, n_degenerate, n_redrawn)`` of the replicate
    (see :class:`BootstrapLRT`). Its data and the seeds of its two fits are drawn from
    ``seed``; when a fit has no usable restart, from the next of its children
    (:func:`_redraw_seed`), at most :data:`MAX_REDRAWS` times. Warnings are recorded,
    not shown, and re-emitted by the caller in replicate order, so that they reach
    the caller's warning filters from worker processes too;
    :class:`~emfit.em.DegenerateRestartWarning` (exactly that class) is expected here
    and dropped, counted in ``n_degenerate`` when a weight caused it.
    """
    failure: BaseException | None = None
    failed_model = ""
    with warnings.catch_warnings(record=True) as caught, _one_thread():
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted from the restarts
        for redraw in range(MAX_REDRAWS + 1):
            rng = np.random.default_rng(seed if redraw == 0 else _redraw_seed(seed, redraw))
            seed_null, seed_alt = (int(s) for s in rng.integers(0, 2**63 - 1, size=2))
            values: list[_FitValue] = []
            try:
                data = problem.simulate(rng)
                for template, fit_seed in (
                    (problem.null_template, seed_null),
                    (problem.alt_template, seed_alt),
                ):
                    value, failure = _fit_replicate(template, fit_seed, data, problem.fit_params)
                    if value is not None and not values and value.loglik == -np.inf:
                        value = None  # the null fit itself emptied a component
                    if value is None:
                        failed_model = f"{template.get_params()['n_components']}-component"
                        break
                    values.append(value)
            except _REPLICATE_ERRORS as exc:
                raise RuntimeError(
                    f"{_describe(seed, index)} failed: {type(exc).__name__}: {exc} (if the "
                    "fit was degenerate, more restarts, the estimator's n_init, usually "
                    "avoid it)"
                ) from exc
            if len(values) == 2:
                break
        else:
            raise RuntimeError(
                f"{_describe(seed, index)}: the {failed_model} fit had no usable restart "
                f"(every one collapsed, where the likelihood is unbounded, or failed) on "
                f"each of {MAX_REDRAWS + 1} simulated data sets; last: "
                f"{type(failure).__name__}: {failure}. Increase reg_covar (GaussianMixture) "
                "or test fewer components."
            ) from failure
    logliks = [v.loglik for v in values]
    if not (np.isfinite(logliks[0]) and logliks[1] < np.inf):
        raise RuntimeError(f"{_describe(seed, index)} gave the log-likelihoods {logliks}.")
    counts = (
        sum(not v.converged for v in values),
        sum(v.weight_degenerate for v in values),
        redraw,
    )
    records = [
        (w.category, str(w.message), w.filename, w.lineno, _module_of(w.filename))
        for w in caught
        if w.category is not DegenerateRestartWarning
    ]
    return max(0.0, 2.0 * (logliks[1] - logliks[0])), counts, records


def _run_replicates(
    problem: _Problem, seeds: list[np.random.SeedSequence], n_jobs: int | None, bar: tqdm
):
    if n_jobs is None or n_jobs == 1:
        for b, seed in enumerate(seeds):
            yield _replicate(problem, seed, b)
            bar.update()
        return
    from joblib import Parallel, delayed

    tasks = (delayed(_replicate)(problem, seed, b) for b, seed in enumerate(seeds))
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):  # in task order
        yield result
        bar.update()


# ---------------------------------------------------------------------- the test
def bootstrap_lrt(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    n_boot: int = 99,
    fit_params: Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
    random_state: int | None = 0,
    progress: bool = False,
) -> BootstrapLRT:
    r"""Parametric bootstrap likelihood-ratio test of ``K`` against ``K + 1`` components.

    McLachlan's (1987) test, as R's ``mclust::mclustBootstrapLRT``: the statistic
    ``T = 2 (l_{K+1} - l_K)`` of the data is compared with its distribution under the
    fitted ``K``-component model, estimated from ``n_boot`` simulated data sets of the
    same size, each refitted with ``K`` and ``K + 1`` components. The chi-square
    distribution of Wilks' theorem does not apply: the ``K``-component null lies on
    the boundary of the ``(K + 1)``-component parameter space (a weight of zero),
    where the alternative is not identifiable (the empty component's parameters, or
    the weights of two equal components), so the regularity conditions fail (see
    :mod:`emfit.bootstrap`).

    Parameters
    ----------
    estimator : GaussianMixture, BernoulliMixture or PoissonRegressionMixture
        Unfitted; its ``n_components`` is ``K``, the null. The alternative is
        ``clone(estimator).set_params(n_components=K + 1)``; every other parameter
        (``n_init``, ``tol``, ``max_iter``, ...) is used for every fit. It must not
        have a user initialisation (``weights_init``, ``means_init``, ...). Its
        ``random_state`` seeds the two fits to the data; if it is None, they are
        seeded from ``random_state`` below, so the result depends on that only.
    X : array-like of shape (n_samples, n_features)
        The data (density models) or the covariates (Poisson regressions; kept fixed
        in the replicates, which simulate the counts at these covariates).
    y : array-like of shape (n_samples,), optional
        The counts of a Poisson regression mixture; must be None for a density model.
    n_boot : int, default=99
        Number of bootstrap replicates ``B``. The smallest attainable p-value is
        ``1 / (B + 1)``.
    fit_params : dict, optional
        Keyword arguments of every ``fit`` (e.g. ``{"exposure": e}``). Those that the
        fitted model's ``sample`` also accepts (``exposure``, concomitant covariates
        ``Z``) are passed to it as well.
    n_jobs : int, optional
        Worker processes for the replicates (joblib, loky backend; ``-1``: all cores).
        None or 1: in this process. The result does not depend on it.
    random_state : int or None, default=0
        Seed of the replicates (a non-negative integer, the entropy of a
        :class:`numpy.random.SeedSequence`); None: fresh entropy from the OS.
    progress : bool, default=False
        Show a tqdm progress bar over the replicates (on stderr).

    Returns
    -------
    BootstrapLRT

    Raises
    ------
    ValueError
        If an argument is invalid (naming it), or a fit to the data fails (e.g.
        :class:`~emfit.em.DegenerateFitError`: the fits to the data are the
        estimator's own, degenerate restarts set aside as usual).
    RuntimeError
        If a replicate's fits have no usable restart on ``MAX_REDRAWS + 1 = 11``
        simulated data sets in a row (see Notes), if a replicate fit fails otherwise
        (a ValueError other than a degenerate fit), or if it gives a non-finite
        log-likelihood; the message names the replicate and its seed.

    Warns
    -----
    Warning
        Warnings of the replicate fits are re-emitted in the calling process,
        whatever ``n_jobs``, in replicate order, each distinct warning (category,
        message and line) once per call; except
        :class:`~emfit.em.ConvergenceWarning`, counted in
        :attr:`BootstrapLRT.n_not_converged`, and
        :class:`~emfit.em.DegenerateRestartWarning` (expected under the null; see
        Notes and :attr:`BootstrapLRT.n_degenerate`). The fits to the data warn as
        usual.

    Notes
    -----
    ``T >= 0`` holds at the global maxima, since a ``K``-component mixture is a
    ``(K + 1)``-component one. EM finds local maxima: when the ``K + 1`` fit ends at a
    lower log-likelihood than the ``K`` fit (by more than the fits' tolerance), ``T``
    would be negative; it is then clipped to 0, on the data and in every replicate.
    A ``K + 1`` fit stuck at a poor maximum biases ``T`` and ``T*`` downwards; use
    ``n_init > 1`` for a test that matters.

    The p-value is a Monte Carlo p-value under the fitted null, not under the true
    one: the test is exact only as ``n`` grows; its resolution is ``1 / (B + 1)``.

    **Degenerate replicate fits.** The estimator never returns a degenerate restart
    (see :func:`~emfit.em.fit_em`), but under the null the ``K + 1`` fit to simulated
    data often ends with a component of weight below one observation: the data hold
    only ``K`` components. In a replicate, each model's log-likelihood is therefore
    the highest among its *regular* restarts (read from the fitted estimator's
    ``restarts_`` or, when every restart was degenerate, from the
    :class:`~emfit.em.DegenerateFitError`'s ``restarts``). If the ``K + 1`` fit has
    no regular restart but some whose extra weight emptied, it is the ``K``-component
    fit embedded in the larger model (the boundary ``pi_{K+1} = 0``, which is the
    null of McLachlan's (1987) test), and ``T*_b = 0``. The log-likelihood of such an
    emptied restart is not used: the emptied component usually sits on one point
    with the regularised covariance, a spike whose likelihood has nothing to do with
    the fit of ``K + 1`` clusters. Fits with an emptied restart are counted in
    :attr:`BootstrapLRT.n_degenerate`; the fits'
    :class:`~emfit.em.DegenerateRestartWarning` is not shown.

    A restart that the family flags (``"family"``: e.g. a covariance collapsing onto
    a point, where the likelihood is unbounded, so there is no value to use) or whose
    run failed (``"failed"``) is never used. If no restart of a replicate fit is
    usable, the replicate discards its data and simulates a new data set from the
    next child of its own
    :class:`~numpy.random.SeedSequence` (so the result still does not depend on
    ``n_jobs``), at most ``MAX_REDRAWS = 10`` times, and then raises RuntimeError;
    the redraws are counted in :attr:`BootstrapLRT.n_redrawn`. ``mclustBootstrapLRT``
    likewise simulates a new data set whenever a replicate's statistic cannot be
    computed (without a limit). Redrawing conditions the replicates on the fits
    being usable; if ``n_redrawn`` is not small compared with ``n_boot``, the null
    distribution is distorted: increase ``reg_covar`` (GaussianMixture) or test fewer
    components.

    Another difference from ``mclustBootstrapLRT``: mclust starts the replicate fits
    at the parameters fitted to the data; here every fit starts from the estimator's
    own initialisation (seeded per replicate).

    Examples
    --------
    One Gaussian component, or two? Data from two well-separated Gaussians:

    >>> import numpy as np
    >>> from emfit import GaussianMixture
    >>> from emfit.bootstrap import bootstrap_lrt
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, 60), rng.normal(5, 1, 40)]).reshape(-1, 1)
    >>> result = bootstrap_lrt(GaussianMixture(1, tol=1e-6, random_state=0), X, n_boot=19)
    >>> result.p_value  # the smallest attainable, 1 / (n_boot + 1)
    0.05
    >>> bool(result.statistic > result.boot_statistics.max())
    True
    """
    n_boot = check_positive_int(n_boot, "n_boot")
    n_jobs = _check_n_jobs(n_jobs)
    random_state = _check_random_state(random_state)
    K = _check_estimator(estimator)
    if fit_params is None:
        fit_params = {}
    elif not isinstance(fit_params, Mapping):
        raise ValueError(f"fit_params must be a dict or None; got {type(fit_params).__name__}.")
    fit_params = dict(fit_params)

    sample_signature = inspect.signature(estimator.sample).parameters
    regression = "n_samples" not in sample_signature
    name = type(estimator).__name__
    if regression and y is None:
        raise ValueError(f"y is required for {name}: the replicates simulate y given X.")
    if not regression and y is not None:
        raise ValueError(f"y must be None for {name}: the replicates simulate X.")
    data = (X,) if y is None else (X, y)

    root = np.random.SeedSequence(random_state)
    null = clone(estimator)
    alt = clone(estimator).set_params(n_components=K + 1)
    if null.get_params()["random_state"] is None:
        seed_null, seed_alt = (int(s) for s in root.generate_state(2))
        null.set_params(random_state=seed_null)
        alt.set_params(random_state=seed_alt)
    null.fit(*data, **fit_params)
    alt.fit(*data, **fit_params)
    loglik_null, loglik_alt = float(null.loglik_), float(alt.loglik_)
    statistic = max(0.0, 2.0 * (loglik_alt - loglik_null))

    problem = _Problem(
        null_model=null,
        null_template=clone(estimator),
        alt_template=clone(estimator).set_params(n_components=K + 1),
        n_samples=int(np.shape(X)[0]),
        X=X if regression else None,
        fit_params=fit_params,
        sample_params={
            k: v for k, v in fit_params.items()
            if k in sample_signature and k not in _NOT_FROM_FIT_PARAMS
        },
    )
    boot = np.empty(n_boot)
    n_not_converged = n_degenerate = n_redrawn = 0
    shown: set[tuple[Any, ...]] = set()
    seeds = root.spawn(n_boot)
    with tqdm(total=n_boot, disable=not progress, desc=f"bootstrap K={K} vs {K + 1}") as bar:
        for b, (t, (not_converged, degenerate, redrawn), records) in enumerate(
            _run_replicates(problem, seeds, n_jobs, bar)
        ):
            boot[b] = t
            n_not_converged += not_converged
            n_degenerate += degenerate
            n_redrawn += redrawn
            for record in records:
                if record not in shown:  # each distinct warning once per call
                    shown.add(record)
                    category, message, filename, lineno, module = record
                    warnings.warn_explicit(message, category, filename, lineno, module=module)
    boot.flags.writeable = False
    return BootstrapLRT(
        n_components=K,
        statistic=statistic,
        p_value=float((1 + np.count_nonzero(boot >= statistic)) / (n_boot + 1)),
        boot_statistics=boot,
        loglik_null=loglik_null,
        loglik_alt=loglik_alt,
        n_boot=n_boot,
        n_not_converged=n_not_converged,
        n_degenerate=n_degenerate,
        n_redrawn=n_redrawn,
    )
