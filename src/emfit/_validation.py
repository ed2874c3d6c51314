"""Input validation shared by every emfit estimator and family.

Each checker raises :class:`ValueError` (or :class:`TypeError` where the type itself
is wrong) with a message that names the offending argument and says what is wrong, so
a user reading the traceback knows which argument to fix.

Functions here are general: they know nothing about a particular mixture family.
Family-specific validators may be appended at the end of this module.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "check_array",
    "check_feature_names",
    "check_positive_float",
    "check_positive_int",
    "check_random_state",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (e.g. a string where a number is expected).

    Both a :class:`TypeError` (Python's convention) and a :class:`ValueError`
    (emfit's rule: every bad argument raises ``ValueError`` naming the argument), so
    either ``except`` clause catches it.

    Examples
    --------
    >>> from emfit._validation import ArgumentTypeError, check_positive_int
    >>> try:
    ...     check_positive_int("3", "n_init")
    ... except ValueError as exc:
    ...     print(type(exc).__name__, exc)
    ArgumentTypeError n_init must be an integer >= 1; got '3'.
    """


def check_array(
    X: Any,
    name: str = "X",
    ndim: int | None = 2,
    *,
    dtype: Any = np.float64,
    allow_nan: bool = False,
    allow_inf: bool = False,
    min_samples: int = 1,
    min_features: int = 1,
    copy: bool = False,
) -> np.ndarray:
    """Convert ``X`` to a C-contiguous float64 array and check it.

    Parameters
    ----------
    X : array-like
        The data. Lists, tuples, NumPy arrays, pandas DataFrames and Series, and
        anything ``np.asarray`` accepts. A DataFrame must have numeric (or bool)
        columns, including pandas' nullable ``Int64``/``Float64``/``boolean`` (their
        missing values become NaN, rejected unless ``allow_nan``); an ``object``
        column is accepted if its values convert to float.
    name : str, default="X"
        Name of the argument, used in error messages.
    ndim : int or None, default=2
        Required number of dimensions; ``None`` accepts any.
    dtype : numpy dtype, default=np.float64
        Target dtype. Must be a floating or integer dtype.
    allow_nan, allow_inf : bool, default=False
        Whether NaN / infinite values are accepted.
    min_samples : int, default=1
        Minimum length of the first axis (ignored for 0-d arrays).
    min_features : int, default=1
        Minimum length of the second axis (only when the array is 2-d).
    copy : bool, default=False
        Always return a new array, never a view of ``X``.

    Returns
    -------
    ndarray
        C-contiguous array of dtype ``dtype``.

    Raises
    ------
    ValueError
        If ``X`` is not numeric (then an :class:`ArgumentTypeError`, also a
        ``TypeError``; for a DataFrame the message names the first non-numeric
        column), has the wrong number of dimensions, is empty, or contains NaN
        or infinite values. The message names ``name``.

    Examples
    --------
    >>> import pandas as pd
    >>> from emfit._validation import check_array
    >>> check_array([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> check_array([1.0, float("nan")], name="y", ndim=1)
    Traceback (most recent call last):
        ...
    ValueError: y contains NaN; remove or impute the missing values.
    >>> check_array(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})).tolist()
    [[1.0, 0.5], [2.0, 1.5]]
    >>> check_array(pd.DataFrame({"a": [1, 2], "city": ["Oslo", "Rome"]}))
    Traceback (most recent call last):
        ...
    emfit._validation.ArgumentTypeError: X must contain numeric data; column 'city' has dtype ...
    """
    if X is None:
        raise ValueError(f"{name} is None; expected an array of numbers.")
    # Sparse matrices and other non-array containers are rejected explicitly.
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise ArgumentTypeError(
            f"{name} is a sparse matrix; emfit needs dense data: pass {name}.toarray()."
        )
    pandas_kind = _pandas_kind(X)
    if pandas_kind is not None:
        X = _pandas_to_numpy(X, name, pandas_kind)
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from exc

    kind = arr.dtype.kind
    if kind in "OUSV" or kind in "Mm":
        # Object arrays may still hold plain numbers: try a numeric conversion.
        try:
            arr = arr.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(
                f"{name} must contain numeric data; got dtype {np.asarray(X).dtype} "
                f"that cannot be converted to float ({exc})."
            ) from exc
    elif kind == "c":
        raise ValueError(
            f"{name} must be real-valued: Complex data not supported (dtype {arr.dtype})."
        )
    elif kind not in "biuf":
        raise ArgumentTypeError(f"{name} must contain numeric data; got dtype {arr.dtype}.")

    if ndim is not None and arr.ndim != ndim:
        hint = ""
        if ndim == 2 and arr.ndim == 1:
            hint = (
                f" Reshape your data with {name}.reshape(-1, 1) for a single feature or "
                f"{name}.reshape(1, -1) for a single sample."
            )
        raise ValueError(
            f"{name} must be a {ndim}-d array; got {arr.ndim}-d with shape {arr.shape}.{hint}"
        )

    arr = np.ascontiguousarray(arr, dtype=dtype)
    if copy and np.shares_memory(arr, np.asarray(X)):
        arr = arr.copy()

    if arr.ndim >= 1 and arr.shape[0] < min_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} sample(s) (shape={arr.shape}) while a minimum of "
            f"{min_samples} is required."
        )
    if arr.ndim == 2 and arr.shape[1] < min_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} feature(s) (shape={arr.shape}) while a minimum of "
            f"{min_features} is required."
        )
    if arr.size == 0 and min_samples > 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")

    # One fast reduction on the common (all finite) path.
    if arr.dtype.kind == "f" and not (allow_nan and allow_inf) and not np.isfinite(arr).all():
        if not allow_nan and np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN; remove or impute the missing values.")
        if not allow_inf and np.isinf(arr).any():
            raise ValueError(f"{name} contains infinity; all values must be finite.")
    return arr


def _pandas_kind(X: Any) -> str | None:
    """``"frame"`` for a pandas DataFrame, ``"series"`` for a Series, else None.

    pandas is not imported for this: if it is not imported yet, ``X`` cannot be one
    of its objects.
    """
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if isinstance(X, pd.DataFrame):
        return "frame"
    if isinstance(X, pd.Series):
        return "series"
    return None


def _pandas_to_numpy(X: Any, name: str, kind: str) -> Any:
    """A numeric DataFrame or Series as a float64 ndarray (missing values as NaN).

    A column (or Series) of a non-numeric dtype (strings, categories, dates...)
    raises an :class:`ArgumentTypeError` naming ``name`` and the column. ``object``
    columns are passed on to NumPy's conversion (they may hold plain numbers).
    """
    from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

    columns = X.dtypes.items() if kind == "frame" else [(None, X.dtype)]
    has_object = False
    for column, dtype in columns:
        where = "" if column is None else f"column {column!r} "
        if is_complex_dtype(dtype):
            raise ValueError(
                f"{name} must be real-valued: Complex data not supported ({where}has dtype "
                f"{dtype})."
            )
        if is_numeric_dtype(dtype) or is_bool_dtype(dtype):
            continue
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            if kind == "frame":
                try:
                    X[column].to_numpy(dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError) as exc:
                    raise ArgumentTypeError(
                        f"{name} must contain numeric data; {where}has dtype object with a "
                        f"value that cannot be converted to float ({exc}). Encode or drop "
                        "that column."
                    ) from exc
            has_object = True
            continue
        if kind == "frame":
            raise ArgumentTypeError(
                f"{name} must contain numeric data; {where}has dtype {dtype}. Encode it "
                f"as numbers (e.g. pandas.get_dummies) or drop it."
            )
        raise ArgumentTypeError(f"{name} must contain numeric data; got dtype {dtype}.")
    if has_object and kind == "series":
        return X.to_numpy()  # the generic conversion of object arrays below
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def check_random_state(seed: Any = None) -> np.random.Generator:
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : None, int, array of ints, SeedSequence, Generator or RandomState
        ``None`` gives fresh OS entropy; an int, array of ints or
        :class:`numpy.random.SeedSequence` seeds a new PCG64 generator; a Generator is
        returned unchanged; a legacy :class:`numpy.random.RandomState` is used to draw
        a seed for a new Generator (so scikit-learn style ``random_state`` objects work).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ValueError
        If ``seed`` is of any other type, or a negative integer.

    Examples
    --------
    >>> from emfit._validation import check_random_state
    >>> rng = check_random_state(0)
    >>> float(rng.random()) == float(check_random_state(0).random())
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1, size=4))
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)):
        raise ArgumentTypeError(f"random_state must be None, an int or a Generator; got {seed!r}.")
    if isinstance(seed, numbers.Integral):
        if int(seed) < 0:
            raise ValueError(f"random_state must be a non-negative integer; got {seed}.")
        return np.random.default_rng(int(seed))
    if isinstance(seed, (list, tuple, np.ndarray)):
        try:
            return np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"random_state could not seed a Generator: {exc}") from exc
    raise ArgumentTypeError(
        "random_state must be None, an int, a SeedSequence, a numpy Generator or "
        f"RandomState; got {type(seed).__name__}."
    )


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer ``>= minimum`` and return it as ``int``.

    Parameters
    ----------
    value : int
        The value to check. Booleans and floats (even ``3.0``) are rejected.
    name : str
        Name of the argument, used in error messages.
    minimum : int, default=1
        Smallest accepted value (use 0 for "non-negative").

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``value`` is not an integer or is smaller than ``minimum``.

    Examples
    --------
    >>> from emfit._validation import check_positive_int
    >>> check_positive_int(3, "n_components")
    3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def check_positive_float(
    value: Any, name: str, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """Check that ``value`` is a positive real number and return it as ``float``.

    Parameters
    ----------
    value : float
        The value to check (ints are accepted).
    name : str
        Name of the argument, used in error messages.
    allow_zero : bool, default=False
        Accept ``0`` (i.e. check "non-negative" instead of "positive").
    allow_inf : bool, default=False
        Accept ``+inf``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not a real number, is NaN, is not positive, or is infinite
        (unless allowed).

    Examples
    --------
    >>> from emfit._validation import check_positive_float
    >>> check_positive_float(1e-300, "variance")
    1e-300
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a real number; got {value!r}.")
    v = float(value)
    if np.isnan(v):
        raise ValueError(f"{name} must be a number; got NaN.")
    if np.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite; got {v}.")
    if v < 0 or (v == 0 and not allow_zero):
        word = "non-negative" if allow_zero else "positive (> 0)"
        raise ValueError(f"{name} must be {word}; got {v}.")
    return v


# ------------------------------------------------------------------ count and binary data
__all__ += ["check_binary", "check_counts", "check_exposure"]


def _check_vector(values: Any, name: str, n_samples: int | None) -> np.ndarray:
    """``values`` as a 1-d float64 array (:func:`check_array`) of ``n_samples`` values
    (any number if None): one value per row of ``X``."""
    arr = check_array(values, name=name, ndim=1)
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} values but X has {n_samples} rows.")
    return arr


def check_counts(y: Any, name: str = "y", n_samples: int | None = None) -> np.ndarray:
    """Check that ``y`` is a 1-d array of non-negative integer counts.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Counts (integers, or floats with integer values).
    name : str, default="y"
        Name of the argument, used in error messages.
    n_samples : int, optional
        Required length (the number of rows of ``X``).

    Returns
    -------
    ndarray of shape (n_samples,), dtype float64

    Raises
    ------
    ValueError
        If ``y`` is not 1-d, has the wrong length, or contains NaN, infinite,
        negative or non-integer values.

    Examples
    --------
    >>> from emfit._validation import check_counts
    >>> check_counts([0, 3, 1]).tolist()
    [0.0, 3.0, 1.0]
    >>> check_counts([1.5])
    Traceback (most recent call last):
        ...
    ValueError: y must contain integer counts; got 1.5.
    """
    arr = _check_vector(y, name, n_samples)
    if np.any(arr < 0):
        raise ValueError(f"{name} must contain non-negative counts; got {float(arr.min())!r}.")
    frac = arr != np.floor(arr)
    if np.any(frac):
        raise ValueError(f"{name} must contain integer counts; got {float(arr[frac][0])!r}.")
    return arr


def check_exposure(exposure: Any, n_samples: int, name: str = "exposure") -> np.ndarray:
    """Check that ``exposure`` is a 1-d array of ``n_samples`` positive finite numbers.

    Parameters
    ----------
    exposure : array-like of shape (n_samples,)
        Exposures (observation times, lengths, populations...).
    n_samples : int
        Required length.
    name : str, default="exposure"
        Name of the argument, used in error messages.

    Returns
    -------
    ndarray of shape (n_samples,), dtype float64

    Raises
    ------
    ValueError
        If ``exposure`` has the wrong shape, or a value that is not finite and > 0.

    Examples
    --------
    >>> from emfit._validation import check_exposure
    >>> check_exposure([1, 2.5], 2).tolist()
    [1.0, 2.5]
    """
    e = _check_vector(exposure, name, n_samples)
    if np.any(e <= 0):
        raise ValueError(f"{name} must be positive (> 0); got {float(e.min())!r}.")
    return e


def check_binary(X: Any, name: str = "X") -> np.ndarray:
    """Check that ``X`` is a 2-d array of zeros and ones; return it as float64.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Binary data (bool, or numbers equal to 0 or 1).
    name : str, default="X"
        Name of the argument, used in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_features), dtype float64

    Raises
    ------
    ValueError
        If ``X`` is not 2-d, contains NaN or infinity, or a value other than 0 and 1.

    Examples
    --------
    >>> from emfit._validation import check_binary
    >>> check_binary([[0, 1], [1, 1]]).tolist()
    [[0.0, 1.0], [1.0, 1.0]]
    """
    arr = check_array(X, name=name, ndim=2)
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must contain only 0 and 1; got {float(arr[i, j])!r} at position ({i}, {j})."
        )
    return arr


# ------------------------------------------------------------------ feature names
__all__ += ["feature_labels", "fit_statistics", "summary_frame"]


def check_feature_names(estimator: Any, X: Any, *, reset: bool, name: str = "X") -> None:
    """Set or check ``estimator.feature_names_in_``, as scikit-learn's estimators do.

    Call it with the raw ``X`` (before :func:`check_array`). With ``reset=True``
    (in ``fit``) it stores the column names of a DataFrame whose column names are
    all strings as ``feature_names_in_`` (an object ndarray) and deletes a
    ``feature_names_in_`` left by an earlier fit when ``X`` has no such names. With
    ``reset=False`` (predict, score...) it checks ``X``'s names against the stored
    ones: different names raise, and names on one side only give scikit-learn's
    ``UserWarning``. The rules are scikit-learn's own
    (``sklearn.utils.validation._check_feature_names``).

    Parameters
    ----------
    estimator : object
        The estimator whose ``feature_names_in_`` is set or checked.
    X : array-like or pandas.DataFrame
        The data, not converted yet.
    reset : bool
        True in ``fit``; False when ``X`` is new data for a fitted estimator.
    name : str, default="X"
        Name of the argument, used in error messages.

    Raises
    ------
    ValueError
        If ``X``'s column names differ from those seen in ``fit`` (the message names
        ``name`` and lists the unexpected and the missing names), or mix strings
        with other types (then an :class:`ArgumentTypeError`).

    Examples
    --------
    >>> import pandas as pd
    >>> from emfit._validation import check_feature_names
    >>> class Model:
    ...     pass
    >>> model = Model()
    >>> check_feature_names(model, pd.DataFrame({"a": [1.0], "b": [2.0]}), reset=True)
    >>> model.feature_names_in_
    array(['a', 'b'], dtype=object)
    >>> try:
    ...     check_feature_names(model, pd.DataFrame({"a": [1.0], "c": [2.0]}), reset=False)
    ... except ValueError as exc:
    ...     print(str(exc).replace(". ", ".\\n"))
    X has other column names than the data seen in fit.
    The feature names should match those that were passed during fit.
    Feature names unseen at fit time:
    - c
    Feature names seen at fit time, yet now missing:
    - b
    <BLANKLINE>
    """
    try:
        from sklearn.utils.validation import _check_feature_names
    except ImportError:  # scikit-learn < 1.6: a method of BaseEstimator
        _check_feature_names = type(estimator)._check_feature_names
    try:
        _check_feature_names(estimator, X, reset=reset)
    except TypeError as exc:  # column names of mixed types
        raise ArgumentTypeError(f"{name} has column names of mixed types: {exc}") from None
    except ValueError as exc:
        raise ValueError(
            f"{name} has other column names than the data seen in fit. {exc}"
        ) from None


def feature_labels(estimator: Any, n_features: int) -> list[str]:
    """Names of the features of a fitted estimator, for tables.

    ``estimator.feature_names_in_`` when it was fitted on a DataFrame with string
    column names, else ``x1, ..., xd``.

    Parameters
    ----------
    estimator : object
        A fitted estimator.
    n_features : int
        Number of features ``d``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from emfit._validation import feature_labels
    >>> feature_labels(object(), 3)
    ['x1', 'x2', 'x3']
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == n_features:
        return [str(v) for v in names]
    return [f"x{j + 1}" for j in range(n_features)]


def fit_statistics(estimator: Any) -> dict[str, Any]:
    """Log-likelihood, AIC, BIC, number of parameters and of samples of a fit.

    From the fitted ``loglik_`` and ``n_samples_fit_`` and the estimator's
    ``_n_parameters()``: ``aic = -2 l + 2 P`` and ``bic = -2 l + P log n``, equal to
    ``estimator.aic(X)`` and ``estimator.bic(X)`` on the training data. The values
    that need a fit on data (``loglik``, ``aic``, ``bic``, ``n_samples``) are None
    for a model built from given parameters (``from_parameters``).

    Parameters
    ----------
    estimator : object
        A fitted emfit mixture estimator.

    Returns
    -------
    dict
        Keys ``"loglik"``, ``"aic"``, ``"bic"``, ``"n_parameters"``, ``"n_samples"``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit import GaussianMixture
    >>> from emfit._validation import fit_statistics
    >>> X = np.random.default_rng(0).normal(size=(100, 1))
    >>> stats = fit_statistics(GaussianMixture(1).fit(X))
    >>> stats["n_parameters"], stats["n_samples"]
    (2, 100)
    """
    n_parameters = int(estimator._n_parameters())
    loglik = getattr(estimator, "loglik_", None)
    n = getattr(estimator, "n_samples_fit_", None)
    if loglik is None or n is None:
        return {"loglik": None, "aic": None, "bic": None, "n_parameters": n_parameters,
                "n_samples": None}
    loglik = float(loglik)
    return {
        "loglik": loglik,
        "aic": -2.0 * loglik + 2.0 * n_parameters,
        "bic": -2.0 * loglik + n_parameters * float(np.log(n)),
        "n_parameters": n_parameters,
        "n_samples": int(n),
    }


def _weight_rows(estimator: Any, k: int) -> list[tuple[str, float]]:
    """The mixing-weight parameters of component ``k``, named as in the summaries.

    ``("weight", pi_k)`` for constant weights; with concomitant covariates (a fitted
    ``concomitant_coef_``), the coefficients of component ``k > 0`` of the
    multinomial logit, ``"(weight intercept)"`` and ``"(weight) z1"``, ... (the first
    component is the reference and has none), as
    :meth:`emfit.poisson.PoissonRegressionMixture.summary` names them.
    """
    gamma = getattr(estimator, "concomitant_coef_", None)
    if gamma is None:
        return [("weight", float(estimator.weights_[k]))]
    if k == 0:
        return []
    names = ["(weight intercept)"] + [f"(weight) z{j + 1}" for j in range(gamma.shape[1] - 1)]
    return list(zip(names, np.asarray(gamma[k], dtype=np.float64).tolist()))


def summary_frame(
    estimator: Any,
    component_rows: list[list[tuple[str, float]]],
    shared_rows: list[tuple[str, float]] = (),  # type: ignore[assignment]
) -> Any:
    """The parameter table of a fitted mixture, with :func:`fit_statistics` in ``attrs``.

    Component by component: its weight parameters (:func:`_weight_rows`), then its
    ``component_rows``; then the ``shared_rows`` (parameters common to every
    component, such as a tied covariance) under the component label ``"all"``.

    Parameters
    ----------
    estimator : object
        A fitted emfit mixture estimator.
    component_rows : list of lists of (str, float)
        For each component, its ``(parameter name, estimate)`` pairs.
    shared_rows : list of (str, float), optional
        Parameters shared by all components.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(component, parameter)``, one column ``estimate``.

    Examples
    --------
    >>> import numpy as np
    >>> from emfit import GaussianMixture
    >>> from emfit._validation import summary_frame
    >>> gm = GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(50, 1)))
    >>> summary_frame(gm, [[("extra", 2.0)]]).index.tolist()
    [(0, 'weight'), (0, 'extra')]
    """
    import pandas as pd

    index: list[tuple[Any, str]] = []
    values: list[float] = []
    for k, rows in enumerate(component_rows):
        for name, value in _weight_rows(estimator, k) + list(rows):
            index.append((k, name))
            values.append(value)
    for name, value in shared_rows:
        index.append(("all", name))
        values.append(value)
    table = pd.DataFrame(
        {"estimate": np.array(values, dtype=np.float64)},
        index=pd.MultiIndex.from_tuples(index, names=["component", "parameter"]),
    )
    table.attrs.update(fit_statistics(estimator))
    return table
