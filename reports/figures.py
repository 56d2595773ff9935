"""Matplotlib figures of the report: inline PNG data URIs with alt text, plus SVG text.

Every figure is built from plain data by :func:`panel_figure`: a grid of panels, each with
labelled series ``(label, xs, ys, yerr)``, so the plotting code stays in one place.

Figures are made for a person to read:

* panels of at least :data:`PANEL_SIZE` inches in at most :data:`MAX_COLUMNS` columns, every
  text at least :data:`MIN_FONT_SIZE` points;
* the y axis of a bounded metric (accuracy, CKA, a cosine; see :data:`METRIC_RANGES`) never
  leaves the metric's range: the view is fitted to the data and then intersected with the range,
  and error bars are cut at the range (an interval ``0.9 ± 0.3`` of an accuracy is drawn up
  to 1);
* labels are typeset with matplotlib's mathtext: a TeX fragment such as ``h_{l+1}`` outside
  ``$...$`` is wrapped into math mode by :func:`typeset`, never shown raw;
* besides the PNG embedded in the page, each figure carries its SVG (text kept as text), which
  :func:`write_svgs` writes next to the page.

The figures use matplotlib's object-oriented API (:class:`matplotlib.figure.Figure` with an Agg
canvas), so no global backend is switched and pyplot is never imported.
"""

from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Smallest font size (points) of any text in a figure.
MIN_FONT_SIZE = 10.0
#: Font sizes (points) by role; all at least :data:`MIN_FONT_SIZE`.
FONT_SIZES = {"suptitle": 15.0, "title": 13.0, "label": 12.0, "ticks": 11.0, "legend": 10.0}
#: Size (width, height) in inches of one panel.
PANEL_SIZE = (5.0, 3.8)
#: Most panels in one row; further panels wrap to the next row.
MAX_COLUMNS = 3
#: Resolution of the inline PNG (dots per inch).
PNG_DPI = 100

#: The closed range of bounded metrics, keyed by their y-axis label.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "test accuracy": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "linear CKA": (0.0, 1.0),
    "refinement cosine": (-1.0, 1.0),
}


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]
    yerr: list[float] | None = None
    marker: str = "o"


@dataclass
class Panel:
    """One axes. ``yrange`` bounds the y axis (default: :data:`METRIC_RANGES` of ``ylabel``)."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    hline: float | None = None
    hline_label: str = ""
    logy: bool = False
    scatter: bool = False
    yrange: tuple[float, float] | None = None


@dataclass
class Figure:
    """An inline figure: ``src`` is a ``data:image/png;base64,...`` URI, ``svg`` the SVG text."""

    key: str
    title: str
    alt: str
    src: str
    svg: str = ""


def _finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


# A TeX-like fragment: a symbol followed by one or more sub/superscripts, ``h_{l+1}``, ``x^2``.
_TEX_FRAGMENT = re.compile(r"[A-Za-z\\]+(?:[_^](?:\{[^{}$]*\}|[A-Za-z0-9]))+")


def typeset(label: str) -> str:
    """``label`` with every TeX fragment outside ``$...$`` wrapped into mathtext.

    ``"cos(f, dL/dh_{l+1})"`` becomes ``"cos(f, dL/d$h_{l+1}$)"``; text already inside
    ``$...$`` and plain text are kept as they are (an escaped ``\\$`` is not a delimiter).
    """
    parts = re.split(r"((?<!\\)\$[^$]*(?<!\\)\$)", label)
    return "".join(part if part.startswith("$") and len(part) > 1
                   else _TEX_FRAGMENT.sub(lambda m: f"${m.group(0)}$", part) for part in parts)


def metric_range(panel: Panel) -> tuple[float, float] | None:
    """The y range ``panel`` must stay in: its own ``yrange``, else that of the metric named by
    its y label or, failing that, its title (:data:`METRIC_RANGES`)."""
    if panel.yrange is not None:
        return panel.yrange
    return METRIC_RANGES.get(panel.ylabel, METRIC_RANGES.get(panel.title))


def clipped_errors(ys: list[float], yerr: list[float],
                   bounds: tuple[float, float] | None) -> list[list[float]] | list[float]:
    """Error bars ``y ± e`` cut at ``bounds``: ``[[y - max(y - e, lo)], [min(y + e, hi) - y]]``.

    Without bounds the symmetric ``yerr`` is returned unchanged.
    """
    if bounds is None:
        return yerr
    low, high = bounds
    below = [max(0.0, y - max(y - e, low)) for y, e in zip(ys, yerr)]
    above = [max(0.0, min(y + e, high) - y) for y, e in zip(ys, yerr)]
    return [below, above]


def clip_limits(limits: tuple[float, float], bounds: tuple[float, float]) -> tuple[float, float]:
    """The view ``limits`` intersected with ``bounds`` (the whole range if they do not meet)."""
    low, high = max(limits[0], bounds[0]), min(limits[1], bounds[1])
    return (low, high) if low < high else bounds


def _integer_axis(panel: Panel) -> bool:
    """Whether every x value is an integer (an application index, a step): integer ticks."""
    xs = [x for series in panel.series for x in series.xs]
    return bool(xs) and all(isinstance(x, int) and not isinstance(x, bool) for x in xs)


def _draw_panel(ax, panel: Panel) -> None:
    bounds = metric_range(panel)
    for series in panel.series:
        if not series.xs:
            continue
        label = typeset(series.label)
        has_errors = series.yerr is not None and _finite(series.yerr)
        yerr = clipped_errors(series.ys, series.yerr, bounds) if has_errors else None
        if panel.scatter:
            ax.errorbar(series.xs, series.ys, yerr=yerr, fmt=series.marker, capsize=3,
                        label=label, ms=7)
        elif has_errors:
            ax.errorbar(series.xs, series.ys, yerr=yerr, marker=series.marker, capsize=3,
                        label=label, ms=6, lw=1.8)
        else:
            ax.plot(series.xs, series.ys, marker=series.marker, label=label, ms=5, lw=1.8)
    if panel.hline is not None:
        ax.axhline(panel.hline, color="0.5", ls="--", lw=1.2,
                   label=typeset(panel.hline_label) if panel.hline_label else None)
    if panel.logy:
        ax.set_yscale("log")
    if _integer_axis(panel):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if bounds is not None:
        ax.set_ylim(*clip_limits(ax.get_ylim(), bounds))
    ax.set_title(typeset(panel.title), fontsize=FONT_SIZES["title"])
    ax.set_xlabel(typeset(panel.xlabel), fontsize=FONT_SIZES["label"])
    ax.set_ylabel(typeset(panel.ylabel), fontsize=FONT_SIZES["label"])
    ax.tick_params(labelsize=FONT_SIZES["ticks"])
    ax.grid(alpha=0.3)
    if any(s.xs for s in panel.series):
        ax.legend(fontsize=FONT_SIZES["legend"], loc="best")


def draw(title: str, panels: list[Panel], *, columns: int = MAX_COLUMNS,
         panel_size: tuple[float, float] | None = None):
    """The matplotlib :class:`~matplotlib.figure.Figure` of ``panels`` on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MatplotlibFigure

    columns = max(1, min(columns, MAX_COLUMNS, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = (max(a, b) for a, b in zip(panel_size or PANEL_SIZE, PANEL_SIZE))
    fig = MatplotlibFigure(figsize=(width * columns, height * rows + 0.6),
                           layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        _draw_panel(ax, panel)
    fig.suptitle(typeset(title), fontsize=FONT_SIZES["suptitle"])
    return fig


def panel_figure(key: str, title: str, alt: str, panels: list[Panel], *,
                 columns: int = MAX_COLUMNS, panel_size: tuple[float, float] | None = None) -> Figure:
    """Render ``panels`` in a grid of at most ``columns`` (and :data:`MAX_COLUMNS`) columns.

    Returns the PNG as a data URI and the SVG text. ``panel_size`` (inches) can enlarge the
    panels; it never shrinks them below :data:`PANEL_SIZE`.
    """
    import matplotlib

    fig = draw(title, panels, columns=columns, panel_size=panel_size)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        svg = io.StringIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return Figure(key, title, alt, "data:image/png;base64," + encoded, svg.getvalue())


def write_svgs(figures: list[Figure | None], directory: str | Path) -> list[Path]:
    """Write each figure's SVG as ``directory/<key>.svg``; return the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for figure in figures:
        if figure is None or not figure.svg:
            continue
        path = directory / f"{figure.key}.svg"
        path.write_text(figure.svg, encoding="utf-8")
        written.append(path)
    return written
