"""The EM driver: one loop for every mixture family.

The mathematics of EM does not depend on the component distribution::

    log r_ik = log pi_k + log f(x_i | theta_k) - logsumexp_j(log pi_j + log f(x_i | theta_j))
    l(theta) = sum_i logsumexp_k(log pi_k + log f(x_i | theta_k))
    pi_k    <- (1/n) sum_i r_ik,    theta_k <- argmax_theta sum_i r_ik log f(x_i | theta)

so this module owns the loop (initialisation, E-step in log space, M-step of the
weights, stopping rule, history, monotonicity check, restarts) and a
:class:`MixtureFamily` owns everything that depends on the component density
(``log f``, the weighted maximum-likelihood M-step, an initialiser, the number of
free parameters). The driver never mentions a particular family.

**Conventions.**

* ``history[t]`` is the observed-data log-likelihood (total over samples, not the
  mean) at the parameters *after* the ``t+1``-th M-step; ``history[-1]`` equals
  :attr:`EMFit.loglik`, the log-likelihood of the parameters returned. There is no lag:
  the E-step of the next iteration evaluates it, so it costs nothing extra.
* Stopping rule: ``|l_t - l_{t-1}| <= tol * |l_t|`` (relative change of the total
  log-likelihood, so independent of the number of samples). ``tol=0`` runs exactly
  ``max_iter`` iterations (unless the log-likelihood stops changing at all).
* Monotonicity: EM (and generalised EM) never decreases the log-likelihood in exact
  arithmetic. A decrease larger than ``rtol * max(|l_t|, |l_{t-1}|) + atol``, with
  ``rtol = 1e-9`` and ``atol = 1e-9`` by default (:data:`DECREASE_RTOL`,
  :data:`DECREASE_ATOL`; far above the round-off of a float64 sum of ``n`` terms), is
  reported by a :class:`LikelihoodDecreaseWarning` naming the iteration and the size of
  the drop. It is a warning, not an error, so a long fit is never lost; promote it to an
  error with :func:`warnings.simplefilter` (the test suite does so for every
  ``RuntimeWarning`` raised from emfit). The check applies to families whose M-step
  maximises ``Q`` (:attr:`MixtureFamily.exact_m_step`); a regularised M-step, such as
  a Gaussian covariance with ``reg_covar > 0`` added to its diagonal, is not a
  maximiser of ``Q`` and may lower the log-likelihood slightly, so it is not checked.
"""

from __future__ import annotations

import abc
import warnings
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

from ._validation import check_positive_float, check_positive_int, check_random_state

__all__ = [
    "DECREASE_ATOL",
    "DECREASE_RTOL",
    "RESTART_TIE_RTOL",
    "ConvergenceWarning",
    "EMFit",
    "LikelihoodDecreaseWarning",
    "MixtureFamily",
    "RestartResult",
    "e_step",
    "fit_em",
    "logsumexp_rows",
    "normalise_block",
]

#: Relative tolerance of the monotonicity check (see module docstring).
DECREASE_RTOL: float = 1e-9
#: Absolute tolerance of the monotonicity check (see module docstring).
DECREASE_ATOL: float = 1e-9
#: Restarts whose final log-likelihoods agree to this relative tolerance are tied,
#: and :func:`fit_em` keeps the first of them: far above round-off (about 1e-13),
#: far below any difference between two maxima that matters to a reader.
RESTART_TIE_RTOL: float = 1e-8

Params = TypeVar("Params")


class LikelihoodDecreaseWarning(RuntimeWarning):
    """The observed-data log-likelihood decreased between two EM iterations.

    EM never decreases the log-likelihood in exact arithmetic, so a decrease beyond
    round-off means a bug in an M-step, or a numerically broken fit (e.g. a collapsing
    component).

    Examples
    --------
    >>> from emfit.em import LikelihoodDecreaseWarning
    >>> issubclass(LikelihoodDecreaseWarning, RuntimeWarning)
    True
    """


class ConvergenceWarning(_SklearnConvergenceWarning):
    """EM stopped at ``max_iter`` iterations before meeting the stopping rule.

    A subclass of :class:`sklearn.exceptions.ConvergenceWarning`, so filters written
    for scikit-learn apply.

    Examples
    --------
    >>> from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    >>> from emfit.em import ConvergenceWarning
    >>> issubclass(ConvergenceWarning, SkConvergenceWarning)
    True
    """


class MixtureFamily(abc.ABC, Generic[Params]):
    """One component distribution. Knows nothing of the EM loop.

    A family supplies four hooks; the driver :func:`fit_em` does the rest.
    ``data`` is whatever object the family wants (an ndarray for Gaussians, a tuple
    ``(X, y, offset)`` for Poisson regression); ``params`` is opaque to the driver
    (a dataclass or a dict) and holds the parameters of all ``K`` components, but
    not the mixing weights, which are the driver's job.

    The class attribute :attr:`exact_m_step` says whether :meth:`m_step` maximises
    (or at least increases) ``Q``; only then does EM provably never decrease the
    log-likelihood, and only then does :func:`fit_em` check it.

    Two optional hooks have default implementations:

    * :meth:`n_samples` -- the number of observations in ``data``;
    * :meth:`em_step` -- one fused "E-step at the current parameters, then M-step".
      The default calls :meth:`log_prob`, :func:`e_step` and :meth:`m_step`; a family
      may override it with a faster, blocked computation that gives the same result.

    Examples
    --------
    A family of unit-variance 1-d Gaussians with unknown means:

    >>> import numpy as np
    >>> from emfit.em import MixtureFamily, fit_em
    >>> class UnitNormal(MixtureFamily):
    ...     def log_prob(self, data, params):
    ...         return -0.5 * (data[:, None] - params[None, :]) ** 2 - 0.5 * np.log(2 * np.pi)
    ...     def m_step(self, data, resp, params):
    ...         return resp.T @ data / resp.sum(axis=0)
    ...     def initialize(self, data, n_components, rng):
    ...         return np.full(n_components, 1 / n_components), rng.choice(data, n_components)
    ...     def n_parameters(self, params):
    ...         return params.size
    >>> d = np.linspace(-1, 1, 50)
    >>> x = np.r_[d - 3, d + 3]
    >>> fit = fit_em(x, UnitNormal(), 2, random_state=0)
    >>> np.sort(fit.params).round(1).tolist()
    [-3.0, 3.0]
    """

    #: True when :meth:`m_step` maximises (or increases) ``Q``, so that EM cannot
    #: decrease the log-likelihood; a family with a regularised M-step sets it False.
    exact_m_step: bool = True

    @abc.abstractmethod
    def log_prob(self, data: Any, params: Params) -> np.ndarray:
        """Log component densities.

        Parameters
        ----------
        data : object
            The observations.
        params : object
            The component parameters.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            ``log f(x_i | theta_k)``, finite wherever possible.
        """

    @abc.abstractmethod
    def m_step(self, data: Any, resp: np.ndarray, params: Params) -> Params:
        """Weighted maximum-likelihood update of the component parameters.

        Parameters
        ----------
        data : object
            The observations.
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities; rows sum to one.
        params : object
            The current parameters (a warm start for iterative M-steps).

        Returns
        -------
        params : object
            The new component parameters (not the weights).
        """

    @abc.abstractmethod
    def initialize(
        self, data: Any, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, Params]:
        """Initial weights and component parameters.

        Parameters
        ----------
        data : object
            The observations.
        n_components : int
            Number of components ``K``.
        rng : numpy.random.Generator
            The only source of randomness allowed.

        Returns
        -------
        weights : ndarray of shape (n_components,)
            Positive, summing to one.
        params : object
            Component parameters.
        """

    @abc.abstractmethod
    def n_parameters(self, params: Params) -> int:
        """Number of free parameters of the components (the driver adds ``K - 1``)."""

    # ------------------------------------------------------------------ optional hooks
    def n_samples(self, data: Any) -> int:
        """Number of observations in ``data``.

        The default returns ``len(data[0])`` for a tuple or list (``(X, y, ...)``),
        and ``len(data)`` otherwise.
        """
        if isinstance(data, (tuple, list)):
            return int(np.shape(data[0])[0])
        return int(np.shape(data)[0])

    def em_step(
        self,
        data: Any,
        log_weights: np.ndarray,
        params: Params,
        *,
        update: bool = True,
    ) -> tuple[float, np.ndarray | None, Params | None]:
        """E-step at ``(weights, params)``, then (if ``update``) the M-step.

        Parameters
        ----------
        data : object
            The observations.
        log_weights : ndarray of shape (n_components,)
            Log mixing weights (may contain ``-inf`` for an empty component).
        params : object
            Current component parameters.
        update : bool, default=True
            If False, only evaluate the log-likelihood (the last call of a fit).

        Returns
        -------
        loglik : float
            Total observed-data log-likelihood at ``(weights, params)``.
        resp_sum : ndarray of shape (n_components,) or None
            ``sum_i r_ik``; the driver sets the new weights to ``resp_sum / n``.
        new_params : object or None
            Result of :meth:`m_step` with these responsibilities.
        """
        log_resp, loglik = e_step(log_weights, self.log_prob(data, params))
        if not update:
            return loglik, None, None
        resp = np.exp(log_resp)
        return loglik, resp.sum(axis=0), self.m_step(data, resp, params)


@dataclass
class RestartResult:
    """Summary of one EM run (one restart of :func:`fit_em`).

    Attributes
    ----------
    loglik : float
        Final total log-likelihood of the run.
    n_iter : int
        Number of M-steps performed.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.

    Examples
    --------
    >>> from emfit.em import RestartResult
    >>> RestartResult(loglik=-1.5, n_iter=3, converged=True)
    RestartResult(loglik=-1.5, n_iter=3, converged=True)
    """

    loglik: float
    n_iter: int
    converged: bool


@dataclass
class EMFit(Generic[Params]):
    """Result of :func:`fit_em`: the best of all restarts.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights.
    params : object
        Component parameters, as returned by the family's ``m_step``.
    loglik : float
        Total observed-data log-likelihood at ``(weights, params)``.
    history : ndarray of shape (n_iter,)
        ``history[t]`` is the log-likelihood after the ``t+1``-th M-step;
        ``history[-1] == loglik``. Empty if ``max_iter == 0``.
    n_iter : int
        Number of M-steps of the best run.
    converged : bool
        Whether the best run met the stopping rule.
    restarts : list of RestartResult
        One entry per restart, in order.
    initial_loglik : float
        Log-likelihood at the initial parameters of the best run.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import EMFit
    >>> fit = EMFit(np.array([1.0]), None, -2.0, np.array([-2.5, -2.0]), 2, True)
    >>> fit.history[-1] == fit.loglik
    np.True_
    """

    weights: np.ndarray
    params: Any
    loglik: float
    history: np.ndarray
    n_iter: int
    converged: bool
    restarts: list[RestartResult] = field(default_factory=list)
    initial_loglik: float = float("nan")


# ---------------------------------------------------------------------- numerics
def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """Row-wise ``log(sum(exp(a), axis=1))`` of a 2-d array, stable.

    Parameters
    ----------
    a : ndarray of shape (n, K)

    Returns
    -------
    ndarray of shape (n,)
        ``-inf`` for a row of ``-inf``; never NaN for finite input.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import logsumexp_rows
    >>> logsumexp_rows(np.array([[-1000.0, -1000.0]])).round(4).tolist()
    [-999.3069]
    """
    m = a.max(axis=1)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for an all -inf row
        return np.log(np.exp(a - shift[:, None]).sum(axis=1)) + shift


def normalise_block(log_joint_t: np.ndarray, first_row: int = 0) -> np.ndarray:
    """The E-step on a block of observations, in place; returns their log-likelihoods.

    The one E-step of emfit: :func:`e_step` and the fast paths of the Gaussian and
    Poisson families (which work on blocks of rows, components first) call it.

    Parameters
    ----------
    log_joint_t : ndarray of shape (n_components, n_rows), C-contiguous float64
        ``log pi_k + log f(x_i | theta_k)``, components first; overwritten by the
        responsibilities ``r_ik``.
    first_row : int, default=0
        Index of the block's first row in the data, for the error message.

    Returns
    -------
    ndarray of shape (n_rows,)
        ``l_i = logsumexp_k(log pi_k + log f_ik)``, computed as ``m_i + log sum_k
        exp(a_ik - m_i)`` with ``m_i = max_k a_ik``. The responsibilities are
        ``exp(a_ik - m_i)`` divided by their sum, so each column sums to one to
        round-off even for absurd log-probabilities (``|log f| > 1e16``), where
        ``a - logsumexp(a)`` would lose ``log 2``.

    Raises
    ------
    FloatingPointError
        If some observation has zero density under every component (its column is
        all ``-inf``), or a NaN appeared.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.log([[0.1, 0.3], [0.3, 0.1]])  # two components, two observations
    >>> normalise_block(a).round(6).tolist(), a.round(12).tolist()
    ([-0.916291, -0.916291], [[0.25, 0.75], [0.75, 0.25]])
    """
    m = log_joint_t.max(axis=0)
    if not np.all(np.isfinite(m)):
        bad = np.flatnonzero(~np.isfinite(m))
        raise FloatingPointError(
            f"the log-likelihood of {bad.size} observation(s) (first: row "
            f"{first_row + bad[0]}) is {m[bad[0]]}: the data have zero density under every "
            "component, or a NaN appeared. Check the data and the initial parameters "
            "(or increase the regularisation)."
        )
    log_joint_t -= m
    np.exp(log_joint_t, out=log_joint_t)
    total = log_joint_t.sum(axis=0)
    log_joint_t /= total
    np.log(total, out=total)
    total += m
    return total


def e_step(log_weights: np.ndarray, log_prob: np.ndarray) -> tuple[np.ndarray, float]:
    """E-step in log space.

    Parameters
    ----------
    log_weights : ndarray of shape (n_components,)
        ``log pi_k`` (``-inf`` allowed for a component of weight zero).
    log_prob : ndarray of shape (n_samples, n_components)
        ``log f(x_i | theta_k)``.

    Returns
    -------
    log_resp : ndarray of shape (n_samples, n_components)
        ``log r_ik = log pi_k + log f_ik - l_i``; ``exp`` of each row sums to one.
    loglik : float
        Total observed-data log-likelihood ``sum_i l_i``, with ``l_i`` from
        :func:`normalise_block`.

    Raises
    ------
    FloatingPointError
        If some observation has zero density under every component (its row of
        ``log pi_k + log f_ik`` is all ``-inf``), or the result is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import e_step
    >>> log_resp, ll = e_step(np.log([0.5, 0.5]), np.array([[0.0, 0.0]]))
    >>> np.exp(log_resp).tolist(), round(ll, 6)
    ([[0.5, 0.5]], 0.0)
    """
    weighted = log_prob + log_weights
    norm = normalise_block(weighted.T.copy())  # a copy: it is overwritten
    weighted -= norm[:, None]
    return weighted, float(norm.sum())


# ---------------------------------------------------------------------- driver
def _restart_rng(entropy: int, index: int) -> np.random.Generator:
    """Generator of restart ``index``: the same whatever the number of restarts."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index,)))


def _log(weights: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(weights)


def _check_weights(weights: Any, n_components: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_components,):
        raise ValueError(f"weights_init must have shape ({n_components},); got {w.shape}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights_init must be finite and non-negative.")
    total = w.sum()
    if not np.isclose(total, 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"weights_init must sum to 1; got sum {total!r}.")
    return w / total


def _run_once(
    data: Any,
    family: MixtureFamily,
    weights: np.ndarray,
    params: Any,
    *,
    tol: float,
    max_iter: int,
    check_monotone: bool,
    restart: int,
) -> EMFit:
    n = family.n_samples(data)
    history = np.empty(max_iter, dtype=np.float64)
    # E-step at the initial parameters, fused with the first M-step.
    ll, resp_sum, new_params = family.em_step(data, _log(weights), params, update=max_iter > 0)
    initial_ll = prev = ll
    converged = False
    n_iter = 0
    for it in range(1, max_iter + 1):
        new_weights = resp_sum / n
        # Evaluate l at the new parameters (E-step) and compute the next M-step, unless
        # this was the last iteration allowed.
        ll_new, next_sum, next_params = family.em_step(
            data, _log(new_weights), new_params, update=it < max_iter
        )
        weights, params = new_weights, new_params
        history[it - 1] = ll_new
        n_iter = it
        if not np.isfinite(ll_new):
            raise FloatingPointError(
                f"log-likelihood is {ll_new} after iteration {it} (restart {restart})."
            )
        drop = prev - ll_new
        if check_monotone and family.exact_m_step and drop > DECREASE_RTOL * max(abs(ll_new), abs(prev)) + DECREASE_ATOL:
            warnings.warn(
                f"log-likelihood decreased at iteration {it} (restart {restart}) by "
                f"{drop:.6g} (from {prev!r} to {ll_new!r}); EM should never decrease it.",
                LikelihoodDecreaseWarning,
                stacklevel=2,  # attributed to emfit.em, so warning filters on emfit.* catch it
            )
        if abs(ll_new - prev) <= tol * abs(ll_new):
            converged = True
            ll = ll_new
            break
        prev = ll = ll_new
        resp_sum, new_params = next_sum, next_params
    return EMFit(
        weights=weights,
        params=params,
        loglik=ll,
        history=history[:n_iter].copy(),
        n_iter=n_iter,
        converged=converged,
        initial_loglik=initial_ll,
    )


def _first_best(runs: list[EMFit]) -> EMFit:
    """The first run whose log-likelihood ties with the highest, to ``RESTART_TIE_RTOL``."""
    top = max(run.loglik for run in runs)
    return next(run for run in runs if run.loglik >= top - RESTART_TIE_RTOL * abs(top))


def fit_em(
    data: Any,
    family: MixtureFamily,
    n_components: int,
    *,
    weights_init: np.ndarray | None = None,
    params_init: Any = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    n_init: int = 1,
    random_state: Any = None,
    check_monotone: bool = True,
) -> EMFit:
    """Fit a finite mixture by EM, keeping the best of ``n_init`` restarts.

    Parameters
    ----------
    data : object
        The observations, in the form ``family`` expects.
    family : MixtureFamily
        The component distribution.
    n_components : int
        Number of components ``K >= 1``.
    weights_init : array-like of shape (n_components,), optional
        Initial mixing weights, used for every restart. Defaults to the family's.
    params_init : object, optional
        Initial component parameters, used for every restart. Defaults to the
        family's :meth:`MixtureFamily.initialize`.
    tol : float, default=1e-10
        Stop when ``|l_t - l_{t-1}| <= tol * |l_t|`` (relative change of the total
        log-likelihood). ``0`` runs ``max_iter`` iterations.
    max_iter : int, default=1000
        Maximum number of M-steps per restart (``0`` evaluates the initial fit).
    n_init : int, default=1
        Number of restarts. Restart ``i`` draws from its own generator, derived from
        ``random_state`` and ``i`` only, so it is the same whatever ``n_init``: more
        restarts never give a lower log-likelihood.
    random_state : None, int or numpy.random.Generator
        Seed of the initialisations.
    check_monotone : bool, default=True
        Warn with :class:`LikelihoodDecreaseWarning` when the log-likelihood
        decreases beyond round-off (see the module docstring for the tolerance).

    Returns
    -------
    EMFit
        The best fit, with every restart recorded in ``restarts``: the first
        restart whose final log-likelihood is within a relative
        :data:`RESTART_TIE_RTOL` of the highest. Restarts that reach the same
        maximum end a little apart, by the stopping rule and by round-off; the
        first of them is kept, so that the choice is the same on every machine.

    Warns
    -----
    ConvergenceWarning
        If the best restart did not converge within ``max_iter`` iterations.
    LikelihoodDecreaseWarning
        If the log-likelihood decreased beyond round-off.

    Examples
    --------
    See :class:`MixtureFamily`.
    """
    n_components = check_positive_int(n_components, "n_components")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    n_init = check_positive_int(n_init, "n_init")
    tol = check_positive_float(tol, "tol", allow_zero=True)
    if weights_init is not None:
        weights_init = _check_weights(weights_init, n_components)

    root = check_random_state(random_state)
    entropy = int(root.integers(0, 2**63 - 1))

    runs: list[EMFit] = []
    for i in range(n_init):
        if weights_init is not None and params_init is not None:
            weights, params = weights_init, params_init
        else:
            weights, params = family.initialize(data, n_components, _restart_rng(entropy, i))
            weights = np.asarray(weights, dtype=np.float64)
            if weights_init is not None:
                weights = weights_init
            if params_init is not None:
                params = params_init
        runs.append(
            _run_once(
                data,
                family,
                weights,
                params,
                tol=tol,
                max_iter=max_iter,
                check_monotone=check_monotone,
                restart=i,
            )
        )
    best = _first_best(runs)
    best.restarts = [
        RestartResult(loglik=r.loglik, n_iter=r.n_iter, converged=r.converged) for r in runs
    ]
    if not best.converged and max_iter > 0:
        warnings.warn(
            f"EM did not converge in max_iter={max_iter} iterations (relative change of "
            f"the log-likelihood above tol={tol:g}); increase max_iter or tol, or check "
            "the initialisation.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return best
