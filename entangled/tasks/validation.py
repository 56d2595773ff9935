"""A validation split for every task, carved from its training data per seed.

Model selection (learning rate, stopping step) reads the validation split only; the test set
is read once. A loader that provides its own validation split (the digits tasks: a stratified
split resampled per seed) keeps it; for any other task :func:`with_validation` carves
``fraction`` of the training examples, chosen by a generator seeded with ``(seed, 2)`` —
stratified by class for single-answer classification tasks (every class keeps its proportion
in both parts), uniformly otherwise — so the same seed always gives the same split and the
test set is never touched.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from entangled.errors import InvalidParameterError
from entangled.tasks.base import TaskData

VALIDATION_FRACTION = 0.2
VALIDATION_STREAM = 2  # the generator of the carve is default_rng([seed, 2])


def validation_indices(labels: np.ndarray | None, n: int, fraction: float,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)`` indices of ``range(n)``: ``round(fraction * n)`` validation
    examples (at least 1, at most ``n - 1``), stratified by ``labels`` when given (each class
    contributes ``round(fraction * count)``, the remainder filled at random)."""
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise InvalidParameterError("fraction", fraction, "a number strictly between 0 and 1")
    if n < 2:
        raise InvalidParameterError("n_train", n, "at least 2 examples to carve a validation set")
    rng = np.random.default_rng([int(seed), VALIDATION_STREAM])
    want = min(n - 1, max(1, int(round(fraction * n))))
    if labels is None:
        chosen = rng.permutation(n)[:want]
    else:
        picked = []
        for cls in np.unique(labels):
            members = np.flatnonzero(labels == cls)
            take = int(math.floor(fraction * len(members) + 0.5))
            picked.append(rng.permutation(members)[:take])
        chosen = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
        if len(chosen) > want:
            chosen = rng.permutation(chosen)[:want]
        elif len(chosen) < want:
            rest = np.setdiff1d(np.arange(n), chosen)
            chosen = np.concatenate([chosen, rng.permutation(rest)[:want - len(chosen)]])
    val = np.sort(chosen)
    train = np.setdiff1d(np.arange(n), val)
    return train, val


def carve_validation(task: TaskData, seed: int, fraction: float = VALIDATION_FRACTION) -> TaskData:
    """A copy of ``task`` whose training examples are split into train and validation."""
    stratify = task.target_type == "classification" and task.y_train.ndim == 1
    labels = task.y_train.cpu().numpy() if stratify else None
    train, val = validation_indices(labels, task.n_train, fraction, seed)
    tr, va = torch.from_numpy(train), torch.from_numpy(val)
    return dataclasses.replace(task, x_train=task.x_train[tr], y_train=task.y_train[tr],
                               x_val=task.x_train[va], y_val=task.y_train[va])


def with_validation(task: TaskData, seed: int, fraction: float = VALIDATION_FRACTION) -> TaskData:
    """``task`` itself when it has a validation split, else :func:`carve_validation`."""
    if task.x_val is not None and task.y_val is not None:
        return task
    return carve_validation(task, seed, fraction)
