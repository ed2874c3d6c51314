r"""Models of the mixing weights, for the EM driver :func:`emfit.em.fit_em`.

The mixing weights are the driver's job, whatever the component family. Two models:

* :class:`ConstantWeights` (the default): ``pi_k``, the same for every observation,
  with the M-step ``pi_k = (1/n) sum_i r_ik``;
* :class:`ConcomitantWeights`: a multinomial logit on concomitant covariates
  ``z_i`` (flexmix's ``FLXPmultinom``; the "gating network" of a mixture of experts),

  .. math::

      \pi_k(z_i) = \frac{\exp(z_i^\top \gamma_k)}{\sum_j \exp(z_i^\top \gamma_j)},
      \qquad \gamma_1 = 0 ,

  whose M-step maximises ``sum_i sum_k r_ik log pi_k(z_i)`` by Newton's method with
  step halving, so it never decreases ``Q``.

A model turns its state (the weights, or the coefficients ``gamma``) into log weights
for the E-step, of shape ``(K,)`` or ``(n, K)``, and updates the state from the
responsibilities ``r`` (components first, shape ``(K, n)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ConcomitantWeights", "ConstantWeights", "multinomial_logit_m_step"]


def _log(weights: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(weights)


class ConstantWeights:
    """Mixing weights ``pi_k`` shared by all observations (the state is ``pi``).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.weights import ConstantWeights
    >>> model = ConstantWeights()
    >>> model.update(np.array([[0.9, 0.5, 0.1], [0.1, 0.5, 0.9]]), None).tolist()
    [0.5, 0.5]
    """

    concomitant = False

    def start(self, weights: np.ndarray) -> np.ndarray:
        """The state from initial weights: the weights themselves."""
        return np.asarray(weights, dtype=np.float64)

    def log_weights(self, state: np.ndarray) -> np.ndarray:
        """``log pi_k``, shape (K,); ``-inf`` for a weight of zero."""
        return _log(state)

    def update(self, resp_t: np.ndarray, state: Any) -> np.ndarray:
        """The M-step ``pi_k = (1/n) sum_i r_ik``."""
        return resp_t.sum(axis=1) / resp_t.shape[1]

    def mean_weights(self, state: np.ndarray) -> np.ndarray:
        """The weights, shape (K,)."""
        return state

    def n_parameters(self, n_components: int) -> int:
        """``K - 1``."""
        return n_components - 1

    def to_vector(self, state: np.ndarray) -> np.ndarray:
        """The weights as an unconstrained vector: the log-ratios ``log(pi_k / pi_1)``.

        For SQUAREM (:func:`emfit.em.fit_em`); :meth:`from_vector` is the softmax that
        inverts it. A weight of zero gives ``-inf`` (and the driver then takes plain
        EM steps).

        Parameters
        ----------
        state : ndarray of shape (K,)
            The weights.

        Returns
        -------
        ndarray of shape (K - 1,)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.weights import ConstantWeights
        >>> model = ConstantWeights()
        >>> v = model.to_vector(np.array([0.25, 0.5, 0.25]))
        >>> v.round(4).tolist(), model.from_vector(v).tolist()
        ([0.6931, 0.0], [0.25, 0.5, 0.25])
        """
        log_w = _log(np.asarray(state, dtype=np.float64))
        with np.errstate(invalid="ignore"):  # -inf - -inf when pi_1 = 0: NaN
            return log_w[1:] - log_w[0]

    def from_vector(self, vector: np.ndarray, like: Any = None) -> np.ndarray:
        """The weights from log-ratios ``log(pi_k / pi_1)``, ``k = 2..K`` (a softmax).

        Parameters
        ----------
        vector : ndarray of shape (K - 1,)
        like : ignored
            For the interface of :meth:`emfit.em.MixtureFamily.from_vector`.

        Returns
        -------
        ndarray of shape (K,)
            Positive weights summing to one.

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.weights import ConstantWeights
        >>> ConstantWeights().from_vector(np.array([0.0])).tolist()
        [0.5, 0.5]
        """
        a = np.concatenate([[0.0], np.asarray(vector, dtype=np.float64)])
        a -= a.max()
        np.exp(a, out=a)
        return a / a.sum()


def _log_softmax_t(ZT: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``log pi_k(z_i)`` of the multinomial logit, components first: shape (K, n).

    From the transposed design ``ZT`` (p, n); the reductions over the short axis of
    components are fast in this layout, and ``exp`` never overflows.
    """
    a = gamma @ ZT
    a -= a.max(axis=0)
    a -= np.log(np.exp(a).sum(axis=0))
    return a


def _log_softmax(Z: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``log pi_ik`` of the multinomial logit, shape (n, K)."""
    return _log_softmax_t(np.ascontiguousarray(Z.T), gamma).T


def _logit_neg_hessian(
    ZT: np.ndarray, P_t: np.ndarray, s: np.ndarray | None = None
) -> np.ndarray:
    """``sum_i s_i (diag(p_i) - p_i p_i^T) (x) z_i z_i^T``, shape ((K-1) p, (K-1) p).

    The negative Hessian of the multinomial-logit log-likelihood in the coefficients
    of components 2..K, whose probabilities ``P_t`` (K - 1, n) are (``s_i = 1`` by
    default); one weighted ``Z^T diag(w) Z`` product per pair of components, from the
    transposed design ``ZT`` (p, n).
    """
    m, p = P_t.shape[0], ZT.shape[0]
    H = np.empty((m, p, m, p))
    for k in range(m):
        for j in range(k, m):
            w = (P_t[k] if j == k else 0.0) - P_t[k] * P_t[j]
            if s is not None:
                w = w * s
            block = (ZT * w) @ ZT.T
            H[k, :, j, :] = block
            H[j, :, k, :] = block.T
    return H.reshape(m * p, m * p)


def _objective(ZT: np.ndarray, resp_t: np.ndarray, gamma: np.ndarray) -> tuple[float, np.ndarray]:
    log_pi_t = _log_softmax_t(ZT, gamma)
    return float(np.vdot(resp_t, log_pi_t)), log_pi_t


def multinomial_logit_m_step(
    Z: np.ndarray,
    resp: np.ndarray,
    gamma: np.ndarray,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    r"""Maximise ``F(gamma) = sum_i sum_k r_ik log pi_k(z_i; gamma)`` by Newton's method.

    The weighted multinomial-logit log-likelihood of the responsibilities: the
    weights' part of ``Q``. Coefficients of the first component stay at zero (the
    reference category). Each Newton step is halved until ``F`` does not decrease, so
    the result is never worse than the start ``gamma``; it stops when a step changes
    no coefficient by more than ``tol * (1 + max |gamma|)`` (Newton converges
    quadratically, so the result is then accurate far beyond ``tol``).

    Parameters
    ----------
    Z : ndarray of shape (n, p)
        Concomitant design matrix (with an intercept column).
    resp : ndarray of shape (n, K)
        Responsibilities (or any non-negative weights; rows need not sum to one).
    gamma : ndarray of shape (K, p)
        Start; ``gamma[0]`` must be zero.
    tol : float, default=1e-10
        Stopping rule on the size of the last step (see above).
    max_iter : int, default=100
        Maximum number of Newton steps.

    Returns
    -------
    ndarray of shape (K, p)

    Examples
    --------
    Without covariates (``Z`` a column of ones), the weights are the mean
    responsibilities, the M-step of constant weights:

    >>> import numpy as np
    >>> from emfit.weights import multinomial_logit_m_step
    >>> r = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    >>> g = multinomial_logit_m_step(np.ones((4, 1)), r, np.zeros((2, 1)))
    >>> np.exp(g[:, 0]) / np.exp(g[:, 0]).sum()  # doctest: +NORMALIZE_WHITESPACE
    array([0.5, 0.5])
    """
    ZT = np.ascontiguousarray(np.asarray(Z, dtype=np.float64).T)
    resp_t = np.ascontiguousarray(np.asarray(resp, dtype=np.float64).T)
    return _m_step_t(ZT, resp_t, gamma, tol=tol, max_iter=max_iter)


def _m_step_t(
    ZT: np.ndarray, resp_t: np.ndarray, gamma: np.ndarray, *, tol: float, max_iter: int
) -> np.ndarray:
    """:func:`multinomial_logit_m_step` on the components-first layout:
    ``ZT`` (p, n), ``resp_t`` (K, n)."""
    gamma = np.array(gamma, dtype=np.float64, copy=True)
    K, p = gamma.shape
    if K == 1:
        return gamma
    s = resp_t.sum(axis=0)  # 1 for responsibilities
    unit = bool(np.all(np.abs(s - 1.0) <= 1e-12))
    f, log_pi = _objective(ZT, resp_t, gamma)
    for _ in range(max_iter):
        pi = np.exp(log_pi[1:])
        grad = ((resp_t[1:] - (pi if unit else s * pi)) @ ZT.T).ravel()  # (K-1) p
        H = _logit_neg_hessian(ZT, pi, None if unit else s)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, grad, rcond=None)[0]
        if not np.all(np.isfinite(step)) or float(grad @ step) <= 0:
            break  # no ascent direction left: gamma is a maximum to round-off
        t = 1.0
        for _halving in range(40):
            trial = gamma.copy()
            trial[1:] += t * step.reshape(K - 1, p)
            f_trial, log_pi_trial = _objective(ZT, resp_t, trial)
            if f_trial >= f:
                break
            t /= 2
        else:
            break  # no step increases F: gamma is a maximum to round-off
        gamma, f, log_pi = trial, f_trial, log_pi_trial
        if t * np.abs(step).max() <= tol * (1.0 + np.abs(gamma).max()):
            break
    return gamma


class ConcomitantWeights:
    """Multinomial-logit mixing weights on a concomitant design ``Z`` (state: ``gamma``).

    Parameters
    ----------
    Z : ndarray of shape (n, p)
        Concomitant design matrix; its first column must be the intercept (ones).
    tol : float, default=1e-10
        Stopping rule of the Newton M-step (:func:`multinomial_logit_m_step`).

    Examples
    --------
    >>> import numpy as np
    >>> from emfit.weights import ConcomitantWeights
    >>> Z = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> model = ConcomitantWeights(Z)
    >>> gamma = model.start(np.array([0.25, 0.75]))
    >>> np.exp(model.log_weights(gamma)).round(2).tolist()[0]
    [0.25, 0.75]
    """

    concomitant = True

    def __init__(self, Z: np.ndarray, tol: float = 1e-10) -> None:
        self.Z = np.ascontiguousarray(Z, dtype=np.float64)
        self.ZT = np.ascontiguousarray(self.Z.T)
        self.tol = tol

    def start(self, weights: np.ndarray) -> np.ndarray:
        """``gamma`` giving the constant ``weights``: intercepts ``log(pi_k / pi_1)``."""
        w = np.maximum(np.asarray(weights, dtype=np.float64), 1e-12)
        gamma = np.zeros((len(w), self.Z.shape[1]))
        gamma[:, 0] = np.log(w) - np.log(w[0])
        return gamma

    def log_weights(self, state: np.ndarray) -> np.ndarray:
        """``log pi_k(z_i)``, shape (n, K) (a view of a components-first array)."""
        return _log_softmax_t(self.ZT, state).T

    def update(self, resp_t: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The Newton M-step (:func:`multinomial_logit_m_step`)."""
        return _m_step_t(self.ZT, resp_t, state, tol=self.tol, max_iter=100)

    def mean_weights(self, state: np.ndarray) -> np.ndarray:
        """The weights averaged over the observations, shape (K,)."""
        return np.exp(self.log_weights(state)).mean(axis=0)

    def n_parameters(self, n_components: int) -> int:
        """``(K - 1) p``."""
        return (n_components - 1) * self.Z.shape[1]

    def to_vector(self, state: np.ndarray) -> np.ndarray:
        """The coefficients of components ``2..K`` (``gamma[1:]``), flattened.

        Unconstrained already; for SQUAREM (:func:`emfit.em.fit_em`). Row 0, the
        reference component's, is fixed and not part of the vector.

        Parameters
        ----------
        state : ndarray of shape (K, p)
            The coefficients ``gamma``.

        Returns
        -------
        ndarray of shape ((K - 1) p,)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.weights import ConcomitantWeights
        >>> model = ConcomitantWeights(np.column_stack([np.ones(3), [0.0, 1.0, 2.0]]))
        >>> gamma = np.array([[0.0, 0.0], [0.5, -1.0], [2.0, 1.0]])
        >>> model.to_vector(gamma).tolist()
        [0.5, -1.0, 2.0, 1.0]
        >>> bool(np.array_equal(model.from_vector(model.to_vector(gamma), like=gamma), gamma))
        True
        """
        return np.array(state[1:], dtype=np.float64).ravel()

    def from_vector(self, vector: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
        """The coefficients ``gamma`` from :meth:`to_vector`'s vector.

        Parameters
        ----------
        vector : ndarray of shape ((K - 1) p,)
        like : ndarray of shape (K, p), optional
            Coefficients whose row 0 (the reference component's) is kept; zero if
            not given.

        Returns
        -------
        ndarray of shape (K, p)

        Examples
        --------
        >>> import numpy as np
        >>> from emfit.weights import ConcomitantWeights
        >>> model = ConcomitantWeights(np.column_stack([np.ones(3), [0.0, 1.0, 2.0]]))
        >>> model.from_vector(np.array([0.5, -1.0])).tolist()
        [[0.0, 0.0], [0.5, -1.0]]
        """
        p = self.Z.shape[1]
        rest = np.asarray(vector, dtype=np.float64).reshape(-1, p)
        first = np.zeros((1, p)) if like is None else np.asarray(like, dtype=np.float64)[:1]
        return np.concatenate([first, rest])
