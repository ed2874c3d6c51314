"""SymPy objects shared by the chapters and the tests.

A derivation is written once, here, and checked in two places: the chapter that
explains it (next to the prose, as an ``assert``) and ``tests/test_symbolic.py``.

Conventions
-----------
Vectors are SymPy column matrices of shape ``(d, 1)``; covariance matrices are
symmetric ``(d, d)`` matrices of real symbols. The moment generating function
(MGF) of a random vector ``y`` is ``M_y(t) = E[exp(t^T y)]``.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "symbolic_vector",
    "symmetric_matrix",
    "gaussian_log_mgf",
    "gaussian_mgf",
    "moments_from_log_mgf",
    "standard_normal_mgf",
    "mvn_log_density",
]


def _check_dimension(d: int) -> int:
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    return d


def symbolic_vector(name: str, d: int) -> sp.Matrix:
    """Column vector of real symbols ``name_1, ..., name_d``.

    Parameters
    ----------
    name : str
        Stem of the symbol names.
    d : int
        Dimension, at least 1.

    Returns
    -------
    sympy.Matrix, shape (d, 1)

    Examples
    --------
    >>> symbolic_vector("t", 2)
    Matrix([
    [t_1],
    [t_2]])
    """
    d = _check_dimension(d)
    return sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"{name}_{i + 1}", real=True))


def symmetric_matrix(name: str, d: int) -> sp.Matrix:
    """Symmetric matrix of real symbols, ``name_ij`` with ``i <= j``.

    Parameters
    ----------
    name : str
        Stem of the symbol names.
    d : int
        Dimension, at least 1.

    Returns
    -------
    sympy.Matrix, shape (d, d)
        A matrix ``S`` with ``S == S.T`` identically.

    Examples
    --------
    >>> symmetric_matrix("S", 2)
    Matrix([
    [S_11, S_12],
    [S_12, S_22]])
    """
    d = _check_dimension(d)

    def entry(i: int, j: int) -> sp.Symbol:
        a, b = min(i, j), max(i, j)
        return sp.Symbol(f"{name}_{a + 1}{b + 1}", real=True)

    return sp.Matrix(d, d, entry)


def _check_shapes(t: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> None:
    d = t.shape[0]
    if t.shape != (d, 1):
        raise ValueError(f"t must be a column vector, got shape {t.shape}")
    if mean.shape != (d, 1):
        raise ValueError(f"mean must have shape {(d, 1)} like t, got {mean.shape}")
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape {(d, d)}, got {cov.shape}")


def gaussian_log_mgf(t: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    """Cumulant generating function of ``N(mean, cov)``: ``t^T mean + t^T cov t / 2``.

    Parameters
    ----------
    t : sympy.Matrix, shape (d, 1)
        Argument of the MGF.
    mean : sympy.Matrix, shape (d, 1)
        Mean vector.
    cov : sympy.Matrix, shape (d, d)
        Covariance matrix (symmetric positive semi-definite).

    Returns
    -------
    sympy.Expr
        ``log E[exp(t^T y)]`` for ``y ~ N(mean, cov)``.

    Examples
    --------
    >>> t, m = symbolic_vector("t", 1), symbolic_vector("m", 1)
    >>> gaussian_log_mgf(t, m, sp.Matrix([[2]]))
    m_1*t_1 + t_1**2
    """
    _check_shapes(t, mean, cov)
    return sp.expand((t.T * mean)[0, 0] + (t.T * cov * t)[0, 0] / 2)


def gaussian_mgf(t: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    """Moment generating function of ``N(mean, cov)``: ``exp(gaussian_log_mgf)``.

    Parameters
    ----------
    t, mean, cov
        As in :func:`gaussian_log_mgf`.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> t = symbolic_vector("t", 1)
    >>> gaussian_mgf(t, sp.zeros(1, 1), sp.eye(1))
    exp(t_1**2/2)
    """
    return sp.exp(gaussian_log_mgf(t, mean, cov))


def moments_from_log_mgf(log_mgf: sp.Expr, t: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """Mean and covariance from a cumulant generating function.

    The gradient of ``log M(t)`` at ``t = 0`` is the mean; its Hessian at ``t = 0``
    is the covariance.

    Parameters
    ----------
    log_mgf : sympy.Expr
        ``log M(t)`` as an expression in the entries of ``t``.
    t : sympy.Matrix, shape (d, 1)
        The argument symbols.

    Returns
    -------
    mean : sympy.Matrix, shape (d, 1)
    cov : sympy.Matrix, shape (d, d)

    Examples
    --------
    >>> t, m = symbolic_vector("t", 2), symbolic_vector("m", 2)
    >>> S = symmetric_matrix("S", 2)
    >>> mean, cov = moments_from_log_mgf(gaussian_log_mgf(t, m, S), t)
    >>> mean == m, cov == S
    (True, True)
    """
    variables = list(t)
    at_zero = dict.fromkeys(variables, 0)
    grad = sp.Matrix([sp.diff(log_mgf, v) for v in variables]).subs(at_zero)
    hess = sp.hessian(log_mgf, variables).subs(at_zero)
    return sp.simplify(grad), sp.simplify(hess)


def standard_normal_mgf(s: sp.Symbol) -> sp.Expr:
    """MGF of a standard normal variable, computed by integration.

    ``E[exp(s u)] = ∫ exp(s u) φ(u) du`` with ``φ`` the standard normal density;
    SymPy evaluates the integral, so the result (``exp(s**2/2)``) is derived here,
    not typed.

    Parameters
    ----------
    s : sympy.Symbol
        A real symbol.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> s = sp.Symbol("s", real=True)
    >>> standard_normal_mgf(s)
    exp(s**2/2)
    """
    u = sp.Symbol("u", real=True)
    density = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    return sp.simplify(sp.integrate(sp.exp(s * u) * density, (u, -sp.oo, sp.oo)))


def mvn_log_density(x: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    """Log-density of ``N(mean, cov)`` at ``x``, for a positive definite ``cov``.

    ``-(d/2) log(2 pi) - (1/2) log det(cov) - (1/2) (x - mean)^T cov^{-1} (x - mean)``.

    Parameters
    ----------
    x, mean : sympy.Matrix, shape (d, 1)
        Point and mean.
    cov : sympy.Matrix, shape (d, d)
        Covariance, assumed positive definite (its inverse and log-determinant are used).

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> x, m = symbolic_vector("x", 1), symbolic_vector("m", 1)
    >>> s2 = sp.Symbol("sigma2", positive=True)
    >>> sp.simplify(mvn_log_density(x, m, sp.Matrix([[s2]])) - (
    ...     -sp.log(2 * sp.pi * s2) / 2 - (x[0] - m[0]) ** 2 / (2 * s2)))
    0
    """
    _check_shapes(x, mean, cov)
    d = x.shape[0]
    diff = x - mean
    quad = (diff.T * cov.inv() * diff)[0, 0]
    return -sp.Rational(d, 2) * sp.log(2 * sp.pi) - sp.log(cov.det()) / 2 - quad / 2
