"""Each verdict word from a synthetic per-seed table built for it; F1-F3 scope and evidence."""

import math

import pytest

from entangled.errors import InvalidParameterError
from entangled.reports.analysis import outcomes, variant
from entangled.reports.findings import Comparison, Finding, judge, judge_paper, paper_findings
from entangled.reports.paired import compare
from entangled.reports.verdicts import (AT_CEILING, INCONCLUSIVE, NOT_REPRODUCED, OPPOSITE, REPRODUCED,
                              comparison_verdict, finding_verdict, rule_text)

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
    ([], "all", INCONCLUSIVE),
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


def test_findings_on_constructed_results():
    ident = BASE[:6]
    results = _arm("cnn", "digits", "identity", {}, ident)
    results += _arm("cnn", "digits", "sparse", {"strength": 0.5},
                    [x + 0.06 + j for x, j in zip(ident, JITTER)])
    results += _arm("cnn", "digits", "sparse", {"strength": 0.9},
                    [x + j for x, j in zip(ident, JITTER)])
    results += _arm("cnn", "digits", "orthogonal", {}, [x - 0.06 + j for x, j in zip(ident, JITTER)])
    results += _arm("vit", "digits", "identity", {}, ident)
    results += _arm("vit", "digits", "orthogonal", {}, [x - 0.05 + j for x, j in zip(ident, JITTER)])
    # the sequence Transformer: orthogonal *helps* (an extension, not F2's verdict)
    results += _arm("transformer", "delayed_recall", "identity", {}, ident, 0.125)
    results += _arm("transformer", "delayed_recall", "orthogonal", {},
                    [x + 0.1 + j for x, j in zip(ident, JITTER)], 0.125)
    # F3: time-variant: orthogonal helps; time-invariant: the identity diverges on every seed
    results += _arm("rnn", "delayed_recall", "identity", {}, [0.2 + j for j in JITTER[:6]], 0.125)
    results += _arm("rnn", "delayed_recall", "orthogonal", {}, [1.0] * 6, 0.125)
    results += _arm("rnn", "counting", "identity", {}, [None] * 6, 1 / 6)
    results += _arm("rnn", "counting", "orthogonal", {}, [0.9 + j for j in JITTER[:6]], 1 / 6)
    rows = outcomes(results)
    f1, f2, f3 = judge_paper(rows, "digits", "delayed_recall", "counting")

    assert [e["variant"] for e in f1.evidence] == [S05, S09] * 2
    words = {(e["arch"], e["variant"]): e["status"] for e in f1.evidence}
    assert words[("cnn", S05)] == REPRODUCED
    assert words[("cnn", S09)] == NOT_REPRODUCED
    assert words[("vit", S05)] == "missing"
    assert f1.verdict == REPRODUCED
    assert f1.evidence[0]["holm_family_size"] == 2

    assert f2.verdict == REPRODUCED and [e["arch"] for e in f2.evidence] == ["cnn", "vit"]
    assert f2.extension_verdict == OPPOSITE  # the extension, shown apart
    assert {e["arch"] for e in f2.extension_evidence} == {"transformer"}

    # identity diverged everywhere on counting: counted at chance 1/6, so orthogonal is higher
    counting = f3.evidence[1]
    assert counting["paired"]["diverged_b"] == 6 and counting["identity_mean"] == pytest.approx(1 / 6)
    assert counting["status"] == OPPOSITE and f3.verdict == OPPOSITE

    data = f1.to_dict()
    paired = data["evidence"][0]["paired"]
    assert len(paired["differences"]) == 6 and paired["tost"]["margin"] == 0.02
    assert data["evidence"][0]["p_adjusted"] >= paired["p_value"]
    assert not math.isnan(paired["mde"]) and data["scope"]


def test_judge_with_missing_baseline_is_inconclusive():
    rows = outcomes(_arm("cnn", "digits", "sparse", {"strength": 0.5}, [0.9, 0.91]))
    finding = Finding("F1", "x", "any", (Comparison("cnn", "digits", S05, +1),))
    judged = judge(finding, rows)
    assert judged.verdict == INCONCLUSIVE and judged.evidence[0]["status"] == "missing"


def test_paper_findings_scope():
    f1, f2, f3 = paper_findings("digits", [S025, S05], "delayed_recall", "counting")
    assert {(c.arch, c.variant) for c in f1.comparisons} == {
        (a, v) for a in ("cnn", "vit") for v in (S025, S05)}
    assert {c.arch for c in f2.comparisons} == {"cnn", "vit"} and f2.rule == "all"
    assert {c.arch for c in f2.extensions} == {"transformer"}
    assert [c.predicted for c in f3.comparisons] == [+1, -1]
    assert len(paper_findings("digits", S05, "a", "b")[0].comparisons) == 2


def test_comparisons_on_an_unlearnt_task_are_excluded_from_holm_and_the_verdict():
    """F3 with its time-variant task unlearnt: that comparison is 'task not learnt', left out
    of the Holm family, and the 'all' finding cannot be reproduced on the other part alone."""
    from entangled.reports.learnability import memoryless_levels, unlearnt_pairs
    from entangled.reports.verdicts import UNLEARNT

    results = _arm("rnn", "delayed_recall", "identity", {}, [0.12 + j for j in JITTER[:6]], 0.125)
    results += _arm("rnn", "delayed_recall", "orthogonal", {}, [0.14 + j for j in JITTER[:6]], 0.125)
    results += _arm("rnn", "counting", "identity", {}, [0.9 + j for j in JITTER[:6]], 1 / 6)
    results += _arm("rnn", "counting", "orthogonal", {}, [0.7 + j for j in JITTER[:6]], 1 / 6)
    rows = outcomes(results)
    unlearnt = [u.pair for u in unlearnt_pairs(rows, memoryless_levels(results))]
    assert [(a.name, t.name) for a, t in unlearnt] == [("rnn", "delayed_recall")]
    f3 = judge_paper(rows, "digits", "delayed_recall", "counting", unlearnt=unlearnt)[2]
    recall, counting = f3.evidence
    assert recall["status"] == UNLEARNT and recall["counted"] is False
    assert counting["status"] == REPRODUCED and counting["holm_family_size"] == 1
    assert counting["p_adjusted"] == pytest.approx(counting["paired"]["p_value"])  # m = 1
    assert f3.verdict == INCONCLUSIVE  # half of an 'all' claim untested
    # without the flag the time-variant comparison would have been judged (and counted)
    plain = judge_paper(rows, "digits", "delayed_recall", "counting")[2]
    assert plain.evidence[0]["status"] != UNLEARNT and plain.evidence[1]["holm_family_size"] == 2


def test_f3_is_judged_on_every_time_variant_and_invariant_task_of_the_suite():
    """A length sweep makes each T a task of its own: F3 names every one (default options
    first), and its 'all' rule needs every part."""
    from run_fakes import fake_result

    def arm(task, options, family, accs, structure):
        return [fake_result({"arch": "rnn", "task": task, "task_options": options,
                             "family": family, "seed": s}, test_accuracy=a,
                            chance=0.125, time_structure=structure)
                for s, a in enumerate(accs)]

    results = []
    for length in (20, 100):
        recall = {"length": length, "delay": 5 if length == 20 else 25}
        results += arm("delayed_recall", recall, "identity", [0.2 + j for j in JITTER[:6]],
                       "time-variant")
        results += arm("delayed_recall", recall, "orthogonal", [0.9 - j for j in JITTER[:6]],
                       "time-variant")
        results += arm("counting", {"length": length}, "identity", [0.9 + j for j in JITTER[:6]],
                       "time-invariant")
        # at T = 100 orthogonal degrades counting; at T = 20 it does not
        shift = 0.0 if length == 20 else -0.2
        results += arm("counting", {"length": length}, "orthogonal",
                       [0.9 + shift - j for j in JITTER[:6]], "time-invariant")
    rows = outcomes(results)
    f3 = judge_paper(rows, "digits", "delayed_recall", "counting")[2]
    assert [e["task"] for e in f3.evidence] == [
        "delayed_recall", "delayed_recall[delay=25, length=100]", "counting",
        "counting[length=100]"]
    assert [e["predicted"] for e in f3.evidence] == ["higher", "higher", "lower", "lower"]
    words = [e["status"] for e in f3.evidence]
    assert words[:2] == [REPRODUCED, REPRODUCED] and words[3] == REPRODUCED
    assert words[2] != REPRODUCED and f3.verdict != REPRODUCED  # T = 20 counting fails F3
    assert f3.evidence[0]["holm_family_size"] == 4
