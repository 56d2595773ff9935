"""Assemble the report: run the suite, check the conjectures, analyse, render ``index.html``.

Everything the page shows is measured here and passed to the Jinja2 template as plain data
(one render call; the template autoescapes every value).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from reports import analysis, figures, findings, presets
from reports.analysis import IDENTITY, PROPERTY_LABELS, Outcome

VERDICT_ORDER = ("reproduced", "not reproduced", "opposite", "inconclusive")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- runs
def run_suite(preset: presets.Preset, out_dir: Path, jobs: int, progress: bool,
              **sweep_options) -> tuple[list[dict], dict]:
    """Run (or resume) the preset's sweep in ``out_dir/runs``; return its result dicts.

    ``sweep_options`` (``executor``, ``scheduler``, ``shard``) go to :func:`run_sweep`."""
    from entangled.sweep import config_hash, load_results, run_sweep

    configs = presets.run_configs(preset)
    wanted = {config_hash(c) for c in configs}
    summary = run_sweep(configs, out_dir / "runs", jobs=jobs, progress=progress, **sweep_options)
    results = [r.to_dict() for r in load_results(out_dir / "runs")]
    results = [r for r in results if r["config_hash"] in wanted]
    return results, summary.to_dict() if hasattr(summary, "to_dict") else {}


# ------------------------------------------------------------------------ ledger
def ledger_key(paths: Sequence[str], examples: int, seed: int) -> str:
    """Cache key of a ledger (:func:`theory.ledger.ledger_cache_key`)."""
    from theory.ledger import ledger_cache_key

    return ledger_cache_key(paths, examples, seed)


def conjecture_ledger(paths: Sequence[str], examples: int, out_dir: Path, seed: int = 0) -> dict:
    """The ledger as a dict, cached in ``out_dir`` by :func:`ledger_key`."""
    import theory
    from entangled.sweep import write_json_atomic
    from theory.ledger import dependencies_current

    cache = out_dir / f"ledger-{ledger_key(paths, examples, seed)}.json"
    if cache.exists():
        try:
            cached = theory.Ledger.from_dict(json.loads(cache.read_text()))
            if dependencies_current(cached.dependencies):
                return cached.to_dict()
            log(f"report: a module behind the cached ledger {cache.name} changed; checking again")
        except (ValueError, KeyError, TypeError) as exc:
            log(f"report: cached ledger {cache.name} is unreadable ({exc}); checking again")

    def progress(index: int, total: int, entry) -> None:
        log(f"  conjectures {index}/{total}: {entry.conjecture} [{entry.family}] -> {entry.verdict}")

    log(f"report: checking conjectures ({examples} examples each)")
    ledger = theory.verify(list(paths), examples=examples, seed=seed, progress=progress)
    data = ledger.to_dict()
    write_json_atomic(cache, data)
    return data


# -------------------------------------------------------------------- properties
def skip_width(arch: str, task: str, model: dict | None = None) -> int:
    """Size n of the skip mappings of ``arch`` on ``task`` (from a built model)."""
    from entangled.nn.models import SkipSpec, build_model
    from entangled.tasks import load_task

    data = load_task(task, seed=0)
    built = build_model(arch, input_shape=data.input_shape, output_dim=data.output_dim,
                        skip=SkipSpec(), config=model or None, seed=0)
    return built.residual_blocks[0].skip.n


def mapping_properties(family: str, params: dict, n: int, seed: int = 0) -> dict:
    """The properties that rank correlations relate to outcomes, measured on one mapping."""
    import entangled as E
    from entangled import properties as P

    m = E.make_mapping(family, n, seed=seed, **params)
    return {
        "eigenvalue_spread": P.eigenvalue_spread(m),
        "spectral_norm": P.spectral_norm(m),
        "distance_from_identity": P.distance_from_identity(m),
        "sparsity": P.sparsity(m),
        "spectral_gap": P.spectral_gap(m),
    }


def attach_properties(rows: list[Outcome]) -> None:
    widths: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.arch, row.task)
        if key not in widths:
            widths[key] = skip_width(row.arch.split("[")[0], row.task, row.model)
        row.properties = mapping_properties(row.family, row.params, widths[key])
        row.properties["n"] = widths[key]


# ----------------------------------------------------------------------- figures
def dose_response_figures(rows: list[Outcome]) -> list[figures.Figure]:
    sweeps = [("rotation", "theta", "rotation angle θ (rad)"),
              ("sparse", "strength", "sparse strength s"),
              ("circulant", "bandwidth", "circulant bandwidth h"),
              ("sinkhorn", "iters", "Sinkhorn iterations K")]
    out = []
    for family, param, xlabel in sweeps:
        curves = analysis.dose_response(rows, family, param)
        if not curves:
            continue
        panels = []
        for (arch, task), points in sorted(curves.items()):
            chance = next((o.chance for o in rows if (o.arch, o.task) == (arch, task)), None)
            panels.append(figures.Panel(
                f"{arch} · {task}", xlabel, "test accuracy",
                [figures.Series("mean ± 95% CI", [p[0] for p in points],
                                [p[1].mean for p in points],
                                [_half_width(p[1]) for p in points])],
                hline=chance, hline_label="chance"))
        out.append(figures.panel_figure(
            f"dose-{family}", f"Dose-response: accuracy against {family} {param}",
            f"Test accuracy (mean over seeds with 95% confidence intervals) against the {family} "
            f"parameter {param}, one panel per architecture and task; the identity is the point "
            f"at the parameter's identity end.", panels))
    return out


def _half_width(summary) -> float:
    if math.isnan(summary.high):
        return 0.0
    return (summary.high - summary.low) / 2


def distance_figure(rows: list[Outcome]) -> figures.Figure | None:
    by_pair: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for row in rows:
        if row.properties and row.summary.n:
            by_pair[(row.arch, row.task)].append(row)
    if not by_pair:
        return None
    panels = []
    for (arch, task), group in sorted(by_pair.items()):
        families_here = sorted({o.family for o in group})
        series = []
        for family in families_here:
            members = [o for o in group if o.family == family]
            series.append(figures.Series(
                family, [o.properties["distance_from_identity"] for o in members],
                [o.summary.mean for o in members], [_half_width(o.summary) for o in members]))
        panels.append(figures.Panel(f"{arch} · {task}", r"$\|M - I\|_F / \sqrt{n}$", "test accuracy",
                                    series, hline=group[0].chance, hline_label="chance",
                                    scatter=True))
    return figures.panel_figure(
        "distance", "Accuracy against distance from the identity",
        "Scatter of mean test accuracy (with 95% CI) against the normalised Frobenius distance "
        "of the skip mapping from the identity, one colour per family, one panel per "
        "architecture and task.", panels)


DYNAMICS = (
    ("lesion_accuracy", "final", "lesioned application l", "test accuracy", "lesion"),
    ("refinement_ratio", "final", "application l", "‖f(h)‖ / ‖M h‖", "refinement ratio"),
    ("refinement_cosine", "final", "application l", "$\\cos(f_l,\\, \\partial L / \\partial h_{l+1})$", "refinement cosine"),
    ("cka", "final", "pair (l, l+1)", "linear CKA", "CKA of consecutive representations"),
    ("jacobian_singular_values", "init", "index (sorted)", "singular value",
     "Jacobian singular values at init"),
    ("state_norms", "init", "state l (time step t for the RNN)", "mean ‖h_l‖",
     "state norm at init"),
    ("saturated_fraction", "init", "application l", "fraction with tanh′ < 0.1",
     "saturated tanh units at init"),
)


def showcase_label(family: str, labels: list[str]) -> str | None:
    """The variant shown for ``family`` in dynamics plots: the middle one of its sweep."""
    members = sorted(label for label in labels if label.split("(")[0] == family)
    return members[len(members) // 2] if members else None


def mean_curve(curves: list[list]) -> tuple[list[int], list[float]]:
    """Pointwise mean over curves, skipping missing (None / non-finite) values."""
    length = min(len(c) for c in curves)
    xs, means = [], []
    for i in range(length):
        values = [c[i] for c in curves if isinstance(c[i], (int, float)) and math.isfinite(c[i])]
        if values:
            xs.append(i)
            means.append(sum(values) / len(values))
    return xs, means


def dynamics_figures(results: list[dict]) -> list[figures.Figure]:
    by_arch: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        if result["status"] == "ok" and result.get("metrics") and not result["config"].get("model"):
            by_arch[result["config"]["arch"]].append(result)
    out = []
    for arch, group in sorted(by_arch.items()):
        labels = sorted({analysis.variant_label(r["config"]["family"], r["config"]["params"]) for r in group})
        shown = [s for s in (showcase_label(f, labels) for f in sorted({l.split("(")[0] for l in labels})) if s]
        task = sorted({r["config"]["task"] for r in group})[0]
        panels = []
        for key, stage, xlabel, ylabel, title in DYNAMICS:
            series = []
            for label in shown:
                snapshots = [r["metrics"].get(stage) or {} for r in group
                             if r["config"]["task"] == task
                             and analysis.variant_label(r["config"]["family"], r["config"]["params"]) == label]
                curves = [s.get(key) for s in snapshots if isinstance(s.get(key), list) and s.get(key)]
                if not curves:
                    continue
                xs, mean = mean_curve(curves)
                if key == "lesion_accuracy" and snapshots[0].get("lesion_applications"):
                    applications = snapshots[0]["lesion_applications"]
                    xs = [applications[i] for i in xs if i < len(applications)]
                    mean = mean[:len(xs)]
                series.append(figures.Series(label, xs, mean, marker="."))
            if not series and key == "saturated_fraction":
                continue  # only models with tanh branches (the RNN) have it
            panels.append(figures.Panel(title, xlabel, ylabel, series,
                                        logy=(key == "jacobian_singular_values")))
        out.append(figures.panel_figure(
            f"dynamics-{arch}", f"{arch} on {task}: refinement, lesion, CKA and Jacobian spectrum",
            f"Panels for the {arch} on {task}, one line per skip family (mean over seeds): "
            "lesion accuracy per application, refinement ratio, refinement cosine, linear CKA "
            "between consecutive representations, the sorted singular values of the "
            "input-output Jacobian of the residual stack at initialisation, the mean state norm "
            "‖h_l‖ at initialisation (over time for the RNN) and, for the RNN, the fraction of "
            "saturated tanh pre-activations (tanh′ < 0.1) per time step at initialisation.",
            panels))
    return out


# ------------------------------------------------------------------------- render
def environment() -> dict:
    import numpy
    import scipy
    import torch

    import entangled

    info = {
        "python": platform.python_version(), "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
        "entangled": entangled.__version__, "torch_threads": torch.get_num_threads(),
    }
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, cwd=Path(__file__).parent)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def render(context: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html", "xml"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _format_number
    env.filters["pct"] = lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"
    env.filters["pvalue"] = lambda v: "—" if v is None or math.isnan(v) else (f"{v:.3f}" if v >= 0.001 else "<0.001")
    return env.get_template("index.html").render(**context)


def _format_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}g}"
    return str(value)


def report_dir(preset: presets.Preset, out_dir: str | os.PathLike | None) -> Path:
    """``out_dir``, or ``reports/out/<preset>`` under the current directory."""
    return Path(out_dir) if out_dir is not None else Path("reports") / "out" / preset.name


def train_shard(preset_name: str, out_dir: str | os.PathLike | None, shard: str, *,
                jobs: int | None = None, progress: bool = True, executor: str = "local",
                scheduler: str | None = None):
    """Train only shard ``shard`` (``"I/N"``) of the preset's runs into ``out_dir/runs``;
    render nothing. Returns the :class:`~entangled.sweep.SweepSummary`."""
    from entangled.sweep import run_sweep

    preset = presets.get_preset(preset_name)
    out = report_dir(preset, out_dir)
    log(f"report: preset {preset.name!r}, shard {shard} -> {out / 'runs'}")
    return run_sweep(presets.run_configs(preset), out / "runs",
                     jobs=jobs or max(1, os.cpu_count() or 1), progress=progress,
                     executor=executor, scheduler=scheduler, shard=shard)


def build_report(preset_name: str = "quick", out_dir: str | os.PathLike | None = None, *,
                 conjecture_paths: Sequence[str] = (), jobs: int | None = None,
                 progress: bool = True, executor: str = "local",
                 scheduler: str | None = None) -> Path:
    """Run the suite of ``preset_name`` (resuming finished runs) and write ``index.html``.

    ``executor``/``scheduler``: where the runs execute (:func:`entangled.sweep.run_sweep`).
    Returns the path of ``index.html``.
    """
    from entangled.commands.families import family_rows
    from entangled.properties import IDENTITY_ATTRIBUTES
    from entangled.sweep import write_json_atomic

    preset = presets.get_preset(preset_name)
    out = report_dir(preset, out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs or max(1, os.cpu_count() or 1)
    started = time.perf_counter()

    where = "on Dask" if executor == "dask" else f"{jobs} worker{'s' if jobs > 1 else ''}"
    log(f"report: preset {preset.name!r} -> {out} ({where})")
    t0 = time.perf_counter()
    results, sweep_summary = run_suite(preset, out, jobs, progress, executor=executor,
                                       scheduler=scheduler)
    sweep_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    ledger = conjecture_ledger(conjecture_paths, preset.conjecture_examples, out)
    ledger_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    log("report: analysing and rendering")
    rows = analysis.outcomes(results)
    attach_properties(rows)
    judged = findings.judge_paper(rows, presets.IMAGE_TASK, presets.TIME_VARIANT_TASK,
                                  presets.TIME_INVARIANT_TASK,
                                  default_sparse=analysis.variant_label("sparse", presets.F1_SPARSE))
    all_figures = dose_response_figures(rows)
    distance = distance_figure(rows)
    dyn = dynamics_figures(results)
    figures.write_svgs([*all_figures, distance, *dyn], out / "figures")

    pairs = []
    for arch, task in sorted({(o.arch, o.task) for o in rows}):
        members = [o for o in rows if (o.arch, o.task) == (arch, task)]
        members.sort(key=lambda o: (o.label != IDENTITY, o.family, o.label))
        pairs.append({"arch": arch, "task": task, "rows": members,
                      "chance": members[0].chance, "time_structure": members[0].time_structure})

    context = {
        "title": f"entangled report — {preset.name}",
        "preset": preset,
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
        "findings": judged,
        "families": family_rows(64),
        "attributes": IDENTITY_ATTRIBUTES,
        "ledger": ledger,
        "ledger_counts": _ledger_counts(ledger),
        "ledger_groups": ledger_groups(ledger),
        "literature": literature_section(ledger),
        "pairs": pairs,
        "dose_figures": all_figures,
        "distance_figure": distance,
        "correlations": analysis.correlations(rows),
        "property_labels": PROPERTY_LABELS,
        "dynamics_figures": dyn,
        "runs": {"total": len(results), "ok": sum(r["status"] == "ok" for r in results),
                 "diverged": sum(r["status"] == "diverged" for r in results),
                 "train_seconds": sum(r.get("wall_time_s", 0.0) for r in results)},
        "sweep_summary": sweep_summary,
        "training": preset.training,
        "seeds": preset.seeds,
        "environment": environment(),
        "timings": {"sweep": sweep_seconds, "ledger": ledger_seconds},
        "conjecture_paths": list(conjecture_paths),
    }
    context["timings"]["page"] = time.perf_counter() - t0
    context["timings"]["total"] = time.perf_counter() - started
    html = render(context)
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, index)
    from entangled.train import finite_or_none as json_safe

    write_json_atomic(out / "summary.json", json_safe({
        "preset": preset.name,
        "findings": [j.to_dict() for j in judged],
        "outcomes": [o.to_dict() for o in rows],
        "correlations": context["correlations"],
        "ledger_counts": context["ledger_counts"],
        "timings": context["timings"],
    }))
    log(f"report: done in {context['timings']['total']:.1f} s")
    return index


def literature_section(ledger: dict) -> list[dict]:
    """The literature section: one row per (published claim, conjecture) with claim, source,
    kind, verdict and evidence (:func:`theory.literature.literature_section`)."""
    from theory.literature import literature_section as rows

    return rows(ledger)


def ledger_groups(ledger: dict) -> list[dict]:
    """Ledger entries grouped by conjecture (one row each on the page), in ledger order.

    Every group keeps its per-family entries; ``mismatched`` marks a group in which some
    verdict differs from the expectation, ``proof`` is the (shared) attached proof.
    """
    groups: dict[str, dict] = {}
    for entry in ledger.get("entries", []):
        group = groups.setdefault(entry["conjecture"], {
            "conjecture": entry["conjecture"], "name": entry["conjecture"].split(".")[-1],
            "statement": entry["statement"], "theme": entry["theme"],
            "reference": entry.get("reference"), "expected": entry["expected"],
            "proof": entry.get("proof"), "entries": [], "mismatched": False,
        })
        group["entries"].append(entry)
        group["mismatched"] = group["mismatched"] or not entry["matches_expected"]
    return list(groups.values())


def _ledger_counts(ledger: dict) -> dict:
    entries = ledger.get("entries", [])
    counts = {v: sum(e["verdict"] == v for e in entries) for v in ("proved", "holds", "falsified", "error")}
    counts["total"] = len(entries)
    counts["mismatched"] = sum(not e["matches_expected"] for e in entries)
    counts["load_errors"] = len(ledger.get("load_errors", []))
    return counts
