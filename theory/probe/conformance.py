"""The conformance page: several ``entangled probe --json`` results side by side.

One self-contained HTML page (inline CSS, no network) with one column per probed
implementation — package, version, class, how it was probed (dtype, kind) — and one row per
claim: its verdict and the number it rests on (the measured value against the tolerance, or
the counterexample's value; "n/a" with the reason for a claim that does not apply). Users
compare implementations, releases or precisions of one module at a glance.

:func:`conformance_data` turns the JSON results into plain data; :func:`render_conformance`
renders it with one Jinja2 call (autoescape on, ``templates/conformance.html``); nothing is
assembled from HTML strings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from entangled.theory.probe.mapping import ProbeError

REQUIRED_KEYS = ("probe", "ledger", "not_applicable")


def load_result(path: str | Path) -> dict:
    """A probe result written by ``entangled probe --json``; ProbeError naming the file when
    it is unreadable or not a probe result."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProbeError(f"invalid RESULT={str(path)!r}: {exc.strerror or exc}; allowed: a JSON "
                         "file written by entangled probe --json") from None
    except ValueError as exc:
        raise ProbeError(f"invalid RESULT={str(path)!r}: not JSON ({exc}); allowed: a JSON file "
                         "written by entangled probe --json") from None
    missing = [key for key in REQUIRED_KEYS
               if not isinstance(data, dict) or key not in data]
    if missing:
        raise ProbeError(f"invalid RESULT={str(path)!r}: no {missing[0]!r} key; allowed: a JSON "
                         "file written by entangled probe --json (keys "
                         + ", ".join(REQUIRED_KEYS) + ")")
    return data


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):              # "NaN" / "Infinity" as the ledger writes them
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def claim_cell(entry: dict) -> dict:
    """``{"verdict", "number", "matches", "title"}`` of one ledger entry."""
    value = entry.get("worst")
    cx = entry.get("counterexample") or {}
    if value is None and "value" in cx:
        value = cx["value"]
    number = _number(value)
    tol = entry.get("tol")
    if number and value is not None and not isinstance(value, bool) and entry.get("worst") \
            is not None:
        number = f"{number} (tol {tol:g})" if isinstance(tol, (int, float)) else number
    return {"verdict": str(entry["verdict"]), "number": number,
            "matches": bool(entry.get("matches_expected", True)),
            "title": entry.get("statement", "")}


def implementation(data: dict, path: str) -> dict:
    """Who was probed: package, version, class, target, dtype and kind (from the result)."""
    params = data["probe"].get("params", {})
    who = data.get("implementation") or {}
    return {"file": path, "target": who.get("target", params.get("source", "")),
            "package": who.get("package") or "—", "version": who.get("version") or "—",
            "class": who.get("class") or params.get("source", ""),
            "dtype": params.get("dtype", ""), "kind": params.get("kind", "stream-mixing"),
            "scope": params.get("scope", "")}


def conformance_data(results: Sequence[dict], paths: Sequence[str], *,
                     title: str = "Conformance of residual mixing implementations") -> dict:
    """Plain data of the page: one column per result, one row per claim (in order of first
    appearance), every cell a verdict and its number or "n/a" and the reason."""
    if not results:
        raise ProbeError("invalid RESULT: none given; allowed: one or more JSON files written "
                         "by entangled probe --json")
    columns = [implementation(data, path) for data, path in zip(results, paths)]
    order: list[str] = []
    cells: list[dict[str, dict]] = []
    for data in results:
        row: dict[str, dict] = {}
        for entry in data["ledger"].get("entries", []):
            name = str(entry.get("short_name") or entry["conjecture"]).rsplit(".", 1)[-1]
            row[name] = claim_cell(entry)
        for item in data.get("not_applicable", []):
            name = str(item["conjecture"]).rsplit(".", 1)[-1]
            row.setdefault(name, {"verdict": "n/a", "number": "", "matches": True,
                                  "title": item.get("reason", "")})
        for name in row:
            if name not in order:
                order.append(name)
        cells.append(row)
    absent = {"verdict": "not run", "number": "", "matches": True,
              "title": "not in this result (another version of the catalog)"}
    rows = [{"claim": name, "cells": [row.get(name, absent) for row in cells]}
            for name in order]
    summary = []
    for data in results:
        counts = data["ledger"].get("summary", {})
        summary.append({"holds": counts.get("holds", 0) + counts.get("proved", 0),
                        "falsified": counts.get("falsified", 0),
                        "error": counts.get("error", 0),
                        "mismatching": counts.get("mismatching", 0),
                        "not_applicable": len(data.get("not_applicable", []))})
    return {"title": title, "columns": columns, "rows": rows, "summary": summary}


def render_conformance(data: dict) -> str:
    """The page for :func:`conformance_data` (one Jinja2 render, autoescape on)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    return env.get_template("conformance.html").render(**data)


def write_conformance(directory: str | Path, data: dict) -> Path:
    """Write ``DIR/index.html`` atomically (the directory is created); return its path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_conformance(data), encoding="utf-8")
    tmp.replace(path)
    return path
