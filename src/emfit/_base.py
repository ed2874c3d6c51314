"""The scikit-learn style plumbing shared by emfit's mixture estimators.

:class:`MixtureEstimatorMixin` holds what :class:`~emfit.GaussianMixture`,
:class:`~emfit.BernoulliMixture` and :class:`~emfit.PoissonRegressionMixture` have in
common: storing the result of :func:`emfit.em.fit_em` in the fitted attributes, and
the criteria and predictions that follow from ``score_samples``, ``predict_proba``
and the number of free parameters.

The estimators take different data: ``X`` for the Gaussian and Bernoulli mixtures,
``(X, y, exposure=None)`` for the Poisson regressions. The methods here therefore take
``*data`` and pass it on unchanged to the estimator's own ``score_samples`` and
``predict_proba``. Each estimator overrides them only to state its public signature
and docstring, and calls them with ``super()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .em import EMFit, MixtureFamily, RestartResult, fit_em

__all__ = ["MixtureEstimatorMixin", "canonical_order"]


def canonical_order(params: np.ndarray) -> np.ndarray:
    """Indices that sort the rows of a (K, q) array lexicographically.

    By the first column, ties broken by the second, and so on: the canonical order of
    the components of a mixture that is identifiable only up to relabelling.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit._base import canonical_order
    >>> canonical_order(np.array([[2.0, 0.0], [1.0, 5.0], [1.0, 3.0]])).tolist()
    [2, 1, 0]
    """
    return np.lexsort(params.T[::-1])


class MixtureEstimatorMixin:
    """Fitted attributes, ``score``, ``predict``, ``bic`` and ``aic`` of a mixture.

    A subclass provides ``score_samples(*data)`` and ``predict_proba(*data)``,
    ``_n_component_parameters()`` (the free parameters of the components, not of the
    weights) and, for :meth:`_check_fitted`, the class attributes
    ``_fitted_attribute`` and ``_fit_call``.
    """

    #: An attribute that exists only once the estimator is fitted.
    _fitted_attribute: str = "weights_"
    #: How the error of an unfitted estimator tells the user to fit it.
    _fit_call: str = "fit(X)"

    # ------------------------------------------------------------------ fitting
    def _fit_em(
        self,
        data: Any,
        family: MixtureFamily,
        n_components: int,
        *,
        weights_init: Any,
        params_init: Any,
    ) -> EMFit:
        """:func:`emfit.em.fit_em` with the estimator's ``tol``, ``max_iter``, ``n_init``
        and ``random_state``."""
        return fit_em(
            data,
            family,
            n_components,
            weights_init=weights_init,
            params_init=params_init,
            tol=self.tol,
            max_iter=self.max_iter,
            n_init=self.n_init,
            random_state=self.random_state,
        )

    def _set_fit_result(self, fit: EMFit, order: np.ndarray | None = None) -> None:
        """Store the weights and the run summary of ``fit`` in the fitted attributes.

        ``order`` (component indices) reorders the weights, e.g. the
        :func:`canonical_order` of the component parameters.
        """
        weights = np.asarray(fit.weights)
        self.weights_ = weights if order is None else weights[order]
        self.loglik_ = float(fit.loglik)
        self.history_ = np.asarray(fit.history)
        self.n_iter_ = int(fit.n_iter)
        self.converged_ = bool(fit.converged)
        self.restarts_: list[RestartResult] = list(fit.restarts)

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise AttributeError(
                f"This {type(self).__name__} is not fitted yet; call {self._fit_call} first."
            )

    def _check_features(self, X: np.ndarray) -> np.ndarray:
        """``X`` if it has as many columns as the training data, else ValueError."""
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but the model was fitted with {self.n_features_in_}."
            )
        return X

    # ------------------------------------------------------------------ inference
    def _log_weights(self) -> np.ndarray:
        """``log(weights_)``, ``-inf`` for a weight of zero."""
        with np.errstate(divide="ignore"):
            return np.log(self.weights_)

    def _n_parameters(self) -> int:
        """Free parameters: ``K - 1`` weights and those of the components."""
        return (len(self.weights_) - 1) + self._n_component_parameters()

    def _n_component_parameters(self) -> int:
        raise NotImplementedError

    def score(self, *data: Any) -> float:
        """Mean log-likelihood per sample."""
        return float(self.score_samples(*data).mean())

    def predict(self, *data: Any) -> np.ndarray:
        """Most probable component of each sample (argmax of ``predict_proba``)."""
        return self.predict_proba(*data).argmax(axis=1)

    def bic(self, *data: Any) -> float:
        """Bayesian information criterion ``-2 l + P log n`` (lower is better)."""
        ll = self.score_samples(*data)
        return float(-2.0 * ll.sum() + self._n_parameters() * np.log(ll.shape[0]))

    def aic(self, *data: Any) -> float:
        """Akaike information criterion ``-2 l + 2 P`` (lower is better)."""
        ll = self.score_samples(*data)
        return float(-2.0 * ll.sum() + 2.0 * self._n_parameters())
