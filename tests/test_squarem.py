"""SQUAREM acceleration of the EM driver (``fit_em(..., accelerate="squarem")``).

From the same start, SQUAREM and plain EM must reach the same maximum: the same
log-likelihood to ``1e-9`` relative (with ``tol=1e-12``, so that the stopping rule is
not what separates them) and the same parameters to :data:`PARAM_ATOL`. No timing
here: the speed is measured by ``benchmarks/bench_squarem.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from emfit import BernoulliMixture, GaussianMixture, PoissonRegressionMixture
from emfit._base import canonical_order
from emfit.bernoulli import BernoulliFamily
from emfit.datasets import load_faithful, make_poisson_regression_mixture
from emfit.em import DECREASE_ATOL, DECREASE_RTOL, ConvergenceWarning, fit_em
from emfit.gaussian import COVARIANCE_TYPES, GaussianFamily, GaussianParams
from emfit.poisson import PoissonRegressionData, PoissonRegressionFamily, design_matrix
from emfit.weights import ConcomitantWeights, ConstantWeights
from toy_families import UnitNormal

#: Agreement of the log-likelihoods (relative).
LOGLIK_RTOL = 1e-9
#: Agreement of the parameters (absolute; the data are of order one). With tol=1e-12
#: plain EM stops up to about 1e-10 (relative) short of the maximum in l on the slow
#: cases below; through the curvature of l that leaves parameter differences up to
#: about 2e-4 (largest: the concomitant coefficients), 1e-5 on the fast cases.
PARAM_ATOL = 1e-3
TOL = 1e-12


def assert_nondecreasing(history: np.ndarray) -> None:
    """Nondecreasing up to the tolerance of the driver's monotonicity check."""
    slack = DECREASE_RTOL * np.maximum(np.abs(history[1:]), np.abs(history[:-1])) + DECREASE_ATOL
    assert np.all(np.diff(history) >= -slack)


def overlapping_gaussians(n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    X = rng.normal(size=(n, 2))
    X[z] = X[z] * [1.0, 1.5] + [1.5, 0.5]
    return X


def binary_data(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    return (rng.random((n, 6)) < np.where(z[:, None], 0.65, 0.35)).astype(int)


def fish() -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = make_poisson_regression_mixture(
        3000, coef=((1.0,), (2.0,)), intercept=(0.5, -0.3), random_state=0
    )
    return x, y


GAUSS_START = dict(
    weights_init=[0.5, 0.5],
    means_init=[[0.0, 0.0], [1.0, 1.0]],
    precisions_init=np.array([np.eye(2)] * 2),
)
POISSON_START = dict(weights_init=[0.5, 0.5], coef_init=[[0.5], [2.5]], intercept_init=[0.0, 0.0])
BERNOULLI_START = dict(
    weights_init=[0.5, 0.5],
    probabilities_init=np.array([[0.3] + [0.4] * 5, [0.6] * 6]),
)


def gaussian_parameters(model: GaussianMixture) -> list[np.ndarray]:
    order = canonical_order(model.means_)
    out = [model.weights_[order], model.means_[order], model.covariances_[order]]
    if model.concomitant_coef_ is not None:
        gamma = model.concomitant_coef_[order]
        out.append(gamma - gamma[0])
    return out


def poisson_parameters(model: PoissonRegressionMixture) -> list[np.ndarray]:
    out = [model.weights_, model.intercept_, model.coef_]  # canonical order already
    if model.concomitant_coef_ is not None:
        out.append(model.concomitant_coef_)
    return out


def bernoulli_parameters(model: BernoulliMixture) -> list[np.ndarray]:
    return [model.weights_, model.probabilities_]  # canonical order already


def _cases():
    X = overlapping_gaussians()
    x, y = fish()
    Z = np.random.default_rng(1).normal(size=(len(y), 1))
    return {
        "gaussian-overlapping": (
            lambda acc: GaussianMixture(2, reg_covar=0, tol=TOL, max_iter=20_000,
                                        accelerate=acc, **GAUSS_START),
            (X,), {}, gaussian_parameters,
        ),
        "gaussian-faithful": (
            lambda acc: GaussianMixture(2, reg_covar=0, tol=TOL, random_state=0, accelerate=acc),
            (load_faithful(),), {}, gaussian_parameters,
        ),
        "poisson-intercepts": (
            lambda acc: PoissonRegressionMixture(2, tol=TOL, max_iter=20_000, accelerate=acc,
                                                 **POISSON_START),
            (x, y), {}, poisson_parameters,
        ),
        "bernoulli": (
            lambda acc: BernoulliMixture(2, tol=TOL, max_iter=20_000, accelerate=acc,
                                         **BERNOULLI_START),
            (binary_data(),), {}, bernoulli_parameters,
        ),
        "poisson-concomitant": (
            lambda acc: PoissonRegressionMixture(2, tol=TOL, max_iter=20_000, accelerate=acc,
                                                 **POISSON_START),
            (x, y), {"Z": Z}, poisson_parameters,
        ),
        "gaussian-concomitant": (
            lambda acc: GaussianMixture(2, reg_covar=0, tol=TOL, max_iter=20_000,
                                        accelerate=acc, **GAUSS_START),
            (X,), {"Z": np.random.default_rng(2).normal(size=(len(X), 1))}, gaussian_parameters,
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_squarem_reaches_the_maximum_of_plain_em(name):
    make, data, kwargs, parameters = CASES[name]
    plain = make(None).fit(*data, **kwargs)
    fast = make("squarem").fit(*data, **kwargs)
    assert plain.converged_ and fast.converged_
    assert fast.loglik_ == pytest.approx(plain.loglik_, rel=LOGLIK_RTOL, abs=0)
    for a, b in zip(parameters(plain), parameters(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=PARAM_ATOL)
    assert_nondecreasing(fast.history_)
    assert len(fast.history_) == fast.n_iter_ and fast.history_[-1] == fast.loglik_
    assert plain.n_em_evaluations_ == plain.n_iter_ + 1
    # one to five evaluations per accepted step, and one at the start
    assert fast.n_iter_ < fast.n_em_evaluations_ <= 5 * fast.n_iter_ + 1


@pytest.mark.parametrize("name", ["gaussian-overlapping", "bernoulli"])
def test_squarem_needs_far_fewer_em_evaluations_when_em_is_slow(name):
    make, data, kwargs, _ = CASES[name]
    plain = make(None).fit(*data, **kwargs)
    fast = make("squarem").fit(*data, **kwargs)
    assert plain.n_iter_ >= 200  # a slow case: plain EM needs hundreds of iterations
    assert fast.n_em_evaluations_ < plain.n_em_evaluations_ / 2


@pytest.mark.parametrize("name", list(CASES))
def test_squarem_never_needs_more_em_evaluations_than_plain_em(name):
    # Each cycle costs two evaluations, as many as the two plain EM steps it holds,
    # and one more after a fall-back: even a fast case costs no more than plain EM.
    make, data, kwargs, _ = CASES[name]
    plain = make(None).fit(*data, **kwargs)
    fast = make("squarem").fit(*data, **kwargs)
    assert fast.n_em_evaluations_ <= plain.n_em_evaluations_
    assert fast.n_em_evaluations_ <= 3 * fast.n_iter_ + 1


def test_squarem_with_fit_em_directly():
    x, y = fish()
    data = PoissonRegressionData.from_arrays(design_matrix(x), y)
    start = dict(weights_init=[0.5, 0.5], params_init=np.array([[0.0, 0.5], [0.0, 2.5]]))
    plain = fit_em(data, PoissonRegressionFamily(), 2, tol=TOL, **start)
    fast = fit_em(data, PoissonRegressionFamily(), 2, tol=TOL, accelerate="squarem", **start)
    assert fast.loglik == pytest.approx(plain.loglik, rel=LOGLIK_RTOL, abs=0)
    order_p, order_f = canonical_order(plain.params), canonical_order(fast.params)
    np.testing.assert_allclose(fast.params[order_f], plain.params[order_p], atol=PARAM_ATOL)
    assert fast.initial_loglik == plain.initial_loglik
    assert_nondecreasing(fast.history)


# ---------------------------------------------------------------- round trips
def _gaussian_params(kind: str) -> tuple[GaussianFamily, GaussianParams]:
    X = load_faithful()
    family = GaussianFamily(kind, variance=2.0 if kind == "fixed" else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # any parameters will do
        fit = fit_em(X, family, 3, random_state=0, max_iter=5)
    return family, fit.params


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_gaussian_round_trip(kind):
    family, params = _gaussian_params(kind)
    vector = family.to_vector(params)
    K, d = params.means.shape
    n_cov = {"full": K * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": K * d,
             "spherical": K, "fixed": 0}[kind]
    assert vector.shape == (K * d + n_cov,)
    back = family.from_vector(vector, like=params)
    for name in ("means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(getattr(back, name), getattr(params, name), rtol=1e-12,
                                   atol=0, err_msg=name)
    np.testing.assert_allclose(family.to_vector(back), vector, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_gaussian_any_vector_gives_valid_covariances(kind):
    family, params = _gaussian_params(kind)
    rng = np.random.default_rng(0)
    vector = rng.normal(scale=3.0, size=family.to_vector(params).size)
    back = family.from_vector(vector, like=params)
    covs = np.atleast_2d(back.covariances)
    if kind in ("full", "tied"):
        mats = back.covariances[None] if kind == "tied" else back.covariances
        assert all(np.all(np.linalg.eigvalsh(c) > 0) for c in mats)
        np.testing.assert_array_equal(mats, mats.transpose(0, 2, 1))  # exactly symmetric
    else:
        assert np.all(covs > 0)


def test_gaussian_overflowing_vector_is_a_floating_point_error():
    family, params = _gaussian_params("diag")
    vector = family.to_vector(params)
    vector[-1] = 1e4  # a log-variance beyond float64
    with pytest.raises(FloatingPointError):
        family.from_vector(vector, like=params)


def test_bernoulli_round_trip():
    family = BernoulliFamily(alpha=1e-10)
    p = np.array([[0.5, 0.9, 1e-10], [0.1, 1 - 1e-10, 0.3]])
    vector = family.to_vector(p)
    assert np.all(np.isfinite(vector))
    np.testing.assert_allclose(family.from_vector(vector, like=p), p, rtol=1e-12, atol=1e-12)
    # every vector maps into the clipping box [alpha, 1 - alpha]
    q = family.from_vector(np.array([-1e3, 0.0, 1e3, 40.0, -40.0, 1.0]), like=p)
    assert np.all(q >= family.alpha) and np.all(q <= 1 - family.alpha)


def test_poisson_round_trip_is_the_default_hook():
    family = PoissonRegressionFamily()
    coef = np.array([[0.5, -1.25], [2.0, 0.125]])
    vector = family.to_vector(coef)
    np.testing.assert_array_equal(vector, coef.ravel())
    np.testing.assert_array_equal(family.from_vector(vector, like=coef), coef)
    vector[0] = 7.0
    assert coef[0, 0] == 0.5  # a copy, not a view


def test_weights_round_trips():
    w = np.array([0.2, 0.5, 0.3])
    model = ConstantWeights()
    np.testing.assert_allclose(model.from_vector(model.to_vector(w)), w, rtol=1e-12, atol=0)
    Z = np.column_stack([np.ones(5), np.arange(5.0)])
    concomitant = ConcomitantWeights(Z)
    gamma = np.array([[0.0, 0.0], [0.5, -1.0], [2.0, 0.25]])
    vector = concomitant.to_vector(gamma)
    assert vector.shape == (4,)
    np.testing.assert_allclose(concomitant.from_vector(vector, like=gamma), gamma, rtol=1e-12,
                               atol=1e-12)


# ---------------------------------------------------------------- fall-back
class _NoExtrapolation(UnitNormal):
    """Every extrapolated point fails: SQUAREM must fall back to plain EM steps."""

    def from_vector(self, vector, like):
        raise FloatingPointError("no extrapolation")


class _NonFiniteAtExtrapolation(UnitNormal):
    """The log-likelihood is NaN at every extrapolated point (marked by its type)."""

    class Marked(np.ndarray):
        pass

    def from_vector(self, vector, like):
        return np.array(vector, dtype=float).view(self.Marked)

    def em_step(self, data, log_weights, params, *, update=True):
        ll, resp_t, new = super().em_step(data, log_weights, np.asarray(params), update=update)
        return (float("nan") if isinstance(params, self.Marked) else ll), resp_t, new


def _unit_normal_data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0.0, 1.0, 300), rng.normal(1.5, 1.0, 200)]


@pytest.mark.parametrize("family_class", [_NoExtrapolation, _NonFiniteAtExtrapolation])
def test_failed_extrapolations_fall_back_to_plain_em_steps(family_class):
    x = _unit_normal_data()
    start = dict(weights_init=[0.5, 0.5], params_init=np.array([-1.0, 3.0]), tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 runs max_iter
        plain = fit_em(x, UnitNormal(), 2, max_iter=60, **start)
        fast = fit_em(x, family_class(), 2, max_iter=20, accelerate="squarem", **start)
    # every accepted point is a plain EM iterate (the same computations, bit for bit)
    assert set(fast.history.tolist()) <= set(plain.history.tolist())
    assert np.all(np.diff(fast.history) > 0)
    assert fast.n_iter == 20


class _InvalidStepAfterExtrapolation(UnitNormal):
    """The M-step at every extrapolated point gives NaN means, though ``l`` there is
    finite: the failure shows only at the next cycle's first evaluation, and SQUAREM
    must take the extrapolation back."""

    class Marked(np.ndarray):
        pass

    n_invalid = 0

    def from_vector(self, vector, like):
        return np.array(vector, dtype=float).view(self.Marked)

    def m_step(self, data, resp, params):
        if isinstance(params, self.Marked):
            self.n_invalid += 1
            return np.full(params.shape, np.nan)
        return super().m_step(data, resp, params)


def test_an_invalid_step_after_an_accepted_extrapolation_takes_it_back():
    x = _unit_normal_data()
    start = dict(weights_init=[0.5, 0.5], params_init=np.array([-1.0, 3.0]), tol=0)
    family = _InvalidStepAfterExtrapolation()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 runs max_iter
        plain = fit_em(x, UnitNormal(), 2, max_iter=60, **start)
        fast = fit_em(x, family, 2, max_iter=20, accelerate="squarem", **start)
    assert family.n_invalid > 0  # some extrapolation was accepted, then taken back
    assert set(fast.history.tolist()) <= set(plain.history.tolist())
    assert np.all(np.diff(fast.history) > 0)
    assert fast.n_iter == 20 and np.all(np.isfinite(fast.params))


@pytest.mark.parametrize("max_iter", range(1, 8))
def test_squarem_stops_at_max_iter(max_iter):
    x = _unit_normal_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = fit_em(x, UnitNormal(), 2, weights_init=[0.5, 0.5],
                     params_init=np.array([-1.0, 3.0]), tol=0, max_iter=max_iter,
                     accelerate="squarem")
    assert fit.n_iter == max_iter == fit.history.size and fit.history[-1] == fit.loglik
    assert_nondecreasing(np.r_[fit.initial_loglik, fit.history])
    assert max_iter < fit.n_em_evaluations <= 3 * max_iter + 1


def test_squarem_max_iter_zero_evaluates_the_start():
    x = _unit_normal_data()
    fit = fit_em(x, UnitNormal(), 2, weights_init=[0.5, 0.5], params_init=np.array([-1.0, 3.0]),
                 max_iter=0, accelerate="squarem")
    assert fit.n_iter == 0 and fit.history.size == 0 and fit.n_em_evaluations == 1
    assert fit.loglik == fit.initial_loglik


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", ["SQUAREM", "anderson", True, 1])
def test_bad_accelerate_raises(bad):
    x = _unit_normal_data()
    with pytest.raises(ValueError, match=r"accelerate must be None or 'squarem'"):
        fit_em(x, UnitNormal(), 2, random_state=0, accelerate=bad)
    X = overlapping_gaussians(200)
    xp, yp = fish()
    for model, data in [
        (GaussianMixture(2, random_state=0), (X,)),
        (BernoulliMixture(2, random_state=0), (binary_data(200),)),
        (PoissonRegressionMixture(2, random_state=0), (xp, yp)),
    ]:
        with pytest.raises(ValueError, match="accelerate"):
            model.set_params(accelerate=bad).fit(*data)


def test_estimators_store_accelerate_as_given():
    for cls in (GaussianMixture, BernoulliMixture, PoissonRegressionMixture):
        model = cls(accelerate="squarem")
        assert model.get_params()["accelerate"] == "squarem"
        assert clone(model).accelerate == "squarem"
        assert cls().accelerate is None


def test_default_to_vector_needs_ndarray_params():
    class DictParams(UnitNormal):
        pass

    with pytest.raises(TypeError, match="override to_vector"):
        DictParams().to_vector({"means": np.zeros(2)})
