"""``entangled probe ... --html DIR``: one self-contained page (inline CSS, no network) with the
stream map as a heatmap, the diagnostics (Kronecker residual, gains, gaps, notes) and the ledger.

The page is rendered by one Jinja2 call (autoescape on) from plain data built by
:func:`page_data`; no HTML is assembled from strings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch

from entangled.atomic_io import write_text_atomic

HEATMAP_LIMIT = 32


def cell_colour(value: float, scale: float) -> str:
    """Diverging colour of ``value`` on ``[-scale, scale]``: white at 0, blue > 0, red < 0."""
    t = 0.0 if scale <= 0 or not math.isfinite(value) else max(-1.0, min(1.0, value / scale))
    if t >= 0:
        r, g, b = (int(255 - t * (255 - c)) for c in (44, 95, 168))
    else:
        r, g, b = (int(255 + t * (255 - c)) for c in (192, 57, 43))
    return f"rgb({r}, {g}, {b})"


def heatmap(matrix: torch.Tensor | None, title: str) -> dict | None:
    """Rows of ``{"value", "colour"}`` cells for the top-left corner of ``matrix``."""
    if matrix is None:
        return None
    shown = matrix[:HEATMAP_LIMIT, :HEATMAP_LIMIT].tolist()
    scale = float(matrix.abs().max()) if matrix.numel() else 0.0
    rows = [[{"value": f"{v:.3f}", "colour": cell_colour(v, scale),
              "dark": scale > 0 and abs(v) / scale > 0.6} for v in row] for row in shown]
    return {"title": title, "rows": rows, "n": int(matrix.shape[0]),
            "truncated": matrix.shape[0] > HEATMAP_LIMIT, "scale": f"{scale:.3g}"}


def _fmt(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def page_data(m: Any, ledger: Any, skipped: Sequence, *, target: str,
              description: str | None = None) -> dict:
    """Plain data of the probe page for one probed mapping and its ledger."""
    p = m.params
    entries = []
    for entry in ledger.entries:
        value = entry.worst
        if value is None and entry.counterexample is not None:
            value = entry.counterexample.get("value")
        entries.append({"name": entry.short_name, "statement": entry.statement,
                        "verdict": entry.verdict, "expected": entry.expected,
                        "matches": entry.matches_expected, "value": _fmt(value),
                        "tol": f"{entry.tol:g}", "reference": entry.reference or ""})
    diagnostics = [
        ("scope", p["scope"]),
        ("input shape / layout", f"{tuple(p['input_shape'])}, {p['layout']!r}"),
        ("streams n x width d", f"{p['streams']} x {p['dim']}"),
        ("dtype / Jacobian method", f"{p['dtype']}, {p['jacobian_method']}"),
        ("Kronecker residual ||J - H⊗I||/||J||", _fmt(p["kronecker_residual"])),
        ("per-layer skip gain max(||J||∞, ||J||₁)", _fmt(p["skip_gain"])),
        ("autograd vs finite differences", _fmt(p["autograd_gap"])),
        ("same input twice / batch item alone", f"{_fmt(p['repeat_gap'])} / "
                                                f"{_fmt(p['batch_gap'])}"),
        ("cross-position leakage / position spread", f"{_fmt(p['cross_position'])} / "
                                                     f"{_fmt(p['position_spread'])}"),
        ("declared kind / called as", f"{p['kind']}, {p['invocation']}"),
        ("measured at", f"input of {p['measured_at']!r} (pre-activation)"
                        if p["measured_at"] else "the block's output"),
        (f"drift over {p['calls']} successive calls", _fmt(p["call_drift"])),
        ("gradient reaching the mixing parameters",
         "not measured" if p["mixing_gradients"] is None else ", ".join(
             f"{k} {_fmt(v)}" for k, v in p["mixing_gradients"].items())),
    ]
    summary = ledger.summary()
    return {
        "target": target, "source": p["source"], "description": description or "",
        "heatmaps": [h for h in (heatmap(m.dense(), "probed stream map H (y_i = Σ_j H_ij x_j)"),
                                 heatmap(m.exposed_matrix(), "mixing matrix the module exposes"),
                                 heatmap(m.perturbed_matrix(), "probed map after --perturb"))
                     if h is not None],
        "diagnostics": diagnostics, "notes": list(p["notes"]), "entries": entries,
        "skipped": [{"name": c.short_name, "reason": reason} for c, reason in skipped],
        "summary": summary, "whole_block": p["scope"] != "skip",
    }


def render_page(data: dict) -> str:
    """Render :func:`page_data` with the package's template (autoescape on)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    return env.get_template("probe.html").render(**data)


def write_page(directory: str | Path, data: dict) -> Path:
    """Write ``DIR/index.html`` (the directory is created); return its path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    return write_text_atomic(path, render_page(data))
