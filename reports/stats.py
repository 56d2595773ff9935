"""Statistics of the report: means with t confidence intervals, Welch differences, ranks.

All functions take plain sequences of floats and return plain dataclasses of floats, so the
report's numbers can be checked against scipy in tests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with a two-sided t confidence interval ``[low, high]``.

    .. math:: \\bar x \\pm t_{n-1,\\,0.975}\\; s / \\sqrt n

    With ``n = 1`` the interval is undefined (``nan``); with ``n = 0`` everything is ``nan``.
    With ``bounds = (lo, hi)`` (accuracies: ``(0, 1)``) the interval is intersected with
    ``[lo, hi]``: the true mean lies there, so intersecting never lowers the coverage and an
    accuracy interval never leaves ``[0, 1]``.
    """

    n: int
    mean: float
    low: float
    high: float
    std: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """Difference of means ``a - b`` with Welch's t interval and two-sided p-value.

    .. math:: \\Delta = \\bar a - \\bar b,\\quad se = \\sqrt{s_a^2/n_a + s_b^2/n_b},\\quad
              \\nu = \\frac{se^4}{(s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)}

    When both samples have zero variance the difference is exact: the interval collapses to
    ``Delta`` and ``p`` is 1 if ``Delta = 0`` else 0.
    """

    delta: float
    low: float
    high: float
    p_value: float
    n_a: int
    n_b: int

    def excludes_zero(self) -> int:
        """+1 if the interval lies above 0, -1 if below, 0 if it contains 0 or is undefined."""
        if math.isnan(self.low) or math.isnan(self.high):
            return 0
        if self.low > 0:
            return 1
        if self.high < 0:
            return -1
        return 0

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[float], confidence: float = CONFIDENCE,
              bounds: tuple[float, float] | None = None) -> Summary:
    """Mean and t confidence interval of ``values`` (intersected with ``bounds`` if given)."""
    x = np.asarray(list(values), dtype=float)
    n = len(x)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = min(max(low, bounds[0]), bounds[1]), max(min(high, bounds[1]), bounds[0])
    return Summary(n, mean, low, high, std)


def welch_difference(a: Sequence[float], b: Sequence[float],
                     confidence: float = CONFIDENCE) -> Difference:
    """``mean(a) - mean(b)`` with Welch's confidence interval and p-value."""
    xa, xb = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    na, nb = len(xa), len(xb)
    if na < 2 or nb < 2:
        delta = float(xa.mean() - xb.mean()) if na and nb else math.nan
        return Difference(delta, math.nan, math.nan, math.nan, na, nb)
    delta = float(xa.mean() - xb.mean())
    va, vb = xa.var(ddof=1) / na, xb.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(delta, delta, delta, 1.0 if delta == 0 else 0.0, na, nb)
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * se
    p_value = float(2 * stats.t.sf(abs(delta) / se, dof))
    return Difference(delta, delta - half, delta + half, p_value, na, nb)


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation ``rho`` of ``n`` pairs and its two-sided p-value."""

    rho: float
    p_value: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> RankCorrelation:
    """Spearman correlation; ``nan`` when fewer than 3 pairs or a constant input."""
    xs, ys = np.asarray(list(x), dtype=float), np.asarray(list(y), dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n = len(xs)
    if n < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return RankCorrelation(math.nan, math.nan, n)
    result = stats.spearmanr(xs, ys)
    return RankCorrelation(float(result.statistic), float(result.pvalue), n)
