"""Model selection: a table of information criteria over a grid of mixture models.

:func:`select_model` fits one emfit estimator per point of a parameter grid (number
of components, covariance structure, intercepts, concomitant covariates, ...) and
returns the table that R's ``mclust::Mclust(X, G = 1:9)`` prints as its BIC table:
the log-likelihood, the number of free parameters ``P`` and three criteria,

* ``AIC = -2 l + 2 P`` (Akaike 1974),
* ``BIC = -2 l + P log n`` (Schwarz 1978),
* ``ICL = BIC + 2 sum_i sum_k -r_ik log r_ik`` (Biernacki, Celeux & Govaert 2000):
  BIC plus twice the entropy of the responsibilities ``r_ik``, which penalises
  components that overlap; ``ICL >= BIC``, with equality when every sample is
  assigned with certainty (and for ``K = 1``).

**Sign convention.** Smaller is better, as in scikit-learn's ``bic``/``aic`` and
emfit's estimators. mclust reports ``2 l - P log n``, the same number with the
opposite sign, and maximises it.

**Ties.** The best model is the *first* row in grid order whose criterion is within
a relative ``1e-8`` of the minimum (:data:`TIE_RTOL`), so that round-off never
decides between two equally good models.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
from scipy.special import entr
from sklearn.base import clone

from .em import RESTART_TIE_RTOL, _first_minimum

__all__ = ["CRITERIA", "TIE_RTOL", "ModelSelection", "select_model"]

#: The criteria :func:`select_model` can minimise (columns of its table).
CRITERIA: tuple[str, str, str] = ("bic", "icl", "aic")
#: Rows whose criterion is within this relative distance of the minimum are tied;
#: the first of them in grid order is the best (the rule of the EM restarts).
TIE_RTOL: float = RESTART_TIE_RTOL
#: The grid key that is not an estimator parameter: pass ``Z`` to fit and scoring.
CONCOMITANT = "concomitant"
#: Errors of one fit that give a row of NaN (with the message in ``note``) instead of
#: aborting the table: degenerate fits (ValueError, including numpy's LinAlgError)
#: and floating-point failures (FloatingPointError, OverflowError, ...).
_FIT_ERRORS: tuple[type[BaseException], ...] = (ValueError, ArithmeticError)
_RESULT_COLUMNS = ("loglik", "n_parameters", "aic", "bic", "icl", "n_iter", "converged", "note")


@dataclass(frozen=True, eq=False)
class ModelSelection:
    """The result of :func:`select_model`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per grid point, in grid order. Columns: the grid keys, then
        ``loglik``, ``n_parameters``, ``aic``, ``bic``, ``icl``, ``n_iter``,
        ``converged`` and ``note``: empty; or, for a fit whose restarts were
        partly set aside as degenerate (see :func:`emfit.em.fit_em`), how many
        ("1 of 5 restarts set aside"), the row holding the best of the others; or the
        error message of a fit that failed, whose numbers are then NaN.
    best_estimator : estimator
        The fitted estimator of the best row.
    best_params : dict
        The grid values of the best row (including ``"concomitant"`` if it is a key).
    criterion : {"bic", "icl", "aic"}
        The criterion minimised.

    Examples
    --------
    >>> from emfit import GaussianMixture
    >>> from emfit.datasets import load_faithful
    >>> from emfit.selection import select_model
    >>> result = select_model(GaussianMixture(random_state=0), load_faithful(),
    ...                       param_grid={"n_components": [1, 2]})
    >>> result.criterion, result.best_params
    ('bic', {'n_components': 2})
    """

    table: Any
    best_estimator: Any
    best_params: dict[str, Any]
    criterion: str


def _check_param_grid(param_grid: Any, valid_keys: set[str]) -> dict[str, list[Any]]:
    if not isinstance(param_grid, Mapping) or not param_grid:
        raise ValueError(f"param_grid must be a non-empty dict of lists; got {param_grid!r}.")
    grid: dict[str, list[Any]] = {}
    for key, values in param_grid.items():
        if key not in valid_keys:
            raise ValueError(
                f"param_grid key {key!r} is neither a parameter of the estimator nor "
                f"{CONCOMITANT!r}; valid keys: {sorted(valid_keys)}."
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise ValueError(f"param_grid[{key!r}] must be a list of values; got {values!r}.")
        values = list(values)
        if not values:
            raise ValueError(f"param_grid[{key!r}] must be a non-empty list.")
        grid[key] = values
    for k in grid.get("n_components", []):
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"param_grid['n_components'] must contain integers >= 1; got {k!r}.")
    for flag in grid.get(CONCOMITANT, []):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(
                f"param_grid[{CONCOMITANT!r}] must contain True or False; got {flag!r}."
            )
    return grid


def _takes_Z(estimator: Any) -> bool:
    return "Z" in inspect.signature(type(estimator).fit).parameters


def _set_aside_note(estimator: Any) -> str:
    """"k of n restarts set aside" for a fit that set degenerate restarts aside, else ""."""
    restarts = getattr(estimator, "restarts_", None) or []
    aside = sum(r.degenerate is not None for r in restarts)
    return f"{aside} of {len(restarts)} restarts set aside" if aside else ""


def _fit_and_score(
    estimator: Any, data: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Fit ``estimator`` and its row of the table; a failed fit gives NaN and a note."""
    n = data[0].shape[0]
    try:
        estimator.fit(*data, **kwargs)
        bic = float(estimator.bic(*data, **kwargs))
        aic = float(estimator.aic(*data, **kwargs))
        resp = estimator.predict_proba(*data, **kwargs)
        icl = bic + 2.0 * float(entr(resp).sum())
        loglik = float(estimator.loglik_)
        n_parameters = int(estimator._n_parameters())
        numbers = (loglik, aic, bic, icl)
        if not all(math.isfinite(v) for v in numbers):
            raise FloatingPointError(
                f"non-finite result (loglik, aic, bic, icl) = {numbers} with n = {n}"
            )
    except _FIT_ERRORS as exc:
        note = f"{type(exc).__name__}: {exc}"
        row = dict.fromkeys(_RESULT_COLUMNS[:-2], math.nan) | {"converged": False, "note": note}
        return None, row
    row = {
        "loglik": loglik,
        "n_parameters": n_parameters,
        "aic": aic,
        "bic": bic,
        "icl": icl,
        "n_iter": int(estimator.n_iter_),
        "converged": bool(estimator.converged_),
        "note": _set_aside_note(estimator),
    }
    return estimator, row


def select_model(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    param_grid: Mapping[str, Sequence[Any]],
    fit_params: Mapping[str, Any] | None = None,
    Z: Any = None,
    criterion: str = "bic",
) -> ModelSelection:
    """Fit an estimator at every point of a grid and tabulate AIC, BIC and ICL.

    The analogue of R's ``mclust::Mclust(X, G = 1:9)`` BIC table, for any emfit
    mixture estimator. Every grid point is a clone of ``estimator`` with the grid
    values set, fitted to the same data; the best is the one that minimises
    ``criterion``.

    Parameters
    ----------
    estimator : estimator
        An emfit mixture estimator (:class:`~emfit.gaussian.GaussianMixture`,
        :class:`~emfit.poisson.PoissonRegressionMixture`, :class:`~emfit.bernoulli.BernoulliMixture`),
        used as a prototype: it is cloned (:func:`sklearn.base.clone`), never fitted.
        Its parameters not in the grid (``random_state``, ``n_init``, ``max_iter``,
        ...) apply to every fit.
    X : array-like of shape (n_samples, n_features)
        The data (covariates for a regression mixture); a numpy array or a pandas
        DataFrame.
    y : array-like of shape (n_samples,), optional
        The responses of a regression mixture (counts for
        :class:`~emfit.poisson.PoissonRegressionMixture`), passed as ``fit(X, y, ...)``.
    param_grid : dict of str to list
        The values of each parameter; the grid is their Cartesian product, the last
        key varying fastest (the order of ``itertools.product``). Keys are
        parameters of ``estimator`` (e.g. ``"n_components"``, ``"covariance_type"``,
        ``"fit_intercept"``) or ``"concomitant"``: when True, the concomitant
        covariates ``Z`` are passed to ``fit`` and to the scoring methods as
        ``Z=Z`` (covariate-dependent mixing weights); when False they are not.
    fit_params : dict, optional
        Keyword arguments for every call of ``fit``, ``bic``, ``aic`` and
        ``predict_proba``, e.g. ``{"exposure": e}`` for a Poisson regression mixture.
    Z : array-like of shape (n_samples, n_concomitant), optional
        Concomitant covariates; required if ``param_grid["concomitant"]`` contains True.
    criterion : {"bic", "icl", "aic"}, default="bic"
        What the best model minimises.

    Returns
    -------
    ModelSelection
        ``table`` (one row per grid point: the grid values, ``loglik``,
        ``n_parameters``, ``aic``, ``bic``, ``icl``, ``n_iter``, ``converged``,
        ``note``), ``best_estimator``, ``best_params`` and ``criterion``.

    Raises
    ------
    ValueError
        If ``param_grid`` is not a non-empty dict of non-empty lists, has a key that is
        neither a parameter of ``estimator`` nor ``"concomitant"``, or an
        ``n_components`` value that is not an integer >= 1; if ``criterion`` is
        unknown; if ``"concomitant": True`` is asked for without ``Z`` or for an
        estimator whose ``fit`` takes no ``Z``; or if every grid point fails.

    Notes
    -----
    **Smaller is better** for all three criteria: ``BIC = -2 l + P log n`` as in
    scikit-learn. R's mclust reports ``BIC = 2 l - P log n`` (the opposite sign) and
    maximises it. ``P`` is the number of free parameters (``K - 1`` weights and the
    components' parameters) and ``n`` the number of samples. ``ICL`` adds twice the
    entropy of the responsibilities, ``-sum_i sum_k r_ik log r_ik`` with
    ``0 log 0 = 0`` (Biernacki, Celeux and Govaert, 2000, IEEE TPAMI 22, 719--725).

    A grid point whose fit raises a ``ValueError`` (a degenerate fit, a covariance
    that is not positive definite, too few samples, ...) or an ``ArithmeticError``
    (e.g. ``FloatingPointError``), or whose criteria are not finite, gets a row of
    NaN with the error message in ``note``; the table is still complete. In such a
    table ``n_parameters`` and ``n_iter`` are floats (NaN for the failed rows) and
    ``converged`` is False for the failed rows.

    Warnings of the fits (e.g. :class:`emfit.em.ConvergenceWarning` for a ``K``
    too large for the data) are not silenced; the ``converged`` column records them.

    Ties: the best row is the first in grid order whose criterion is within a
    relative :data:`TIE_RTOL` of the minimum.

    Examples
    --------
    Old Faithful, one to three components, with diagonal or spherical covariances:

    >>> from emfit import GaussianMixture
    >>> from emfit.datasets import load_faithful
    >>> from emfit.selection import select_model
    >>> X = load_faithful()
    >>> grid = {"n_components": [1, 2, 3], "covariance_type": ["diag", "spherical"]}
    >>> result = select_model(GaussianMixture(random_state=0), X, param_grid=grid)
    >>> result.table.columns.tolist()[:4]
    ['n_components', 'covariance_type', 'loglik', 'n_parameters']
    >>> result.table[["n_components", "covariance_type", "n_parameters"]].values.tolist()[:2]
    [[1, 'diag', 4], [1, 'spherical', 3]]
    >>> result.best_params
    {'n_components': 3, 'covariance_type': 'diag'}
    >>> bool(abs(result.table["bic"].min() - result.best_estimator.bic(X)) < 1e-6)
    True

    ICL penalises the third component, which overlaps the others:

    >>> select_model(GaussianMixture(random_state=0), X, param_grid=grid,
    ...              criterion="icl").best_params
    {'n_components': 2, 'covariance_type': 'diag'}
    """
    import pandas as pd

    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}; got {criterion!r}.")
    grid = _check_param_grid(param_grid, set(estimator.get_params()) | {CONCOMITANT})
    if fit_params is None:
        fit_params = {}
    elif not isinstance(fit_params, Mapping):
        raise ValueError(f"fit_params must be a dict or None; got {fit_params!r}.")
    if any(grid.get(CONCOMITANT, [])):
        if Z is None:
            raise ValueError(
                "param_grid['concomitant'] contains True but Z is None; pass the "
                "concomitant covariates as select_model(..., Z=Z)."
            )
        if not _takes_Z(estimator):
            raise ValueError(
                f"param_grid['concomitant'] contains True but {type(estimator).__name__}.fit "
                "takes no concomitant covariates Z."
            )
        Z = np.asarray(Z)

    X = np.asarray(X)
    data = (X,) if y is None else (X, np.asarray(y))
    keys = list(grid)
    rows: list[dict[str, Any]] = []
    fitted: list[Any] = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(keys, values))
        params = {k: v for k, v in point.items() if k != CONCOMITANT}
        kwargs = dict(fit_params)
        if point.get(CONCOMITANT, False):
            kwargs["Z"] = Z
        est, result = _fit_and_score(clone(estimator).set_params(**params), data, kwargs)
        fitted.append(est)
        rows.append(point | result)

    table = pd.DataFrame(rows, columns=[*keys, *_RESULT_COLUMNS])
    failed = table["note"] != ""
    if failed.all():
        raise ValueError(
            f"every grid point failed to fit; the first error: {table['note'].iloc[0]}"
        )
    best = _first_minimum(table[criterion].to_numpy(dtype=float))
    return ModelSelection(
        table=table,
        best_estimator=fitted[best],
        best_params={k: rows[best][k] for k in keys},
        criterion=criterion,
    )
