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
* Acceleration: ``fit_em(..., accelerate="squarem")`` replaces the plain iteration by
  SQUAREM (Varadhan & Roland 2008, *Scand. J. Statist.* 35, 335--353), extrapolating on
  an unconstrained vector of all the parameters (:meth:`MixtureFamily.to_vector`,
  ``to_vector`` of the weights models) and falling back to the plain double EM step
  whenever the extrapolation does not pay; ``history`` then holds ``l`` after every
  *accepted* step, still nondecreasing, and :attr:`EMFit.n_em_evaluations` counts the
  evaluations of the EM map (see :func:`fit_em`).
"""

from __future__ import annotations

import abc
import warnings
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

from ._validation import check_positive_float, check_positive_int, check_random_state
from .weights import ConcomitantWeights, ConstantWeights

__all__ = [
    "ACCELERATIONS",
    "DECREASE_ATOL",
    "DECREASE_RTOL",
    "RESTART_TIE_RTOL",
    "ConvergenceWarning",
    "DegenerateFitError",
    "DegenerateRestartWarning",
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
#: The values of :func:`fit_em`'s ``accelerate``: plain EM (None), or SQUAREM.
ACCELERATIONS: tuple[str | None, ...] = (None, "squarem")

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
    * :meth:`to_vector` / :meth:`from_vector` -- the component parameters as an
      *unconstrained* 1-d vector, for ``fit_em(..., accelerate="squarem")``. The
      defaults flatten an ndarray ``params`` (right for unconstrained parameters such
      as regression coefficients); a family with constraints (probabilities,
      covariances) maps them to an unconstrained form, so that every extrapolated
      vector is a valid set of parameters.

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
        log_weights : ndarray of shape (n_components,) or (n_samples, n_components)
            Log mixing weights (may contain ``-inf`` for an empty component); one row
            per observation when the weights depend on concomitant covariates.
        params : object
            Current component parameters.
        update : bool, default=True
            If False, only evaluate the log-likelihood (the last call of a fit).

        Returns
        -------
        loglik : float
            Total observed-data log-likelihood at ``(weights, params)``.
        resp_t : ndarray of shape (n_components, n_samples) or None
            The responsibilities, components first; the driver's weights M-step uses
            them (``resp_t.sum(axis=1) / n`` for constant weights).
        new_params : object or None
            Result of :meth:`m_step` with these responsibilities.
        """
        log_resp, loglik = e_step(log_weights, self.log_prob(data, params))
        if not update:
            return loglik, None, None
        resp = np.exp(log_resp)
        return loglik, resp.T, self.m_step(data, resp, params)

    def degeneracy(self, data: Any, weights: np.ndarray, params: Params) -> str | None:
        """Why the fitted components are degenerate, or None if they are not.

        The driver calls it on the final parameters of every restart; a restart with
        a reason is marked degenerate and never returned as the fit. The default finds
        nothing (the driver itself checks the weights, see :func:`fit_em`); a family
        whose likelihood is unbounded (a collapsing covariance) or whose estimates can
        run off to infinity overrides it.

        Parameters
        ----------
        data : object
            The observations.
        weights : ndarray of shape (n_components,)
            Mixing weights (their average over the observations when the weights
            depend on concomitant covariates).
        params : object
            Component parameters.

        Returns
        -------
        str or None
            A message naming the component and what to change, or None.
        """
        return None

    #: What to change when every restart is degenerate (the end of the error message).
    degeneracy_hint: str = "check the data, or fit fewer components"

    def to_vector(self, params: Params) -> np.ndarray:
        """The component parameters as an unconstrained 1-d vector.

        SQUAREM (``fit_em(..., accelerate="squarem")``) extrapolates on this vector,
        so every real vector of the right length must map back (by
        :meth:`from_vector`) to valid parameters. The default flattens an ndarray
        ``params``, which is right when the parameters are unconstrained (regression
        coefficients, means); a family with other parameters overrides both hooks.

        Parameters
        ----------
        params : object
            Component parameters.

        Returns
        -------
        ndarray of shape (n_values,)
            A new float64 array.

        Raises
        ------
        TypeError
            If ``params`` is not an ndarray and the family does not override the hook.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.em import MixtureFamily
        >>> MixtureFamily.to_vector(None, np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [1.0, 2.0, 3.0, 4.0]
        """
        if not isinstance(params, np.ndarray):
            raise TypeError(
                f"{type(self).__name__}.to_vector: the default needs ndarray parameters, "
                f"got {type(params).__name__}; override to_vector and from_vector to use "
                "accelerate='squarem'."
            )
        return np.array(params, dtype=np.float64).ravel()

    def from_vector(self, vector: np.ndarray, like: Params) -> Params:
        """Component parameters from a vector of :meth:`to_vector` (its inverse).

        Parameters
        ----------
        vector : ndarray of shape (n_values,)
            Any finite vector of the length :meth:`to_vector` gives.
        like : object
            Parameters of the same shapes (and of the same fixed parts, if any).

        Returns
        -------
        params : object
            New parameters; ``from_vector(to_vector(p), like=p)`` equals ``p`` to
            round-off.

        Raises
        ------
        FloatingPointError
            If the vector gives parameters that float64 cannot represent (an
            overflowing variance, say); SQUAREM then falls back to plain EM steps.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.em import MixtureFamily
        >>> MixtureFamily.from_vector(None, np.arange(4.0), like=np.zeros((2, 2))).tolist()
        [[0.0, 1.0], [2.0, 3.0]]
        """
        return np.array(vector, dtype=np.float64).reshape(np.shape(like))


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class RestartResult:
    """One EM run (one restart of :func:`fit_em`): where it ended and how.

    Attributes
    ----------
    loglik : float
        Final total log-likelihood of the run (NaN if it failed).
    n_iter : int
        Number of M-steps performed.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    weights : ndarray of shape (n_components,) or None
        Final mixing weights (averaged over the observations for concomitant
        weights); None if the run failed.
    params : object
        Final component parameters, in the family's form; None if the run failed.
    concomitant_coef : ndarray of shape (n_components, p) or None
        Final coefficients of the concomitant weights model, if any.
    degenerate : str or None
        Why the run is degenerate (see :func:`fit_em`), or None.
    degenerate_kind : {"weight", "family", "failed"} or None
        What made it degenerate: a weight below one observation (the fit is then a
        fit with fewer components, and its log-likelihood a valid value of the
        model's), the family's check (e.g. a collapsing covariance, where the
        likelihood is unbounded), or a failure of the run.

    Examples
    --------
    >>> from emfit.em import RestartResult
    >>> RestartResult(loglik=-1.5, n_iter=3, converged=True).degenerate is None
    True
    """

    loglik: float
    n_iter: int
    converged: bool
    weights: np.ndarray | None = None
    params: Any = None
    concomitant_coef: np.ndarray | None = None
    degenerate: str | None = None
    degenerate_kind: str | None = None


@dataclass
class EMFit(Generic[Params]):
    """Result of :func:`fit_em`: the best of all restarts.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights (for concomitant weights: their average over the
        observations).
    params : object
        Component parameters, as returned by the family's ``m_step``.
    loglik : float
        Total observed-data log-likelihood at ``(weights, params)``.
    history : ndarray of shape (n_iter,)
        ``history[t]`` is the log-likelihood after the ``t+1``-th M-step (with
        SQUAREM: after the ``t+1``-th accepted step); ``history[-1] == loglik``.
        Empty if ``max_iter == 0``.
    n_iter : int
        Number of M-steps of the best run (with SQUAREM: of accepted steps).
    converged : bool
        Whether the best run met the stopping rule.
    restarts : list of RestartResult
        One entry per restart, in order.
    initial_loglik : float
        Log-likelihood at the initial parameters of the best run.
    concomitant_coef : ndarray of shape (n_components, p) or None
        Coefficients ``gamma`` of the multinomial-logit weights (row 0 is zero), when
        the weights depend on concomitant covariates.
    decreases : list of str
        Monotonicity violations of this run (reported as warnings by :func:`fit_em`).
    n_em_evaluations : int
        Evaluations of the EM map by the best run: calls of
        :meth:`MixtureFamily.em_step`, each an E-step and most also an M-step.
        ``n_iter + 1`` for plain EM; for SQUAREM one at the start and one to three
        per accepted step (four after an extrapolation taken back; see :func:`fit_em`).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import EMFit
    >>> fit = EMFit(np.array([1.0]), None, -2.0, np.array([-2.5, -2.0]), 2, True)
    >>> bool(fit.history[-1] == fit.loglik)
    True
    """

    weights: np.ndarray
    params: Any
    loglik: float
    history: np.ndarray
    n_iter: int
    converged: bool
    restarts: list[RestartResult] = field(default_factory=list)
    initial_loglik: float = float("nan")
    concomitant_coef: np.ndarray | None = None
    decreases: list[str] = field(default_factory=list)
    n_em_evaluations: int = 0


class DegenerateFitError(ValueError):
    """Every restart of an EM fit ended degenerate (or failed).

    Raised by :func:`fit_em`, with the reason of each restart and what to change;
    its attribute ``restarts`` holds the :class:`RestartResult` of every restart.

    Examples
    --------
    >>> from emfit.em import DegenerateFitError
    >>> issubclass(DegenerateFitError, ValueError)
    True
    """


class DegenerateRestartWarning(UserWarning):
    """Some restarts of an EM fit were degenerate and were set aside.

    Examples
    --------
    >>> from emfit.em import DegenerateRestartWarning
    >>> issubclass(DegenerateRestartWarning, UserWarning)
    True
    """


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
    log_weights : ndarray of shape (n_components,) or (n_samples, n_components)
        ``log pi_k`` (``-inf`` allowed for a component of weight zero), or
        ``log pi_k(z_i)``, one row per observation.
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
    weights_model: ConstantWeights | ConcomitantWeights,
    weights: np.ndarray,
    params: Any,
    *,
    tol: float,
    max_iter: int,
    check_monotone: bool,
    restart: int,
) -> EMFit:
    history = np.empty(max_iter, dtype=np.float64)
    state = weights_model.start(weights)
    # E-step at the initial parameters, fused with the first M-step.
    ll, resp_t, new_params = family.em_step(
        data, weights_model.log_weights(state), params, update=max_iter > 0
    )
    initial_ll = prev = ll
    converged = False
    n_iter = 0
    decreases: list[str] = []
    for it in range(1, max_iter + 1):
        new_state = weights_model.update(resp_t, state)
        # Evaluate l at the new parameters (E-step) and compute the next M-step, unless
        # this was the last iteration allowed.
        ll_new, next_resp, next_params = family.em_step(
            data, weights_model.log_weights(new_state), new_params, update=it < max_iter
        )
        state, params = new_state, new_params
        history[it - 1] = ll_new
        n_iter = it
        if not np.isfinite(ll_new):
            raise FloatingPointError(
                f"log-likelihood is {ll_new} after iteration {it} (restart {restart})."
            )
        drop = prev - ll_new
        if drop > DECREASE_RTOL * max(abs(ll_new), abs(prev)) + DECREASE_ATOL:
            decreases.append(
                f"log-likelihood decreased at iteration {it} (restart {restart}) by "
                f"{drop:.6g} (from {prev!r} to {ll_new!r}); EM should never decrease it."
            )
        if abs(ll_new - prev) <= tol * abs(ll_new):
            converged = True
            ll = ll_new
            break
        prev = ll = ll_new
        resp_t, new_params = next_resp, next_params
    if not (check_monotone and family.exact_m_step):
        decreases = []
    return EMFit(
        weights=weights_model.mean_weights(state),
        params=params,
        loglik=ll,
        history=history[:n_iter].copy(),
        n_iter=n_iter,
        converged=converged,
        initial_loglik=initial_ll,
        concomitant_coef=state if weights_model.concomitant else None,
        decreases=decreases,
        n_em_evaluations=n_iter + 1,
    )


#: Plain EM steps before SQUAREM's first cycle: the first EM steps move far and turn,
#: so an extrapolation from them rarely pays.
_SQUAREM_WARMUP_STEPS: int = 1
#: SQUAREM's bound on ``|alpha|`` starts at 1 (a plain double step); it is multiplied
#: by this factor after each cycle whose step length reached it, and divided by it
#: (down to 1) after each failed extrapolation, as ``step.max0 = 1`` and ``mstep`` do
#: in Varadhan's R package SQUAREM (whose default factor, 4, cost 10-30% more
#: evaluations than 2 on the slow cases of the tests and the benchmark). Without a
#: bound, runs of huge failing steps (``alpha`` of -50 to -250 on three overlapping
#: Gaussians) waste an evaluation per cycle: 2.5 times as many evaluations there.
_SQUAREM_STEP_FACTOR: float = 2.0


def _squarem_step_length(r: np.ndarray, v: np.ndarray, max_length: float = np.inf) -> float:
    """SqS3 step length ``alpha = -||r|| / ||v||``, clipped to ``[-max_length, -1]``.

    ``-1`` (the plain double EM step) also when it is undefined: ``v = 0``, or a
    vector with ``inf`` or NaN (a weight of zero has the log-ratio ``-inf``).

    Examples
    --------
    >>> import numpy as np
    >>> _squarem_step_length(np.array([3.0, 4.0]), np.array([-1.0, 0.0]))
    -5.0
    >>> _squarem_step_length(np.array([1.0]), np.array([-2.0]))
    -1.0
    >>> _squarem_step_length(np.array([3.0, 4.0]), np.array([-1.0, 0.0]), max_length=4.0)
    -4.0
    """
    norm_r, norm_v = float(np.linalg.norm(r)), float(np.linalg.norm(v))
    if not (np.isfinite(norm_r) and np.isfinite(norm_v) and norm_v > 0):
        return -1.0
    return max(min(-norm_r / norm_v, -1.0), -max(max_length, 1.0))


def _run_squarem(
    data: Any,
    family: MixtureFamily,
    weights_model: ConstantWeights | ConcomitantWeights,
    weights: np.ndarray,
    params: Any,
    *,
    tol: float,
    max_iter: int,
    check_monotone: bool,
    restart: int,
) -> EMFit:
    """:func:`_run_once` accelerated by SQUAREM (see :func:`fit_em`).

    A point is a pair ``(state, params)``: the weights model's state and the
    component parameters; the EM map ``F`` is one :meth:`MixtureFamily.em_step`
    (``l`` at its input, then the M-step) followed by the weights' M-step.

    The loop keeps the last accepted point ``theta0``, its ``l(theta0)`` (the last
    entry of ``history``) and ``theta1 = F(theta0)``. A cycle costs two evaluations:
    ``F(theta1)`` (``l(theta1)`` and ``theta2``), and ``F(theta')`` at the
    extrapolated point (``l(theta')`` and, if ``theta'`` is accepted, the next
    cycle's ``theta1``). After a fall-back to ``theta2``, ``l(theta2)`` and
    ``theta1`` are unknown: the next cycle starts with ``F(theta2)``, which gives
    both, and records ``l(theta2)`` then.
    """
    n_evaluations = 0

    def em_map(point: tuple[Any, Any], update: bool = True) -> tuple[float, Any]:
        """``l`` at ``point`` and, if ``update``, ``F(point)``."""
        nonlocal n_evaluations
        n_evaluations += 1
        state, component_params = point
        ll, resp_t, new_params = family.em_step(
            data, weights_model.log_weights(state), component_params, update=update
        )
        if not update:
            return ll, None
        return ll, (weights_model.update(resp_t, state), new_params)

    def to_vector(point: tuple[Any, Any]) -> np.ndarray:
        return np.concatenate(
            [weights_model.to_vector(point[0]), family.to_vector(point[1])]
        )

    def from_vector(vector: np.ndarray, like: tuple[Any, Any]) -> tuple[Any, Any]:
        m = weights_model.to_vector(like[0]).size
        return (
            weights_model.from_vector(vector[:m], like=like[0]),
            family.from_vector(vector[m:], like=like[1]),
        )

    def check_finite(ll: float, it: int) -> None:
        if not np.isfinite(ll):
            raise FloatingPointError(
                f"log-likelihood is {ll} in SQUAREM step {it} (restart {restart})."
            )

    def below(ll: float, reference: float) -> bool:
        """Whether ``ll`` is below ``reference`` beyond the round-off tolerance."""
        return reference - ll > DECREASE_RTOL * max(abs(ll), abs(reference)) + DECREASE_ATOL

    point0 = (weights_model.start(weights), params)
    ll0, point1 = em_map(point0, update=max_iter > 0)
    initial_ll = prev = ll0
    history: list[float] = []
    decreases: list[str] = []
    converged = False
    pending = False  # l(theta0) and theta1 unknown: theta0 is the theta2 of a fall-back
    # After an accepted extrapolation theta': l(theta0) and the number of decreases
    # before it, and theta2, to fall back to if F(theta') (computed, not yet
    # evaluated) turns out invalid.
    undo: tuple[float, int, tuple[Any, Any]] | None = None
    step_max = 1.0

    def accept(ll: float) -> bool:
        """Record the log-likelihood of an accepted step; whether EM has converged."""
        nonlocal prev
        history.append(ll)
        if below(ll, prev):
            decreases.append(
                f"log-likelihood decreased at iteration {len(history)} (restart {restart}) "
                f"by {prev - ll:.6g} (from {prev!r} to {ll!r}); EM should never decrease it."
            )
        done = abs(ll - prev) <= tol * abs(ll)
        prev = ll
        return done

    while True:
        if pending:  # l(theta2) of the fall-back, and theta1 = F(theta2)
            ll0, point1 = em_map(point0, update=len(history) + 1 < max_iter)
            check_finite(ll0, len(history) + 1)
            pending = False
            converged = accept(ll0)
        if converged or len(history) >= max_iter:
            break
        it = len(history) + 1
        try:
            ll1, point2 = em_map(point1, update=it < max_iter)  # l(theta1), and theta2
            check_finite(ll1, it)
        except FloatingPointError:
            if undo is None:
                raise
            # theta1 = F(theta') of the last accepted extrapolation is invalid: that
            # extrapolation failed after all. Take it back and accept theta2 instead.
            prev, n_decreases, point0 = undo
            history.pop()
            del decreases[n_decreases:]
            point1, pending, undo = None, True, None
            step_max = max(1.0, step_max / _SQUAREM_STEP_FACTOR)
            continue
        undo = None
        if it == max_iter or it <= _SQUAREM_WARMUP_STEPS or abs(ll1 - prev) <= tol * abs(ll1):
            # A plain EM step: a warm-up step, the last step allowed, or the step that
            # meets the stopping rule (then the rest of the cycle is spared).
            point0, point1 = point1, point2
            converged = accept(ll1)
            continue
        v0, v1, v2 = to_vector(point0), to_vector(point1), to_vector(point2)
        r, v = v1 - v0, v2 - 2.0 * v1 + v0
        alpha = _squarem_step_length(r, v, step_max)
        if alpha == -step_max:
            step_max *= _SQUAREM_STEP_FACTOR
        if alpha == -1.0:  # theta' = theta2: a plain double step, monotone by itself
            ll2, point3 = em_map(point2)
            check_finite(ll2, it)
            point0, point1 = point2, point3
            converged = accept(ll2)
            continue
        ll_x = float("nan")
        try:
            extrapolated = from_vector(v0 - 2.0 * alpha * r + alpha**2 * v, like=point0)
            ll_x, point_x1 = em_map(extrapolated)  # l(theta'), and F(theta')
        except FloatingPointError:
            pass  # a failed extrapolation
        if np.isfinite(ll_x) and not below(ll_x, ll1):
            # theta' does at least as well as one EM step from theta0: accept it.
            undo = (prev, len(decreases), point2)
            point0, point1 = extrapolated, point_x1
            converged = accept(ll_x)
        else:  # the extrapolation did not pay: accept theta2, whose l comes next
            point0, point1, pending = point2, None, True
            step_max = max(1.0, step_max / _SQUAREM_STEP_FACTOR)
    if not (check_monotone and family.exact_m_step):
        decreases = []
    state, params = point0
    return EMFit(
        weights=weights_model.mean_weights(state),
        params=params,
        loglik=history[-1] if history else initial_ll,
        history=np.array(history, dtype=np.float64),
        n_iter=len(history),
        converged=converged,
        initial_loglik=initial_ll,
        concomitant_coef=state if weights_model.concomitant else None,
        decreases=decreases,
        n_em_evaluations=n_evaluations,
    )


def _degeneracy(
    data: Any, family: MixtureFamily, fit: EMFit, n: int
) -> tuple[str | None, str | None]:
    """Why a run is degenerate, and the kind: a weight below one observation
    (``"weight"``), or the family's reason (``"family"``); ``(None, None)`` if it is not."""
    reason = family.degeneracy(data, fit.weights, fit.params)
    if reason is not None:
        return reason, "family"
    light = np.flatnonzero(fit.weights * n < 1.0 - 1e-6)  # round-off never decides
    if light.size:
        k = int(light[0])
        return (
            f"component {k}'s weight {fit.weights[k]:.3g} is below one observation "
            f"(1/n = {1 / n:.3g})"
        ), "weight"
    return None, None


def _first_minimum(values: Any, rtol: float = RESTART_TIE_RTOL) -> int:
    """Index of the first finite value within ``rtol`` (relative) of the minimum.

    The one tie rule of emfit (restarts here, model-selection tables in
    :mod:`emfit.selection`): values that agree to ``rtol`` are tied and the first
    wins, so that round-off never decides.

    Examples
    --------
    >>> import numpy as np
    >>> _first_minimum(np.array([np.nan, 3.0 + 1e-12, 5.0, 3.0]))
    1
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("no finite value to minimise")
    best = values[finite].min()
    tied = finite & (np.abs(values - best) <= rtol * abs(best))
    return int(np.flatnonzero(tied)[0])


def _first_best(runs: list[EMFit]) -> EMFit:
    """The first run whose log-likelihood ties with the highest, to ``RESTART_TIE_RTOL``."""
    return runs[_first_minimum([-run.loglik for run in runs])]


def _check_concomitant(concomitant: Any, n: int) -> np.ndarray:
    Z = np.asarray(concomitant, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != n:
        raise ValueError(
            f"concomitant must be a 2-d array with one row per observation ({n}); "
            f"got shape {Z.shape}."
        )
    if not np.all(np.isfinite(Z)):
        raise ValueError("concomitant must be finite (no NaN or inf).")
    if Z.shape[1] == 0 or not np.all(Z[:, 0] == 1.0):
        raise ValueError("concomitant's first column must be the intercept (all ones).")
    return Z


def fit_em(
    data: Any,
    family: MixtureFamily,
    n_components: int,
    *,
    weights_init: np.ndarray | None = None,
    params_init: Any = None,
    concomitant: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    n_init: int = 1,
    random_state: Any = None,
    check_monotone: bool = True,
    allow_degenerate: bool = False,
    accelerate: str | None = None,
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
    concomitant : ndarray of shape (n_samples, p), optional
        Concomitant design matrix ``Z`` (first column all ones): the mixing weights
        become a multinomial logit ``pi_k(z_i)`` (:class:`emfit.weights.ConcomitantWeights`),
        started from the constant initial weights. By default the weights are
        constant (:class:`emfit.weights.ConstantWeights`).
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
        Warn with :class:`LikelihoodDecreaseWarning` when the log-likelihood of the
        returned run decreased beyond round-off (see the module docstring for the
        tolerance).
    allow_degenerate : bool, default=False
        Let degenerate restarts (see Notes) compete with the others; they are still
        marked in ``restarts``. For studying degenerate fits, not for estimation.
    accelerate : {None, "squarem"}, default=None
        None: plain EM. ``"squarem"``: EM accelerated by SQUAREM (see Notes), which
        usually reaches the maximum of plain EM from the same start (an extrapolation
        may also cross to another, higher one), in far fewer evaluations of the EM
        map when EM converges slowly (overlapping components). The family must implement
        :meth:`MixtureFamily.to_vector` and :meth:`MixtureFamily.from_vector` (the
        defaults do for ndarray parameters). ``max_iter`` then counts accepted
        SQUAREM steps, each of one (a plain step) to three EM-map evaluations.

    Returns
    -------
    EMFit
        The best fit, with every restart recorded in ``restarts``: the first
        non-degenerate restart whose final log-likelihood is within a relative
        :data:`RESTART_TIE_RTOL` of the highest. Restarts that reach the same
        maximum end a little apart, by the stopping rule and by round-off; the
        first of them is kept, so that the choice is the same on every machine.

    Raises
    ------
    DegenerateFitError
        If every restart is degenerate or failed.

    Warns
    -----
    ConvergenceWarning
        If the best restart did not converge within ``max_iter`` iterations.
    LikelihoodDecreaseWarning
        If the log-likelihood of the returned run decreased beyond round-off.
    DegenerateRestartWarning
        If some restarts were degenerate or failed, and were set aside.

    Notes
    -----
    **Degenerate restarts.** The likelihood of many mixtures is unbounded (a
    Gaussian component collapsing onto a point) or its supremum is not attained (a
    component whose coefficients run off to infinity), so the highest log-likelihood
    a restart reaches is not always an estimate. A restart is *degenerate*, and
    never returned, if a mixing weight falls below one observation (``n pi_k < 1``,
    to a relative ``1e-6``, so that a component holding exactly one observation is
    not decided by round-off),
    or if the family's :meth:`MixtureFamily.degeneracy` gives a reason (a singular
    covariance, a diverging coefficient). A restart that fails with a
    :class:`FloatingPointError` (zero density, overflow) is set aside the same way.
    Its log-likelihood decreases are part of its reason, not warnings.

    **SQUAREM** (``accelerate="squarem"``; Varadhan & Roland 2008, *Scand. J.
    Statist.* 35, 335--353, with their step length S3). Let ``theta`` be the vector of all the
    parameters, in an unconstrained form: the weights model's ``to_vector`` (the
    log-ratios ``log(pi_k / pi_1)``, or the logit coefficients of components
    ``2..K``) followed by the family's :meth:`MixtureFamily.to_vector`, so that every
    extrapolated vector is a valid set of parameters. Let ``F`` be the EM map: one
    :meth:`MixtureFamily.em_step` (which also gives ``l`` at its input) and the
    weights' M-step. After one plain EM step, each cycle starts from the last
    accepted point ``theta0``, with ``theta1 = F(theta0)``, ``theta2 = F(theta1)``,
    ``r = theta1 - theta0`` and ``v = theta2 - 2 theta1 + theta0``; the step length
    is ``alpha = -||r|| / ||v||``, set to ``-1`` if it is larger or undefined, and
    bounded below by ``-s``, where ``s`` starts at 1, doubles after each cycle whose
    ``alpha`` reached ``-s`` and halves (down to 1) after each failed extrapolation
    (the ``step.max`` of Varadhan's R package SQUAREM). With ``alpha = -1`` the cycle
    accepts the plain double step ``theta2``. Otherwise the extrapolated point
    ``theta' = theta0 - 2 alpha r + alpha^2 v`` is accepted if its log-likelihood is
    not below ``l(theta1)`` by more than the tolerance of the monotonicity check;
    the EM step that gives ``l(theta')`` also gives ``F(theta')``, the ``theta1`` of
    the next cycle (the stabilising EM step of Varadhan & Roland, here the first step
    of the next cycle). If ``l(theta')`` is lower or not finite, or the family
    raised a :class:`FloatingPointError` (at ``theta'``, or at ``F(theta')`` in the
    next cycle, which then takes ``theta'`` back), the cycle falls back to the plain
    double step ``theta2``, whose ``l`` the next cycle's first EM step gives. So
    ``l`` never decreases between accepted steps (EM gives
    ``l(theta2) >= l(theta1) >= l(theta0)``), ``history`` records it after each of
    them, the stopping rule compares consecutive accepted steps, and the checks of
    monotonicity and degeneracy apply unchanged. When the plain step ``theta1``
    already meets the stopping rule, the cycle accepts it and stops. A cycle costs
    two calls of ``em_step`` (``EMFit.n_em_evaluations`` counts them), as many as
    the two plain EM steps it contains, plus one after a fall-back; so a fast case
    costs no more evaluations than plain EM, or a few more.

    Examples
    --------
    See :class:`MixtureFamily`. SQUAREM reaches the maximum of plain EM with fewer
    evaluations of the EM map:

    >>> import numpy as np
    >>> from emfit.em import fit_em
    >>> from emfit.gaussian import GaussianFamily
    >>> X = np.random.default_rng(0).normal(size=(2000, 1))
    >>> X[:1000] += 2.0  # two overlapping components
    >>> start = dict(weights_init=[0.5, 0.5], random_state=0, tol=1e-12, max_iter=10_000)
    >>> plain = fit_em(X, GaussianFamily("spherical"), 2, **start)
    >>> fast = fit_em(X, GaussianFamily("spherical"), 2, accelerate="squarem", **start)
    >>> bool(abs(fast.loglik - plain.loglik) <= 1e-9 * abs(plain.loglik))
    True
    >>> bool(fast.n_em_evaluations < plain.n_em_evaluations / 3)
    True
    """
    n_components = check_positive_int(n_components, "n_components")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    n_init = check_positive_int(n_init, "n_init")
    tol = check_positive_float(tol, "tol", allow_zero=True)
    if not (accelerate is None or (isinstance(accelerate, str) and accelerate in ACCELERATIONS)):
        raise ValueError(f"accelerate must be None or 'squarem'; got {accelerate!r}.")
    run_once = _run_once if accelerate is None else _run_squarem
    if weights_init is not None:
        weights_init = _check_weights(weights_init, n_components)
    n = family.n_samples(data)
    weights_model: ConstantWeights | ConcomitantWeights = (
        ConstantWeights()
        if concomitant is None
        else ConcomitantWeights(_check_concomitant(concomitant, n))
    )

    root = check_random_state(random_state)
    entropy = int(root.integers(0, 2**63 - 1))

    runs: list[EMFit] = []
    records: list[RestartResult] = []
    errors: list[FloatingPointError] = []
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
        try:
            run = run_once(
                data,
                family,
                weights_model,
                weights,
                params,
                tol=tol,
                max_iter=max_iter,
                check_monotone=check_monotone,
                restart=i,
            )
        except FloatingPointError as exc:
            errors.append(exc)
            records.append(
                RestartResult(
                    float("nan"), 0, False, degenerate=f"failed: {exc}", degenerate_kind="failed"
                )
            )
            continue
        reason, kind = _degeneracy(data, family, run, n)
        if reason is not None and run.decreases and not allow_degenerate:
            reason += f"; {run.decreases[0]}"
        records.append(
            RestartResult(
                loglik=run.loglik,
                n_iter=run.n_iter,
                converged=run.converged,
                weights=run.weights,
                params=run.params,
                concomitant_coef=run.concomitant_coef,
                degenerate=reason,
                degenerate_kind=kind,
            )
        )
        if reason is None or allow_degenerate:
            runs.append(run)
    if not runs:
        if len(errors) == n_init:
            raise errors[0]
        error = DegenerateFitError(
            f"every one of the {n_init} restart(s) is degenerate; restart 0: "
            f"{records[0].degenerate} (the error's attribute restarts holds every "
            f"restart's reason). To fix it: {family.degeneracy_hint}."
        )
        error.restarts = records
        raise error
    best = _first_best(runs)
    best.restarts = records
    n_set_aside = n_init - len(runs)
    if n_set_aside and not allow_degenerate:
        warnings.warn(
            f"{n_set_aside} of {n_init} restarts were degenerate or failed and were set "
            "aside (see restarts_ for the reasons).",
            DegenerateRestartWarning,
            stacklevel=2,
        )
    for message in best.decreases:  # attributed to emfit.em, so filters on emfit.* catch it
        warnings.warn(message, LikelihoodDecreaseWarning, stacklevel=1)
    if not best.converged and max_iter > 0:
        warnings.warn(
            f"EM did not converge in max_iter={max_iter} iterations (relative change of "
            f"the log-likelihood above tol={tol:g}); increase max_iter or tol, or check "
            "the initialisation.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return best
