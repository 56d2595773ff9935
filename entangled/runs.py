"""The typed run model: what a training run *is* (:class:`RunSpec`), what it *gave*
(:class:`RunResult`), and its one JSON form on disk.

A :class:`RunSpec` is frozen and made of

* an :class:`ArchSpec` (a registered architecture + overrides of its model config),
* a :class:`TaskSpec` (a registered task + its options),
* a :class:`~entangled.skips.SkipSpec` without its seed (a mapping family + typed parameter
  values, CNN ``spatial``; the name :data:`SkipVariant` says what reports compare),
* the seeds (``seed`` of init and batches, ``skip_seed`` of the mapping construction),
* a :class:`Budget` (steps, optimiser, intra-op thread count, device, ...).

:meth:`RunSpec.resolve` validates it once by delegating to the family, architecture and
task registries and returns the *resolved* spec: every default filled in, every number in
its declared type (``theta=1`` becomes ``1.0``). The run's identity is the hash of the
resolved spec (:func:`config_hash`), so numerically equal values and omitted defaults give
the same hash.

On disk a result is one strict-JSON object with ``schema_version`` (:data:`SCHEMA_VERSION`),
written by :func:`result_to_json` and read by :func:`result_from_json`, the only two places
that know the layout. Files of an earlier schema (1: a flat ``config`` object; 2: the
protocol before validation-based selection) are recognised and refused with
``kind="superseded"``: their numbers came from another training protocol.
:func:`check_result` validates values (accuracies in [0, 1], finite losses, the hash
matching the spec) so that a tampered file is rejected rather than shown.

This module imports no model or task code at import time: ``import entangled.runs`` is
light, and :mod:`entangled.train` and :mod:`entangled.sweep` both import it (never each other
in a cycle).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from entangled.errors import EntangledError, InvalidParameterError
from entangled.skips import SkipSpec
from entangled.validation import (check_choice, check_flag, check_positive_int, check_real,
                                  check_seed, is_real, is_whole)
from entangled.values import (  # noqa: F401 (re-exported: the names were defined here)
    as_pairs, canonical_json, finite_or_none, freeze, pairs_dict, sortable, thaw)
from entangled.words import Word

SCHEMA_VERSION = 3
#: schema versions of results produced by an earlier training protocol (test accuracy at the
#: last step, test set read at every evaluation, no validation split): set aside, retrained
SUPERSEDED_SCHEMAS = (1, 2)
OPTIMIZERS = ("adam", "adamw", "sgd")
DEVICES = ("auto", "cpu", "cuda")


class RunStatus(Word):
    """How a run ended (the ``status`` of a :class:`RunResult`)."""

    #: trained to its last step (or stopped early by patience)
    OK = "ok"
    #: the training loss became non-finite
    DIVERGED = "diverged"


STATUSES = tuple(RunStatus)
MAX_THREADS = 1024
#: Largest ``steps``, ``eval_every`` and ``patience`` of a budget (ten million optimizer steps;
#: the built-in suites use at most a few thousand): beyond it a value is a mistake, not a plan.
MAX_STEPS = 10**7
#: Largest ``epochs`` of a budget.
MAX_EPOCHS = 10**5
#: Largest ``batch_size`` of a budget.
MAX_BATCH_SIZE = 2**20


class ResultFileError(EntangledError):
    """A result file that cannot be used: ``kind`` is ``"invalid"`` (unreadable, wrong
    values, hash mismatch), ``"stale"`` (valid but produced differently: another thread
    count, torch version or device than asked for now) or ``"superseded"`` (written by an
    earlier training protocol, :data:`SUPERSEDED_SCHEMAS`)."""

    def __init__(self, reason: str, kind: str = "invalid"):
        self.reason, self.kind = reason, kind
        super().__init__(reason)


# ----------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class ArchSpec:
    """A registered architecture and overrides of its model config (``{"depth": 8}``)."""

    name: str = "cnn"
    overrides: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "overrides", as_pairs(self.overrides, "model"))

    @property
    def config(self) -> dict[str, Any]:
        return pairs_dict(self.overrides)

    def resolve(self) -> "ArchSpec":
        """Every field of the architecture's config, validated by the architecture."""
        from entangled.nn.models import architecture, config_for

        entry = architecture(self.name)
        config = config_for(entry.name, self.config)
        values = {}
        for f in dataclasses.fields(config):  # a float field given as 2 is stored as 2.0
            value = getattr(config, f.name)
            if isinstance(f.default, float) and is_real(value):
                value = float(value)
            values[f.name] = value
        return ArchSpec(entry.name, finite_or_none(values))

    def defaults(self) -> dict[str, Any]:
        """The architecture's default config (for rendering only the overridden fields)."""
        from entangled.nn.models import config_for

        return finite_or_none(dataclasses.asdict(config_for(self.name, {})))


@dataclass(frozen=True)
class TaskSpec:
    """A registered task and its options (``{"delay": 3}``)."""

    name: str = "digits"
    options: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "options", as_pairs(self.options, "task_options"))

    def resolve(self) -> "TaskSpec":
        from entangled.tasks import task_entry

        entry = task_entry(self.name)
        return TaskSpec(entry.name, finite_or_none(entry.resolve_options(pairs_dict(self.options))))


#: A run's skip mapping is a :class:`~entangled.skips.SkipSpec` without its seed (the run's
#: ``skip_seed`` is separate, part of its identity); the name says what reports compare.
SkipVariant = SkipSpec


@dataclass(frozen=True)
class Budget:
    """How a run is trained; part of its identity.

    ``threads`` is the intra-op thread count the run fixes for itself (default 1) whatever
    command starts it, so that the same spec gives the same number everywhere.

    Model selection uses the validation split only: it is evaluated every ``eval_every``
    steps, the checkpoint with the best validation accuracy is kept, and the test set is read
    once, at that checkpoint. ``patience`` stops training early after this many evaluations
    without a new best validation accuracy (``None``: train all ``steps``).
    """

    steps: int = 400
    epochs: float | None = None
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    eval_every: int = 100
    device: str = "auto"
    metrics: bool = True
    threads: int = 1
    patience: int | None = None

    def resolve(self) -> "Budget":
        def count(name: str, high: int | None = None) -> int:
            return check_positive_int(name, getattr(self, name), high=high, whole=True)

        def positive_or_none(name: str, high: float = math.inf) -> float | None:
            value = getattr(self, name)
            if value is not None and not (is_real(value) and math.isfinite(value)
                                          and 0 < value <= high):
                bound = "" if math.isinf(high) else f" and <= {high:,}"
                raise InvalidParameterError(name, value, f"a finite number > 0{bound} or None")
            return None if value is None else float(value)

        return Budget(
            count("steps", MAX_STEPS), positive_or_none("epochs", MAX_EPOCHS),
            count("batch_size", MAX_BATCH_SIZE),
            check_real("lr", self.lr, low=0, exclusive_low=True),
            check_choice("optimizer", self.optimizer, OPTIMIZERS),
            check_real("weight_decay", self.weight_decay, low=0), positive_or_none("grad_clip"),
            count("eval_every", MAX_STEPS), check_choice("device", self.device, DEVICES),
            check_flag("metrics", self.metrics), count("threads", MAX_THREADS),
            None if self.patience is None else count("patience", MAX_STEPS))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Budget":
        _check_keys(data, BUDGET_KEYS, "budget")
        return cls(**data)


BUDGET_KEYS = tuple(f.name for f in dataclasses.fields(Budget))


def _check_keys(data: Any, allowed, what: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidParameterError(what, data, "an object with keys " + ", ".join(sorted(allowed)))
    for key in data:
        if key not in allowed:
            raise InvalidParameterError(f"{what} key", key, "one of " + ", ".join(sorted(allowed)))


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one training run; its :func:`config_hash` identifies it.

    Build one directly, from the flat :class:`entangled.train.RunConfig`
    (``RunConfig(...).to_spec()``) or from a dict (:meth:`from_dict` accepts the nested form
    and the flat RunConfig form).
    """

    arch: ArchSpec = field(default_factory=ArchSpec)
    task: TaskSpec = field(default_factory=TaskSpec)
    skip: SkipVariant = field(default_factory=SkipVariant)
    seed: int = 0
    skip_seed: int = 0
    budget: Budget = field(default_factory=Budget)
    #: set on the spec :meth:`resolve` returns (not an init field: ``dataclasses.replace``
    #: gives an unresolved copy)
    resolved: bool = field(default=False, init=False, compare=False, repr=False)

    def resolve(self) -> "RunSpec":
        """Validate once (each part by its registry) and return the resolved spec: every
        default filled in and every value in its declared type. Raises an
        :class:`~entangled.errors.EntangledError` naming the bad field, its value and what is
        allowed. A resolved spec returns itself: a value is validated where it enters and
        carried typed from there, not checked again at every call it passes through."""
        if self.resolved:
            return self
        from entangled.nn.models import architecture
        from entangled.tasks import task_entry

        for part, cls in (("arch", ArchSpec), ("task", TaskSpec), ("skip", SkipVariant),
                          ("budget", Budget)):
            if not isinstance(getattr(self, part), cls):
                raise InvalidParameterError(part, getattr(self, part), f"a {cls.__name__}")
        arch = self.arch.resolve()
        task = self.task.resolve()
        entry, task_info = architecture(arch.name), task_entry(task.name)
        if task_info.kind not in entry.input_kinds:
            from entangled.nn.models import compatible_architectures
            from entangled.tasks import task_names, task_kind

            tasks = [t for t in task_names() if task_kind(t) in entry.input_kinds]
            raise InvalidParameterError(
                "task", task.name, f"a task for arch {arch.name!r} (input kinds "
                f"{', '.join(entry.input_kinds)}): {', '.join(tasks)}; task {task.name!r} "
                f"({task_info.kind}) runs on: "
                + ", ".join(compatible_architectures(task_info.kind)))
        if self.skip.seed != 0:
            raise InvalidParameterError("skip.seed", self.skip.seed,
                                        "0 (a run's skip seed is its skip_seed)")
        skip = self.skip.resolve()
        if skip.spatial and arch.name != "cnn":
            raise InvalidParameterError("spatial", True, "false unless arch is 'cnn'")
        budget = self.budget.resolve()
        if budget.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise InvalidParameterError("device", "cuda", "'auto' or 'cpu' (CUDA is not available)")
        spec = RunSpec(arch, task, skip, check_seed(self.seed, whole=True),
                       check_seed(self.skip_seed, name="skip_seed", whole=True), budget)
        object.__setattr__(spec, "resolved", True)
        return spec

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The nested JSON form (the ``spec`` object of a result file)."""
        return finite_or_none({
            "arch": {"name": self.arch.name, "overrides": self.arch.config},
            "task": {"name": self.task.name, "options": pairs_dict(self.task.options)},
            "skip": self.skip.variant_dict(),
            "seed": self.seed, "skip_seed": self.skip_seed,
            "budget": self.budget.to_dict(),
        })

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunSpec":
        """Inverse of :meth:`to_dict`; a flat RunConfig dict is accepted too."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError("spec", type(data).__name__, "a dict")
        if not isinstance(data.get("arch", {}), Mapping):
            return cls.from_flat(data)
        _check_keys(data, {"arch", "task", "skip", "seed", "skip_seed", "budget"}, "spec")
        arch, task = data.get("arch", {}), data.get("task", {})
        _check_keys(arch, {"name", "overrides"}, "arch")
        _check_keys(task, {"name", "options"}, "task")
        return cls(ArchSpec(arch.get("name", "cnn"), as_pairs(arch.get("overrides"), "model")),
                   TaskSpec(task.get("name", "digits"), as_pairs(task.get("options"), "task_options")),
                   SkipVariant.from_dict(data.get("skip", {})), data.get("seed", 0),
                   data.get("skip_seed", 0), Budget.from_dict(data.get("budget", {})))

    @classmethod
    def from_flat(cls, data: Mapping[str, Any]) -> "RunSpec":
        """From the flat field names of :class:`entangled.train.RunConfig`."""
        _check_keys(data, FLAT_KEYS, "config field")
        d = dict(data)
        budget = {k: d[k] for k in BUDGET_KEYS if k in d}
        return cls(ArchSpec(d.get("arch", "cnn"), as_pairs(d.get("model"), "model")),
                   TaskSpec(d.get("task", "digits"), as_pairs(d.get("task_options"), "task_options")),
                   SkipVariant(d.get("family", "identity"), as_pairs(d.get("params"), "params"),
                               d.get("spatial", False)),
                   d.get("seed", 0), d.get("skip_seed", 0), Budget(**budget))

    def to_flat(self) -> dict[str, Any]:
        """The flat RunConfig field dict of this spec."""
        return finite_or_none({
            "arch": self.arch.name, "task": self.task.name, "family": self.skip.family,
            "params": self.skip.param_dict, "skip_seed": self.skip_seed,
            "spatial": self.skip.spatial, "model": self.arch.config,
            "task_options": pairs_dict(self.task.options), "seed": self.seed,
            **self.budget.to_dict()})

    @property
    def skip_spec(self) -> SkipSpec:
        """The skip the model is built with: :attr:`skip` with the seed :attr:`skip_seed`."""
        return self.skip.with_seed(self.skip_seed)

    def hash(self) -> str:
        """:func:`config_hash` of this spec."""
        return config_hash(self)

    def label(self) -> str:
        """Short human-readable label, e.g. ``rnn/delayed_recall/rotation(theta=0.3) s0``."""
        params = ",".join(f"{k}={v}" for k, v in self.skip.params)
        fam = f"{self.skip.family}({params})" if params else self.skip.family
        sp = "+spatial" if self.skip.spatial else ""
        return f"{self.arch.name}/{self.task.name}/{fam}{sp} s{self.seed}"


FLAT_KEYS = ("arch", "task", "family", "params", "skip_seed", "spatial", "model",
             "task_options", "seed") + BUDGET_KEYS


def as_spec(config: Any) -> RunSpec:
    """A :class:`RunSpec` from a RunSpec, a RunConfig (anything with ``to_spec``) or a dict."""
    if isinstance(config, RunSpec):
        return config
    if hasattr(config, "to_spec"):
        return config.to_spec()
    if isinstance(config, Mapping):
        return RunSpec.from_dict(config)
    raise InvalidParameterError("config", type(config).__name__,
                                "a RunSpec, a RunConfig or a dict of their fields")


def config_hash(config: Any) -> str:
    """First 16 hex digits of the SHA-256 of the canonical JSON of the *resolved* spec.

    ``config`` is a :class:`RunSpec`, a :class:`~entangled.train.RunConfig` or a dict of
    either's fields. Omitted defaults and numerically equal values (``1`` vs ``1.0``) give
    the same hash; an invalid config raises.
    """
    spec = as_spec(config).resolve()
    return hashlib.sha256(canonical_json(spec.to_dict()).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- results
SNAPSHOT_LISTS = ("refinement_ratio", "refinement_cosine", "lesion_applications",
                  "lesion_accuracy", "cka", "jacobian_singular_values", "gradient_norms",
                  "state_gradient_norms", "state_norms", "saturated_fraction")


@dataclass
class MetricSnapshot:
    """:func:`entangled.metrics.snapshot` of a model on a fixed batch, typed.

    Lists are per residual application (``None`` marks an undefined entry); ``extra`` keeps
    metrics this version does not know by name.
    """

    loss: float | None = None
    accuracy: float | None = None
    num_applications: int | None = None
    refinement_ratio: list | None = None
    refinement_cosine: list | None = None
    lesion_applications: list | None = None
    lesion_accuracy: list | None = None
    cka: list | None = None
    jacobian_singular_values: list | None = None
    gradient_norms: list | None = None
    state_gradient_norms: list | None = None
    state_norms: list | None = None
    saturated_fraction: list | None = None
    skip_gain: dict | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> "MetricSnapshot":
        """From the plain dict of :func:`entangled.metrics.snapshot` (unknown keys -> extra)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**finite_or_none(known), extra=finite_or_none(extra))

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MetricSnapshot":
        _check_keys(data, {f.name for f in dataclasses.fields(cls)}, "metric snapshot")
        return cls(**data)

    def series(self, name: str) -> list | None:
        """A per-application list by name (``None`` when absent)."""
        value = getattr(self, name, None) if name in SNAPSHOT_LISTS else self.extra.get(name)
        return value if isinstance(value, list) else None


@dataclass
class Curves:
    """Training curves; step 0 is the untrained model; ``train_loss`` is the mean
    training-batch loss since the previous point (``None`` at step 0); ``val_loss`` and
    ``val_accuracy`` are measured on the validation split at every point (the test set is read
    once, at the selected checkpoint, and has no curve)."""

    step: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Curves":
        _check_keys(data, {f.name for f in dataclasses.fields(cls)}, "curves")
        return cls(**{k: list(v) for k, v in data.items()})


TIMING_FIELDS = ("wall_time_s", "environment")


@dataclass
class RunResult:
    """The outcome of one run.

    Attributes
    ----------
    spec : the resolved :class:`RunSpec`.
    config_hash : :func:`config_hash` of ``spec``.
    status : :class:`RunStatus` ``"ok"`` or ``"diverged"`` (the training loss became
        non-finite); a plain string is converted.
    steps_done, steps_planned : optimizer steps taken / asked for.
    diverged_at : the 1-based step whose loss was non-finite, else ``None``.
    train_accuracy, train_loss, test_accuracy, test_loss : at the selected checkpoint
        (``None`` if diverged); the test set is read only there.
    chance_accuracy, memoryless_accuracy : the task's documented baselines.
    time_structure : the task's ``"time-variant"``/``"time-invariant"``/``"static"``.
    input_kind : the task's input kind.
    skip_width : the size ``n`` of the model's skip mappings.
    curves : :class:`Curves`.
    metrics : ``{"init": MetricSnapshot, "final": MetricSnapshot | None}`` (empty when the
        budget's ``metrics`` is false; ``final`` is ``None`` for a diverged run).
    n_parameters : trainable parameters.
    device : the device used (``"cpu"``, ``"cuda"``).
    threads : intra-op threads the run used (the spec's ``budget.threads`` on CPU).
    torch_version : the torch that produced it.
    validation_accuracy : the best validation accuracy, that of the selected checkpoint.
    selected_step : the step of the selected (best-validation) checkpoint.
    steps_to_threshold : the first evaluated step at which the validation accuracy covered
        95% of the way from its initial to its best value (the speed of learning, an outcome
        of its own; :func:`entangled.metrics.steps_to_threshold`).
    wall_time_s : total wall time (timing, not reproducible).
    environment : versions of this process (not reproducible across machines).
    """

    spec: RunSpec
    config_hash: str
    status: RunStatus
    steps_done: int
    steps_planned: int
    diverged_at: int | None
    train_accuracy: float | None
    train_loss: float | None
    test_accuracy: float | None
    test_loss: float | None
    chance_accuracy: float
    memoryless_accuracy: float
    time_structure: str
    input_kind: str
    skip_width: int
    curves: Curves
    metrics: dict
    n_parameters: int
    device: str
    threads: int
    torch_version: str
    validation_accuracy: float | None = None
    selected_step: int | None = None
    steps_to_threshold: int | None = None
    wall_time_s: float = 0.0
    environment: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.status, str) and self.status in STATUSES:  # "ok" from a file
            self.status = RunStatus(self.status)

    # ------------------------------------------------------------------ compatibility
    @property
    def config(self) -> dict[str, Any]:
        """The flat RunConfig field dict of the spec."""
        return self.spec.to_flat()

    def snapshot(self, stage: str) -> MetricSnapshot | None:
        """The metric snapshot at ``"init"`` or ``"final"`` (``None`` when absent)."""
        return self.metrics.get(stage)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The strict-JSON object written to disk (with ``schema_version``)."""
        return result_to_json(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunResult":
        """Inverse of :meth:`to_dict` ; raises :class:`ResultFileError`."""
        return result_from_json(data)

    def reproducible_dict(self) -> dict[str, Any]:
        """``to_dict`` without the timing fields: equal for two runs of the same spec."""
        d = self.to_dict()
        for key in TIMING_FIELDS:
            d.pop(key, None)
        return d


RESULT_KEYS = ("schema_version", "spec") + tuple(
    f.name for f in dataclasses.fields(RunResult) if f.name != "spec")


def result_to_json(result: RunResult) -> dict[str, Any]:
    """The one on-disk form of a result (strict JSON, non-finite numbers as ``None``)."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "spec": result.spec.to_dict()}
    for f in dataclasses.fields(result):
        if f.name == "spec":
            continue
        value = getattr(result, f.name)
        if f.name == "metrics":
            value = {k: (None if v is None else v.to_dict()) for k, v in value.items()}
        out[f.name] = finite_or_none(value)
    return out


def result_from_json(data: Any) -> RunResult:
    """Read the on-disk form (any schema version this code knows) and validate it."""
    if not isinstance(data, Mapping):
        raise ResultFileError(f"not a run result: a JSON {type(data).__name__}, allowed: an object")
    version = schema_of(data)
    if version in SUPERSEDED_SCHEMAS:
        raise ResultFileError(superseded_reason(version), kind="superseded")
    if version != SCHEMA_VERSION:
        raise ResultFileError(f"unknown schema_version={version!r}; allowed: {SCHEMA_VERSION}")
    missing = [k for k in RESULT_KEYS if k not in data]
    unknown = [k for k in data if k not in RESULT_KEYS]
    if missing or unknown:
        raise ResultFileError(f"invalid run result: missing fields {missing}, unknown fields {unknown}")
    try:
        spec = RunSpec.from_dict(data["spec"])
        fields = {k: data[k] for k in RESULT_KEYS if k not in ("schema_version", "spec")}
        fields["curves"] = Curves.from_dict(fields["curves"] or {})
        if not isinstance(fields["metrics"], Mapping):
            raise ResultFileError(f"invalid metrics={fields['metrics']!r}; allowed: an object")
        fields["metrics"] = {k: (None if v is None else MetricSnapshot.from_dict(v))
                             for k, v in fields["metrics"].items()}
        result = RunResult(spec=spec, **fields)
    except ResultFileError:
        raise
    except (ValueError, TypeError) as exc:
        raise ResultFileError(f"invalid run result: {exc}") from None
    check_result(result)
    return result


def schema_of(data: Mapping[str, Any]) -> Any:
    """The schema version of a result object: ``schema_version``, or 1 for the flat
    ``config`` form written before schema versions existed."""
    if "schema_version" not in data and "config" in data:
        return 1
    return data.get("schema_version")


def superseded_reason(version: int) -> str:
    """Why a result of an earlier schema is not used (its training protocol differs)."""
    return (f"schema {version}: produced by an earlier training protocol (test accuracy at the "
            "last step, no validation split); this version selects the best-validation "
            "checkpoint and reads the test set once, so the run is trained again")


def skip_width(spec: RunSpec) -> int:
    """Size ``n`` of the skip mappings of ``spec``'s model (builds the untrained model)."""
    from entangled.nn.models import build_model
    from entangled.tasks import load_task

    options = pairs_dict(spec.task.options)
    if "n_train" in options:  # the width does not depend on the amount of data
        options.update(n_train=1, n_test=1)
    data = load_task(spec.task.name, seed=0, **options)
    model = build_model(spec.arch.name, input_shape=data.input_shape, output_dim=data.output_dim,
                        skip=SkipSpec(spatial=spec.skip.spatial),
                        config=spec.arch.config or None, seed=0)
    return model_skip_width(model)


def model_skip_width(model) -> int:
    """Size ``n`` of the family mapping of a built model's first skip (for the spatial
    CNN skip ``M_H ⊗ M_W``: the size of ``M_H``)."""
    skip = model.residual_blocks[0].skip
    if hasattr(skip, "along_h"):
        skip = skip.along_h
    return int(skip.n)


def _in_unit(value: Any) -> bool:
    return is_real(value) and 0.0 <= value <= 1.0


def check_result(result: RunResult) -> RunResult:
    """Value ranges of a result: raise :class:`ResultFileError` naming the first bad field.

    Accuracies in [0, 1] (``None`` only for a diverged run), losses finite and >= 0,
    ``steps_done <= steps_planned``, chance levels in [0, 1], the hash equal to the hash of
    the spec, and the spec already resolved (a file whose spec is not in canonical form was
    not written by this tool).
    """
    r = result
    if r.status not in STATUSES:
        raise ResultFileError(f"invalid status={r.status!r}; allowed: one of {', '.join(STATUSES)}")
    for name in ("train_accuracy", "test_accuracy"):
        value = getattr(r, name)
        if r.status == RunStatus.OK and not _in_unit(value):
            raise ResultFileError(f"invalid {name}={value!r}; allowed: a number in [0, 1]")
        if r.status == RunStatus.DIVERGED and value is not None:
            raise ResultFileError(f"invalid {name}={value!r}; allowed: null for a diverged run")
    for name in ("train_loss", "test_loss"):
        value = getattr(r, name)
        ok = value is None if r.status == RunStatus.DIVERGED else (
            is_real(value) and math.isfinite(value) and value >= 0)
        if not ok:
            raise ResultFileError(f"invalid {name}={value!r}; allowed: a finite number >= 0 "
                                  "(null for a diverged run)")
    for name in ("chance_accuracy", "memoryless_accuracy"):
        if not _in_unit(getattr(r, name)):
            raise ResultFileError(f"invalid {name}={getattr(r, name)!r}; allowed: a number in [0, 1]")
    if not (is_whole(r.steps_planned) and is_whole(r.steps_done) and 0 <= r.steps_done <= r.steps_planned):
        raise ResultFileError(f"invalid steps_done={r.steps_done!r}; allowed: an integer in "
                              f"[0, steps_planned={r.steps_planned!r}]")
    if not (is_whole(r.skip_width) and r.skip_width >= 1):
        raise ResultFileError(f"invalid skip_width={r.skip_width!r}; allowed: a positive integer")
    if not (is_whole(r.threads) and r.threads >= 1):
        raise ResultFileError(f"invalid threads={r.threads!r}; allowed: a positive integer")
    if r.status == RunStatus.OK and not _in_unit(r.validation_accuracy):
        raise ResultFileError(f"invalid validation_accuracy={r.validation_accuracy!r}; "
                              "allowed: a number in [0, 1]")
    if r.status == RunStatus.DIVERGED and r.validation_accuracy is not None:
        raise ResultFileError(f"invalid validation_accuracy={r.validation_accuracy!r}; "
                              "allowed: null for a diverged run")
    for name in ("selected_step", "steps_to_threshold"):
        value = getattr(r, name)
        if value is not None and not (is_whole(value) and 0 <= value <= r.steps_done):
            raise ResultFileError(f"invalid {name}={value!r}; allowed: null or an integer in "
                                  f"[0, steps_done={r.steps_done!r}]")
    for name in ("val_accuracy",):
        values = getattr(r.curves, name)
        if any(v is not None and not _in_unit(v) for v in values):
            raise ResultFileError(f"invalid curves.{name}: values outside [0, 1]")
    try:
        resolved = r.spec.resolve()
    except (ValueError, TypeError) as exc:
        raise ResultFileError(f"invalid spec: {exc}") from None
    if resolved != r.spec:
        raise ResultFileError("spec is not in resolved form (defaults missing or values of "
                              "the wrong type)")
    digest = config_hash(resolved)
    if r.config_hash != digest:
        raise ResultFileError(f"config_hash={r.config_hash!r} does not match the spec "
                              f"(hash {digest})")
    return r
