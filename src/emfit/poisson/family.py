r"""Poisson-regression components for the EM driver :func:`emfit.em.fit_em`.

:class:`PoissonRegressionData` holds the arrays in the layout of the EM loop;
:class:`PoissonRegressionFamily` implements the driver's hooks: the E-step on
``(K, n)`` arrays, the M-step by the weighted solvers of :mod:`emfit.poisson.glm`,
and the two initialisations.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_positive_float, check_positive_int
from ..em import MixtureFamily, normalise_block
from .glm import (
    _Gram,
    _gram_rows,
    _gradient_steps,
    _irls_start,
    _newton,
    _Scratch,
    fit_weighted_poisson,
)
from .pmf import _count_term, _eta_t, _log_prob_kernel, _offset

__all__ = ["PoissonRegressionData", "PoissonRegressionFamily"]


#: M-step variants of :class:`PoissonRegressionFamily`.
M_STEPS: tuple[str, ...] = ("newton", "gradient")

#: Initialisations of :class:`PoissonRegressionFamily`.
INITS: tuple[str, ...] = ("random", "residual")

#: A component whose log-rate ``d_i^T beta_k`` is below ``-DEGENERATE_ETA`` (a rate
#: below ``2e-9``) at an observation it is responsible for (``r_ik >= 1/2``) has
#: coefficients running off to infinity: it fits zero counts exactly, where the
#: likelihood's supremum is not attained (see :meth:`PoissonRegressionFamily.degeneracy`).
DEGENERATE_ETA: float = 20.0


class PoissonRegressionData(NamedTuple):
    """The ``data`` object :class:`PoissonRegressionFamily` works on.

    Build it with :meth:`from_arrays`.

    Attributes
    ----------
    D : ndarray of shape (n, q)
        Design matrix.
    y : ndarray of shape (n,)
        Counts, as float64.
    offset : ndarray of shape (n,)
        Offset ``log(exposure)``.
    DT : ndarray of shape (q, n)
        C-contiguous transpose of ``D`` (the fast layout of the EM loop).
    gram : (G, index) or None
        When ``q <= 4``: ``G``, of shape (r, n), the distinct rows among the rows of
        ``DT`` and the products of pairs of them (``DT[i] * DT[j]``, ``i <= j``, upper
        triangle order), and ``index``, of shape (q + q (q + 1) / 2,), where each of
        these rows is in ``G``; a weighted gradient and Hessian are then one matrix
        product (``emfit.poisson.glm._gram_rows``).
    stable, const : bool, ndarray of shape (n,)
        The form of the log-density chosen for ``y`` and its ``y``-only part
        (``_count_term`` in ``emfit.poisson.pmf``, the rule every module uses).
    sum_const : float
        ``const.sum()``.
    zero_offset : bool
        Whether ``offset`` is zero (the linear predictor then needs no addition).
    scratch : object or None
        Working arrays of the EM iteration, reused from one iteration to the next.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.poisson import PoissonRegressionData, design_matrix
    >>> data = PoissonRegressionData.from_arrays(design_matrix([[0.5], [1.0]]), [2, 0])
    >>> data.DT.shape, data.stable
    ((2, 2), False)
    """

    D: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    DT: np.ndarray
    gram: _Gram | None
    stable: bool
    const: np.ndarray
    sum_const: float
    zero_offset: bool = False
    scratch: _Scratch | None = None

    def eta_offset(self) -> np.ndarray | None:
        """``offset`` as the linear predictor takes it: None if it is zero."""
        return None if self.zero_offset else self.offset

    @classmethod
    def from_arrays(
        cls, D: ArrayLike, y: ArrayLike, offset: ArrayLike | None = None
    ) -> PoissonRegressionData:
        """Build from a design matrix, counts and an optional offset (not validated).

        Parameters
        ----------
        D : array-like of shape (n, q)
            Design matrix (see :func:`design_matrix`).
        y : array-like of shape (n,)
            Counts.
        offset : array-like of shape (n,), optional
            Offset ``log(exposure)``; zero by default.

        Returns
        -------
        PoissonRegressionData
        """
        D = np.ascontiguousarray(D, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        off = np.ascontiguousarray(_offset(offset, len(y)))
        DT = np.ascontiguousarray(D.T)
        stable, const = _count_term(y)
        gram, sum_const, zero_offset = _gram_rows(DT), float(const.sum()), not np.any(off)
        return cls(D, y, off, DT, gram, stable, const, sum_const, zero_offset, _Scratch())


class PoissonRegressionFamily(MixtureFamily):
    """Poisson-regression components for :func:`emfit.em.fit_em`.

    ``data`` is a :class:`PoissonRegressionData`; ``params`` is the coefficient
    array of shape ``(K, q)`` on the design matrix (row ``k`` is ``beta_k``).

    Parameters
    ----------
    m_step : {"newton", "gradient"}, default="newton"
        ``"newton"``: each component's weighted Poisson regression is solved by
        Newton/IRLS warm-started from the previous coefficients, with step halving
        (exact EM). ``"gradient"``: ``n_gradient_steps`` gradient-ascent steps with
        Armijo backtracking (generalised EM); much slower than Newton when the
        components have an intercept (badly conditioned steps; see
        :class:`PoissonRegressionMixture`). Both never decrease ``Q``, hence never
        decrease the log-likelihood.
    init : {"random", "residual"}, default="random"
        ``"random"``: responsibilities drawn from a flat Dirichlet distribution, then
        one M-step (weighted fits from the IRLS start). ``"residual"``
        (deterministic): fit one Poisson regression, sort the observations by Pearson
        residual, split them into ``K`` equal groups and fit each group.
    newton_tol : float, default=1e-10
        Stopping rule of the Newton iterations (see :func:`fit_weighted_poisson`).
    newton_max_iter : int, default=50
        Maximum number of Newton steps per component per M-step.
    n_gradient_steps : int, default=1
        Gradient steps per component per M-step (``m_step="gradient"``).

    Notes
    -----
    :meth:`em_step` is overridden: it computes the E-step on ``(K, n)`` arrays (fast
    reductions over the short axis) and reuses the E-step's linear predictors and
    means as the start of the Newton iterations. The result equals the default
    ``log_prob`` / ``e_step`` / ``m_step`` sequence up to round-off.
    A component whose responsibilities sum to (almost) zero keeps its coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import fit_em
    >>> from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(0, 2, 4000)
    >>> z = rng.random(4000) < 0.4
    >>> y = rng.poisson(np.exp(np.where(z, 1.0, 2.0) * x))
    >>> data = PoissonRegressionData.from_arrays(x[:, None], y)
    >>> fit = fit_em(data, PoissonRegressionFamily(), 2, random_state=0)
    >>> np.sort(fit.params.ravel()).round(1).tolist()
    [1.0, 2.0]
    """

    def __init__(
        self,
        m_step: str = "newton",
        init: str = "random",
        *,
        newton_tol: float = 1e-10,
        newton_max_iter: int = 50,
        n_gradient_steps: int = 1,
    ) -> None:
        if m_step not in M_STEPS:
            raise ValueError(f"m_step must be one of {M_STEPS}; got {m_step!r}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {init!r}.")
        self.m_step_method = m_step
        self.init = init
        self.newton_tol = check_positive_float(newton_tol, "newton_tol")
        self.newton_max_iter = check_positive_int(newton_max_iter, "newton_max_iter")
        self.n_gradient_steps = check_positive_int(n_gradient_steps, "n_gradient_steps")

    # ------------------------------------------------------------------ hooks
    @staticmethod
    def _log_prob_t(
        data: PoissonRegressionData, params: np.ndarray, *, with_factorial: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear predictors, means and log-probabilities, all of shape (K, n).

        With ``with_factorial=False`` the ``y``-only term ``data.const`` (the same
        for every component) is left out of the log-probabilities.
        """
        eta = _eta_t(data.DT, np.asarray(params, dtype=np.float64), data.eta_offset())
        mu = np.exp(eta)
        lp = _log_prob_kernel(data.y, eta, mu, data.stable)
        if with_factorial:
            lp += data.const
        return eta, mu, lp

    def log_prob(self, data: PoissonRegressionData, params: np.ndarray) -> np.ndarray:
        return self._log_prob_t(data, params)[2].T

    def _update(
        self,
        data: PoissonRegressionData,
        resp_t: np.ndarray,
        params: np.ndarray,
        mu: np.ndarray | None = None,
        kernel: np.ndarray | None = None,
    ) -> np.ndarray:
        """M-step from responsibilities of shape (K, n).

        ``mu`` and ``kernel`` (K, n), the means and the log-density kernels at
        ``params`` (from the E-step), save each component's solver an ``exp``.
        """
        new = np.array(params, dtype=np.float64, copy=True)
        n_k = resp_t.sum(axis=1)
        for k in range(new.shape[0]):
            if not n_k[k] > 1e-12 * len(data.y):  # empty component: keep it
                continue
            w = resp_t[k]
            mu_k = None if mu is None else mu[k]
            L_k = None if kernel is None else float(w @ kernel[k])  # its part of Q
            new[k] = self._component_update(
                data, w, new[k], mu_k, L_k, method=self.m_step_method
            )
        return new

    def _component_update(
        self,
        data: PoissonRegressionData,
        w: np.ndarray,
        beta: np.ndarray,
        mu: np.ndarray | None = None,
        L: float | None = None,
        *,
        method: str,
    ) -> np.ndarray:
        """One component's weighted Poisson regression, from ``beta``.

        The observation weights ``w`` are the component's responsibilities; solved by
        Newton (``method="newton"``) or ``n_gradient_steps`` gradient steps. ``mu``
        and ``L``: the means and the objective at ``beta``, if known.
        """
        args = (data.DT, data.y, data.eta_offset(), w, beta, mu, L)
        kwargs = {"gram": data.gram, "stable": data.stable, "scratch": data.scratch}
        if method == "newton":
            return _newton(
                *args,
                tol=self.newton_tol,
                max_iter=self.newton_max_iter,
                need_loglik=False,
                **kwargs,
            ).coef
        return _gradient_steps(*args, n_steps=self.n_gradient_steps, **kwargs).coef

    def m_step(
        self, data: PoissonRegressionData, resp: np.ndarray, params: np.ndarray
    ) -> np.ndarray:
        return self._update(data, np.ascontiguousarray(np.asarray(resp).T), params)

    def em_step(
        self,
        data: PoissonRegressionData,
        log_weights: np.ndarray,
        params: np.ndarray,
        *,
        update: bool = True,
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        # The E-step's means start each component's Newton iterations and its
        # log-density kernels give their objective (no exp of its own). The y-only
        # term is common to all components: it cancels in the responsibilities and
        # enters the log-likelihood as a constant sum.
        params = np.asarray(params, dtype=np.float64)
        shape = (params.shape[0], data.y.size)
        scratch = _Scratch() if data.scratch is None else data.scratch
        eta = _eta_t(data.DT, params, data.eta_offset(), out=scratch("estep_eta", shape))
        mu = np.exp(eta, out=scratch("estep_mu", shape))
        kernel = _log_prob_kernel(data.y, eta, mu, data.stable, out=eta)
        log_weights = np.asarray(log_weights, dtype=np.float64)
        lp = kernel + (log_weights.T if log_weights.ndim == 2 else log_weights[:, None])
        ll = float(normalise_block(lp).sum()) + data.sum_const  # lp now holds the resp.
        if not update:
            return ll, None, None
        return ll, lp, self._update(data, lp, params, mu, kernel)

    def initialize(
        self, data: PoissonRegressionData, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(data.y)
        if self.init == "random":
            resp = rng.dirichlet(np.ones(n_components), size=n)
        else:
            fit = fit_weighted_poisson(data.D, data.y, data.offset)
            mu = np.exp(_eta_t(data.DT, fit.coef, data.offset))
            order = np.argsort((data.y - mu) / np.sqrt(mu), kind="stable")
            labels = np.empty(n, dtype=np.intp)
            labels[order] = np.arange(n) * n_components // n
            resp = np.zeros((n, n_components))
            resp[np.arange(n), labels] = 1.0
        coef = np.empty((n_components, data.D.shape[1]))
        for k in range(n_components):
            w = np.ascontiguousarray(resp[:, k])
            start = _irls_start(data.DT, data.y, data.offset, w)
            coef[k] = self._component_update(data, w, start, method="newton")
        weights = resp.mean(axis=0)
        return weights / weights.sum(), coef

    degeneracy_hint = "fit fewer components, or without intercepts, or check the zero counts"

    def degeneracy(
        self, data: PoissonRegressionData, weights: np.ndarray, params: np.ndarray
    ) -> str | None:
        """A component whose coefficients run off to infinity, or None.

        Zero counts can be fitted exactly by a rate that tends to 0: a component that
        holds only zeros (its intercept runs to ``-inf``), or zeros beyond some
        covariate value (a slope running to ``-inf``). EM then creeps along a
        boundary of the parameter space where the supremum of the likelihood is not
        attained. Such a component is detected by its log-rate ``d_i^T beta_k``
        below ``-DEGENERATE_ETA`` at an observation whose responsibility it holds.
        """
        eta = np.asarray(params, dtype=np.float64) @ data.DT  # log-rates, no offset
        lp = self._log_prob_t(data, params, with_factorial=False)[2]
        with np.errstate(divide="ignore"):
            lp += np.log(np.asarray(weights, dtype=np.float64))[:, None]
        normalise_block(lp)  # lp now holds the responsibilities
        low = (eta < -DEGENERATE_ETA) & (lp >= 0.5)
        if not low.any():
            return None
        k, i = (int(v[0]) for v in np.nonzero(low))
        return (
            f"component {k} holds observation {i} with the rate exp({eta[k, i]:.3g}): its "
            "coefficients run off towards infinity (zero counts fitted exactly, where the "
            "maximum likelihood estimate does not exist, or a start far from the data)"
        )

    def n_samples(self, data: PoissonRegressionData) -> int:
        return int(data.y.shape[0])

    def n_parameters(self, params: np.ndarray) -> int:
        return int(np.size(params))
