"""emfit.GaussianMixture and the Gaussian family: properties, edge cases, bad input."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emfit.gaussian as gaussian_module
from emfit import GaussianMixture
from emfit.datasets import load_faithful
from emfit.em import DegenerateFitError, DegenerateRestartWarning, ConvergenceWarning, fit_em
from emfit.gaussian import (
    GaussianFamily,
    compute_precision_cholesky,
    estimate_gaussian_parameters,
    gaussian_log_prob,
    kmeans_plusplus,
)

ALL_TYPES = ["full", "tied", "diag", "spherical", "fixed"]
HYP = settings(derandomize=True, deadline=None, max_examples=15, database=None)


def blobs(seed, n=120, d=2, K=3, spread=4.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(K, d))
    return centres[rng.integers(0, K, n)] + rng.normal(size=(n, d))


def model(covariance_type, K=3, **kw):
    if covariance_type == "fixed":
        kw.setdefault("variance", 1.0)
    return GaussianMixture(K, covariance_type=covariance_type, **kw)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**16))
    d = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    n = draw(st.integers(max(K, 5), 80))
    kind = draw(st.sampled_from(ALL_TYPES))
    return blobs(seed, n=n, d=d, K=K), K, kind, seed


# ------------------------------------------------------------------ properties
@HYP
@given(problems())
def test_history_never_decreases_and_responsibilities_are_distributions(problem):
    X, K, kind, seed = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = model(kind, K, random_state=seed, max_iter=200).fit(X)
    h = gm.history_
    assert np.all(np.isfinite(h))
    assert np.all(np.diff(h) >= -(1e-9 * np.abs(h[1:]) + 1e-9))
    R = gm.predict_proba(X)
    assert R.shape == (X.shape[0], K)
    assert np.all((R >= 0) & (R <= 1))
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=1e-12)
    # the loglik is that of the returned parameters, and score is its mean
    assert h[-1] == gm.loglik_
    assert gm.score(X) * X.shape[0] == pytest.approx(gm.loglik_, rel=1e-12, abs=1e-9)


@pytest.mark.slow  # the slowest unit test: 3 to 9 s here
@HYP
@given(st.integers(0, 2**16), st.sampled_from(ALL_TYPES))
def test_more_restarts_never_worse(seed, kind):
    X = blobs(seed, n=60, K=4, spread=2.0)
    results = []  # (l of the fit, or -inf if every restart was degenerate; the restarts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateRestartWarning)
        for n_init in (1, 2, 4):
            try:
                fit = model(kind, 4, n_init=n_init, random_state=seed, tol=1e-6).fit(X)
                results.append((fit.loglik_, fit.restarts_))
            except DegenerateFitError as exc:
                results.append((-np.inf, exc.restarts))
    assert results[0][0] <= results[1][0] <= results[2][0]

    # restart i is the same whatever n_init
    def summary(r):
        return (r.loglik, r.n_iter, r.converged, r.degenerate)

    assert [summary(r) for r in results[2][1][:2]] == [summary(r) for r in results[1][1]]
    assert [summary(r) for r in results[1][1][:1]] == [summary(r) for r in results[0][1]]


@HYP
@given(st.integers(0, 2**16), st.sampled_from(ALL_TYPES))
def test_row_permutation_does_not_change_the_fit(seed, kind):
    X = blobs(seed, n=90)
    K = 3
    rng = np.random.default_rng(seed + 1)
    init = {
        "weights_init": np.full(K, 1 / K),
        "means_init": X[rng.choice(len(X), K, replace=False)],
    }
    if kind != "fixed":  # a complete initialisation: nothing drawn from the rows' order
        init["precisions_init"] = {
            "full": np.repeat(np.eye(2)[None], K, 0),
            "tied": np.eye(2),
            "diag": np.ones((K, 2)),
            "spherical": np.ones(K),
        }[kind]
    perm = rng.permutation(len(X))
    kw = dict(max_iter=30, tol=0.0, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = model(kind, K, **kw).fit(X)
        b = model(kind, K, **kw).fit(X[perm])
    # Another row order sums in another order: the two runs differ by round-off at the
    # first iteration, and 30 EM iterations amplify it along weakly determined
    # directions (up to about 1e-8 relative seen), while l, stationary at the end,
    # hardly moves. Hence the tolerances.
    assert b.loglik_ == pytest.approx(a.loglik_, rel=1e-10)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-6, atol=1e-10)
    # Compare the probabilities, and the labels wherever the most probable component
    # leads by far more than the fits' disagreement.
    pa, pb = a.predict_proba(X), b.predict_proba(X)
    np.testing.assert_allclose(pb, pa, atol=1e-6)
    top_two = np.sort(pa, axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-4
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(b.predict(X)[clear], a.predict(X)[clear])


@pytest.mark.parametrize("d", [3, 9])  # 9: the products in ranges of features
def test_result_does_not_depend_on_thread_count(monkeypatch, d):
    """One worker or three: bit-identical fits, and the pool really ran.

    Exact equality, not a tolerance: the design promises it. ``_map_blocks`` returns
    the block results in block order whatever thread computed them, every block is
    computed by the same single-threaded code, and every reduction adds the blocks
    in that order (``_sum_in_order``, ``np.sum`` over the ordered list).
    """
    # The smallest block _block_rows allows (256 rows): 5500 rows make 22 blocks, and
    # _map_blocks gives a worker at least 4 blocks, so 3 workers get 8, 7 and 7.
    monkeypatch.setattr(gaussian_module, "_BLOCK_BYTES", 1)
    assert gaussian_module._block_rows(9) == 256
    # a pool of our own, and the shared one back afterwards
    monkeypatch.setattr(gaussian_module, "_EXECUTOR", None)
    monkeypatch.setattr(gaussian_module, "_EXECUTOR_KEY", (0, 0))
    X = blobs(0, n=5500, d=d)
    ran_on: list[str] = []  # the thread that computed each block
    map_blocks = gaussian_module._map_blocks

    def recording_map_blocks(fn, n, rows):
        def block(start, stop):
            ran_on.append(threading.current_thread().name)
            return fn(start, stop)

        return map_blocks(block, n, rows)

    monkeypatch.setattr(gaussian_module, "_map_blocks", recording_map_blocks)
    main = threading.main_thread().name

    def fit(kind, workers):
        monkeypatch.setattr(gaussian_module, "_n_workers", lambda: workers)
        ran_on.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = model(kind, max_iter=5, tol=0.0, random_state=0).fit(X)
        return gm, gm.predict_proba(X), gm.score_samples(X), set(ran_on)

    for kind in ALL_TYPES:
        a, proba_a, samples_a, threads_a = fit(kind, 1)
        assert threads_a == {main}
        b, proba_b, samples_b, threads_b = fit(kind, 3)
        assert main not in threads_b
        assert len(threads_b) >= 2, threads_b  # at least two pool threads computed blocks
        assert all(name.startswith("emfit") for name in threads_b)
        for name in ("history_", "weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), f"{kind}: {name}")
        np.testing.assert_array_equal(proba_b, proba_a)
        np.testing.assert_array_equal(samples_b, samples_a)


# ------------------------------------------------------------------ fitted attributes
@pytest.mark.parametrize("kind", ALL_TYPES)
def test_attributes_shapes_and_consistency(kind):
    X = blobs(1, d=3)
    gm = model(kind, random_state=0).fit(X)
    K, d = 3, 3
    shape = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,), "fixed": (K,)}
    assert gm.covariances_.shape == gm.precisions_.shape == gm.precisions_cholesky_.shape
    assert gm.covariances_.shape == shape[kind]
    assert gm.means_.shape == (K, d) and gm.weights_.shape == (K,)
    assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)
    assert gm.n_features_in_ == d and gm.converged_ and gm.n_iter_ == gm.history_.size
    assert len(gm.restarts_) == 1
    assert gm.history_[-1] == gm.loglik_
    assert gm.score(X) * len(X) == pytest.approx(gm.loglik_, rel=1e-12)
    np.testing.assert_array_equal(gm.fit_predict(X), gm.predict(X))
    if kind in ("full", "tied"):
        covs = gm.covariances_.reshape(-1, d, d)
        precs = gm.precisions_.reshape(-1, d, d)
        for c, p in zip(covs, precs):
            np.testing.assert_allclose(c @ p, np.eye(d), atol=1e-9)
            np.testing.assert_array_equal(c, c.T)
    else:
        np.testing.assert_allclose(gm.covariances_ * gm.precisions_, 1.0, rtol=1e-12)


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_bic_aic_and_sample(kind):
    X = blobs(2)
    gm = model(kind, random_state=0).fit(X)
    n, d, K = len(X), 2, 3
    p = {"full": K * 3, "tied": 3, "diag": K * d, "spherical": K, "fixed": 0}[kind] + K * d + K - 1
    assert gm.bic(X) == pytest.approx(-2 * gm.loglik_ + p * np.log(n), rel=1e-12)
    assert gm.aic(X) == pytest.approx(-2 * gm.loglik_ + 2 * p, rel=1e-12)
    Xs, labels = gm.sample(5000, random_state=1)
    assert Xs.shape == (5000, 2) and labels.shape == (5000,)
    np.testing.assert_allclose(np.bincount(labels, minlength=K) / 5000, gm.weights_, atol=0.03)
    Xs2, _ = gm.sample(5000, random_state=1)
    np.testing.assert_array_equal(Xs, Xs2)


def test_faithful_reference_fit():
    gm = GaussianMixture(2, random_state=0).fit(load_faithful())
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], [[2.0364, 54.4789], [4.2897, 79.9681]], atol=1e-3)
    np.testing.assert_allclose(gm.weights_[order], [0.3559, 0.6441], atol=1e-3)
    assert gm.loglik_ == pytest.approx(-1130.264, abs=1e-3)


# ------------------------------------------------------------------ the "fixed" model
@pytest.mark.parametrize("variance", [1e-300, 1e-200, 1e-30])
def test_fixed_tiny_variance_is_kmeans(variance):
    X = load_faithful()
    gm = GaussianMixture(2, covariance_type="fixed", variance=variance, random_state=0).fit(X)
    assert np.isfinite(gm.loglik_) and gm.loglik_ < -1e20
    assert np.all(np.isfinite(gm.history_))
    R = gm.predict_proba(X)
    d2 = ((X[:, None, :] - gm.means_[None]) ** 2).sum(axis=2)
    nearest = np.eye(2)[d2.argmin(axis=1)]
    np.testing.assert_array_equal(R, nearest)
    # the means are the k-means centroids of the partition
    for k in range(2):
        np.testing.assert_allclose(gm.means_[k], X[nearest[:, k] == 1].mean(axis=0), rtol=1e-12)
    # loglik = -W / (2 variance) - n d / 2 log(2 pi variance) + sum log pi_z
    W = d2.min(axis=1).sum()
    n, d = X.shape
    expected = -W / (2 * variance) - 0.5 * n * d * np.log(2 * np.pi * variance)
    expected += np.log(gm.weights_[d2.argmin(axis=1)]).sum()
    assert gm.loglik_ == pytest.approx(expected, rel=1e-12)
    scores = gm.score_samples(X)
    assert np.all(np.isfinite(scores))
    assert gm.covariances_.tolist() == [variance, variance]
    assert np.all(np.isfinite(gm.precisions_cholesky_))


def test_fixed_variance_is_never_estimated_and_matches_spherical_form():
    X = blobs(3)
    gm = GaussianMixture(3, covariance_type="fixed", variance=0.7, random_state=0).fit(X)
    np.testing.assert_array_equal(gm.covariances_, 0.7)
    # log densities agree with the spherical family at the same variance
    fam = GaussianFamily("spherical")
    params = gaussian_module.GaussianParams(
        gm.means_, np.full(3, 0.7), compute_precision_cholesky(np.full(3, 0.7), "spherical")
    )
    fixed_params = gaussian_module.GaussianParams(
        gm.means_, gm.covariances_, gm.precisions_cholesky_
    )
    np.testing.assert_allclose(
        gaussian_log_prob(X, fixed_params, "fixed"), fam.log_prob(X, params), rtol=1e-12
    )


def test_fixed_unrepresentable_loglik_is_a_clear_error_but_predict_works():
    X = load_faithful()
    with pytest.raises(ValueError, match="variance"):
        GaussianMixture(2, covariance_type="fixed", variance=5e-324, random_state=0).fit(X)
    gm = GaussianMixture(2, covariance_type="fixed", variance=1e-300, random_state=0).fit(X)
    gm.variance = 5e-324  # predictions stay the nearest-mean indicator
    gm.covariances_ = np.full(2, 5e-324)
    np.testing.assert_array_equal(gm.predict_proba(X).max(axis=1), 1.0)


# ------------------------------------------------------------------ numerics
@pytest.mark.parametrize("kind", ALL_TYPES)
@pytest.mark.parametrize("offset", [1e6, 1e8])
def test_offset_data_gives_the_same_fit(kind, offset):
    X = blobs(4)
    kw = {"max_iter": 50, "random_state": 0}
    a = model(kind, **kw).fit(X)
    b = model(kind, **kw, means_init=a.means_ + offset).fit(X + offset)
    c = model(kind, **kw, means_init=a.means_).fit(X)
    assert np.isfinite(b.loglik_)
    assert b.loglik_ == pytest.approx(c.loglik_, rel=1e-9)
    np.testing.assert_allclose(b.means_ - offset, c.means_, atol=1e-6 * offset / 1e6)
    np.testing.assert_allclose(b.covariances_, c.covariances_, rtol=1e-6)


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_far_apart_clusters(kind):
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [1e7, -1e7]]
    gm = model(kind, 2, random_state=0).fit(X)
    assert np.isfinite(gm.loglik_) and gm.converged_
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order[0]], X[:100].mean(axis=0), atol=1e-8)
    np.testing.assert_allclose(gm.means_[order[1]], X[100:].mean(axis=0), rtol=1e-14)
    if kind == "diag":
        np.testing.assert_allclose(gm.covariances_[order[0]], X[:100].var(axis=0) + 1e-6, rtol=1e-9)
        np.testing.assert_allclose(gm.covariances_[order[1]], X[100:].var(axis=0) + 1e-6, rtol=1e-6)
    np.testing.assert_array_equal(gm.predict(X[:100]), order[0])


def dense_covariances(covariances, kind, d):
    """Covariances of any type as a (K, d, d) stack (one matrix for tied)."""
    c = np.asarray(covariances)
    if kind in ("full", "tied"):
        return c.reshape(-1, d, d)
    if kind == "diag":
        return c[:, :, None] * np.eye(d)
    return c[:, None, None] * np.eye(d)  # spherical, fixed


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_collapsing_component_is_regularised(kind):
    # six identical points far from the rest: their component's scatter is exactly 0
    rng = np.random.default_rng(6)
    X = np.r_[rng.normal(size=(50, 2)), np.full((6, 2), 50.0)]
    reg = 1e-6
    gm = model(kind, 2, reg_covar=reg, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.covariances_)) and np.isfinite(gm.loglik_)
    k = int(np.argmax(gm.means_[:, 0]))  # the component on the six points
    np.testing.assert_allclose(gm.means_[k], [50.0, 50.0], rtol=1e-12)
    assert gm.weights_[k] == pytest.approx(6 / 56, rel=1e-12)
    covs = dense_covariances(gm.covariances_, kind, 2)
    if kind == "tied":
        # the collapsed component adds nothing to the shared scatter
        rest = X[:50] - X[:50].mean(axis=0)
        np.testing.assert_allclose(covs[0], rest.T @ rest / 56 + reg * np.eye(2), rtol=1e-9)
    else:
        # nothing but the regularisation is left of the collapsed covariance
        np.testing.assert_allclose(covs[k], reg * np.eye(2), rtol=1e-9, atol=1e-18)
    # and no covariance has an eigenvalue below reg_covar
    assert np.linalg.eigvalsh(covs).min() >= reg * (1 - 1e-9)


def test_collapse_without_regularisation_is_a_clear_error():
    # six identical points far from the rest: their component has covariance 0
    X = np.r_[np.random.default_rng(6).normal(size=(50, 2)), np.full((6, 2), 50.0)]
    for kind in ["full", "tied", "diag", "spherical"]:
        gm = GaussianMixture(2, covariance_type=kind, reg_covar=0.0, random_state=0)
        if kind == "tied":  # the shared covariance stays positive definite
            assert np.isfinite(gm.fit(X).loglik_)
            continue
        with pytest.raises(ValueError, match="Increase reg_covar"):
            gm.fit(X)


def test_scatter_is_centred_no_cancellation():
    # variance 1e-6 around a mean of 1e8: E[x^2] - mu^2 would lose everything
    rng = np.random.default_rng(7)
    X = 1e8 + 1e-3 * rng.normal(size=(1000, 2))
    resp = np.ones((1000, 1))
    exact = np.cov((X - X.mean(axis=0)).T, bias=True)
    expected = {
        "full": exact[None],
        "tied": exact,
        "diag": np.diag(exact)[None],
        "spherical": np.diag(exact).mean(keepdims=True),
    }
    for kind in ["full", "diag", "spherical", "tied"]:
        _, _means, covs = estimate_gaussian_parameters(X, resp, 0.0, kind)
        np.testing.assert_allclose(covs, expected[kind], rtol=1e-6)


@pytest.mark.parametrize("kind", ["diag", "spherical"])
def test_expanded_log_densities_are_exact_to_round_off_or_not_used(kind):
    """diag/spherical log-densities by the expansion [y, y^2, 1] @ B, where a bound on
    its round-off allows it (data offset by 1e7 included: y = x - m), else from exact
    differences (a mean 1e7 away, variances 1e-8): both agree with the textbook
    formula to round-off."""
    rng = np.random.default_rng(12)
    X = blobs(12, n=400, d=4)
    means = X[rng.choice(len(X), 3, replace=False)]
    var = rng.uniform(0.5, 2.0, size=(3, 4))
    if kind == "spherical":
        var = var[:, 0]
    far = np.zeros((3, 4))
    far[2] = 1e7
    cases = [(0.0, 0.0, 1.0, True), (1e7, 0.0, 1.0, True), (0.0, far, 1.0, False)]
    cases.append((0.0, 0.0, 1e-8, False))
    for offset, shift, narrow, expanded in cases:
        Xs, ms, vs = X + offset, means + offset + shift, var * narrow
        params = gaussian_module.GaussianParams(ms, vs, compute_precision_cholesky(vs, kind))
        prep = gaussian_module._EStepConstants(params, kind, np.zeros(3))
        y2 = (Xs - prep.center).T ** 2
        assert prep.expansion_is_accurate(y2) is expanded
        v = vs[:, None] * np.ones(4) if kind == "spherical" else vs
        exact = -0.5 * (
            4 * np.log(2 * np.pi)
            + np.log(v).sum(axis=1)
            + (((Xs[:, None, :] - ms[None]) ** 2) / v[None]).sum(axis=2)
        )
        got = gaussian_log_prob(Xs, params, kind)
        np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-12 * np.abs(exact).max())


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_log_density_at_the_mean_of_a_collapsing_component(kind):
    """At its own mean, a component of covariance s I has log-density -(d/2) log(2 pi s)
    exactly (to round-off), down to s = 1e-300: the distance is exactly 0 there, so
    the likelihood's spike at a collapsing component is resolved (chapter p2)."""
    X = blobs(16, n=50)
    K, d = 2, 2
    for s in [1e-3, 1e-30, 1e-300]:
        covs = {
            "full": np.stack([s * np.eye(d), np.eye(d)]),
            "tied": s * np.eye(d),
            "diag": np.array([[s, s], [1.0, 1.0]]),
            "spherical": np.array([s, 1.0]),
        }[kind]
        means = np.stack([X[0], X.mean(axis=0)])
        params = gaussian_module.GaussianParams(means, covs, compute_precision_cholesky(covs, kind))
        got = gaussian_log_prob(X[:1], params, kind)[0, 0]
        assert got == pytest.approx(-0.5 * d * np.log(2 * np.pi * s), rel=1e-13)
        assert np.all(np.isfinite(gaussian_log_prob(X, params, kind)[:, 1]))


def test_full_log_densities_with_a_non_triangular_factor():
    """The E-step multiplies only the triangle of an (upper triangular) factor L; a
    lower triangular square root of the precision gives the same densities, computed
    in full."""
    rng = np.random.default_rng(13)
    d, K = 9, 2
    X = rng.normal(size=(300, d))
    A = rng.normal(size=(K, d, d))
    covs = A @ A.transpose(0, 2, 1) + d * np.eye(d)
    L = compute_precision_cholesky(covs, "full")
    assert np.all(np.tril(L, -1) == 0)
    lower = np.linalg.cholesky(np.linalg.inv(covs))  # another factor, positive diagonal
    means = rng.normal(size=(K, d))
    triangular = gaussian_log_prob(X, gaussian_module.GaussianParams(means, covs, L), "full")
    rotated = gaussian_log_prob(X, gaussian_module.GaussianParams(means, covs, lower), "full")
    direct = np.stack(
        [
            -0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(c)[1])
            - 0.5 * np.einsum("ij,ij->i", (X - m) @ np.linalg.inv(c), X - m)
            for m, c in zip(means, covs)
        ],
        axis=1,
    )
    np.testing.assert_allclose(triangular, direct, rtol=1e-12)
    np.testing.assert_allclose(rotated, direct, rtol=1e-12)


def test_precision_cholesky_of_a_stack():
    rng = np.random.default_rng(14)
    A = rng.normal(size=(4, 3, 3))
    covs = A @ A.transpose(0, 2, 1) + np.eye(3)
    L = compute_precision_cholesky(covs, "full")
    for c, l in zip(covs, L):
        np.testing.assert_allclose(l @ l.T, np.linalg.inv(c), rtol=1e-12)
        assert np.all(np.tril(l, -1) == 0) and np.all(np.diag(l) > 0)
    np.testing.assert_array_equal(compute_precision_cholesky(covs[1], "tied"), L[1])
    bad = covs.copy()
    bad[1] = -np.eye(3)
    bad[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"component\(s\) \[1, 3\]"):
        compute_precision_cholesky(bad, "full")


def test_every_blas_call_of_an_iteration_runs_on_one_thread(monkeypatch):
    """Per-iteration BLAS and LAPACK calls on small matrices never wake BLAS threads:
    inside the fit's blocks and around them (Cholesky factors, triangular inverses)."""
    from threadpoolctl import threadpool_info

    threads: list[int] = []

    def blas_threads():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    dtrtri = gaussian_module._dtrtri

    def recording_dtrtri(*args, **kwargs):
        threads.append(blas_threads())
        return dtrtri(*args, **kwargs)

    monkeypatch.setattr(gaussian_module, "_dtrtri", recording_dtrtri)
    e_pass = gaussian_module._e_pass

    def recording_e_pass(*args, **kwargs):
        threads.append(blas_threads())
        return e_pass(*args, **kwargs)

    monkeypatch.setattr(gaussian_module, "_e_pass", recording_e_pass)
    for kind in ["full", "tied"]:
        with pytest.warns(ConvergenceWarning, match="max_iter=3"):  # tol=0 never converges
            model(kind, max_iter=3, tol=0.0, random_state=0).fit(blobs(15))
    assert len(threads) > 8 and set(threads) == {1}


def test_kmeans_plusplus_seeding():
    X = np.r_[np.zeros((10, 2)), np.ones((10, 2)) * 100, np.ones((10, 2)) * [0, 100]]
    idx = kmeans_plusplus(X, 3, np.random.default_rng(0))
    assert sorted(set(np.round(X[idx].sum(axis=1)))) == [0, 100, 200]
    # all points identical: still returns valid indices
    idx = kmeans_plusplus(np.zeros((5, 2)), 3, np.random.default_rng(0))
    assert np.all((idx >= 0) & (idx < 5))


def test_family_through_generic_path_agrees_with_fused_path():
    """The default em_step (log_prob + e_step + m_step) gives the same fit."""
    X = blobs(8)

    class Plain(GaussianFamily):
        em_step = GaussianFamily.__mro__[1].em_step  # MixtureFamily's default

    for kind in ALL_TYPES:
        var = 1.0 if kind == "fixed" else None
        a = fit_em(X, GaussianFamily(kind, variance=var), 3, random_state=0, tol=1e-12)
        b = fit_em(X, Plain(kind, variance=var), 3, random_state=0, tol=1e-12)
        assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
        np.testing.assert_allclose(a.params.means, b.params.means, rtol=1e-7, atol=1e-9)


def test_random_init_and_reproducibility():
    X = blobs(9)
    a = GaussianMixture(3, init_params="random", random_state=0).fit(X)
    b = GaussianMixture(3, init_params="random", random_state=0).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_precisions_init_is_used(kind):
    X = blobs(10, d=2)
    K = 3
    P = {
        "full": np.repeat(np.eye(2)[None] * 2.0, K, 0),
        "tied": np.eye(2) * 2.0,
        "diag": np.full((K, 2), 2.0),
        "spherical": np.full(K, 2.0),
    }[kind]
    gm = GaussianMixture(
        K,
        covariance_type=kind,
        precisions_init=P,
        means_init=X[:3],
        weights_init=np.full(K, 1 / K),
        max_iter=0,
    ).fit(X)
    np.testing.assert_allclose(gm.precisions_, P, rtol=1e-12)
    np.testing.assert_allclose(gm.means_, X[:3])


# ------------------------------------------------------------------ bad input
GOOD = blobs(11, n=30)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.where(np.arange(60).reshape(30, 2) == 5, np.nan, GOOD), {}, "X contains NaN"),
        (np.where(np.arange(60).reshape(30, 2) == 5, np.inf, GOOD), {}, "X contains infinity"),
        (GOOD[:, 0], {}, "X must be a 2-d array"),
        (GOOD[None], {}, "X must be a 2-d array"),
        (GOOD[:2], {"n_components": 3}, "n_components"),
        (np.empty((0, 2)), {}, "X has 0 sample"),
        (np.array([["a", "b"], ["c", "d"]]), {}, "X must contain numeric data"),
        (GOOD, {"n_components": 0}, "n_components"),
        (GOOD, {"n_components": 2.5}, "n_components"),
        (GOOD, {"covariance_type": "banana"}, "covariance_type"),
        (GOOD, {"covariance_type": "fixed"}, "variance"),
        (GOOD, {"covariance_type": "fixed", "variance": 0.0}, "variance"),
        (GOOD, {"covariance_type": "fixed", "variance": -1.0}, "variance"),
        (GOOD, {"covariance_type": "fixed", "variance": np.nan}, "variance"),
        (GOOD, {"covariance_type": "full", "variance": 1.0}, "variance"),
        (GOOD, {"reg_covar": -1.0}, "reg_covar"),
        (GOOD, {"tol": -1.0}, "tol"),
        (GOOD, {"max_iter": -1}, "max_iter"),
        (GOOD, {"n_init": 0}, "n_init"),
        (GOOD, {"init_params": "kmeans"}, "init_params"),
        (GOOD, {"weights_init": [0.5, 0.5]}, "weights_init"),
        (GOOD, {"weights_init": [0.2, 0.2, 0.2]}, "weights_init"),
        (GOOD, {"means_init": np.zeros((3, 3))}, "means_init"),
        (GOOD, {"means_init": np.zeros(3)}, "means_init"),
        (GOOD, {"precisions_init": np.ones((3, 3, 3))}, "precisions_init"),
        (GOOD, {"precisions_init": -np.ones((3, 2, 2)) * np.eye(2)}, "precisions_init"),
        (GOOD, {"covariance_type": "diag", "precisions_init": np.ones((3, 3))}, "precisions_init"),
        (GOOD, {"covariance_type": "diag", "precisions_init": -np.ones((3, 2))}, "precisions_init"),
        (GOOD, {"covariance_type": "spherical", "precisions_init": np.ones(2)}, "precisions_init"),
        (GOOD, {"covariance_type": "tied", "precisions_init": np.ones((3, 3))}, "precisions_init"),
        (
            GOOD,
            {"covariance_type": "fixed", "variance": 1.0, "precisions_init": np.ones(3)},
            "precisions_init",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(X, kwargs, match):
    kwargs = {"n_components": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs).fit(X)


def test_predict_checks_features_and_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GaussianMixture().predict(GOOD)
    gm = GaussianMixture(2, random_state=0).fit(GOOD)
    with pytest.raises(ValueError, match="X has 3 features"):
        gm.predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="X contains NaN"):
        gm.score_samples(np.full((2, 2), np.nan))


# ------------------------------------------------- regularisation and monotonicity
def test_reg_covar_can_lower_the_likelihood_without_a_false_alarm():
    # Adding reg_covar to the covariance maximising Q is scikit-learn's M-step, but it
    # is not a maximiser of Q, so EM's monotonicity does not hold: on Old Faithful
    # from a poor start the log-likelihood drops slightly. No decrease warning then.
    from emfit.datasets import load_faithful

    X = load_faithful()
    start = dict(means_init=[[2.0, 60.0], [2.2, 62.0]], random_state=0, tol=1e-12, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a LikelihoodDecreaseWarning would fail here
        regularised = GaussianMixture(2, reg_covar=1e-3, **start).fit(X)
    assert np.diff(regularised.history_).min() < 0
    exact = GaussianMixture(2, reg_covar=0.0, **start).fit(X)
    assert np.all(np.diff(exact.history_) > 0)


def test_exact_em_is_checked_for_decreases():
    from emfit.em import LikelihoodDecreaseWarning, fit_em
    from emfit.gaussian import GaussianFamily

    assert GaussianFamily("full", reg_covar=0.0).exact_m_step
    assert not GaussianFamily("full", reg_covar=1e-6).exact_m_step
    assert GaussianFamily("fixed", reg_covar=1e-6, variance=1.0).exact_m_step

    class Shrinking(GaussianFamily):
        """An M-step that shifts the means off the maximiser: it lowers the likelihood."""

        def em_step(self, data, log_weights, params, *, update=True):
            ll, resp_t, new = super().em_step(data, log_weights, params, update=update)
            if new is not None:
                new.means[:] += 0.3
            return ll, resp_t, new

    X = np.r_[np.linspace(9, 11, 20), np.linspace(19, 21, 20)][:, None]
    with pytest.warns(LikelihoodDecreaseWarning, match="decreased at iteration"):
        fit_em(X, Shrinking("spherical", reg_covar=0.0), 2, random_state=0, max_iter=5, tol=0.0)
