r"""Standard errors from the observed information.

The inverse of the observed information, checked to be positive definite after
Jacobi scaling; when it is not, :class:`SingularInformationWarning`, the singular or
negative eigen-directions, and NaN standard errors for the parameters that involve
them. :meth:`PoissonRegressionMixture.standard_errors` is built on ``_standard_errors``.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["SingularInformationWarning"]


class SingularInformationWarning(RuntimeWarning):
    """The observed information is singular or not positive definite.

    Issued by :meth:`PoissonRegressionMixture.standard_errors`. A singular
    information means that some parameters are not identified by these data (e.g.
    an intercept and a slope when every ``x_i`` is equal, or two equal components),
    or that the fit is not at a strict maximum; a matrix that is not positive
    definite means the fit is not at a local maximum (a saddle point, or EM has not
    converged). The standard errors of the affected parameters are NaN.

    Examples
    --------
    With an intercept and a single covariate value, intercept and slope cannot be
    told apart:

    >>> import warnings
    >>> import numpy as np
    >>> from emfit import PoissonRegressionMixture
    >>> rng = np.random.default_rng(0)
    >>> D = np.ones((300, 1))
    >>> y = np.where(rng.random(300) < 0.5, rng.poisson(2.0, 300), rng.poisson(9.0, 300))
    >>> model = PoissonRegressionMixture(2, random_state=0).fit(D, y)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     se = model.standard_errors(D, y)
    >>> any(issubclass(w.category, SingularInformationWarning) for w in caught)
    True
    >>> bool(np.isnan(se["coef"]).all())
    True
    """


#: Relative eigenvalue bound (after diagonal scaling) below which the observed
#: information counts as singular in :meth:`PoissonRegressionMixture.standard_errors`.
_SINGULAR_RTOL = 1e-10

#: Loading on a singular direction above which a parameter counts as affected.
_LOADING_TOL = 1e-6


class _Directions(NamedTuple):
    """Singular / negative eigen-directions ``V`` of the scaled information, and the
    scale ``s`` (``info = S A S``, ``S = diag(s)``)."""

    V: np.ndarray
    s: np.ndarray


def _information_inverse(info: np.ndarray) -> tuple[np.ndarray, _Directions | None]:
    """Inverse of a positive definite observed information, with a check.

    Returns ``(inv(info), None)`` if ``info`` is positive definite and well
    conditioned after Jacobi scaling (``D^{-1/2} info D^{-1/2}``, ``D = diag(info)``,
    so that the check does not depend on the units of the covariates): every
    eigenvalue above ``_SINGULAR_RTOL`` times the largest. Otherwise warns
    (:class:`SingularInformationWarning`, naming the caller of
    :meth:`PoissonRegressionMixture.standard_errors`, which calls this through
    :func:`_standard_errors`: hence ``stacklevel=4``) and returns the pseudo-inverse on the good
    eigen-directions together with ``bad``, the singular or negative directions
    (columns, in the scaled coordinates; see :func:`_loads_on`).
    """
    P = info.shape[0]
    if not np.all(np.isfinite(info)):
        warnings.warn(
            "the observed information is not finite; standard errors are NaN.",
            SingularInformationWarning,
            stacklevel=4,
        )
        return np.full((P, P), np.nan), _Directions(np.eye(P), np.ones(P))
    d = np.diag(info)
    s = np.sqrt(np.where(d > 0, d, 1.0))
    A = info / s[:, None] / s[None, :]
    ev, V = np.linalg.eigh(0.5 * (A + A.T))
    tol = _SINGULAR_RTOL * max(float(np.abs(ev).max()), np.finfo(float).tiny)
    bad = ev <= tol
    if not bad.any():
        return np.linalg.inv(info), None
    rank = int((np.abs(ev) > tol).sum())
    if np.any(ev < -tol):
        msg = (
            f"the observed information is not positive definite (smallest scaled "
            f"eigenvalue {ev[0]:.3g}, largest {ev[-1]:.3g}): the fit is not at a local "
            "maximum (a saddle point, or EM has not converged)."
        )
    else:
        msg = (
            f"the observed information is singular (rank {rank} of {P}): some "
            "parameters are not identifiable from these data (e.g. too few distinct "
            "covariate values, equal components, a weight of 0 or 1), or the fit is "
            "not at a strict maximum."
        )
    warnings.warn(
        msg + " The standard errors of the affected parameters are NaN.",
        SingularInformationWarning,
        stacklevel=4,
    )
    good = ~bad
    cov = (V[:, good] / ev[good]) @ V[:, good].T / s[:, None] / s[None, :]
    return cov, _Directions(V[:, bad], s)


def _loads_on(bad: _Directions, C: np.ndarray) -> np.ndarray:
    """Which linear combinations (rows of ``C``) involve a bad direction.

    ``c^T theta`` is estimable iff ``c`` is orthogonal to the null space of the
    information, i.e. iff ``S^{-1} c`` is orthogonal to the scaled bad directions.
    """
    Cs = C / bad.s
    Cs = Cs / np.linalg.norm(Cs, axis=1, keepdims=True)
    return np.linalg.norm(Cs @ bad.V, axis=1) > _LOADING_TOL


def _standard_errors(info: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors from the observed information ``info`` (flat free parameters).

    The first ``m = K - 1`` free parameters are the weights ``pi_1..pi_{K-1}``. Returns
    ``se`` of shape (P,), one per free parameter, and ``se_w`` of shape (K,), the
    weights' with ``pi_K = 1 - sum_{j<K} pi_j`` last (``Var(pi_K) = 1^T Cov 1`` over the
    free weights: the delta method, exact as the map is linear). The entries that
    involve a singular or negative direction of ``info`` are NaN, and
    :func:`_information_inverse` warns.
    """
    P = info.shape[0]
    cov, bad = _information_inverse(info)
    if bad is None:  # positive definite: the plain inverse
        var = np.diag(cov).copy()
        cov_pi = cov[:m, :m]
        var_last = float(cov_pi.sum()) if m else 0.0
    else:
        # Standard errors only of the parameters (and of pi_K = 1 - sum pi_j)
        # that are orthogonal to the singular / negative directions.
        var = np.diag(cov).copy()
        var[_loads_on(bad, np.eye(P))] = np.nan
        c = np.zeros(P)
        c[:m] = 1.0
        var_last = float(c @ cov @ c) if m else 0.0
        if m and _loads_on(bad, c[None, :])[0]:
            var_last = np.nan
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.where(var >= 0, var, np.nan))
        se_w = np.append(se[:m], np.sqrt(var_last) if var_last >= 0 else np.nan)
    return se, se_w
