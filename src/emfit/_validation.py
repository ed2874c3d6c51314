"""Input validation shared by every emfit estimator and family.

Each checker raises :class:`ValueError` (or :class:`TypeError` where the type itself
is wrong) with a message that names the offending argument and says what is wrong, so
a user reading the traceback knows which argument to fix.

Functions here are general: they know nothing about a particular mixture family.
Family-specific validators may be appended at the end of this module.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "check_array",
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
        The data. Lists, tuples, NumPy arrays and anything ``np.asarray`` accepts.
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
        ``TypeError``), has the wrong number of dimensions, is empty, or contains NaN
        or infinite values. The message names ``name``.

    Examples
    --------
    >>> from emfit._validation import check_array
    >>> check_array([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> check_array([1.0, float("nan")], name="y", ndim=1)
    Traceback (most recent call last):
        ...
    ValueError: y contains NaN; remove or impute the missing values.
    """
    if X is None:
        raise ValueError(f"{name} is None; expected an array of numbers.")
    # Sparse matrices and other non-array containers are rejected explicitly.
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise ArgumentTypeError(
            f"{name} is a sparse matrix; emfit needs dense data: pass {name}.toarray()."
        )
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
