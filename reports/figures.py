"""Matplotlib figures of the report, returned as inline PNG data URIs with alt text.

Every figure is built from plain data by :func:`panel_figure`: a row of panels, each with
labelled series ``(label, xs, ys, yerr)``, so the plotting code stays in one place.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]
    yerr: list[float] | None = None
    marker: str = "o"


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    hline: float | None = None
    hline_label: str = ""
    logy: bool = False
    scatter: bool = False


@dataclass
class Figure:
    """An inline figure: ``src`` is a ``data:image/png;base64,...`` URI."""

    key: str
    title: str
    alt: str
    src: str


def _finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def panel_figure(key: str, title: str, alt: str, panels: list[Panel], *, columns: int = 4,
                 panel_size: tuple[float, float] = (3.6, 2.8)) -> Figure:
    """Render ``panels`` in a grid and return the PNG as a data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size[0] * columns, panel_size[1] * rows),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        for series in panel.series:
            if not series.xs:
                continue
            if panel.scatter:
                ax.errorbar(series.xs, series.ys, yerr=series.yerr, fmt=series.marker,
                            capsize=2, label=series.label, ms=5)
            elif series.yerr is not None and _finite(series.yerr):
                ax.errorbar(series.xs, series.ys, yerr=series.yerr, marker=series.marker,
                            capsize=2, label=series.label, ms=4, lw=1.2)
            else:
                ax.plot(series.xs, series.ys, marker=series.marker, label=series.label, ms=3, lw=1.2)
        if panel.hline is not None:
            ax.axhline(panel.hline, color="0.5", ls="--", lw=0.8, label=panel.hline_label or None)
        if panel.logy:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(panel.xlabel, fontsize=8)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if any(s.xs for s in panel.series):
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Figure(key, title, alt, "data:image/png;base64," + encoded)
