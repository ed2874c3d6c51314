"""Figure helpers and the house Matplotlib style of the book.

Chapters call these so that every figure looks alike and plotting code stays out
of the prose: covariance ellipses here; responsibility maps and log-likelihood
traces join as chapters need them.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from html import escape
from importlib import resources
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Ellipse

__all__ = [
    "STYLE",
    "house_style",
    "use_house_style",
    "ellipse_parameters",
    "covariance_ellipse",
    "plot_bic",
    "offline_jshtml",
]

#: Path of the Matplotlib style file shipped with emfit.
STYLE = str(resources.files("emfit").joinpath("emfit.mplstyle"))


def use_house_style() -> None:
    """Apply the emfit Matplotlib style globally.

    Examples
    --------
    >>> use_house_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["axes.spines.top"]
    False
    """
    import matplotlib.pyplot as plt

    plt.style.use(STYLE)


def house_style() -> AbstractContextManager[None]:
    """Context manager applying the emfit style to the figures made inside it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with house_style():
    ...     fig, ax = plt.subplots()
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    return plt.style.context(STYLE)


def _check_mean_cov(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.shape != (2,):
        raise ValueError(f"mean must have shape (2,), got {mean.shape}")
    if cov.shape != (2, 2):
        raise ValueError(f"cov must have shape (2, 2), got {cov.shape}")
    if not np.all(np.isfinite(cov)) or not np.all(np.isfinite(mean)):
        raise ValueError("mean and cov must be finite")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * np.abs(cov).max(initial=1.0)):
        raise ValueError("cov must be symmetric")
    if np.linalg.eigvalsh(cov)[0] < -1e-12 * np.abs(cov).max(initial=1.0):
        raise ValueError("cov must be positive semi-definite")
    return mean, cov


def ellipse_parameters(cov: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Axes and orientation of the ellipse holding ``level`` of a 2-D Gaussian's mass.

    For ``y ~ N(mu, cov)`` in two dimensions, the squared Mahalanobis distance
    ``(y - mu)^T cov^{-1} (y - mu)`` is chi-squared with 2 degrees of freedom, so the
    ellipse ``{y : distance^2 <= r^2}`` with ``r^2 = -2 log(1 - level)`` holds
    probability ``level``.

    Parameters
    ----------
    cov : array_like, shape (2, 2)
        Symmetric positive semi-definite covariance.
    level : float, default 0.95
        Probability mass inside the ellipse, in (0, 1).

    Returns
    -------
    width, height : float
        Full lengths of the major and minor axes.
    angle : float
        Angle of the major axis, in degrees counter-clockwise from the x-axis.

    Examples
    --------
    >>> w, h, a = ellipse_parameters(np.diag([4.0, 1.0]), level=1 - np.exp(-0.5))
    >>> float(w), float(h), float(a)
    (4.0, 2.0, 0.0)
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    _, cov = _check_mean_cov(np.zeros(2), cov)
    radius = np.sqrt(-2.0 * np.log1p(-level))
    eigval, eigvec = np.linalg.eigh(cov)
    eigval = np.clip(eigval, 0.0, None)
    major = eigvec[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    angle = (angle + 90.0) % 180.0 - 90.0  # an axis has no sign: report it in [-90, 90)
    width, height = 2.0 * radius * np.sqrt(eigval[::-1])
    return float(width), float(height), angle


def covariance_ellipse(
    ax: Axes, mean: np.ndarray, cov: np.ndarray, level: float = 0.95, **kwargs
) -> Ellipse:
    """Draw the ``level`` probability ellipse of ``N(mean, cov)`` on ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    mean : array_like, shape (2,)
        Centre.
    cov : array_like, shape (2, 2)
        Covariance (symmetric positive semi-definite).
    level : float, default 0.95
        Probability mass inside the ellipse.
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (default: no fill).

    Returns
    -------
    matplotlib.patches.Ellipse
        The patch, already added to ``ax``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> patch = covariance_ellipse(ax, [0, 0], [[2, 1], [1, 2]], edgecolor="k")
    >>> round(patch.angle, 6)
    45.0
    >>> plt.close(fig)
    """
    mean, cov = _check_mean_cov(mean, cov)
    width, height, angle = ellipse_parameters(cov, level)
    kwargs.setdefault("fill", False)
    kwargs.setdefault("linewidth", 1.8)
    patch = Ellipse(tuple(mean), width, height, angle=angle, **kwargs)
    ax.add_patch(patch)
    return patch


#: Markers of the lines of :func:`plot_bic`, in turn.
_BIC_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def plot_bic(
    table, *, x: str = "n_components", y: str = "bic", by=None, ax: Axes | None = None
) -> Axes:
    """Plot a criterion against the number of components, one line per model structure.

    The figure of R's ``plot(Mclust(...), what = "BIC")``, for the table of
    :func:`emfit.selection.select_model`, with emfit's sign: **lower is better**
    (mclust plots ``-BIC``). The best point (the first row in table order within a
    relative ``1e-8`` of the minimum, as :func:`~emfit.selection.select_model`
    chooses) is circled.

    Parameters
    ----------
    table : pandas.DataFrame
        ``ModelSelection.table``: the grid columns, then ``loglik`` and the criteria.
    x : str, default="n_components"
        Column on the horizontal axis.
    y : str, default="bic"
        Column on the vertical axis (``"bic"``, ``"icl"``, ``"aic"``, ``"loglik"``, ...).
    by : list of str, optional
        Columns whose combinations make the lines (one line each, with its own
        marker and a legend entry ``key=value, ...``). Default: every grid column
        (those before ``loglik``) except ``x``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes (``plt.gca()``) by default.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``x``, ``y`` or a column of ``by`` is not in the table, or ``y`` has no
        finite value.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from emfit import GaussianMixture
    >>> from emfit.datasets import load_faithful
    >>> from emfit.selection import select_model
    >>> result = select_model(GaussianMixture(random_state=0), load_faithful(),
    ...     param_grid={"n_components": [1, 2, 3], "covariance_type": ["diag", "spherical"]})
    >>> fig, ax = plt.subplots()
    >>> ax = plot_bic(result.table, ax=ax)
    >>> [line.get_label() for line in ax.lines]
    ['covariance_type=diag', 'covariance_type=spherical']
    >>> plt.close(fig)
    """
    columns = list(table.columns)
    if by is None:
        grid = columns[: columns.index("loglik")] if "loglik" in columns else []
        by = [c for c in grid if c != x]
    else:
        by = [by] if isinstance(by, str) else list(by)
    for name in (x, y, *by):
        if name not in columns:
            raise ValueError(f"table has no column {name!r}; columns: {columns}")
    values = table[y].to_numpy(dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError(f"column {y!r} has no finite value to plot")
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    groups = table.groupby(by, sort=False, dropna=False) if by else [((), table)]
    for i, (key, rows) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{name}={value}" for name, value in zip(by, key)) or y
        rows = rows[np.isfinite(rows[y].to_numpy(dtype=float))]
        ax.plot(rows[x], rows[y], marker=_BIC_MARKERS[i % len(_BIC_MARKERS)], label=label)
    from .em import _first_minimum

    best = _first_minimum(values)
    ax.scatter(
        [table[x].iloc[best]], [values[best]], s=200, facecolors="none", edgecolors="k",
        linewidths=1.5, zorder=3, label="best",
    )
    ax.set_xlabel("number of components K" if x == "n_components" else x)
    ax.set_ylabel(f"{y.upper()} (lower is better)" if y in ("bic", "icl", "aic") else y)
    if x == "n_components":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return ax


#: The stylesheets that Matplotlib's JavaScript animation links from a CDN.
_EXTERNAL_STYLESHEET = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.IGNORECASE)


def offline_jshtml(animation: Any, *, alt: str, slider_label: str = "frame", **kwargs: Any) -> str:
    """The HTML of a Matplotlib animation that plays offline and tells what it shows.

    ``animation.to_jshtml()`` embeds every frame, but links Font Awesome from a CDN for
    the icons of its buttons, and its image and slider have no text for screen readers.
    This returns the same HTML without that link (the book's theme serves Font Awesome
    itself), with ``alt`` text on the image and a label on the slider, and checks that
    nothing else leaves the page.

    Parameters
    ----------
    animation : matplotlib.animation.Animation
        The animation, e.g. a ``FuncAnimation``.
    alt : str
        What the frames show (the image's alt text); must not be empty.
    slider_label : str, default="frame"
        What the slider chooses (its ``aria-label``).
    **kwargs
        Passed to ``to_jshtml`` (``fps``, ``embed_frames``, ``default_mode``).

    Returns
    -------
    str
        Self-contained HTML: frames as data URIs, controls in inline JavaScript.

    Raises
    ------
    ValueError
        If ``alt`` is empty, or if the HTML still refers to another host (a future
        Matplotlib might) or has no image or slider to describe.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from matplotlib.animation import FuncAnimation
    >>> from emfit.plotting import offline_jshtml
    >>> fig, ax = plt.subplots()
    >>> animation = FuncAnimation(fig, lambda t: ax.set_title(str(t)), frames=2)
    >>> html = offline_jshtml(animation, alt="A title that counts frames")
    >>> plt.close(fig)
    >>> "https://" not in html and "http://" not in html
    True
    >>> 'alt="A title that counts frames"' in html and 'aria-label="frame"' in html
    True
    """
    if not str(alt).strip():
        raise ValueError("alt must say what the animation shows, got an empty string")
    html = _EXTERNAL_STYLESHEET.sub("", animation.to_jshtml(**kwargs))
    described = (('<img id="_anim_img', f'<img alt="{escape(alt)}" id="_anim_img'),
                 ('class="anim-slider"', f'aria-label="{escape(slider_label)}" class="anim-slider"'))
    for anchor, replacement in described:
        if anchor not in html:
            raise ValueError(f"the animation's HTML has no {anchor!r} to describe")
        html = html.replace(anchor, replacement, 1)
    external = re.findall(r"(?:src|href)=[\"'](https?://[^\"']+)", html)
    if external:
        raise ValueError(f"the animation's HTML still refers to another host: {external}")
    return html
