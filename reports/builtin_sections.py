"""The report's built-in sections, in page order: each a function of the
:class:`~entangled.reports.evidence.Evidence` returning its
:class:`~entangled.reports.page.Fragment` (a template under ``templates/sections/`` and the
plain data it shows), registered with :func:`entangled.reports.sections.register_section` (a heading and a page
position each).

The page leads with the answer: the findings with their evidence (10), the outcome figures
(20) and tables (30); then the larger-suite checks (40-50), the training dynamics (60), the
families (70); the two ledgers folded (80, 90); the configuration and environment last (100).
"""

from __future__ import annotations

import math
from typing import Any

from entangled.environment import machine_label
from entangled.properties import IDENTITY_ATTRIBUTES
from entangled.reports import analysis, calibration, depth, figures, learnability, scale
from entangled.reports.evidence import Evidence, Labels, ledger_counts, ledger_groups
from entangled.reports.fragility import FACTOR
from entangled.reports.paired import ALPHA, SMALLEST_EFFECT
from entangled.reports.sections import Fragment, register_section
from entangled.reports.verdicts import EXCLUDED, MISSING, NOT_TESTED, rule_text
from entangled.theory.literature import literature_section as literature_rows


# ----------------------------------------------------------------------------- header
def header(ev: Evidence) -> dict[str, Any]:
    """The page's title, the suite line and the machine line (above every section)."""
    suite = ev.suite
    return {"title": f"entangled report — {suite.name}", "suite": suite,
            "generated": ev.generated, "runs": ev.runs, "seeds": suite.seeds,
            "machine": machine_label(ev.environment), "machines": ev.machines,
            "version": ev.environment.get("entangled")}


# --------------------------------------------------------------------------- findings
def _half_width(summary) -> float:
    if math.isnan(summary.high):
        return 0.0
    return (summary.high - summary.low) / 2


def decisive(judgement: dict) -> list[dict]:
    """The primary comparisons a verdict rests on, for the summary table: those whose word is
    the finding's verdict; for an inconclusive one the counted comparison nearest
    significance, or every comparison when none is counted (each excluded or missing, its word
    says why); none for a finding not tested or a conjunction (its parts decide it)."""
    evidence = judgement["evidence"]
    if judgement["verdict"] == NOT_TESTED or judgement.get("parts"):
        return []
    same = [e for e in evidence if e["status"] == judgement["verdict"]]
    if same:
        return same
    counted = [e for e in evidence if e.get("counted") and e.get("p_adjusted") is not None
               and not math.isnan(e["p_adjusted"])]
    if counted:
        return sorted(counted, key=lambda e: e["p_adjusted"])[:1]
    return list(evidence)  # nothing counted: every part excluded or missing says why


def untested(judgement: dict) -> list[str]:
    """What a finding's primary comparisons need that the suite did not measure
    (``arch/task mapping and identity``)."""
    return [f"{e['arch']}/{e['task']} {e['label']} and identity" for e in judgement["evidence"]
            if e["status"] == MISSING]


def findings_figure(judgements: list[dict], labels: Labels) -> figures.Figure | None:
    """The findings at a glance: each primary comparison's paired difference (pp) with its
    95% interval (excluded ones left out), one panel per finding that has primary evidence,
    the smallest effect of interest shaded."""
    panels = []
    for j in judgements:
        measured = [e for e in j["evidence"] if e.get("paired") and e["status"] not in EXCLUDED]
        if not measured:
            continue
        names = [f"{e['arch']}/{e['task']}\n{labels.variant(e['variant'])}" for e in measured]
        means = [100 * e["paired"]["mean"] for e in measured]
        errors = [100 * (e["paired"]["high"] - e["paired"]["low"]) / 2
                  if not math.isnan(e["paired"]["high"]) else 0.0 for e in measured]
        margin = 100 * j.get("smallest_effect", SMALLEST_EFFECT)
        panels.append(figures.Panel(
            f"{j['key']}: {j['verdict']}", "Δ test accuracy vs identity (pp)", "",
            [figures.Series("paired difference, 95% CI", means, list(range(len(measured))),
                            errors)],
            categories=names, band=(-margin, margin), band_label=f"±{margin:g} pp",
            math_labels=False))
    if not panels:
        return None
    return figures.panel_figure(
        "findings", "The findings' comparisons: mapping minus identity, paired by seed",
        "Each primary comparison a finding's verdict rests on: the mean paired difference in "
        "test accuracy to the identity skip (percentage points) with its paired t 95% interval, "
        "one panel per finding (F3 is F3a and F3b); the shaded band is the smallest effect of "
        "interest.", panels,
        columns=2, panel_size=(7.0, 3.0))


def rule_parts(margin: float, alpha: float) -> dict[str, str]:
    """The verdict rule (:func:`entangled.reports.verdicts.rule_text`) in three parts, stated
    once on the page: ``rule_comparison`` (each comparison), ``rule_any`` and ``rule_all``
    (how a finding combines them); a part the text does not separate is left empty."""
    comparison, _, rule_any = rule_text("any", margin, alpha).partition(" Finding: ")
    _, _, rule_all = rule_text("all", margin, alpha).partition(" Finding: ")
    return {"rule_comparison": comparison.removeprefix("Each primary comparison: "),
            "rule_any": rule_any, "rule_all": rule_all}


@register_section("findings", title="Findings", order=10)
def findings_section(ev: Evidence) -> Fragment:
    """The findings (F1, F2, F3a, F3b and F3, their conjunction), the verdict rule once, each
    verdict with the primary comparisons that decided it (and whether it is fragile), the
    primary and secondary evidence tables, what the staged design spent, how the primary
    tasks were set (headroom) and the tuning behind them."""
    judged = ev.judgement_data()
    verdicts = {j["key"]: j["verdict"] for j in judged}
    for j in judged:
        j["decisive"], j["untested"] = decisive(j), untested(j)
        j["part_verdicts"] = [(p, verdicts.get(p)) for p in j.get("parts", [])]
    margin = judged[0]["smallest_effect"] if judged else SMALLEST_EFFECT
    alpha = judged[0]["alpha"] if judged else ALPHA
    figure = findings_figure(judged, ev.labels)
    suite = ev.suite
    return Fragment("sections/findings.html", {
        "findings": judged, "tuned": ev.tuned,
        "fixed_lrs": sorted({run.fixed_lr for run in suite.runs}),
        "selections": ev.selections, "tuned_pairs": outcome_tables(ev.tuned_outcomes),
        "primary_declared": suite.primary_declared, "band": suite.band,
        "spending": ev.spending, "calibration": ev.headroom,
        "pilot_tuning": [pilot_tuning_row(t) for t in suite.tuning],
        "margin": margin, "alpha": alpha, "fragile_low": alpha / FACTOR,
        "fragile_high": alpha * FACTOR,
        **rule_parts(margin, alpha),
        "figure": figure,
    }, figures=(figure,) if figure else ())


def pilot_tuning_row(record) -> dict:
    """A ``[[tuning]]`` record for the page: the rates with their pilot validation means."""
    v = dict(record.variant)
    params = {k: x for k, x in v.items() if k not in ("family", "spatial")}
    return {**record.to_dict(), "pairs": list(zip(record.tried, record.mean_validation)),
            "mapping": analysis.variant_label(v["family"], params)}


# ------------------------------------------------------------------- outcome figures
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


def dose_response_figures(sweeps: list[dict], labels: Labels) -> list[figures.Figure]:
    out = []
    for sweep in sweeps:
        family, param = sweep["family"], sweep["param"]
        out.append(figures.panel_figure(
            f"dose-{family}-{param}", f"Dose-response: accuracy against {family} {param}",
            f"Test accuracy (mean over seeds with 95% confidence intervals) against the {family} "
            f"parameter {param}, one panel per architecture and task; the identity is the point "
            f"at the parameter's identity end, ringed, and its mean and interval are drawn "
            f"across the panel. The y axis is fitted to the data.",
            dose_response_panels(sweep, labels)))
    return out


def distance_figure(rows: list[analysis.Outcome], labels: Labels) -> figures.Figure | None:
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
        "architecture and task; the identity's mean and interval are drawn across each panel.",
        panels)


@register_section("ties", title="Property → outcome", order=20)
def ties_section(ev: Evidence) -> Fragment:
    """Dose-response curves, accuracy against distance from I, rank correlations."""
    dose = dose_response_figures(ev.dose_response, ev.labels)
    distance = distance_figure(ev.outcomes, ev.labels)
    shown = [*dose, *([distance] if distance else [])]
    return Fragment("sections/ties.html", {
        "figures": shown, "correlations": ev.correlations,
        "property_labels": analysis.PROPERTY_LABELS}, figures=tuple(shown))


# ---------------------------------------------------------------------------- outcomes
def outcome_tables(rows: list[analysis.Outcome]) -> list[dict]:
    """One table per (arch, task): identity first, then families, sweeps in numeric order."""
    return [{"arch": arch, "task": task, "rows": members, "chance": members[0].chance,
             "time_structure": members[0].time_structure}
            for (arch, task), members in analysis.by_pair(rows).items()]


@register_section("outcomes", title="Outcomes", order=30)
def outcomes_section(ev: Evidence) -> Fragment:
    return Fragment("sections/outcomes.html", {"pairs": outcome_tables(ev.outcomes),
                                               "tuned": ev.tuned})


# ------------------------------------------------------------------- larger suites
@register_section("calibration", title="MNIST-1D calibration, like for like", order=40)
def calibration_section(ev: Evidence) -> Fragment | None:
    if not ev.calibration:
        return None
    return Fragment("sections/calibration.html", {
        "rows": ev.calibration, "tolerance": calibration.TOLERANCE,
        "references_measured": ev.references_measured,
        "references_missing": scale.references_missing(ev.calibration)})


@register_section("learnability", title="Unlearnt tasks", order=45)
def learnability_section(ev: Evidence) -> Fragment:
    return Fragment("sections/learnability.html", {"unlearnt": ev.unlearnt,
                                                   "margin": learnability.MARGIN})


@register_section("depth", title="Composite skip gain", order=50)
def depth_section(ev: Evidence) -> Fragment:
    figure = depth.gain_figure(ev.gains)
    return Fragment("sections/depth.html", {"gains": ev.gains, "figure": figure},
                    figures=(figure,) if figure else ())


# ---------------------------------------------------------------------------- dynamics
def dynamics_figures(entries: list[dict], labels: Labels) -> list[figures.Figure]:
    out = []
    for entry in entries:
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


@register_section("dynamics", title="Refinement, lesion, CKA, Jacobian", order=60)
def dynamics_section(ev: Evidence) -> Fragment:
    shown = dynamics_figures(ev.dynamics, ev.labels)
    return Fragment("sections/dynamics.html", {"figures": shown}, figures=tuple(shown))


# ---------------------------------------------------------------------------- families
@register_section("families", title="Families", order=70)
def families_section(ev: Evidence) -> Fragment:
    return Fragment("sections/families.html", {"families": ev.families,
                                               "attributes": IDENTITY_ATTRIBUTES})


# ----------------------------------------------------------------------------- ledgers
@register_section("ledger", title="Conjectures", order=80)
def ledger_section(ev: Evidence) -> Fragment:
    """The conjecture ledger, folded: its counts and mismatches stay visible."""
    counts = ledger_counts(ev.ledger)
    real = len(ev.mismatches)
    brief = (f"{counts['total']} checks: {counts['proved']} proved, {counts['holds']} hold, "
             f"{counts['falsified']} falsified, {counts['error']} errors; "
             + ("every verdict matches its expectation" if not real else
                f"{real} verdict(s) differ from the expectation")
             + (f"; {len(ev.unconfirmed)} expected falsification(s) not searched far enough"
                if ev.unconfirmed else "") + ".")
    return Fragment("sections/ledger.html", {
        "ledger": ev.ledger, "counts": counts, "groups": ledger_groups(ev.ledger),
        "mismatches": ev.mismatches, "unconfirmed": ev.unconfirmed,
        "examples": ev.suite.conjecture_examples, "conjecture_paths": ev.conjecture_paths,
    }, collapsed=True, brief=brief)


@register_section("literature", title="Literature", order=90)
def literature_section(ev: Evidence) -> Fragment:
    table = literature_rows(ev.ledger)
    claims = len({r["number"] for r in table})
    differ = sum(r["verdict"] != "not run" and not r["matches_expected"] for r in table)
    brief = (f"{claims} published claims as {len(table)} checks; "
             + ("every verdict matches its expectation" if not differ
                else f"{differ} differ from the expectation") + ".")
    return Fragment("sections/literature.html", {"rows": table, "claims": claims},
                    collapsed=True, brief=brief)


# ------------------------------------------------------------------------- environment
@register_section("environment", title="Configuration and environment", order=100)
def environment_section(ev: Evidence) -> Fragment:
    return Fragment("sections/environment.html", {
        "suite": ev.suite, "seeds": ev.suite.seeds, "training": ev.suite.training,
        "runs": ev.runs, "timings": ev.timings, "history": ev.history,
        "environment": ev.environment, "machines": ev.machines})
