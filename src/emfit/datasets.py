"""Small data sets bundled with emfit, each with its source cited.

The CSV files live in ``emfit/data/`` and are read with :mod:`importlib.resources`,
so they work from an installed wheel as well as from a source checkout.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

__all__ = ["FAITHFUL_COLUMNS", "load_faithful"]

#: Column names of :func:`load_faithful`, in order.
FAITHFUL_COLUMNS: tuple[str, str] = ("eruptions", "waiting")


def _read_data_text(filename: str) -> str:
    """Text of the bundled file ``emfit/data/<filename>``."""
    return resources.files("emfit").joinpath("data", filename).read_text(encoding="utf-8")


def _read_csv(filename: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows (as strings) of a bundled CSV file."""
    reader = csv.reader(io.StringIO(_read_data_text(filename)))
    header = next(reader)
    rows = [row for row in reader if row]
    return header, rows


def load_faithful() -> np.ndarray:
    """Old Faithful geyser data: eruption duration and waiting time.

    272 eruptions of the Old Faithful geyser in Yellowstone National Park: the
    duration of the eruption and the waiting time until the next one, both in
    minutes. The classic example of a two-component Gaussian mixture.

    Returns
    -------
    ndarray of shape (272, 2), dtype float64
        Column 0 is ``eruptions`` (minutes), column 1 is ``waiting`` (minutes), in
        the order of :data:`FAITHFUL_COLUMNS`; rows in the order of R's data set.
        A new array on every call, free to modify.

    Notes
    -----
    Exported unchanged from R's ``datasets::faithful``. Sources: W. Härdle (1991),
    *Smoothing Techniques with Implementation in S*, Springer; A. Azzalini and
    A. W. Bowman (1990), "A look at some data on the Old Faithful geyser",
    *Applied Statistics* 39, 357--365.

    Examples
    --------
    >>> from emfit.datasets import load_faithful
    >>> X = load_faithful()
    >>> X.shape
    (272, 2)
    >>> X[0].tolist()
    [3.6, 79.0]
    """
    header, rows = _read_csv("faithful.csv")
    if tuple(header) != FAITHFUL_COLUMNS:  # pragma: no cover - guards the bundled file
        raise RuntimeError(f"faithful.csv has unexpected columns {header}")
    return np.array(rows, dtype=np.float64)


# --------------------------------------------------------- count data (Poisson regressions)
__all__ += [
    "PATENT_COLUMNS",
    "SEIZURE_COLUMNS",
    "load_patents",
    "load_seizures",
    "make_poisson_regression_mixture",
]

#: Column names (keys) of :func:`load_patents`, as in R's ``flexmix::patent``.
PATENT_COLUMNS: tuple[str, str, str, str] = ("Company", "Patents", "RDS", "lgRD")
#: Column names (keys) of :func:`load_seizures`, as in R's ``flexmix::seizure``.
SEIZURE_COLUMNS: tuple[str, str, str, str] = ("Seizures", "Hours", "Treatment", "Day")


def load_patents() -> dict[str, np.ndarray]:
    """Patents and R&D spending of 70 pharmaceutical and biomedical companies (1976).

    The data of Wang, Cockburn & Puterman (1998), who fit a mixture of Poisson
    regressions of the number of patents on log R&D spending.

    Returns
    -------
    dict of str to ndarray
        Keys in the order of :data:`PATENT_COLUMNS`, each an array of shape (70,):

        - ``"Company"`` (str): company name, trailing blanks stripped;
        - ``"Patents"`` (int64): number of patents;
        - ``"RDS"`` (float64): R&D spending per sales;
        - ``"lgRD"`` (float64): log of R&D spending (millions of dollars).

        New arrays on every call.

    Notes
    -----
    Exported unchanged from R's ``flexmix::patent`` (Grün & Leisch, flexmix package),
    from the NBER R&D Masterfile. Source: P. Wang, I. M. Cockburn and M. L. Puterman
    (1998), "Analysis of patent data -- a mixed-Poisson-regression-model approach",
    *Journal of Business & Economic Statistics* 16(1), 27--41.

    Examples
    --------
    >>> from emfit.datasets import load_patents
    >>> d = load_patents()
    >>> d["Patents"].shape, str(d["Company"][0]), int(d["Patents"][0])
    ((70,), 'ABBOTT LABORATORIES', 42)
    """
    header, rows = _read_csv("patent.csv")
    if tuple(header) != PATENT_COLUMNS:  # pragma: no cover - guards the bundled file
        raise RuntimeError(f"patent.csv has unexpected columns {header}")
    cols = list(zip(*rows))
    return {
        "Company": np.array([c.rstrip() for c in cols[0]], dtype=str),
        "Patents": np.array(cols[1], dtype=np.int64),
        "RDS": np.array(cols[2], dtype=np.float64),
        "lgRD": np.array(cols[3], dtype=np.float64),
    }


def load_seizures() -> dict[str, np.ndarray]:
    """Daily epileptic seizure counts of one patient, before and during treatment.

    140 days: 27 baseline days and 113 treatment days, each observed for ``Hours``
    hours. Wang, Puterman, Cockburn & Le (1996) model the counts with a mixture of
    Poisson regressions with exposure (offset ``log Hours``).

    Returns
    -------
    dict of str to ndarray
        Keys in the order of :data:`SEIZURE_COLUMNS`, each an array of shape (140,):

        - ``"Seizures"`` (int64): number of seizures that day;
        - ``"Hours"`` (float64): hours of observation (the exposure);
        - ``"Treatment"`` (str): ``"No"`` (baseline) or ``"Yes"``;
        - ``"Day"`` (int64): day number, 1 to 140.

    Notes
    -----
    Exported unchanged from R's ``flexmix::seizure``. Source: P. Wang,
    M. L. Puterman, I. Cockburn and N. Le (1996), "Mixed Poisson regression models
    with covariate dependent rates", *Biometrics* 52, 381--400.

    Examples
    --------
    >>> from emfit.datasets import load_seizures
    >>> d = load_seizures()
    >>> int((d["Treatment"] == "No").sum()), int((d["Treatment"] == "Yes").sum())
    (27, 113)
    """
    header, rows = _read_csv("seizure.csv")
    if tuple(header) != SEIZURE_COLUMNS:  # pragma: no cover - guards the bundled file
        raise RuntimeError(f"seizure.csv has unexpected columns {header}")
    cols = list(zip(*rows))
    return {
        "Seizures": np.array(cols[0], dtype=np.int64),
        "Hours": np.array(cols[1], dtype=np.float64),
        "Treatment": np.array(cols[2], dtype=str),
        "Day": np.array(cols[3], dtype=np.int64),
    }


def make_poisson_regression_mixture(
    n_samples: int | None = None,
    *,
    coef: np.typing.ArrayLike = ((1.0,), (2.0,)),
    intercept: np.typing.ArrayLike | None = None,
    weights: np.typing.ArrayLike = (0.4, 0.6),
    x_range: tuple[float, float] = (0.0, 2.0),
    exposure: np.typing.ArrayLike | None = None,
    return_truth: bool = False,
    random_state: int | np.random.Generator | None = None,
    X: np.typing.ArrayLike | None = None,
) -> tuple[np.ndarray, ...]:
    r"""Simulate a mixture of Poisson regressions (the sheet's "fish" problem).

    Draw ``x_i ~ Uniform(x_range)`` independently in each of the ``p`` covariates
    (or take the fixed design ``X``), a component ``z_i`` with probabilities
    ``weights``, and

    .. math:: y_i \mid x_i, z_i = k \sim \operatorname{Poisson}\big(e_i
              \exp(b_k + x_i^\top \beta_k)\big).

    The defaults are the sheet's model ``lambda_ki = exp(beta_k x_i)`` (no intercept)
    with ``beta = (1, 2)`` and ``pi = (0.4, 0.6)``.

    Parameters
    ----------
    n_samples : int, optional
        Number of observations ``n``: 500 by default, ``len(X)`` when ``X`` is given
        (if both are given they must agree).
    coef : array-like of shape (K, p), default=((1.0,), (2.0,))
        Slopes ``beta_k``, one row per component.
    intercept : array-like of shape (K,), optional
        Intercepts ``b_k``; zero by default.
    weights : array-like of shape (K,), default=(0.4, 0.6)
        Mixing weights (non-negative, summing to one).
    x_range : (float, float), default=(0.0, 2.0)
        Range of the uniform covariates (ignored when ``X`` is given).
    exposure : array-like of shape (n_samples,), optional
        Positive exposures ``e_i``; one by default.
    return_truth : bool, default=False
        Also return the true parameters.
    random_state : None, int or numpy.random.Generator
        Seed.
    X : array-like of shape (n_samples, p) or (n_samples,), optional
        A fixed design: these covariates are used instead of uniform draws (a 1-d
        array is one covariate). Only the components and the counts are then
        random. Without ``X`` the random stream is that of earlier versions: the
        same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_samples, p)
        Covariates (a copy of ``X`` if it was given).
    y : ndarray of shape (n_samples,), dtype int64
        Counts.
    labels : ndarray of shape (n_samples,), dtype int
        True component of each observation.
    truth : dict
        Only if ``return_truth``: ``"weights"`` (K,), ``"intercept"`` (K,),
        ``"coef"`` (K, p) as float arrays.

    Raises
    ------
    ValueError
        If shapes are inconsistent (including ``X`` with a number of columns other
        than ``coef``'s, or ``n_samples != len(X)``), ``X`` is not finite,
        ``weights`` is not a probability vector, or ``exposure`` is not positive.

    Examples
    --------
    >>> from emfit.datasets import make_poisson_regression_mixture
    >>> X, y, labels = make_poisson_regression_mixture(1000, random_state=0)
    >>> X.shape, y.shape, sorted(set(labels.tolist()))
    ((1000, 1), (1000,), [0, 1])

    A fixed design, e.g. three distinct covariate values:

    >>> import numpy as np
    >>> X, y, labels = make_poisson_regression_mixture(X=np.repeat([0.5, 1.0, 1.5], 10),
    ...                                                 random_state=0)
    >>> X.shape, sorted(set(X[:, 0].tolist()))
    ((30, 1), [0.5, 1.0, 1.5])
    """
    from ._validation import (
        check_array,
        check_exposure,
        check_positive_int,
        check_random_state,
    )

    B = check_array(coef, name="coef", ndim=2)
    K, p = B.shape
    design = None
    if X is not None:
        design = check_array(X, name="X", ndim=None, copy=True)
        if design.ndim == 1:
            design = design[:, None]
        if design.ndim != 2:
            raise ValueError(f"X must be 1-d or 2-d; got {design.ndim} dimensions.")
        if design.shape[1] != p:
            raise ValueError(
                f"X has {design.shape[1]} columns but coef has {p} (one per covariate)."
            )
        if n_samples is not None and check_positive_int(n_samples, "n_samples") != len(design):
            raise ValueError(f"n_samples={n_samples} does not match len(X)={len(design)}.")
        n = len(design)
    else:
        n = check_positive_int(500 if n_samples is None else n_samples, "n_samples")
    w = check_array(weights, name="weights", ndim=1)
    if w.shape != (K,):
        raise ValueError(f"weights must have shape ({K},) (one per row of coef); got {w.shape}.")
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be non-negative and sum to 1; got {w.tolist()}.")
    b = np.zeros(K) if intercept is None else check_array(intercept, name="intercept", ndim=1)
    if b.shape != (K,):
        raise ValueError(f"intercept must have shape ({K},); got {b.shape}.")
    if design is None:
        lo, hi = (float(v) for v in x_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"x_range must be two finite numbers lo < hi; got {x_range!r}.")
    log_e = np.zeros(n) if exposure is None else np.log(check_exposure(exposure, n))
    rng = check_random_state(random_state)
    X = rng.uniform(lo, hi, size=(n, p)) if design is None else design
    labels = rng.choice(K, size=n, p=w / w.sum())
    eta = log_e + b[labels] + np.einsum("ij,ij->i", X, B[labels])
    y = rng.poisson(np.exp(eta)).astype(np.int64)
    if return_truth:
        truth = {"weights": w.copy(), "intercept": b.copy(), "coef": B.copy()}
        return X, y, labels, truth
    return X, y, labels
