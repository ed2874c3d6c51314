"""Numbers for the reader: rounded at the source, the same on every machine.

A stored notebook output is compared character by character on the reader's
machine, whose CPU, BLAS kernel and thread count change the last bits of a
float. So every number the book prints or glues into its prose goes through
this module:

* :func:`rounded` rounds a value (or an array, or a table) to the precision given
  by a format specification, the same one the prose uses
  (``{glue:text}`name:.3f```), turns ``-0.0`` into ``0.0``, and refuses a value
  that lies so close to a rounding boundary that round-off could push it across;
* :func:`glue_number` glues that rounded value;
* :func:`below` and :func:`glue_bound` state round-off as a bound ("below
  10⁻¹²") after checking it, instead of printing the round-off itself;
* :func:`rounded_frame` rounds a table column by column.

Quantities that are round-off (a difference between two implementations, a
symmetry error) are never printed as numbers: their digits are noise.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "TIE_GUARD",
    "rounded",
    "below",
    "power_of_ten",
    "rounded_frame",
    "stopping_margin",
    "glue_number",
    "glue_bound",
]

#: Relative distance to a rounding boundary below which :func:`rounded` refuses a
#: value: round-off between machines (about 1e-13 relative for the book's
#: computations) must never decide which way a printed digit goes.
TIE_GUARD = 1e-7

_SPEC = re.compile(r"^(?P<comma>,?)(?:\.(?P<digits>\d+))?(?P<kind>[efgd%]?)$")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _parse_spec(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or (match := _SPEC.match(spec)) is None or spec == "":
        raise ValueError(
            f"spec must be a format specification such as '.3f', '.2e', '.3g', '.1%', 'd' "
            f"or ',d', got {spec!r}"
        )
    kind = match["kind"] or ("d" if match["digits"] is None else "")
    if kind == "":
        raise ValueError(f"spec {spec!r} needs a type: f, e, g, % or d")
    if kind == "d" and match["digits"] is not None:
        raise ValueError(f"spec {spec!r}: an integer format takes no precision")
    return kind, spec


def _round_scalar(value: Any, spec: str, kind: str, guard: float) -> float | int:
    if kind == "d":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Integral, np.integer)):
            raise ValueError(f"value must be an integer for spec {spec!r}, got {value!r}")
        return int(value)
    is_bool = isinstance(value, (bool, np.bool_))
    if is_bool or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"value must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value}")
    text = format(value, spec)
    if value != 0.0 and guard > 0:
        low, high = format(value * (1 - guard), spec), format(value * (1 + guard), spec)
        if low != text or high != text:
            raise ValueError(
                f"value {value!r} lies within a relative {guard:g} of a rounding boundary of "
                f"format {spec!r} ({low} / {high}): round-off on another machine could flip "
                "the last printed digit; print one digit more or one fewer"
            )
    if kind == "%":
        result = float(Decimal(text.rstrip("%").replace(",", "")) / 100)
    else:
        result = float(text.replace(",", ""))
    return result + 0.0  # -0.0 prints as "-0.0": make it 0.0


def rounded(value: Any, spec: str, *, guard: float = TIE_GUARD) -> Any:
    """Round a number or an array to the precision a format specification prints.

    Parameters
    ----------
    value : float, int or array_like
        What to round. Arrays are rounded element by element.
    spec : str
        A format specification as in ``format(value, spec)``: ``".3f"`` (decimals),
        ``".2e"`` (significant digits, scientific), ``".3g"`` (significant digits),
        ``".1%"`` (percent), ``"d"`` or ``",d"`` (integers, returned unchanged).
    guard : float, default TIE_GUARD
        Refuse a value within this relative distance of a rounding boundary.
        The guard is relative, so a large value admits fewer decimals: with the
        default, ``".4f"`` is refused for every value above about 500 (print
        ``".2f"`` for a log-likelihood in the thousands). A quantity with more
        noise than round-off (a ratio of small differences) needs a larger guard.

    Returns
    -------
    float, int or ndarray
        The value that ``format(value, spec)`` displays, as a number: formatting
        the result with ``spec`` gives the same text on every machine. ``-0.0``
        becomes ``0.0``.

    Raises
    ------
    ValueError
        If ``spec`` is not a supported format, ``value`` is not finite, or
        ``value`` lies within ``guard`` of a rounding boundary.

    Examples
    --------
    >>> rounded(2.718281828, ".3f")
    2.718
    >>> rounded(-1e-17, ".4f")
    0.0
    >>> rounded([0.123456, 12345.678], ".3g").tolist()
    [0.123, 12300.0]
    >>> rounded(0.12345, ".4f", guard=1e-3)
    Traceback (most recent call last):
    ...
    ValueError: value 0.12345 lies within a relative 0.001 of a rounding boundary ...
    """
    kind, spec = _parse_spec(spec)
    if np.ndim(value) == 0:
        scalar = value.item() if isinstance(value, np.ndarray) else value
        return _round_scalar(scalar, spec, kind, guard)
    array = np.asarray(value)
    out = [_round_scalar(v, spec, kind, guard) for v in array.ravel().tolist()]
    return np.array(out, dtype=int if kind == "d" else float).reshape(array.shape)


def power_of_ten(limit: float) -> str:
    """Write a power of ten as text with superscripts: ``1e-12`` gives ``'10⁻¹²'``.

    Examples
    --------
    >>> power_of_ten(1e-12)
    '10⁻¹²'
    >>> power_of_ten(1000.0)
    '10³'
    """
    exponent = math.log10(limit) if limit > 0 else math.nan
    if not math.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-9:
        raise ValueError(f"limit must be a power of ten, got {limit!r}")
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def below(value: Any, limit: float) -> str:
    """Check that round-off is below a bound and return the bound as text.

    Parameters
    ----------
    value : float or array_like
        A quantity that is zero up to round-off (a residual, a difference between
        two implementations). For an array, its largest absolute entry counts.
    limit : float
        The bound, a power of ten: the book states "below 10⁻¹²", not the digits
        of the round-off, which change from machine to machine.

    Returns
    -------
    str
        The bound written with superscripts, e.g. ``'10⁻¹²'``.

    Raises
    ------
    ValueError
        If ``limit`` is not a power of ten, or ``value`` is not finite or not
        below ``limit`` in absolute value.

    Examples
    --------
    >>> below(1.8e-14, 1e-12)
    '10⁻¹²'
    >>> below([3e-16, -4e-16], 1e-14)
    '10⁻¹⁴'
    """
    text = power_of_ten(limit)
    size = float(np.max(np.abs(np.asarray(value, dtype=float))))
    if not math.isfinite(size) or size >= limit:
        raise ValueError(f"value must be below {limit:g} in absolute value, got {size!r}")
    return text


def rounded_frame(frame: Any, spec: str | Mapping[str, str]) -> Any:
    """Round the numeric columns of a pandas DataFrame, each by its own spec.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to print.
    spec : str or mapping of column name to str
        One format specification for every numeric column, or one per column
        (columns not named are left as they are).

    Returns
    -------
    pandas.DataFrame
        A copy whose numbers are rounded with :func:`rounded`.

    Examples
    --------
    >>> import pandas as pd
    >>> rounded_frame(pd.DataFrame({"a": [1.23456, -1e-18]}), ".2f")["a"].tolist()
    [1.23, 0.0]
    """
    out = frame.copy()
    specs = spec if isinstance(spec, Mapping) else {
        name: spec for name in frame.columns if getattr(frame[name].dtype, "kind", "") in "iuf"
    }
    for name, column_spec in specs.items():
        if name not in out.columns:
            raise ValueError(f"spec names a column that the table does not have: {name!r}")
        out[name] = rounded(out[name].to_numpy(), column_spec)
    return out


def stopping_margin(history: Any, tol: float) -> float:
    """How far an EM run's stopping decisions were from the threshold.

    EM stops at the first iteration ``t`` with ``|l_t - l_{t-1}| <= tol |l_t|``.
    Each iteration's ratio ``r_t = |l_t - l_{t-1}| / (tol |l_t|)`` decided
    "go on" (``r_t > 1``) or "stop" (``r_t <= 1``). Round-off on another machine
    changes ``r_t`` by about 1e-13/tol relative; if some ``r_t`` were that close
    to 1, the iteration count, and every number that depends on it, could
    change. A printed iteration count needs a margin far above that: ``1e-2``
    is comfortable; a slowly converging run (rate near 1) cannot reach more than
    about ``(1 - rate) / 2``, and then ``margin >> 1e-13 / tol`` is the test.

    Parameters
    ----------
    history : array_like of shape (n_iter,)
        The log-likelihood after each iteration (an estimator's ``history_``).
    tol : float
        The stopping tolerance of the fit, positive.

    Returns
    -------
    float
        ``min_t |r_t - 1|`` over the decisions from the second iteration on
        (the first compares with the initial log-likelihood, which ``history_``
        does not hold); ``inf`` for fewer than two iterations.

    Examples
    --------
    >>> round(stopping_margin([-10.0, -9.0, -8.999, -8.99899], tol=1e-4), 3)
    0.111
    """
    history = np.asarray(history, dtype=float)
    if history.ndim != 1 or not np.all(np.isfinite(history)):
        raise ValueError("history must be a finite one-dimensional array of log-likelihoods")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    if history.size < 2:
        return math.inf
    ratio = np.abs(np.diff(history)) / (tol * np.abs(history[1:]))
    return float(np.min(np.abs(ratio - 1)))


def glue_number(name: str, value: Any, spec: str, *, guard: float = TIE_GUARD) -> None:
    """Glue ``rounded(value, spec)`` for the prose, without displaying it.

    The prose then shows it with the same spec: ``{glue:text}`name:.3f```.
    Returns nothing, so a cell may end with the call without adding an output
    (a trailing ``;`` does not hide one under nbval).

    Parameters
    ----------
    name : str
        The glue key.
    value : float or int
        The number.
    spec : str
        Its format specification (see :func:`rounded`).
    guard : float, default TIE_GUARD
        See :func:`rounded`.

    Examples
    --------
    >>> glue_number("e", 2.718281828, ".3f")
    """
    from myst_nb import glue

    glue(name, rounded(value, spec, guard=guard), display=False)


def glue_bound(name: str, value: Any, limit: float) -> None:
    """Glue the text of ``below(value, limit)`` ("10⁻¹²") for the prose.

    Like :func:`glue_number`, it returns nothing.

    Examples
    --------
    >>> glue_bound("roundoff", 1.8e-14, 1e-12)
    """
    from myst_nb import glue

    glue(name, below(value, limit), display=False)
