"""Paired statistics of the report against known answers (scipy, hand tables, closed forms)."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from entangled.errors import InvalidParameterError
from entangled.reports.paired import (compare, holm, minimum_detectable_effect, paired_power, paired_t,
                            seeds_needed, sign_flip_greater_p, sign_flip_p, tost)
from entangled.reports.stats import summarize

PAIRS = [
    ([0.91, 0.93, 0.90, 0.92, 0.94], [0.90, 0.90, 0.89, 0.91, 0.90]),
    ([0.80, 0.82, 0.79, 0.85, 0.83, 0.78], [0.81, 0.84, 0.80, 0.83, 0.86, 0.80]),
    ([0.5, 0.7, 0.6], [0.55, 0.52, 0.61]),
]


@pytest.mark.parametrize("a, b", PAIRS)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_paired_t_equals_scipy_ttest_rel(a, b, confidence):
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence)
    got = paired_t(np.subtract(a, b), confidence)
    assert got.n == len(a) and got.mean == pytest.approx(np.mean(a) - np.mean(b))
    assert got.t == pytest.approx(ref.statistic) and got.p_value == pytest.approx(ref.pvalue)
    assert (got.low, got.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_compare_pairs_by_seed_and_keeps_the_scipy_interval():
    a, b = PAIRS[0]
    got = compare(dict(enumerate(a)), {**dict(enumerate(b)), 99: 0.5})
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert got.seeds == (0, 1, 2, 3, 4) and got.test == "paired t"
    assert (got.low, got.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert got.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)


def test_difference_interval_stays_within_minus_one_and_one():
    got = compare({0: 1.0, 1: 0.1, 2: 1.0}, {0: 0.1, 1: 1.0, 2: 0.1})
    assert -1.0 <= got.low <= got.high <= 1.0 and got.low == -1.0


def test_accuracy_summary_interval_stays_within_zero_and_one():
    raw = summarize([0.2, 1.0, 1.0])
    clipped = summarize([0.2, 1.0, 1.0], bounds=(0.0, 1.0))
    assert raw.high > 1.0 and raw.low < 0.0  # the t interval leaves [0, 1] ...
    assert (clipped.low, clipped.high) == (0.0, 1.0)  # ... the reported one does not
    inside = summarize([0.81, 0.84, 0.79], bounds=(0.0, 1.0))
    assert (inside.low, inside.high) == (summarize([0.81, 0.84, 0.79]).low,
                                         summarize([0.81, 0.84, 0.79]).high)


# ------------------------------------------------------------------- sign flips
def test_sign_flip_p_by_hand_for_three_seeds():
    # the 8 sums of +-0.1 +-0.2 +-0.05 are +-0.35, +-0.25, +-0.15, +-0.05; |sum| >= 0.25 for 4
    assert sign_flip_p([0.1, 0.2, -0.05]) == pytest.approx(4 / 8)
    # one-sided: sums >= 0.25 are 0.35 and 0.25
    assert sign_flip_greater_p([0.1, 0.2, -0.05]) == pytest.approx(2 / 8)


@pytest.mark.parametrize("n", [4, 5, 7, 9])
def test_sign_flip_p_is_exact_enumeration(n):
    d = np.random.default_rng(n).normal(0.01, 0.02, size=n)
    sums = [abs(sum(s * x for s, x in zip(signs, d)))
            for signs in itertools.product((1, -1), repeat=n)]
    expected = sum(v >= abs(d.sum()) - 1e-12 for v in sums) / 2**n
    got = sign_flip_p(d)
    assert got == pytest.approx(expected)
    assert (got * 2**n) == pytest.approx(round(got * 2**n))  # a multiple of 1/2^n
    ref = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=10**6)
    assert got == pytest.approx(ref.pvalue)


def test_sign_flip_smallest_p_is_two_over_two_to_the_n():
    assert sign_flip_p([0.01, 0.03, 0.02, 0.05, 0.04]) == pytest.approx(2 / 32)
    assert sign_flip_p([0.0] * 5) == 1.0


# -------------------------------------------------------------------------- Holm
@pytest.mark.parametrize("raw, adjusted", [
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running maximum 0.02, 0.03, 0.06, 0.06; back in the input order:
    ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
    # capped at 1: 0.4 * 2 = 0.8, max(0.8, 0.6) = 0.8
    ([0.6, 0.4], [0.8, 0.8]),
    ([0.7, 0.6], [1.0, 1.0]),
    # undefined p-values are kept and not counted: m = 2
    ([0.02, math.nan, 0.04], [0.04, math.nan, 0.04]),
    ([0.03], [0.03]),
    ([], []),
])
def test_holm_equals_hand_table(raw, adjusted):
    got = holm(raw)
    assert len(got) == len(adjusted)
    for g, e in zip(got, adjusted):
        assert (math.isnan(g) and math.isnan(e)) or g == pytest.approx(e)


# -------------------------------------------------------------------------- TOST
def _t4_cdf(t):
    """Closed-form CDF of Student's t with 4 degrees of freedom:
    1/2 + (3/8) (t / sqrt(1 + t^2/4)) (1 - t^2 / (12 (1 + t^2/4)))."""
    q = 1 + t * t / 4
    return 0.5 + (3 / 8) * (t / math.sqrt(q)) * (1 - t * t / (12 * q))


def test_tost_worked_example():
    # d = [1.0, -0.5, 0.3, 0.0, 0.7] pp: mean 0.3 pp; squared deviations 0.49, 0.64, 0, 0.09,
    # 0.16 (pp^2), sum 1.38, variance 1.38 / 4 = 0.345, s = 0.58737 pp, se = s / sqrt(5) =
    # 0.262679 pp. With delta = 2 pp: t_L = (0.3 + 2) / 0.262679 = 8.75593,
    # t_U = (0.3 - 2) / 0.262679 = -6.47178, 4 degrees of freedom.
    d = [0.010, -0.005, 0.003, 0.000, 0.007]
    t_lower, t_upper = 8.75593, -6.47178
    p_lower, p_upper = 1 - _t4_cdf(t_lower), _t4_cdf(t_upper)
    got = tost(d, margin=0.02)
    assert got.method == "t"
    assert got.p_lower == pytest.approx(p_lower, rel=1e-4)
    assert got.p_upper == pytest.approx(p_upper, rel=1e-4)
    assert got.p_value == pytest.approx(max(p_lower, p_upper), rel=1e-4) and got.equivalent
    # TOST at alpha is the (1 - 2 alpha) interval inside (-delta, delta)
    ci = stats.ttest_rel(np.array(d), np.zeros(5)).confidence_interval(0.90)
    assert -0.02 < ci.low and ci.high < 0.02
    assert not tost(d, margin=0.004).equivalent  # ci.high = 0.0086 > 0.004


def test_t4_closed_form_matches_scipy():
    for t in (-6.5, -1.0, 0.0, 0.7, 8.8):
        assert _t4_cdf(t) == pytest.approx(stats.t.cdf(t, 4))


def test_tost_with_zero_variance_uses_exact_sign_flips():
    same = tost([0.0] * 5, margin=0.02)
    assert same.method == "sign-flip" and same.p_value == pytest.approx(1 / 32) and same.equivalent
    assert not tost([0.0] * 4, margin=0.02).equivalent  # 1/16 > 0.05
    assert not tost([0.03] * 6, margin=0.02).equivalent  # outside the margin


def test_tost_rejects_bad_margin():
    with pytest.raises(InvalidParameterError, match="margin"):
        tost([0.1, 0.2], margin=0)


# --------------------------------------------------------------------------- MDE
def test_mde_has_the_stated_power_by_simulation():
    n, sd = 5, 0.02
    mde = minimum_detectable_effect(sd, n)
    assert paired_power(mde, sd, n) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(0)
    samples = rng.normal(mde, sd, size=(40_000, n))
    t = samples.mean(1) / (samples.std(1, ddof=1) / math.sqrt(n))
    rejected = np.mean(np.abs(t) > stats.t.ppf(0.975, n - 1))
    assert rejected == pytest.approx(0.8, abs=0.01)


def test_mde_approaches_the_normal_formula_for_many_seeds():
    n, sd = 400, 0.02
    normal = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * sd / math.sqrt(n)
    assert minimum_detectable_effect(sd, n) == pytest.approx(normal, rel=0.01)


@pytest.mark.parametrize("n", [3, 10, 30])
def test_mde_has_the_stated_power_for_every_spread_at_the_same_seeds(n):
    """The noncentrality solved for is shared by every spread at ``n`` seeds (computed once
    per ``n``): each spread's MDE still has exactly the stated power."""
    for sd in (0.05, 0.01, 0.02):
        mde = minimum_detectable_effect(sd, n)
        assert paired_power(mde, sd, n) == pytest.approx(0.8, abs=1e-9)
        assert minimum_detectable_effect(sd, n, power=0.9) > mde


def test_mde_undefined_without_variance_and_seeds_needed():
    assert math.isnan(minimum_detectable_effect(0.0, 5))
    assert math.isnan(minimum_detectable_effect(0.02, 1))
    n = seeds_needed(0.02, 0.02)
    assert minimum_detectable_effect(0.02, n) <= 0.02 < minimum_detectable_effect(0.02, n - 1)
    assert seeds_needed(0.0, 0.02) is None


# -------------------------------------------------------------------- compare
def test_zero_variance_is_never_significant_by_division_by_zero():
    got = compare({s: 0.91 for s in range(5)}, {s: 0.90 for s in range(5)})
    assert math.isnan(got.t_p_value) and got.test == "sign-flip"
    assert got.p_value == pytest.approx(2 / 32) and got.p_value > 0.05
    assert math.isnan(got.low) and math.isnan(got.mde)
    equal = compare({s: 0.5 for s in range(3)}, {s: 0.5 for s in range(3)})
    assert equal.p_value == 1.0 and equal.mean == 0.0


def test_diverged_runs_count_at_chance_and_are_counted():
    got = compare({0: 0.9, 1: None, 2: float("nan")}, {0: 0.8, 1: 0.8, 2: 0.7}, chance=0.1)
    assert got.a == (0.9, 0.1, 0.1) and got.diverged_a == 2 and got.diverged_b == 0
    assert got.differences == pytest.approx((0.1, -0.7, -0.6))


def test_both_arms_at_ceiling_are_flagged():
    assert compare({0: 1.0, 1: 0.995}, {0: 0.99, 1: 1.0}).at_ceiling
    assert not compare({0: 1.0, 1: 0.97}, {0: 0.99, 1: 1.0}).at_ceiling  # mean 0.985
