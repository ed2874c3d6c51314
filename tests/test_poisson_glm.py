"""emfit.poisson.glm: the weighted one-component Poisson regression (M-step solver)."""

from __future__ import annotations

import pickle
import sys
import threading

import numpy as np
import pytest
import statsmodels.api as sm
from numdiff import central_diff, rel_err
from poisson_problems import problem

from emfit.poisson import (
    PoissonRegressionData,
    PoissonRegressionFamily,
    fit_weighted_poisson,
    gradient_ascent_poisson,
    weighted_poisson_gradient,
    weighted_poisson_hessian,
    weighted_poisson_loglik,
)
from emfit.poisson.glm import (
    _gram_rows,
    _newton,
    _objective,
    _score_information,
    _Scratch,
    _times_transpose,
)


# --------------------------------------------------------------- statsmodels checks
@pytest.mark.parametrize("kind", ["freq_weights", "var_weights"])
def test_weighted_m_step_equals_statsmodels(kind):
    X, y, offset, _ = problem(3, n=400, p=2)
    w = np.random.default_rng(4).uniform(0, 1, len(y))
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset, **{kind: w}).fit(tol=1e-14)
    got = fit_weighted_poisson(X, y, offset, w)
    np.testing.assert_allclose(got.coef, ref.params, rtol=0, atol=1e-8)
    assert got.converged
    # ... and the M-step of the family, warm-started from elsewhere, lands there too.
    data = PoissonRegressionData.from_arrays(X, y, offset)
    resp = np.column_stack([w, 1 - w])
    new = PoissonRegressionFamily().m_step(data, resp, np.zeros((2, X.shape[1])))
    np.testing.assert_allclose(new[0], ref.params, rtol=0, atol=1e-8)


# -------------------------------------------------------------------------- solvers
def test_weighted_fit_is_monotone_from_a_bad_start():
    X, y, offset, _ = problem(5, n=300)
    w = np.ones(len(y))
    start = np.array([5.0, -5.0])
    res = fit_weighted_poisson(X, y, offset, w, coef_init=start)
    ref = fit_weighted_poisson(X, y, offset, w)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-8)
    assert res.loglik >= weighted_poisson_loglik(start, X, y, offset, w)


def test_gradient_ascent_increases_and_approaches_the_maximum():
    X, y, offset, _ = problem(6, n=300)
    w = np.random.default_rng(0).uniform(0.2, 1, len(y))
    beta = np.zeros(X.shape[1])
    values = [weighted_poisson_loglik(beta, X, y, offset, w)]
    for _ in range(200):
        beta = gradient_ascent_poisson(X, y, offset, w, coef_init=beta).coef
        values.append(weighted_poisson_loglik(beta, X, y, offset, w))
    assert np.all(np.diff(values) >= 0)
    best = fit_weighted_poisson(X, y, offset, w)
    assert values[-1] == pytest.approx(best.loglik, rel=1e-6)


# ---------------------------------------------------------------------- derivatives
def test_weighted_component_derivatives_match_finite_differences():
    X, y, offset, _ = problem(20, n=200, p=2)
    w = np.random.default_rng(1).uniform(0, 1, len(y))
    beta = np.array([0.3, -0.2, 0.1])
    f = lambda b: weighted_poisson_loglik(b, X, y, offset, w)
    g = weighted_poisson_gradient(beta, X, y, offset, w)
    each = [1] * beta.size  # every coefficient at its own scale
    assert rel_err(g, central_diff(f, beta), each) < 1e-6
    H = weighted_poisson_hessian(beta, X, y, offset, w)
    H_fd = central_diff(lambda b: weighted_poisson_gradient(b, X, y, offset, w), beta)
    assert rel_err(H, H_fd, each) < 1e-6


# -------------------------------------------------------------------- fast internals
@pytest.mark.parametrize(
    "columns",
    [
        [0],  # intercept only: its product repeats it
        [0, 1],  # (1, x): rows 1, x, x^2
        [1, 2, 1],  # a repeated covariate, no intercept
        [0, 1, 2, 3],
    ],
)
def test_gram_rows_give_the_gradient_and_hessian(columns):
    X, y, _, _ = problem(30, n=200, p=3)
    D = X[:, columns]
    DT = np.ascontiguousarray(D.T)
    gram = _gram_rows(DT)
    q = len(columns)
    rows = [*DT, *(DT[i] * DT[j] for i in range(q) for j in range(i, q))]
    assert len(gram.G) == len({tuple(r) for r in rows})  # the distinct rows only
    np.testing.assert_array_equal(gram.G[gram.index], rows)
    rng = np.random.default_rng(0)
    w, mu = rng.uniform(0, 1, len(y)), rng.uniform(0.5, 3, len(y))
    V = np.empty((2, len(y)))
    g, H = _score_information(DT, w * y, w, mu, V, gram)
    np.testing.assert_allclose(g, D.T @ (w * (y - mu)), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(H, D.T @ ((w * mu)[:, None] * D), rtol=1e-12)
    np.testing.assert_array_equal(H, H.T)
    assert _gram_rows(np.ones((5, 10))) is None  # q > 4: no products stored


def test_newton_reuses_the_callers_mean_and_objective_without_changing_them():
    X, y, offset, _ = problem(31, n=300)
    w = np.random.default_rng(1).uniform(0, 1, len(y))
    DT = np.ascontiguousarray(X.T)
    start = np.array([0.2, 0.1])
    mu, L = _objective(DT, y, offset, w, start, stable=False)
    mu_before = mu.copy()
    scratch = _Scratch()
    kw = {"tol": 1e-10, "max_iter": 50, "stable": False, "gram": _gram_rows(DT)}
    fed = _newton(DT, y, offset, w, start, mu, L, scratch=scratch, **kw)
    own = _newton(DT, y, offset, w, start, scratch=scratch, **kw)
    np.testing.assert_array_equal(mu, mu_before)  # the caller's mu is read only
    np.testing.assert_array_equal(fed.coef, own.coef)
    assert fed.n_iter == own.n_iter and fed.converged
    # From the maximum, the first Newton step meets the stopping rule: no evaluation.
    calls = []
    glm_module = sys.modules[_newton.__module__]
    original = glm_module._objective
    try:
        glm_module._objective = lambda *a, **k: calls.append(1) or original(*a, **k)
        mu, L = original(DT, y, offset, w, fed.coef, False)
        again = _newton(DT, y, offset, w, fed.coef, mu, L, need_loglik=False, scratch=scratch, **kw)
    finally:
        glm_module._objective = original
    assert calls == [] and again.n_iter == 1


def test_scratch_is_per_thread_and_not_pickled():
    scratch = _Scratch()
    a = scratch("x", (3,))
    assert scratch("x", (3,)) is a and scratch("x", (4,)).shape == (4,)
    other = []
    thread = threading.Thread(target=lambda: other.append(scratch("x", (4,))))
    thread.start()
    thread.join()
    assert other[0] is not scratch("x", (4,))
    assert pickle.loads(pickle.dumps(scratch))("x", (4,)) is not scratch("x", (4,))


def test_products_by_blocks_of_columns(monkeypatch):
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(3, 50)), rng.normal(size=(2, 50))
    monkeypatch.setattr(sys.modules[_newton.__module__], "_BLOCK", 7)  # 8 blocks, one short
    np.testing.assert_allclose(_times_transpose(A, B), A @ B.T, rtol=1e-13, atol=1e-13)
