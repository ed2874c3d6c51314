r"""The estimator :class:`PoissonRegressionMixture`, in scikit-learn's conventions.

Validation of covariates, counts and exposures; the design matrix with or without
intercepts; the fit by :func:`emfit.em.fit_em` with the family of
:mod:`emfit.poisson.family`, in the canonical component order; and, at the fitted
parameters, the information matrices and the standard errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .._base import MixtureEstimatorMixin, canonical_order, shared_docstrings
from .._validation import (
    check_array,
    check_counts,
    check_exposure,
    check_feature_names,
    check_positive_int,
    check_random_state,
)
from .family import INITS, M_STEPS, PoissonRegressionData, PoissonRegressionFamily
from .inference import _standard_errors
from .concomitant import concomitant_information
from .information import _louis_parts, observed_information
from .likelihood import _mixture_at_theta
from .pmf import _eta, component_log_prob, design_matrix

__all__ = ["PoissonRegressionMixture"]


def _check_offset(exposure: Any, n: int) -> np.ndarray:
    """``log(exposure)`` after validation; zeros if ``exposure`` is None."""
    if exposure is None:
        return np.zeros(n)
    return np.log(check_exposure(exposure, n))


@shared_docstrings
class PoissonRegressionMixture(MixtureEstimatorMixin, BaseEstimator):
    r"""Finite mixture of Poisson regressions fitted by EM.

    .. math::

        p(y_i \mid x_i) = \sum_{k=1}^K \pi_k \operatorname{Poisson}\big(y_i;\,
            e_i \exp(b_k + x_i^\top \beta_k)\big),

    with exposure ``e_i`` (offset ``log e_i``). With ``fit_intercept=False`` and no
    exposure this is the seed's model ``lambda_ki = exp(beta_k x_i)``.

    **Identifiability** (on a fixed design; see the book chapter "Identifiability").
    It always needs distinct components (``(b_j, beta_j) != (b_k, beta_k)``) and
    every weight in ``(0, 1)``, and holds at best up to a relabelling of the
    components. Which designs suffice, for one covariate:

    * without intercept (``lambda = exp(beta_k x)``), a single nonzero value of
      ``x`` suffices (identified up to labels iff ``0 < p < 1`` and
      ``beta_1 != beta_2``); observations with ``x = 0`` carry no information;
    * with intercepts, one distinct value of ``x`` never suffices; two distinct
      values fail when ``p = 1/2`` (the cross-paired lines give the same law) unless
      the two lines cross at a design point; three or more distinct values suffice
      (``0 < p < 1``, distinct lines).

    Fitted components are therefore returned in a **canonical order**: increasing intercept, ties broken
    by the first coefficient, then the second, ... (lexicographic order of the rows
    of ``[intercept_, coef_]``; without intercept, of ``coef_``).

    Parameters
    ----------
    n_components : int, default=2
        Number of components ``K``.
    fit_intercept : bool, default=True
        Give each component its own intercept ``b_k``. If False, ``intercept_`` is 0.
    m_step : {"newton", "gradient"}, default="newton"
        ``"newton"``: exact EM, each component's weighted Poisson regression solved
        by Newton/IRLS (warm-started, with step halving). ``"gradient"``:
        generalised EM, one gradient-ascent step with Armijo backtracking per
        component and iteration (slow; for teaching). It can be much slower than
        Newton when the components have an intercept: the intercept and slope
        directions are badly conditioned (one step of length
        ``1 / lambda_max`` barely moves along the flat direction). On the patent
        data (:func:`emfit.datasets.load_patents`, ``K = 2``, ``x = lgRD``) it takes
        about 100 times as many iterations as Newton, ~45x the run time (as
        measured for the book; 20x-45x depending on the start and the machine).
        Without intercept the two are about as fast. The log-likelihood never
        decreases with either.
    tol : float, default=1e-10
        Stop when the relative change of the total log-likelihood is at most ``tol``.
    max_iter : int, default=1000
        Maximum number of EM iterations per restart.
    n_init : int, default=1
        Number of restarts; the best is kept (the first of those tied to
        :data:`emfit.em.RESTART_TIE_RTOL`).
    init : {"random", "residual"}, default="random"
        ``"random"``: flat-Dirichlet random responsibilities, then an M-step.
        ``"residual"``: deterministic, from the Pearson residuals of a one-component
        fit split into ``K`` quantile groups (every restart is then the same).
        Ignored when ``weights_init`` and the initial coefficients are all given.
    weights_init : array-like of shape (K,), optional
        Initial mixing weights.
    coef_init : array-like of shape (K, n_features), optional
        Initial slopes. If given, the start is ``(intercept_init or 0, coef_init)``.
    intercept_init : array-like of shape (K,), optional
        Initial intercepts (only with ``fit_intercept=True`` and ``coef_init``).
    random_state : None, int or numpy.random.Generator
        Seed of the initialisation.
    accelerate : {None, "squarem"}, default=None
        SHARED_PARAMETER accelerate (filled in by emfit._base.shared_docstrings)

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
        Mixing weights.
    intercept_ : ndarray of shape (K,)
        Intercepts (zeros if ``fit_intercept=False``).
    coef_ : ndarray of shape (K, n_features)
        Slopes.
    loglik_ : float
        Total log-likelihood of the training data at the fitted parameters.
    history_ : ndarray, one entry per iteration (``n_iter_`` entries)
        Log-likelihood after each EM iteration (``history_[-1] == loglik_``).
    n_iter_ : int
        Number of EM iterations of the best restart.
    n_em_evaluations_ : int
        Evaluations of the EM map (E-steps) of the best restart: ``n_iter_ + 1``
        for plain EM, more per iteration with ``accelerate="squarem"``.
    converged_ : bool
        Whether the best restart met the stopping rule.
    restarts_ : list of RestartResult
        Every restart: its final log-likelihood, iterations, convergence, parameters
        (in the driver's form and order) and, if it was set aside, why
        (``degenerate``; see :func:`emfit.em.fit_em`).
    concomitant_coef_ : ndarray of shape (K, n_concomitant + 1) or None
        Coefficients ``[g_k, gamma_k]`` of the multinomial-logit mixing weights when
        ``fit`` was given ``Z`` (row 0, the reference component, is zero); then
        ``weights_`` holds the weights averaged over the training data. None otherwise.
    n_concomitant_in_ : int
        Number of concomitant covariates seen in ``fit`` (0 without ``Z``).
    n_features_in_ : int
        Number of covariates seen in :meth:`fit`.

    Notes
    -----
    Linear predictors are clipped to ``[-ETA_MAX, ETA_MAX]`` (``ETA_MAX = 300``) so
    that ``exp`` never overflows; log-probabilities are computed without
    cancellation (see :mod:`emfit.poisson`), so huge counts (``y ~ 1e9``) are fine.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import PoissonRegressionMixture
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 2, size=(5000, 1))
    >>> z = rng.random(5000) < 0.3
    >>> y = rng.poisson(np.exp(np.where(z, 1.0, 2.0) * x[:, 0]))
    >>> model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(x, y)
    >>> model.coef_.round(1).ravel().tolist(), model.weights_.round(1).tolist()
    ([1.0, 2.0], [0.3, 0.7])
    """

    _fitted_attribute = "coef_"
    _fit_call = "fit(X, y)"
    _data_doc = (
        "X : array-like of shape (n_samples, n_features)\n"
        "y : array-like of shape (n_samples,)\n"
        "    Counts.\n"
        "exposure : array-like of shape (n_samples,), optional\n"
        "    Exposure ``e_i > 0``: the rates are ``e_i exp(b_k + x_i beta_k)``."
    )
    _score_takes_y = False

    def __init__(
        self,
        n_components: int = 2,
        *,
        fit_intercept: bool = True,
        m_step: str = "newton",
        tol: float = 1e-10,
        max_iter: int = 1000,
        n_init: int = 1,
        init: str = "random",
        weights_init: ArrayLike | None = None,
        coef_init: ArrayLike | None = None,
        intercept_init: ArrayLike | None = None,
        random_state: Any = None,
        accelerate: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.m_step = m_step
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init = init
        self.weights_init = weights_init
        self.coef_init = coef_init
        self.intercept_init = intercept_init
        self.random_state = random_state
        self.accelerate = accelerate

    # ------------------------------------------------------------------ helpers
    def _validate(
        self, X: Any, y: Any | None, exposure: Any, *, fitting: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        if not fitting:
            self._check_fitted()
        check_feature_names(self, X, reset=fitting)  # feature_names_in_ of a DataFrame
        X = check_array(X, name="X", ndim=2)
        if not fitting:
            self._check_features(X)
        n = X.shape[0]
        y_arr = None if y is None else check_counts(y, "y", n)
        return X, y_arr, _check_offset(exposure, n)

    def _design(
        self, X: Any, y: Any | None, exposure: Any
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Design matrix, counts and offset of new data, validated for the fitted model."""
        X, y_arr, offset = self._validate(X, y, exposure)
        return design_matrix(X, self.fit_intercept), y_arr, offset

    def _full_coef(self) -> np.ndarray:
        if self.fit_intercept:
            return np.column_stack([self.intercept_, self.coef_])
        return self.coef_

    def _split_intercept(self, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`_full_coef`: ``(intercepts, slopes)`` from a (K, q) array
        on the design matrix (intercepts 0 when ``fit_intercept=False``)."""
        if self.fit_intercept:
            return full[:, 0].copy(), full[:, 1:].copy()
        return np.zeros(full.shape[0]), full.copy()

    def _theta(self) -> tuple[np.ndarray, np.ndarray]:
        return self.weights_, self._full_coef()

    def _initial_params(self, p: int) -> np.ndarray | None:
        K = self.n_components
        if self.coef_init is None:
            if self.intercept_init is not None:
                raise ValueError("intercept_init needs coef_init as well.")
            return None
        coef = check_array(self.coef_init, name="coef_init", ndim=2)
        if coef.shape != (K, p):
            raise ValueError(f"coef_init must have shape ({K}, {p}); got {coef.shape}.")
        if not self.fit_intercept:
            if self.intercept_init is not None:
                raise ValueError("intercept_init is only used with fit_intercept=True.")
            return coef.copy()
        if self.intercept_init is None:
            b = np.zeros(K)
        else:
            b = check_array(self.intercept_init, name="intercept_init", ndim=1)
            if b.shape != (K,):
                raise ValueError(f"intercept_init must have shape ({K},); got {b.shape}.")
        return np.column_stack([b, coef])

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        *,
        Z: ArrayLike | None = None,
    ) -> PoissonRegressionMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Covariates (2-d; use ``x.reshape(-1, 1)`` for one covariate).
        y : array-like of shape (n_samples,)
            Non-negative integer counts.
        exposure : array-like of shape (n_samples,), optional
            Positive exposures; ``log(exposure)`` enters as an offset.
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates: the mixing weights become a multinomial logit
            ``pi_k(z_i) = softmax_k(g_k + z_i^T gamma_k)`` with the first component as
            the reference (``concomitant_coef_``), estimated in the M-step by Newton's
            method (:mod:`emfit.weights`). Every later call that takes data must
            then be given ``Z`` too. No column of ``Z`` may be constant.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On invalid input, naming the argument.
        """
        X, y_arr, offset = self._validate(X, y, exposure, fitting=True)
        K = check_positive_int(self.n_components, "n_components")
        if self.m_step not in M_STEPS:
            raise ValueError(f"m_step must be one of {M_STEPS}; got {self.m_step!r}.")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}.")
        Zd = self._concomitant_design(Z, X.shape[0], fitting=True)
        data = PoissonRegressionData.from_arrays(
            design_matrix(X, self.fit_intercept), y_arr, offset
        )
        family = PoissonRegressionFamily(m_step=self.m_step, init=self.init)
        params_init = self._initial_params(X.shape[1])
        # The loop is made of many small matrix-vector products: BLAS threads only
        # cost synchronisation (and are very slow on a busy machine), as in
        # scikit-learn's KMeans.
        with threadpool_limits(limits=1, user_api="blas"):
            fit = self._fit_em(
                data,
                family,
                K,
                weights_init=self.weights_init,
                params_init=params_init,
                concomitant=Zd,
            )
        coef = np.asarray(fit.params)
        order = canonical_order(coef)
        self._set_fit_result(fit, order)
        self.intercept_, self.coef_ = self._split_intercept(coef[order])
        self.n_features_in_ = X.shape[1]
        return self

    # ------------------------------------------------------------------ inference
    def _log_prob(self, X: Any, y: Any, exposure: Any = None) -> np.ndarray:
        D, y_arr, offset = self._design(X, y, exposure)
        return component_log_prob(self._full_coef(), D, y_arr, offset)

    def _n_component_parameters(self) -> int:
        return PoissonRegressionFamily().n_parameters(self._full_coef())

    # the public signatures; docstrings from emfit._base.shared_docstrings
    def predict_proba(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> np.ndarray:
        return super().predict_proba(X, y, exposure, Z=Z)

    def predict(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> np.ndarray:
        return super().predict(X, y, exposure, Z=Z)

    def score_samples(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> np.ndarray:
        return super().score_samples(X, y, exposure, Z=Z)

    def score(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> float:
        return super().score(X, y, exposure, Z=Z)

    def bic(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> float:
        return super().bic(X, y, exposure, Z=Z)

    def aic(
        self, X: ArrayLike, y: ArrayLike, exposure: ArrayLike | None = None, *, Z: Any = None
    ) -> float:
        return super().aic(X, y, exposure, Z=Z)

    def predict_mean(
        self, X: ArrayLike, exposure: ArrayLike | None = None, *, Z: ArrayLike | None = None
    ) -> np.ndarray:
        """Mixture mean ``E[y | x] = sum_k pi_k e exp(b_k + x^T beta_k)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        exposure : array-like of shape (n_samples,), optional
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates (if the model was fitted with them).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        D, _, off = self._design(X, None, exposure)
        weights = np.exp(np.broadcast_to(self._log_weights(Z, D.shape[0]), (D.shape[0], len(self.weights_))))
        return np.einsum("ik,ik->i", np.exp(_eta(D, self._full_coef().T, off)), weights)

    def sample(
        self,
        X: ArrayLike,
        exposure: ArrayLike | None = None,
        random_state: Any = None,
        *,
        Z: ArrayLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one count per row of ``X`` from the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        exposure : array-like of shape (n_samples,), optional
        random_state : None, int or numpy.random.Generator
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates (if the model was fitted with them).

        Returns
        -------
        y : ndarray of shape (n_samples,), dtype int64
            Simulated counts.
        labels : ndarray of shape (n_samples,), dtype int
            Component of each draw.
        """
        D, _, off = self._design(X, None, exposure)
        n = D.shape[0]
        rng = check_random_state(random_state)
        log_w = self._log_weights(Z, n)
        if log_w.ndim == 1:
            labels = rng.choice(self.n_components, size=n, p=self.weights_)
        else:  # inverse-CDF draw of each row's label
            cdf = np.cumsum(np.exp(log_w), axis=1)
            labels = np.minimum((rng.random(n)[:, None] * cdf[:, -1:] > cdf).sum(axis=1), cdf.shape[1] - 1)
        eta = _eta(D, self._full_coef().T, off)[np.arange(n), labels]
        return rng.poisson(np.exp(eta)).astype(np.int64), labels

    # ------------------------------------------------------------------ information
    def _phi(self) -> np.ndarray:
        """Flat parameters ``[gamma_2..gamma_K, [b_k, beta_k]_k]`` of a concomitant model."""
        return np.concatenate([self.concomitant_coef_[1:].ravel(), self._full_coef().ravel()])

    def observed_information(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        method: str = "hessian",
        *,
        Z: ArrayLike | None = None,
    ) -> np.ndarray:
        """Observed information at the fitted parameters (flat free parameters).

        The parameter order is ``(pi_1, ..., pi_{K-1}, [b_1,] beta_1, ...,
        [b_K,] beta_K)`` in the canonical component order (see
        :func:`observed_information` and :mod:`emfit.poisson`); for a model fitted
        with concomitant covariates, ``(gamma_2, ..., gamma_K, [b_1,] beta_1, ...)``,
        each ``gamma_k`` being row ``k`` of ``concomitant_coef_`` (see
        :func:`concomitant_information`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional
        method : {"hessian", "louis"}, default="hessian"
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates (if the model was fitted with them).

        Returns
        -------
        ndarray of shape (P, P)
        """
        D, y_arr, off = self._design(X, y, exposure)
        Zd = self._concomitant_design(Z, D.shape[0])
        if Zd is not None:  # one analytic formula: the Hessian and Louis' route agree
            return concomitant_information(self._phi(), self.n_components, Zd, D, y_arr, off)
        return observed_information(self._theta(), D, y_arr, off, method=method)

    def information_parts(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        *,
        Z: ArrayLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Complete-data and missing information at the fitted parameters (Louis 1982).

        Same parameter order as :meth:`observed_information`, which equals
        ``complete - missing`` (its ``method="louis"`` route). See
        :func:`complete_information` and :func:`missing_information`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        exposure : array-like of shape (n_samples,), optional
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates (if the model was fitted with them).

        Returns
        -------
        complete : ndarray of shape (P, P)
        missing : ndarray of shape (P, P)
        """
        D, y_arr, off = self._design(X, y, exposure)
        Zd = self._concomitant_design(Z, D.shape[0])
        if Zd is not None:
            return concomitant_information(
                self._phi(), self.n_components, Zd, D, y_arr, off, parts=True
            )
        p = _mixture_at_theta(self._theta(), D, y_arr, off)
        return _louis_parts(p, D, y_arr)

    def standard_errors(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        method: str = "hessian",
        *,
        Z: ArrayLike | None = None,
    ) -> dict[str, np.ndarray]:
        """Standard errors from the observed information at the fitted parameters.

        The covariance of the free parameters ``(pi_1..pi_{K-1}, [b_k, beta_k]_k)`` is
        the inverse observed information (:meth:`observed_information`); the
        standard error of ``pi_K = 1 - sum_{j<K} pi_j`` follows by the delta method
        (exactly, as the map is linear): ``Var(pi_K) = 1^T Cov(pi_1..pi_{K-1}) 1``.
        Unlike the standard errors of the M-step's weighted regressions, these
        account for the uncertainty of the component memberships.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training covariates.
        y : array-like of shape (n_samples,)
            The training counts.
        exposure : array-like of shape (n_samples,), optional
        method : {"hessian", "louis"}, default="hessian"
            Route to the observed information.
        Z : array-like of shape (n_samples, n_concomitant), optional
            The training concomitant covariates (if the model was fitted with them).

        Returns
        -------
        dict
            ``"weights"`` (K,), ``"intercept"`` (K,) and ``"coef"`` (K, n_features),
            shaped like the fitted attributes. The intercept entries are 0 when
            ``fit_intercept=False`` (the intercept is fixed, not estimated). For a
            model with concomitant covariates, ``"concomitant_coef"`` (K,
            n_concomitant + 1) replaces ``"weights"`` (its first row, the reference
            component, is 0).

        Warns
        -----
        SingularInformationWarning
            If the observed information is singular (after scaling by its diagonal,
            an eigenvalue ``<= 1e-10`` times the largest: the parameters are not
            identifiable from these data, e.g. an intercept and a slope when every
            ``x_i`` is equal, or the fit is not at a strict maximum) or not positive
            definite (a saddle point, or EM has not converged). The standard errors
            of the parameters involved in the singular or negative directions are
            then NaN; the others come from the pseudo-inverse of the information
            (an identified parameter's variance does not depend on the
            non-identified ones).
        """
        info = self.observed_information(X, y, exposure, method=method, Z=Z)
        K, q = self._full_coef().shape
        if self.concomitant_coef_ is not None:
            g = self.concomitant_coef_[1:].size
            se = _standard_errors(info, 0)[0]
            se_gamma = np.vstack([np.zeros((1, g // max(K - 1, 1))), se[:g].reshape(K - 1, -1)])
            se_b, se_c = self._split_intercept(se[g:].reshape(K, q))
            return {"concomitant_coef": se_gamma, "intercept": se_b, "coef": se_c}
        m = K - 1
        se, se_w = _standard_errors(info, m)
        se_b, se_c = self._split_intercept(se[m:].reshape(K, q))
        return {"weights": se_w, "intercept": se_b, "coef": se_c}

    def summary(
        self,
        X: ArrayLike,
        y: ArrayLike,
        exposure: ArrayLike | None = None,
        *,
        Z: ArrayLike | None = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Estimates with standard errors, z-values, p-values and confidence intervals.

        Like statsmodels' ``summary()`` or flexmix's ``summary(refit(m))``: one row per
        parameter, with the standard error from the observed information
        (:meth:`standard_errors`), ``z = estimate / se``, the two-sided p-value of
        ``parameter = 0`` from the normal distribution, and the Wald interval
        ``estimate -+ z_{1 - alpha/2} se``. The weights' rows test ``pi_k = 0``, a
        boundary value where the normal approximation fails: read them as intervals
        only. ``df.attrs`` holds ``loglik``, ``aic``, ``bic``, ``n_parameters`` and
        ``n_samples``.

        Parameters
        ----------
        X, y, exposure, Z
            The training data, as given to :meth:`fit`.
        alpha : float, default=0.05
            One minus the confidence level of the intervals.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(component, parameter)``; columns ``estimate``, ``std_err``,
            ``z``, ``p_value``, ``ci_low``, ``ci_high``.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.datasets import make_poisson_regression_mixture
        >>> from emfit.poisson import PoissonRegressionMixture
        >>> X, y, _ = make_poisson_regression_mixture(400, random_state=0)
        >>> model = PoissonRegressionMixture(2, fit_intercept=False, random_state=0).fit(X, y)
        >>> table = model.summary(X, y)
        >>> table.columns.tolist()
        ['estimate', 'std_err', 'z', 'p_value', 'ci_low', 'ci_high']
        >>> table.index.tolist()
        [(0, 'weight'), (0, 'x1'), (1, 'weight'), (1, 'x1')]
        """
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
        se = self.standard_errors(X, y, exposure, Z=Z)
        names = list(getattr(self, "feature_names_in_", [f"x{j + 1}" for j in range(self.n_features_in_)]))
        rows, est, err = [], [], []
        for k in range(self.n_components):
            if self.concomitant_coef_ is None:
                rows.append((k, "weight"))
                est.append(self.weights_[k])
                err.append(se["weights"][k])
            elif k > 0:
                z_names = ["(weight intercept)"] + [
                    f"(weight) z{j + 1}" for j in range(self.n_concomitant_in_)
                ]
                rows += [(k, name) for name in z_names]
                est += list(self.concomitant_coef_[k])
                err += list(se["concomitant_coef"][k])
            if self.fit_intercept:
                rows.append((k, "intercept"))
                est.append(self.intercept_[k])
                err.append(se["intercept"][k])
            rows += [(k, name) for name in names]
            est += list(self.coef_[k])
            err += list(se["coef"][k])
        est, err = np.asarray(est, dtype=float), np.asarray(err, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / err
        half = norm.ppf(1 - alpha / 2) * err
        table = pd.DataFrame(
            {
                "estimate": est,
                "std_err": err,
                "z": z,
                "p_value": 2 * norm.sf(np.abs(z)),
                "ci_low": est - half,
                "ci_high": est + half,
            },
            index=pd.MultiIndex.from_tuples(rows, names=["component", "parameter"]),
        )
        ll = self.score_samples(X, y, exposure, Z=Z)
        P = self._n_parameters()
        table.attrs = {
            "loglik": float(ll.sum()),
            "aic": float(-2 * ll.sum() + 2 * P),
            "bic": float(-2 * ll.sum() + P * np.log(ll.size)),
            "n_parameters": P,
            "n_samples": int(ll.size),
        }
        return table
