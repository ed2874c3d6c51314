"""emfit.poisson.pmf: the log-density of the components, against scipy and mpmath."""

from __future__ import annotations

import mpmath as mp
import numpy as np
from scipy.special import gammaln
from scipy.stats import poisson

from emfit.poisson import component_log_prob, log_pmf_constant


def test_component_log_prob_matches_scipy_including_huge_counts():
    y = np.array([0, 1, 5, 40, 1e4, 1e9, 3e9])
    coef = np.array([[0.0], [2.0], [np.log(1e9)]])
    X = np.ones((len(y), 1))
    got = component_log_prob(coef, X, y)
    # scipy's logpmf itself loses ~1e-6 to cancellation at y ~ 1e9: use mpmath.
    mp.mp.dps = 50

    def ref(k, b):
        lam = mp.exp(mp.mpf(b))
        return float(k * mp.log(lam) - lam - mp.loggamma(k + 1))

    expected = np.array([[ref(int(k), b) for b in coef[:, 0]] for k in y])
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    np.testing.assert_allclose(got[:5], poisson.logpmf(y[:5, None], np.exp(coef[:, 0])), rtol=1e-12)


def test_log_pmf_constant():
    y = np.r_[0:60, 1e3, 1e6, 1e9, 1e15].astype(float)
    ref = np.where(y > 0, y * np.log(np.maximum(y, 1)) - y, 0.0) - gammaln(y + 1)
    got = log_pmf_constant(y)
    small = y < 1e6  # the reference itself cancels catastrophically for large y
    np.testing.assert_allclose(got[small], ref[small], rtol=1e-12, atol=1e-12)
    # Stirling: C(y) ~ -log(2 pi y) / 2
    np.testing.assert_allclose(got[-1], -0.5 * np.log(2 * np.pi * 1e15), rtol=1e-14)
