"""Suites of the report: which runs, how long, how many seeds, how many conjecture examples.

A preset lists (architecture, task) pairs, the skip-mapping *variants* trained on each, the
seeds and the training budget. Every run is an ordinary :class:`entangled.train.RunConfig`,
so a preset is reproducible with ``entangled train`` run by run.

* ``smoke`` — the whole pipeline in about a minute (CI): tiny budgets, 2 seeds.
* ``quick`` (default) — enough to judge F1-F3 within 10 minutes on 2 CPU cores: CNN and ViT
  on digits with every family and dose-response sweeps; residual RNN and sequence
  Transformer on a time-variant (delayed recall) and a time-invariant (counting) task;
  5 seeds.
* ``full`` — 10 seeds, longer training (about 3x), denser sweeps, depth and width sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from entangled.errors import InvalidParameterError

IMAGE_TASK = "digits"
TIME_VARIANT_TASK = "delayed_recall"
TIME_INVARIANT_TASK = "counting"
# The variant of the sparse family that F1 is judged on (fixed before any run).
F1_SPARSE = {"strength": 0.5}


@dataclass(frozen=True)
class Variant:
    family: str
    params: dict = field(default_factory=dict)


def sweep(family: str, param: str, values) -> list[Variant]:
    return [Variant(family, {param: value}) for value in values]


def image_variants(dense_sweeps: bool) -> list[Variant]:
    thetas = [math.pi / 16, math.pi / 8, math.pi / 4, math.pi / 2, math.pi] if dense_sweeps \
        else [math.pi / 8, math.pi / 4, math.pi / 2]
    strengths = [0.1, 0.25, 0.5, 0.75, 1.0] if dense_sweeps else [0.25, 0.5, 0.9]
    bandwidths = [0.25, 0.5, 1.0, 2.0, 4.0] if dense_sweeps else [0.5, 1.0, 2.0]
    iters = [1, 3, 20] if dense_sweeps else [20]
    return ([Variant("identity"), Variant("orthogonal"), Variant("permutation")]
            + sweep("rotation", "theta", thetas)
            + sweep("sparse", "strength", strengths)
            + sweep("circulant", "bandwidth", bandwidths)
            + sweep("sinkhorn", "iters", iters)
            + [Variant("birkhoff")])


def sequence_variants() -> list[Variant]:
    return [Variant("identity"), Variant("orthogonal"), Variant("permutation"),
            Variant("rotation", {"theta": math.pi / 4}), Variant("sparse", dict(F1_SPARSE)),
            Variant("circulant", {"bandwidth": 1.0}), Variant("sinkhorn", {"iters": 20}),
            Variant("birkhoff")]


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    seeds: tuple[int, ...]
    pairs: tuple[tuple[str, str], ...]
    image_sweeps: str  # "none" | "quick" | "dense"
    training: dict  # architecture -> RunConfig settings (steps, batch_size, eval_every)
    conjecture_examples: int
    extra_models: tuple[dict, ...] = ()  # depth / width sweeps (full only)

    def variants(self, arch: str, task: str) -> list[Variant]:
        if task == IMAGE_TASK:
            if self.image_sweeps == "none":
                return [Variant("identity"), Variant("orthogonal"), Variant("sparse", dict(F1_SPARSE)),
                        Variant("rotation", {"theta": math.pi / 4})]
            return image_variants(self.image_sweeps == "dense")
        if self.image_sweeps == "none":
            return [Variant("identity"), Variant("orthogonal")]
        return sequence_variants()


def _budget(cnn: int, vit: int, transformer: int, rnn: int, *, batch_size: int) -> dict:
    """Steps per architecture. The sequence Transformer learns both sequence tasks within a
    few hundred steps, so it gets fewer steps: at its ceiling every mapping scores 100% and the
    comparison says nothing."""
    steps = {"cnn": cnn, "vit": vit, "transformer": transformer, "rnn": rnn}
    return {arch: {"steps": s, "batch_size": batch_size, "eval_every": max(1, s // 3)}
            for arch, s in steps.items()}


PAIRS = (("cnn", IMAGE_TASK), ("vit", IMAGE_TASK),
         ("rnn", TIME_VARIANT_TASK), ("rnn", TIME_INVARIANT_TASK),
         ("transformer", TIME_VARIANT_TASK), ("transformer", TIME_INVARIANT_TASK))

PRESETS = {
    "smoke": Preset("smoke", "whole pipeline in about a minute (CI)", (0, 1), PAIRS, "none",
                    _budget(40, 40, 40, 40, batch_size=32), conjecture_examples=5),
    "quick": Preset("quick", "enough to judge F1-F3 within 10 minutes on 2 CPU cores", (0, 1, 2, 3, 4),
                    PAIRS, "quick", _budget(300, 300, 150, 400, batch_size=32),
                    conjecture_examples=20),
    "full": Preset("full", "10 seeds, longer training, dense sweeps, depth and width sweeps",
                   tuple(range(10)), PAIRS, "dense", _budget(800, 800, 300, 1000, batch_size=64),
                   conjecture_examples=60, extra_models=({"depth": 8}, {"width": 32})),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise InvalidParameterError("preset", name, "one of " + ", ".join(PRESETS))
    return PRESETS[name]


def run_configs(preset: Preset) -> list:
    """Every :class:`RunConfig` of ``preset`` (seed s uses model/data seed s and skip seed s)."""
    from entangled.train import RunConfig

    configs = []
    for arch, task in preset.pairs:
        training = preset.training[arch]
        for variant in preset.variants(arch, task):
            for seed in preset.seeds:
                configs.append(RunConfig(arch=arch, task=task, family=variant.family,
                                         params=dict(variant.params), seed=seed, skip_seed=seed,
                                         **training))
    for overrides in preset.extra_models:
        for variant in (Variant("identity"), Variant("orthogonal"), Variant("sparse", dict(F1_SPARSE))):
            for seed in preset.seeds:
                configs.append(RunConfig(arch="cnn", task=IMAGE_TASK, family=variant.family,
                                         params=dict(variant.params), seed=seed, skip_seed=seed,
                                         model=dict(overrides), **preset.training["cnn"]))
    return configs
