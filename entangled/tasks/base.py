"""The :class:`TaskData` container shared by every task.

Every task is either **classification** (``targets`` are integer class indices of shape
``(N,)``, or ``(N, heads)`` for tasks with several answers such as copy memory; the model
outputs ``heads * num_classes`` logits) or **regression** (``targets`` are floats of shape
``(N,)``; the model outputs one number). :meth:`TaskData.loss` and :meth:`TaskData.accuracy`
hide the difference so that the training loop treats every task alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

KINDS = ("image", "signal", "patches", "sequence")
TIME_STRUCTURES = ("time-variant", "time-invariant", "none")


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

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """Class indices ``(B,)``/``(B, heads)``, or the regression values ``(B,)``."""
        if self.target_type == "regression":
            return outputs.reshape(-1)
        pred = self._logits(outputs).argmax(dim=-1)
        return pred.reshape(-1) if self.heads == 1 else pred

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
