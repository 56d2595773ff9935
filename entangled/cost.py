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
from typing import Any, Iterable

from entangled.errors import EntangledError, InvalidParameterError

#: CPU seconds per optimizer step at the default model size and batch size 64, one thread
#: (``python benchmarks/cost_rates.py``, 2026-12-06, 2-core VM under a load average of ~18,
#: which inflates them: the estimates err on the high side).
STEP_SECONDS = {"cnn": 0.0146, "vit": 0.0114, "rnn": 0.0092, "transformer": 0.0104}
#: CPU seconds per run besides its steps: task data, evaluations, end-of-run metrics.
RUN_OVERHEAD_S = 1.0
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


def run_seconds(spec) -> float:
    """Estimated CPU seconds of one resolved :class:`~entangled.runs.RunSpec`."""
    rate = STEP_SECONDS.get(spec.arch.name, max(STEP_SECONDS.values()))
    budget = spec.budget
    steps = budget.steps
    if budget.epochs is not None:  # epochs over the training split: at most ~1800 examples here
        steps = max(1, math.ceil(budget.epochs * 1800 / budget.batch_size))
    per_step = rate * budget.batch_size / 64 * size_factor(spec)
    return RUN_OVERHEAD_S + per_step * steps


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
