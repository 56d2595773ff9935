"""Paired statistics of a comparison between two mappings trained on the same seeds.

Every run of seed ``s`` shares with every other mapping at seed ``s`` the initial branch
weights, the mini-batch order and the data split, so a comparison is made on the per-seed
*differences* ``d_s = a_s - b_s`` (variant minus baseline), never on two independent samples.

With ``n`` differences of mean :math:`\\bar d` and standard deviation ``s``:

* **paired t interval** (the interval of ``scipy.stats.ttest_rel``):
  :math:`\\bar d \\pm t_{n-1,\\,1-\\alpha/2}\\, s/\\sqrt n`, two-sided p of
  :math:`t = \\bar d\\sqrt n / s`; the interval is intersected with ``[-1, 1]`` (a difference of
  accuracies cannot leave it; intersecting never lowers the coverage).
* **exact sign-flip permutation p-value**: under the null hypothesis that each ``d_s`` is
  symmetric about 0, every one of the :math:`2^n` sign patterns is equally likely; the two-sided
  p-value is the fraction of patterns whose :math:`|\\sum_s \\pm d_s|` is at least the observed
  one (exact enumeration up to :data:`EXACT_LIMIT` seeds, a seeded Monte Carlo sample beyond).
  Its smallest possible value is :math:`2/2^n` (0.0625 with 5 seeds).
* **TOST equivalence** against the smallest effect of interest ``delta`` (default 2 pp): two
  one-sided t tests of :math:`H_0: \\mu \\le -\\delta` and :math:`H_0: \\mu \\ge \\delta`;
  ``p = max(p_lower, p_upper)``; equivalent iff ``p < alpha``, i.e. iff the ``1 - 2 alpha`` t
  interval lies inside :math:`(-\\delta, \\delta)`.
* **minimum detectable effect (MDE)**: the true mean difference that a two-sided paired t test
  at level ``alpha`` detects with probability ``power`` (noncentral t) given ``n`` and ``s``.
* **Holm's step-down correction** of the p-values of the comparisons within one finding.

Zero variance (all ``d_s`` equal) makes ``t`` a division by zero: the t p-value, interval and
MDE are then undefined (``nan``) and :func:`compare` decides with the exact sign-flip p-value and
sign-flip versions of the two one-sided tests, which never divide by ``s``. So constant
differences are never "significant" by a division by zero: with 5 seeds no p-value below 0.0625
is possible.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import optimize, stats

from entangled.errors import InvalidParameterError

ALPHA = 0.05
CONFIDENCE = 0.95
SMALLEST_EFFECT = 0.02
POWER = 0.8
CEILING = 0.99
EXACT_LIMIT = 16
MONTE_CARLO_DRAWS = 2**16
# relative tolerance for ties of the permutation statistic (float sums in another order)
_TIE = 1e-12


def _array(values: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(list(values), dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise InvalidParameterError(name, list(values), "a sequence of finite numbers")
    return x


def _check_level(name: str, value: float, upper: float = 1.0) -> float:
    if not (isinstance(value, (int, float)) and 0 < value < upper):
        raise InvalidParameterError(name, value, f"a number strictly between 0 and {upper:g}")
    return float(value)


# --------------------------------------------------------------------------- paired t
@dataclass(frozen=True)
class PairedT:
    """Paired t test of ``n`` differences: mean, SD, the interval ``[low, high]``, ``t``, ``p``.

    ``low``/``high`` are the unclipped t interval; ``t``, ``p``, ``low``, ``high`` are ``nan``
    when ``n < 2`` or the differences have zero variance.
    """

    n: int
    mean: float
    std: float
    low: float
    high: float
    t: float
    p_value: float

    def to_dict(self) -> dict:
        return asdict(self)


def paired_t(differences: Sequence[float], confidence: float = CONFIDENCE) -> PairedT:
    """Paired t test and interval of ``differences`` (equal to ``scipy.stats.ttest_rel``)."""
    d = _array(differences, "differences")
    confidence = _check_level("confidence", confidence)
    n = len(d)
    if n == 0:
        return PairedT(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n == 1:
        return PairedT(1, mean, math.nan, math.nan, math.nan, math.nan, math.nan)
    std = float(d.std(ddof=1))
    if std == 0 or std <= _TIE * abs(mean):
        return PairedT(n, mean, 0.0, math.nan, math.nan, math.nan, math.nan)
    se = std / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    t = mean / se
    return PairedT(n, mean, std, mean - half, mean + half, t, float(2 * stats.t.sf(abs(t), n - 1)))


# ----------------------------------------------------------------------- sign flips
def _sign_patterns(n: int) -> np.ndarray:
    """All ``2**n`` sign vectors as rows of a ``(2**n, n)`` array of +-1."""
    return np.array(list(itertools.product((1.0, -1.0), repeat=n)))


def _flip_sums(values: np.ndarray, seed: int) -> tuple[np.ndarray, bool]:
    """``sum_s sign_s * values_s`` over all sign patterns (exact) or a Monte Carlo sample."""
    n = len(values)
    if n <= EXACT_LIMIT:
        return _sign_patterns(n) @ values, True
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(MONTE_CARLO_DRAWS, n))
    return signs @ values, False


def _tail_fraction(sums: np.ndarray, observed: float, exact: bool) -> float:
    """Fraction of ``sums >= observed`` (with a tolerance for float ties); the Monte Carlo
    estimate counts the observed pattern as one draw, ``(k + 1) / (N + 1)``."""
    hits = int(np.sum(sums >= observed - _TIE * max(1.0, abs(observed))))
    if exact:
        return hits / len(sums)
    return (hits + 1) / (len(sums) + 1)


def sign_flip_p(differences: Sequence[float], *, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of the mean of ``differences`` (exact up to
    :data:`EXACT_LIMIT` values); ``nan`` for no values."""
    d = _array(differences, "differences")
    if len(d) == 0:
        return math.nan
    sums, exact = _flip_sums(d, seed)
    return _tail_fraction(np.abs(sums), abs(float(d.sum())), exact)


def sign_flip_greater_p(differences: Sequence[float], *, seed: int = 0) -> float:
    """One-sided sign-flip p-value of :math:`H_0: \\mu \\le 0` against :math:`\\mu > 0`."""
    d = _array(differences, "differences")
    if len(d) == 0:
        return math.nan
    sums, exact = _flip_sums(d, seed)
    return _tail_fraction(sums, float(d.sum()), exact)


# ---------------------------------------------------------------------------- TOST
@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests against ``+-margin``; ``method`` is ``"t"`` or ``"sign-flip"``."""

    margin: float
    p_lower: float
    p_upper: float
    p_value: float
    equivalent: bool
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def tost(differences: Sequence[float], margin: float = SMALLEST_EFFECT,
         alpha: float = ALPHA) -> Equivalence:
    """TOST of the mean of ``differences`` against ``(-margin, margin)``.

    .. math:: t_L = (\\bar d + \\delta)\\sqrt n / s,\\; p_L = P(T_{n-1} \\ge t_L);\\qquad
              t_U = (\\bar d - \\delta)\\sqrt n / s,\\; p_U = P(T_{n-1} \\le t_U)

    With zero variance the two one-sided tests are exact sign-flip tests of ``d + margin > 0``
    and ``margin - d > 0`` (no division by ``s``). Fewer than 2 values: not equivalent.
    """
    d = _array(differences, "differences")
    if not (isinstance(margin, (int, float)) and 0 < margin < 1):
        raise InvalidParameterError("margin", margin, "a number strictly between 0 and 1")
    alpha = _check_level("alpha", alpha, 0.5)
    test = paired_t(d)
    if test.n < 2:
        return Equivalence(float(margin), math.nan, math.nan, math.nan, False, "t")
    if math.isnan(test.t):
        p_lower = sign_flip_greater_p(d + margin)
        p_upper = sign_flip_greater_p(margin - d)
        method = "sign-flip"
    else:
        se = test.std / math.sqrt(test.n)
        p_lower = float(stats.t.sf((test.mean + margin) / se, test.n - 1))
        p_upper = float(stats.t.cdf((test.mean - margin) / se, test.n - 1))
        method = "t"
    p = max(p_lower, p_upper)
    return Equivalence(float(margin), p_lower, p_upper, p, bool(p < alpha), method)


# ----------------------------------------------------------------------------- MDE
def paired_power(effect: float, std: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t test at level ``alpha`` when the true mean difference
    is ``effect``: :math:`P(|T'| > t_{n-1,1-\\alpha/2})`, ``T'`` noncentral t with
    :math:`\\lambda = \\text{effect}\\sqrt n / s`."""
    if n < 2 or not std > 0:
        return math.nan
    crit = float(stats.t.ppf(1 - alpha / 2, n - 1))
    return _two_sided_power(crit, n - 1, effect * math.sqrt(n) / std)


def _two_sided_power(crit: float, dof: int, ncp: float) -> float:
    """:math:`P(T' > c) + P(T' < -c)` for noncentral t ``T'``; the lower tail is written as
    the upper tail of ``-T'`` (noncentrality ``-ncp``), and a tail scipy cannot evaluate
    (``nan`` far out) is 0."""
    upper = float(stats.nct.sf(crit, dof, ncp))
    lower = float(stats.nct.sf(crit, dof, -ncp))
    return (0.0 if math.isnan(upper) else upper) + (0.0 if math.isnan(lower) else lower)


def minimum_detectable_effect(std: float, n: int, alpha: float = ALPHA,
                              power: float = POWER) -> float:
    """Smallest true mean difference detected with probability ``power`` by the two-sided
    paired t test at level ``alpha`` with ``n`` seeds and difference SD ``std``
    (``nan`` when ``n < 2`` or ``std`` is 0)."""
    alpha = _check_level("alpha", alpha)
    power = _check_level("power", power)
    if n < 2 or not (isinstance(std, (int, float)) and std > 0 and math.isfinite(std)):
        return math.nan
    if power <= alpha:
        return 0.0
    return _detectable_noncentrality(int(n), alpha, power) * std / math.sqrt(n)


@functools.lru_cache(maxsize=4096)
def _detectable_noncentrality(n: int, alpha: float, power: float) -> float:
    """The noncentrality ``lambda`` at which the two-sided paired t test with ``n`` seeds at
    level ``alpha`` has power ``power`` (the root of ``power(lambda) = power``, Brent's method).
    It depends on ``n``, ``alpha`` and ``power`` only, so it is computed once per triple:
    a report asks for it tens of thousands of times (:func:`seeds_needed` per comparison)."""
    crit = float(stats.t.ppf(1 - alpha / 2, n - 1))

    def gap(ncp: float) -> float:
        return _two_sided_power(crit, n - 1, ncp) - power

    upper = crit + 10.0
    while gap(upper) < 0 and upper < 1e6:
        upper *= 2
    return float(optimize.brentq(gap, 0.0, upper, xtol=1e-10))


def seeds_needed(effect: float, std: float, alpha: float = ALPHA, power: float = POWER,
                 limit: int = 10_000) -> int | None:
    """Fewest seeds ``n >= 2`` at which the MDE is at most ``|effect|`` (``None`` if undefined
    or more than ``limit``)."""
    if not (std > 0 and math.isfinite(std)) or effect == 0 or not math.isfinite(effect):
        return None
    n = 2
    while n <= limit:
        if minimum_detectable_effect(std, n, alpha, power) <= abs(effect):
            return n
        n = n + 1 if n < 64 else int(n * 1.25)
    return None


# ---------------------------------------------------------------------------- Holm
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (``nan`` entries are kept and not counted).

    With the ``m`` defined p-values sorted ascending, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`:
    :math:`\\tilde p_{(i)} = \\min\\bigl(1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\bigr)`.
    """
    p = [float(v) for v in p_values]
    defined = sorted((v, i) for i, v in enumerate(p) if not math.isnan(v))
    m = len(defined)
    adjusted = list(p)
    running = 0.0
    for rank, (value, index) in enumerate(defined):
        running = max(running, min(1.0, (m - rank) * value))
        adjusted[index] = running
    return adjusted


# ---------------------------------------------------------------------- comparison
def with_failures_at_chance(by_seed: Mapping[int, float | None], chance: float) -> dict[int, float]:
    """Per-seed accuracies where a diverged run (``None`` or non-finite) counts as a failure
    at ``chance`` accuracy."""
    out = {}
    for seed, value in by_seed.items():
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        out[int(seed)] = float(value) if ok else float(chance)
    return out


def clip_interval(low: float, high: float, lower: float, upper: float) -> tuple[float, float]:
    """``[low, high]`` intersected with ``[lower, upper]`` (``nan`` stays ``nan``)."""
    if math.isnan(low) or math.isnan(high):
        return low, high
    return min(max(low, lower), upper), max(min(high, upper), lower)


@dataclass(frozen=True)
class PairedComparison:
    """Everything measured about ``variant - baseline`` on the seeds both arms have.

    ``a``/``b`` are the per-seed accuracies of variant and baseline (diverged runs at chance),
    ``differences = a - b``; ``low``/``high`` the paired t interval intersected with
    ``[-1, 1]``; ``p_value`` the test the verdict uses (the t p-value, or the exact sign-flip
    p-value when ``t`` is undefined); ``mde`` at level ``mde_alpha``; ``at_ceiling`` when both
    arms' mean accuracy is at least the ceiling (shown, excluded from verdicts).
    """

    seeds: tuple[int, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    differences: tuple[float, ...]
    n: int
    mean: float
    std: float
    low: float
    high: float
    t_p_value: float
    sign_flip_p_value: float
    p_value: float
    test: str
    tost: Equivalence
    mde: float
    mde_alpha: float
    seeds_for_smallest_effect: int | None
    at_ceiling: bool
    diverged_a: int
    diverged_b: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tost"] = self.tost.to_dict()
        return d


def compare(a_by_seed: Mapping[int, float | None], b_by_seed: Mapping[int, float | None], *,
            chance: float = 0.0, margin: float = SMALLEST_EFFECT, alpha: float = ALPHA,
            confidence: float = CONFIDENCE, ceiling: float = CEILING,
            mde_alpha: float | None = None, power: float = POWER) -> PairedComparison:
    """Paired comparison of variant ``a`` and baseline ``b`` on their common seeds.

    Diverged runs (``None``/non-finite accuracy) count as failures at ``chance``. The MDE is
    computed at ``mde_alpha`` (default ``alpha``).
    """
    diverged_a = sum(1 for v in a_by_seed.values() if not _finite(v))
    diverged_b = sum(1 for v in b_by_seed.values() if not _finite(v))
    a_all = with_failures_at_chance(a_by_seed, chance)
    b_all = with_failures_at_chance(b_by_seed, chance)
    seeds = tuple(sorted(set(a_all) & set(b_all)))
    a = np.array([a_all[s] for s in seeds], dtype=float)
    b = np.array([b_all[s] for s in seeds], dtype=float)
    d = a - b
    test = paired_t(d, confidence)
    low, high = clip_interval(test.low, test.high, -1.0, 1.0)
    flip = sign_flip_p(d)
    use_t = not math.isnan(test.p_value)
    level = alpha if mde_alpha is None else mde_alpha
    mde = minimum_detectable_effect(test.std, test.n, level, power)
    needed = seeds_needed(margin, test.std, level, power) if test.n >= 2 else None
    at_ceiling = bool(len(seeds) > 0 and a.mean() >= ceiling and b.mean() >= ceiling)
    return PairedComparison(
        seeds=seeds, a=tuple(a.tolist()), b=tuple(b.tolist()), differences=tuple(d.tolist()),
        n=test.n, mean=test.mean, std=test.std, low=low, high=high, t_p_value=test.p_value,
        sign_flip_p_value=flip, p_value=test.p_value if use_t else flip,
        test="paired t" if use_t else "sign-flip", tost=tost(d, margin, alpha),
        mde=mde, mde_alpha=level, seeds_for_smallest_effect=needed, at_ceiling=at_ceiling,
        diverged_a=diverged_a, diverged_b=diverged_b,
    )


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
