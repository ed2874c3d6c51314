r"""Mixtures of multivariate Bernoulli distributions (latent class models).

Observation ``x_i`` is a vector of ``d`` binary values. Given component ``k``, its
coordinates are independent Bernoulli variables with probabilities
``p_k = (p_k1, ..., p_kd)``:

.. math::

    \log f(x_i \mid p_k) = \sum_{j=1}^d \big[x_{ij} \log p_{kj}
        + (1 - x_{ij}) \log(1 - p_{kj})\big].

The M-step is closed form: ``p_k = sum_i r_ik x_i / sum_i r_ik``, a
responsibility-weighted mean (the seed's Problem 3(b) example is its ``d = 1``
case). Probabilities are kept in ``[alpha, 1 - alpha]`` (``alpha = 1e-10`` by default)
so that every log stays finite; since the weighted Bernoulli log-likelihood is
unimodal in each ``p_kj``, clipping the closed form *is* the exact M-step over that
box, and the log-likelihood still never decreases.

Identifiability
---------------
A 1-d Bernoulli mixture is **not identifiable**: its distribution is that of a single
Bernoulli variable with ``P(x = 1) = sum_k pi_k p_k``, and only that number is
identified; every split of it into weights and probabilities fits equally well. With
``d`` coordinates a ``K``-component mixture is generically identifiable when
``d >= 2 ceil(log2 K) + 1`` (Allman, Matias & Rhodes, 2009, *Ann. Statist.* 37,
3099--3132): three binary coordinates for two components.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from sklearn.base import BaseEstimator

from ._base import MixtureEstimatorMixin, canonical_order, shared_docstrings
from ._validation import (
    check_array,
    check_binary,
    check_feature_names,
    check_positive_float,
    check_positive_int,
    check_random_state,
    feature_labels,
    summary_frame,
)
from .em import MixtureFamily

__all__ = [
    "BernoulliFamily",
    "BernoulliMixture",
    "bernoulli_log_prob",
    "bernoulli_m_step",
]

#: Initialisations of :class:`BernoulliFamily`.
INITS: tuple[str, ...] = ("random", "random_resp")


def _check_alpha(alpha: Any) -> float:
    a = check_positive_float(alpha, "alpha")
    if not a < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {a}.")
    return a


def bernoulli_log_prob(X: ArrayLike, probabilities: ArrayLike) -> np.ndarray:
    """Log-probabilities ``log f(x_i | p_k)`` of binary vectors under each component.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Binary data.
    probabilities : array-like of shape (K, d)
        Success probabilities, strictly inside ``(0, 1)``.

    Returns
    -------
    ndarray of shape (n, K)

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.bernoulli import bernoulli_log_prob
    >>> np.exp(bernoulli_log_prob([[1, 0]], [[0.8, 0.5]])).round(3).tolist()
    [[0.4]]
    """
    X = np.asarray(X, dtype=np.float64)
    p = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    log_p = np.log(p)
    log_q = np.log1p(-p)
    return X @ (log_p - log_q).T + log_q.sum(axis=1)


def bernoulli_m_step(
    X: ArrayLike, resp: ArrayLike, alpha: float = 1e-10, previous: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Closed-form M-step: ``pi_k = mean_i r_ik``, ``p_k = sum_i r_ik x_i / sum_i r_ik``.

    The M-step that :class:`BernoulliFamily` (and so :class:`BernoulliMixture`) runs.
    Probabilities are clipped to ``[alpha, 1 - alpha]``, the exact maximiser over that
    box. A component with ``sum_i r_ik = 0`` has no data to learn from: it keeps its
    ``previous`` probabilities, or gets the column means of ``X`` when there are none.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Binary data.
    resp : array-like of shape (n, K)
        Responsibilities (rows sum to one).
    alpha : float, default=1e-10
        Clipping bound, in ``(0, 0.5)``.
    previous : array-like of shape (K, d), optional
        The probabilities before the step (during EM).

    Returns
    -------
    weights : ndarray of shape (K,)
    probabilities : ndarray of shape (K, d)

    Examples
    --------
    The seed's 1-d example: ``p_0 = sum w_i x_i / sum w_i``.

    >>> import numpy as np
    >>> from emfit.bernoulli import bernoulli_m_step
    >>> x = np.array([[1.0], [0.0], [1.0]]); w = np.array([0.9, 0.5, 0.1])
    >>> weights, p = bernoulli_m_step(x, np.column_stack([w, 1 - w]))
    >>> weights.round(4).tolist(), p.ravel().round(4).tolist()
    ([0.5, 0.5], [0.6667, 0.6667])
    """
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    n_k = resp.sum(axis=0)
    num = resp.T @ X
    p = np.empty_like(num)
    ok = n_k > 0
    p[ok] = num[ok] / n_k[ok, None]
    p[~ok] = X.mean(axis=0) if previous is None else np.asarray(previous, dtype=np.float64)[~ok]
    np.clip(p, alpha, 1.0 - alpha, out=p)
    return n_k / resp.shape[0], p


class BernoulliFamily(MixtureFamily):
    """Multivariate Bernoulli components for :func:`emfit.em.fit_em`.

    ``data`` is a float array of zeros and ones of shape ``(n, d)``; ``params`` is
    the probability array of shape ``(K, d)``.

    Parameters
    ----------
    alpha : float, default=1e-10
        Probabilities are kept in ``[alpha, 1 - alpha]``.
    init : {"random", "random_resp"}, default="random"
        ``"random"``: ``K`` observations drawn by k-means++ seeding in Hamming
        distance (each new one with probability proportional to its distance to
        the nearest one already drawn), each averaged with the column means
        (``p_k = (x_i + xbar) / 2``); equal weights. With one coordinate
        (``d = 1``, where rows are only 0 or 1 and this seeding would not depend on
        the seed) ``x_i`` is replaced by a uniform random number in ``[0, 1]``.
        ``"random_resp"``: flat-Dirichlet random responsibilities, then an M-step.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.em import fit_em
    >>> from emfit.bernoulli import BernoulliFamily
    >>> rng = np.random.default_rng(0)
    >>> z = rng.random(3000) < 0.5
    >>> X = (rng.random((3000, 4)) < np.where(z[:, None], 0.9, 0.1)).astype(float)
    >>> fit = fit_em(X, BernoulliFamily(), 2, random_state=0)
    >>> np.sort(fit.params[:, 0]).round(1).tolist()
    [0.1, 0.9]
    """

    def __init__(self, alpha: float = 1e-10, init: str = "random") -> None:
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {init!r}.")
        self.alpha = _check_alpha(alpha)
        self.init = init

    def log_prob(self, data: np.ndarray, params: np.ndarray) -> np.ndarray:
        return bernoulli_log_prob(data, params)

    def m_step(self, data: np.ndarray, resp: np.ndarray, params: np.ndarray) -> np.ndarray:
        return bernoulli_m_step(data, resp, self.alpha, previous=params)[1]

    def initialize(
        self, data: np.ndarray, n_components: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n = data.shape[0]
        if self.init != "random":
            resp = rng.dirichlet(np.ones(n_components), size=n)
            return bernoulli_m_step(data, resp, self.alpha)
        if data.shape[1] == 1:
            # One coordinate: data rows take only the values 0 and 1, so seeding from
            # rows would always give the same start (one 0-row and one 1-row) whatever
            # the seed. Use random points of [0, 1] instead, averaged with the mean.
            seeds = rng.random((n_components, 1))
        else:
            # k-means++ seeding in Hamming distance: each new row is drawn with
            # probability proportional to its distance to the nearest row already
            # drawn, so identical starting components are avoided when possible.
            rows = [int(rng.integers(n))]
            dist = np.abs(data - data[rows[0]]).sum(axis=1)
            for _ in range(1, n_components):
                total = dist.sum()
                i = int(rng.choice(n, p=dist / total)) if total > 0 else int(rng.integers(n))
                rows.append(i)
                np.minimum(dist, np.abs(data - data[i]).sum(axis=1), out=dist)
            seeds = data[rows]
        p = 0.5 * (seeds + data.mean(axis=0))
        weights = np.full(n_components, 1.0 / n_components)
        return weights, np.clip(p, self.alpha, 1.0 - self.alpha)

    def n_parameters(self, params: np.ndarray) -> int:
        return int(np.size(params))

    def to_vector(self, params: np.ndarray) -> np.ndarray:
        """The probabilities as logits ``log(p / (1 - p))``, flattened (for SQUAREM).

        Probabilities are first clipped to ``[alpha, 1 - alpha]``, the box of the
        M-step, so the logits are finite (at most ``log(1 / alpha)`` in size).

        Parameters
        ----------
        params : ndarray of shape (K, d)
            Probabilities.

        Returns
        -------
        ndarray of shape (K d,)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.bernoulli import BernoulliFamily
        >>> family = BernoulliFamily()
        >>> p = np.array([[0.5, 0.9], [0.1, 1e-10]])
        >>> family.to_vector(p).round(3).tolist()
        [0.0, 2.197, -2.197, -23.026]
        >>> bool(np.allclose(family.from_vector(family.to_vector(p), like=p), p, rtol=1e-12))
        True
        """
        p = np.clip(np.asarray(params, dtype=np.float64), self.alpha, 1.0 - self.alpha)
        return (np.log(p) - np.log1p(-p)).ravel()

    def from_vector(self, vector: np.ndarray, like: np.ndarray) -> np.ndarray:
        """Probabilities from logits, clipped to ``[alpha, 1 - alpha]``.

        Parameters
        ----------
        vector : ndarray of shape (K d,)
            Logits (any real values).
        like : ndarray of shape (K, d)
            Gives the shape.

        Returns
        -------
        ndarray of shape (K, d)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.bernoulli import BernoulliFamily
        >>> BernoulliFamily().from_vector(np.array([0.0, 1e3]), like=np.ones((1, 2))).tolist()
        [[0.5, 0.9999999999]]
        """
        p = expit(np.asarray(vector, dtype=np.float64)).reshape(np.shape(like))
        return np.clip(p, self.alpha, 1.0 - self.alpha)


@shared_docstrings
class BernoulliMixture(MixtureEstimatorMixin, BaseEstimator):
    r"""Mixture of multivariate Bernoulli distributions fitted by EM.

    .. math::

        p(x) = \sum_{k=1}^K \pi_k \prod_{j=1}^d p_{kj}^{x_j} (1 - p_{kj})^{1 - x_j},
        \qquad x \in \{0, 1\}^d .

    The M-step is closed form (weighted means), with probabilities clipped to
    ``[alpha, 1 - alpha]`` so that logs stay finite (exact EM on that box; the
    log-likelihood never decreases).

    **Identifiability.** A 1-d Bernoulli mixture (``d = 1``) is *not* identifiable:
    only ``P(x = 1) = sum_k pi_k p_k`` is; the fitted weights and probabilities are
    then arbitrary (any split of that number fits equally well). Generic
    identifiability needs ``d >= 2 ceil(log2 K) + 1`` (Allman, Matias & Rhodes 2009),
    and always holds only up to relabelling: fitted components are returned in a
    **canonical order**, the lexicographic order of the rows of ``probabilities_``
    (increasing first probability, ties broken by the second, ...).

    Parameters
    ----------
    n_components : int, default=2
        Number of components ``K``.
    alpha : float, default=1e-10
        Probabilities are kept in ``[alpha, 1 - alpha]``; in ``(0, 0.5)``.
    tol : float, default=1e-10
        Stop when the relative change of the total log-likelihood is at most ``tol``.
    max_iter : int, default=1000
        Maximum number of EM iterations per restart.
    n_init : int, default=1
        Number of restarts; the best is kept (the first of those tied to
        :data:`emfit.em.RESTART_TIE_RTOL`).
    init : {"random", "random_resp"}, default="random"
        ``"random"``: ``K`` observations drawn by k-means++ seeding (Hamming
        distance), each averaged with the column means; for ``d = 1``, uniform
        random numbers instead of observations (so the start depends on
        ``random_state``).
        ``"random_resp"``: random (flat Dirichlet) responsibilities, then an M-step.
    weights_init : array-like of shape (K,), optional
        Initial weights.
    probabilities_init : array-like of shape (K, d), optional
        Initial probabilities, in ``(0, 1)``.
    random_state : None, int or numpy.random.Generator
        Seed of the initialisation.
    accelerate : {None, "squarem"}, default=None
        SHARED_PARAMETER accelerate (filled in by emfit._base.shared_docstrings)

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
        Mixing weights.
    probabilities_ : ndarray of shape (K, d)
        Success probabilities of each component (also available as ``means_``).
    loglik_ : float
        Total log-likelihood of the training data.
    history_ : ndarray, one entry per iteration (``n_iter_`` entries)
        Log-likelihood after each EM iteration (``history_[-1] == loglik_``).
    n_iter_ : int
        Iterations of the best restart.
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
        ``d``.
    feature_names_in_ : ndarray of shape (n_features,), dtype object
        Column names of ``X``, only when ``X`` was a pandas DataFrame whose column
        names are all strings; new data must then have the same columns.
    n_samples_fit_ : int
        Number of samples of the training data (for :meth:`summary`'s AIC and BIC).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.bernoulli import BernoulliMixture
    >>> rng = np.random.default_rng(0)
    >>> z = rng.random(4000) < 0.3
    >>> X = rng.random((4000, 5)) < np.where(z[:, None], 0.8, 0.2)
    >>> bm = BernoulliMixture(2, random_state=0).fit(X)
    >>> bm.weights_.round(2).tolist(), bm.probabilities_[:, 0].round(1).tolist()
    ([0.71, 0.29], [0.2, 0.8])
    """

    _fitted_attribute = "probabilities_"
    _fit_call = "fit(X)"

    def __init__(
        self,
        n_components: int = 2,
        *,
        alpha: float = 1e-10,
        tol: float = 1e-10,
        max_iter: int = 1000,
        n_init: int = 1,
        init: str = "random",
        weights_init: ArrayLike | None = None,
        probabilities_init: ArrayLike | None = None,
        random_state: Any = None,
        accelerate: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init = init
        self.weights_init = weights_init
        self.probabilities_init = probabilities_init
        self.random_state = random_state
        self.accelerate = accelerate

    @property
    def means_(self) -> np.ndarray:
        """Alias of ``probabilities_`` (the component means of ``x``)."""
        return self.probabilities_

    def _validate(self, X: Any) -> np.ndarray:
        self._check_fitted()
        check_feature_names(self, X, reset=False)
        return self._check_features(check_binary(X))

    def fit(self, X: ArrayLike, y: Any = None, *, Z: Any = None) -> BernoulliMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Binary data (0/1 or bool); a pandas DataFrame's string column names
            become ``feature_names_in_``.
        y : ignored
            For scikit-learn compatibility.
        Z : array-like of shape (n_samples, n_concomitant), optional
            Concomitant covariates: the mixing weights become a multinomial logit
            ``pi_k(z_i)`` (see :mod:`emfit.weights`); every later call that takes data
            must then be given ``Z`` too. No column of ``Z`` may be constant.

        Returns
        -------
        self
        """
        check_feature_names(self, X, reset=True)
        X = check_binary(X)
        K = check_positive_int(self.n_components, "n_components")
        alpha = _check_alpha(self.alpha)
        params_init = None
        if self.probabilities_init is not None:
            params_init = check_array(self.probabilities_init, name="probabilities_init")
            if params_init.shape != (K, X.shape[1]):
                raise ValueError(
                    f"probabilities_init must have shape ({K}, {X.shape[1]}); "
                    f"got {params_init.shape}."
                )
            if np.any(params_init <= 0) or np.any(params_init >= 1):
                raise ValueError("probabilities_init must be strictly between 0 and 1.")
        family = BernoulliFamily(alpha=alpha, init=self.init)
        Zd = self._concomitant_design(Z, X.shape[0], fitting=True)
        fit = self._fit_em(
            X, family, K, weights_init=self.weights_init, params_init=params_init, concomitant=Zd
        )
        p = np.asarray(fit.params)
        order = canonical_order(p)
        self._set_fit_result(fit, order)
        self.probabilities_ = p[order].copy()
        self.n_features_in_ = X.shape[1]
        self.n_samples_fit_ = X.shape[0]
        return self

    def summary(self) -> Any:
        """The fitted parameters as a table, with the fit's criteria in ``attrs``.

        One row per parameter, in the layout of
        :meth:`emfit.poisson.PoissonRegressionMixture.summary`: for each component (in the
        fitted, canonical order) its weight (``"weight"``; with concomitant
        covariates, the coefficients ``"(weight intercept)"``, ``"(weight) z1"``, ...
        of components ``1, ..., K-1``), then its success probabilities
        (``"p[name]"``, one per feature). Features are named by
        ``feature_names_in_`` when the model was fitted on a DataFrame, else
        ``x1, ..., xd``.

        There are no standard errors. The observed-information machinery of the
        book (the Hessian of the log-likelihood and Louis' identity, with
        standard errors that account for the uncertain memberships) exists for
        :class:`~emfit.poisson.PoissonRegressionMixture` only
        (:meth:`~emfit.poisson.PoissonRegressionMixture.standard_errors`); and standard
        errors from the Hessian of a mixture are unreliable near the boundary of
        the parameter space, where a weight or a probability approaches 0 or 1 (the
        clipping bound ``alpha`` is such a boundary) or two components nearly
        coincide.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``(component, parameter)`` (components from 0), one column
            ``estimate``. ``attrs`` holds the fit summary: ``"loglik"``
            (``loglik_``), ``"aic"`` and ``"bic"`` (of the training data, equal to
            ``aic(X)`` and ``bic(X)``), ``"n_parameters"`` (free parameters; with
            constant weights, which sum to one, the table has one row more) and
            ``"n_samples"``.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from emfit import BernoulliMixture
        >>> rng = np.random.default_rng(0)
        >>> z = rng.random(2000) < 0.3
        >>> X = pd.DataFrame(rng.random((2000, 3)) < np.where(z[:, None], 0.9, 0.2),
        ...                  columns=["fever", "cough", "rash"])
        >>> table = BernoulliMixture(2, random_state=0).fit(X).summary()
        >>> table.round(2)
                             estimate
        component parameter
        0         weight         0.72
                  p[fever]       0.21
                  p[cough]       0.23
                  p[rash]        0.22
        1         weight         0.28
                  p[fever]       0.94
                  p[cough]       0.91
                  p[rash]        0.94
        >>> table.attrs["n_parameters"], table.attrs["n_samples"]
        (7, 2000)
        """
        self._check_fitted()
        names = feature_labels(self, self.probabilities_.shape[1])
        rows = [
            [(f"p[{name}]", float(p)) for name, p in zip(names, probabilities)]
            for probabilities in self.probabilities_
        ]
        return summary_frame(self, rows)

    def _log_prob(self, X: Any) -> np.ndarray:
        return bernoulli_log_prob(self._validate(X), self.probabilities_)

    def _n_component_parameters(self) -> int:
        return BernoulliFamily(self.alpha).n_parameters(self.probabilities_)

    # the public signatures; docstrings from emfit._base.shared_docstrings
    def predict_proba(self, X: ArrayLike, *, Z: Any = None) -> np.ndarray:
        return super().predict_proba(X, Z=Z)

    def predict(self, X: ArrayLike, *, Z: Any = None) -> np.ndarray:
        return super().predict(X, Z=Z)

    def score_samples(self, X: ArrayLike, *, Z: Any = None) -> np.ndarray:
        return super().score_samples(X, Z=Z)

    def score(self, X: ArrayLike, y: Any = None, *, Z: Any = None) -> float:
        return super().score(X, Z=Z)

    def bic(self, X: ArrayLike, *, Z: Any = None) -> float:
        return super().bic(X, Z=Z)

    def aic(self, X: ArrayLike, *, Z: Any = None) -> float:
        return super().aic(X, Z=Z)

    def sample(self, n_samples: int = 1, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype int64
            Binary samples.
        labels : ndarray of shape (n_samples,), dtype int
            Component of each sample.
        """
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        labels = rng.choice(len(self.weights_), size=n_samples, p=self.weights_)
        u = rng.random((n_samples, self.n_features_in_))
        return (u < self.probabilities_[labels]).astype(np.int64), labels
