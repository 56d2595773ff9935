"""The report's evidence: everything the page shows, measured once from the results.

:func:`gather` turns a suite's run results, its sweep summary and the conjecture ledger into
one typed :class:`Evidence` object: the outcome tables (at the fixed learning rate and at the
rates selected on validation), the selections, the unlearnt tasks, the findings' judgements,
what the staged design spent, the headroom calibration, the dose-response curves,
correlations, training dynamics, composite gains and MNIST-1D calibration, the ledger and its mismatches, the run counts, the machines the runs were trained
on, and this invocation's timings and history. The page's sections
(:mod:`entangled.reports.builtin_sections`) are functions of it; nothing after :func:`gather` reads a
result file or recomputes an analysis, and :func:`summary_data` writes the same evidence as
``summary.json``.
"""

from __future__ import annotations

import datetime
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import entangled as E
from entangled import properties as P
from entangled.environment import environment as environment_record
from entangled.environment import machine_label
from entangled.export import outcomes_table
from entangled.mappings import family_class
from entangled.properties import family_rows
from entangled.reports import analysis, depth, learnability, presets, staged, tuning
from entangled.reports.analysis import Outcome
from entangled.reports.findings import Judgement, judge_suite
from entangled.reports.fragility import with_fragility
from entangled.reports.scale import calibration_rows, summary_entry
from entangled.reports.sequential import scheme_text
from entangled.runs import RunResult, SkipVariant
from entangled.theory.loader import load_builtin
from entangled.theory.registry import DEFAULT_EXAMPLES


class Labels:
    """The text of typed values on the page: variants (distinct within the page),
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


@dataclass(frozen=True)
class Evidence:
    """What one report shows (built once by :func:`gather`; read by every section).

    ``outcomes`` are at each group's fixed learning rate (mapping properties attached);
    ``tuned_outcomes`` at the learning rates selected on validation (empty when the suite tunes
    nothing); ``findings`` (F1, F2, F3a, F3b, F3) rest on the suite's preregistered primary
    comparisons, judged at the selected learning rates (and, with a staged design, on the
    group-sequential decisions), with the other readings of the fixed-rate table as secondary
    evidence. ``spending``: what the staged design spent
    (:func:`spending`; ``None`` for a fixed design); ``headroom``: the suite's
    ``[[calibration]]`` records with the identity's validation score at each value tried;
    ``calibration``: the MNIST-1D table and ``references_measured`` when its reference rows
    were measured.
    """

    suite: presets.Suite
    out: Path
    results: list[RunResult]
    sweep: Any
    runs: dict
    outcomes: list[Outcome]
    tuned_outcomes: list[Outcome]
    selections: list[tuning.Selection]
    unlearnt: list[learnability.Unlearnt]
    findings: list[Judgement]
    spending: dict | None
    headroom: list[dict]
    dose_response: list[dict]
    dynamics: list[dict]
    correlations: list[dict]
    gains: Any
    calibration: list[dict]
    references_measured: str | None
    ledger: dict
    mismatches: list[dict]
    unconfirmed: list[dict]
    conjecture_paths: list[str]
    environment: dict
    machines: list[dict]
    families: list[dict]
    labels: Labels
    timings: dict
    history: list[dict] = field(default_factory=list)
    generated: str = ""

    @property
    def tuned(self) -> bool:
        return bool(self.tuned_outcomes)

    @property
    def protocol(self) -> str:
        return "learning rates tuned on validation" if self.tuned else "fixed learning rate"

    def judgement_data(self) -> list[dict]:
        """The findings as plain data (:meth:`Judgement.to_dict`, so keys added there show up
        here) with each verdict's ``fragility`` (:func:`entangled.reports.fragility.with_fragility`,
        read from the primary evidence)."""
        return with_fragility([j.to_dict() for j in self.findings])


# ---------------------------------------------------------------------------- analysis
def environment() -> dict:
    """The environment record of this process (:func:`entangled.environment.environment`:
    versions, CPU model and instruction sets, GPU, threads) plus the git commit when the
    package runs from a checkout."""
    import subprocess

    info = environment_record()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, cwd=Path(__file__).parent)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def mapping_properties(v: SkipVariant, n: int, seed: int = 0) -> dict:
    """The properties that rank correlations relate to outcomes, measured on one mapping."""
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


def judge_findings(suite: presets.Suite, rows: list[Outcome],
                   secondary_rows: list[Outcome] | None = None,
                   unlearnt: Sequence[tuple] = (), decisions: dict | None = None
                   ) -> list[Judgement]:
    """F1, F2, F3a, F3b and F3 judged on the suite's preregistered primary comparisons in
    ``rows`` (the tuned runs when the suite tunes), with every other reading of
    ``secondary_rows`` (the fixed-rate table) as secondary evidence, leaving out the
    ``unlearnt`` (arch, task) pairs (decided on validation); ``decisions``: the staged
    design's words (:mod:`entangled.reports.staged`)."""
    return judge_suite(suite.primary, rows, secondary_rows=secondary_rows,
                       unlearnt=unlearnt, decisions=decisions)


def spending(suite: presets.Suite, staged_outcome) -> dict | None:
    """What the group-sequential design spent: the scheme in words, the stage each primary
    comparison reached with its seeds and word, the runs of each stage, and the runs the
    fixed design (every primary arm at every rate of its grid on the cap's seeds) would have
    trained. ``None`` for a fixed design."""
    if staged_outcome is None:
        return None
    design = staged_outcome.design
    stage1 = len(staged_outcome.stage1_hashes)
    primary_arms = set()
    for p in suite.primary:
        group = staged._group_of(suite, p)
        primary_arms.add((id(group), p.variant))
        primary_arms.add((id(group), (("family", "identity"),)))
    groups = {id(g): g for g in suite.runs}
    extra_seeds = design.cap - len(suite.seeds)
    fixed_design = stage1 + sum(len(groups[g].learning_rates) * extra_seeds
                                for g, _ in primary_arms)
    used = sum(staged_outcome.runs_per_stage)
    return {"scheme": scheme_text(design), "design": design.to_dict(),
            "comparisons": staged_outcome.summary(suite),
            "runs_per_stage": list(staged_outcome.runs_per_stage), "runs": used,
            "fixed_design_runs": fixed_design,
            "saved": fixed_design - used,
            "fraction_of_fixed_design": used / fixed_design if fixed_design else None}


def headroom(suite: presets.Suite) -> list[dict]:
    """The suite's ``[[calibration]]`` records (how its primary tasks were set on
    validation), each with ``pairs``: (value tried, identity validation score)."""
    return [{**c.to_dict(), "pairs": list(zip(c.tried, c.identity_validation))}
            for c in suite.calibration]


def fixed_lr_results(suite: presets.Suite, results: list[RunResult]) -> list[RunResult]:
    """The runs at their group's fixed learning rate (every run when nothing is tuned)."""
    if not suite.tuned:
        return list(results)
    hashes = suite.fixed_lr_hashes()
    return [r for r in results if r.config_hash in hashes]


def tuned_selection(suite: presets.Suite, results: list[RunResult],
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
    if not suite.tuned:
        return [], [], judged
    selections = {k: s for k, s in every.items() if s.tuned}
    ordered = sorted(selections.values(), key=lambda s: analysis.pair_sort_key((s.arch, s.task))
                     + (s.variant.sort_key(),))
    return ordered, analysis.outcomes(tuning.tuned_results(results, selections)), judged


def swept_parameters(rows: list[Outcome]) -> list[tuple[str, str]]:
    """``(family, param)`` for every numeric family parameter that takes at least two values
    among the suite's variants (the dose-response sweeps come from the data)."""
    values: dict[tuple[str, str], set] = defaultdict(set)
    for row in rows:
        for key, value in row.variant.params:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[(row.variant.family, key)].add(value)
    return sorted(k for k, v in values.items() if len(v) >= 2)


def dose_response(rows: list[Outcome]) -> list[dict]:
    """Per swept parameter: ``{"family", "param", "doc", "curves": {(arch, task): points},
    "chance", "identity": {(arch, task): Summary}, "identity_value"}``."""
    out = []
    identity = {o.pair: o.summary for o in rows
                if o.family == analysis.IDENTITY and not o.variant.spatial}
    chance = {o.pair: o.chance for o in rows}
    for family, param in swept_parameters(rows):
        curves = analysis.dose_response(rows, family, param)
        if curves:
            spec = next((p for p in family_class(family).parameters if p.name == param), None)
            identity_value = spec.identity_value if spec is not None else None
            out.append({"family": family, "param": param, "doc": spec.doc if spec else "",
                        "curves": curves, "chance": chance, "identity": identity,
                        "identity_value": (float(identity_value)
                                           if isinstance(identity_value, (int, float))
                                           and not isinstance(identity_value, bool) else None)})
    return out


#: The training-dynamics panels: (metric key, snapshot stage, x label, y label, title).
DYNAMICS = (
    ("lesion_accuracy", "final", "lesioned application l", "test accuracy", "lesion"),
    ("refinement_ratio", "final", "application l", "‖f(h)‖ / ‖M h‖", "refinement ratio"),
    ("refinement_cosine", "final", "application l",
     "$\\cos(f_l,\\, \\partial L / \\partial h_{l+1})$", "refinement cosine"),
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


def dynamics(results: list[RunResult]) -> list[dict]:
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
                snapshots = [s for r in group if r.spec.skip == v
                             if (s := r.snapshot(stage)) is not None]
                curves = [c for s in snapshots if (c := s.series(key))]
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


def run_machines(results: list[RunResult]) -> list[dict]:
    """The machines the runs were trained on, most runs first: ``{"label", "runs",
    "cpu", "cpu_flags", "torch_cpu_capability", "gpu", "torch", "torch_blas"}`` (from each
    result's environment record; results written before the CPU was recorded count as
    ``"unknown machine"``)."""
    keys = ("cpu", "cpu_flags", "torch_cpu_capability", "gpu", "torch", "torch_blas")
    counts: Counter = Counter()
    records: dict[str, dict] = {}
    for result in results:
        env = result.environment or {}
        label = machine_label(env)
        counts[label] += 1
        records.setdefault(label, {k: env.get(k) for k in keys})
    return [{"label": label, "runs": n, **records[label]} for label, n in counts.most_common()]


# ------------------------------------------------------------------------------ ledger
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


def ledger_counts(ledger: dict) -> dict:
    """Checks per verdict, the total, the mismatches and the files that failed to load."""
    entries = ledger.get("entries", [])
    counts = {v: sum(e["verdict"] == v for e in entries)
              for v in ("proved", "holds", "falsified", "error")}
    counts["total"] = len(entries)
    counts["mismatched"] = sum(not e["matches_expected"] for e in entries)
    counts["load_errors"] = len(ledger.get("load_errors", []))
    return counts


def catalog_examples() -> dict[str, int]:
    """Examples per family with which the built-in catalog checks each conjecture (its own
    ``examples``, else the engine's default), by qualified name."""
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


# ------------------------------------------------------------------------------ gather
def gather(suite: presets.Suite, out: Path, results: list[RunResult], sweep, ledger: dict, *,
           conjecture_paths: Sequence[str] = (), timings: dict | None = None,
           started: float | None = None, staged_outcome=None,
           record: Callable[[dict], list[dict]] | None = None,
           references: Callable[[], dict] | str | None = "cached") -> Evidence:
    """Analyse the results once and return the report's :class:`Evidence`.

    ``timings`` holds the ``sweep`` and ``ledger`` seconds measured by the caller; the analysis
    time is added as ``page`` and the invocation's ``total`` (from ``started``,
    :func:`time.perf_counter`). ``record`` is called with this invocation's history entry and
    returns the history (newest last) shown on the page. ``staged_outcome``: the
    :class:`~entangled.reports.staged.StagedOutcome` of a staged report (``None``: a fixed
    design). ``references``: the MNIST-1D reference models
    (:func:`entangled.reports.scale.calibration_rows`).
    """

    t0 = time.perf_counter()
    results = list(results)
    fixed = fixed_lr_results(suite, results)
    rows = analysis.outcomes(fixed)
    attach_properties(rows)
    selections, tuned_rows, judged_rows = tuned_selection(
        suite, results, None if staged_outcome is None else staged_outcome.stage1_hashes)
    # a task counts as unlearnt when no mapping at the fixed rate learnt it on validation
    unlearnt = learnability.unlearnt_pairs(rows, learnability.memoryless_levels(results))
    pairs = [u.pair for u in unlearnt]
    judged = judge_findings(suite, judged_rows, rows, pairs,
                            None if staged_outcome is None else staged_outcome.decisions)
    table, measured = calibration_rows(rows, references=references)
    mismatches, unconfirmed = ledger_mismatches(ledger, suite.conjecture_examples)
    generated = datetime.datetime.now().isoformat(timespec="seconds")
    labels = Labels([o.variant for o in rows + tuned_rows]
                    + [e["variant"] for j in judged
                       for e in j.evidence + j.secondary_evidence])
    evidence = dict(
        suite=suite, out=out, results=results, sweep=sweep, runs=run_counts(results, sweep),
        outcomes=rows, tuned_outcomes=tuned_rows, selections=selections, unlearnt=unlearnt,
        findings=judged, spending=spending(suite, staged_outcome), headroom=headroom(suite),
        dose_response=dose_response(rows),
        dynamics=dynamics(fixed), correlations=analysis.correlations(rows),
        gains=depth.gain_section(results, rows),
        calibration=table, references_measured=measured,
        ledger=ledger, mismatches=mismatches, unconfirmed=unconfirmed,
        conjecture_paths=list(conjecture_paths), environment=environment(),
        machines=run_machines(results), families=family_rows(64), labels=labels,
        generated=generated)
    timings = dict(timings or {})
    timings["page"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - (started if started is not None else t0)
    history: list[dict] = []
    if record is not None:
        ran = set(sweep.ran_hashes)
        history = record({
            "started": generated, "suite": suite.name, "wall_time_s": timings["total"],
            "sweep_s": timings.get("sweep"), "ledger_s": timings.get("ledger"),
            "page_s": timings["page"], "trained": sweep.ran, "reused": sweep.skipped,
            "rerun": sweep.rerun,
            "training_s_of_runs_trained_now": sum(r.wall_time_s for r in results
                                                  if r.config_hash in ran)})
    return Evidence(**evidence, timings=timings, history=history)


def summary_data(ev: Evidence) -> dict:
    """``summary.json``: every number the page shows, as plain data."""
    return {
        "preset": ev.suite.name,
        "suite_source": ev.suite.source,
        "protocol": "tuned" if ev.tuned else "fixed learning rate",
        "findings": ev.judgement_data(),
        "primary_comparisons": {"declared": ev.suite.primary_declared,
                                "comparisons": [p.to_dict() for p in ev.suite.primary]},
        "sequential": ev.spending,
        "headroom": {"band": list(ev.suite.band),
                     "calibration": [c.to_dict() for c in ev.suite.calibration]},
        "learning_rate_selection": [s.to_dict() for s in ev.selections],
        "learning_rate_pilot": [t.to_dict() for t in ev.suite.tuning],
        "tuned_outcomes": [o.to_dict() for o in ev.tuned_outcomes],
        "outcomes": [o.to_dict() for o in ev.outcomes],
        "outcomes_table": outcomes_table(ev.outcomes),
        "correlations": [{**c, "arch": analysis.arch_label(c["arch"]),
                          "task": analysis.task_label(c["task"])} for c in ev.correlations],
        "ledger_counts": ledger_counts(ev.ledger),
        "ledger_mismatches": ev.mismatches,
        "ledger_unconfirmed": ev.unconfirmed,
        "scale": summary_entry(ev.gains, ev.unlearnt, ev.calibration),
        "runs": ev.runs,
        "environment": ev.environment,
        "run_machines": ev.machines,
        "timings": ev.timings,
        "history": ev.history,
    }
