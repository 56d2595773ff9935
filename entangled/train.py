"""Training one model with an entangled skip: :func:`fit` turns a :class:`RunConfig` into a
:class:`RunResult`.

Both are plain dataclasses with ``to_dict``/``from_dict``; a result written as JSON and read
back compares equal to the original. Non-finite numbers (the loss of a diverged run) are
stored as ``None`` so that result files are strict JSON.

Determinism: the model is initialised from ``seed`` and the mini-batches come from a
``torch.Generator`` seeded with ``seed`` (a fresh permutation of the training set per epoch,
consumed in order), so the same config gives the same result apart from timings
(``wall_time_s`` and ``environment``) on the same machine and thread count.

>>> from entangled.train import RunConfig, fit
>>> result = fit(RunConfig(arch="rnn", task="delayed_recall", family="orthogonal", steps=200))
... # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from entangled.errors import EntangledError, InvalidParameterError
from entangled.mappings.params import check_positive_int, check_seed, is_integer, is_real

OPTIMIZERS = ("adam", "adamw", "sgd")
DEVICES = ("auto", "cpu", "cuda")
METRICS_BATCH = 256
#: which architectures accept which task kinds (image: (1, 8, 8); signal: (C, L);
#: patches: (P, D); sequence: (T, D))
ARCH_KINDS: dict[str, tuple[str, ...]] = {
    "cnn": ("image", "signal"),
    "vit": ("image", "patches"),
    "transformer": ("patches", "sequence"),
    "rnn": ("sequence",),
}
TIMING_FIELDS = ("wall_time_s", "environment")


def _architectures() -> tuple[str, ...]:
    try:
        from entangled.nn.models import ARCHITECTURES
    except ImportError:  # models not importable: fall back to the documented list
        return tuple(ARCH_KINDS)
    return tuple(ARCHITECTURES)


def compatible_tasks(arch: str) -> list[str]:
    """Tasks that architecture ``arch`` can be trained on."""
    from entangled.tasks import task_kind, task_names

    return [t for t in task_names() if task_kind(t) in ARCH_KINDS.get(arch, ())]


def finite_or_none(value: Any) -> Any:
    """Recursively replace non-finite floats by None (strict JSON); tuples become lists."""
    if isinstance(value, float) or (isinstance(value, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, torch.Tensor):
        return finite_or_none(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    return value


@dataclass
class RunConfig:
    """Everything that defines one training run (its hash identifies the run).

    Parameters
    ----------
    arch : ``"cnn"``, ``"vit"``, ``"transformer"`` or ``"rnn"``.
    task : a name from :func:`entangled.tasks.task_names` compatible with ``arch``
        (image tasks: cnn/vit; patches: vit/transformer; sequences: rnn/transformer).
    family : mapping family of every entangled skip (``entangled families``).
    params : family parameters, e.g. ``{"theta": 0.3}``.
    skip_seed : seed of the mapping's random construction (orthogonal, sparse, ...).
    spatial : CNN only: the spatial (structural-correlation over positions) variant.
    model : overrides of the architecture's default model config (width, depth, ...).
    task_options : options of generated tasks (``length``, ``delay``, ...).
    seed : seed of the model initialisation and of the mini-batch order.
    steps : optimizer steps (ignored when ``epochs`` is given).
    epochs : if given, ``steps = ceil(epochs * n_train / batch_size)``.
    batch_size : examples per step.
    lr : learning rate.
    optimizer : ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9).
    weight_decay : L2 (adam, sgd) or decoupled (adamw) weight decay.
    grad_clip : maximum global gradient norm, ``None`` for no clipping.
    eval_every : evaluate on the test set every this many steps (and at the end).
    device : ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    metrics : compute :func:`entangled.metrics.snapshot` at init and at the end.
    """

    arch: str = "cnn"
    task: str = "digits"
    family: str = "identity"
    params: dict[str, Any] = field(default_factory=dict)
    skip_seed: int = 0
    spatial: bool = False
    model: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
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

    def __post_init__(self) -> None:
        # normalise numeric types so that equal configs hash equally (1 vs 1.0)
        if is_real(self.lr):
            self.lr = float(self.lr)
        if is_real(self.weight_decay):
            self.weight_decay = float(self.weight_decay)
        if self.grad_clip is not None and is_real(self.grad_clip):
            self.grad_clip = float(self.grad_clip)
        if self.epochs is not None and is_real(self.epochs):
            self.epochs = float(self.epochs)
        self.params = dict(self.params or {})
        self.model = dict(self.model or {})
        self.task_options = dict(self.task_options or {})

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict with every field."""
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Inverse of :meth:`to_dict`; missing fields take their defaults, unknown ones raise."""
        if not isinstance(data, dict):
            raise InvalidParameterError("config", type(data).__name__, "a dict of RunConfig fields")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise InvalidParameterError("config field", key, "one of " + ", ".join(names))
        return cls(**data)

    # ------------------------------------------------------------------ validation
    def validate(self) -> "RunConfig":
        """Raise an :class:`~entangled.errors.EntangledError` (a ValueError) naming the first
        bad field, its value and what is allowed; return ``self`` when valid."""
        from entangled.mappings import family_class
        from entangled.tasks import check_task_name, task_kind, task_options

        archs = _architectures()
        if self.arch not in archs:
            raise InvalidParameterError("arch", self.arch, "one of " + ", ".join(archs))
        check_task_name(self.task)
        if task_kind(self.task) not in ARCH_KINDS.get(self.arch, ()):
            raise InvalidParameterError(
                "task", self.task, f"a task for arch {self.arch!r}: "
                + ", ".join(compatible_tasks(self.arch)))
        cls = family_class(self.family)
        if not isinstance(self.params, dict):
            raise InvalidParameterError("params", self.params, "a dict of family parameters")
        known = {p.name: p for p in cls.parameters}
        for key, value in self.params.items():
            if key not in known:
                raise InvalidParameterError(
                    "param", key, f"parameters of family {self.family!r}: "
                    + (", ".join(f"{p.name} ({p.allowed()})" for p in known.values()) or "none"))
            known[key].check(value, context=f"family {self.family}")
        allowed_options = task_options(self.task)
        for key in self.task_options:
            if key not in allowed_options:
                raise InvalidParameterError(
                    "task option", key, f"options of task {self.task!r}: "
                    + (", ".join(allowed_options) or "none"))
        check_seed(self.skip_seed, context="skip_seed")
        check_seed(self.seed)
        check_positive_int("steps", self.steps)
        if self.epochs is not None and not (is_real(self.epochs) and self.epochs > 0
                                             and math.isfinite(self.epochs)):
            raise InvalidParameterError("epochs", self.epochs, "a positive number or None")
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("eval_every", self.eval_every)
        if not (is_real(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            raise InvalidParameterError("lr", self.lr, "a finite number > 0")
        if self.optimizer not in OPTIMIZERS:
            raise InvalidParameterError("optimizer", self.optimizer, "one of " + ", ".join(OPTIMIZERS))
        if not (is_real(self.weight_decay) and math.isfinite(self.weight_decay)
                and self.weight_decay >= 0):
            raise InvalidParameterError("weight_decay", self.weight_decay, "a finite number >= 0")
        if self.grad_clip is not None and not (is_real(self.grad_clip) and self.grad_clip > 0):
            raise InvalidParameterError("grad_clip", self.grad_clip, "a number > 0 or None")
        if self.device not in DEVICES:
            raise InvalidParameterError("device", self.device, "one of " + ", ".join(DEVICES))
        if self.device == "cuda" and not torch.cuda.is_available():
            raise InvalidParameterError("device", self.device, "'auto' or 'cpu' (CUDA is not available)")
        if not isinstance(self.spatial, bool):
            raise InvalidParameterError("spatial", self.spatial, "true or false")
        if self.spatial and self.arch != "cnn":
            raise InvalidParameterError("spatial", self.spatial, "false unless arch is 'cnn'")
        if not isinstance(self.metrics, bool):
            raise InvalidParameterError("metrics", self.metrics, "true or false")
        if not isinstance(self.model, dict):
            raise InvalidParameterError("model", self.model, "a dict of model config overrides")
        return self

    def label(self) -> str:
        """Short human-readable label, e.g. ``rnn/delayed_recall/rotation(theta=0.3) s0``."""
        params = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        fam = f"{self.family}({params})" if params else self.family
        sp = "+spatial" if self.spatial else ""
        return f"{self.arch}/{self.task}/{fam}{sp} s{self.seed}"


@dataclass
class RunResult:
    """The outcome of :func:`fit`: plain data, JSON round-trip exact.

    Attributes
    ----------
    config : the :meth:`RunConfig.to_dict` of the run.
    config_hash : :func:`entangled.sweep.config_hash` of ``config``.
    status : ``"ok"`` or ``"diverged"`` (the training loss became non-finite).
    steps_done : optimizer steps taken (the step that diverged is not counted).
    steps_planned : steps the config asked for.
    diverged_at : the 1-based step whose loss was non-finite, else ``None``.
    train_accuracy, train_loss : on the whole training set at the end (``None`` if diverged).
    test_accuracy, test_loss : on the whole test set at the end (``None`` if diverged).
    chance_accuracy, memoryless_accuracy : the task's documented baselines.
    time_structure : the task's ``"time-variant"``/``"time-invariant"``/``"none"``.
    curves : ``{"step": [...], "train_loss": [...], "test_loss": [...],
        "test_accuracy": [...]}``; step 0 is the untrained model; ``train_loss`` is the mean
        training-batch loss since the previous point (``None`` at step 0).
    metrics : ``{"init": snapshot, "final": snapshot}`` of :func:`entangled.metrics.snapshot`
        on the first 256 test examples (``{}`` when ``config.metrics`` is false; ``"final"``
        is ``None`` for a diverged run).
    n_parameters : trainable parameters of the model.
    device : the device used (``"cpu"``, ``"cuda"``).
    wall_time_s : total wall time of :func:`fit` (timing, not reproducible).
    environment : versions and thread count (not reproducible across machines).
    """

    config: dict[str, Any]
    config_hash: str
    status: str
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
    curves: dict[str, list]
    metrics: dict[str, Any]
    n_parameters: int
    device: str
    wall_time_s: float
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain strict-JSON dict (non-finite floats as ``None``)."""
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunResult":
        """Inverse of :meth:`to_dict`; raises ValueError on missing or unknown fields."""
        if not isinstance(data, dict):
            raise EntangledError(f"invalid run result of type {type(data).__name__}; allowed: a dict")
        names = {f.name for f in dataclasses.fields(cls)}
        missing, unknown = names - set(data), set(data) - names
        if missing or unknown:
            raise EntangledError(
                f"invalid run result: missing fields {sorted(missing)}, unknown fields "
                f"{sorted(unknown)}")
        return cls(**data)

    @property
    def run_config(self) -> RunConfig:
        return RunConfig.from_dict(self.config)

    def reproducible_dict(self) -> dict[str, Any]:
        """``to_dict`` without the timing fields: equal for two runs of the same config."""
        d = self.to_dict()
        for key in TIMING_FIELDS:
            d.pop(key, None)
        return d


# ---------------------------------------------------------------------------- helpers
def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def environment() -> dict[str, Any]:
    """Versions and thread count of this process."""
    import entangled

    env = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "numpy": np.__version__,
        "entangled": getattr(entangled, "__version__", "?"),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return env


def _make_optimizer(config: RunConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)`` (evaluation mode, in batches)."""
    was_training = model.training
    model.eval()
    total_loss, correct, count, n = 0.0, 0.0, 0, x.shape[0]
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = model(xb)
        total_loss += float(task.loss(out, yb).item()) * xb.shape[0]
        hits = task.correct(out, yb).float()
        correct += float(hits.sum().item())
        count += hits.numel()
    model.train(was_training)
    return total_loss / n, correct / count


def _snapshot(model, task, x, y) -> dict[str, Any]:
    from entangled.metrics import snapshot

    return finite_or_none(snapshot(model, x, y, loss_fn=task.loss, accuracy_fn=task.accuracy))


def build_for(config: RunConfig, task, device: torch.device | None = None) -> torch.nn.Module:
    """Build the (untrained) model of ``config`` for the loaded ``task``."""
    from entangled.nn.models import SkipSpec, build_model

    skip = SkipSpec(family=config.family, params=dict(config.params), seed=config.skip_seed,
                    spatial=config.spatial)
    model = build_model(config.arch, input_shape=tuple(task.input_shape),
                        output_dim=task.output_dim, skip=skip,
                        config=dict(config.model) or None, seed=config.seed)
    return model.to(device) if device is not None else model


def planned_steps(config: RunConfig, n_train: int) -> int:
    """``steps``, or ``ceil(epochs * n_train / batch_size)`` when ``epochs`` is given."""
    if config.epochs is None:
        return int(config.steps)
    return max(1, math.ceil(config.epochs * n_train / config.batch_size))


# ---------------------------------------------------------------------------- fit
def fit(config: RunConfig | dict[str, Any]) -> RunResult:
    """Train one model and return its :class:`RunResult`.

    The loss is checked after every step; when it is not finite, training stops and the run
    is returned with ``status="diverged"`` (never raised). Invalid configs raise a
    ValueError subclass naming the field and what is allowed. The global torch thread count
    is left as it is (sweep workers set one thread each).
    """
    from entangled.sweep import config_hash
    from entangled.tasks import load_task

    start = time.perf_counter()
    if isinstance(config, dict):
        config = RunConfig.from_dict(config)
    config.validate()
    device = resolve_device(config.device)
    task = load_task(config.task, seed=config.seed, **config.task_options)
    x_train, y_train = task.x_train.to(device), task.y_train.to(device)
    x_test, y_test = task.x_test.to(device), task.y_test.to(device)
    model = build_for(config, task, device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = _make_optimizer(config, [p for p in model.parameters() if p.requires_grad])
    steps = planned_steps(config, task.n_train)

    x_metric, y_metric = x_test[:METRICS_BATCH], y_test[:METRICS_BATCH]
    metrics: dict[str, Any] = {}
    if config.metrics:
        metrics["init"] = _snapshot(model, task, x_metric, y_metric)
        model.train()
        optimizer.zero_grad(set_to_none=True)

    curves: dict[str, list] = {"step": [], "train_loss": [], "test_loss": [], "test_accuracy": []}

    def record(step: int, train_loss: float | None) -> None:
        test_loss, test_acc = evaluate(model, task, x_test, y_test)
        curves["step"].append(step)
        curves["train_loss"].append(train_loss)
        curves["test_loss"].append(test_loss)
        curves["test_accuracy"].append(test_acc)

    record(0, None)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.empty(0, dtype=torch.long)
    cursor = 0
    status, diverged_at, steps_done = "ok", None, 0
    running, running_n = 0.0, 0
    for step in range(1, steps + 1):
        if cursor + config.batch_size > order.numel():
            if task.n_train <= config.batch_size:
                order, cursor = torch.arange(task.n_train), 0
            else:
                order, cursor = torch.randperm(task.n_train, generator=generator), 0
        idx = order[cursor:cursor + config.batch_size].to(device)
        cursor += config.batch_size
        loss = task.loss(model(x_train[idx]), y_train[idx])
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            status, diverged_at = "diverged", step
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        steps_done = step
        running += loss_value
        running_n += 1
        if step % config.eval_every == 0 or step == steps:
            record(step, running / running_n)
            running, running_n = 0.0, 0

    if status == "ok":
        train_loss, train_acc = evaluate(model, task, x_train, y_train)
        test_loss, test_acc = curves["test_loss"][-1], curves["test_accuracy"][-1]
        if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
            status, diverged_at = "diverged", steps_done
    if status == "diverged":
        train_loss = train_acc = test_loss = test_acc = None
        if running_n:
            curves["step"].append(steps_done)
            curves["train_loss"].append(running / running_n)
            curves["test_loss"].append(None)
            curves["test_accuracy"].append(None)
    if config.metrics:
        metrics["final"] = (_snapshot(model, task, x_metric, y_metric)
                            if status == "ok" else None)
    config_dict = config.to_dict()
    return RunResult(
        config=config_dict, config_hash=config_hash(config_dict), status=status,
        steps_done=steps_done, steps_planned=steps, diverged_at=diverged_at,
        train_accuracy=train_acc, train_loss=train_loss, test_accuracy=test_acc,
        test_loss=test_loss, chance_accuracy=float(task.chance_accuracy),
        memoryless_accuracy=float(task.memoryless_accuracy),
        time_structure=task.time_structure, curves=finite_or_none(curves),
        metrics=finite_or_none(metrics), n_parameters=int(n_params), device=str(device.type),
        wall_time_s=time.perf_counter() - start, environment=environment(),
    )
