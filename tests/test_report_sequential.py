"""The staged (group-sequential) design against published boundary tables, an independent
integration (scipy's multivariate normal), the fixed design it must reduce to with one stage,
and a simulation of the error rates it promises."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats

from entangled.errors import InvalidParameterError
from entangled.reports import paired
from entangled.reports.paired import compare, holm, sign_flip_greater_p, sign_flip_p
from entangled.reports.sequential import (CONTINUE, ComparisonState, HolmContext,
                                          SequentialDesign, boundaries, crossing_probabilities,
                                          decide, decide_finding, run_until_decided,
                                          scheme_text, spending)
from entangled.reports.sequential_simulation import (clopper_pearson, error_rates,
                                                     synthetic_differences)
from entangled.reports.verdicts import (INCONCLUSIVE, NOT_REPRODUCED, OPPOSITE, REPRODUCED,
                                        comparison_verdict)


# ------------------------------------------------------------ published boundaries
def _constant(k_count: int, shape: str, alpha: float = 0.05) -> float:
    """Classical Pocock / O'Brien–Fleming constant: two-sided boundaries C*g_k."""
    info = np.arange(1, k_count + 1, dtype=float)
    g = np.ones(k_count) if shape == "pocock" else np.sqrt(k_count / info)

    def excess(c):
        up, low = crossing_probabilities(c * g, -c * g, info)
        return up.sum() + low.sum() - alpha

    return optimize.brentq(excess, 1.0, 5.0, xtol=1e-9)


# Jennison & Turnbull (2000), Table 2.1 (C_P) and Table 2.3 (C_B), alpha = 0.05 two-sided
@pytest.mark.parametrize("k_count, pocock, obf", [(2, 2.178, 1.977), (3, 2.289, 2.004),
                                                  (4, 2.361, 2.024), (5, 2.413, 2.040)])
def test_integration_reproduces_the_classical_pocock_and_obrien_fleming_constants(
        k_count, pocock, obf):
    assert _constant(k_count, "pocock") == pytest.approx(pocock, abs=1e-3)
    assert _constant(k_count, "obf") == pytest.approx(obf, abs=1e-3)


def test_lan_demets_boundaries_for_five_equal_stages_match_the_published_table():
    # two-sided alpha = 0.05, equally spaced looks (DeMets & Lan 1994, Stat Med 13:1341;
    # the same numbers as rpact getDesignGroupSequential(kMax=5, alpha=0.05, sided=2, asOF/asP))
    info = (1, 2, 3, 4, 5)
    assert boundaries(info, 0.05, "obrien_fleming") == pytest.approx(
        (4.877, 3.357, 2.680, 2.290, 2.031), abs=1e-3)
    assert boundaries(info, 0.05, "pocock") == pytest.approx(
        (2.438, 2.427, 2.410, 2.397, 2.386), abs=1e-3)
    # a one-sided test at 0.025 is the two-sided test at 0.05 up to double crossings
    assert boundaries(info, 0.025, "obrien_fleming", sides=1) == pytest.approx(
        boundaries(info, 0.05, "obrien_fleming"), abs=1e-6)


@pytest.mark.parametrize("drift", [0.0, 0.7])
def test_crossing_probabilities_equal_scipy_multivariate_normal(drift):
    info = np.array([5.0, 10.0, 20.0])
    upper, lower = np.array([3.1, 2.6, 2.2]), np.array([-2.9, -2.4, -2.2])
    up, low = crossing_probabilities(upper, lower, info, drift)
    cov = np.sqrt(np.minimum.outer(info, info) / np.maximum.outer(info, info))
    mean = drift * np.sqrt(info)
    normal = stats.multivariate_normal(mean, cov, seed=0, abseps=1e-7, releps=1e-7)
    inside = normal.cdf(upper, lower_limit=lower)
    assert up.sum() + low.sum() == pytest.approx(1 - inside, abs=2e-5)
    # the first stage alone is a plain normal tail
    assert up[0] == pytest.approx(stats.norm.sf(upper[0] - mean[0]), abs=1e-12)


def test_spending_functions_spend_alpha_by_the_end_and_follow_their_formulas():
    for kind in ("obrien_fleming", "pocock"):
        assert spending(kind, 1.0, 0.05) == pytest.approx(0.05)
        assert spending(kind, 0.0, 0.05) == 0.0
    assert spending("obrien_fleming", 0.25, 0.05) == pytest.approx(
        2 * (1 - stats.norm.cdf(1.959964 / 0.5)), rel=1e-5)
    assert spending("pocock", 0.5, 0.05) == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))


@pytest.mark.parametrize("spend", ["obrien_fleming", "pocock"])
def test_union_bound_levels_spend_alpha_in_total_below_the_z_boundaries(spend):
    union = SequentialDesign(spending=spend)
    approx = SequentialDesign(spending=spend, t_adaptation="significance-level")
    assert sum(union.significance_levels()) == pytest.approx(0.05, abs=1e-12)
    assert sum(union.equivalence_levels(0.025)) == pytest.approx(0.025, abs=1e-12)
    # a stage's spent error is at most the marginal tail of its boundary
    assert np.all(np.array(union.significance_levels()) <= approx.significance_levels())
    assert union.significance_levels()[0] == pytest.approx(approx.significance_levels()[0])
    if spend == "pocock":  # Pocock-type: 0.05 ln(1 + (e - 1)/8) at the first of 4 stages
        first = 0.05 * math.log(1 + (math.e - 1) / 8)
        assert union.significance_levels()[0] == pytest.approx(first)


@pytest.mark.parametrize("adaptation", ["union-bound", "significance-level"])
@pytest.mark.parametrize("spend", ["obrien_fleming", "pocock"])
def test_boundaries_fall_as_the_level_rises_so_holm_is_a_closed_test(spend, adaptation):
    design = SequentialDesign(stages=(5, 10, 20, 40), spending=spend, t_adaptation=adaptation)
    for levels in (design.significance_levels, design.equivalence_levels):
        table = np.array([levels(0.05 / j) for j in range(1, 5)])  # j = 1 (largest share) first
        assert np.all(np.diff(table, axis=0) < 0)  # smaller share, smaller nominal level


# ------------------------------------------------------------- one stage = fixed design
def _fixed(values):
    """The fixed design's comparison of ``values`` against zeros (without compare()'s slow
    MDE and seeds-to-detect-delta searches, which only feed a reason text)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paired, "seeds_needed", lambda *args, **kwargs: None)
        patch.setattr(paired, "minimum_detectable_effect", lambda *args, **kwargs: math.nan)
        return compare(dict(enumerate(values)), {s: 0.0 for s in range(len(values))})


@given(st.lists(st.floats(-0.3, 0.3, allow_nan=False), min_size=3, max_size=12),
       st.sampled_from([1, -1]))
def test_one_stage_is_the_fixed_design_paired_t_and_tost(values, predicted):
    design = SequentialDesign(stages=(len(values),))
    got = decide(design, dict(enumerate(values)), 0, predicted)
    fixed = _fixed(values)
    assert got.word == comparison_verdict(fixed, predicted, fixed.p_value).verdict
    assert got.stop and got.stages[0].nominal_level == pytest.approx(0.05, abs=1e-9)


def test_one_stage_holm_rejects_what_holm_on_the_fixed_p_values_rejects():
    rng = np.random.default_rng(3)
    design = SequentialDesign(stages=(8,))
    for _ in range(25):
        data = [rng.normal(rng.choice([0.0, 0.03, 0.06]), 0.04, 8) for _ in range(4)]
        fixed = [_fixed(d) for d in data]
        adjusted = holm([c.p_value for c in fixed])
        got = decide_finding(design, [ComparisonState(dict(enumerate(d)), 1, 0) for d in data],
                             equivalence_holm=False)
        for decision, comparison, p in zip(got, fixed, adjusted):
            assert decision.word == comparison_verdict(comparison, 1, p).verdict


def test_zero_variance_uses_the_exact_sign_flip_p_values_of_paired():
    design = SequentialDesign(stages=(5, 10))
    got = decide(design, {s: 0.01 for s in range(10)}, 1)
    assert got.stages[1].p_value == pytest.approx(sign_flip_p([0.01] * 10))
    tost_p = max(sign_flip_greater_p([0.03] * 10), sign_flip_greater_p([0.01] * 10))
    assert got.stages[1].p_equivalence == pytest.approx(tost_p)
    assert got.word == NOT_REPRODUCED  # 2^-10 below the nominal level of stage 2


# ---------------------------------------------------------------------- decisions
def test_words_continue_stop_and_the_order_of_the_checks():
    design = SequentialDesign(stages=(5, 10, 20))
    rng = np.random.default_rng(0)
    big = dict(enumerate(0.30 + 0.01 * rng.standard_normal(20)))
    assert decide(design, big, 1, predicted=1).word == REPRODUCED
    assert decide(design, big, 1, predicted=-1).word == OPPOSITE
    noisy = dict(enumerate(0.05 * rng.standard_normal(20)))
    early = decide(design, noisy, 0)
    assert (early.word, early.stop) == (CONTINUE, False) and "next stage: 10" in early.reason
    assert decide(design, noisy, 2).word in (INCONCLUSIVE, NOT_REPRODUCED)
    # a tiny but very precise effect is both significant and equivalent: equivalence wins
    tiny = dict(enumerate(0.005 + 0.001 * rng.standard_normal(20)))
    got = decide(design, tiny, 1)
    assert got.significant_at is not None and got.equivalent_at is not None
    assert got.word == NOT_REPRODUCED


def test_a_decision_reads_only_the_seeds_of_the_stages_reached():
    design = SequentialDesign(stages=(5, 10, 20), seed_order=tuple(range(100, 120)))
    rng = np.random.default_rng(1)
    values = {100 + i: float(v) for i, v in enumerate(0.02 * rng.standard_normal(20))}
    at_stage_1 = decide(design, values, 1)
    changed = {**values, **{s: 0.9 for s in range(110, 120)}, 7: -1.0}  # later and foreign seeds
    assert decide(design, changed, 1) == at_stage_1
    assert design.seeds_at(1) == tuple(range(100, 110))
    with pytest.raises(InvalidParameterError, match="missing \\[109\\]"):
        decide(design, {s: v for s, v in values.items() if s != 109}, 1)


def test_holm_passes_the_share_of_a_rejected_comparison_on():
    design = SequentialDesign(stages=(10, 20))
    rng = np.random.default_rng(5)
    strong = dict(enumerate(0.2 + 0.01 * rng.standard_normal(20)))
    # borderline: p between the half share's and the full share's nominal level at stage 1
    z = rng.standard_normal(10)
    z = (z - z.mean()) / z.std(ddof=1)
    full, half = design.significance_levels(0.05)[0], design.significance_levels(0.025)[0]
    target = math.sqrt(half * full)
    mean = stats.t.isf(target / 2, 9) * 0.03 / math.sqrt(10)
    border = dict(enumerate(mean + 0.03 * z))
    alone_half = decide(design, border, 0, holm_context=HolmContext(0.025, 0.05))
    alone_full = decide(design, border, 0, holm_context=HolmContext(0.05, 0.05))
    assert (alone_half.word, alone_full.word) == (CONTINUE, REPRODUCED)
    got = decide_finding(design, {"strong": ComparisonState(strong, 1, 0),
                                  "border": ComparisonState(border, 1, 0)})
    assert got["strong"].word == REPRODUCED and got["strong"].alpha_significance == 0.025
    assert got["border"].word == REPRODUCED and got["border"].alpha_significance == 0.05
    # a third member of the family (excluded, never rejected) keeps its share
    three = decide_finding(design, {"strong": ComparisonState(strong, 1, 0),
                                    "border": ComparisonState(border, 1, 0)}, family_size=3)
    assert three["border"].word == CONTINUE and three["border"].alpha_significance == 0.025


def test_the_vectorised_flow_equals_decide_finding_stage_by_stage():
    design = SequentialDesign(stages=(4, 8, 16))
    rng = np.random.default_rng(11)
    predicted = np.array([1, -1, 1])
    data = rng.normal(0, 0.03, (16, 3, 16)) + np.array([0.0, -0.02, 0.04])[None, :, None]
    flow = run_until_decided(design, data, predicted)
    for n in range(len(data)):
        stage = [0, 0, 0]
        while True:
            got = decide_finding(design, [ComparisonState(dict(enumerate(data[n, i])),
                                                          int(predicted[i]), stage[i])
                                          for i in range(3)])
            going = [g.word == CONTINUE for g in got]
            if not any(going):
                break
            stage = [s + g for s, g in zip(stage, going)]
        assert [g.word for g in got] == list(flow.words[n]) and stage == list(flow.stage_index[n])


def test_bad_input_is_refused_with_the_parameter_named():
    with pytest.raises(InvalidParameterError, match="stages"):
        SequentialDesign(stages=(10, 5))
    with pytest.raises(InvalidParameterError, match="stages"):
        SequentialDesign(stages=(1, 5))
    with pytest.raises(InvalidParameterError, match="spending"):
        SequentialDesign(spending="haybittle")
    with pytest.raises(InvalidParameterError, match="alpha"):
        SequentialDesign(alpha=0.7)
    with pytest.raises(InvalidParameterError, match="t_adaptation"):
        SequentialDesign(t_adaptation="z")
    with pytest.raises(InvalidParameterError, match="seed_order"):
        SequentialDesign(stages=(3, 6), seed_order=(1, 2, 3))
    design = SequentialDesign(stages=(3, 6))
    with pytest.raises(InvalidParameterError, match="stage_index"):
        decide(design, dict(enumerate([0.1] * 6)), 2)
    with pytest.raises(InvalidParameterError, match="predicted"):
        decide(design, dict(enumerate([0.1] * 6)), 0, predicted=0)
    with pytest.raises(InvalidParameterError, match="differences_by_seed"):
        decide(design, {0: 0.1, 1: math.nan, 2: 0.2}, 0)
    with pytest.raises(InvalidParameterError, match="family_size"):
        decide_finding(design, [ComparisonState({0: 0.1, 1: 0.2, 2: 0.3}, 1, 0)] * 2,
                       family_size=1)


def test_the_scheme_in_words_names_the_design():
    text = scheme_text(SequentialDesign(stages=(5, 10, 20), spending="pocock", margin=0.03))
    assert "5 → 10 → 20" in text and "±3 pp" in text and "Pocock-type" in text
    assert "Holm-corrected the same way" in text
    assert "each tested at the full level" in scheme_text(SequentialDesign(),
                                                          equivalence_holm=False)


# ------------------------------------------------------------------ error rates
# A reduced count (the benchmark benchmarks/bench_sequential.py runs 20,000 per case):
# 4,000 datasets keep each case under a second; a rate is "within alpha" when its exact 95%
# interval reaches down to alpha.
@pytest.mark.parametrize("spend", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("shape, sigma", [("normal", 0.03), ("accuracy", 0.02)])
def test_simulated_error_rates_are_within_alpha(spend, shape, sigma):
    design = SequentialDesign(spending=spend)
    for true_mean in (0.0, 0.02, -0.02):
        got = error_rates(design, shape, sigma, true_mean, datasets=4000, seed=1)
        assert got.within_alpha, got
        assert got.rate > 0.005  # not trivially conservative: the test can see the error


def test_holm_keeps_the_family_wise_rate_within_alpha():
    design = SequentialDesign(spending="pocock")
    for true_mean in (0.0, 0.02):
        got = error_rates(design, "normal", 0.03, true_mean, comparisons=3, datasets=2000)
        assert got.within_alpha, got


def test_the_same_check_catches_testing_every_stage_at_the_full_level():
    # the naive scheme the issue warns about: add seeds until p < 0.05, stop there
    rng = np.random.default_rng(2)
    d = synthetic_differences("normal", 0.0, 0.03, (4000, 40), rng)
    rejected = np.zeros(4000, dtype=bool)
    for n in (5, 10, 20, 40):
        t = d[:, :n].mean(1) / (d[:, :n].std(1, ddof=1) / math.sqrt(n))
        rejected |= 2 * stats.t.sf(np.abs(t), n - 1) < 0.05
    low, _ = clopper_pearson(int(rejected.sum()), 4000)
    assert low > 0.05


@pytest.mark.parametrize("spend, most", [("obrien_fleming", 16), ("pocock", 8)])
def test_a_large_effect_stops_well_below_the_cap(spend, most):
    got = error_rates(SequentialDesign(spending=spend), "normal", 0.03, 0.10, datasets=2000)
    assert got.rate > 0.99 and got.mean_seeds <= most


def test_clopper_pearson_equals_the_beta_quantiles():
    low, high = clopper_pearson(5, 100)
    assert low == pytest.approx(0.016432, abs=1e-5) and high == pytest.approx(0.112835, abs=1e-5)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


@pytest.mark.parametrize("spend", ["obrien_fleming", "pocock"])
def test_holm_controls_the_error_on_a_null_comparison_beside_true_effects(spend):
    # strong control: two comparisons with large true effects pass their shares on at once,
    # so the null one is tested at the full level from then on; its false rate stays <= alpha
    design = SequentialDesign(spending=spend)
    rng = np.random.default_rng(4)
    means = np.array([0.10, 0.10, 0.0])
    d = synthetic_differences("normal", 0.0, 0.05, (4000, 3, 40), rng) + means[None, :, None]
    got = run_until_decided(design, d, 1)
    assert np.all(got.words[:, :2] == REPRODUCED)
    false = int(np.isin(got.words[:, 2], (REPRODUCED, OPPOSITE)).sum())
    low, _ = clopper_pearson(false, 4000)
    assert low <= 0.05 and false / 4000 > 0.02  # at the full level, not at alpha / 3
