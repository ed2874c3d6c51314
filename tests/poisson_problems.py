"""Random Poisson-regression problems shared by the tests of emfit.poisson."""

from __future__ import annotations

import numpy as np

from emfit.poisson import design_matrix, pack_theta


def problem(seed: int, n: int = 300, K: int = 2, p: int = 1, exposure: bool = True):
    """Random design (with intercept), counts, offset and a random interior theta."""
    rng = np.random.default_rng(seed)
    X = design_matrix(rng.normal(size=(n, p)))
    offset = np.log(rng.uniform(0.5, 2.0, n)) if exposure else np.zeros(n)
    coef = rng.normal(scale=0.5, size=(K, p + 1)) + np.linspace(0, 1.5, K)[:, None]
    weights = rng.dirichlet(np.full(K, 5.0))
    z = rng.choice(K, size=n, p=weights)
    y = rng.poisson(np.exp(offset + np.einsum("ij,ij->i", X, coef[z]))).astype(float)
    # A theta near, but not at, the truth.
    theta = pack_theta(0.8 * weights + 0.2 / K, coef + rng.normal(scale=0.1, size=coef.shape))
    return X, y, offset, theta


def boundary_problem(seed: int, K: int, zero: list[int], n: int = 150):
    """Design with intercept, counts, offset and a theta whose weights ``zero`` are 0."""
    rng = np.random.default_rng(seed)
    X = design_matrix(rng.normal(size=(n, 1)))
    offset = np.log(rng.uniform(0.5, 2.0, n))
    coef = rng.normal(scale=0.2, size=(K, 2)) + np.linspace(0.5, 1.2, K)[:, None]
    w = rng.uniform(0.5, 1.5, K)
    w[zero] = 0.0
    z = rng.choice(K, size=n, p=w / w.sum())
    y = rng.poisson(np.exp(offset + np.einsum("ij,ij->i", X, coef[z]))).astype(float)
    return X, y, offset, pack_theta(w / w.sum(), coef)
