"""select_model: the AIC/BIC/ICL table over a grid of mixtures, and its best model."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

from emfit import GaussianMixture, PoissonRegressionMixture
from emfit.datasets import load_faithful, load_patents, make_poisson_regression_mixture
from emfit.em import ConvergenceWarning, DegenerateRestartWarning
from emfit.em import _first_minimum
from emfit.selection import TIE_RTOL, ModelSelection, select_model

COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]
RESULT_COLUMNS = ["loglik", "n_parameters", "aic", "bic", "icl", "n_iter", "converged", "note"]
# Fits with tol=1e-6 stop well before round-off; comparisons between two fits with the
# same settings and seed are exact up to the summation order of the log-likelihood.
RTOL_SAME_FIT = 1e-9
FAST = {"tol": 1e-6, "max_iter": 300, "random_state": 0}


@pytest.fixture(scope="module", autouse=True)
def single_threaded_blas():
    """BLAS on one thread: these fits are of 2x2 matrices, and on a busy machine
    waking BLAS threads for each of them costs far more than the work (e.g. 5 ms for a
    2x2 triangular solve)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def faithful():
    return load_faithful()


@pytest.fixture(scope="module")
def faithful_selection(faithful):
    grid = {"n_components": [1, 2, 3, 4], "covariance_type": COVARIANCE_TYPES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # K = 4 may stop at max_iter
        return select_model(GaussianMixture(**FAST), faithful, param_grid=grid)


@pytest.fixture(scope="module")
def poisson_data():
    X, y, _ = make_poisson_regression_mixture(500, random_state=1)
    return X, y


def test_faithful_table_has_one_row_per_grid_point_in_grid_order(faithful_selection):
    table = faithful_selection.table
    assert isinstance(faithful_selection, ModelSelection)
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (16, 2 + len(RESULT_COLUMNS))
    assert table.columns.tolist() == ["n_components", "covariance_type", *RESULT_COLUMNS]
    # itertools.product order: the last key varies fastest
    assert table["n_components"].tolist() == [k for k in (1, 2, 3, 4) for _ in range(4)]
    assert table["covariance_type"].tolist() == COVARIANCE_TYPES * 4
    assert (table["note"] == "").all()
    numbers = table[["loglik", "n_parameters", "aic", "bic", "icl", "n_iter"]].to_numpy(float)
    assert np.isfinite(numbers).all()


def test_faithful_bic_equals_an_independent_fit(faithful_selection, faithful):
    for row in faithful_selection.table.itertuples():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = GaussianMixture(
                row.n_components, covariance_type=row.covariance_type, **FAST
            ).fit(faithful)
        assert row.bic == pytest.approx(est.bic(faithful), rel=RTOL_SAME_FIT)
        assert row.aic == pytest.approx(est.aic(faithful), rel=RTOL_SAME_FIT)
        assert row.loglik == pytest.approx(est.loglik_, rel=RTOL_SAME_FIT)


def test_faithful_criteria_follow_their_formulas(faithful_selection, faithful):
    t = faithful_selection.table
    n = faithful.shape[0]
    # the log-likelihood of the table is the one the criteria use (round-off only)
    np.testing.assert_allclose(t["bic"], -2 * t["loglik"] + t["n_parameters"] * np.log(n),
                               rtol=1e-12)
    np.testing.assert_allclose(t["aic"], -2 * t["loglik"] + 2 * t["n_parameters"], rtol=1e-12)
    # ICL adds a non-negative entropy; it is zero for K = 1
    assert (t["icl"] >= t["bic"]).all()
    one = t["n_components"] == 1
    np.testing.assert_allclose(t.loc[one, "icl"], t.loc[one, "bic"], rtol=1e-15)


def test_icl_is_bic_plus_twice_the_entropy_of_the_responsibilities(faithful_selection, faithful):
    row = faithful_selection.table.query("n_components == 2 and covariance_type == 'full'")
    est = GaussianMixture(2, **FAST).fit(faithful)
    r = est.predict_proba(faithful)
    entropy = -np.sum(r[r > 0] * np.log(r[r > 0]))
    assert row["icl"].item() == pytest.approx(est.bic(faithful) + 2 * entropy, rel=1e-12)


def test_n_parameters_by_hand(faithful_selection):
    t = faithful_selection.table.set_index(["n_components", "covariance_type"])
    # full, K = 2, d = 2: 2 means of 2, 2 covariances of 3 free entries, 1 weight
    assert t.loc[(2, "full"), "n_parameters"] == 2 * 2 + 2 * 3 + 1
    assert t.loc[(2, "diag"), "n_parameters"] == 2 * 2 + 2 * 2 + 1
    assert t.loc[(2, "spherical"), "n_parameters"] == 2 * 2 + 2 + 1
    assert t.loc[(2, "tied"), "n_parameters"] == 2 * 2 + 3 + 1


def test_best_is_the_row_with_minimum_criterion(faithful_selection):
    t = faithful_selection.table
    best = int(t["bic"].to_numpy().argmin())
    assert faithful_selection.criterion == "bic"
    assert faithful_selection.best_params == {
        "n_components": t["n_components"].iloc[best],
        "covariance_type": t["covariance_type"].iloc[best],
    }
    est = faithful_selection.best_estimator
    assert est.n_components == t["n_components"].iloc[best]
    assert est.covariance_type == t["covariance_type"].iloc[best]
    assert est.loglik_ == pytest.approx(t["loglik"].iloc[best], rel=1e-15)


@pytest.mark.parametrize("criterion", ["aic", "icl"])
def test_other_criteria_pick_their_minimum(faithful, criterion):
    grid = {"n_components": [1, 2, 3], "covariance_type": ["diag", "spherical"]}
    result = select_model(GaussianMixture(**FAST), faithful, param_grid=grid, criterion=criterion)
    t = result.table
    best = int(t[criterion].to_numpy().argmin())
    assert result.criterion == criterion
    assert result.best_params == t.loc[best, ["n_components", "covariance_type"]].to_dict()


def test_faithful_full_agrees_with_scikit_learn(faithful):
    Ks = [1, 2, 3, 4]
    ours = select_model(
        GaussianMixture(n_init=5, tol=1e-6, max_iter=300, random_state=0),
        faithful,
        param_grid={"n_components": Ks},
    )
    sk_bic = [
        SkGaussianMixture(k, covariance_type="full", n_init=5, random_state=0).fit(faithful)
        .bic(faithful)
        for k in Ks
    ]
    assert ours.best_params["n_components"] == Ks[int(np.argmin(sk_bic))]
    # K <= 2 have one maximum, found by both (up to scikit-learn's loose tol=1e-3 and
    # reg_covar); K = 4 has several local maxima and the two reach different ones
    np.testing.assert_allclose(ours.table["bic"][:2], sk_bic[:2], rtol=1e-6)


def test_pandas_dataframe_input(faithful):
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    grid = {"n_components": [1, 2]}
    a = select_model(GaussianMixture(**FAST), frame, param_grid=grid).table
    b = select_model(GaussianMixture(**FAST), faithful, param_grid=grid).table
    np.testing.assert_allclose(a["bic"], b["bic"], rtol=1e-15)


def test_poisson_grid_picks_two_components(poisson_data):
    X, y = poisson_data
    grid = {"n_components": [1, 2, 3], "fit_intercept": [False, True]}
    result = select_model(PoissonRegressionMixture(tol=1e-8, max_iter=300, random_state=0),
                          X, y, param_grid=grid)
    t = result.table
    assert t.shape == (6, 2 + len(RESULT_COLUMNS))
    assert result.best_params["n_components"] == 2
    assert result.best_estimator.n_components == 2
    est = PoissonRegressionMixture(2, fit_intercept=result.best_params["fit_intercept"],
                                   tol=1e-8, max_iter=300, random_state=0).fit(X, y)
    assert t["bic"].min() == pytest.approx(est.bic(X, y), rel=RTOL_SAME_FIT)
    # K - 1 weights and K slopes, plus K intercepts with fit_intercept
    assert t["n_parameters"].tolist() == [1, 2, 3, 5, 5, 8]


def test_poisson_fit_params_reach_fit_and_scoring(poisson_data):
    X, y = poisson_data
    exposure = np.linspace(0.5, 2.0, len(y))
    est = PoissonRegressionMixture(2, tol=1e-8, random_state=0)
    result = select_model(est, X, y, param_grid={"n_components": [2]},
                          fit_params={"exposure": exposure})
    ref = PoissonRegressionMixture(2, tol=1e-8, random_state=0).fit(X, y, exposure)
    assert result.table["bic"].item() == pytest.approx(ref.bic(X, y, exposure), rel=RTOL_SAME_FIT)
    assert result.table["bic"].item() != pytest.approx(ref.bic(X, y), rel=1e-6)


def test_poisson_concomitant_grid():
    rng = np.random.default_rng(3)
    n = 600
    X = rng.uniform(0, 2, size=(n, 1))
    Z = rng.normal(size=(n, 1))
    first = rng.random(n) < 1 / (1 + np.exp(-2 * Z[:, 0]))  # weights depend on Z
    y = rng.poisson(np.exp(np.where(first, 1.0, 2.0) * X[:, 0]))
    est = PoissonRegressionMixture(fit_intercept=False, tol=1e-8, max_iter=300, random_state=0)
    result = select_model(est, X, y, Z=Z,
                          param_grid={"n_components": [2], "concomitant": [False, True]})
    t = result.table
    assert t.columns.tolist() == ["n_components", "concomitant", *RESULT_COLUMNS]
    assert t["concomitant"].tolist() == [False, True]
    assert (t["note"] == "").all()
    assert np.isfinite(t[["loglik", "aic", "bic", "icl"]].to_numpy(float)).all()
    # a logit of the weights on Z has one more coefficient per non-reference component
    assert t["n_parameters"].iloc[1] > t["n_parameters"].iloc[0]
    ref = PoissonRegressionMixture(2, fit_intercept=False, tol=1e-8, max_iter=300,
                                   random_state=0).fit(X, y, Z=Z)
    assert t["bic"].iloc[1] == pytest.approx(ref.bic(X, y, Z=Z), rel=RTOL_SAME_FIT)
    assert result.best_params == {"n_components": 2, "concomitant": True}


class _RecordsZ(BaseEstimator):
    """A stand-in mixture that takes ``Z`` and records every call that received it.

    Independent of the estimators' own ``Z`` support, which is being added.
    """

    calls: list = []

    def __init__(self, n_components=1):
        self.n_components = n_components

    def _record(self, method, Z):
        self.calls.append((method, self.n_components, Z is not None))

    def fit(self, X, y, exposure=None, *, Z=None):
        self._record("fit", Z)
        self.loglik_, self.n_iter_, self.converged_ = -100.0 * self.n_components, 3, True
        return self

    def _n_parameters(self):
        return 2 * self.n_components

    def bic(self, X, y, exposure=None, *, Z=None):
        self._record("bic", Z)
        return -2 * self.loglik_ + self._n_parameters() * np.log(len(y))

    def aic(self, X, y, exposure=None, *, Z=None):
        self._record("aic", Z)
        return -2 * self.loglik_ + 2 * self._n_parameters()

    def predict_proba(self, X, y, exposure=None, *, Z=None):
        self._record("predict_proba", Z)
        return np.full((len(y), self.n_components), 1.0 / self.n_components)


def test_Z_is_passed_exactly_when_concomitant(poisson_data):
    X, y = poisson_data
    _RecordsZ.calls = []
    grid = {"n_components": [1, 2], "concomitant": [False, True]}
    result = select_model(_RecordsZ(), X, y, Z=X, param_grid=grid)
    t = result.table
    assert t["concomitant"].tolist() == [False, True, False, True]
    # uniform responsibilities: the entropy is n log K
    np.testing.assert_allclose(t["icl"] - t["bic"], 2 * len(y) * np.log(t["n_components"]),
                               rtol=1e-12)
    methods = ["fit", "bic", "aic", "predict_proba"]
    expected = [(m, k, flag) for k in (1, 2) for flag in (False, True) for m in methods]
    assert _RecordsZ.calls == expected


# ---------------------------------------------------------------- failed grid points
class _FailsAtThree(GaussianMixture):
    """A Gaussian mixture whose fit overflows with three components."""

    def fit(self, X, y=None):
        if self.n_components == 3:
            raise FloatingPointError("overflow in the E-step")
        return super().fit(X, y)


def test_a_failed_fit_gives_a_row_of_nan_with_a_note(faithful):
    result = select_model(_FailsAtThree(**FAST), faithful, param_grid={"n_components": [1, 2, 3]})
    t = result.table
    assert t["note"].tolist()[:2] == ["", ""]
    assert t["note"].iloc[2] == "FloatingPointError: overflow in the E-step"
    assert t.loc[2, ["loglik", "n_parameters", "aic", "bic", "icl", "n_iter"]].isna().all()
    assert not t["converged"].iloc[2]
    assert result.best_params == {"n_components": 2}


def test_value_error_of_one_fit_is_recorded(faithful):
    X = faithful[:3]  # too few samples for four components
    result = select_model(GaussianMixture(**FAST), X, param_grid={"n_components": [1, 4]})
    assert "n_samples >= n_components" in result.table["note"].iloc[1]
    assert result.best_params == {"n_components": 1}


def test_every_grid_point_failing_raises(faithful):
    with pytest.raises(ValueError, match="every grid point failed.*n_samples >= n_components"):
        select_model(GaussianMixture(**FAST), faithful[:3], param_grid={"n_components": [4, 5]})


# ---------------------------------------------------------------- ties
def test_ties_keep_the_first_row_in_grid_order():
    assert _first_minimum(np.array([2.0, 1.0 + 0.5 * TIE_RTOL, 1.0])) == 1
    assert _first_minimum(np.array([2.0, 1.0 + 2 * TIE_RTOL, 1.0])) == 2
    assert _first_minimum(np.array([np.nan, -5.0, -5.0 * (1 - 1e-12)])) == 1


def test_identical_models_tie_to_the_first(faithful):
    # K = 1: full and tied are the same model; round-off never picks the second
    result = select_model(GaussianMixture(**FAST), faithful,
                          param_grid={"n_components": [1], "covariance_type": ["full", "tied"]})
    assert result.best_params == {"n_components": 1, "covariance_type": "full"}


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"param_grid": {}}, r"param_grid must be a non-empty dict"),
        ({"param_grid": [("n_components", [1])]}, r"param_grid must be a non-empty dict"),
        ({"param_grid": {"n_components": []}}, r"param_grid\['n_components'\] must be a non-empty"),
        ({"param_grid": {"n_components": 2}}, r"param_grid\['n_components'\] must be a list"),
        ({"param_grid": {"covariance_type": "full"}}, r"param_grid\['covariance_type'\]"),
        ({"param_grid": {"n_components": [1, 0]}},
         r"param_grid\['n_components'\] must contain integers >= 1; got 0"),
        ({"param_grid": {"n_components": [1.5]}},
         r"param_grid\['n_components'\] must contain integers >= 1; got 1.5"),
        ({"param_grid": {"n_components": [True]}},
         r"param_grid\['n_components'\] must contain integers >= 1; got True"),
        ({"param_grid": {"n_component": [1]}}, r"param_grid key 'n_component'"),
        ({"param_grid": {"concomitant": ["yes"]}}, r"param_grid\['concomitant'\]"),
        ({"param_grid": {"n_components": [1]}, "criterion": "BIC"}, r"criterion must be one of"),
        ({"param_grid": {"n_components": [1]}, "fit_params": [1]}, r"fit_params must be a dict"),
    ],
)
def test_bad_arguments_raise(faithful, kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_model(GaussianMixture(**FAST), faithful, **kwargs)


def test_concomitant_without_Z_raises(poisson_data):
    X, y = poisson_data
    with pytest.raises(ValueError, match=r"concomitant.*Z is None"):
        select_model(PoissonRegressionMixture(), X, y,
                     param_grid={"n_components": [2], "concomitant": [False, True]})


class _NoZ(BaseEstimator):
    """An estimator whose fit takes no concomitant covariates."""

    def __init__(self, n_components=1):
        self.n_components = n_components

    def fit(self, X, y=None):
        return self


def test_concomitant_for_an_estimator_without_Z_raises(faithful):
    with pytest.raises(ValueError, match=r"_NoZ.fit takes no concomitant"):
        select_model(_NoZ(), faithful, Z=faithful[:, :1],
                     param_grid={"n_components": [2], "concomitant": [True]})


def test_the_prototype_is_not_fitted(faithful):
    est = GaussianMixture(**FAST)
    select_model(est, faithful, param_grid={"n_components": [1, 2]})
    assert not hasattr(est, "weights_")
    assert est.n_components == 1


@pytest.mark.slow
def test_patent_table_prefers_weights_that_depend_on_rds():
    """Wang, Cockburn & Puterman (1998): K = 3 with weights depending on R&D intensity."""
    d = load_patents()
    X, y, Z = d["lgRD"].reshape(-1, 1), d["Patents"], d["RDS"].reshape(-1, 1)
    result = select_model(
        PoissonRegressionMixture(n_init=10, random_state=0), X, y, Z=Z,
        param_grid={"n_components": [1, 2, 3], "concomitant": [False, True]},
    )
    t = result.table
    assert result.best_params == {"n_components": 3, "concomitant": True}
    # one concomitant covariate adds K - 1 parameters
    assert (t["n_parameters"].iloc[1::2].to_numpy() - t["n_parameters"].iloc[::2].to_numpy()).tolist() == [0, 1, 2]
    three = t[t["n_components"] == 3].set_index("concomitant")
    assert three.loc[True, "loglik"] - three.loc[False, "loglik"] > 5  # LR statistic > 10


def test_a_fit_with_restarts_set_aside_says_how_many_in_its_note(faithful):
    # diagonal covariances, no floor: a restart lands a component on one whole-minute
    # waiting time (variance exactly 0) and is set aside; the others make the row
    with pytest.warns(DegenerateRestartWarning):
        result = select_model(
            GaussianMixture(n_init=5, reg_covar=0.0, random_state=1, covariance_type="diag"),
            faithful, param_grid={"n_components": [2, 5]},
        )
    t = result.table
    assert t["note"].iloc[0] == ""
    assert re.fullmatch(r"[1-4] of 5 restarts set aside", t["note"].iloc[1])
    assert np.isfinite(t["bic"]).all()
