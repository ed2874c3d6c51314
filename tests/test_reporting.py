"""emfit.reporting: the numbers the book prints are rounded once, the same everywhere."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emfit.reporting import below, glue_number, power_of_ten, rounded, rounded_frame

SPECS = [".0f", ".3f", ".6f", ".1e", ".3e", ".2g", ".4g", ".1%"]


@given(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from(SPECS),
)
def test_rounded_prints_as_the_value_does(x, spec):
    try:
        r = rounded(x, spec)
    except ValueError as err:  # only for values next to a rounding boundary
        assert "rounding boundary" in str(err)
        return
    assert format(r, spec) == format(x, spec).replace("-", "") or format(r, spec) == format(x, spec)
    assert rounded(r, spec, guard=0) == r  # idempotent
    assert not (r == 0 and math.copysign(1, r) < 0)  # never -0.0


@given(
    st.floats(min_value=1e-6, max_value=1e6),
    st.sampled_from(SPECS),
    st.floats(min_value=-1e-12, max_value=1e-12),
)
def test_round_off_does_not_change_what_is_printed(x, spec, eps):
    try:
        r = rounded(x, spec)
    except ValueError:
        return
    assert rounded(x * (1 + eps), spec) == r


def test_negative_zero_becomes_zero():
    assert format(rounded(-1e-17, ".4f"), ".4f") == "0.0000"
    assert format(rounded(np.array([-1e-17, 2e-17]), ".2f")[0], ".2f") == "0.00"


def test_tie_is_refused_with_the_format_named():
    with pytest.raises(ValueError, match=r"rounding boundary of format '\.2f'"):
        rounded(0.125 + 1e-15, ".2f")
    with pytest.raises(ValueError, match="rounding boundary"):
        rounded([1.0, 2.5000000001], ".0f")


def test_arrays_keep_their_shape_and_integers_stay_integers():
    out = rounded(np.arange(6.0).reshape(2, 3) / 7, ".2f")
    assert out.shape == (2, 3) and out[1, 2] == 0.71
    assert rounded(np.int64(1234), ",d") == 1234 and isinstance(rounded(7, "d"), int)
    assert rounded(0.1234, ".1%") == 0.123


@pytest.mark.parametrize(
    "value, spec, message",
    [
        (1.5, "d", "must be an integer"),
        (True, ".2f", "real number"),
        ("1.5", ".2f", "real number"),
        (math.nan, ".2f", "finite"),
        (math.inf, ".2e", "finite"),
        (1.0, "3f", "format specification"),
        (1.0, ".2", "needs a type"),
        (1, ".2d", "no precision"),
    ],
)
def test_bad_input_is_named(value, spec, message):
    with pytest.raises(ValueError, match=message):
        rounded(value, spec)


def test_below_states_the_bound_and_checks_it():
    assert below(1.8e-14, 1e-12) == "10⁻¹²"
    assert power_of_ten(1e3) == "10³"
    with pytest.raises(ValueError, match="below 1e-14"):
        below(np.array([1e-16, -2e-14]), 1e-14)
    with pytest.raises(ValueError, match="power of ten"):
        below(1e-16, 2e-12)
    with pytest.raises(ValueError, match="below"):
        below(math.nan, 1e-12)


def test_rounded_frame_rounds_each_column_by_its_spec():
    frame = pd.DataFrame({"a": [1.23456, -1e-18], "b": [1234.5678, 0.5], "name": ["x", "y"]})
    out = rounded_frame(frame, {"a": ".2f", "b": ".3g"})
    assert out["a"].tolist() == [1.23, 0.0] and out["b"].tolist() == [1230.0, 0.5]
    assert out["name"].tolist() == ["x", "y"] and frame["a"][0] == 1.23456
    assert rounded_frame(frame, ".1f")["b"].tolist() == [1234.6, 0.5]
    with pytest.raises(ValueError, match="'c'"):
        rounded_frame(frame, {"c": ".2f"})


def test_glue_stores_the_rounded_value_and_returns_nothing(monkeypatch):
    import myst_nb

    from emfit.reporting import glue_bound

    stored = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.update({name: (value, display)}))
    assert glue_number("x", 2.718281828, ".3f") is None
    assert glue_bound("r", 3e-15, 1e-12) is None
    assert stored == {"x": (2.718, False), "r": ("10⁻¹²", False)}
    with pytest.raises(ValueError, match="rounding boundary"):
        glue_number("y", 0.125 + 1e-15, ".2f")
    assert "y" not in stored


def test_stopping_margin_measures_the_closest_decision():
    from emfit import GaussianMixture
    from emfit.reporting import stopping_margin

    assert stopping_margin([-10.0, -9.0, -8.999, -8.99899], tol=1e-4) == pytest.approx(0.001 / (1e-4 * 8.999) - 1, rel=1e-6)
    x = np.random.default_rng(0).normal(size=(300, 1)) * [[1.0]] + np.repeat([[0.0], [2.0]], 150, axis=0)
    gm = GaussianMixture(2, tol=1e-6, random_state=0).fit(x)
    margin = stopping_margin(gm.history_, 1e-6)
    # the run stopped where the ratio crossed 1: its last ratio is at most 1, the others above
    last = abs(gm.history_[-1] - gm.history_[-2]) / (1e-6 * abs(gm.history_[-1]))
    assert last <= 1 and 0 <= margin <= 1 - last + 1e-12
    assert stopping_margin([-1.0], 1e-3) == math.inf
    with pytest.raises(ValueError, match="tol"):
        stopping_margin([-1.0, -0.5], 0)
    with pytest.raises(ValueError, match="history"):
        stopping_margin([[-1.0, -0.5]], 1e-3)
