"""Finite differences for checking analytic derivatives in the tests."""

from __future__ import annotations

import numpy as np


def central_diff(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of f (scalar or vector valued) at x, column j = d/dx_j."""
    cols = []
    for j in range(x.size):
        step = h * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = step
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * step))
    return np.stack(cols, axis=-1)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference relative to the largest entry of b."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
