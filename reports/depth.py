"""Composite skip gain against outcome: how much the product of the skip mappings over depth
stretches or shrinks the residual stream, beside the test accuracy it was trained to.

A model with residual applications ``h_{l+1} = M_l h_l + f_l(h_l)``, ``l = 0, ..., L-1``,
carries its input through the skips alone as

.. math:: P = M_{L-1} \\cdots M_1 M_0,

the *composite skip*. Its largest singular value :math:`\\sigma_{\\max}(P) = \\|P\\|_2` bounds how
much the skips can amplify a signal (or, transposed, a gradient) over the whole depth, its
smallest :math:`\\sigma_{\\min}(P)` how much they can lose: ``sigma_min = 0`` means some
direction of ``h_0`` never reaches ``h_L`` through the skips. For the identity, a permutation
or any orthogonal family both are exactly 1 at every depth; for the default ``sparse`` mapping
``(1 - s) I + s S`` they fall with depth (at ``s = 1/2`` a 2-cycle of ``S`` makes ``M``
singular).

Everything here is computed from the mappings the model is built with, never from training:
:func:`skip_mappings` builds the untrained model of a run (its
``application_mappings()``: a CNN's blocks, a Transformer's/ViT's two applications per layer,
an RNN's one shared mapping applied at every time step) with the run's skip seed, and
:func:`composite_spectrum` takes the singular values of the product in float64.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Iterable, Sequence

import numpy as np

from entangled.mappings.base import Mapping
from entangled.runs import ArchSpec, RunResult, SkipVariant, TaskSpec, pairs_dict
from entangled.reports.analysis import Outcome, arch_label, model_overrides, task_label


def composite_spectrum(mappings: Sequence[Mapping]) -> tuple[float, float]:
    """``(sigma_max, sigma_min)`` of ``P = M_{L-1} ... M_0`` for ``mappings = [M_0, ..., M_{L-1}]``
    (applied first to last), from the float64 SVD of the product.

    Runs of one mapping object (an RNN's shared mapping) are raised to their power by repeated
    squaring; the products are numpy's (small float64 matrices, no thread start-up)."""
    if len(mappings) == 0:
        raise ValueError("invalid mappings=[]; allowed: a non-empty sequence of mappings")
    sizes = {m.n for m in mappings}
    if len(sizes) != 1:
        raise ValueError(f"invalid mappings with sizes {sorted(sizes)}; allowed: equal n")
    product = np.eye(mappings[0].n)
    index = 0
    while index < len(mappings):
        run = 1
        while index + run < len(mappings) and mappings[index + run] is mappings[index]:
            run += 1
        factor = mappings[index].dense().numpy()
        product = np.linalg.matrix_power(factor, run) @ product
        index += run
    values = np.linalg.svd(product, compute_uv=False)
    return float(values[0]), float(values[-1])


def model_skip_mappings(arch: ArchSpec, task: TaskSpec, variant: SkipVariant,
                        skip_seed: int) -> list[Mapping]:
    """The skip mapping of every residual application of the untrained model that a run with
    this architecture, task, variant and skip seed builds, in application order."""
    from entangled.nn.models import build_model
    from entangled.tasks import load_task

    options = pairs_dict(task.options)
    if "n_train" in options and "n_test" in options:  # generated sequences: the model does
        options.update(n_train=1, n_test=1)                # not depend on the amount of data
    data = load_task(task.name, seed=0, **options)
    skip = variant.with_seed(skip_seed)
    model = build_model(arch.name, input_shape=data.input_shape, output_dim=data.output_dim,
                        skip=skip, config=arch.config or None, seed=0)
    return model.application_mappings()


@cache
def application_layout(arch: ArchSpec, task: TaskSpec) -> tuple[tuple[int, int], ...]:
    """``(n, block)`` of every residual application of the model (channel skips): application
    ``l`` uses ``SkipSpec.mapping(n, block)``, i.e. ``make_mapping(family, n,
    seed=skip_seed + block)``. Read once per (arch, task) off an identity model built with
    skip seed 0 (its mappings record ``seed = block``); an RNN's applications all use block 0."""
    mappings = model_skip_mappings(arch, task, SkipVariant(), 0)
    return tuple((m.n, m.seed) for m in mappings)


def skip_mappings(arch: ArchSpec, task: TaskSpec, variant: SkipVariant,
                  skip_seed: int) -> list[Mapping]:
    """What :func:`model_skip_mappings` returns, without building a model per variant and
    seed for channel skips (:func:`application_layout`); spatial CNN skips build the model."""
    if variant.spatial:
        return model_skip_mappings(arch, task, variant, skip_seed)
    spec = variant.with_seed(skip_seed)
    made: dict[tuple[int, int], Mapping] = {}
    return [made.setdefault((n, block), spec.mapping(n, block)) if (n, block) not in made
            else made[(n, block)] for n, block in application_layout(arch, task)]


@dataclass
class CompositeGain:
    """The composite skip of one (arch, task, variant), per skip seed of its runs.

    ``spectral_norm`` and ``min_singular_value`` are the medians over the skip seeds
    (deterministic families give the same value for every seed)."""

    arch: ArchSpec
    task: TaskSpec
    variant: SkipVariant
    applications: int
    n: int
    skip_seeds: list[int]
    spectral_norms: list[float]
    min_singular_values: list[float]
    accuracy: float = math.nan
    accuracy_n: int = 0

    @property
    def spectral_norm(self) -> float:
        return float(statistics.median(self.spectral_norms))

    @property
    def min_singular_value(self) -> float:
        return float(statistics.median(self.min_singular_values))

    @property
    def key(self) -> tuple:
        return self.arch, self.task, self.variant

    def to_dict(self) -> dict:
        return {"arch": self.arch.name, "model": model_overrides(self.arch),
                "arch_label": arch_label(self.arch), "task": self.task.name,
                "task_label": task_label(self.task), "variant": self.variant.variant_dict(),
                "applications": self.applications, "n": self.n,
                "spectral_norm": self.spectral_norm,
                "min_singular_value": self.min_singular_value,
                "by_skip_seed": [{"skip_seed": s, "spectral_norm": a, "min_singular_value": b}
                                 for s, a, b in zip(self.skip_seeds, self.spectral_norms,
                                                    self.min_singular_values)],
                "mean_test_accuracy": self.accuracy, "runs_with_accuracy": self.accuracy_n}


def composite_gains(results: Iterable[RunResult],
                    outcomes: Iterable[Outcome] = ()) -> list[CompositeGain]:
    """One :class:`CompositeGain` per (arch, task, variant) of ``results``, over the distinct
    skip seeds of its runs, with the mean test accuracy of the matching outcome (NaN when
    there is none). Results whose model cannot be built are left out."""
    seeds: dict[tuple, set[int]] = defaultdict(set)
    for result in results:
        spec = result.spec
        seeds[(spec.arch, spec.task, spec.skip)].add(int(spec.skip_seed))
    accuracy = {o.pair + (o.variant,): o for o in outcomes}
    gains = []
    for (arch, task, variant), skip_seeds in seeds.items():
        norms, mins, applications, n, seeded = [], [], 0, 0, True
        for seed in sorted(skip_seeds):
            if seeded:  # a family that ignores the seed gives every seed the first's value
                mappings = skip_mappings(arch, task, variant, seed)
                high, low = composite_spectrum(mappings)
                applications, n = len(mappings), mappings[0].n
                seeded = any(m.uses_seed() for m in mappings)
            norms.append(high)
            mins.append(low)
        gain = CompositeGain(arch, task, variant, applications, n, sorted(skip_seeds), norms, mins)
        outcome = accuracy.get((arch, task, variant))
        if outcome is not None and outcome.summary.n:
            gain.accuracy, gain.accuracy_n = outcome.summary.mean, outcome.summary.n
        gains.append(gain)
    return sorted(gains, key=_sort_key)


def _sort_key(gain: CompositeGain) -> tuple:
    return (gain.arch.name, gain.task.name, repr(gain.task.options), gain.applications, gain.n,
            repr(gain.arch.overrides), gain.variant.sort_key())


def swept_groups(gains: Iterable[CompositeGain]) -> dict[tuple[str, TaskSpec], list[CompositeGain]]:
    """The depth/width sweeps: per (architecture name, task), the gains of every model size,
    kept only where the suite trained at least two sizes of that architecture on that task."""
    groups: dict[tuple, list[CompositeGain]] = defaultdict(list)
    for gain in gains:
        groups[(gain.arch.name, gain.task)].append(gain)
    return {key: members for key, members in groups.items()
            if len({g.arch for g in members}) >= 2}


def _log10(value: float) -> float:
    return math.log10(value) if value > 0 and math.isfinite(value) else math.nan


@dataclass
class GainSection:
    """What the page shows: every gain (summary.json) and the swept ones (table, figure)."""

    gains: list[CompositeGain] = field(default_factory=list)
    swept: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        """Rows of the swept gains for the page, in sweep order."""
        return [g.to_dict() for members in self.swept.values() for g in members]


def gain_section(results: Iterable[RunResult], outcomes: Iterable[Outcome]) -> GainSection:
    """:func:`composite_gains` of the report's runs and their depth/width sweeps."""
    gains = composite_gains(results, outcomes)
    return GainSection(gains, swept_groups(gains))


def gain_figure(section: GainSection):
    """Mean test accuracy against ``log10 ||P||_2`` of the composite skip, one panel per swept
    (architecture, task), one series per family (its points: the model sizes and variants);
    ``None`` when the suite sweeps no depth or width."""
    from entangled.reports import figures

    if not section.swept:
        return None
    panels = []
    for (arch, task), members in section.swept.items():
        series = []
        for family in sorted({g.variant.family for g in members}, key=lambda f: (f != "identity", f)):
            points = [g for g in members if g.variant.family == family
                      and math.isfinite(_log10(g.spectral_norm)) and math.isfinite(g.accuracy)]
            if points:
                series.append(figures.Series(family, [_log10(g.spectral_norm) for g in points],
                                             [g.accuracy for g in points]))
        panels.append(figures.Panel(f"{arch} · {task_label(task)}",
                                    r"$\log_{10} \|M_{L-1} \cdots M_0\|_2$", "test accuracy",
                                    series, scatter=True))
    return figures.panel_figure(
        "composite-gain", "Accuracy against the composite skip gain over depth",
        "Scatter of mean test accuracy against log10 of the spectral norm of the product of the "
        "skip mappings over all residual applications (computed from the mappings, median over "
        "skip seeds), one colour per family, one panel per architecture and task with a depth "
        "or width sweep; every point is one model size and variant.", panels)
