"""Covariance ellipses are drawn where the Gaussian puts its mass."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from emfit.plotting import (  # noqa: E402
    STYLE,
    covariance_ellipse,
    ellipse_parameters,
    house_style,
)


def test_axis_aligned_ellipse_has_standard_deviations_as_semi_axes():
    level = 1 - np.exp(-0.5)  # radius 1 in Mahalanobis distance
    width, height, angle = ellipse_parameters(np.diag([1.0, 9.0]), level)
    assert (width, height) == pytest.approx((6.0, 2.0))
    assert angle == pytest.approx(90.0) or angle == pytest.approx(-90.0)


def test_rotated_ellipse_angle_follows_major_axis():
    theta = np.radians(30.0)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cov = R @ np.diag([4.0, 0.25]) @ R.T
    width, height, angle = ellipse_parameters(cov)
    assert angle == pytest.approx(30.0)
    assert width / height == pytest.approx(4.0)


def test_ellipse_holds_the_stated_probability():
    rng = np.random.default_rng(1)
    cov = np.array([[2.0, 0.8], [0.8, 1.0]])
    y = rng.multivariate_normal([0, 0], cov, size=200_000)
    d2 = np.einsum("ij,jk,ik->i", y, np.linalg.inv(cov), y)
    width, _, _ = ellipse_parameters(cov, level=0.9)
    r2 = (width / 2) ** 2 / np.linalg.eigvalsh(cov)[1]
    assert np.mean(d2 <= r2) == pytest.approx(0.9, abs=3e-3)


def test_covariance_ellipse_is_added_to_axes():
    fig, ax = plt.subplots()
    patch = covariance_ellipse(ax, [1.0, 2.0], np.eye(2), edgecolor="k")
    assert patch in ax.patches
    assert patch.center == (1.0, 2.0)
    plt.close(fig)


def test_house_style_applies_the_style_file_and_restores():
    style = matplotlib.rc_params_from_file(STYLE, use_default_template=False)
    assert len(style) > 0 and style["axes.spines.top"] is False
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # whatever style an earlier test left behind
        before = matplotlib.rcParams.copy()
        assert before["axes.spines.top"] is True
        with house_style():
            for key, value in style.items():
                assert matplotlib.rcParams[key] == value, key
        restored = {key: matplotlib.rcParams[key] for key in style}
        assert restored == {key: before[key] for key in style}


@pytest.mark.parametrize(
    "cov, level, match",
    [
        (np.eye(3), 0.95, "cov must have shape"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), 0.95, "cov must be symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), 0.95, "positive semi-definite"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), 0.95, "finite"),
        (np.eye(2), 1.0, "level must lie in"),
    ],
)
def test_bad_covariances_raise(cov, level, match):
    with pytest.raises(ValueError, match=match):
        ellipse_parameters(cov, level)


class _FakeAnimation:
    def __init__(self, html):
        self.html = html

    def to_jshtml(self, **kwargs):
        return self.html


def test_offline_jshtml_drops_the_cdn_stylesheet_and_refuses_other_hosts():
    from emfit.plotting import offline_jshtml

    cdn = '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/font-awesome.min.css">'
    player = '<img id="_anim_img1"><input class="anim-slider" type="range">'
    html = offline_jshtml(_FakeAnimation(cdn + player), alt='EM "moves"', slider_label="t")
    assert html == ('<img alt="EM &quot;moves&quot;" id="_anim_img1">'
                    '<input aria-label="t" class="anim-slider" type="range">')
    with pytest.raises(ValueError, match="another host"):
        offline_jshtml(_FakeAnimation(player + '<script src="https://cdn.example/x.js"></script>'),
                       alt="frames")
    with pytest.raises(ValueError, match="alt must say"):
        offline_jshtml(_FakeAnimation(player), alt=" ")
    with pytest.raises(ValueError, match="no '<img"):
        offline_jshtml(_FakeAnimation("<div></div>"), alt="frames")
