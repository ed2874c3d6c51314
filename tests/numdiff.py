"""Finite differences for checking analytic derivatives in the tests."""

from __future__ import annotations

from collections.abc import Sequence

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


def theta_blocks(n_components: int, n_coef: int) -> list[int]:
    """Block sizes of a packed Poisson-mixture theta: K - 1 weights, then p per component."""
    return [n_components - 1] + [n_coef] * n_components


def rel_err(a: np.ndarray, b: np.ndarray, blocks: Sequence[int]) -> float:
    """Largest difference of a from b, each block relative to its own scale in b.

    ``blocks`` are the sizes of consecutive groups of parameters (summing to the
    length of each axis, e.g. :func:`theta_blocks`); a vector is cut into those
    groups, a matrix into the grid of row groups by column groups. In each piece the
    largest ``|a - b|`` is divided by the largest ``|b|`` of that piece, so a wrong
    block of small derivatives is not hidden by a block of large ones. A piece where
    ``b`` is exactly 0 must be exactly 0 in ``a`` too (else the error is inf).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.ndim in (1, 2), a.shape
    blocks = [int(s) for s in blocks]
    assert all(s >= 0 for s in blocks) and sum(blocks) == a.shape[0], (blocks, a.shape)
    assert all(n == a.shape[0] for n in a.shape), "blocks cut every axis the same way"
    edges = np.cumsum([0, *blocks])
    pieces = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]
    index = pieces if a.ndim == 1 else [(r, c) for r in pieces for c in pieces]
    worst = 0.0
    for i in index:
        diff = float(np.max(np.abs(a[i] - b[i])))
        scale = float(np.max(np.abs(b[i])))
        if diff == 0.0:
            continue
        worst = max(worst, diff / scale if scale > 0 else np.inf)
    return worst
