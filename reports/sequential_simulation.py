"""Error rates of the staged design (:mod:`entangled.reports.sequential`) measured by simulation.

The boundaries of the staged design are exact for normal differences with a *known* variance;
with the variance estimated from 5–40 seeds and differences of accuracies (bounded, discrete,
with the occasional failed run) they are an approximation, so the rates the verdicts promise
are measured here on synthetic paired datasets instead of assumed:

* under a true mean difference of 0, the rate of a false ``reproduced`` or ``opposite`` (in
  any of the finding's ``m`` comparisons: the family-wise rate), which must be at most
  :math:`\\alpha`;
* at a true mean difference of exactly :math:`+\\delta` or :math:`-\\delta`, the rate of a
  false ``not reproduced`` (family-wise), at most :math:`\\alpha`;
* at a large effect, the average number of seeds used (well below the cap when the design
  stops early).

Each rate comes with its exact (Clopper–Pearson) 95% interval; a rate is *within*
:math:`\\alpha` when the interval's lower end is at most :math:`\\alpha`.

Cases (``shape``): ``"normal"`` — :math:`d = \\mu + \\sigma Z`; ``"heavy-tailed"`` —
:math:`d = \\mu + \\sigma T_3/\\sqrt 3` (Student t with 3 degrees of freedom, unit variance);
``"accuracy"`` — each arm's test accuracy is a binomial proportion on 360 test examples
(the digits' test split) around 80%, plus a per-run training noise of SD ``sigma``/√2, each
run failing to chance (10%) with probability 0.005, the arms' success probabilities apart by
:math:`\\mu/(1 - 0.005)` so that the mean difference is exactly :math:`\\mu`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from entangled.errors import InvalidParameterError
from entangled.reports.sequential import SequentialDesign, run_until_decided
from entangled.reports.verdicts import NOT_REPRODUCED, OPPOSITE, REPRODUCED

SHAPES = ("normal", "heavy-tailed", "accuracy")
#: accuracy case: test examples, base accuracy, chance, failure probability per run
TEST_EXAMPLES, BASE_ACCURACY, CHANCE, FAILURE = 360, 0.80, 0.10, 0.005

__all__ = ["SHAPES", "ErrorRates", "clopper_pearson", "error_rates", "synthetic_differences"]


def synthetic_differences(shape: str, mean: float, sigma: float, size: tuple[int, ...],
                          rng: np.random.Generator) -> np.ndarray:
    """Paired differences (variant - baseline) of ``shape`` with true mean ``mean``; the last
    axis of ``size`` is the seeds."""
    if shape == "normal":
        return mean + sigma * rng.standard_normal(size)
    if shape == "heavy-tailed":
        return mean + sigma * rng.standard_t(3, size) / math.sqrt(3)
    if shape == "accuracy":
        gap = mean / (1 - FAILURE)
        p_b = np.full(size, BASE_ACCURACY - gap / 2)
        arms = []
        for p in (p_b + gap, p_b):
            acc = rng.binomial(TEST_EXAMPLES, p) / TEST_EXAMPLES
            acc = acc + sigma / math.sqrt(2) * rng.standard_normal(size)
            acc = np.where(rng.random(size) < FAILURE, CHANCE, acc)
            arms.append(acc)
        return arms[0] - arms[1]
    raise InvalidParameterError("shape", shape, "one of " + ", ".join(SHAPES))


def clopper_pearson(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of ``hits / n``."""
    tail = (1 - confidence) / 2
    low = 0.0 if hits == 0 else float(stats.beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits == n else float(stats.beta.ppf(1 - tail, hits + 1, n - hits))
    return low, high


@dataclass(frozen=True)
class ErrorRates:
    """One simulated case: ``rate`` of the error named by ``error`` among ``datasets`` with
    its 95% interval, the mean seeds used per comparison, and whether the rate is within
    ``alpha`` (interval's lower end ``<= alpha``)."""

    shape: str
    sigma: float
    spending: str
    comparisons: int
    true_mean: float
    error: str
    datasets: int
    rate: float
    low: float
    high: float
    mean_seeds: float
    alpha: float

    @property
    def within_alpha(self) -> bool:
        return self.low <= self.alpha

    def to_dict(self) -> dict:
        return {**asdict(self), "within_alpha": self.within_alpha}


def error_rates(design: SequentialDesign, shape: str, sigma: float, true_mean: float, *,
                comparisons: int = 1, datasets: int = 2000, seed: int = 0,
                equivalence_holm: bool = True) -> ErrorRates:
    """Simulate ``datasets`` findings of ``comparisons`` comparisons (predicted +1) at
    ``true_mean`` and count the error that applies there: a false ``reproduced``/``opposite``
    at 0, a false ``not reproduced`` at :math:`\\pm\\delta` (both family-wise: some
    comparison of the finding), and otherwise the power: the fraction of comparisons with the
    right word (``reproduced`` for a positive mean, ``opposite`` for a negative one)."""
    rng = np.random.default_rng(seed)
    d = synthetic_differences(shape, true_mean, sigma, (datasets, comparisons, design.cap), rng)
    outcome = run_until_decided(design, d, 1, equivalence_holm=equivalence_holm)
    words: tuple[str, ...]
    if true_mean == 0:
        error, words = "reproduced or opposite", (REPRODUCED, OPPOSITE)
    elif math.isclose(abs(true_mean), design.margin, rel_tol=1e-12):
        error, words = "not reproduced", (NOT_REPRODUCED,)
    else:
        error, words = ("power: reproduced", (REPRODUCED,)) if true_mean > 0 else (
            "power: opposite", (OPPOSITE,))
    found = np.isin(outcome.words, words)
    if error.startswith("power"):  # per comparison
        hits, count = int(found.sum()), found.size
    else:  # family-wise: some comparison of the finding
        hits, count = int(found.any(axis=1).sum()), datasets
    low, high = clopper_pearson(hits, count)
    return ErrorRates(shape, sigma, design.spending, comparisons, true_mean, error, count,
                      hits / count, low, high, float(outcome.seeds.mean()), design.alpha)
