"""Suites of the report as data: TOML files, the built-in ones shipped in ``reports/suites/``.

A suite names its seeds, how many examples each conjecture gets, and a list of ``[[runs]]``
groups; every group is one architecture on one task with a list of skip-mapping variants
and a training budget. Every run is an ordinary :class:`entangled.runs.RunSpec`, so a suite is
reproducible with ``entangled train`` run by run.

.. code-block:: toml

    name = "mine"
    seeds = [0, 1, 2]
    conjecture_examples = 20          # optional (default 20)
    description = "..."               # optional
    seed_batching = "on"              # optional: "auto" (default), "on" or "off" (below)

    [[runs]]
    arch = "cnn"                      # a registered architecture
    task = "digits"                   # a registered task
    steps = 300                       # budget keys: steps, epochs, batch_size, lr, optimizer,
    batch_size = 32                   # weight_decay, grad_clip, eval_every, device, metrics,
    eval_every = 100                  # threads, patience
    lr_grid = [1e-3, 3e-3, 1e-2]      # optional: tune the learning rate (below)
    model = {depth = 8}               # optional model-config overrides
    task_options = {delay = 3}        # optional task options
    skip_seed = "seed"                # optional: "seed" (default: skip seed = run seed) or an int
    variants = [
      {family = "identity"},
      {family = "sparse", strength = 0.5},   # other keys: the family's parameters
      {family = "circulant", bandwidth = 1.0, spatial = true},
    ]

Built-in suites (``--preset``):

* ``smoke`` — the whole pipeline in about a minute (CI): tiny budgets, 2 seeds.
* ``quick`` (default) — enough to judge F1-F3: CNN and ViT on digits with every family and
  dose-response sweeps; residual RNN and sequence Transformer on a time-variant (delayed
  recall) and a time-invariant (counting) task; 5 seeds.
* ``full`` — 10 seeds, longer training (about 3x), denser sweeps, depth and width sweeps.

**Learning-rate tuning.** A group with ``lr_grid`` trains every variant and seed at every
learning rate of the grid (and at the group's fixed ``lr``, default 3e-3, when it is not in
the grid; the runs at the other rates skip the metric snapshots, which only the plots read,
and the plots use the fixed-rate runs). The report then selects, per (architecture, task, variant), the learning rate with
the best mean *validation* accuracy over seeds (:mod:`entangled.reports.tuning`; the test set never
takes part) and judges the findings on the selected runs, beside the comparison at the fixed
``lr``. Groups without ``lr_grid`` train at their fixed ``lr`` only.

**Batched training.** ``seed_batching = "on"`` trains the runs of a group that differ only in
their seeds and skip mappings as one batched model (:mod:`entangled.batched`; faster on a CPU
too for these small models). Batched kernels round differently from one run alone, and
training amplifies rounding, so the setting is part of the suite's experiment: every run's
file records its batch (``environment.seed_batch``), and ``entangled audit`` retrains it the
same way. ``entangled report --seed-batching`` overrides it.

**Primary comparisons** (preregistered). A suite names, per finding, the comparisons its
verdict rests on, before anything runs::

    [[primary]]
    finding = "F1"                    # F1, F2, F3a or F3b (entangled.reports.findings.CLAIMS)
    arch = "cnn"
    task = "mnist1d"                  # the [[runs]] group of this arch and task ...
    task_options = {n_train = 1000}   # ... (needed only when several groups match)
    variant = {family = "sparse", strength = 0.5}
    predicted = "higher"              # optional; must be the claim's direction

The variant and the identity skip must both be trained by that group. The Holm family and the
verdict of a finding rest on its primary comparisons alone; every other reading (other sparse
variants, tasks, lengths, depths) is shown as secondary evidence and never changes a verdict.
A suite without ``[[primary]]`` gets the default ones (:func:`default_primaries`: per finding,
the first matching group and variant in suite order — derived from the file, before anything
runs); a finding with no primary comparison is "not tested".

**Headroom.** A ``[headroom]`` table states the band the identity arm of every primary
comparison should land in on *validation* (``band = [0.6, 0.9]``); ``[[calibration]]``
entries record how the task settings of the primary groups were chosen
(:mod:`entangled.reports.headroom`, ``entangled calibrate``): the knob, the values tried, the
identity's validation accuracy at each, and the value chosen. The page shows both.

**Design.** ``[sequential]`` (``stages``, ``spending``, ``alpha``, optional ``seed_order``)
runs the primary comparisons in stages (:mod:`entangled.reports.staged`); ``[[tuning]]``
records learning rates chosen on a pilot's validation accuracies before the suite ran
(:class:`Tuning`; ``benchmarks/design_from_pilot.py`` chooses the design on the same pilot).

A bad suite file raises :class:`SuiteError` naming the file, the key, its value and what is
allowed.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from entangled.atomic_io import PATH_NAME
from entangled.errors import InvalidParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

IMAGE_TASK = "digits"
TIME_VARIANT_TASK = "delayed_recall"
TIME_INVARIANT_TASK = "counting"
# The variant of the sparse family that F1 is judged on (fixed before any run).
F1_SPARSE = {"strength": 0.5}

SUITE_DIR = Path(__file__).parent / "suites"
TOP_KEYS = {"name", "description", "seeds", "conjecture_examples", "runs", "primary",
            "headroom", "calibration", "sequential", "tuning", "seed_batching"}
SEQUENTIAL_KEYS = {"stages", "spending", "alpha", "seed_order"}
RUN_KEYS = {"arch", "task", "variants", "model", "task_options", "skip_seed", "lr_grid", "seeds"}
PRIMARY_KEYS = {"finding", "arch", "task", "task_options", "model", "variant", "predicted"}
HEADROOM_KEYS = {"band"}
CALIBRATION_KEYS = {"arch", "task", "knob", "tried", "identity_validation", "chosen", "seeds",
                    "band", "budget", "date"}
TUNING_KEYS = {"arch", "task", "variant", "tried", "mean_validation", "chosen", "seeds",
               "source", "date"}
DEFAULT_CONJECTURE_EXAMPLES = 20
#: the values of ``seed_batching`` (those of entangled.batched.SEED_BATCHING, named here so that
#: reading a suite does not import torch)
SEED_BATCHING_MODES = ("auto", "on", "off")
#: the band the identity arm of a primary comparison should land in on validation by default
DEFAULT_BAND = (0.6, 0.9)
#: the predicted direction of each finding's comparisons (+1: the mapping is higher than the
#: identity skip), the families a finding's primary variant may come from, and the
#: architectures and time structures it is about (the claims: entangled.reports.findings)
FINDING_DIRECTIONS = {"F1": +1, "F2": -1, "F3a": +1, "F3b": -1}
FINDING_FAMILIES = {"F1": ("sparse", "block_orthogonal", "sparse_unit_norm"),
                    "F2": ("orthogonal",), "F3a": ("orthogonal",), "F3b": ("orthogonal",)}
FINDING_ARCHS = {"F1": ("cnn", "vit"), "F2": ("cnn", "vit"), "F3a": ("rnn",), "F3b": ("rnn",)}
FINDING_TIME = {"F3a": "time-variant", "F3b": "time-invariant"}


class SuiteError(InvalidParameterError):
    """A suite file with a bad key or value."""


@dataclass(frozen=True)
class SuiteRun:
    """One ``[[runs]]`` group: an architecture on a task, its variants and budget."""

    arch: str
    task: str
    variants: tuple[dict, ...]
    budget: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    task_options: dict = field(default_factory=dict)
    skip_seed: Any = "seed"
    lr_grid: tuple[float, ...] = ()
    #: the group's own seeds (secondary groups may train fewer), ``()``: the suite's seeds
    seeds: tuple[int, ...] = ()

    @property
    def fixed_lr(self) -> float:
        """The learning rate of the fixed-learning-rate comparison (the group's ``lr``)."""
        from entangled.runs import Budget

        return float(self.budget.get("lr", Budget.lr))

    @property
    def learning_rates(self) -> tuple[float, ...]:
        """Every learning rate the group trains at: the grid and the fixed ``lr``."""
        return tuple(sorted(set(self.lr_grid) | {self.fixed_lr}))


@dataclass(frozen=True)
class PrimaryComparison:
    """A preregistered comparison: ``variant`` against the identity skip of the same group
    (architecture with its model, task with its options), predicted ``higher`` (+1) or
    ``lower`` (-1) by ``finding``."""

    finding: str
    arch: str
    model: tuple
    task: str
    task_options: tuple
    variant: tuple
    predicted: int

    @property
    def variant_dict(self) -> dict:
        return dict(self.variant)

    def to_dict(self) -> dict:
        return {"finding": self.finding, "arch": self.arch, "model": dict(self.model),
                "task": self.task, "task_options": dict(self.task_options),
                "variant": dict(self.variant),
                "predicted": "higher" if self.predicted > 0 else "lower"}


@dataclass(frozen=True)
class Calibration:
    """How the task setting of a primary group was chosen (on validation, identity arm)."""

    arch: str
    task: str
    knob: str
    tried: tuple
    identity_validation: tuple
    chosen: Any
    seeds: tuple = ()
    band: tuple = DEFAULT_BAND
    budget: str = ""
    date: str = ""

    def to_dict(self) -> dict:
        return {"arch": self.arch, "task": self.task, "knob": self.knob,
                "tried": list(self.tried), "identity_validation": list(self.identity_validation),
                "chosen": self.chosen, "seeds": list(self.seeds), "band": list(self.band),
                "budget": self.budget, "date": self.date}


@dataclass(frozen=True)
class Tuning:
    """A learning rate chosen before the suite ran, on a pilot's validation accuracy: the rates
    tried, the mean validation accuracy over the pilot's seeds at each, and the one chosen (the
    best; ties: the smaller rate), which the group training this (architecture, task,
    mapping) trains (its fixed ``lr``, or one of its ``lr_grid``)."""

    arch: str
    task: str
    variant: tuple
    tried: tuple[float, ...]
    mean_validation: tuple[float, ...]
    chosen: float
    seeds: tuple = ()
    source: str = ""
    date: str = ""

    def to_dict(self) -> dict:
        return {"arch": self.arch, "task": self.task, "variant": dict(self.variant),
                "tried": list(self.tried), "mean_validation": list(self.mean_validation),
                "chosen": self.chosen, "seeds": list(self.seeds), "source": self.source,
                "date": self.date}


@dataclass(frozen=True)
class Suite:
    """A parsed, validated suite."""

    name: str
    description: str
    seeds: tuple[int, ...]
    runs: tuple[SuiteRun, ...]
    conjecture_examples: int = DEFAULT_CONJECTURE_EXAMPLES
    source: str = ""
    #: the preregistered primary comparisons (declared or :func:`default_primaries`)
    primary: tuple[PrimaryComparison, ...] = ()
    #: whether the suite declares them (``[[primary]]``) or they were derived by the default rule
    primary_declared: bool = False
    band: tuple[float, float] = DEFAULT_BAND
    calibration: tuple[Calibration, ...] = ()
    #: the group-sequential design of the primary comparisons (``[sequential]``; ``{}``: a
    #: fixed design): ``stages`` (cumulative seeds, the first = len(seeds)), ``spending``,
    #: ``alpha`` (:mod:`entangled.reports.staged`)
    sequential: dict = field(default_factory=dict)
    #: learning rates chosen on a pilot before the suite ran (``[[tuning]]``)
    tuning: tuple[Tuning, ...] = ()
    #: how its runs train (:func:`entangled.sweep.run_sweep`'s ``seed_batching``): ``"on"``
    #: trains the runs that differ only in seeds and skip mappings as one batched model (part
    #: of the experiment: batched kernels round differently); ``--seed-batching`` overrides it
    seed_batching: str = "auto"

    @property
    def training(self) -> dict[str, dict]:
        """Budget per architecture label (for the page's configuration table)."""
        out: dict[str, dict] = {}
        for run in self.runs:
            label = run.arch + ("[" + ", ".join(f"{k}={v}" for k, v in sorted(run.model.items()))
                                + "]" if run.model else "")
            budget = dict(run.budget)
            if run.lr_grid:
                budget["lr_grid"] = list(run.lr_grid)
            out.setdefault(label, budget)
        return out

    @property
    def tuned(self) -> bool:
        """Whether any group tunes its learning rate (has an ``lr_grid``)."""
        return any(run.lr_grid for run in self.runs)

    def configs(self, *, fixed_lr_only: bool = False) -> list:
        """Every run as a :class:`~entangled.train.RunConfig`, in suite order: each variant
        and seed at each learning rate of its group (only the fixed ``lr`` with
        ``fixed_lr_only``)."""
        from entangled.train import RunConfig

        configs = []
        for run in self.runs:
            rates = (run.fixed_lr,) if fixed_lr_only else run.learning_rates
            for variant in run.variants:
                params = {k: v for k, v in variant.items() if k not in ("family", "spatial")}
                for lr in rates:
                    budget = {**run.budget, "lr": lr}
                    if lr != run.fixed_lr:  # the plots read the metric snapshots at the fixed lr
                        budget["metrics"] = False
                    for seed in run.seeds or self.seeds:
                        skip_seed = seed if run.skip_seed == "seed" else run.skip_seed
                        configs.append(RunConfig(
                            arch=run.arch, task=run.task, family=variant["family"],
                            params=params, spatial=bool(variant.get("spatial", False)),
                            model=dict(run.model), task_options=dict(run.task_options),
                            seed=seed, skip_seed=skip_seed, **budget))
        return configs

    def fixed_lr_hashes(self) -> set[str]:
        """Config hashes of the runs at their group's fixed learning rate."""
        return {c.hash() for c in self.configs(fixed_lr_only=True)}

    def specs(self) -> list:
        """Every run as a resolved :class:`~entangled.runs.RunSpec`."""
        return [c.to_spec().resolve() for c in self.configs()]


# ----------------------------------------------------------------------------- parsing
def _fail(where: str, key: str, value: Any, allowed: str) -> SuiteError:
    return SuiteError(key, value, allowed, context=where)


def _table(data: Any, where: str, key: str) -> dict:
    if not isinstance(data, dict):
        raise _fail(where, key, data, "a table (e.g. {depth = 8})")
    return dict(data)


def parse_suite(data: dict, source: str = "<suite>") -> Suite:
    """Validate the parsed TOML ``data`` of a suite; raise :class:`SuiteError` naming the key,
    its value and what is allowed. Every run is checked by the registries."""
    from entangled.runs import BUDGET_KEYS

    where = f"suite {source}"
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(where, "key", key, "one of " + ", ".join(sorted(TOP_KEYS)))
    name = data.get("name")
    if not isinstance(name, str) or not PATH_NAME.fullmatch(name):
        raise _fail(where, "name", name, "1-128 characters from A-Z a-z 0-9 . _ - starting "
                    "with a letter or digit (it names the output folder reports/out/<name>: "
                    "no '/', no '..', not an absolute path)")
    seeds = _seeds(data.get("seeds"), where, "seeds")
    examples = data.get("conjecture_examples", DEFAULT_CONJECTURE_EXAMPLES)
    if not isinstance(examples, int) or isinstance(examples, bool) or not 1 <= examples <= 10**6:
        raise _fail(where, "conjecture_examples", examples, "an integer in [1, 1000000]")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(where, "description", description, "a string")
    runs_data = data.get("runs")
    if not isinstance(runs_data, list) or not runs_data:
        raise _fail(where, "runs", runs_data, "a non-empty list of [[runs]] tables")
    allowed_run = RUN_KEYS | set(BUDGET_KEYS)
    runs = []
    for index, entry in enumerate(runs_data):
        here = f"{where}, runs[{index}]"
        entry = _table(entry, where, f"runs[{index}]")
        for key in entry:
            if key not in allowed_run:
                raise _fail(here, "key", key, "one of " + ", ".join(sorted(allowed_run)))
        for key in ("arch", "task"):
            if not isinstance(entry.get(key), str):
                raise _fail(here, key, entry.get(key), "a name (string)")
        variants = entry.get("variants")
        if not isinstance(variants, list) or not variants:
            raise _fail(here, "variants", variants,
                        'a non-empty list of tables like {family = "sparse", strength = 0.5}')
        for j, v in enumerate(variants):
            v = _table(v, here, f"variants[{j}]")
            if not isinstance(v.get("family"), str):
                raise _fail(here, f"variants[{j}].family", v.get("family"), "a family name")
        skip_seed = entry.get("skip_seed", "seed")
        if skip_seed != "seed" and not (isinstance(skip_seed, int) and not isinstance(skip_seed, bool)):
            raise _fail(here, "skip_seed", skip_seed, '"seed" or an integer')
        run = SuiteRun(entry["arch"], entry["task"], tuple(dict(v) for v in variants),
                       {k: entry[k] for k in BUDGET_KEYS if k in entry},
                       _table(entry.get("model", {}), here, "model"),
                       _table(entry.get("task_options", {}), here, "task_options"), skip_seed,
                       _lr_grid(entry.get("lr_grid", []), here),
                       tuple(_seeds(entry["seeds"], here, "seeds")) if "seeds" in entry else ())
        probe = Suite(name, description, (seeds[0],), (run,), examples, source)
        for config in probe.configs():  # every variant checked by the registries
            try:
                config.to_spec().resolve()
            except SuiteError:
                raise
            except ValueError as exc:
                raise SuiteError("run", f"{run.arch} on {run.task}", str(exc), context=here) from None
        runs.append(run)
    return _finish(data, where, name, description, seeds, tuple(runs), examples, source)


def _finish(data: dict, where: str, name: str, description: str, seeds: list[int],
            runs: tuple[SuiteRun, ...], examples: int, source: str) -> Suite:
    """The suite-level tables after the groups: primary comparisons, headroom, calibration,
    sequential design."""
    band = _band(data.get("headroom", {}), where)
    declared = data.get("primary")
    if declared is None:
        primary = default_primaries(runs)
    else:
        if not isinstance(declared, list):
            raise _fail(where, "primary", declared, "a list of [[primary]] tables")
        primary = tuple(_primary(entry, runs, f"{where}, primary[{i}]")
                        for i, entry in enumerate(declared))
        if len(set(primary)) != len(primary):
            raise _fail(where, "primary", [p.to_dict() for p in primary],
                        "distinct comparisons (one is listed twice)")
    calibration = _calibrations(data.get("calibration", []), where)
    sequential = _sequential(data.get("sequential"), where, seeds)
    tuning = _tunings(data.get("tuning", []), where, runs)
    batching = data.get("seed_batching", "auto")
    if batching not in SEED_BATCHING_MODES:
        raise _fail(where, "seed_batching", batching,
                    "one of " + ", ".join(map(repr, SEED_BATCHING_MODES)))
    return Suite(name, description, tuple(seeds), runs, examples, source, primary,
                 declared is not None, band, calibration, sequential, tuning, batching)


def _sequential(table: Any, where: str, seeds: list[int]) -> dict:
    """A validated ``[sequential]`` table (``{}`` when absent). ``seed_order`` (optional): the
    seeds the stages take, in order — the suite's seeds first, at least the cap of them, all
    distinct (default: the suite's seeds, then the smallest integers not among them)."""
    n_seeds = len(seeds)
    if table is None:
        return {}
    table = _table(table, where, "sequential")
    for key in table:
        if key not in SEQUENTIAL_KEYS:
            raise _fail(where, "sequential key", key, "one of " + ", ".join(sorted(SEQUENTIAL_KEYS)))
    stages = table.get("stages")
    if (not isinstance(stages, list) or not stages
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in stages)
            or stages[0] != n_seeds or any(b <= a for a, b in zip(stages, stages[1:]))):
        raise _fail(where, "sequential.stages", stages,
                    f"a strictly increasing list of seed counts starting at the suite's "
                    f"{n_seeds} seeds, e.g. [{n_seeds}, {2 * n_seeds}, {4 * n_seeds}]")
    from entangled.reports.sequential import SPENDING_FUNCTIONS

    spending = table.get("spending", "obrien_fleming")
    if spending not in SPENDING_FUNCTIONS:
        raise _fail(where, "sequential.spending", spending, "one of " + ", ".join(SPENDING_FUNCTIONS))
    alpha = table.get("alpha", 0.05)
    if not (isinstance(alpha, float) and 0 < alpha < 0.5):
        raise _fail(where, "sequential.alpha", alpha, "a number strictly between 0 and 0.5")
    out = {"stages": list(stages), "spending": spending, "alpha": alpha}
    order = table.get("seed_order")
    if order is not None:
        if (not isinstance(order, list) or len(order) < stages[-1]
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in order)
                or len(set(order)) != len(order) or order[:n_seeds] != list(seeds)):
            raise _fail(where, "sequential.seed_order", order,
                        f"a list of at least {stages[-1]} (the cap) distinct non-negative "
                        f"integer seeds beginning with the suite's seeds {list(seeds)}")
        out["seed_order"] = list(order)
    return out


def _band(headroom: Any, where: str) -> tuple[float, float]:
    headroom = _table(headroom, where, "headroom")
    for key in headroom:
        if key not in HEADROOM_KEYS:
            raise _fail(where, "headroom key", key, "one of " + ", ".join(sorted(HEADROOM_KEYS)))
    band = headroom.get("band", list(DEFAULT_BAND))
    if (not isinstance(band, list) or len(band) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in band)
            or not 0 <= band[0] < band[1] <= 1):
        raise _fail(where, "headroom.band", band, "[low, high] with 0 <= low < high <= 1")
    return float(band[0]), float(band[1])


def _groups_for(runs: Sequence[SuiteRun], arch: str, task: str, task_options: dict | None,
                model: dict | None) -> list[SuiteRun]:
    """The groups of ``runs`` training ``arch`` on ``task`` (with exactly ``task_options`` /
    ``model`` where given; their resolved values compared)."""
    from entangled.runs import ArchSpec, TaskSpec

    def options(run: SuiteRun) -> TaskSpec:
        return TaskSpec(run.task, _frozen(run.task_options)).resolve()

    def arch_spec(run: SuiteRun) -> ArchSpec:
        return ArchSpec(run.arch, _frozen(run.model)).resolve()

    found = [r for r in runs if r.arch == arch and r.task == task]
    if task_options is not None:
        want = TaskSpec(task, _frozen(task_options)).resolve()
        found = [r for r in found if options(r) == want]
    if model is not None:
        want_arch = ArchSpec(arch, _frozen(model)).resolve()
        found = [r for r in found if arch_spec(r) == want_arch]
    return found


def _same_variant(a: dict, b: dict) -> bool:
    from entangled.runs import SkipVariant

    def typed(v: dict) -> Any:
        params = {k: x for k, x in v.items() if k not in ("family", "spatial")}
        return SkipVariant(v["family"], _frozen(params), bool(v.get("spatial", False))).resolve()

    return typed(a) == typed(b)


def _primary(entry: Any, runs: Sequence[SuiteRun], where: str) -> PrimaryComparison:
    """One validated ``[[primary]]`` table, matched to the group that trains it."""
    entry = _table(entry, where, "primary")
    for key in entry:
        if key not in PRIMARY_KEYS:
            raise _fail(where, "key", key, "one of " + ", ".join(sorted(PRIMARY_KEYS)))
    finding = entry.get("finding")
    if finding not in FINDING_DIRECTIONS:
        raise _fail(where, "finding", finding, "one of " + ", ".join(FINDING_DIRECTIONS))
    for key in ("arch", "task"):
        if not isinstance(entry.get(key), str):
            raise _fail(where, key, entry.get(key), "a name (string)")
    arch, task = entry["arch"], entry["task"]
    variant = _table(entry.get("variant"), where, "variant")
    if not isinstance(variant.get("family"), str):
        raise _fail(where, "variant.family", variant.get("family"), "a family name")
    if variant["family"] == "identity":
        raise _fail(where, "variant", variant, "a mapping other than the identity skip (the "
                    "baseline every comparison is made against)")
    predicted = FINDING_DIRECTIONS[finding]
    if "predicted" in entry:
        word = {+1: "higher", -1: "lower"}[predicted]
        if entry["predicted"] != word:
            raise _fail(where, "predicted", entry["predicted"],
                        f'"{word}" (the direction {finding} predicts)')
    options = _table(entry["task_options"], where, "task_options") if "task_options" in entry else None
    model = _table(entry["model"], where, "model") if "model" in entry else None
    groups = _groups_for(runs, arch, task, options, model)
    groups = [g for g in groups
              if any(v["family"] == "identity" and not v.get("spatial") for v in g.variants)
              and any(_same_variant(v, variant) for v in g.variants)]
    if len(groups) != 1:
        allowed = ("exactly one [[runs]] group of this arch and task that trains both the "
                   "identity skip and this variant" + (" (add task_options/model to choose "
                                                       "among several)" if groups else ""))
        raise _fail(where, "primary", {"arch": arch, "task": task, "variant": variant}, allowed)
    group = groups[0]
    return PrimaryComparison(finding, arch, _frozen(group.model), task,
                             _frozen(group.task_options), _frozen(variant), predicted)


def _frozen(mapping: dict) -> tuple:
    return tuple(sorted(mapping.items()))


def default_primaries(runs: Sequence[SuiteRun]) -> tuple[PrimaryComparison, ...]:
    """The primary comparisons of a suite that declares none, derived from the file alone
    (before anything runs): for each finding and each architecture it is about, the first
    group in suite order (default model) that trains the identity skip and a variant of the
    finding's families (F3a/F3b: on a task of its time structure), with that group's first
    such variant."""
    from entangled.tasks import task_entry

    primaries = []
    for finding, archs in FINDING_ARCHS.items():
        for arch in archs:
            for group in runs:
                if group.arch != arch or group.model:
                    continue
                if finding in FINDING_TIME and task_entry(group.task).time_structure != FINDING_TIME[finding]:
                    continue
                if not any(v["family"] == "identity" and not v.get("spatial") for v in group.variants):
                    continue
                chosen = next((v for v in group.variants
                               if v["family"] in FINDING_FAMILIES[finding] and not v.get("spatial")),
                              None)
                if chosen is not None:
                    primaries.append(PrimaryComparison(
                        finding, arch, (), group.task, _frozen(group.task_options),
                        _frozen(chosen), FINDING_DIRECTIONS[finding]))
                    break
    return tuple(primaries)


def _calibrations(entries: Any, where: str) -> tuple[Calibration, ...]:
    if not isinstance(entries, list):
        raise _fail(where, "calibration", entries, "a list of [[calibration]] tables")
    out = []
    for i, entry in enumerate(entries):
        here = f"{where}, calibration[{i}]"
        entry = _table(entry, here, "calibration")
        for key in entry:
            if key not in CALIBRATION_KEYS:
                raise _fail(here, "key", key, "one of " + ", ".join(sorted(CALIBRATION_KEYS)))
        for key in ("arch", "task", "knob"):
            if not isinstance(entry.get(key), str):
                raise _fail(here, key, entry.get(key), "a string")
        tried, scores = entry.get("tried"), entry.get("identity_validation", [])
        if not isinstance(tried, list) or not tried:
            raise _fail(here, "tried", tried, "a non-empty list of the knob's values, easiest first")
        if not isinstance(scores, list) or (scores and len(tried) != len(scores)):
            raise _fail(here, "identity_validation", scores,
                        "a list as long as 'tried' (one validation accuracy per value tried), "
                        "or none before `entangled calibrate` has run")
        out.append(Calibration(entry["arch"], entry["task"], entry["knob"], tuple(tried),
                               tuple(scores), entry.get("chosen"),
                               tuple(entry.get("seeds", ())),
                               tuple(entry.get("band", DEFAULT_BAND)),
                               str(entry.get("budget", "")), str(entry.get("date", ""))))
    return tuple(out)


def _tunings(entries: Any, where: str, runs: Sequence[SuiteRun]) -> tuple[Tuning, ...]:
    """Validated ``[[tuning]]`` records: the chosen rate is the best tried (ties: the smaller)
    and the one group of that architecture, task and mapping trains it."""
    if not isinstance(entries, list):
        raise _fail(where, "tuning", entries, "a list of [[tuning]] tables")
    out = []
    for i, entry in enumerate(entries):
        here = f"{where}, tuning[{i}]"
        entry = _table(entry, here, "tuning")
        for key in entry:
            if key not in TUNING_KEYS:
                raise _fail(here, "key", key, "one of " + ", ".join(sorted(TUNING_KEYS)))
        for key in ("arch", "task"):
            if not isinstance(entry.get(key), str):
                raise _fail(here, key, entry.get(key), "a name (string)")
        variant = _table(entry.get("variant"), here, "variant")
        if not isinstance(variant.get("family"), str):
            raise _fail(here, "variant.family", variant.get("family"), "a family name")
        tried, scores = entry.get("tried"), entry.get("mean_validation")
        if (not isinstance(tried, list) or len(tried) < 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0
                           for x in tried)):
            raise _fail(here, "tried", tried, "a list of at least two learning rates > 0")
        if (not isinstance(scores, list) or len(scores) != len(tried)
                or not all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in scores)):
            raise _fail(here, "mean_validation", scores,
                        "one mean validation accuracy in [0, 1] per rate tried")
        best = max(zip(tried, scores), key=lambda pair: (pair[1], -pair[0]))[0]
        chosen = entry.get("chosen")
        if chosen != best:
            raise _fail(here, "chosen", chosen, f"the best rate tried ({best:g}: the highest "
                        "mean validation accuracy, ties to the smaller rate)")
        groups = [g for g in runs if g.arch == entry["arch"] and g.task == entry["task"]
                  and any(_same_variant(v, variant) for v in g.variants)]
        if len(groups) != 1 or not any(math.isclose(chosen, lr)
                                       for lr in groups[0].learning_rates):
            raise _fail(here, "chosen", chosen, "a rate that the one [[runs]] group of this "
                        "arch, task and variant trains (its lr or one of its lr_grid)")
        out.append(Tuning(entry["arch"], entry["task"], _frozen(variant),
                          tuple(float(x) for x in tried), tuple(float(x) for x in scores),
                          float(chosen), tuple(entry.get("seeds", ())),
                          str(entry.get("source", "")), str(entry.get("date", ""))))
    return tuple(out)


def _seeds(seeds: Any, where: str, key: str) -> list[int]:
    """A validated seed list: distinct integers in [0, 2**63), at least one."""
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63
                       for s in seeds) or len(set(seeds)) != len(seeds)):
        raise _fail(where, key, seeds, "a non-empty list of distinct integers in [0, 2**63)")
    return seeds


def _lr_grid(value: Any, where: str) -> tuple[float, ...]:
    """A validated learning-rate grid: distinct finite numbers > 0, at least two (or none)."""
    allowed = "a list of at least two distinct numbers > 0, e.g. [1e-3, 3e-3, 1e-2]"
    if not isinstance(value, list):
        raise _fail(where, "lr_grid", value, allowed)
    if not value:
        return ()
    if (len(value) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) and v > 0 for v in value)
            or len({float(v) for v in value}) != len(value)):
        raise _fail(where, "lr_grid", value, allowed)
    return tuple(sorted(float(v) for v in value))


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError("--suite", str(path), f"a readable TOML file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError("--suite", str(path), f"valid TOML ({exc})") from None
    return parse_suite(data, str(path))


def preset_names() -> list[str]:
    """Names of the built-in suites (files in ``reports/suites/``), without parsing them."""
    order = {"smoke": 0, "quick": 1, "full": 2}
    return sorted((p.stem for p in SUITE_DIR.glob("*.toml")), key=lambda n: (order.get(n, 9), n))


def get_preset(name: str) -> Suite:
    """The built-in suite ``name``."""
    if name not in preset_names():
        raise InvalidParameterError("preset", name, "one of " + ", ".join(preset_names()))
    return load_suite(SUITE_DIR / f"{name}.toml")


def run_configs(suite: Suite) -> list:
    """Every :class:`RunConfig` of ``suite`` (seed s uses model/data seed s and, by default,
    skip seed s)."""
    return suite.configs()


