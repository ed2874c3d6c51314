"""The shared SymPy objects say what the chapters claim they say."""

import numpy as np
import pytest
import sympy as sp

from emfit.symbolic import (
    gaussian_log_mgf,
    gaussian_mgf,
    moments_from_log_mgf,
    standard_normal_mgf,
    symbolic_vector,
    symmetric_matrix,
)


def test_symmetric_matrix_is_symmetric_with_distinct_free_entries():
    S = symmetric_matrix("S", 3)
    assert S == S.T
    assert len(S.free_symbols) == 6  # d (d + 1) / 2


def test_standard_normal_mgf_is_derived_by_integration():
    s = sp.Symbol("s", real=True)
    assert sp.simplify(standard_normal_mgf(s) - sp.exp(s**2 / 2)) == 0


@pytest.mark.parametrize("d", [1, 2, 3])
def test_moments_of_gaussian_log_mgf_are_mean_and_covariance(d):
    t, m, S = symbolic_vector("t", d), symbolic_vector("m", d), symmetric_matrix("S", d)
    mean, cov = moments_from_log_mgf(gaussian_log_mgf(t, m, S), t)
    assert mean == m
    assert cov == S


def test_gaussian_mgf_matches_numerical_expectation():
    # E[exp(t^T y)] by Monte Carlo for a 2-D Gaussian, against the closed form.
    rng = np.random.default_rng(0)
    mean = np.array([0.3, -0.2])
    cov = np.array([[0.5, 0.2], [0.2, 0.3]])
    tv = np.array([0.4, -0.7])
    y = rng.multivariate_normal(mean, cov, size=400_000)
    monte_carlo = np.exp(y @ tv).mean()
    t = symbolic_vector("t", 2)
    expr = gaussian_mgf(t, sp.Matrix(mean), sp.Matrix(cov))
    exact = float(expr.subs(dict(zip(t, tv))))
    assert monte_carlo == pytest.approx(exact, rel=5e-3)


def test_mgf_of_independent_sum_adds_parameters():
    t = symbolic_vector("t", 2)
    m1, m2 = symbolic_vector("m", 2), symbolic_vector("n", 2)
    S1, S2 = symmetric_matrix("S", 2), symmetric_matrix("T", 2)
    product = gaussian_mgf(t, m1, S1) * gaussian_mgf(t, m2, S2)
    assert sp.simplify(product - gaussian_mgf(t, m1 + m2, S1 + S2)) == 0
    # and it is not the MGF with the covariances left out
    assert sp.simplify(product - gaussian_mgf(t, m1 + m2, S1)) != 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: symbolic_vector("t", 0), "d must be a positive integer"),
        (lambda: symmetric_matrix("S", 1.5), "d must be a positive integer"),
        (
            lambda: gaussian_log_mgf(symbolic_vector("t", 2), symbolic_vector("m", 3), sp.eye(2)),
            "mean must have shape",
        ),
        (
            lambda: gaussian_log_mgf(symbolic_vector("t", 2), symbolic_vector("m", 2), sp.eye(3)),
            "cov must have shape",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
