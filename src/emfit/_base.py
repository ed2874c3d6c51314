"""The scikit-learn style plumbing shared by emfit's mixture estimators.

:class:`MixtureEstimatorMixin` holds what :class:`~emfit.gaussian.GaussianMixture`,
:class:`~emfit.bernoulli.BernoulliMixture` and :class:`~emfit.poisson.PoissonRegressionMixture` have in
common: storing the result of :func:`emfit.em.fit_em` in the fitted attributes, and
the criteria and predictions that follow from ``score_samples``, ``predict_proba``
and the number of free parameters.

The estimators take different data: ``X`` for the Gaussian and Bernoulli mixtures,
``(X, y, exposure=None)`` for the Poisson regressions. The methods here therefore take
``*data`` and pass it on to the estimator's ``_log_prob`` (or, for the Gaussian
mixture's blocked fast path, ``_resp_and_samples``). Each estimator keeps thin public
methods only to state its signature; :func:`shared_docstrings` writes their
docstrings from one template per method and the estimator's ``_data_doc``.
"""

from __future__ import annotations

import re

from functools import cmp_to_key
from typing import Any

import numpy as np

from sklearn.exceptions import NotFittedError

from ._validation import check_array
from .em import EMFit, MixtureFamily, RestartResult, fit_em, normalise_block
from .weights import _log_softmax

__all__ = ["MixtureEstimatorMixin", "canonical_order", "shared_docstrings"]

_RETURNS_FLOAT = "Returns\n-------\nfloat\n"
#: Docstring of each shared method; ``{data}`` is the estimator's ``_data_doc``.
_DOCSTRINGS = {
    "predict_proba": (
        "Responsibilities: the posterior probability of each component for each sample.\n\n"
        "Computed by the E-step that fitting runs (:func:`emfit.em.normalise_block`).\n\n"
        "Parameters\n----------\n{data}\n\nReturns\n-------\n"
        "ndarray of shape (n_samples, n_components)\n"
        "    Rows sum to one; columns in the order of the fitted components.\n"
    ),
    "score_samples": (
        "Log-likelihood of each sample, ``log sum_k pi_k f(sample_i | theta_k)``.\n\n"
        "Parameters\n----------\n{data}\n\nReturns\n-------\nndarray of shape (n_samples,)\n"
    ),
    "score": "Mean log-likelihood per sample.\n\nParameters\n----------\n{data}{ignored_y}\n\n"
    + _RETURNS_FLOAT,
    "predict": (
        "Most probable component of each sample (the argmax of ``predict_proba``).\n\n"
        "Parameters\n----------\n{data}\n\nReturns\n-------\n"
        "ndarray of shape (n_samples,), dtype int\n"
    ),
    "bic": (
        "Bayesian information criterion ``-2 l + P log n`` (lower is better).\n\n"
        "``P`` is the number of free parameters: ``K - 1`` weights (or ``(K - 1)(p + 1)``"
        " coefficients of concomitant weights on ``p`` covariates) and those of the "
        "components.\n\nParameters\n----------\n{data}\n\n" + _RETURNS_FLOAT
    ),
    "aic": (
        "Akaike information criterion ``-2 l + 2 P`` (lower is better), ``P`` as for "
        "``bic``.\n\nParameters\n----------\n{data}\n\n" + _RETURNS_FLOAT
    ),
}


#: Descriptions of constructor parameters that every estimator shares; a class
#: docstring names one by the line ``SHARED_PARAMETER <name> ...`` under its entry.
_PARAMETER_DOCS = {
    "accelerate": (
        'None: plain EM. ``"squarem"``: EM accelerated by SQUAREM (Varadhan & Roland\n'
        "2008), which extrapolates from two EM steps and falls back to them when the\n"
        "extrapolated point has a lower log-likelihood. It usually ends at the\n"
        "maximum plain EM reaches from the same start (an extrapolation may also\n"
        "cross to another, higher one), in far fewer EM iterations when plain EM\n"
        "converges slowly (overlapping components). ``max_iter`` and ``n_iter_``\n"
        "then count accepted steps, each of two or three evaluations of the EM map\n"
        "(``n_em_evaluations_``); see :func:`emfit.em.fit_em`."
    ),
}
_SHARED_PARAMETER = re.compile(r"^(?P<indent>[ ]*)SHARED_PARAMETER (?P<name>\w+).*$", re.MULTILINE)


def _fill_parameter(match: re.Match) -> str:
    indent = match["indent"]
    return "\n".join(indent + line for line in _PARAMETER_DOCS[match["name"]].splitlines())


def shared_docstrings(cls: type) -> type:
    """Class decorator: give a mixture estimator its shared docstring text.

    A method in :data:`_DOCSTRINGS` that the class defines without a docstring gets
    the shared one, with the class's ``_data_doc`` (the numpydoc lines of its data
    arguments) in place of ``{data}``. In the class docstring, a line
    ``SHARED_PARAMETER <name>`` becomes the description of that constructor
    parameter in :data:`_PARAMETER_DOCS`, at the line's indentation.

    Examples
    --------
    >>> from emfit import GaussianMixture
    >>> print(GaussianMixture.score.__doc__.splitlines()[0])
    Mean log-likelihood per sample.
    """
    if cls.__doc__:
        cls.__doc__ = _SHARED_PARAMETER.sub(_fill_parameter, cls.__doc__)
    ignored_y = "\ny : ignored" if getattr(cls, "_score_takes_y", False) else ""
    for name, template in _DOCSTRINGS.items():
        method = cls.__dict__.get(name)
        if method is not None and method.__doc__ is None:
            method.__doc__ = template.format(data=cls._data_doc, ignored_y=ignored_y)
    return cls


#: Entries of two components' parameters that agree to this relative tolerance are
#: equal for :func:`canonical_order`, so that round-off never orders two components.
ORDER_RTOL: float = 1e-8


def canonical_order(params: np.ndarray, rtol: float = ORDER_RTOL) -> np.ndarray:
    """Indices that sort the rows of a (K, q) array lexicographically.

    By the first column, ties broken by the second, and so on: the canonical order of
    the components of a mixture that is identifiable only up to relabelling. Entries
    that agree to ``rtol`` (relative) count as equal, and rows equal in every column
    keep their order, so that the last bits of two (nearly) identical components
    never decide which comes first.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit._base import canonical_order
    >>> canonical_order(np.array([[2.0, 0.0], [1.0, 5.0], [1.0, 3.0]])).tolist()
    [2, 1, 0]
    >>> canonical_order(np.array([[1.5 + 4e-16], [1.5]])).tolist()  # a tie: kept in order
    [0, 1]
    """
    params = np.asarray(params, dtype=np.float64)

    def compare(i: int, j: int) -> int:
        for a, b in zip(params[i], params[j]):
            if abs(a - b) > rtol * max(abs(a), abs(b)):
                return -1 if a < b else 1
        return 0

    return np.array(sorted(range(params.shape[0]), key=cmp_to_key(compare)), dtype=np.intp)


class MixtureEstimatorMixin:
    """Fitted attributes, ``score``, ``predict``, ``bic`` and ``aic`` of a mixture.

    A subclass provides ``_log_prob(*data)`` (or overrides ``_resp_and_samples``),
    ``_n_component_parameters()`` (the free parameters of the components, not of the
    weights), ``_data_doc`` for the docstrings and, for :meth:`_check_fitted`, the
    class attributes ``_fitted_attribute`` and ``_fit_call``.
    """

    #: An attribute that exists only once the estimator is fitted.
    _fitted_attribute: str = "weights_"
    #: How the error of an unfitted estimator tells the user to fit it.
    _fit_call: str = "fit(X)"
    #: The numpydoc lines of the data arguments of predict_proba, score, bic, ...
    _data_doc: str = "X : array-like of shape (n_samples, n_features)"
    #: Whether ``score`` takes scikit-learn's ignored ``y`` after the data.
    _score_takes_y: bool = True

    # ------------------------------------------------------------------ fitting
    def _fit_em(
        self,
        data: Any,
        family: MixtureFamily,
        n_components: int,
        *,
        weights_init: Any,
        params_init: Any,
        concomitant: np.ndarray | None = None,
    ) -> EMFit:
        """:func:`emfit.em.fit_em` with the estimator's ``tol``, ``max_iter``, ``n_init``,
        ``random_state`` and ``accelerate``; ``concomitant`` from
        :meth:`_concomitant_design`."""
        return fit_em(
            data,
            family,
            n_components,
            weights_init=weights_init,
            params_init=params_init,
            concomitant=concomitant,
            tol=self.tol,
            max_iter=self.max_iter,
            n_init=self.n_init,
            random_state=self.random_state,
            accelerate=getattr(self, "accelerate", None),  # optional for new estimators
        )

    def _set_fit_result(self, fit: EMFit, order: np.ndarray | None = None) -> None:
        """Store the weights and the run summary of ``fit`` in the fitted attributes.

        ``order`` (component indices) reorders the weights, e.g. the
        :func:`canonical_order` of the component parameters.
        """
        weights = np.asarray(fit.weights)
        self.weights_ = weights if order is None else weights[order]
        if fit.concomitant_coef is None:
            self.concomitant_coef_ = None
        else:  # the first component (in the returned order) is the reference
            gamma = fit.concomitant_coef if order is None else fit.concomitant_coef[order]
            self.concomitant_coef_ = gamma - gamma[0]
        self.loglik_ = float(fit.loglik)
        self.history_ = np.asarray(fit.history)
        self.n_iter_ = int(fit.n_iter)
        self.n_em_evaluations_ = int(fit.n_em_evaluations)
        self.converged_ = bool(fit.converged)
        self.restarts_: list[RestartResult] = list(fit.restarts)

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call {self._fit_call} first."
            )

    def _check_features(self, X: np.ndarray) -> np.ndarray:
        """``X`` if it has as many columns as the training data, else ValueError."""
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but the model was fitted with {self.n_features_in_}."
            )
        return X

    def _concomitant_design(self, Z: Any, n: int, *, fitting: bool = False) -> np.ndarray | None:
        """The concomitant design ``[1, Z]`` (n, p + 1), or None without ``Z``.

        At fit time it records ``n_concomitant_in_`` (0 without ``Z``); afterwards ``Z``
        must be given exactly when the model was fitted with it, with as many columns.
        """
        if not fitting:
            p = getattr(self, "n_concomitant_in_", 0)
            if p and Z is None:
                raise ValueError(
                    f"Z is required: the model was fitted with {p} concomitant "
                    "covariate(s) for the mixing weights."
                )
            if not p and Z is not None:
                raise ValueError("Z must be None: the model was fitted with constant weights.")
        if Z is None:
            if fitting:
                self.n_concomitant_in_ = 0
            return None
        Z = check_array(Z, name="Z", ndim=2)
        if Z.shape[0] != n:
            raise ValueError(f"Z must have one row per sample ({n}); got {Z.shape[0]} rows.")
        if fitting:
            constant = np.flatnonzero(np.ptp(Z, axis=0) == 0) if n else np.array([], int)
            if constant.size:
                raise ValueError(
                    f"Z's column {int(constant[0])} is constant: it is collinear with the "
                    "intercept of the mixing-weights model; drop it."
                )
            self.n_concomitant_in_ = Z.shape[1]
        elif Z.shape[1] != self.n_concomitant_in_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but the model was fitted with "
                f"{self.n_concomitant_in_}."
            )
        return np.column_stack([np.ones(n), Z])

    # ------------------------------------------------------------------ inference
    def _log_weights(self, Z: Any = None, n: int = 0) -> np.ndarray:
        """Log mixing weights: ``log(weights_)`` (K,), ``-inf`` for a weight of zero;
        for a model fitted with concomitant covariates, ``log pi_k(z_i)`` (n, K), where
        ``n`` is the number of samples of the data ``Z`` goes with."""
        Zd = self._concomitant_design(Z, n)
        if Zd is not None:
            return _log_softmax(Zd, self.concomitant_coef_)
        with np.errstate(divide="ignore"):
            return np.log(self.weights_)

    def _n_parameters(self) -> int:
        """Free parameters: of the weights (``K - 1``, or ``(K - 1)(p + 1)`` for
        concomitant weights on ``p`` covariates) and of the components."""
        K = len(self.weights_)
        return (K - 1) * (getattr(self, "n_concomitant_in_", 0) + 1) + self._n_component_parameters()

    def _n_component_parameters(self) -> int:
        raise NotImplementedError

    def _log_prob(self, *data: Any) -> np.ndarray:
        """``log f(sample_i | theta_k)``, shape (n, K), of the data (validated here)."""
        raise NotImplementedError

    def _resp_and_samples(self, *data: Any, Z: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Responsibilities (n, K) and per-sample log-likelihoods (n,): the E-step."""
        self._check_fitted()
        log_prob = self._log_prob(*data)
        log_joint = log_prob + self._log_weights(Z, log_prob.shape[0])
        log_joint_t = np.ascontiguousarray(log_joint.T)  # overwritten by the E-step
        samples = normalise_block(log_joint_t)
        return log_joint_t.T, samples

    def predict_proba(self, *data: Any, Z: Any = None) -> np.ndarray:
        return self._resp_and_samples(*data, Z=Z)[0]

    def score_samples(self, *data: Any, Z: Any = None) -> np.ndarray:
        return self._resp_and_samples(*data, Z=Z)[1]

    def score(self, *data: Any, Z: Any = None) -> float:
        return float(self._resp_and_samples(*data, Z=Z)[1].mean())

    def predict(self, *data: Any, Z: Any = None) -> np.ndarray:
        return self._resp_and_samples(*data, Z=Z)[0].argmax(axis=1)

    def bic(self, *data: Any, Z: Any = None) -> float:
        ll = self._resp_and_samples(*data, Z=Z)[1]
        return float(-2.0 * ll.sum() + self._n_parameters() * np.log(ll.shape[0]))

    def aic(self, *data: Any, Z: Any = None) -> float:
        ll = self._resp_and_samples(*data, Z=Z)[1]
        return float(-2.0 * ll.sum() + 2.0 * self._n_parameters())
