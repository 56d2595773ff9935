"""The :class:`TaskData` container shared by every task.

Every task is either **classification** (``targets`` are integer class indices of shape
``(N,)``, or ``(N, heads)`` for tasks with several answers such as copy memory; the model
outputs ``heads * num_classes`` logits) or **regression** (``targets`` are floats of shape
``(N,)``; the model outputs one number). :meth:`TaskData.loss` and :meth:`TaskData.accuracy`
hide the difference so that the training loop treats every task alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from entangled.errors import EntangledError, InvalidParameterError
from entangled.registry import Registry

KINDS = ("image", "signal", "patches", "sequence")
#: ``static``: no time axis (an image, a 1-D signal, a set of patches); the loaded data of the
#: digits and MNIST-1D signal tasks says ``"none"`` for the same thing
TIME_STRUCTURES = ("time-variant", "time-invariant", "static")
ENTRY_POINT_GROUP = "entangled.tasks"


@dataclass
class TaskData:
    """A loaded task: tensors, shapes, loss/accuracy and documented baselines.

    Attributes
    ----------
    name : task name as given to :func:`entangled.tasks.load_task`.
    kind : ``"image"`` (``(1, 8, 8)``), ``"signal"`` (1-D, ``(C, L)``), ``"patches"``
        (``(P, D)``) or ``"sequence"`` (``(T, D)``).
    x_train, y_train, x_test, y_test : float32 inputs; int64 class targets (classification) or
        float32 targets (regression).
    input_shape : shape of one example (without the batch axis).
    output_dim : number of model outputs (``heads * num_classes`` or 1 for regression).
    target_type : ``"classification"`` or ``"regression"``.
    num_classes : classes per head (0 for regression).
    heads : number of answers per example (copy memory: one per copied symbol).
    chance_accuracy : accuracy of the best constant prediction.
    memoryless_accuracy : accuracy of the best predictor that sees only the last time step
        (last pixel for images, last patch for patches).
    time_structure : ``"time-variant"``, ``"time-invariant"`` or ``"none"``.
    description : input, target, chance level and memoryless baseline in words.
    tolerance : regression only: a prediction counts as correct if ``|error| < tolerance``.
    options : the task options actually used (defaults filled in), JSON-serialisable.
    x_val, y_val : the validation split, carved from the training data (never from the test
        set) and resampled per seed; ``None`` when the loader provides none
        (:func:`entangled.tasks.validation.with_validation` carves one).
    """

    name: str
    kind: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]
    output_dim: int
    chance_accuracy: float
    memoryless_accuracy: float
    time_structure: str
    description: str
    target_type: str = "classification"
    num_classes: int = 0
    heads: int = 1
    tolerance: float = 0.04
    options: dict[str, Any] = field(default_factory=dict)
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    # ------------------------------------------------------------------ loss / accuracy
    def _logits(self, outputs: torch.Tensor) -> torch.Tensor:
        """Reshape ``(B, heads * classes)`` outputs to ``(B, heads, classes)``."""
        return outputs.reshape(outputs.shape[0], self.heads, self.num_classes)

    def _targets(self, targets: torch.Tensor) -> torch.Tensor:
        return targets.reshape(targets.shape[0], self.heads)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over examples and heads, or mean squared error (regression)."""
        if self.target_type == "regression":
            return F.mse_loss(outputs.reshape(-1), targets.reshape(-1).to(outputs.dtype))
        logits = self._logits(outputs)
        return F.cross_entropy(logits.reshape(-1, self.num_classes),
                               self._targets(targets).reshape(-1))

    def correct(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Boolean tensor of correct answers (one per example and head)."""
        if self.target_type == "regression":
            return (outputs.reshape(-1) - targets.reshape(-1).to(outputs.dtype)).abs() < self.tolerance
        return self._logits(outputs).argmax(dim=-1) == self._targets(targets)

    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction of correct answers (per symbol for copy memory; ``|error| < tolerance``
        for regression)."""
        with torch.no_grad():
            return float(self.correct(outputs, targets).float().mean().item())

    # ------------------------------------------------------------------ helpers
    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def n_val(self) -> int:
        return 0 if self.x_val is None else int(self.x_val.shape[0])

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description (no tensors)."""
        return {
            "name": self.name, "kind": self.kind, "input_shape": list(self.input_shape),
            "output_dim": self.output_dim, "target_type": self.target_type,
            "num_classes": self.num_classes, "heads": self.heads,
            "n_train": self.n_train, "n_val": self.n_val, "n_test": self.n_test,
            "chance_accuracy": self.chance_accuracy,
            "memoryless_accuracy": self.memoryless_accuracy,
            "time_structure": self.time_structure, "options": dict(self.options),
            "description": self.description,
        }


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Task:
    """One registered task.

    Attributes
    ----------
    name : the name used by ``load_task``, ``RunConfig(task=...)`` and ``--task``.
    kind : input kind, one of :data:`KINDS` (which architectures accept it).
    time_structure : one of :data:`TIME_STRUCTURES`.
    chance : the chance level: a number, or ``chance(options) -> float`` for tasks whose
        chance depends on their options (or on the data).
    load : ``load(seed=..., **options) -> TaskData`` with the options' defaults filled in.
    options : the task's options as :class:`~entangled.mappings.params.Param` objects.
    check_options : ``check_options(options) -> options`` with defaults filled in (raises on
        a bad value); default: check each option against its ``Param``.
    summary : one line for listings.
    """

    name: str
    kind: str
    time_structure: str
    chance: float | Callable[[dict], float]
    load: Callable[..., TaskData]
    options: tuple = ()
    check_options: Callable[[dict], dict] | None = None
    summary: str = ""

    def resolve_options(self, options: dict | None) -> dict[str, Any]:
        """``options`` validated, with every default filled in."""
        options = dict(options or {})
        known = {p.name: p for p in self.options}
        for key in options:
            if key not in known:
                allowed = (f"options of task {self.name!r}: " + ", ".join(known) if known
                           else f"none (the task {self.name!r} takes no options)")
                raise InvalidParameterError("task option", key, allowed)
        if self.check_options is not None:
            return dict(self.check_options(options))
        return {p.name: p.check(options.get(p.name, p.default), context=f"task {self.name}")
                for p in self.options}


def _task_of_plugin(name: str, loaded: Any) -> Task | None:
    return loaded if isinstance(loaded, Task) else None


#: The registered tasks by name (built-ins first, then plug-ins).
TASK_REGISTRY: Registry[Task] = Registry(
    "task", group=ENTRY_POINT_GROUP, parameter="task", from_plugin=_task_of_plugin,
    identity=lambda entry: entry.load)


def register_task(name: str, *, kind: str, time_structure: str,
                  chance: float | Callable[[dict], float], load: Callable[..., TaskData],
                  options: Sequence = (), check_options: Callable[[dict], dict] | None = None,
                  summary: str = "") -> Task:
    """Register a task under ``name`` and return its :class:`Task`.

    A third-party package calls this from a module named by an entry point in the group
    ``entangled.tasks`` (or the entry point names a :class:`Task` object).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidParameterError("task name", name, "a non-empty identifier")
    if kind not in KINDS:
        raise InvalidParameterError("kind", kind, "one of " + ", ".join(KINDS),
                                    context=f"task {name!r}")
    if time_structure not in TIME_STRUCTURES:
        raise InvalidParameterError("time_structure", time_structure,
                                    "one of " + ", ".join(TIME_STRUCTURES), context=f"task {name!r}")
    return TASK_REGISTRY.register(name, Task(name, kind, time_structure, chance, load,
                                             tuple(options), check_options, summary))


def registered_tasks() -> list[str]:
    """Names of every registered task, in registration order (built-ins first)."""
    return TASK_REGISTRY.names()


def task_entry(name: Any) -> Task:
    """The registered :class:`Task` called ``name``, else an error listing them."""
    return TASK_REGISTRY.get(name)


def load_registered(name: str, *, seed: int = 0, **options: Any) -> TaskData:
    """Load task ``name`` with validated options; the data carries the declared
    ``kind`` and ``time_structure``."""
    entry = task_entry(name)
    resolved = entry.resolve_options(options)
    data = entry.load(seed=seed, **resolved)
    if data.kind != entry.kind:
        raise EntangledError(f"task {name!r} declares input kind {entry.kind!r} but loaded "
                             f"{data.kind!r} data")
    return dataclasses.replace(data, time_structure=entry.time_structure)
