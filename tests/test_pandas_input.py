"""pandas input, as scikit-learn takes it: DataFrames for X, Series for y and exposure.

A DataFrame gives the same fit as its array; string column names become
``feature_names_in_``, are checked on new data, and are forgotten when the estimator
is refitted on an array (scikit-learn's rules, by its own helper).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

from emfit import BernoulliMixture, GaussianMixture
from emfit._validation import ArgumentTypeError, check_array, check_counts
from emfit.em import ConvergenceWarning
from emfit.poisson import PoissonRegressionMixture

RTOL = 1e-12


def _gaussian_data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    X = rng.normal(size=(n, 3)) + np.where(z[:, None], 0.0, 4.0) * [1.0, -1.0, 0.5]
    return pd.DataFrame(X, columns=["height", "weight", "age"])


def _binary_data(seed=0, n=600):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.3
    X = rng.random((n, 4)) < np.where(z[:, None], 0.85, 0.15)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"])  # bool columns


def _poisson_data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, size=n)
    z = rng.random(n) < 0.35
    exposure = rng.uniform(0.5, 2.0, size=n)
    y = rng.poisson(exposure * np.exp(np.where(z, 0.5 + 1.5 * x, 2.5 - 0.5 * x)))
    index = rng.permutation(n) + 1000  # an index that is not 0..n-1: position counts
    X = pd.DataFrame({"dose": x}, index=index)
    return X, pd.Series(y, index=index, name="count"), pd.Series(exposure, index=index)


def _assert_same(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=0)


# --------------------------------------------------------------------- same numbers
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_gaussian_dataframe_fits_like_its_array(covariance_type):
    df = _gaussian_data()
    X = df.to_numpy()
    a = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(df)
    b = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    _assert_same(a.weights_, b.weights_)
    _assert_same(a.means_, b.means_)
    _assert_same(a.covariances_, b.covariances_)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=RTOL)
    for method in ("predict_proba", "score_samples", "predict"):
        _assert_same(getattr(a, method)(df), getattr(b, method)(X))
    for method in ("score", "bic", "aic"):
        assert getattr(a, method)(df) == pytest.approx(getattr(b, method)(X), rel=RTOL)
    np.testing.assert_array_equal(a.fit_predict(df), b.fit_predict(X))


def test_bernoulli_dataframe_fits_like_its_array():
    df = _binary_data()
    X = df.to_numpy()
    a = BernoulliMixture(2, random_state=0).fit(df)
    b = BernoulliMixture(2, random_state=0).fit(X)
    _assert_same(a.weights_, b.weights_)
    _assert_same(a.probabilities_, b.probabilities_)
    for method in ("predict_proba", "score_samples", "predict"):
        _assert_same(getattr(a, method)(df), getattr(b, method)(X))
    for method in ("score", "bic", "aic"):
        assert getattr(a, method)(df) == pytest.approx(getattr(b, method)(X), rel=RTOL)


def test_poisson_dataframe_and_series_fit_like_arrays():
    X, y, exposure = _poisson_data()
    arrays = X.to_numpy(), y.to_numpy(), exposure.to_numpy()
    a = PoissonRegressionMixture(2, random_state=0).fit(X, y, exposure)
    b = PoissonRegressionMixture(2, random_state=0).fit(*arrays)
    _assert_same(a.weights_, b.weights_)
    _assert_same(a.intercept_, b.intercept_)
    _assert_same(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.feature_names_in_, ["dose"])
    for method in ("predict_proba", "score_samples", "predict"):
        _assert_same(getattr(a, method)(X, y, exposure), getattr(b, method)(*arrays))
    for method in ("score", "bic", "aic"):
        assert getattr(a, method)(X, y, exposure) == pytest.approx(
            getattr(b, method)(*arrays), rel=RTOL
        )
    _assert_same(a.predict_mean(X, exposure), b.predict_mean(arrays[0], arrays[2]))
    _assert_same(a.observed_information(X, y, exposure), b.observed_information(*arrays))


def test_poisson_series_y_with_a_plain_array_x():
    X, y, _ = _poisson_data()
    a = PoissonRegressionMixture(2, random_state=0).fit(X.to_numpy(), y)
    b = PoissonRegressionMixture(2, random_state=0).fit(X.to_numpy(), y.to_numpy())
    _assert_same(a.coef_, b.coef_)
    assert not hasattr(a, "feature_names_in_")


# --------------------------------------------------------------------- feature names
@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: GaussianMixture(2, random_state=0), _gaussian_data),
        (lambda: BernoulliMixture(2, random_state=0), _binary_data),
    ],
)
def test_feature_names_set_checked_and_cleared(make, data):
    df = data()
    model = make().fit(df)
    assert isinstance(model.feature_names_in_, np.ndarray)
    assert model.feature_names_in_.dtype == object
    np.testing.assert_array_equal(model.feature_names_in_, df.columns)

    renamed = df.rename(columns={df.columns[1]: "other"})
    with pytest.raises(ValueError, match=r"X has other column names") as info:
        model.predict(renamed)
    assert "- other" in str(info.value) and f"- {df.columns[1]}" in str(info.value)
    with pytest.raises(ValueError, match="same order"):
        model.score_samples(df[df.columns[::-1]])

    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(df.to_numpy())

    model.fit(df.to_numpy())  # refit on an array: the old names go
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names"):
        model.predict(df)


def test_poisson_wrong_column_names_rejected():
    X, y, exposure = _poisson_data()
    model = PoissonRegressionMixture(2, random_state=0).fit(X, y, exposure)
    with pytest.raises(ValueError, match=r"X has other column names(.|\n)*- lgRD"):
        model.predict(X.rename(columns={"dose": "lgRD"}), y, exposure)
    model.fit(X.to_numpy(), y, exposure)
    assert not hasattr(model, "feature_names_in_")


def test_non_string_column_names_are_not_feature_names():
    df = _gaussian_data()
    df.columns = [0, 1, 2]
    model = GaussianMixture(2, random_state=0).fit(df)
    assert not hasattr(model, "feature_names_in_")
    mixed = df.set_axis(["a", 1, 2], axis=1)
    with pytest.raises(ValueError, match="X has column names of mixed types"):
        GaussianMixture(2).fit(mixed)


def test_sklearn_dataframe_column_names_check():
    # scikit-learn's own check (not in its default list): fit, names, every method.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_dataframe_column_names_consistency(
            "GaussianMixture", GaussianMixture(2, random_state=0)
        )


# --------------------------------------------------------------------- conversion
def test_non_numeric_column_is_rejected_by_name():
    df = _gaussian_data().assign(city=["Oslo", "Rome", "Lima"] * 100)
    with pytest.raises(ValueError, match=r"X must contain numeric data; column 'city'"):
        GaussianMixture(2).fit(df)
    with pytest.raises(ValueError, match=r"column 'group'"):
        GaussianMixture(2).fit(_gaussian_data().assign(group=pd.Categorical(["a", "b", "c"] * 100)))
    with pytest.raises(ValueError, match=r"column 'when'"):
        check_array(pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2021-01-01"])}))


def test_object_columns_of_numbers_and_nullable_dtypes_convert():
    df = pd.DataFrame(
        {
            "a": np.array([1, 2.5, 3], dtype=object),
            "b": pd.array([1, 2, 3], dtype="Int64"),
            "c": [True, False, True],
        }
    )
    assert check_array(df).tolist() == [[1.0, 1.0, 1.0], [2.5, 2.0, 0.0], [3.0, 3.0, 1.0]]
    with pytest.raises(ValueError, match="X contains NaN"):
        check_array(pd.DataFrame({"b": pd.array([1, None], dtype="Int64")}))
    with pytest.raises(ArgumentTypeError, match=r"column 'a' has dtype object"):
        check_array(pd.DataFrame({"a": np.array([1, "x"], dtype=object)}))


def test_series_inputs():
    assert check_counts(pd.Series([0, 3, 1], index=[7, 8, 9])).tolist() == [0.0, 3.0, 1.0]
    with pytest.raises(ValueError, match="y must contain numeric data"):
        check_counts(pd.Series(["a", "b"]))
    X, y, exposure = _poisson_data()
    with pytest.raises(ValueError, match="exposure must be positive"):
        PoissonRegressionMixture(2).fit(X, y, -exposure)
    with pytest.raises(ValueError, match="y contains NaN"):
        PoissonRegressionMixture(2).fit(X, y.astype("Int64").where(y > 0, pd.NA))


def test_bernoulli_non_binary_dataframe_rejected():
    df = _binary_data().astype(float)
    df.iloc[3, 2] = 0.5
    message = r"X must contain only 0 and 1; got 0.5 at position \(3, 2\)"
    with pytest.raises(ValueError, match=message):
        BernoulliMixture(2).fit(df)
