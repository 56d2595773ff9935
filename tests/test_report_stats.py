"""Report statistics against scipy, and the F1-F3 verdict rules on constructed numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from entangled.reports.analysis import dose_response, outcomes, variant, variant_label, variant_labels
from run_fakes import fake_result
from entangled.reports.findings import Comparison, Finding, judge
from entangled.reports.stats import rank_correlation, summarize, welch_difference


def test_summary_matches_scipy_t_interval():
    values = [0.81, 0.84, 0.79, 0.88, 0.83]
    s = summarize(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert s.n == 5 and s.mean == pytest.approx(np.mean(values))
    assert (s.low, s.high) == (pytest.approx(low), pytest.approx(high))


def test_summary_of_one_or_no_value_has_undefined_interval():
    assert math.isnan(summarize([0.5]).low) and summarize([0.5]).mean == 0.5
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)


def test_welch_difference_matches_scipy():
    a, b = [0.9, 0.92, 0.88, 0.91], [0.85, 0.80, 0.86, 0.83, 0.84]
    d = welch_difference(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert d.delta == pytest.approx(np.mean(a) - np.mean(b))
    assert d.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert d.excludes_zero() == 1
    assert welch_difference(b, a).excludes_zero() == -1


def test_welch_with_zero_variance_is_exact():
    d = welch_difference([0.5, 0.5], [0.5, 0.5])
    assert (d.delta, d.low, d.high, d.p_value) == (0.0, 0.0, 0.0, 1.0) and d.excludes_zero() == 0
    assert welch_difference([0.6, 0.6], [0.5, 0.5]).excludes_zero() == 1


def test_rank_correlation_matches_scipy_and_handles_constants():
    x, y = [1, 2, 3, 4, 5], [2.0, 1.0, 4.0, 3.0, 5.0]
    r = rank_correlation(x, y)
    assert r.rho == pytest.approx(stats.spearmanr(x, y).statistic) and r.n == 5
    assert math.isnan(rank_correlation([1, 1, 1], [1, 2, 3]).rho)
    assert math.isnan(rank_correlation([1, 2], [1, 2]).rho)


def _result(arch, task, family, params, seed, acc, status="ok"):
    return fake_result({"arch": arch, "task": task, "family": family, "params": params,
                        "seed": seed}, status=status, test_accuracy=acc)


def test_outcomes_and_judgement_on_constructed_results():
    results = [_result("cnn", "digits", "identity", {}, s, a) for s, a in enumerate([0.80, 0.81, 0.79])]
    results += [_result("cnn", "digits", "sparse", {"strength": 0.5}, s, a) for s, a in enumerate([0.90, 0.92, 0.89])]
    results += [_result("cnn", "digits", "orthogonal", {}, s, a) for s, a in enumerate([0.70, 0.72, 0.69])]
    results += [_result("cnn", "digits", "orthogonal", {}, 3, None, status="diverged")]
    results += [_result("cnn", "digits", "identity", {}, 3, 0.8)]
    rows = outcomes(results)
    by_variant = {o.variant: o for o in rows}
    orthogonal, sparse = by_variant[variant("orthogonal")], by_variant[variant("sparse", {"strength": 0.5})]
    assert orthogonal.diverged == 1 and orthogonal.summary.n == 3
    assert orthogonal.by_seed[3] is None
    # paired by seed: seed 3 of sparse is missing, so the difference uses seeds 0-2
    assert sparse.difference.delta == pytest.approx(0.10333333)
    ref = stats.ttest_rel([0.90, 0.92, 0.89], [0.80, 0.81, 0.79])
    assert sparse.difference.p_value == pytest.approx(ref.pvalue)
    # the diverged seed counts at chance against the identity's 0.8
    chance = orthogonal.chance
    assert orthogonal.difference.delta == pytest.approx((-0.1 - 0.09 - 0.1 + chance - 0.8) / 4)
    assert by_variant[variant("identity")].difference is None
    help_finding = Finding("F1", "sparse helps", "any",
                           (Comparison("cnn", "digits", variant("sparse", {"strength": 0.5}), +1),
                            Comparison("vit", "digits", variant("sparse", {"strength": 0.5}), +1)))
    judged = judge(help_finding, rows)
    assert judged.verdict == "reproduced"
    assert [e["status"] for e in judged.evidence] == ["reproduced", "missing"]


def test_dose_response_puts_identity_at_the_identity_end():
    results = [_result("cnn", "digits", "identity", {}, 0, 0.8)]
    results += [_result("cnn", "digits", "sparse", {"strength": s}, 0, 0.8 + s / 10) for s in (0.25, 0.5)]
    curves = dose_response(outcomes(results), "sparse", "strength")
    assert [x for x, _ in next(iter(curves.values()))] == [0.0, 0.25, 0.5]
    assert variant_label("rotation", {"theta": 0.7853981633974483}) == "rotation(theta=0.785)"


def test_nearly_equal_variants_are_two_outcomes_with_distinct_labels():
    # regression: strength 0.5 and 0.50004 used to merge into one row labelled 0.5
    results = [_result("cnn", "digits", "sparse", {"strength": s}, seed, 0.5 + seed / 100)
               for s in (0.5, 0.50004) for seed in range(2)]
    rows = outcomes(results)
    assert len(rows) == 2 and [o.params["strength"] for o in rows] == [0.5, 0.50004]
    labels = variant_labels(o.variant for o in rows)
    assert sorted(labels.values()) == ["sparse(strength=0.5)", "sparse(strength=0.50004)"]


def test_a_sweep_is_ordered_numerically_not_as_text():
    # regression: iters=[1, 3, 20] used to sort as text (1, 20, 3) and show 20 as the middle
    from entangled.reports.analysis import showcase_variants

    results = [_result("cnn", "digits", "sinkhorn", {"iters": k}, 0, 0.5) for k in (20, 3, 1)]
    rows = outcomes(results)
    assert [o.params["iters"] for o in rows] == [1, 3, 20]
    assert showcase_variants(o.variant for o in rows) == [variant("sinkhorn", {"iters": 3})]
    labels = variant_labels(o.variant for o in rows)
    assert [labels[o.variant] for o in rows] == ["sinkhorn(iters=1)", "sinkhorn(iters=3)",
                                                 "sinkhorn(iters=20)"]
