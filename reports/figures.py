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
* axis labels are typeset with matplotlib's mathtext: a TeX fragment such as ``h_{l+1}``
  outside ``$...$`` is wrapped into math mode by :func:`typeset`, never shown raw; titles and
  legend entries are names (families, tasks, architectures, variants) and render as written
  (``block_orthogonal``, ``delayed_recall``; only an explicit ``$...$`` is math there);
* legends sit outside the data: one legend below the figure when every panel shows the same
  series, else one below each panel;
* a panel with a ``reference`` (the identity arm of a dose-response) shows it as a dotted line
  with its interval shaded, and its point ringed; the y view is fitted to the data and the
  reference, not stretched to a chance line far below them (:func:`data_limits`);
* long titles and axis labels wrap to the width of their panel or figure, never clipped;
* besides the PNG embedded in the page, each figure carries its SVG (text kept as text), which
  :func:`write_svgs` writes next to the page.

The figures use matplotlib's object-oriented API (:class:`matplotlib.figure.Figure` with an Agg
canvas), so no global backend is switched and pyplot is never imported.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from entangled.atomic_io import write_text_atomic

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
class Reference:
    """A reference arm drawn across a panel: ``y`` with its interval ``[low, high]`` shaded,
    labelled ``label``; ``x`` (optional) is where the arm's own point lies, which is ringed."""

    y: float
    low: float
    high: float
    label: str = "identity"
    x: float | None = None


@dataclass
class Panel:
    """One axes. ``yrange`` bounds the y axis (default: :data:`METRIC_RANGES` of ``ylabel``).

    ``hline`` (e.g. chance) is drawn when it lies in the view; it does not stretch the view
    when ``fit_to_data`` (the data and the ``reference`` decide the view; a line outside it is
    named in the legend instead). ``math_labels``: wrap bare TeX fragments of the axis labels
    into math (:func:`typeset`); ``False`` for labels made of names (an explicit ``$...$`` is
    math either way)."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    hline: float | None = None
    hline_label: str = ""
    logy: bool = False
    scatter: bool = False
    yrange: tuple[float, float] | None = None
    reference: Reference | None = None
    fit_to_data: bool = False
    math_labels: bool = True
    categories: list[str] | None = None
    band: tuple[float, float] | None = None
    band_label: str = ""


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


# A TeX-like fragment: one symbol (a letter or a ``\\command``) followed by one or more sub- or
# superscripts, ``h_{l+1}``, ``x^2``, ``f_l``, ``\\sigma_i``. A symbol inside a longer word and a
# one-character script followed by more word characters are not math: identifiers such as
# ``block_orthogonal``, ``sparse_unit_norm`` or ``delayed_recall`` are names and stay as written.
_TEX_FRAGMENT = re.compile(
    r"(?<![\w\\])(?:[A-Za-z]|\\[A-Za-z]+)(?:[_^](?:\{[^{}$]*\}|[A-Za-z0-9](?![\w{])))+")


def typeset(label: str) -> str:
    """``label`` with every TeX fragment outside ``$...$`` wrapped into mathtext.

    ``"cos(f, dL/dh_{l+1})"`` becomes ``"cos(f, dL/d$h_{l+1}$)"``; text already inside
    ``$...$`` and plain text are kept as they are (an escaped ``\\$`` is not a delimiter).
    """
    parts = re.split(r"((?<!\\)\$[^$]*(?<!\\)\$)", label)
    return "".join(part if part.startswith("$") and len(part) > 1
                   else _TEX_FRAGMENT.sub(lambda m: f"${m.group(0)}$", part) for part in parts)


def wrap(text: str, width_in: float, font_size: float) -> str:
    r"""``text`` broken into lines that fit ``width_in`` inches at ``font_size`` points (an
    average glyph is taken as 0.6 em wide); text with ``$...$`` math is left whole.

    >>> wrap("Accuracy against the composite skip gain over depth", 3.0, 12.0)
    'Accuracy against the composite\nskip gain over depth'
    """
    import textwrap

    if "$" in text:
        return text
    columns = max(10, int(width_in * 72 / (0.6 * font_size)))
    return "\n".join(textwrap.wrap(text, columns)) or text


def data_limits(panel: Panel, bounds: tuple[float, float] | None, pad: float = 0.08
                ) -> tuple[float, float] | None:
    """The y view of a ``fit_to_data`` panel: the span of its points with their error bars
    (cut at ``bounds``) and of its reference interval, padded by ``pad`` of the span on each
    side and kept inside ``bounds``; ``None`` when there is no finite point.

    >>> data_limits(Panel("t", "x", "test accuracy", [Series("a", [0, 1], [0.90, 0.95],
    ...             [0.01, 0.01])], hline=0.1, fit_to_data=True), (0.0, 1.0))
    (0.8844, 0.9656)
    """
    values = []
    for series in panel.series:
        errors = series.yerr if series.yerr is not None and _finite(series.yerr) else None
        for i, y in enumerate(series.ys):
            if not (isinstance(y, (int, float)) and math.isfinite(y)):
                continue
            e = errors[i] if errors is not None else 0.0
            values += [y - e, y + e]
    if panel.reference is not None:
        values += [v for v in (panel.reference.low, panel.reference.high, panel.reference.y)
                   if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return None
    if bounds is not None:
        values = [min(max(v, bounds[0]), bounds[1]) for v in values]
    low, high = min(values), max(values)
    span = high - low if high > low else max(abs(high) * 0.05, 0.01)
    low, high = low - pad * span, high + pad * span
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return round(low, 6), round(high, 6)


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


def _draw_forest(ax, panel: Panel) -> None:
    """A forest plot: categories top to bottom, values with horizontal error bars."""
    categories = panel.categories or []
    rows = list(range(len(categories)))
    if panel.band is not None:
        ax.axvspan(*panel.band, color="tab:green", alpha=0.12, lw=0,
                   label=panel.band_label or None)
    ax.axvline(0.0, color="0.4", lw=1.2)
    for series in panel.series:
        errors = series.yerr if series.yerr is not None and _finite(series.yerr) else None
        ax.errorbar(series.xs, rows[:len(series.xs)], xerr=errors, fmt="o", capsize=3, ms=6,
                    label=series.label)
    ax.set_yticks(rows, categories, fontsize=FONT_SIZES["ticks"])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_title(wrap(panel.title, PANEL_SIZE[0] - 0.3, FONT_SIZES["title"]),
                 fontsize=FONT_SIZES["title"])
    ax.set_xlabel(wrap(panel.xlabel, PANEL_SIZE[0] - 0.3, FONT_SIZES["label"]),
                  fontsize=FONT_SIZES["label"])
    ax.tick_params(axis="x", labelsize=FONT_SIZES["ticks"])
    ax.grid(axis="x", alpha=0.3)


def _draw_panel(ax, panel: Panel, *, legend: bool = True) -> None:
    if panel.categories is not None:
        _draw_forest(ax, panel)
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=FONT_SIZES["legend"], loc="upper center",
                      bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
        return
    bounds = metric_range(panel)
    for series in panel.series:
        if not series.xs:
            continue
        yerr = (clipped_errors(series.ys, series.yerr, bounds)
                if series.yerr is not None and _finite(series.yerr) else None)
        has_errors = yerr is not None
        if panel.scatter:
            ax.errorbar(series.xs, series.ys, yerr=yerr, fmt=series.marker, capsize=3,
                        label=series.label, ms=7)
        elif has_errors:
            ax.errorbar(series.xs, series.ys, yerr=yerr, marker=series.marker, capsize=3,
                        label=series.label, ms=6, lw=1.8)
        else:
            ax.plot(series.xs, series.ys, marker=series.marker, label=series.label, ms=5, lw=1.8)
    reference = panel.reference
    if reference is not None and math.isfinite(reference.y):
        ax.axhline(reference.y, color="tab:green", ls=":", lw=1.6, label=reference.label)
        if math.isfinite(reference.low) and math.isfinite(reference.high):
            ax.axhspan(reference.low, reference.high, color="tab:green", alpha=0.12, lw=0)
        if reference.x is not None:
            ax.plot([reference.x], [reference.y], ls="none", marker="o", ms=13, mfc="none",
                    mec="tab:green", mew=2)
    view = data_limits(panel, bounds) if panel.fit_to_data else None
    if panel.hline is not None:
        label = panel.hline_label
        if view is None or view[0] <= panel.hline <= view[1]:
            ax.axhline(panel.hline, color="0.5", ls="--", lw=1.2, label=label or None)
        elif label:  # outside the fitted view: named, not drawn
            where = "below" if panel.hline < view[0] else "above"
            ax.plot([], [], color="0.5", ls="--", lw=1.2,
                    label=f"{label} {_format_tick(panel.hline)} ({where} the view)")
    if panel.logy:
        ax.set_yscale("log")
    if _integer_axis(panel):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if view is not None:
        ax.set_ylim(*view)
    elif bounds is not None:
        ax.set_ylim(*clip_limits(ax.get_ylim(), bounds))
    ax.set_title(wrap(panel.title, PANEL_SIZE[0] - 0.3, FONT_SIZES["title"]),
                 fontsize=FONT_SIZES["title"])
    xlabel, ylabel = ((typeset(panel.xlabel), typeset(panel.ylabel)) if panel.math_labels
                      else (panel.xlabel, panel.ylabel))
    ax.set_xlabel(wrap(xlabel, PANEL_SIZE[0] - 0.3, FONT_SIZES["label"]),
                  fontsize=FONT_SIZES["label"])
    ax.set_ylabel(wrap(ylabel, PANEL_SIZE[1] - 0.3, FONT_SIZES["label"]),
                  fontsize=FONT_SIZES["label"])
    ax.tick_params(labelsize=FONT_SIZES["ticks"])
    ax.grid(alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=FONT_SIZES["legend"], loc="upper center",
                  bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)


def _format_tick(value: float) -> str:
    return f"{value:.3g}"


def shared_legend(panels: list[Panel]) -> bool:
    """Whether one legend serves every panel: more than one panel, and every panel shows the
    same series labels (and the same reference and line labels)."""
    def labels(p: Panel) -> tuple:
        return (tuple(s.label for s in p.series if s.xs),
                p.reference.label if p.reference else None,
                p.hline_label if p.hline is not None else None,
                p.band_label if p.band is not None else None)

    return len(panels) > 1 and len({labels(p) for p in panels}) == 1


def draw(title: str, panels: list[Panel], *, columns: int = MAX_COLUMNS,
         panel_size: tuple[float, float] | None = None):
    """The matplotlib :class:`~matplotlib.figure.Figure` of ``panels`` on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MatplotlibFigure

    columns = max(1, min(columns, MAX_COLUMNS, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = (max(a, b) for a, b in zip(panel_size or PANEL_SIZE, PANEL_SIZE))
    rows_per_panel = max((len(p.categories) for p in panels if p.categories), default=0)
    height = max(height, 0.42 * rows_per_panel + 1.6)  # a forest plot grows with its rows
    shared = shared_legend(panels)
    legend_rows = 0.0 if shared else 0.7  # each panel's own legend sits below it
    fig = MatplotlibFigure(figsize=(width * columns, (height + legend_rows) * rows + 1.0),
                           layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        _draw_panel(ax, panel, legend=not shared)
    if shared:
        handles, labels = next(ax.get_legend_handles_labels() for ax in axes.flat
                               if ax.get_legend_handles_labels()[0])
        fig.legend(handles, labels, loc="outside lower center", fontsize=FONT_SIZES["legend"],
                   ncols=min(len(labels), max(1, int(width * columns / 2.2))), frameon=False)
    fig.suptitle(wrap(title, width * columns - 0.4, FONT_SIZES["suptitle"]),
                 fontsize=FONT_SIZES["suptitle"])
    return fig


def panel_figure(key: str, title: str, alt: str, panels: list[Panel], *,
                 columns: int = MAX_COLUMNS, panel_size: tuple[float, float] | None = None) -> Figure:
    """Render ``panels`` in a grid of at most ``columns`` (and :data:`MAX_COLUMNS`) columns.

    Returns the PNG as a data URI and the SVG text. ``panel_size`` (inches) can enlarge the
    panels; it never shrinks them below :data:`PANEL_SIZE`. Inside :func:`drawn_in_parallel`
    the figure is returned empty and drawn when that block ends.
    """
    figure = Figure(key, title, alt, "")
    job = (key, title, panels, columns, panel_size)
    if _DEFERRED is not None:
        _DEFERRED.append((figure, job))
    else:
        figure.src, figure.svg = _drawn(job)
    return figure


def _drawn(job: tuple) -> tuple[str, str]:
    """The PNG data URI and the SVG text of one figure (``job``: see :func:`panel_figure`)."""
    import matplotlib

    key, title, panels, columns, panel_size = job
    fig = draw(title, panels, columns=columns, panel_size=panel_size)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        svg = io.StringIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return "data:image/png;base64," + encoded, svg.getvalue()


_DEFERRED: list[tuple[Figure, tuple]] | None = None


@contextlib.contextmanager
def drawn_in_parallel(jobs: int) -> Iterator[None]:
    """Within the block, :func:`panel_figure` returns each figure at once, empty, and the
    figures are drawn when the block ends, on ``jobs`` processes (one: here, in order). Each
    figure is the same, byte for byte, as one drawn at once: drawing depends on nothing but
    its panels and matplotlib's defaults, which every process starts from."""
    global _DEFERRED
    if _DEFERRED is not None:  # nested: the outer block draws
        yield
        return
    _DEFERRED = deferred = []
    try:
        yield
    finally:
        _DEFERRED = None
    jobs = max(1, min(int(jobs), len(deferred)))
    # the figures with the most panels first, so that the processes finish together
    order = sorted(range(len(deferred)), key=lambda i: -len(deferred[i][1][2]))
    if jobs == 1:
        drawn = [_drawn(deferred[i][1]) for i in order]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            drawn = list(pool.map(_drawn, [deferred[i][1] for i in order]))
    for i, (src, svg) in zip(order, drawn):
        deferred[i][0].src, deferred[i][0].svg = src, svg


@contextlib.contextmanager
def drawn_at_once() -> Iterator[None]:
    """Within the block, :func:`panel_figure` draws each figure at once, even inside
    :func:`drawn_in_parallel` (for a section that renders its figures into markup itself)."""
    global _DEFERRED
    saved, _DEFERRED = _DEFERRED, None
    try:
        yield
    finally:
        _DEFERRED = saved


def write_svgs(figures: list[Figure | None], directory: str | Path) -> list[Path]:
    """Write each figure's SVG as ``directory/<key>.svg``; return the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for figure in figures:
        if figure is None or not figure.svg:
            continue
        path = directory / f"{figure.key}.svg"
        write_text_atomic(path, figure.svg)
        written.append(path)
    return written
