"""A toy mixture family for the tests of the EM driver: unit-variance 1-d normals."""

from __future__ import annotations

import numpy as np

from emfit.em import MixtureFamily


class UnitNormal(MixtureFamily):
    """1-d normal components with unit variance and unknown means (params: (K,) array).

    A component whose responsibilities sum to zero keeps its mean.
    """

    def log_prob(self, data, params):
        return -0.5 * (data[:, None] - params[None, :]) ** 2 - 0.5 * np.log(2 * np.pi)

    def m_step(self, data, resp, params):
        n_k = resp.sum(axis=0)
        return np.where(n_k > 0, resp.T @ data / np.maximum(n_k, 1e-300), params)

    def initialize(self, data, n_components, rng):
        return np.full(n_components, 1.0 / n_components), rng.choice(data, n_components)

    def n_parameters(self, params):
        return params.size
