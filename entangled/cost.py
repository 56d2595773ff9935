"""What a set of runs will cost, estimated before anything trains, and the gate on it.

The estimate is deliberately cheap (no model is built, nothing is timed): for each run

.. math::

    t = t_0 + r_a \\cdot \\text{steps} \\cdot \\frac{\\text{batch size}}{64}
        \\cdot \\prod_k \\Bigl(\\frac{v_k}{d_k}\\Bigr)^{e_k}

CPU seconds on one thread, where ``r_a`` is the measured seconds per optimizer step of
architecture ``a`` at its default size and batch 64 (:data:`STEP_SECONDS`, from
``benchmarks/cost_rates.py``), ``t_0`` the per-run overhead (data, evaluations, metrics;
:data:`RUN_OVERHEAD_S`), and the product runs over the model sizes and the sequence length
that differ from their defaults ``d_k``: widths (``width``, ``hidden``, ``dim``) with
``e =`` :data:`WIDTH_EXPONENT`, depths and lengths with ``e = 1``. It is **approximate** —
within a factor of 2 of ``benchmarks/estimate_suite.py``'s timed estimate for the built-in
presets (``docs/reliability.md``, *The cost gate*) — and meant to catch jobs that are orders
of magnitude larger than intended (10^5 runs, ``steps = 10**12``), not to plan a cluster. An architecture without a measured rate
(a plug-in) counts at the slowest measured one.

:func:`check_cost` is the gate the ``report`` and ``sweep`` commands apply: above
:data:`DEFAULT_LIMIT_CPU_HOURS` (or ``$ENTANGLED_COST_LIMIT_CPU_HOURS``) they print the estimate
and ask; without a terminal they refuse unless ``--yes`` is given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from entangled.errors import EntangledError, InvalidParameterError

#: CPU seconds per optimizer step at the default model size and batch size 64, one thread
#: (``python benchmarks/cost_rates.py``, 2026-12-06, 2-core VM under a load average of ~18,
#: which inflates them: the estimates err on the high side).
STEP_SECONDS = {"cnn": 0.0146, "vit": 0.0114, "rnn": 0.0092, "transformer": 0.0104}
#: CPU seconds per run besides its steps: task data, evaluations, end-of-run metrics.
RUN_OVERHEAD_S = 1.0
#: Seconds per optimizer step of one run trained in a seed batch of ``n`` runs, as
#: ``shared / n + own`` — what the batch's runs share (one operation launched for all of
#: them) and each run's own arithmetic — by (architecture, task), at batch size 32, the
#: architecture's default model size and the task's default length (:func:`size_factor` 1),
#: evaluations included: fitted to one run alone and a batch of 16 of the ``quick`` preset's
#: groups (``python benchmarks/bench_seed_batch.py --sizes 16 --steps 200``, 2026-12-07,
#: 2-core AMD EPYC, idle), divided by their size factors.
BATCHED_STEP_SECONDS: dict[tuple[str, str], tuple[float, float]] = {
    ("cnn", "mnist1d"): (0.00693, 0.00562),
    ("cnn", "digits"): (0.00592, 0.01183),
    ("vit", "mnist1d_patches"): (0.00560, 0.00400),
    ("vit", "digits"): (0.00469, 0.00471),
    ("rnn", "delayed_recall"): (0.00498, 0.00210),
    ("rnn", "counting"): (0.00267, 0.00254),
    ("transformer", "mnist1d_sequence"): (0.00165, 0.01185),
}
#: For an (architecture, task) without measured batched rates: the part of
#: :func:`run_seconds` that a batch shares.
UNMEASURED_SHARED = 0.5
#: Model-size keys that scale the cost by (ratio)^WIDTH_EXPONENT / linearly when overridden.
WIDTH_KEYS = ("width", "hidden", "dim")
#: Between linear and quadratic: at these sizes a step is not yet bound by its matrix
#: products (fitted to ``benchmarks/estimate_suite.py``'s timed width-64 CNN and hidden-128 RNN).
WIDTH_EXPONENT = 1.5
DEPTH_KEYS = ("depth", "layers", "blocks")
#: Task options that scale the cost linearly (the sequence length of the sequence tasks).
LENGTH_KEYS = ("length",)
#: Above this estimate the commands ask before training (``--yes`` answers).
DEFAULT_LIMIT_CPU_HOURS = 48.0
LIMIT_ENV = "ENTANGLED_COST_LIMIT_CPU_HOURS"


@dataclass(frozen=True)
class CostEstimate:
    """The estimated cost of a set of runs: ``runs``, ``cpu_seconds`` (one thread per run)."""

    runs: int
    cpu_seconds: float
    #: how the runs are made up, in words (e.g. a staged report's stage 1 and its bound)
    breakdown: str = ""

    @property
    def cpu_hours(self) -> float:
        return self.cpu_seconds / 3600

    def wall_hours(self, workers: int) -> float:
        """Wall time on ``workers`` idle cores, one run per worker."""
        return self.cpu_hours / max(1, workers)

    def describe(self, workers: int = 1) -> str:
        wall = f", about {_hours(self.wall_hours(workers))} with {workers} workers" \
            if workers > 1 else ""
        parts = f" ({self.breakdown})" if self.breakdown else ""
        return (f"{self.runs} runs{parts}, about {_hours(self.cpu_hours)} of CPU time (one thread "
                f"per run{wall}; approximate, see entangled.cost)")


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 1000 else f"{hours:.3g} h"


def _ratio(value: Any, default: Any) -> float:
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and isinstance(default, (int, float)) and not isinstance(default, bool)
            and default > 0 and value > 0):
        return float(value) / float(default)
    return 1.0


def size_factor(spec) -> float:
    """How much larger than the architecture's default the run's model and sequence are
    (see the module docstring); 1 for the defaults."""
    from entangled.tasks import task_entry

    factor = 1.0
    defaults = spec.arch.defaults()
    for key, value in spec.arch.config.items():
        exponent = WIDTH_EXPONENT if key in WIDTH_KEYS else 1 if key in DEPTH_KEYS else 0
        if exponent:
            factor *= _ratio(value, defaults.get(key)) ** exponent
    options = dict(spec.task.options)
    if any(key in options for key in LENGTH_KEYS):
        task_defaults = task_entry(spec.task.name).resolve_options({})
        for key in LENGTH_KEYS:
            if key in options:
                factor *= _ratio(options[key], task_defaults.get(key))
    return factor


def _steps(budget) -> int:
    """The optimizer steps of a budget (epochs over a training split of at most ~1800
    examples, as the built-in tasks have)."""
    if budget.epochs is not None:
        return max(1, math.ceil(budget.epochs * 1800 / budget.batch_size))
    return budget.steps


def run_seconds(spec) -> float:
    """Estimated CPU seconds of one resolved :class:`~entangled.runs.RunSpec`."""
    rate = STEP_SECONDS.get(spec.arch.name, max(STEP_SECONDS.values()))
    budget = spec.budget
    per_step = rate * budget.batch_size / 64 * size_factor(spec)
    return RUN_OVERHEAD_S + per_step * _steps(budget)


def batch_seconds(specs: Sequence[Any]) -> float:
    """Estimated seconds of training the resolved specs as one seed batch
    (:func:`entangled.batched.fit_batch`; one thread): for each run,
    ``steps * (shared / n + own) * (batch size / 32) * size factor`` with the measured
    :data:`BATCHED_STEP_SECONDS` of its (architecture, task), where ``n`` is the batch's
    number of runs; for a pair not measured, :func:`run_seconds` with the
    :data:`UNMEASURED_SHARED` part of it shared. Used to start the longest batches first."""
    n = max(1, len(specs))
    total = 0.0
    for spec in specs:
        rates = BATCHED_STEP_SECONDS.get((spec.arch.name, spec.task.name))
        if rates is None:
            total += run_seconds(spec) * (1 - UNMEASURED_SHARED + UNMEASURED_SHARED / n)
            continue
        shared, own = rates
        budget = spec.budget
        total += (_steps(budget) * (shared / n + own) * budget.batch_size / 32
                  * size_factor(spec))
    return total


def estimate(specs: Iterable[Any]) -> CostEstimate:
    """The :class:`CostEstimate` of resolved run specs (distinct runs; duplicates count once
    when the caller passes :func:`entangled.sweep.plan`'s values)."""
    total, count = 0.0, 0
    for spec in specs:
        total += run_seconds(spec)
        count += 1
    return CostEstimate(count, total)


def limit_cpu_hours(value: Any = None) -> float:
    """The gate's limit: ``value``, else ``$ENTANGLED_COST_LIMIT_CPU_HOURS``, else
    :data:`DEFAULT_LIMIT_CPU_HOURS`; a positive finite number of CPU hours."""
    source = "limit"
    if value is None:
        value = os.environ.get(LIMIT_ENV)
        source = LIMIT_ENV
    if value is None or value == "":
        return DEFAULT_LIMIT_CPU_HOURS
    try:
        hours = float(value)
    except (TypeError, ValueError):
        hours = math.nan
    if not (math.isfinite(hours) and hours > 0):
        raise InvalidParameterError(source, value, "a positive number of CPU hours")
    return hours


class CostRefused(EntangledError):
    """The estimated cost is above the limit and nobody confirmed it."""


def check_cost(cost: CostEstimate, *, yes: bool = False, limit: float | None = None,
               ask=None, workers: int = 1) -> None:
    """Let a job above the limit go ahead only when confirmed.

    ``yes``: confirmed beforehand (``--yes``). ``ask``: a function that shows a question and
    returns the answer (``input`` on a terminal); ``None`` (no terminal) refuses. Raises
    :class:`CostRefused` with the estimate and how to go ahead.
    """
    limit = limit_cpu_hours(limit)
    if cost.cpu_hours <= limit or yes:
        return
    message = (f"estimated {cost.describe(workers)}, above the limit of {_hours(limit)} of CPU "
               f"time")
    if ask is not None:
        answer = ask(f"{message}. Train anyway? [y/N] ")
        if str(answer).strip().lower() in ("y", "yes"):
            return
    raise CostRefused(f"{message}; pass --yes to train anyway (or raise the limit with "
                      f"{LIMIT_ENV}=HOURS), or make the job smaller")
