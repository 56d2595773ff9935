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

A bad suite file raises :class:`SuiteError` naming the file, the key, its value and what is
allowed.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
TOP_KEYS = {"name", "description", "seeds", "conjecture_examples", "runs"}
RUN_KEYS = {"arch", "task", "variants", "model", "task_options", "skip_seed", "lr_grid"}
DEFAULT_CONJECTURE_EXAMPLES = 20


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
class Suite:
    """A parsed, validated suite."""

    name: str
    description: str
    seeds: tuple[int, ...]
    runs: tuple[SuiteRun, ...]
    conjecture_examples: int = DEFAULT_CONJECTURE_EXAMPLES
    source: str = ""

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
                    for seed in self.seeds:
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
    if not isinstance(name, str) or not name:
        raise _fail(where, "name", name, "a non-empty string")
    seeds = data.get("seeds")
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63
                       for s in seeds) or len(set(seeds)) != len(seeds)):
        raise _fail(where, "seeds", seeds, "a non-empty list of distinct integers in [0, 2**63)")
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
                       _lr_grid(entry.get("lr_grid", []), here))
        probe = Suite(name, description, (seeds[0],), (run,), examples, source)
        for config in probe.configs():  # every variant checked by the registries
            try:
                config.to_spec().resolve()
            except SuiteError:
                raise
            except ValueError as exc:
                raise SuiteError("run", f"{run.arch} on {run.task}", str(exc), context=here) from None
        runs.append(run)
    return Suite(name, description, tuple(seeds), tuple(runs), examples, source)


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


