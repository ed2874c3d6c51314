"""The parametric bootstrap likelihood-ratio test for the number of components."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from emfit import GaussianMixture, PoissonRegressionMixture
from emfit.bootstrap import MAX_REDRAWS, BootstrapLRT, _redraw_seed, _usable_fit, bootstrap_lrt
from emfit.datasets import make_poisson_regression_mixture
from emfit.em import (
    ConvergenceWarning,
    DegenerateFitError,
    DegenerateRestartWarning,
    RestartResult,
)

# Small fits: a loose tolerance (mclust's EM stops at a relative 1e-5) keeps each
# replicate to a few dozen iterations; the tests are about the bootstrap, not EM.
FAST = {"tol": 1e-6, "max_iter": 200}


@pytest.fixture(scope="module")
def poisson_data():
    """Two Poisson regressions without intercept (slopes 1 and 2), n = 200."""
    X, y, _ = make_poisson_regression_mixture(200, random_state=0)
    return X, y


def poisson_lrt(X, y, **kwargs):
    model = PoissonRegressionMixture(1, fit_intercept=False, random_state=0, **FAST)
    return bootstrap_lrt(model, X, y, **kwargs)


# ---------------------------------------------------------------------- the test
def test_one_gaussian_is_not_rejected():
    X = np.random.default_rng(1).normal(size=(100, 1))
    result = bootstrap_lrt(GaussianMixture(1, n_init=2, random_state=0, **FAST), X, n_boot=19)
    assert result.p_value > 0.05
    assert result.n_components == 1 and result.n_boot == 19
    assert result.boot_statistics.shape == (19,)
    assert np.all(result.boot_statistics >= 0)
    assert result.statistic == pytest.approx(2 * (result.loglik_alt - result.loglik_null))


def test_two_separated_gaussians_reject_one():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, 60), rng.normal(6, 1, 40)]).reshape(-1, 1)
    result = bootstrap_lrt(GaussianMixture(1, random_state=0, **FAST), X, n_boot=19)
    assert result.p_value == 1 / 20
    assert result.statistic > result.boot_statistics.max()


def test_poisson_regression_mixture_rejects_one_component(poisson_data):
    result = poisson_lrt(*poisson_data, n_boot=19)
    assert result.p_value == 1 / 20
    assert result.loglik_alt > result.loglik_null


def test_p_value_formula():
    """(1 + #{T*_b >= T}) / (B + 1), computed from the stored statistics."""
    X = np.random.default_rng(1).normal(size=(100, 1))
    model = GaussianMixture(1, n_init=2, random_state=0, **FAST)
    r = bootstrap_lrt(model, X, n_boot=9, random_state=3)
    assert r.p_value == (1 + np.sum(r.boot_statistics >= r.statistic)) / 10


# ---------------------------------------------------------------------- reproducibility
def test_same_result_whatever_n_jobs(poisson_data):
    serial = poisson_lrt(*poisson_data, n_boot=6, n_jobs=1)
    parallel = poisson_lrt(*poisson_data, n_boot=6, n_jobs=2)
    # same computation, one BLAS thread in both paths; a tolerance in case the
    # worker processes load another BLAS kernel
    np.testing.assert_allclose(parallel.boot_statistics, serial.boot_statistics, rtol=1e-12)
    assert parallel.p_value == serial.p_value
    assert parallel.statistic == serial.statistic


def test_random_state_decides_the_replicates(poisson_data):
    a = poisson_lrt(*poisson_data, n_boot=4, random_state=7)
    b = poisson_lrt(*poisson_data, n_boot=4, random_state=7)
    c = poisson_lrt(*poisson_data, n_boot=4, random_state=8)
    np.testing.assert_array_equal(a.boot_statistics, b.boot_statistics)
    assert not np.any(a.boot_statistics == c.boot_statistics)


def test_replicate_b_does_not_depend_on_n_boot(poisson_data):
    short = poisson_lrt(*poisson_data, n_boot=2)
    long = poisson_lrt(*poisson_data, n_boot=4)
    np.testing.assert_array_equal(long.boot_statistics[:2], short.boot_statistics)


def test_result_is_frozen(poisson_data):
    result = poisson_lrt(*poisson_data, n_boot=2)
    assert isinstance(result, BootstrapLRT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.p_value = 0.0
    with pytest.raises(ValueError, match="read-only"):
        result.boot_statistics[0] = 0.0


# ---------------------------------------------------------------------- fit_params
class RecordingPoisson(PoissonRegressionMixture):
    """Records the exposure that ``sample`` receives."""

    exposures: list = []

    def sample(self, X, exposure=None, random_state=None):
        RecordingPoisson.exposures.append(exposure)
        return super().sample(X, exposure, random_state=random_state)


def test_exposure_reaches_fit_and_sample(poisson_data):
    X, y = poisson_data
    exposure = np.linspace(0.5, 2.0, len(y))
    RecordingPoisson.exposures.clear()
    model = RecordingPoisson(1, fit_intercept=False, random_state=0, **FAST)
    with_exposure = bootstrap_lrt(model, X, y, n_boot=3, fit_params={"exposure": exposure})
    assert len(RecordingPoisson.exposures) == 3
    assert all(e is exposure for e in RecordingPoisson.exposures)
    expected = model.set_params(n_components=1).fit(X, y, exposure=exposure).loglik_
    assert with_exposure.loglik_null == expected


# ---------------------------------------------------------------------- warnings and errors
def test_replicate_convergence_warnings_are_counted():
    X = np.random.default_rng(1).normal(size=(60, 1))
    model = GaussianMixture(1, tol=1e-14, max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        result = bootstrap_lrt(model, X, n_boot=4)
    # only the (K + 1) fit to the data warns; the replicates' are counted
    assert sum(issubclass(w.category, ConvergenceWarning) for w in record) == 1
    assert result.n_not_converged >= 4


class FailingMixture(GaussianMixture):
    """Fits the data (random_state 0), fails on every replicate (every restart failed)."""

    calls = 0

    def fit(self, X, y=None):
        if self.random_state != 0:
            FailingMixture.calls += 1
            raise FloatingPointError("simulated failure")
        return super().fit(X, y)


def test_failing_replicate_raises_runtime_error_naming_it():
    X = np.random.default_rng(1).normal(size=(60, 1))
    FailingMixture.calls = 0
    with pytest.raises(RuntimeError, match=r"replicate 0 \(SeedSequence entropy=5") as info:
        bootstrap_lrt(FailingMixture(1, random_state=0, **FAST), X, n_boot=3, random_state=5)
    assert isinstance(info.value.__cause__, FloatingPointError)
    assert "reg_covar" in str(info.value) and "fewer components" in str(info.value)
    # the null fit of replicate 0 failed on the data and on each redraw
    assert FailingMixture.calls == MAX_REDRAWS + 1 == 11


# ---------------------------------------------------------------------- degenerate fits
def restart(loglik, kind=None):
    return RestartResult(loglik, 5, True, degenerate=kind and "why", degenerate_kind=kind)


def test_usable_fit_is_the_best_regular_restart_or_an_emptied_one():
    restarts = [restart(-5.0), restart(-3.0, "weight")]
    restarts += [restart(100.0, "family"), restart(np.nan, "failed")]
    value = _usable_fit(restarts)
    assert value.loglik == -5.0 and value.weight_degenerate  # the spike's -3 is not used
    value = _usable_fit([restart(-5.0), restart(-7.0, "weight"), restart(-4.0)])
    assert value.loglik == -4.0 and value.weight_degenerate
    assert not _usable_fit([restart(-5.0)]).weight_degenerate
    # only emptied restarts: the fit of fewer components, T* = 0 (log-likelihood -inf)
    value = _usable_fit([restart(-3.0, "weight"), restart(100.0, "family")])
    assert value.loglik == -np.inf and value.weight_degenerate
    assert _usable_fit([restart(100.0, "family"), restart(np.nan, "failed")]) is None


def test_redraw_seeds_are_the_children_of_the_replicate_seed():
    seed = np.random.SeedSequence(5).spawn(3)[2]
    fresh = np.random.SeedSequence(5).spawn(3)[2]
    children = [fresh.spawn(1)[0] for _ in range(3)]
    for r, child in enumerate(children, start=1):
        np.testing.assert_array_equal(
            _redraw_seed(seed, r).generate_state(4), child.generate_state(4)
        )
    assert seed.n_children_spawned == 0  # the replicate's seed is left alone


def test_weight_degenerate_replicates_count():
    """Under the null, a K+1 fit with a component below one observation is used.

    With n_init=1, such a fit raises DegenerateFitError: replicate 6 of this run
    used to stop bootstrap_lrt with a RuntimeError.
    """
    X = np.random.default_rng(1).normal(size=(100, 1))
    model = GaussianMixture(1, n_init=1, random_state=0, **FAST)
    serial = bootstrap_lrt(model, X, n_boot=9, random_state=2, n_jobs=1)
    assert 0 < serial.p_value <= 1
    assert serial.n_degenerate == 1 and serial.n_redrawn == 0
    assert np.all(np.isfinite(serial.boot_statistics))
    parallel = bootstrap_lrt(model, X, n_boot=9, random_state=2, n_jobs=2)
    np.testing.assert_allclose(parallel.boot_statistics, serial.boot_statistics, rtol=1e-12)
    assert parallel.p_value == serial.p_value
    assert (parallel.n_degenerate, parallel.n_redrawn) == (1, 0)


def test_degenerate_restart_warnings_of_replicates_are_not_shown():
    X = np.random.default_rng(1).normal(size=(100, 1))
    model = GaussianMixture(1, n_init=3, random_state=0, **FAST)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = bootstrap_lrt(model, X, n_boot=9, random_state=2)
    # one K+1 replicate fit set a restart aside (weight below 1/n) and warned
    assert result.n_degenerate == 1
    assert not any(issubclass(w.category, DegenerateRestartWarning) for w in record)


def test_collapsed_replicates_are_redrawn():
    """With reg_covar=0 a component can collapse onto a point: the data are redrawn."""
    X = np.random.default_rng(2).normal(size=(30, 1))
    model = GaussianMixture(1, n_init=1, reg_covar=0, random_state=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = bootstrap_lrt(model, X, n_boot=19, random_state=2)
        parallel = bootstrap_lrt(model, X, n_boot=19, random_state=2, n_jobs=2)
    assert serial.n_redrawn == 2
    assert 0 < serial.p_value <= 1
    np.testing.assert_allclose(parallel.boot_statistics, serial.boot_statistics, rtol=1e-12)
    assert parallel.n_redrawn == serial.n_redrawn


class CollapsingMixture(GaussianMixture):
    """Fits the data (random_state 0); every replicate fit collapses."""

    def fit(self, X, y=None):
        if self.random_state != 0:
            error = DegenerateFitError("every restart collapsed")
            error.restarts = [restart(1e6, "family")]
            raise error
        return super().fit(X, y)


def test_replicate_without_usable_fit_after_redraws_raises():
    X = np.random.default_rng(1).normal(size=(60, 1))
    with pytest.raises(RuntimeError, match=r"replicate 0 .*the 1-component fit") as info:
        bootstrap_lrt(CollapsingMixture(1, random_state=0, **FAST), X, n_boot=3)
    message = str(info.value)
    assert "11 simulated data sets" in message and "reg_covar" in message
    assert isinstance(info.value.__cause__, DegenerateFitError)


class DegenerateOnDataMixture(GaussianMixture):
    """Degenerate on the data (random_state 0)."""

    def fit(self, X, y=None):
        if self.random_state == 0:
            error = DegenerateFitError("degenerate on the data")
            error.restarts = [restart(-1.0, "weight")]
            raise error
        return super().fit(X, y)


def test_degenerate_fit_to_the_data_propagates():
    X = np.random.default_rng(1).normal(size=(60, 1))
    with pytest.raises(DegenerateFitError, match="degenerate on the data"):
        bootstrap_lrt(DegenerateOnDataMixture(1, random_state=0, **FAST), X, n_boot=3)


class WarningMixture(GaussianMixture):
    """Warns in every replicate fit."""

    def fit(self, X, y=None):
        if self.random_state != 0:
            warnings.warn("a replicate warns", UserWarning, stacklevel=2)
        return super().fit(X, y)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_replicate_warnings_reach_the_caller_once(n_jobs):
    X = np.random.default_rng(1).normal(size=(60, 1))
    with pytest.warns(UserWarning, match="a replicate warns") as record:
        bootstrap_lrt(WarningMixture(1, random_state=0, **FAST), X, n_boot=3, n_jobs=n_jobs)
    assert sum(str(w.message) == "a replicate warns" for w in record) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_boot": 0}, "n_boot must be an integer >= 1; got 0"),
        ({"n_boot": 1.5}, "n_boot must be an integer >= 1; got 1.5"),
        ({"random_state": -1}, "random_state must be a non-negative integer or None; got -1"),
        ({"random_state": 1.0}, "random_state must be a non-negative integer or None"),
        ({"n_jobs": 0}, "n_jobs must be None or a non-zero integer"),
        ({"fit_params": [("exposure", 1.0)]}, "fit_params must be a dict"),
    ],
)
def test_bad_arguments(kwargs, match):
    X = np.zeros((10, 1))
    with pytest.raises(ValueError, match=match):
        bootstrap_lrt(GaussianMixture(1), X, **kwargs)


def test_bad_estimators(poisson_data):
    X, y = poisson_data
    with pytest.raises(ValueError, match="emfit mixture estimator"):
        bootstrap_lrt(object(), X)
    with pytest.raises(ValueError, match="user initialisation"):
        bootstrap_lrt(GaussianMixture(1, means_init=[[0.0]]), X)
    with pytest.raises(ValueError, match="y must be None for GaussianMixture"):
        bootstrap_lrt(GaussianMixture(1), X, y)
    with pytest.raises(ValueError, match="y is required for PoissonRegressionMixture"):
        bootstrap_lrt(PoissonRegressionMixture(1), X)


# ---------------------------------------------------------------------- progress
@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar(poisson_data, capsys, progress):
    poisson_lrt(*poisson_data, n_boot=2, progress=progress)
    err = capsys.readouterr().err
    if progress:
        assert "bootstrap K=1 vs 2" in err and "2/2" in err
    else:
        assert err == ""
