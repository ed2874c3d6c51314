"""The bundled Old Faithful data."""

import numpy as np

from emfit.datasets import FAITHFUL_COLUMNS, load_faithful


def test_shape_dtype_and_first_rows():
    X = load_faithful()
    assert X.shape == (272, 2)
    assert X.dtype == np.float64
    assert X.flags.c_contiguous
    assert X[0].tolist() == [3.6, 79.0]
    assert X[1].tolist() == [1.8, 54.0]


def test_columns_are_named_by_faithful_columns():
    # eruption durations are minutes (1.6 to 5.1), waiting times up to 96 minutes
    X = load_faithful()
    eruptions = X[:, FAITHFUL_COLUMNS.index("eruptions")]
    waiting = X[:, FAITHFUL_COLUMNS.index("waiting")]
    assert len(FAITHFUL_COLUMNS) == X.shape[1]
    assert eruptions.max() == 5.1 and waiting.sum() == 19284


def test_known_summaries():
    # column sum and ranges of the shipped data (as in R: summary(faithful))
    X = load_faithful()
    assert X[:, 1].sum() == 19284
    assert X[:, 0].min() == 1.6 and X[:, 0].max() == 5.1
    assert X[:, 1].min() == 43 and X[:, 1].max() == 96
    assert np.isfinite(X).all()


def test_each_call_returns_a_fresh_array():
    a = load_faithful()
    a[0, 0] = -1.0
    assert load_faithful()[0, 0] == 3.6
