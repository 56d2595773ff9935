"""Each verdict word from a synthetic per-seed table built for it; F1-F3 scope and evidence."""

import math

import pytest

from entangled.errors import InvalidParameterError
from entangled.reports.analysis import outcomes, variant
from entangled.reports.findings import Comparison, Finding, judge, judge_suite
from entangled.reports.paired import compare
from entangled.reports.presets import PrimaryComparison
from entangled.reports.verdicts import (AT_CEILING, INCONCLUSIVE, MISSING, NOT_REPRODUCED,
                                        NOT_TESTED, OPPOSITE, REPRODUCED, UNLEARNT, comparison_verdict,
                                        conjunction_verdict, finding_verdict, rule_text)

BASE = [0.80, 0.82, 0.78, 0.81, 0.79, 0.80, 0.83, 0.77]
JITTER = [0.004, -0.003, 0.002, -0.004, 0.001, 0.003, -0.002, -0.001]


def _table(shift, jitter_scale=1.0, seeds=8, base=BASE):
    """Per-seed (variant, identity) accuracies: variant = identity + shift + jitter."""
    b = {s: base[s] for s in range(seeds)}
    a = {s: base[s] + shift + jitter_scale * JITTER[s] for s in range(seeds)}
    return a, b


@pytest.mark.parametrize("shift, scale, predicted, word", [
    (+0.05, 1.0, +1, REPRODUCED),       # clearly higher, as predicted
    (-0.05, 1.0, +1, OPPOSITE),         # clearly lower, against the prediction
    (-0.05, 1.0, -1, REPRODUCED),       # predicted lower
    (0.0, 1.0, +1, NOT_REPRODUCED),     # within +-2 pp with a tight interval
    (+0.02, 12.0, +1, INCONCLUSIVE),    # noisy: neither significant nor equivalent
])
def test_each_comparison_verdict_from_its_table(shift, scale, predicted, word):
    a, b = _table(shift, scale)
    comp = compare(a, b)
    got = comparison_verdict(comp, predicted, comp.p_value)
    assert got.verdict == word, got.reason
    if word == INCONCLUSIVE:
        assert "MDE" in got.reason and comp.mde > abs(comp.mean)
        assert comp.seeds_for_smallest_effect > comp.n


def test_significant_but_smaller_than_the_smallest_effect_is_not_reproduced():
    a, b = _table(0.005, 0.1)
    comp = compare(a, b)
    assert comp.p_value < 0.001 and comp.tost.equivalent
    assert comparison_verdict(comp, +1, comp.p_value).verdict == NOT_REPRODUCED


def test_ceiling_table_is_excluded():
    a = {s: 1.0 for s in range(5)}
    b = {s: 0.995 for s in range(5)}
    assert comparison_verdict(compare(a, b), +1, 0.0).verdict == AT_CEILING


def test_holm_adjusted_p_decides_not_the_raw_one():
    a, b = _table(+0.05, 1.0)
    comp = compare(a, b)
    assert comparison_verdict(comp, +1, 0.2).verdict == INCONCLUSIVE


def test_bad_prediction_is_rejected():
    comp = compare(*_table(0.05))
    with pytest.raises(InvalidParameterError, match="predicted"):
        comparison_verdict(comp, 0, 0.01)
    with pytest.raises(InvalidParameterError, match="rule"):
        finding_verdict([], "most")


@pytest.mark.parametrize("words, rule, verdict", [
    ([REPRODUCED, INCONCLUSIVE], "any", REPRODUCED),
    ([REPRODUCED, NOT_REPRODUCED], "any", REPRODUCED),
    ([REPRODUCED, OPPOSITE], "any", INCONCLUSIVE),
    ([OPPOSITE, INCONCLUSIVE], "any", OPPOSITE),
    ([NOT_REPRODUCED, NOT_REPRODUCED], "any", NOT_REPRODUCED),
    ([NOT_REPRODUCED, INCONCLUSIVE], "any", INCONCLUSIVE),
    ([AT_CEILING, REPRODUCED], "any", REPRODUCED),
    ([AT_CEILING, AT_CEILING], "any", INCONCLUSIVE),
    ([], "all", NOT_TESTED),
    ([], "any", NOT_TESTED),
    ([REPRODUCED, REPRODUCED], "all", REPRODUCED),
    ([REPRODUCED, INCONCLUSIVE], "all", INCONCLUSIVE),
    ([REPRODUCED, OPPOSITE], "all", OPPOSITE),
    ([REPRODUCED, NOT_REPRODUCED], "all", NOT_REPRODUCED),
    ([NOT_REPRODUCED, OPPOSITE], "all", OPPOSITE),
    ([AT_CEILING, REPRODUCED], "all", INCONCLUSIVE),  # one part of the claim untested
    ([AT_CEILING, OPPOSITE], "all", OPPOSITE),
    ([AT_CEILING, NOT_REPRODUCED], "all", NOT_REPRODUCED),
])
def test_finding_rules(words, rule, verdict):
    assert finding_verdict(words, rule) == verdict


def test_rule_text_states_the_margin_and_level():
    text = rule_text("any", 0.03, 0.01)
    assert "±3 pp" in text and "p < 0.01" in text and "Holm" in text


# ---------------------------------------------------------------- on outcome tables
def _result(arch, task, family, params, seed, acc, status="ok", chance=0.1):
    from run_fakes import fake_result

    structure = {"delayed_recall": "time-variant", "counting": "time-invariant"}.get(task, "static")
    return fake_result({"arch": arch, "task": task, "family": family, "params": params,
                        "seed": seed}, status=status, test_accuracy=acc, chance=chance,
                       time_structure=structure)


S05, S09, S025 = (variant("sparse", {"strength": s}) for s in (0.5, 0.9, 0.25))


def _arm(arch, task, family, params, accs, chance=0.1):
    return [_result(arch, task, family, params, s, a, "ok" if a is not None else "diverged", chance)
            for s, a in enumerate(accs)]


def _primary(finding, arch, task, family, params=None, options=None):
    direction = {"F1": +1, "F2": -1, "F3a": +1, "F3b": -1}[finding]
    v = {"family": family, **(params or {})}
    return PrimaryComparison(finding, arch, (), task, tuple(sorted((options or {}).items())),
                             tuple(sorted(v.items())), direction)


PRIMARIES = (_primary("F1", "cnn", "digits", "sparse", {"strength": 0.5}),
             _primary("F1", "vit", "digits", "sparse", {"strength": 0.5}),
             _primary("F2", "cnn", "digits", "orthogonal"),
             _primary("F2", "vit", "digits", "orthogonal"),
             _primary("F3a", "rnn", "delayed_recall", "orthogonal"),
             _primary("F3b", "rnn", "counting", "orthogonal"))


def _paper_results(ident=BASE[:6]):
    results = _arm("cnn", "digits", "identity", {}, ident)
    results += _arm("cnn", "digits", "sparse", {"strength": 0.5},
                    [x + 0.06 + j for x, j in zip(ident, JITTER)])
    results += _arm("cnn", "digits", "sparse", {"strength": 0.9},
                    [x + j for x, j in zip(ident, JITTER)])
    results += _arm("cnn", "digits", "orthogonal", {}, [x - 0.06 + j for x, j in zip(ident, JITTER)])
    results += _arm("vit", "digits", "identity", {}, ident)
    results += _arm("vit", "digits", "orthogonal", {}, [x - 0.05 + j for x, j in zip(ident, JITTER)])
    # the sequence Transformer: orthogonal *helps* (secondary evidence, not F2's verdict)
    results += _arm("transformer", "delayed_recall", "identity", {}, ident, 0.125)
    results += _arm("transformer", "delayed_recall", "orthogonal", {},
                    [x + 0.1 + j for x, j in zip(ident, JITTER)], 0.125)
    # F3a: orthogonal helps; F3b: the identity diverges on every seed (counted at chance)
    results += _arm("rnn", "delayed_recall", "identity", {}, [0.2 + j for j in JITTER[:6]], 0.125)
    results += _arm("rnn", "delayed_recall", "orthogonal", {}, [1.0] * 6, 0.125)
    results += _arm("rnn", "counting", "identity", {}, [None] * 6, 1 / 6)
    results += _arm("rnn", "counting", "orthogonal", {}, [0.9 + j for j in JITTER[:6]], 1 / 6)
    return results


def test_findings_on_constructed_results():
    rows = outcomes(_paper_results())
    f1, f2, f3a, f3b, f3 = judge_suite(PRIMARIES, rows)
    assert [j.finding.key for j in (f1, f2, f3a, f3b, f3)] == ["F1", "F2", "F3a", "F3b", "F3"]

    # primary: the named reading per architecture; the ViT's is not measured
    assert [e["variant"] for e in f1.evidence] == [S05, S05]
    assert [e["status"] for e in f1.evidence] == [REPRODUCED, "missing"]
    assert f1.verdict == REPRODUCED and f1.evidence[0]["holm_family_size"] == 1
    # the other sparse reading is secondary: shown, equivalent to zero, not counted
    assert [(e["variant"], e["status"], e["role"]) for e in f1.secondary_evidence] == [
        (S09, NOT_REPRODUCED, "secondary")]

    assert f2.verdict == REPRODUCED and [e["arch"] for e in f2.evidence] == ["cnn", "vit"]
    assert {e["arch"] for e in f2.secondary_evidence} == {"transformer"}
    assert f2.secondary_evidence[0]["status"] == OPPOSITE  # shown apart, verdict unchanged

    assert f3a.verdict == REPRODUCED
    counting = f3b.evidence[0]
    assert counting["paired"]["diverged_b"] == 6 and counting["identity_mean"] == pytest.approx(1 / 6)
    assert counting["status"] == OPPOSITE and f3b.verdict == OPPOSITE
    assert f3.verdict == OPPOSITE and f3.parts == ("F3a", "F3b")

    data = f1.to_dict()
    paired = data["evidence"][0]["paired"]
    assert len(paired["differences"]) == 6 and paired["tost"]["margin"] == 0.02
    assert data["evidence"][0]["p_adjusted"] >= paired["p_value"]
    assert not math.isnan(paired["mde"]) and data["scope"] and data["tested"]
    assert data["secondary"][0]["role"] == "secondary"


def test_a_secondary_comparison_never_changes_a_verdict():
    """The same primary data with the secondary readings absent, agreeing or strongly against
    the prediction: the verdict, the Holm family and every primary p-value stay the same."""
    base = _paper_results()
    ident = BASE[:6]
    against = _arm("cnn", "digits", "block_orthogonal", {}, [x - 0.3 + j for x, j in zip(ident, JITTER)])
    agreeing = _arm("cnn", "digits", "sparse_unit_norm", {}, [x + 0.2 + j for x, j in zip(ident, JITTER)])
    seen = []
    for extra in ([], against, agreeing, against + agreeing):
        f1 = judge_suite(PRIMARIES, outcomes(base + extra))[0]
        seen.append((f1.verdict, [(e["status"], e["p_adjusted"], e["holm_family_size"])
                                  for e in f1.evidence]))
        assert len(f1.secondary_evidence) == 1 + (extra is not agreeing and bool(extra)) \
            + (extra is not against and bool(extra))
    assert all(s == seen[0] for s in seen)
    with_against = judge_suite(PRIMARIES, outcomes(base + against))[0]
    assert OPPOSITE in [e["status"] for e in with_against.secondary_evidence]


def test_a_finding_the_suite_does_not_test_is_not_tested():
    rows = outcomes(_paper_results())
    rnn_only = [p for p in PRIMARIES if p.arch == "rnn"]
    f1, f2, f3a, f3b, f3 = judge_suite(rnn_only, rows)
    assert f1.verdict == f2.verdict == NOT_TESTED and not f1.to_dict()["tested"]
    assert f1.evidence == [] and f3a.verdict == REPRODUCED
    assert judge_suite([], rows)[4].verdict == NOT_TESTED  # F3 with neither half


@pytest.mark.parametrize("parts, verdict", [
    ([REPRODUCED, REPRODUCED], REPRODUCED),
    ([REPRODUCED, NOT_REPRODUCED], NOT_REPRODUCED),
    ([REPRODUCED, OPPOSITE], OPPOSITE),
    ([NOT_REPRODUCED, OPPOSITE], OPPOSITE),
    ([REPRODUCED, INCONCLUSIVE], INCONCLUSIVE),
    ([REPRODUCED, NOT_TESTED], INCONCLUSIVE),
    ([NOT_REPRODUCED, NOT_TESTED], NOT_REPRODUCED),
    ([NOT_TESTED, NOT_TESTED], NOT_TESTED),
])
def test_f3_is_the_conjunction_of_its_halves(parts, verdict):
    assert conjunction_verdict(parts) == verdict


def _with_validation(results, by_seed):
    """``results`` with their validation accuracy replaced per seed."""
    import dataclasses

    return [dataclasses.replace(r, validation_accuracy=by_seed[r.spec.seed]) for r in results]


def test_the_ceiling_is_decided_on_validation_not_on_test():
    """Test accuracies at 99.5-100% with validation at 90%: judged (the test split decides no
    exclusion). Validation at 99.5% with test at 90%: excluded, still showing its TOST."""
    accs_a, accs_b = [1.0, 0.995, 1.0, 0.995, 1.0], [0.995, 1.0, 0.995, 0.995, 1.0]
    results = (_arm("rnn", "counting", "identity", {}, accs_b, 1 / 6)
               + _arm("rnn", "counting", "orthogonal", {}, accs_a, 1 / 6))
    primaries = [_primary("F3b", "rnn", "counting", "orthogonal")]
    val_low = _with_validation(results, {s: 0.9 for s in range(5)})
    judged = judge_suite(primaries, outcomes(val_low))[3]
    assert judged.evidence[0]["status"] != AT_CEILING and judged.evidence[0]["counted"]

    low_test = (_arm("rnn", "counting", "identity", {}, [0.9, 0.91, 0.89, 0.9, 0.92], 1 / 6)
                + _arm("rnn", "counting", "orthogonal", {}, [0.9, 0.9, 0.91, 0.88, 0.9], 1 / 6))
    val_high = _with_validation(low_test, {s: 0.995 for s in range(5)})
    excluded = judge_suite(primaries, outcomes(val_high))[3]
    entry = excluded.evidence[0]
    assert entry["status"] == AT_CEILING and not entry["counted"]
    assert entry["paired"]["tost"]["p_value"] > 0 and entry["difference"] is not None
    assert excluded.verdict == INCONCLUSIVE


def test_unlearnt_is_decided_on_validation():
    """A task whose test accuracies look learnt but whose validation accuracies sit at chance
    is flagged (and the reverse is not)."""
    from entangled.reports.learnability import memoryless_levels, unlearnt_pairs

    results = (_arm("rnn", "delayed_recall", "identity", {}, [0.9] * 5, 0.125)
               + _arm("rnn", "delayed_recall", "orthogonal", {}, [0.92] * 5, 0.125))
    at_chance = _with_validation(results, {s: 0.13 for s in range(5)})
    rows = outcomes(at_chance)
    flagged = [u.pair for u in unlearnt_pairs(rows, memoryless_levels(at_chance))]
    assert [(a.name, t.name) for a, t in flagged] == [("rnn", "delayed_recall")]
    judged = judge_suite([_primary("F3a", "rnn", "delayed_recall", "orthogonal")], rows,
                         unlearnt=flagged)[2]
    assert judged.evidence[0]["status"] == UNLEARNT and judged.verdict == INCONCLUSIVE
    learnt_on_validation = _with_validation(
        _arm("rnn", "delayed_recall", "identity", {}, [0.13] * 5, 0.125)
        + _arm("rnn", "delayed_recall", "orthogonal", {}, [0.13] * 5, 0.125),
        {s: 0.9 for s in range(5)})
    assert unlearnt_pairs(outcomes(learnt_on_validation),
                          memoryless_levels(learnt_on_validation)) == []


def test_tost_is_holm_corrected_under_the_all_rule_by_hand():
    """Two F2 comparisons, each equivalent to zero on its own (raw TOST p 0.027 and 0.044): the
    TOST p-values are Holm-adjusted within the finding (computed by hand here), and neither
    stays equivalent; under F1's 'any' rule they are not adjusted (intersection-union)."""
    from entangled.reports.paired import compare

    ident = BASE[:6]
    shifts = {"cnn": 0.015, "vit": 0.015}
    scales = {"cnn": 1.3, "vit": 1.5}
    results, primaries, raw = [], [], {}
    for arch in ("cnn", "vit"):
        a = [x + shifts[arch] + scales[arch] * j for x, j in zip(ident, JITTER)]
        results += _arm(arch, "digits", "identity", {}, ident)
        results += _arm(arch, "digits", "orthogonal", {}, a)
        primaries.append(_primary("F2", arch, "digits", "orthogonal"))
        raw[arch] = compare(dict(enumerate(a)), dict(enumerate(ident))).tost.p_value
    f2 = judge_suite(primaries, outcomes(results))[1]
    small, large = sorted(raw.values())
    by_hand = {min(raw, key=raw.get): min(1.0, 2 * small),
               max(raw, key=raw.get): min(1.0, max(2 * small, large))}
    for entry in f2.evidence:
        assert entry["tost_p_adjusted"] == pytest.approx(by_hand[entry["arch"]], rel=1e-12)
    # equivalent raw, not after Holm: both are then judged on significance (higher, against
    # F2's prediction)
    assert max(raw.values()) < 0.05 <= min(by_hand.values())
    assert [e["status"] for e in f2.evidence] == [OPPOSITE, OPPOSITE]
    f1_style = judge(Finding("F1", "x", "any", tuple(
        Comparison(arch, "digits", "orthogonal", +1) for arch in ("cnn", "vit"))),
        outcomes(results))
    assert [e["tost_p_adjusted"] for e in f1_style.evidence] == [None, None]
    assert [e["status"] for e in f1_style.evidence] == [NOT_REPRODUCED, NOT_REPRODUCED]


def test_judge_with_missing_baseline_is_not_tested():
    """A finding none of whose named comparisons the suite measured says nothing ('not
    tested'); a missing comparison beside a measured one counts as inconclusive."""
    rows = outcomes(_arm("cnn", "digits", "sparse", {"strength": 0.5}, [0.9, 0.91]))
    finding = Finding("F1", "x", "any", (Comparison("cnn", "digits", S05, +1),))
    judged = judge(finding, rows)
    assert judged.verdict == NOT_TESTED and judged.evidence[0]["status"] == MISSING == "missing"
    assert finding_verdict([MISSING, REPRODUCED], "any") == REPRODUCED
    assert finding_verdict([MISSING, REPRODUCED], "all") == INCONCLUSIVE
    assert finding_verdict([MISSING, MISSING], "all") == NOT_TESTED


def test_f3_halves_are_judged_on_every_primary_task_each_length_its_own():
    """Two primary lengths per half: each half's 'all' rule needs both of its tasks; the
    halves have their own Holm families and verdicts."""
    from run_fakes import fake_result

    def arm(task, options, family, accs, structure):
        return [fake_result({"arch": "rnn", "task": task, "task_options": options,
                             "family": family, "seed": s}, test_accuracy=a,
                            chance=0.125, time_structure=structure)
                for s, a in enumerate(accs)]

    results, primaries = [], []
    for length in (20, 100):
        recall = {"length": length, "delay": 5 if length == 20 else 25}
        results += arm("delayed_recall", recall, "identity", [0.2 + j for j in JITTER[:6]],
                       "time-variant")
        results += arm("delayed_recall", recall, "orthogonal", [0.9 - j for j in JITTER[:6]],
                       "time-variant")
        results += arm("counting", {"length": length}, "identity", [0.9 + j for j in JITTER[:6]],
                       "time-invariant")
        shift = 0.0 if length == 20 else -0.2  # at T = 100 orthogonal degrades counting
        results += arm("counting", {"length": length}, "orthogonal",
                       [0.9 + shift - j for j in JITTER[:6]], "time-invariant")
        primaries += [_primary("F3a", "rnn", "delayed_recall", "orthogonal", options=recall),
                      _primary("F3b", "rnn", "counting", "orthogonal", options={"length": length})]
    f3a, f3b, f3 = judge_suite(primaries, outcomes(results))[2:]
    assert [e["task"] for e in f3a.evidence] == ["delayed_recall",
                                                 "delayed_recall[delay=25, length=100]"]
    assert f3a.verdict == REPRODUCED and f3a.evidence[0]["holm_family_size"] == 2
    assert [e["status"] for e in f3b.evidence][1] == REPRODUCED
    assert f3b.evidence[0]["status"] != REPRODUCED and f3b.verdict != REPRODUCED
    assert f3.verdict != REPRODUCED and f3a.secondary_evidence == []
