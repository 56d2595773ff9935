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

import copy
import dataclasses
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence, cast

import torch

from entangled.errors import InvalidParameterError
from entangled.hooks import check_callbacks, dispatch
from entangled.runs import (DEVICES, OPTIMIZERS, TIMING_FIELDS, Budget, Curves,
                            MetricSnapshot, RunResult, RunSpec, RunStatus, as_spec, config_hash,
                            finite_or_none, model_skip_width)

METRICS_BATCH = 256
__all__ = ["DEVICES", "OPTIMIZERS", "RunConfig", "RunResult", "RunSpec", "TIMING_FIELDS", "fit",
           "FlatStepper", "clip_coefficient",
           "compatible_tasks", "finite_or_none", "planned_steps", "evaluate", "build_for"]


def compatible_tasks(arch: str) -> list[str]:
    """Tasks that architecture ``arch`` can be trained on (from the registries)."""
    from entangled.nn.models import architecture
    from entangled.tasks import task_kind, task_names

    kinds = architecture(arch).input_kinds
    return [t for t in task_names() if task_kind(t) in kinds]


@dataclass
class RunConfig:
    """Everything that defines one training run, as flat fields (the typed form is
    :class:`entangled.runs.RunSpec`: ``RunConfig(...).to_spec()``; both hash equally).

    Parameters
    ----------
    arch : a registered architecture (``cnn``, ``vit``, ``transformer``, ``rnn``, plugins).
    task : a registered task compatible with ``arch`` (image tasks: cnn/vit; patches:
        vit/transformer; sequences: rnn/transformer).
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
    eval_every : evaluate on the validation split every this many steps (and at the end).
    device : ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    metrics : compute :func:`entangled.metrics.snapshot` at init and at the end.
    threads : intra-op threads the run sets for itself (default 1, whatever command runs
        it), part of the run's identity.
    patience : early stopping: stop after this many evaluations without a new best
        validation accuracy (``None``: train all steps).

    Model selection reads the validation split only (carved from the training data per
    seed): the checkpoint with the best validation accuracy is restored at the end and the
    test set is read once, there.
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
    # the budget's fields and defaults are Budget's (one place states them)
    steps: int = Budget.steps
    epochs: float | None = Budget.epochs
    batch_size: int = Budget.batch_size
    lr: float = Budget.lr
    optimizer: str = Budget.optimizer
    weight_decay: float = Budget.weight_decay
    grad_clip: float | None = Budget.grad_clip
    eval_every: int = Budget.eval_every
    device: str = Budget.device
    metrics: bool = Budget.metrics
    threads: int = Budget.threads
    patience: int | None = Budget.patience

    def __post_init__(self) -> None:
        # numbers in their declared types, so that equal configs compare equal (1 vs 1.0)
        for name in ("lr", "weight_decay", "grad_clip", "epochs"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, name, float(value))
        self.params = dict(self.params or {})
        self.model = dict(self.model or {})
        self.task_options = dict(self.task_options or {})

    # ------------------------------------------------------------------ conversion
    def to_spec(self) -> RunSpec:
        """The typed :class:`RunSpec` (not yet validated; see :meth:`RunSpec.resolve`)."""
        return RunSpec.from_flat(dataclasses.asdict(self))

    @classmethod
    def from_spec(cls, spec: RunSpec) -> "RunConfig":
        return cls(**spec.to_flat())

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

    def validate(self) -> "RunConfig":
        """Raise an :class:`~entangled.errors.EntangledError` (a ValueError) naming the first
        bad field, its value and what is allowed; return ``self`` when valid. The checks are
        those of :meth:`RunSpec.resolve` (each registry checks its own part)."""
        self.to_spec().resolve()
        return self

    def hash(self) -> str:
        return config_hash(self)

    def label(self) -> str:
        """Short human-readable label, e.g. ``rnn/delayed_recall/rotation(theta=0.3) s0``."""
        return self.to_spec().label()


# ---------------------------------------------------------------------------- helpers
def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def environment() -> dict[str, Any]:
    """Versions, machine (CPU model and instruction sets, GPU) and thread count of this
    process (:func:`entangled.environment.environment`)."""
    from entangled.environment import environment as record

    return record()


def _make_optimizer(budget, parameters) -> torch.optim.Optimizer:
    if budget.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=budget.lr, weight_decay=budget.weight_decay)
    if budget.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=budget.lr, weight_decay=budget.weight_decay)
    return torch.optim.SGD(parameters, lr=budget.lr, momentum=0.9, weight_decay=budget.weight_decay)


#: Examples per forward pass of :func:`evaluate`. Small enough that the activations of the
#: small models stay in a core's cache: on the 2-core AMD EPYC of benchmarks/, a CNN
#: validation pass over 800 MNIST-1D signals takes 21 ms in chunks of 256 against 59 ms in one
#: chunk of 1024 (the ViT, RNN and Transformer take about the same either way). The per-example
#: outputs do not depend on it; the mean loss is summed chunk by chunk, so its last bits do.
EVAL_BATCH = 256


@torch.no_grad()
def evaluate(model: torch.nn.Module, task, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)`` (evaluation mode, in chunks of
    ``batch_size`` examples, :data:`EVAL_BATCH` by default)."""
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


def _snapshot(model, task, x, y) -> MetricSnapshot:
    from entangled.metrics import snapshot

    return MetricSnapshot.from_snapshot(
        snapshot(model, x, y, loss_fn=task.loss, accuracy_fn=task.accuracy))


def build_for(config: RunConfig | RunSpec, task, device: torch.device | None = None
              ) -> torch.nn.Module:
    """Build the (untrained) model of ``config`` for the loaded ``task``."""
    from entangled.nn.models import build_model

    spec = as_spec(config)
    model = build_model(spec.arch.name, input_shape=tuple(task.input_shape),
                        output_dim=task.output_dim, skip=spec.skip_spec,
                        config=spec.arch.config or None, seed=spec.seed)
    return model.to(device) if device is not None else model


def planned_steps(config: RunConfig | RunSpec, n_train: int) -> int:
    """``steps``, or ``ceil(epochs * n_train / batch_size)`` when ``epochs`` is given."""
    budget = as_spec(config).budget
    if budget.epochs is None:
        return int(budget.steps)
    return max(1, math.ceil(budget.epochs * n_train / budget.batch_size))


@contextmanager
def intra_op_threads(threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``, restoring the count after.

    Every training run fixes its own thread count this way (the spec's ``budget.threads``),
    so ``entangled train``, ``entangled sweep`` and the report give the identical number
    whatever ``OMP_NUM_THREADS`` says.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------- fit
def fit(config: RunConfig | RunSpec | dict[str, Any], *, callbacks: Sequence[Any] = ()
        ) -> RunResult:
    """Train one model and return its :class:`RunResult`.

    ``callbacks`` observe the run (``on_step``, ``on_evaluation``, ``on_end``; see
    :mod:`entangled.callbacks`) without changing it.

    ``config`` is a :class:`RunConfig`, a :class:`~entangled.runs.RunSpec` or a dict of
    either's fields; it is validated once (:meth:`RunSpec.resolve`). The loss is checked
    after every step; when it is not finite, training stops and the run is returned with
    ``status="diverged"`` (never raised). The run uses ``budget.threads`` intra-op threads
    (default 1) and restores the caller's thread count afterwards.
    """
    spec = as_spec(config).resolve()
    callbacks = check_callbacks(callbacks)
    with intra_op_threads(spec.budget.threads):
        return _fit(spec, callbacks)


def _fit(spec: RunSpec, callbacks: Sequence[Any] = ()) -> RunResult:
    run = RunState(spec, callbacks)
    model, budget = run.model, spec.budget
    stepper = FlatStepper([p for p in model.parameters() if p.requires_grad], budget)
    # a callback's on_step reads every step's loss; without one the losses stay on the
    # device until an evaluation reads them (RunState.after_step_deferred)
    per_step = any(callable(getattr(c, "on_step", None)) for c in callbacks)
    for step in range(1, run.steps + 1):
        idx = run.next_batch()
        loss = run.task.loss(model(run.x_train[idx]), run.y_train[idx])
        if per_step:
            loss_value = float(loss.item())
            if not run.check_loss(step, loss_value):
                break
        stepper.zero_grad()
        loss.backward()
        stepper.step()
        if per_step:
            dispatch(callbacks, "on_step", step, loss_value, model)
            if not run.after_step(step, loss_value):
                break
        elif not run.after_step_deferred(step, loss):
            break
    stepper.release()
    return run.finish()


def clip_coefficient(grads: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """The factor ``min(1, max_norm / (||g|| + 1e-6))`` by which
    :func:`torch.nn.utils.clip_grad_norm_` scales the gradients ``grads``, computed with its
    own operations (per-tensor norms, then the norm of those), so that scaling by it gives
    the same numbers to the last bit; ``||g||`` is the 2-norm over all of ``grads``."""
    norms = torch._foreach_norm(list(grads), 2.0)
    total = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    return torch.clamp(float(max_norm) / (total + 1e-6), max=1.0)


class FlatStepper:
    """The optimizer step of one run over its trained tensors held in **one flat buffer**.

    On the first :meth:`step` every trained parameter's storage is moved into a slice of one
    contiguous buffer (the parameter objects stay those of the model; their data become
    views), and the optimizer (:func:`_make_optimizer`) acts on that buffer: each step
    copies the gradients into one flat gradient (one ``cat``), scales it for clipping by
    :func:`clip_coefficient` (one multiplication) and updates every parameter with the few
    elementwise operations of one Adam/AdamW/SGD step, instead of each operation once per
    tensor. Adam, AdamW and SGD act elementwise, so the numbers equal those of the optimizer
    over the separate tensors; ``tests/test_train_speed.py`` checks them bit for bit against
    the plain loop (``zero_grad``, ``backward``, ``clip_grad_norm_``, ``step``) for every
    architecture.

    The flat buffer is used only when every trained tensor has the same dtype and device and
    receives a gradient at the first step; otherwise the optimizer acts on the separate
    tensors (the plain loop). :meth:`release` gives the parameters their own storage back
    (before the model is handed to callbacks or checkpointed). ``clip=False``: the caller
    clips the ``.grad`` tensors itself before :meth:`step` (the seed-batched loop clips each
    run on its own).
    """

    def __init__(self, parameters: Sequence[torch.Tensor], budget, *, clip: bool = True) -> None:
        self.parameters = list(parameters)
        self.budget = budget
        self.max_norm = (None if budget.grad_clip is None or not clip
                         else float(budget.grad_clip))
        self.optimizer: torch.optim.Optimizer | None = None
        self.flat: torch.Tensor | None = None

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    def _start(self, grads: list[torch.Tensor | None]) -> None:
        params = self.parameters
        uniform = (params and all(g is not None for g in grads)
                   and len({(p.dtype, p.device) for p in params}) == 1
                   and all(p.layout == torch.strided and not p.is_complex() for p in params))
        if not uniform:
            self.optimizer = _make_optimizer(self.budget, params)
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in params])
            offset = 0
            for p in params:
                p.data = flat[offset:offset + p.numel()].view_as(p)
                offset += p.numel()
        flat.grad = torch.zeros_like(flat)
        self.flat = flat
        self.optimizer = _make_optimizer(self.budget, [flat])

    @torch.no_grad()
    def step(self) -> None:
        """Clip (when the budget says so) and update, from the parameters' ``.grad``."""
        grads = [p.grad for p in self.parameters]
        if self.optimizer is None:
            self._start(grads)
        optimizer = cast(torch.optim.Optimizer, self.optimizer)
        flat = self.flat
        if flat is None:
            if self.max_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.parameters, self.max_norm)
            optimizer.step()
            return
        flat_grad = cast(torch.Tensor, flat.grad)
        present = [g if g is not None else torch.zeros_like(p)
                   for g, p in zip(grads, self.parameters)]
        torch.cat([g.reshape(-1) for g in present], out=flat_grad)
        if self.max_norm is not None:
            flat_grad.mul_(clip_coefficient([g for g in grads if g is not None], self.max_norm))
        optimizer.step()

    def release(self) -> None:
        """Give every parameter its own storage again (the values unchanged)."""
        if self.flat is not None:
            with torch.no_grad():
                for p in self.parameters:
                    p.data = p.data.clone()
            self.flat = None


class RunState:
    """One run's data, model and bookkeeping, shared by :func:`fit` and the seed-batched
    :func:`entangled.batched.fit_batch` (which differ only in how a step is computed).

    On construction: the task with its validation split (per seed), the model built from
    ``seed``, the initial metric snapshot and the evaluation at step 0. Then, per step:
    :meth:`next_batch` (the seed's own permutation of the training set per epoch, consumed
    in order), :meth:`check_loss` and :meth:`after_step` (evaluation every ``eval_every``
    steps, best-validation checkpoint, early stopping). :meth:`finish` restores the best
    checkpoint, reads the test set once and returns the :class:`RunResult`.
    """

    def __init__(self, spec: RunSpec, callbacks: Sequence[Any] = ()) -> None:
        from entangled.tasks import load_task
        from entangled.tasks.validation import with_validation

        self.start = time.perf_counter()
        self.spec, self.callbacks = spec, callbacks
        self.budget = budget = spec.budget
        self.device = device = resolve_device(budget.device)
        self.task = task = with_validation(
            load_task(spec.task.name, seed=spec.seed, **dict(spec.task.options)), spec.seed)
        self.x_train, self.y_train = task.x_train.to(device), task.y_train.to(device)
        assert task.x_val is not None and task.y_val is not None  # with_validation made them
        self.x_val, self.y_val = task.x_val.to(device), task.y_val.to(device)
        self.model = model = build_for(spec, task, device)
        model.train()
        self.n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        self.steps = planned_steps(spec, task.n_train)
        # the metrics are diagnostics on validation examples (the test set is read once)
        self.x_metric, self.y_metric = self.x_val[:METRICS_BATCH], self.y_val[:METRICS_BATCH]
        self.metrics: dict[str, Any] = {}
        if budget.metrics:
            self.metrics["init"] = _snapshot(model, task, self.x_metric, self.y_metric)
            model.train()
            model.zero_grad(set_to_none=True)
        self.curves = Curves()
        self.best = _BestCheckpoint()
        self.generator = torch.Generator().manual_seed(spec.seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.cursor = 0
        self.status, self.steps_done = "ok", 0
        self.diverged_at: int | None = None
        self.running, self.running_n = 0.0, 0
        self.pending: list[torch.Tensor] = []  # losses not yet read (after_step_deferred)
        self.wall_time_s: float | None = None  # set by a batched run (its share of the time)
        self.record(0, None)

    def record(self, step: int, train_loss: float | None) -> None:
        """Evaluate on the validation split and offer the model to the best checkpoint."""
        val_loss, val_acc = evaluate(self.model, self.task, self.x_val, self.y_val)
        curves = self.curves
        curves.step.append(step)
        curves.train_loss.append(train_loss)
        curves.val_loss.append(val_loss)
        curves.val_accuracy.append(val_acc)
        self.best.offer(step, val_loss, val_acc, self.model)
        dispatch(self.callbacks, "on_evaluation", step,
                 {"train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_acc},
                 self.model)

    def next_batch(self) -> torch.Tensor:
        """Indices of the next mini-batch (a fresh permutation per epoch)."""
        batch_size, n_train = self.budget.batch_size, self.task.n_train
        if self.cursor + batch_size > self.order.numel():
            if n_train <= batch_size:
                self.order, self.cursor = torch.arange(n_train), 0
            else:
                self.order, self.cursor = torch.randperm(n_train, generator=self.generator), 0
        idx = self.order[self.cursor:self.cursor + batch_size].to(self.device)
        self.cursor += batch_size
        return idx

    def check_loss(self, step: int, loss_value: float) -> bool:
        """``False`` (and the run marked diverged at ``step``) when the loss is not finite."""
        if math.isfinite(loss_value):
            return True
        self.status, self.diverged_at = "diverged", step
        return False

    def evaluation_due(self, step: int) -> bool:
        return step % self.budget.eval_every == 0 or step == self.steps

    def after_step(self, step: int, loss_value: float) -> bool:
        """Account for a completed optimizer step; evaluate when due. ``False`` when the run
        is over (last step, or early stopping). A batched run brings :attr:`model` up to
        date before calling this on an evaluation step."""
        self.steps_done = step
        self.running += loss_value
        self.running_n += 1
        if self.evaluation_due(step):
            self.record(step, self.running / self.running_n)
            self.running, self.running_n = 0.0, 0
            if self.budget.patience is not None and self.best.stale >= self.budget.patience:
                return False
        return step < self.steps

    def after_step_deferred(self, step: int, loss: torch.Tensor) -> bool:
        """:meth:`check_loss` and :meth:`after_step` with ``loss`` left where it is (no host
        synchronisation per step): the losses since the last evaluation are read, in one
        transfer, when an evaluation is due (or the last step is reached), and then go
        through :meth:`check_loss` and :meth:`after_step` step by step, in order. A
        non-finite loss ends the run as diverged at its own step, with the same result as
        checking every step (the steps trained past it are not read: a diverged run keeps
        neither its parameters nor an evaluation after its last finite loss)."""
        self.pending.append(loss.detach())
        if not self.evaluation_due(step):
            return True
        values = torch.stack(self.pending).tolist()
        self.pending = []
        first = step - len(values) + 1
        for offset, value in enumerate(values):
            if not (self.check_loss(first + offset, value)
                    and self.after_step(first + offset, value)):
                return False
        return True

    def finish(self) -> RunResult:
        """Restore the best checkpoint, read the test set once, and build the result."""
        from entangled.metrics import steps_to_threshold
        from entangled.tasks import task_entry

        spec, task, model, device, curves = self.spec, self.task, self.model, self.device, self.curves
        train_loss = train_acc = test_loss = test_acc = val_acc = selected = None
        if self.status == "ok":
            self.best.restore(model)
            train_loss, train_acc = evaluate(model, task, self.x_train, self.y_train)
            test_loss, test_acc = evaluate(model, task, task.x_test.to(device),
                                           task.y_test.to(device))
            val_acc, selected = self.best.accuracy, self.best.step
            if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
                self.status, self.diverged_at = "diverged", self.steps_done
        if self.status == "diverged":
            train_loss = train_acc = test_loss = test_acc = val_acc = selected = None
            if self.running_n:
                curves.step.append(self.steps_done)
                curves.train_loss.append(self.running / self.running_n)
                curves.val_loss.append(None)
                curves.val_accuracy.append(None)
        if self.budget.metrics:
            self.metrics["final"] = (_snapshot(model, task, self.x_metric, self.y_metric)
                                     if self.status == "ok" else None)
        wall = self.wall_time_s if self.wall_time_s is not None else time.perf_counter() - self.start
        result = RunResult(
            spec=spec, config_hash=config_hash(spec), status=RunStatus(self.status),
            steps_done=self.steps_done, steps_planned=self.steps, diverged_at=self.diverged_at,
            train_accuracy=train_acc, train_loss=train_loss, test_accuracy=test_acc,
            test_loss=test_loss, chance_accuracy=float(task.chance_accuracy),
            memoryless_accuracy=float(task.memoryless_accuracy),
            time_structure=task_entry(spec.task.name).time_structure, input_kind=task.kind,
            skip_width=model_skip_width(model),
            curves=Curves(**finite_or_none(dataclasses.asdict(curves))), metrics=self.metrics,
            n_parameters=int(self.n_params), device=str(device.type),
            threads=torch.get_num_threads(), torch_version=torch.__version__,
            validation_accuracy=val_acc, selected_step=selected,
            steps_to_threshold=(steps_to_threshold(curves.step, curves.val_accuracy)
                                if self.status == "ok" else None),
            wall_time_s=wall, environment=environment(),
        )
        dispatch(self.callbacks, "on_end", result, model)
        return result


class _BestCheckpoint:
    """The model state with the highest validation accuracy seen so far (the earliest one on
    ties), and how many evaluations have passed since it improved."""

    def __init__(self) -> None:
        self.accuracy, self.step, self.stale = -math.inf, 0, 0
        self.state: dict[str, Any] | None = None

    def offer(self, step: int, loss: float, accuracy: float, model: torch.nn.Module) -> None:
        if math.isfinite(loss) and accuracy > self.accuracy:
            self.accuracy, self.step, self.stale = accuracy, step, 0
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1

    def restore(self, model: torch.nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)
