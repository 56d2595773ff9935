"""Group-sequential seeds: decide a paired comparison in stages, with valid error rates.

A comparison (variant minus identity, paired by seed; :mod:`entangled.reports.paired`) is
looked at after ``n_1 < n_2 < ... < n_K`` seeds (the *stages*, e.g. 5, 10, 20, 40; ``n_K``
is the cap). Stage ``k`` uses the first ``n_k`` seeds of the design's fixed seed order, so a
stage's seeds are the same whether it is reached in one invocation or several, and a
decision depends only on the seeds of the stages reached. At every stage two decisions are
tested, each with its own error budget spent over the stages:

**Significance** of :math:`H_0: \\mu = 0` (two-sided, level :math:`\\alpha`; each direction
gets :math:`\\alpha/2`, so both "reproduced" and "opposite" are covered). With the
information fractions :math:`t_k = n_k / n_K`, the error spent by stage ``k`` on each side is
a Lan–DeMets spending function (Lan & DeMets 1983, *Biometrika* 70:659; Kim & DeMets 1987)
at level :math:`a = \\alpha/2`

.. math:: a^{OF}(t) = 2 - 2\\Phi\\bigl(z_{1-a/2}/\\sqrt t\\bigr)
          \\quad\\text{(O'Brien–Fleming type)},\\qquad
          a^{P}(t) = a \\ln\\bigl(1 + (e - 1)\\,t\\bigr) \\quad\\text{(Pocock type)}

(the convention of rpact and gsDesign: 4.877, 3.357, 2.680, 2.290, 2.031 for five equal
stages and O'Brien–Fleming type, reproduced in the tests), and the boundaries
:math:`c_1, \\dots, c_K` of the standardised statistics solve
:math:`P_0(|Z_1| < c_1, \\dots, |Z_{k-1}| < c_{k-1}, |Z_k| \\ge c_k) = 2\\,(a(t_k) - a(t_{k-1}))`
for the canonical joint distribution :math:`\\operatorname{Cov}(Z_j, Z_k) = \\sqrt{n_j/n_k}`,
computed by recursive numerical integration (Armitage, McPherson & Rowe 1969; Jennison &
Turnbull 2000, *Group Sequential Methods with Applications to Clinical Trials*, ch. 19; a
Simpson rule on a grid of spacing 0.025 — the constants of their Tables 2.1 and 2.3 are
reproduced to 3 decimals in the tests).

**Equivalence** within :math:`\\pm\\delta` (the TOST's two one-sided nulls
:math:`\\mu \\le -\\delta` and :math:`\\mu \\ge \\delta`, each at level :math:`\\alpha`): each
one-sided test is a one-sided group-sequential test spending :math:`a(t)` at level
:math:`a = \\alpha` (one-sided boundaries :math:`b_k`); equivalence is declared at stage ``k``
when both one-sided tests reject there, i.e. when the *repeated confidence interval*
:math:`\\bar d_k \\pm t_{n_k-1,\\,1-q_k}\\, s_k/\\sqrt{n_k}` (:math:`q_k`: the stage's
nominal one-sided level, below) lies inside :math:`(-\\delta, \\delta)` (Jennison &
Turnbull 1989, *JRSS B* 51:305, and 2000, ch. 6 and 9). This is an intersection–union test:
if :math:`\\mu \\ge \\delta` a false equivalence needs the upper one-sided sequential test to
reject, which has probability at most :math:`\\alpha` whatever else is done (Berger 1982),
and symmetrically for :math:`\\mu \\le -\\delta`.

**Estimated variance** (``t_adaptation``). The boundaries above are for a known variance;
with ``n_k`` seeds the SD of the differences is estimated and stage ``k`` tests with the paired
t test (``n_k - 1`` degrees of freedom) at a *nominal level*:

* ``"union-bound"`` (default): the nominal level of stage ``k`` is the error the spending
  function spends there, :math:`\\alpha(t_k) - \\alpha(t_{k-1})` (two-sided:
  :math:`2(a(t_k) - a(t_{k-1}))`, :math:`a` at :math:`\\alpha/2`). Each stage's t test is
  exact for normal differences, so by the union bound the probability of a false rejection at
  some stage is at most the sum, :math:`\\alpha` — valid whatever the dependence between the
  stages' statistics, and conservative by their overlap. For O'Brien–Fleming-type spending the
  overlap is small (nominal levels 4.6e-10, 1.5e-5, 0.0030, 0.0470 against 4.6e-10, 1.5e-5,
  0.0030, 0.0490 for 5 → 10 → 20 → 40 seeds); for Pocock-type it costs power.
* ``"significance-level"``: the nominal level of the known-variance boundary,
  :math:`2\\bar\\Phi(c_k)` or :math:`\\bar\\Phi(b_k)` (Jennison & Turnbull 2000, §11.4;
  Pocock 1977). An approximation: measured with 400,000 normal datasets at 5 → 10 → 20 → 40
  seeds, the two-sided rate is 0.0501 ± 0.0007 with O'Brien–Fleming-type and 0.0529 ± 0.0007
  with Pocock-type spending — *above* :math:`\\alpha` — because the t statistics of stages
  with few degrees of freedom are less correlated than the z statistics the boundaries assume.

The rates attained on normal, heavy-tailed and accuracy-like differences are measured by
simulation (``benchmarks/bench_sequential.py``, and a reduced count in
``tests/test_report_sequential.py``) rather than assumed. Differences with zero variance are
tested by the exact sign-flip test at the same nominal level, as in
:func:`entangled.reports.paired.compare`.

**Holm across a finding's comparisons** (significance and, when asked, equivalence, each as
its own family of ``M`` comparisons): the graphical approach for group-sequential designs of
Maurer & Bretz (2013, *Stat. Biopharm. Res.* 5:311) with Holm's graph. Every comparison starts
with the share :math:`\\alpha/M` and its boundaries are those of the spending function at that
level; when a comparison's null is rejected (at any stage it has reached), its share is passed
on equally to the comparisons not yet rejected, which then hold :math:`\\alpha/(M - r)` after
``r`` rejections and are re-tested, with the boundaries of the larger level, at every stage
they have reached (earlier stages included). This is Holm's procedure applied to the
comparisons' *repeated p-values* (the smallest level at which a comparison's sequential test
has crossed so far, Jennison & Turnbull 2000 §9.5); it is a shortcut of a closed test of
weighted-Bonferroni group-sequential tests and controls the family-wise error in the strong
sense because the boundaries fall as the level rises (tested). A comparison that stops
early (decided, or the cap reached) only truncates its test, which can only lower its
rejection probability.

**Words** (those of :mod:`entangled.reports.verdicts`): ``not reproduced`` once equivalence
has been declared (checked first, as in the fixed design); otherwise ``reproduced`` /
``opposite`` once the significance null is rejected, as the sign of the mean difference at
the first stage that crossed agrees with the predicted sign or not; otherwise ``continue``
before the last stage and ``inconclusive`` at it. A comparison stops when its word is not
``continue``. Under :math:`\\mu = 0` a ``reproduced``/``opposite`` word needs a false
significance rejection (probability at most :math:`\\alpha` per family); at
:math:`\\mu = \\pm\\delta` a ``not reproduced`` needs a false equivalence (at most
:math:`\\alpha`). With one stage the
procedure is exactly the fixed design's paired t test, TOST and Holm.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence, cast

import numpy as np
from scipy import optimize, stats

from entangled.errors import InvalidParameterError
from entangled.reports.paired import ALPHA, SMALLEST_EFFECT
from entangled.reports.verdicts import INCONCLUSIVE, NOT_REPRODUCED, OPPOSITE, REPRODUCED

__all__ = ["CONTINUE", "SPENDING_FUNCTIONS", "T_ADAPTATIONS", "ComparisonState", "HolmContext",
           "SequentialDesign", "SequentialOutcome", "StageDecision", "StageTest", "boundaries",
           "crossing_probabilities", "decide", "decide_finding", "run_until_decided",
           "scheme_text", "spending"]

#: the word of a comparison that is not decided and has stages left
CONTINUE = "continue"
SPENDING_FUNCTIONS = ("obrien_fleming", "pocock")
#: how the known-variance design is carried over to t tests (module docstring)
T_ADAPTATIONS = ("union-bound", "significance-level")
DEFAULT_STAGES = (5, 10, 20, 40)
#: grid spacing of the numerical integration and the half-width beyond which density is dropped
_GRID_STEP = 0.025
_GRID_REACH = 10.0
#: a boundary whose stage spends (almost) nothing: no crossing possible at that stage
_NO_CROSSING = 40.0
# relative tolerance for zero variance (as in entangled.reports.paired)
_TIE = 1e-12


# ------------------------------------------------------------------------ spending
def spending(kind: str, t: float, alpha: float) -> float:
    """The error :math:`\\alpha(t)` spent by information fraction ``t`` (0 at 0, ``alpha`` at 1).

    ``"obrien_fleming"``: :math:`2 - 2\\Phi(z_{1-\\alpha/2}/\\sqrt t)`; ``"pocock"``:
    :math:`\\alpha \\ln(1 + (e - 1) t)` (Lan & DeMets 1983; Kim & DeMets 1987).
    """
    if kind not in SPENDING_FUNCTIONS:
        raise InvalidParameterError("spending", kind, "one of " + ", ".join(SPENDING_FUNCTIONS))
    if not (isinstance(t, (int, float)) and 0 <= t <= 1):
        raise InvalidParameterError("t", t, "an information fraction between 0 and 1")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InvalidParameterError("alpha", alpha, "a number strictly between 0 and 1")
    if t == 0:
        return 0.0
    if kind == "pocock":
        return float(alpha * math.log(1 + (math.e - 1) * t))
    return float(2 * stats.norm.sf(stats.norm.isf(alpha / 2) / math.sqrt(t)))


# ---------------------------------------------------------- numerical integration
def _simpson_grid(low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and composite-Simpson weights on ``[low, high]`` (odd count, spacing <= step)."""
    intervals = max(2, 2 * math.ceil((high - low) / (2 * _GRID_STEP)))
    z = np.linspace(low, high, intervals + 1)
    w = np.ones(intervals + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return z, w * (high - low) / intervals / 3.0


class _Density:
    """The sub-density of :math:`Z_k` on the continuation region after stage ``k``
    (Jennison & Turnbull 2000, §19.2), on a Simpson grid."""

    def __init__(self, information: Sequence[float] | np.ndarray, drift: float):
        self.info = np.asarray(information, dtype=float)
        self.drift = float(drift)
        self.stage = -1
        self.z: np.ndarray = np.empty(0)
        self.w: np.ndarray = np.empty(0)
        self.h: np.ndarray = np.empty(0)

    def _mean(self, k: int) -> float:
        return self.drift * math.sqrt(self.info[k])

    def crossing(self, k: int, upper: float, lower: float) -> tuple[float, float]:
        """``P(continue to stage k, Z_k >= upper)`` and ``P(continue to k, Z_k <= lower)``;
        ``k`` must be the stage after the density's."""
        if k == 0:
            mean = self._mean(0)
            return float(stats.norm.sf(upper - mean)), float(stats.norm.cdf(lower - mean))
        assert k == self.stage + 1
        gap = self.info[k] - self.info[k - 1]
        start = self.z * math.sqrt(self.info[k - 1]) + self.drift * gap
        mass = self.w * self.h
        root_k, sd = math.sqrt(self.info[k]), math.sqrt(gap)
        up = float(mass @ stats.norm.sf((upper * root_k - start) / sd))
        low = float(mass @ stats.norm.cdf((lower * root_k - start) / sd))
        return up, low

    def advance(self, k: int, upper: float, lower: float) -> None:
        """Move the density to stage ``k`` restricted to ``lower < Z_k < upper``."""
        mean = self._mean(k)
        low, high = max(lower, mean - _GRID_REACH), min(upper, mean + _GRID_REACH)
        z, w = _simpson_grid(low, high)
        if k == 0:
            h = stats.norm.pdf(z - mean)
        else:
            gap = self.info[k] - self.info[k - 1]
            start = self.z * math.sqrt(self.info[k - 1]) + self.drift * gap
            root_k, sd = math.sqrt(self.info[k]), math.sqrt(gap)
            kernel = stats.norm.pdf((z[:, None] * root_k - start[None, :]) / sd) * root_k / sd
            h = kernel @ (self.w * self.h)
        self.z, self.w, self.h, self.stage = z, w, h, k


def crossing_probabilities(upper: Sequence[float], lower: Sequence[float],
                           information: Sequence[float], drift: float = 0.0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """First-crossing probabilities of a group-sequential test with continuation regions
    ``lower[k] < Z_k < upper[k]``: ``(P(exit above at stage k), P(exit below at stage k))``.

    :math:`Z_k = S_k / \\sqrt{I_k}`, :math:`S_k` a Brownian motion with drift ``drift`` per unit
    of information observed at ``information`` (increasing); under ``drift = 0`` this is the
    canonical joint distribution of the stagewise z statistics.
    """
    info = _information(information)
    if not (len(upper) == len(lower) == len(info)):
        raise InvalidParameterError("upper/lower", (len(upper), len(lower)),
                                    f"one boundary per stage ({len(info)})")
    density = _Density(info, drift)
    up, low = np.zeros(len(info)), np.zeros(len(info))
    for k in range(len(info)):
        up[k], low[k] = density.crossing(k, float(upper[k]), float(lower[k]))
        if k < len(info) - 1:
            density.advance(k, float(upper[k]), float(lower[k]))
    return up, low


def _information(information: Sequence[float]) -> np.ndarray:
    info = np.asarray(list(information), dtype=float)
    if info.ndim != 1 or len(info) == 0 or not np.all(info > 0) or np.any(np.diff(info) <= 0):
        raise InvalidParameterError("information", list(information),
                                    "a non-empty increasing sequence of positive numbers")
    return info


@functools.lru_cache(maxsize=512)
def _boundaries(information: tuple[float, ...], alpha: float, kind: str, sides: int
                ) -> tuple[float, ...]:
    info = np.asarray(information, dtype=float)
    fractions = info / info[-1]
    # two-sided: alpha/2 per side, each side the spending function at alpha/2 (rpact, gsDesign)
    spent = [0.0] + [sides * spending(kind, float(t), alpha / sides) for t in fractions]
    density = _Density(info, 0.0)
    out = []
    for k in range(len(info)):
        target = spent[k + 1] - spent[k]
        if target <= 1e-15:
            c = _NO_CROSSING
        else:
            def excess(c: float, k: int = k, target: float = target) -> float:
                up, low = density.crossing(k, c, -c if sides == 2 else -_NO_CROSSING)
                return (up + low if sides == 2 else up) - target
            c = _NO_CROSSING if excess(_NO_CROSSING) > 0 else optimize.brentq(
                excess, -_NO_CROSSING if sides == 1 else 0.0, _NO_CROSSING, xtol=1e-10)
        out.append(float(c))
        if k < len(info) - 1:
            density.advance(k, c, -c if sides == 2 else -_NO_CROSSING)
    return tuple(out)


def boundaries(information: Sequence[float], alpha: float = ALPHA,
               spending_function: str = "obrien_fleming", sides: int = 2) -> tuple[float, ...]:
    """z boundaries of a group-sequential test with Lan–DeMets error spending.

    ``sides=2``: symmetric two-sided boundaries :math:`\\pm c_k`, each side spending
    :math:`\\alpha(t; \\alpha/2)` (``alpha`` in total, the convention of rpact and gsDesign);
    ``sides=1``: upper boundaries :math:`b_k` of a one-sided test spending
    :math:`\\alpha(t; \\alpha)`.
    ``information`` is proportional to the seeds of each stage. A stage that spends no error
    gets a boundary of 40 (no crossing possible).
    """
    info = _information(information)
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InvalidParameterError("alpha", alpha, "a number strictly between 0 and 1")
    if spending_function not in SPENDING_FUNCTIONS:
        raise InvalidParameterError("spending_function", spending_function,
                                    "one of " + ", ".join(SPENDING_FUNCTIONS))
    if sides not in (1, 2):
        raise InvalidParameterError("sides", sides, "1 or 2")
    return _boundaries(tuple(info.tolist()), float(alpha), spending_function, sides)


# -------------------------------------------------------------------------- design
@dataclass(frozen=True)
class SequentialDesign:
    """Stages (cumulative seeds per comparison), level, spending function and equivalence
    margin of a group-sequential comparison.

    ``seed_order``: the seeds in the order stages take them (default ``0, 1, ..., cap - 1``);
    stage ``k`` uses ``seed_order[:stages[k]]``. ``t_adaptation``: the nominal levels of the
    stages' t tests, ``"union-bound"`` (valid by construction) or ``"significance-level"``
    (module docstring).
    """

    stages: tuple[int, ...] = DEFAULT_STAGES
    alpha: float = ALPHA
    spending: str = "obrien_fleming"
    margin: float = SMALLEST_EFFECT
    seed_order: tuple[int, ...] | None = None
    t_adaptation: str = "union-bound"

    def __post_init__(self):
        stages = self.stages
        if (not isinstance(stages, (tuple, list)) or not stages
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in stages)
                or stages[0] < 2 or any(b <= a for a, b in zip(stages, stages[1:]))):
            raise InvalidParameterError("stages", stages,
                                        "a non-empty strictly increasing sequence of seed "
                                        "counts, the first at least 2")
        object.__setattr__(self, "stages", tuple(stages))
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < 0.5):
            raise InvalidParameterError("alpha", self.alpha, "a number strictly between 0 and 0.5")
        if self.spending not in SPENDING_FUNCTIONS:
            raise InvalidParameterError("spending", self.spending,
                                        "one of " + ", ".join(SPENDING_FUNCTIONS))
        if not (isinstance(self.margin, (int, float)) and 0 < self.margin < 1):
            raise InvalidParameterError("margin", self.margin, "a number strictly between 0 and 1")
        order = tuple(range(self.cap)) if self.seed_order is None else tuple(self.seed_order)
        if (len(order) < self.cap or len(set(order)) != len(order)
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in order)):
            raise InvalidParameterError("seed_order", self.seed_order,
                                        f"at least {self.cap} distinct integer seeds")
        object.__setattr__(self, "seed_order", order)
        if self.t_adaptation not in T_ADAPTATIONS:
            raise InvalidParameterError("t_adaptation", self.t_adaptation,
                                        "one of " + ", ".join(T_ADAPTATIONS))

    @property
    def cap(self) -> int:
        """The most seeds a comparison can use (the last stage)."""
        return self.stages[-1]

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seed order (``seed_order``, filled in on creation)."""
        return cast(tuple, self.seed_order)

    @property
    def fractions(self) -> tuple[float, ...]:
        """Information fractions :math:`t_k = n_k / n_K`."""
        return tuple(n / self.cap for n in self.stages)

    def seeds_at(self, stage_index: int) -> tuple[int, ...]:
        """The seeds stage ``stage_index`` (0-based) is decided on."""
        self._check_stage(stage_index)
        return self.seeds[:self.stages[stage_index]]

    def significance_levels(self, alpha: float | None = None) -> tuple[float, ...]:
        """Nominal two-sided level of the t test at each stage for the share ``alpha``
        (default the design's): the error spent at the stage (``"union-bound"``) or
        :math:`2\\bar\\Phi(c_k)` (``"significance-level"``)."""
        return self._levels(self._level(alpha), sides=2)

    def equivalence_levels(self, alpha: float | None = None) -> tuple[float, ...]:
        """Nominal level of each one-sided t test of the TOST at each stage for the share
        ``alpha`` (default the design's): the error spent at the stage or
        :math:`\\bar\\Phi(b_k)`."""
        return self._levels(self._level(alpha), sides=1)

    def _levels(self, alpha: float, sides: int) -> tuple[float, ...]:
        if self.t_adaptation == "union-bound":
            spent = [0.0] + [sides * spending(self.spending, t, alpha / sides)
                             for t in self.fractions]
            return tuple(float(b - a) for a, b in zip(spent, spent[1:]))
        z = boundaries(self.stages, alpha, self.spending, sides=sides)
        return tuple(float(sides * stats.norm.sf(x)) for x in z)

    def _level(self, alpha: float | None) -> float:
        level = self.alpha if alpha is None else alpha
        if not (isinstance(level, (int, float)) and 0 < level <= self.alpha):
            raise InvalidParameterError("alpha", level, f"a share in (0, {self.alpha:g}]")
        return float(level)

    def _check_stage(self, stage_index: int) -> None:
        if not (isinstance(stage_index, int) and 0 <= stage_index < len(self.stages)):
            raise InvalidParameterError("stage_index", stage_index,
                                        f"an integer from 0 to {len(self.stages) - 1}")

    def to_dict(self) -> dict:
        return {"stages": list(self.stages), "alpha": self.alpha, "spending": self.spending,
                "margin": self.margin, "seed_order": list(self.seeds[:self.cap]),
                "t_adaptation": self.t_adaptation}


# --------------------------------------------------------------- stage statistics
def _stage_p_values(d: np.ndarray, stages: Sequence[int], margin: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per dataset (rows of ``d``, seeds in stage order) and stage: the mean, SD, two-sided
    p-value of :math:`\\mu = 0` and the TOST p-value (max of the two one-sided ones).

    t tests with ``n_k - 1`` degrees of freedom; rows with zero variance get the exact
    sign-flip p-values of constant differences (:math:`2^{1-n}` or 1; :math:`2^{-n}` or 1)."""
    rows, k_count = d.shape[0], len(stages)
    mean, sd = np.empty((rows, k_count)), np.empty((rows, k_count))
    p_two, p_equiv = np.empty((rows, k_count)), np.empty((rows, k_count))
    for k, n in enumerate(stages):
        x = d[:, :n]
        m = x.mean(axis=1)
        s = x.std(axis=1, ddof=1)
        flat = (s == 0) | (s <= _TIE * np.abs(m))
        se = np.where(flat, 1.0, s) / math.sqrt(n)
        t = m / se
        two = 2 * stats.t.sf(np.abs(t), n - 1)
        lower = stats.t.sf((m + margin) / se, n - 1)
        upper = stats.t.cdf((m - margin) / se, n - 1)
        # zero variance: exact sign-flip tests of constant values (paired.sign_flip_p)
        two = np.where(flat, np.where(m == 0, 1.0, 2.0 ** (1 - n)), two)
        lower = np.where(flat, np.where(m + margin > 0, 2.0 ** -n, 1.0), lower)
        upper = np.where(flat, np.where(margin - m > 0, 2.0 ** -n, 1.0), upper)
        mean[:, k], sd[:, k] = m, np.where(flat, 0.0, s)
        p_two[:, k], p_equiv[:, k] = two, np.maximum(lower, upper)
    return mean, sd, p_two, p_equiv


def _first_crossing(p: np.ndarray, nominal: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """First stage (index) with ``p < nominal`` among the stages ``<= reached``; -1 if none.
    ``p``, ``nominal``: ``(..., K)``; ``reached``: ``(...)``."""
    k = np.arange(p.shape[-1])
    crossed = (p < nominal) & (k <= reached[..., None])
    return np.where(crossed.any(axis=-1), crossed.argmax(axis=-1), -1)


def _holm_crossings(p: np.ndarray, reached: np.ndarray, nominal_by_share: np.ndarray,
                    family_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Holm's sequentially rejective procedure on group-sequential tests.

    ``p``: ``(N, m, K)`` stagewise p-values; ``reached``: ``(N, m)``; ``nominal_by_share[j]``:
    ``(K,)`` nominal levels for the share :math:`\\alpha/j` (``j = 1..family_size``; row 0
    unused). Returns the first crossing stage (-1: not rejected) and the share index ``j`` each
    comparison was rejected at (not rejected: the final share)."""
    rows, m, _ = p.shape
    rejected = np.zeros((rows, m), dtype=bool)
    first = np.full((rows, m), -1)
    tested = np.full((rows, m), family_size)
    for _ in range(m):
        share = np.broadcast_to((family_size - rejected.sum(axis=1))[:, None], (rows, m))
        tested = np.where(rejected, tested, share)
        stage = _first_crossing(p, nominal_by_share[share], reached)
        new = (stage >= 0) & ~rejected
        if not new.any():
            break
        first = np.where(new, stage, first)
        rejected |= new
    return first, tested


# ------------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class HolmContext:
    """The error shares a comparison is tested at: significance and equivalence (each at
    most the design's ``alpha``)."""

    alpha_significance: float
    alpha_equivalence: float


@dataclass(frozen=True)
class StageTest:
    """One stage of a comparison: its seeds, mean and SD of the differences, the two-sided
    p-value of :math:`\\mu = 0` against its nominal level, and the TOST p-value against its
    nominal level (``*_crossed`` when below)."""

    stage_index: int
    seeds: int
    mean: float
    std: float
    p_value: float
    nominal_level: float
    significant: bool
    p_equivalence: float
    nominal_level_equivalence: float
    equivalent: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StageDecision:
    """The word of a comparison after the stages reached, whether it stops, and why.

    ``word``: ``reproduced``, ``opposite``, ``not reproduced``, ``inconclusive`` (last stage,
    undecided) or ``continue``; ``stop``: the word is not ``continue``; ``stages``: one
    :class:`StageTest` per stage reached, tested at the final Holm shares
    ``alpha_significance``/``alpha_equivalence``; ``significant_at`` / ``equivalent_at``: the
    first stage index that crossed (``None``: none)."""

    word: str
    stop: bool
    stage_index: int
    seeds: int
    predicted: int
    alpha_significance: float
    alpha_equivalence: float
    significant_at: int | None
    equivalent_at: int | None
    reason: str
    stages: tuple[StageTest, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [s.to_dict() for s in self.stages]
        return d


@dataclass(frozen=True)
class ComparisonState:
    """A comparison of a finding as :func:`decide_finding` takes it: the paired differences
    by seed (diverged runs already at chance), the predicted sign (+1/-1) and the stage
    reached (0-based). A comparison that stopped keeps the stage it stopped at in every later
    call, even when more of its seeds exist (a stage's seeds beyond it are ignored)."""

    differences_by_seed: Mapping[int, float]
    predicted: int
    stage_index: int


def _differences(design: SequentialDesign, by_seed: Mapping[int, float], stage_index: int
                 ) -> np.ndarray:
    """The differences of the seeds of stages ``<= stage_index`` in stage order, padded with
    zeros to the cap (the padding is never read: stages beyond are masked)."""
    design._check_stage(stage_index)
    seeds = design.seeds_at(stage_index)
    missing = [s for s in seeds if s not in by_seed]
    if missing:
        raise InvalidParameterError("differences_by_seed", sorted(by_seed),
                                    f"a value for every seed of stage {stage_index} "
                                    f"(missing {missing})")
    values = [by_seed[s] for s in seeds]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise InvalidParameterError("differences_by_seed", values,
                                    "finite numbers (count diverged runs at chance first)")
    out = np.zeros(design.cap)
    out[:len(values)] = values
    return out


def _check_predicted(predicted: int) -> None:
    if predicted not in (1, -1):
        raise InvalidParameterError("predicted", predicted, "+1 (higher) or -1 (lower)")


def decide(design: SequentialDesign, differences_by_seed: Mapping[int, float],
           stage_index: int, predicted: int = 1,
           holm_context: HolmContext | None = None) -> StageDecision:
    """The word of one comparison at ``stage_index`` tested at the shares of ``holm_context``
    (default: the design's full ``alpha`` for both decisions: a finding of one comparison).

    Uses the seeds ``design.seeds_at(stage_index)`` (others are ignored) and re-tests every
    stage reached. For the Holm shares of several comparisons use :func:`decide_finding`.
    """
    _check_predicted(predicted)
    ctx = holm_context or HolmContext(design.alpha, design.alpha)
    d = _differences(design, differences_by_seed, stage_index)[None, :]
    mean, sd, p_two, p_eq = _stage_p_values(d, design.stages, design.margin)
    sig = np.array(design.significance_levels(ctx.alpha_significance))
    eq = np.array(design.equivalence_levels(ctx.alpha_equivalence))
    reached = np.array([stage_index])
    s_at = int(_first_crossing(p_two, sig[None, :], reached)[0])
    e_at = int(_first_crossing(p_eq, eq[None, :], reached)[0])
    return _decision(design, stage_index, predicted, ctx, mean[0], sd[0], p_two[0], p_eq[0],
                     sig, eq, s_at, e_at)


def decide_finding(design: SequentialDesign, comparisons: Mapping[object, ComparisonState] |
                   Sequence[ComparisonState], *, equivalence_holm: bool = True,
                   family_size: int | None = None) -> dict | list:
    """Words of a finding's primary comparisons with Holm across them (module docstring).

    ``comparisons``: a mapping (key -> :class:`ComparisonState`) or a sequence; the result has
    the same keys (or order), each a :class:`StageDecision`. ``equivalence_holm``: whether
    equivalence is Holm-corrected too (needed when one ``not reproduced`` decides the finding,
    rule ``all``); otherwise each comparison's TOST is at the full ``alpha``.
    ``family_size``: the size ``M`` of the Holm family fixed before anything ran (default the
    number of comparisons); comparisons of the family not passed here (excluded) keep their
    share and are never rejected.
    """
    if isinstance(comparisons, Mapping):
        keys: list = list(comparisons)
        states = [comparisons[k] for k in keys]
    else:
        states = list(comparisons)
        keys = list(range(len(states)))
    if not states:
        return {} if isinstance(comparisons, Mapping) else []
    size = len(states) if family_size is None else family_size
    if not (isinstance(size, int) and size >= len(states)):
        raise InvalidParameterError("family_size", family_size, "an integer at least the "
                                    f"number of comparisons ({len(states)})")
    for state in states:
        _check_predicted(state.predicted)
    d = np.stack([_differences(design, s.differences_by_seed, s.stage_index) for s in states])
    reached = np.array([[s.stage_index for s in states]])
    mean, sd, p_two, p_eq = _stage_p_values(d, design.stages, design.margin)
    _, s_at, e_at, s_share, e_share = (x[0] for x in _finding_core(
        design, p_two[None], p_eq[None], mean[None], reached,
        np.array([s.predicted for s in states]), equivalence_holm, size))
    out = []
    for i, state in enumerate(states):
        ctx = HolmContext(design.alpha / int(s_share[i]), design.alpha / int(e_share[i]))
        out.append(_decision(design, state.stage_index, state.predicted, ctx, mean[i], sd[i],
                             p_two[i], p_eq[i], np.array(design.significance_levels(
                                 ctx.alpha_significance)),
                             np.array(design.equivalence_levels(ctx.alpha_equivalence)),
                             int(s_at[i]), int(e_at[i])))
    return dict(zip(keys, out)) if isinstance(comparisons, Mapping) else out


@functools.lru_cache(maxsize=64)
def _nominal_tables(design: SequentialDesign, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Nominal levels for the shares :math:`\\alpha/j`, ``j = 0..size`` (row 0 unused)."""
    k = len(design.stages)
    sig, eq = np.zeros((size + 1, k)), np.zeros((size + 1, k))
    for j in range(1, size + 1):
        sig[j] = design.significance_levels(design.alpha / j)
        eq[j] = design.equivalence_levels(design.alpha / j)
    return sig, eq


#: word codes of the vectorised core
_WORDS = (CONTINUE, INCONCLUSIVE, REPRODUCED, OPPOSITE, NOT_REPRODUCED)


def _finding_core(design: SequentialDesign, p_two: np.ndarray, p_eq: np.ndarray,
                  mean: np.ndarray, reached: np.ndarray, predicted: np.ndarray,
                  equivalence_holm: bool, family_size: int):
    """Vectorised decisions of ``N`` datasets of ``m`` comparisons: arrays ``(N, m, K)`` of
    stagewise p-values and means, ``reached`` ``(N, m)``. Returns word codes (indices into
    :data:`_WORDS`), the first significant and equivalent stages (-1: none) and the Holm
    share indices ``j`` (share ``alpha / j``) of both decisions."""
    sig_table, eq_table = _nominal_tables(design, family_size)
    s_at, s_share = _holm_crossings(p_two, reached, sig_table, family_size)
    if equivalence_holm:
        e_at, e_share = _holm_crossings(p_eq, reached, eq_table, family_size)
    else:
        e_at = _first_crossing(p_eq, np.broadcast_to(eq_table[1], p_eq.shape), reached)
        e_share = np.ones_like(e_at)
    sign_at = np.take_along_axis(np.sign(mean), np.maximum(s_at, 0)[..., None], axis=-1)[..., 0]
    last = reached == len(design.stages) - 1
    code = np.where(last, 1, 0)
    code = np.where(s_at >= 0, np.where(sign_at == predicted[None, :], 2, 3), code)
    code = np.where(e_at >= 0, 4, code)
    return code, s_at, e_at, s_share, e_share


def _decision(design, stage_index, predicted, ctx, mean, sd, p_two, p_eq, sig, eq, s_at, e_at
              ) -> StageDecision:
    tests = tuple(
        StageTest(k, design.stages[k], float(mean[k]), float(sd[k]), float(p_two[k]),
                  float(sig[k]), bool(p_two[k] < sig[k]), float(p_eq[k]), float(eq[k]),
                  bool(p_eq[k] < eq[k]))
        for k in range(stage_index + 1))
    last = stage_index == len(design.stages) - 1
    pp = lambda x: f"{100 * x:g} pp"  # noqa: E731
    if e_at >= 0:
        t = tests[e_at]
        word = NOT_REPRODUCED
        reason = (f"equivalent within ±{pp(design.margin)} at stage {e_at + 1} "
                  f"({t.seeds} seeds): TOST p = {t.p_equivalence:.3g} < nominal "
                  f"{t.nominal_level_equivalence:.3g} (share {ctx.alpha_equivalence:.3g})")
    elif s_at >= 0 and tests[s_at].mean != 0:
        t = tests[s_at]
        word = REPRODUCED if np.sign(t.mean) == predicted else OPPOSITE
        reason = (f"significant at stage {s_at + 1} ({t.seeds} seeds): p = {t.p_value:.3g} < "
                  f"nominal {t.nominal_level:.3g} (share {ctx.alpha_significance:.3g})")
    else:
        t = tests[-1]
        word = INCONCLUSIVE if last else CONTINUE
        reason = (f"stage {stage_index + 1} ({t.seeds} seeds): p = {t.p_value:.3g} ≥ nominal "
                  f"{t.nominal_level:.3g}, TOST p = {t.p_equivalence:.3g} ≥ nominal "
                  f"{t.nominal_level_equivalence:.3g}")
        reason += ("; cap reached" if last
                   else f"; next stage: {design.stages[stage_index + 1]} seeds")
    return StageDecision(word, word != CONTINUE, stage_index, design.stages[stage_index],
                         predicted, ctx.alpha_significance, ctx.alpha_equivalence,
                         s_at if s_at >= 0 else None, e_at if e_at >= 0 else None, reason,
                         tests)


# ------------------------------------------------------------------- the whole flow
@dataclass(frozen=True)
class SequentialOutcome:
    """Where :func:`run_until_decided` ended for ``N`` datasets of ``m`` comparisons:
    ``words`` ``(N, m)`` (strings), ``stage_index`` and ``seeds`` used ``(N, m)``."""

    words: np.ndarray
    stage_index: np.ndarray
    seeds: np.ndarray

    def rate(self, *words: str) -> float:
        """Fraction of datasets in which some comparison got one of ``words``."""
        return float(np.isin(self.words, words).any(axis=1).mean())


def run_until_decided(design: SequentialDesign, differences: np.ndarray,
                      predicted: Sequence[int] | int = 1, *, equivalence_holm: bool = True,
                      family_size: int | None = None) -> SequentialOutcome:
    """Run the staged design on ``N`` synthetic (or stored) datasets at once.

    ``differences``: ``(N, cap)`` for one comparison or ``(N, m, cap)`` for a finding of ``m``
    (seeds in stage order). Every comparison starts at stage 0; after each round of
    decisions (:func:`decide_finding`'s rule, vectorised) the comparisons whose word is
    ``continue`` take the next stage, until none is left. Used by the simulation test of
    the error rates and its benchmark.
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim == 2:
        d = d[:, None, :]
    if d.ndim != 3 or d.shape[2] < design.cap or not np.all(np.isfinite(d[:, :, :design.cap])):
        raise InvalidParameterError("differences", getattr(differences, "shape", None),
                                    f"finite array (N, cap) or (N, m, cap), cap={design.cap}")
    rows, m, _ = d.shape
    pred = np.broadcast_to(np.asarray(predicted, dtype=int), (m,))
    for p in pred:
        _check_predicted(int(p))
    size = m if family_size is None else family_size
    if not (isinstance(size, int) and size >= m):
        raise InvalidParameterError("family_size", family_size,
                                    f"an integer at least the number of comparisons ({m})")
    mean, _, p_two, p_eq = (x.reshape(rows, m, -1) for x in _stage_p_values(
        d[:, :, :design.cap].reshape(rows * m, -1), design.stages, design.margin))
    reached = np.zeros((rows, m), dtype=int)
    for _ in range(len(design.stages)):
        code = _finding_core(design, p_two, p_eq, mean, reached, pred, equivalence_holm, size)[0]
        going = code == 0
        if not going.any():
            break
        reached = reached + going
    words = np.array(_WORDS, dtype=object)[code]
    return SequentialOutcome(words, reached, np.array(design.stages)[reached])


def scheme_text(design: SequentialDesign, *, equivalence_holm: bool = True) -> str:
    """The sequential scheme in words, with the design's numbers, for the report page."""
    name = {"obrien_fleming": "O'Brien–Fleming-type", "pocock": "Pocock-type"}[design.spending]
    stages = " → ".join(str(n) for n in design.stages)
    sig = ", ".join(f"{p:.2g}" for p in design.significance_levels())
    eq = ", ".join(f"{p:.2g}" for p in design.equivalence_levels())
    levels = ("each the error spent at that stage, so the stages together never spend more "
              "than α" if design.t_adaptation == "union-bound" else
              "the nominal levels of the known-variance boundaries, an approximation for t "
              "tests")
    holm_eq = ("are Holm-corrected the same way" if equivalence_holm else
               "are each tested at the full level (the finding needs all of them)")
    return (
        f"Seeds are added in stages ({stages} seeds per comparison, each stage's seeds fixed in "
        f"advance), only to comparisons still undecided. Each comparison is tested after every "
        f"stage in two ways: a two-sided paired t test of 'no difference' and an equivalence "
        f"test (TOST) against ±{100 * design.margin:g} pp. So that looking repeatedly does not "
        f"inflate the error rates, each test spends its error rate α = {design.alpha:g} over "
        f"the stages with a Lan–DeMets {name} spending function: a stage rejects only when its "
        f"p-value is below that stage's nominal level (with one comparison: significance "
        f"{sig}; each one-sided equivalence test {eq}; {levels}). A comparison is 'not "
        f"reproduced' once it is shown equivalent to zero, 'reproduced' or 'opposite' once it "
        f"is significant in or against the predicted direction, 'inconclusive' if neither "
        f"happens by {design.cap} seeds. Across a finding's primary comparisons the "
        f"significance tests are Holm-corrected (each starts with an equal share of α; a "
        f"comparison found significant passes its share on to the others, which are then "
        f"re-tested at every stage they reached — the graphical approach of Maurer & Bretz "
        f"2013); the equivalence tests {holm_eq}. Under no true difference, the chance of a "
        f"false 'reproduced' or 'opposite' is at most α; at a true difference of exactly "
        f"±{100 * design.margin:g} pp the chance of a false 'not reproduced' is at most α — "
        f"checked by simulation.")
