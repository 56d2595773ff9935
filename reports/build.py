"""Assemble the report: run the suite, check the conjectures, analyse, render ``index.html``.

Everything the page shows is measured here and passed to the Jinja2 template as plain data
(one render call; the template autoescapes every value).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from entangled.runs import RunResult, SkipVariant, finite_or_none
from entangled.reports import analysis, figures, findings, learnability, presets, tuning
from entangled.reports.analysis import PROPERTY_LABELS, Outcome

VERDICT_ORDER = ("reproduced", "not reproduced", "opposite", "inconclusive")


LOGGER = logging.getLogger(__name__)


def log(message: str) -> None:
    """A progress note of the report (``INFO`` on the ``entangled.reports.build`` logger)."""
    LOGGER.info(message)


# --------------------------------------------------------------------------- runs
def run_suite(preset: presets.Suite, out_dir: Path, jobs: int, progress: bool,
              until_decided: bool = False, **sweep_options):
    """Run (or resume) the suite's sweep in ``out_dir/runs``; return its typed results (in
    suite order), the :class:`~entangled.sweep.SweepSummary` and, with ``until_decided`` and a
    suite with a ``[sequential]`` table, the :class:`~entangled.reports.staged.StagedOutcome`
    (else ``None``).

    ``sweep_options`` (``executor``, ``scheduler``, ``shard``, ``seed_batching``) go to :func:`run_sweep`."""
    from entangled.sweep import SweepSummary, load_results, run_sweep

    if not (until_decided and preset.sequential):
        configs = presets.run_configs(preset)
        summary = run_sweep(configs, out_dir / "runs", jobs=jobs, progress=progress,
                            **sweep_options)
        wanted = set(summary.hashes)
        results = [r for r in load_results(out_dir / "runs") if r.config_hash in wanted]
        return results, summary, None

    from entangled.reports import staged

    merged = SweepSummary(str(out_dir / "runs"))
    wanted: list[str] = []

    def run(configs: list) -> list[RunResult]:
        summary = run_sweep(configs, out_dir / "runs", jobs=jobs, progress=progress,
                            **sweep_options)
        _merge_summaries(merged, summary)
        wanted.extend(h for h in summary.hashes if h not in set(wanted))
        keep = set(wanted)
        return [r for r in load_results(out_dir / "runs") if r.config_hash in keep]

    def tuned_rows(results: list[RunResult]) -> list[Outcome]:
        return analysis.outcomes(results)

    def unlearnt(results: list[RunResult]) -> list[tuple]:
        rows = analysis.outcomes(fixed_lr_results(preset, results))
        return [u.pair for u in learnability.unlearnt_pairs(
            rows, learnability.memoryless_levels(results))]

    outcome = staged.run_staged(preset, run, outcome_rows=tuned_rows, unlearnt=unlearnt, log=log)
    return outcome.results, merged, outcome


def _merge_summaries(into, summary) -> None:
    """Add what one sweep call did to ``into`` (counts summed, lists joined, hashes once)."""
    into.total += summary.total
    into.skipped += summary.skipped
    into.ran += summary.ran
    into.done_elsewhere += summary.done_elsewhere
    into.wall_time_s += summary.wall_time_s
    for name in ("failed", "corrupt", "stale", "superseded", "diverged", "ran_hashes",
                 "claimed_elsewhere"):
        getattr(into, name).extend(getattr(summary, name))
    seen = set(into.hashes)
    into.hashes.extend(h for h in summary.hashes if h not in seen)


# ------------------------------------------------------------------------ ledger
def ledger_key(paths: Sequence[str], examples: int, seed: int) -> str:
    """Cache key of a ledger (:func:`entangled.theory.ledger.ledger_cache_key`)."""
    from entangled.theory.ledger import ledger_cache_key

    return ledger_cache_key(paths, examples, seed)


def conjecture_ledger(paths: Sequence[str], examples: int, out_dir: Path, seed: int = 0) -> dict:
    """The ledger as a dict, cached by :func:`ledger_key` in the user-level cache
    (:mod:`entangled.cache`, ``ledger/``), so that a new output directory reuses it; only
    where that cache cannot be written, in ``out_dir``. Of several reports needing the same
    missing ledger at once, one computes it and the others wait for it."""
    from entangled import cache as user_cache
    from entangled import theory
    from entangled.theory.ledger import dependencies_current

    name = f"ledger-{ledger_key(paths, examples, seed)}.json"
    slot = user_cache.entry("ledger", name)
    fallback = user_cache.Entry(out_dir / name)
    with slot.locked():
        for where in (slot, fallback):
            payload = where.read()
            if payload is None:
                continue
            try:
                cached = theory.Ledger.from_dict(json.loads(payload))
                if dependencies_current(cached.dependencies):
                    return cached.to_dict()
                log(f"report: a module behind the cached ledger {where.path} changed; "
                    "checking again")
            except (ValueError, KeyError, TypeError) as exc:
                log(f"report: cached ledger {where.path} is unreadable ({exc}); checking again")

        def progress(index: int, total: int, entry) -> None:
            log(f"  conjectures {index}/{total}: {entry.conjecture} [{entry.family}] -> "
                f"{entry.verdict}")

        log(f"report: checking conjectures ({examples} examples each)")
        ledger = theory.verify(list(paths), examples=examples, seed=seed, progress=progress)
        data = ledger.to_dict()
        payload = json.dumps(data, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
        if not slot.write(payload):
            fallback.write(payload)
    return data


# -------------------------------------------------------------------- properties
def mapping_properties(v: SkipVariant, n: int, seed: int = 0) -> dict:
    """The properties that rank correlations relate to outcomes, measured on one mapping."""
    import entangled as E
    from entangled import properties as P

    m = E.make_mapping(v.family, n, seed=seed, **v.param_dict)
    return {
        "eigenvalue_spread": P.eigenvalue_spread(m),
        "spectral_norm": P.spectral_norm(m),
        "distance_from_identity": P.distance_from_identity(m),
        "sparsity": P.sparsity(m),
        "spectral_gap": P.spectral_gap(m),
    }


def attach_properties(rows: list[Outcome]) -> None:
    """Measure each outcome's mapping at the skip width its runs recorded."""
    for row in rows:
        row.properties = mapping_properties(row.variant, row.skip_width)
        row.properties["n"] = row.skip_width


# ---------------------------------------------------------------------- sections
def findings_section(preset: presets.Suite, rows: list[Outcome],
                     secondary_rows: list[Outcome] | None = None,
                     unlearnt: Sequence[tuple] = (), decisions: dict | None = None
                     ) -> list[findings.Judgement]:
    """F1, F2, F3a, F3b and F3 judged on the suite's preregistered primary comparisons in
    ``rows`` (the tuned runs when the suite tunes), with every other reading of
    ``secondary_rows`` (the fixed-rate table) as secondary evidence, leaving out the
    ``unlearnt`` (arch, task) pairs (decided on validation)."""
    return findings.judge_suite(preset.primary, rows, secondary_rows=secondary_rows,
                                unlearnt=unlearnt, decisions=decisions)


def spending_section(preset: presets.Suite, staged_outcome, results: list[RunResult]) -> dict | None:
    """What the group-sequential design spent: the scheme in words, the stage each primary
    comparison reached with its seeds and word, the runs of each stage, and the runs the
    fixed design (every primary arm at every rate of its grid on the cap's seeds) would have
    trained. ``None`` for a fixed design."""
    if staged_outcome is None:
        return None
    from entangled.reports import staged
    from entangled.reports.sequential import scheme_text

    design = staged_outcome.design
    stage1 = len(staged_outcome.stage1_hashes)
    primary_arms = set()
    for p in preset.primary:
        group = staged._group_of(preset, p)
        primary_arms.add((id(group), p.variant))
        primary_arms.add((id(group), (("family", "identity"),)))
    groups = {id(g): g for g in preset.runs}
    extra_seeds = design.cap - len(preset.seeds)
    fixed_design = stage1 + sum(len(groups[g].learning_rates) * extra_seeds
                                for g, _ in primary_arms)
    used = sum(staged_outcome.runs_per_stage)
    return {"scheme": scheme_text(design), "design": design.to_dict(),
            "comparisons": staged_outcome.summary(preset),
            "runs_per_stage": list(staged_outcome.runs_per_stage), "runs": used,
            "fixed_design_runs": fixed_design,
            "saved": fixed_design - used,
            "fraction_of_fixed_design": used / fixed_design if fixed_design else None}


def fixed_lr_results(preset: presets.Suite, results: list[RunResult]) -> list[RunResult]:
    """The runs at their group's fixed learning rate (every run when nothing is tuned)."""
    if not preset.tuned:
        return list(results)
    hashes = preset.fixed_lr_hashes()
    return [r for r in results if r.config_hash in hashes]


def tuning_section(preset: presets.Suite, results: list[RunResult],
                   selection_hashes: set | None = None
                   ) -> tuple[list[tuning.Selection], list[Outcome], list[Outcome]]:
    """The learning rates selected on validation (only where a grid was trained), the outcome
    table of the runs at those learning rates (empty when nothing is tuned), and the table the
    findings are judged on (:func:`entangled.reports.tuning.judged_results`).
    ``selection_hashes``: the runs the choice reads (a staged report: stage 1's; later stages
    train the selected rate only and never take part in the choice)."""
    chooser = (results if selection_hashes is None
               else [r for r in results if r.config_hash in selection_hashes])
    every = tuning.select_learning_rates(chooser)
    judged = analysis.outcomes(tuning.judged_results(results, every))
    if not preset.tuned:
        return [], [], judged
    selections = {k: s for k, s in every.items() if s.tuned}
    ordered = sorted(selections.values(), key=lambda s: analysis.pair_sort_key((s.arch, s.task))
                     + (s.variant.sort_key(),))
    return ordered, analysis.outcomes(tuning.tuned_results(results, selections)), judged


def outcomes_section(rows: list[Outcome]) -> list[dict]:
    """One table per (arch, task): identity first, then families, sweeps in numeric order."""
    return [{"arch": arch, "task": task, "rows": members, "chance": members[0].chance,
             "time_structure": members[0].time_structure}
            for (arch, task), members in analysis.by_pair(rows).items()]


def swept_parameters(rows: list[Outcome]) -> list[tuple[str, str]]:
    """``(family, param)`` for every numeric family parameter that takes at least two values
    among the suite's variants (the dose-response sweeps come from the data)."""
    values: dict[tuple[str, str], set] = defaultdict(set)
    for row in rows:
        for key, value in row.variant.params:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[(row.variant.family, key)].add(value)
    return sorted(k for k, v in values.items() if len(v) >= 2)


def dose_response_section(rows: list[Outcome]) -> list[dict]:
    """Per swept parameter: ``{"family", "param", "doc", "curves": {(arch, task): points},
    "chance", "identity": {(arch, task): Summary}, "identity_value"}``."""
    from entangled import family_class

    out = []
    identity = {o.pair: o.summary for o in rows
                if o.family == analysis.IDENTITY and not o.variant.spatial}
    for family, param in swept_parameters(rows):
        curves = analysis.dose_response(rows, family, param)
        if curves:
            spec = next((p for p in family_class(family).parameters if p.name == param), None)
            chance = {o.pair: o.chance for o in rows}
            identity_value = spec.identity_value if spec is not None else None
            out.append({"family": family, "param": param, "doc": spec.doc if spec else "",
                        "curves": curves, "chance": chance, "identity": identity,
                        "identity_value": (float(identity_value)
                                           if isinstance(identity_value, (int, float)) else None)})
    return out


def dynamics_section(results: list[RunResult]) -> list[dict]:
    """Per architecture (default model, first task by name): the metric curves of one
    showcase variant per family, averaged over seeds."""
    by_arch: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        if result.status == "ok" and result.metrics and not analysis.model_overrides(result.spec.arch):
            by_arch[result.spec.arch.name].append(result)
    out = []
    for arch, group in sorted(by_arch.items()):
        task = sorted({r.spec.task.name for r in group})[0]
        group = [r for r in group if r.spec.task.name == task]
        shown = analysis.showcase_variants(r.spec.skip for r in group)
        panels = []
        for key, stage, xlabel, ylabel, title in DYNAMICS:
            series = []
            for v in shown:
                snapshots = [r.snapshot(stage) for r in group if r.spec.skip == v]
                snapshots = [s for s in snapshots if s is not None]
                curves = [s.series(key) for s in snapshots if s.series(key)]
                if not curves:
                    continue
                xs, mean = mean_curve(curves)
                if key == "lesion_accuracy" and snapshots[0].lesion_applications:
                    applications = snapshots[0].lesion_applications
                    xs = [applications[i] for i in xs if i < len(applications)]
                    mean = mean[:len(xs)]
                series.append((v, xs, mean))
            if not series and key == "saturated_fraction":
                continue  # only models with tanh branches (the RNN) have it
            panels.append({"key": key, "title": title, "xlabel": xlabel, "ylabel": ylabel,
                           "series": series})
        out.append({"arch": arch, "task": task, "panels": panels})
    return out


def run_counts(results: list[RunResult], summary) -> dict:
    """Expected, loaded, rerun (invalid or stale files), invalid, ok and diverged runs, and
    how many were trained in seed batches (``environment.seed_batch``)."""
    return {"expected": summary.total, "loaded": len(results), "total": len(results),
            "seed_batched": sum("seed_batch" in r.environment for r in results),
            "ok": sum(r.status == "ok" for r in results),
            "diverged": sum(r.status == "diverged" for r in results),
            "ran": summary.ran, "reused": summary.skipped, "rerun": summary.rerun,
            "invalid": len(summary.corrupt), "stale": len(summary.stale),
            "superseded": len(summary.superseded), "failed": len(summary.failed),
            "train_seconds": sum(r.wall_time_s for r in results)}


# ----------------------------------------------------------------------- figures
def dose_response_panels(sweep: dict, labels: Labels) -> list[figures.Panel]:
    """One panel per (arch, task) of a swept parameter: mean test accuracy with its 95% CI
    along the parameter, the view fitted to the data, the identity arm (``sweep["identity"]``,
    a :class:`~entangled.reports.stats.Summary` per pair, at ``sweep["identity_value"]``) drawn
    across the panel and its point ringed."""
    family, param = sweep["family"], sweep["param"]
    xlabel = f"{family} {param}" + (f" ({sweep['doc']})" if sweep["doc"] else "")
    panels = []
    for (arch, task), points in sweep["curves"].items():
        base = sweep.get("identity", {}).get((arch, task))
        reference = None
        if base is not None and base.n:
            reference = figures.Reference(base.mean, base.low, base.high, "identity (95% CI)",
                                          x=sweep.get("identity_value"))
        panels.append(figures.Panel(
            f"{labels.arch(arch)} · {labels.task(task)}", xlabel, "test accuracy",
            [figures.Series("mean ± 95% CI", [p[0] for p in points],
                            [p[1].mean for p in points],
                            [_half_width(p[1]) for p in points])],
            hline=sweep.get("chance", {}).get((arch, task)), hline_label="chance",
            reference=reference, fit_to_data=True, math_labels=False))
    return panels


def dose_response_figures(sections: list[dict], labels: Labels) -> list[figures.Figure]:
    out = []
    for sweep in sections:
        family, param = sweep["family"], sweep["param"]
        out.append(figures.panel_figure(
            f"dose-{family}-{param}", f"Dose-response: accuracy against {family} {param}",
            f"Test accuracy (mean over seeds with 95% confidence intervals) against the {family} "
            f"parameter {param}, one panel per architecture and task; the identity is the point "
            f"at the parameter's identity end, ringed, and its mean and interval are drawn "
            f"across the panel. The y axis is fitted to the data.",
            dose_response_panels(sweep, labels)))
    return out


def _half_width(summary) -> float:
    if math.isnan(summary.high):
        return 0.0
    return (summary.high - summary.low) / 2


def distance_figure(rows: list[Outcome], labels: Labels) -> figures.Figure | None:
    panels = []
    for (arch, task), group in analysis.by_pair(rows).items():
        group = [o for o in group if o.properties and o.summary.n]
        if not group:
            continue
        series = []
        for family in sorted({o.family for o in group}):
            members = [o for o in group if o.family == family]
            series.append(figures.Series(
                family, [o.properties["distance_from_identity"] for o in members],
                [o.summary.mean for o in members], [_half_width(o.summary) for o in members]))
        base = next((o for o in group if o.family == analysis.IDENTITY), None)
        reference = (figures.Reference(base.summary.mean, base.summary.low, base.summary.high,
                                       "identity (95% CI)", x=0.0) if base is not None else None)
        panels.append(figures.Panel(f"{labels.arch(arch)} · {labels.task(task)}",
                                    r"$\|M - I\|_F / \sqrt{n}$", "test accuracy",
                                    series, hline=group[0].chance, hline_label="chance",
                                    scatter=True, reference=reference, fit_to_data=True,
                                    math_labels=False))
    if not panels:
        return None
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


def dynamics_figures(sections: list[dict], labels: Labels) -> list[figures.Figure]:
    out = []
    for entry in sections:
        arch, task = entry["arch"], entry["task"]
        panels = [figures.Panel(p["title"], p["xlabel"], p["ylabel"],
                                [figures.Series(labels.variant(v), xs, ys, marker=".")
                                 for v, xs, ys in p["series"]],
                                logy=(p["key"] == "jacobian_singular_values"))
                  for p in entry["panels"]]
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


class Labels:
    """The render step's text for typed values: variants (distinct within the page),
    architectures with non-default model fields, tasks with non-default options."""

    def __init__(self, variants):
        self._variants = analysis.variant_labels(variants)

    def variant(self, v: SkipVariant) -> str:
        return self._variants.get(v) or analysis.variant_label(v)

    @staticmethod
    def arch(arch) -> str:
        return analysis.arch_label(arch) if not isinstance(arch, str) else arch

    @staticmethod
    def task(task) -> str:
        return analysis.task_label(task) if not isinstance(task, str) else task


# ------------------------------------------------------------------------- render
def environment() -> dict:
    """The environment record of this process (:func:`entangled.environment.environment`:
    versions, CPU model and instruction sets, GPU, threads) plus the git commit when the
    package runs from a checkout."""
    from entangled.environment import environment as record

    info = record()
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, cwd=Path(__file__).parent)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def render(context: dict, labels: Labels | None = None) -> str:
    """The page: the template rendered with ``context``; typed values become text here
    (filters ``variant``, ``arch``, ``task``)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    labels = labels or Labels(())
    env = Environment(loader=PackageLoader("entangled.reports", "templates"),
                      autoescape=select_autoescape(["html", "xml"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _format_number
    env.filters["pct"] = lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"
    env.filters["pvalue"] = lambda v: "—" if v is None or math.isnan(v) else (f"{v:.3f}" if v >= 0.001 else "<0.001")
    env.filters["variant"] = labels.variant
    env.filters["arch"] = labels.arch
    env.filters["task"] = labels.task
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


def report_dir(preset: presets.Suite, out_dir: str | os.PathLike | None) -> Path:
    """``out_dir``, or ``reports/out/<suite name>`` under the current directory."""
    return Path(out_dir) if out_dir is not None else Path("reports") / "out" / preset.name


def _suite(preset_name: str, suite: presets.Suite | str | os.PathLike | None) -> presets.Suite:
    if suite is None:
        return presets.get_preset(preset_name)
    if isinstance(suite, presets.Suite):
        return suite
    return presets.load_suite(suite)


def train_shard(preset_name: str, out_dir: str | os.PathLike | None, shard: str, *,
                jobs: int | None = None, progress: bool = True, executor: str = "local",
                scheduler: str | None = None,
                suite: presets.Suite | str | os.PathLike | None = None,
                seed_batching: str = "auto"):
    """Train only shard ``shard`` (``"I/N"``) of the suite's runs into ``out_dir/runs``;
    render nothing. Returns the :class:`~entangled.sweep.SweepSummary`."""
    from entangled.sweep import run_sweep

    preset = _suite(preset_name, suite)
    out = report_dir(preset, out_dir)
    log(f"report: suite {preset.name!r}, shard {shard} -> {out / 'runs'}")
    return run_sweep(presets.run_configs(preset), out / "runs",
                     jobs=jobs or max(1, os.cpu_count() or 1), progress=progress,
                     executor=executor, scheduler=scheduler, shard=shard,
                     seed_batching=seed_batching)


GENERATOR = "entangled report"


@contextlib.contextmanager
def output_directory(out: Path):
    """Prepare ``out`` for a report and hold its lock while the block runs.

    Clear errors (never a traceback) for a path that is a file or not writable; refuses an
    ``index.html`` that this tool did not write; a second report on the same directory
    refuses with the pid of the one that holds the lock (``.report.lock``, released when the
    holder exits, however it exits).
    """
    import fcntl

    from entangled.errors import InvalidParameterError

    if out.exists() and not out.is_dir():
        raise InvalidParameterError("--out", str(out), "a directory (this path is a file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError("--out", str(out), f"a directory that can be created ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InvalidParameterError("--out", str(out), "a writable directory")
    index = out / "index.html"
    if index.exists():
        head = index.read_bytes()[:4096].decode("utf-8", "replace")
        if f'<meta name="generator" content="{GENERATOR}">' not in head:
            raise InvalidParameterError(
                "--out", str(out), "a directory without an index.html, or one written by "
                "entangled report (this index.html was not written by it; move it away or "
                "choose another --out)")
    lock_path = out / ".report.lock"
    handle = open(lock_path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InvalidParameterError(
                "--out", str(out), f"a directory no other report is writing to (another "
                f"entangled report, pid {holder}, holds {lock_path}; wait for it or choose "
                "another --out)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield out
    finally:
        handle.close()


def build_report(preset_name: str = "quick", out_dir: str | os.PathLike | None = None, *,
                 conjecture_paths: Sequence[str] = (), jobs: int | None = None,
                 progress: bool = True, executor: str = "local",
                 scheduler: str | None = None,
                 suite: presets.Suite | str | os.PathLike | None = None) -> Path:
    """Run a suite (resuming finished runs) and write ``index.html``; return its path.

    ``suite`` is a :class:`~entangled.reports.presets.Suite` or the path of a suite TOML file; without
    it the built-in suite ``preset_name`` runs. The suite is validated before the output
    directory is touched. ``executor``/``scheduler``: where the runs execute
    (:func:`entangled.sweep.run_sweep`).
    """
    return make_report(_suite(preset_name, suite), out_dir, conjecture_paths=conjecture_paths,
                       jobs=jobs, progress=progress, executor=executor,
                       scheduler=scheduler).index


@dataclass
class ReportOutcome:
    """What a report invocation produced (for the terminal summary and the exit status)."""

    index: Path
    findings: list
    mismatches: list[dict]
    runs: dict
    sweep: Any
    wall_time_s: float
    protocol: str = "fixed learning rate"
    unconfirmed: list = field(default_factory=list)

    def terminal_summary(self) -> str:
        """A few lines: F1-F3 verdicts, conjecture mismatches, invalid/rerun/failed runs."""
        lines = [f"report: {self.index}", f"  findings ({self.protocol}):"]
        for j in self.findings:
            lines.append(f"  {j.finding.key:<3} {j.verdict:<14} {j.finding.claim}")
        r = self.runs
        lines.append(f"  runs: {r['loaded']}/{r['expected']} loaded ({r['reused']} reused, "
                     f"{r['ran']} trained now, {r['rerun']} rerun: {r['invalid']} invalid and "
                     f"{r['stale']} stale files moved aside; {r['superseded']} superseded; "
                     f"{r['failed']} failed)")
        for failure in self.sweep.failed:
            lines.append(f"    failed {failure['hash']} {failure['label']}: {failure['error']}")
        for entry in self.sweep.corrupt + self.sweep.stale:
            lines.append(f"    set aside {entry['moved_to']}: {entry['reason']}")
        if self.mismatches:
            lines.append(f"  conjectures: {len(self.mismatches)} verdict(s) differ from the "
                         "expectation:")
            for m in self.mismatches:
                lines.append(f"    {m['conjecture']} [{m['family']}]: {m['verdict']}, expected "
                             f"{m['expected']}")
        else:
            lines.append("  conjectures: every verdict matches its expectation")
        if self.unconfirmed:
            first = self.unconfirmed[0]
            lines.append(f"  conjectures: {len(self.unconfirmed)} expected falsification(s) not "
                         f"found with this suite's {first['examples']} examples per family (the "
                         f"catalog checks them with up to {max(u['catalog_examples'] for u in self.unconfirmed)}); "
                         "not counted as mismatches (raise conjecture_examples to check them):")
            for u in self.unconfirmed:
                lines.append(f"    {u['conjecture']} [{u['family']}]: {u['verdict']} at "
                             f"{u['examples']} examples, catalog {u['catalog_examples']}")
        return "\n".join(lines)


def make_report(preset: presets.Suite, out_dir: str | os.PathLike | None = None, *,
                conjecture_paths: Sequence[str] = (), jobs: int | None = None,
                progress: bool = True, executor: str = "local",
                scheduler: str | None = None, seed_batching: str = "auto",
                until_decided: bool = True) -> ReportOutcome:
    """:func:`build_report` for a parsed suite, returning the :class:`ReportOutcome`.
    ``seed_batching``: see :func:`entangled.sweep.run_sweep`; ``until_decided``: run the
    suite's ``[sequential]`` design (stages of seeds for the primary comparisons still open,
    :mod:`entangled.reports.staged`) — without that table, or with ``False``, every run of the
    suite once (a fixed design)."""
    out = report_dir(preset, out_dir)
    with output_directory(out):
        return _build(preset, out, conjecture_paths, jobs, progress, executor, scheduler,
                      seed_batching, until_decided)


HISTORY_FILE = "history.json"
HISTORY_KEEP = 50


def record_invocation(out: Path, entry: dict) -> list[dict]:
    """Append this invocation to ``out/history.json`` (the last 50 are kept) and return the
    history, newest last. Each entry has its own wall times, separate from the runs' own
    recorded training times (a cached rerun does not overwrite the run that did the work)."""
    from entangled.sweep import write_json_atomic

    path = out / HISTORY_FILE
    history: list[dict] = []
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            history = [h for h in loaded if isinstance(h, dict)] if isinstance(loaded, list) else []
        except (OSError, ValueError):
            history = []
    history = (history + [entry])[-HISTORY_KEEP:]
    write_json_atomic(path, finite_or_none(history))
    return history


def _build(preset: presets.Suite, out: Path, conjecture_paths: Sequence[str],
           jobs: int | None, progress: bool, executor: str = "local",
           scheduler: str | None = None, seed_batching: str = "auto",
           until_decided: bool = True) -> ReportOutcome:
    from entangled.properties import family_rows
    from entangled.export import outcomes_table
    from entangled.properties import IDENTITY_ATTRIBUTES
    from entangled.sweep import write_json_atomic
    from entangled.reports.scale import scale_section, scale_summary

    jobs = jobs or max(1, os.cpu_count() or 1)
    started = time.perf_counter()

    where = "on Dask" if executor == "dask" else f"{jobs} worker{'s' if jobs > 1 else ''}"
    log(f"report: preset {preset.name!r} -> {out} ({where})")
    t0 = time.perf_counter()
    results, sweep_summary, staged_outcome = run_suite(
        preset, out, jobs, progress, until_decided, executor=executor, scheduler=scheduler,
        seed_batching=seed_batching)
    sweep_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    ledger = conjecture_ledger(conjecture_paths, preset.conjecture_examples, out)
    ledger_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    log("report: analysing and rendering")
    fixed = fixed_lr_results(preset, results)
    rows = analysis.outcomes(fixed)
    attach_properties(rows)
    selections, tuned_rows, judged_rows = tuning_section(
        preset, results, None if staged_outcome is None else staged_outcome.stage1_hashes)
    # a task counts as unlearnt when no mapping at the fixed rate learnt it on validation
    unlearnt = [u.pair for u in learnability.unlearnt_pairs(
        rows, learnability.memoryless_levels(results))]
    decisions = None if staged_outcome is None else staged_outcome.decisions
    judged = findings_section(preset, judged_rows, rows, unlearnt, decisions)
    spending = spending_section(preset, staged_outcome, results)
    pairs = outcomes_section(rows)
    dose = dose_response_section(rows)
    dynamics = dynamics_section(fixed)
    correlations = analysis.correlations(rows)
    counts = run_counts(results, sweep_summary)
    reused_hashes = set(sweep_summary.hashes) - set(sweep_summary.ran_hashes)

    # render step: labels and figures from the typed sections
    labels = Labels([o.variant for o in rows + tuned_rows]
                    + [e["variant"] for j in judged
                       for e in j.evidence + j.secondary_evidence])
    dose_figures = dose_response_figures(dose, labels)
    distance = distance_figure(rows, labels)
    dynamics_figs = dynamics_figures(dynamics, labels)
    scale = scale_section(results, rows)  # MNIST-1D, unlearnt tasks, skip gain
    figures.write_svgs(scale["figures"], out / "figures")
    figures.write_svgs([*dose_figures, distance, *dynamics_figs], out / "figures")
    context = {
        "title": f"entangled report — {preset.name}",
        "preset": preset,
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
        "findings": judged,
        "primary_declared": preset.primary_declared,
        "spending": spending,
        "band": preset.band,
        "calibration": [{**c.to_dict(), "pairs": list(zip(c.tried, c.identity_validation))}
                        for c in preset.calibration],
        "selections": selections,
        "tuned_pairs": outcomes_section(tuned_rows),
        "fixed_lrs": sorted({run.fixed_lr for run in preset.runs}),
        "families": family_rows(64),
        "attributes": IDENTITY_ATTRIBUTES,
        "ledger": ledger,
        "ledger_counts": _ledger_counts(ledger),
        "ledger_groups": ledger_groups(ledger),
        "literature": literature_section(ledger),
        "pairs": pairs,
        "dose_figures": dose_figures,
        "distance_figure": distance,
        "correlations": correlations,
        "property_labels": PROPERTY_LABELS,
        "dynamics_figures": dynamics_figs,
        "scale": scale,
        "runs": counts,
        "sweep_summary": sweep_summary.to_dict(),
        "training": preset.training,
        "seeds": preset.seeds,
        "environment": environment(),
        "timings": {"sweep": sweep_seconds, "ledger": ledger_seconds},
        "conjecture_paths": list(conjecture_paths),
    }
    mismatches, unconfirmed = ledger_mismatches(ledger, preset.conjecture_examples)
    context["ledger_unconfirmed"] = unconfirmed
    context["timings"]["page"] = time.perf_counter() - t0
    context["timings"]["total"] = time.perf_counter() - started
    context["history"] = record_invocation(out, {
        "started": context["generated"], "suite": preset.name,
        "wall_time_s": context["timings"]["total"], "sweep_s": sweep_seconds,
        "ledger_s": ledger_seconds, "page_s": context["timings"]["page"],
        "trained": counts["ran"], "reused": counts["reused"], "rerun": counts["rerun"],
        "training_s_of_runs_trained_now": sum(
            r.wall_time_s for r in results if r.config_hash not in reused_hashes),
    })
    html = render(context, labels)
    index = out / "index.html"
    tmp = index.with_name(f".index.{os.getpid()}.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, index)

    write_json_atomic(out / "summary.json", finite_or_none({
        "preset": preset.name,
        "suite_source": preset.source,
        "protocol": "tuned" if tuned_rows else "fixed learning rate",
        "findings": [j.to_dict() for j in judged],
        "primary_comparisons": {"declared": preset.primary_declared,
                                "comparisons": [p.to_dict() for p in preset.primary]},
        "sequential": spending,
        "headroom": {"band": list(preset.band),
                     "calibration": [c.to_dict() for c in preset.calibration]},
        "learning_rate_selection": [s.to_dict() for s in selections],
        "tuned_outcomes": [o.to_dict() for o in tuned_rows],
        "outcomes": [o.to_dict() for o in rows],
        "outcomes_table": outcomes_table(rows),
        "correlations": [{**c, "arch": analysis.arch_label(c["arch"]),
                          "task": analysis.task_label(c["task"])} for c in correlations],
        "ledger_counts": context["ledger_counts"],
        "ledger_mismatches": mismatches,
        "ledger_unconfirmed": unconfirmed,
        "scale": scale_summary(scale),
        "runs": counts,
        "timings": context["timings"],
        "history": context["history"],
    }))
    log(f"report: done in {context['timings']['total']:.1f} s")
    return ReportOutcome(index, judged, mismatches, counts, sweep_summary,
                         context["timings"]["total"],
                         "learning rates tuned on validation" if tuned_rows
                         else "fixed learning rate", unconfirmed)


def catalog_examples() -> dict[str, int]:
    """Examples per family with which the built-in catalog checks each conjecture (its own
    ``examples``, else the engine's default), by qualified name."""
    from entangled.theory.loader import load_builtin
    from entangled.theory.registry import DEFAULT_EXAMPLES

    return {c.name: c.examples or DEFAULT_EXAMPLES for c in load_builtin()}


def ledger_mismatches(ledger: dict, examples: int,
                      needed: Callable[[], dict[str, int]] = catalog_examples
                      ) -> tuple[list[dict], list[dict]]:
    """The ledger's verdicts that differ from their expectation, split in two:

    * ``mismatches``: real disagreements, which fail the report (exit 1): a counterexample to
      a claim expected to hold, an error, or a falsification expected and not found although
      the search used at least the examples the catalog checks it with;
    * ``unconfirmed``: an expected falsification of a built-in conjecture not found because
      the suite's ``conjecture_examples`` (``examples``) is below the catalog's own count
      (``needed()``, looked up only when there is such an entry). Too small a search is not
      evidence that the claim holds, so these are shown, not counted: a user's suite is judged
      on its own runs, not on how many examples it gave the built-in catalog.
    """
    mismatches, unconfirmed = [], []
    catalog: dict[str, int] | None = None
    for e in ledger.get("entries", []):
        if e["matches_expected"]:
            continue
        row = {"conjecture": e["conjecture"], "family": e["family"], "verdict": e["verdict"],
               "expected": e["expected"]}
        if e["expected"] == "falsified" and e["verdict"] in ("holds", "proved"):
            catalog = catalog if catalog is not None else needed()
            need = catalog.get(e["conjecture"])
            if need is not None and examples < need:
                unconfirmed.append({**row, "examples": examples, "catalog_examples": need})
                continue
        mismatches.append(row)
    return mismatches, unconfirmed


def literature_section(ledger: dict) -> list[dict]:
    """The literature section: one row per (published claim, conjecture) with claim, source,
    kind, verdict and evidence (:func:`entangled.theory.literature.literature_section`)."""
    from entangled.theory.literature import literature_section as rows

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
