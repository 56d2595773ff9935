"""Fragile verdicts: decided by a Holm p near α, such that the other side of α changes them."""

import pytest

from entangled.reports.fragility import flipped_word, fragility
from entangled.reports.verdicts import (AT_CEILING, INCONCLUSIVE, NOT_REPRODUCED, OPPOSITE,
                                        REPRODUCED)


def comparison(status, p, mean, predicted="lower", counted=True, label="orthogonal",
               arch="vit", task="digits"):
    return {"arch": arch, "task": task, "label": label, "status": status, "p_adjusted": p,
            "counted": counted, "predicted": predicted, "paired": {"mean": mean}}


def judgement(verdict, rule, *evidence):
    return {"key": "F2", "verdict": verdict, "rule_kind": rule, "alpha": 0.05,
            "evidence": list(evidence)}


def test_the_issue_example_f2_opposite_at_p_0043_is_fragile():
    """F2 (rule all) on the ViT: orthogonal +1.6 pp, Holm p = 0.043, 'opposite'; the CNN
    comparison inconclusive. At p >= 0.05 it would be inconclusive: fragile."""
    f2 = judgement(OPPOSITE, "all", comparison(INCONCLUSIVE, 0.40, 0.01, arch="cnn"),
                   comparison(OPPOSITE, 0.043, 0.016))
    assert fragility(f2) == {"p_adjusted": 0.043, "alpha": 0.05, "flips_to": INCONCLUSIVE,
                             "comparison": "vit/digits orthogonal",
                             "text": "decided at p = 0.043: fragile"}


@pytest.mark.parametrize("p, fragile", [(0.0249, False), (0.025, True), (0.049, True),
                                        (0.001, False)])
def test_only_p_within_a_factor_two_below_alpha_counts(p, fragile):
    f = judgement(REPRODUCED, "any", comparison(REPRODUCED, p, -0.05))
    assert (fragility(f) is not None) == fragile


def test_an_inconclusive_comparison_just_above_alpha_can_make_a_verdict_fragile():
    # p = 0.06 on the predicted side: below α it would be reproduced, and so would the finding
    f = judgement(INCONCLUSIVE, "any", comparison(INCONCLUSIVE, 0.06, -0.03))
    assert fragility(f)["flips_to"] == REPRODUCED
    # ... against the prediction it would flip to opposite
    g = judgement(INCONCLUSIVE, "any", comparison(INCONCLUSIVE, 0.06, +0.03))
    assert fragility(g)["flips_to"] == OPPOSITE
    assert fragility(judgement(INCONCLUSIVE, "any", comparison(INCONCLUSIVE, 0.11, -0.03))) is None


def test_near_alpha_but_not_deciding_is_not_fragile():
    # 'any': another comparison reproduces far from α, so this one's flip changes nothing
    f = judgement(REPRODUCED, "any", comparison(REPRODUCED, 0.001, -0.05),
                  comparison(REPRODUCED, 0.04, -0.03, label="sparse"))
    assert fragility(f) is None
    # words that do not rest on the p-value
    assert flipped_word(comparison(NOT_REPRODUCED, 0.04, 0.001), 0.05) is None
    assert flipped_word(comparison(AT_CEILING, 0.04, 0.001, counted=False), 0.05) is None
    assert flipped_word(comparison("missing", None, None, counted=False), 0.05) is None


def test_the_nearest_p_is_named_when_several_decide():
    f = judgement(REPRODUCED, "all", comparison(REPRODUCED, 0.03, -0.05, label="a"),
                  comparison(REPRODUCED, 0.045, -0.05, label="b"))
    assert fragility(f)["comparison"] == "vit/digits b"


def test_real_judgements_feed_it_unchanged():
    """The plain data of Judgement.to_dict() is the input (keys the lead may add are ignored)."""
    from entangled.reports.analysis import outcomes
    from entangled.reports.findings import judge_suite
    from entangled.reports.presets import PrimaryComparison
    from run_fakes import fake_result

    results = []
    for seed, (a, b) in enumerate([(0.2, 0.9), (0.21, 0.88), (0.19, 0.91), (0.2, 0.9)]):
        for family, acc in (("identity", a), ("orthogonal", b)):
            results.append(fake_result({"arch": "rnn", "task": "delayed_recall", "family": family,
                                        "seed": seed}, test_accuracy=acc, chance=0.125,
                                       time_structure="time-variant"))
    primary = PrimaryComparison("F3a", "rnn", (), "delayed_recall", (),
                                (("family", "orthogonal"),), +1)
    f3a = judge_suite([primary], outcomes(results))[2]
    data = {**f3a.to_dict(), "new_key_from_issue_22": {"x": 1}}
    assert data["evidence"][0]["status"] == REPRODUCED and data["evidence"][0]["p_adjusted"] < 0.001
    assert fragility(data) is None  # p far below α


def test_the_terminal_summary_names_a_fragile_verdict():
    from types import SimpleNamespace

    from entangled.reports.build import ReportOutcome
    from entangled.reports.findings import Finding, Judgement

    evidence = [comparison(INCONCLUSIVE, 0.40, 0.01, arch="cnn"), comparison(OPPOSITE, 0.043, 0.016)]
    f2 = Judgement(Finding("F2", "Orthogonal mappings hurt.", "all", ()), OPPOSITE, "rule", evidence)
    runs = {"loaded": 4, "expected": 4, "reused": 4, "ran": 0, "rerun": 0, "invalid": 0,
            "stale": 0, "superseded": 0, "failed": 0}
    text = ReportOutcome("index.html", [f2], [], runs, SimpleNamespace(failed=[], corrupt=[], stale=[]),
                         1.0).terminal_summary()
    line = next(line for line in text.splitlines() if line.strip().startswith("F2"))
    assert line.endswith("Orthogonal mappings hurt. (decided at p = 0.043: fragile: vit/digits orthogonal)")


def test_a_staged_decision_is_read_at_its_last_stage():
    """A comparison decided by the group-sequential design: its last stage's p against that
    stage's nominal level decides fragility, not the fixed-design Holm p."""
    staged = comparison(REPRODUCED, 0.001, 0.05)
    staged["sequential"] = {"stages": [{"p_value": 0.2, "nominal_level": 0.016},
                                       {"p_value": 0.012, "nominal_level": 0.016}]}
    f = judgement(REPRODUCED, "all", staged)
    fragile = fragility(f)
    assert fragile is not None and fragile["p_adjusted"] == 0.012 and fragile["alpha"] == 0.016
    assert fragile["flips_to"] == INCONCLUSIVE
    staged["sequential"]["stages"][-1]["p_value"] = 0.0001  # far below its level
    assert fragility(f) is None


def test_a_conjunction_is_fragile_when_a_fragile_part_would_change_it():
    """F3 = F3a and F3b: with F3b opposite, a fragile F3a changes nothing (F3 stays opposite);
    with F3b reproduced, F3a reproduced at p = 0.04 decides F3 (it would be inconclusive)."""
    from entangled.reports.fragility import with_fragility

    def findings(f3b, f3):
        f3a = {**judgement(REPRODUCED, "all", comparison(REPRODUCED, 0.04, -0.05)), "key": "F3a"}
        part_b = {**judgement(f3b, "all", comparison(f3b, 0.0001, -0.05)), "key": "F3b"}
        return with_fragility([f3a, part_b, {"key": "F3", "verdict": f3, "rule_kind": "all",
                                             "alpha": 0.05, "evidence": [],
                                             "parts": ["F3a", "F3b"]}])

    f3a, f3b, f3 = findings(OPPOSITE, OPPOSITE)
    assert f3a["fragility"]["flips_to"] == INCONCLUSIVE and f3b["fragility"] is None
    assert f3["fragility"] is None
    _, _, f3 = findings(REPRODUCED, REPRODUCED)
    assert f3["fragility"] == {"p_adjusted": 0.04, "alpha": 0.05, "flips_to": INCONCLUSIVE,
                               "comparison": "F3a: vit/digits orthogonal",
                               "text": "decided at p = 0.040: fragile"}
