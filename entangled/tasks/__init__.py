"""Offline, seeded tasks: scikit-learn's digits, MNIST-1D and generated sequence tasks.

>>> from entangled.tasks import load_task, task_names
>>> task = load_task("delayed_recall", seed=0, n_train=100, n_test=20)
>>> task.x_train.shape, task.output_dim, task.time_structure
(torch.Size([100, 20, 8]), 8, 'time-variant')

========================  ========  ===========  ===============  ==========================
task                      kind      input        time structure   chance / memoryless
========================  ========  ===========  ===============  ==========================
digits                    image     (1, 8, 8)    none             0.102 / 0.127 (last pixel)
digits_patches            patches   (16, 4)      none             0.102 / 0.244 (last patch)
digits_sequence           sequence  (64, 1)      time-variant     0.102 / 0.127
digits_permuted           sequence  (64, 1)      time-variant     0.102 / 0.249
delayed_recall            sequence  (20, 8)      time-variant     1/8 / 1/8
copy_memory               sequence  (17, 10)     time-variant     1/8 / 1/8 (per symbol)
counting                  sequence  (20, 4)      time-invariant   1/6 / 0.2083
majority                  sequence  (20, 2)      time-invariant   1/2 / 0.6069
parity                    sequence  (12, 2)      time-invariant   1/2 / 1/2
adding                    sequence  (20, 2)      time-invariant   0.0784 / 0.0785 (|err|<0.04)
mnist1d                   signal    (1, 40)      none             0.089 / 0.085 (last sample)
mnist1d_shuffled          signal    (1, 40)      none             0.089 / 0.108 (last sample)
mnist1d_sequence          sequence  (40, 1)      time-variant     0.089 / 0.085
mnist1d_shuffled_sequence sequence  (40, 1)      time-variant     0.089 / 0.108
========================  ========  ===========  ===============  ==========================
"""

from __future__ import annotations

from typing import Any

from entangled.errors import InvalidParameterError
from entangled.mappings.params import check_seed
from entangled.tasks.base import KINDS, TIME_STRUCTURES, TaskData
from entangled.tasks.digits import DIGITS_TASKS, load_digits_task
from entangled.tasks.mnist1d import MNIST1D_TASKS, load_mnist1d_task
from entangled.tasks.mnist1d import OPTIONS as MNIST1D_OPTIONS
from entangled.tasks.sequences import F3_LENGTHS, F3_TIME_INVARIANT, F3_TIME_VARIANT, OPTIONS, \
    SEQUENCE_TASKS, TIME_INVARIANT, TIME_VARIANT, f3_task_grid, load_sequence_task, target_function

__all__ = ["KINDS", "TIME_STRUCTURES", "TaskData", "load_task", "task_kind", "task_names",
           "task_options", "target_function", "TIME_VARIANT", "TIME_INVARIANT", "F3_LENGTHS",
           "F3_TIME_INVARIANT", "F3_TIME_VARIANT", "f3_task_grid"]

_KIND = {"digits": "image", "digits_patches": "patches", "digits_sequence": "sequence",
         "digits_permuted": "sequence", **{name: "sequence" for name in SEQUENCE_TASKS},
         **{name: "sequence" if name.endswith("_sequence") else "signal"
            for name in MNIST1D_TASKS}}


def task_names() -> list[str]:
    """Names of all tasks, digits variants first, then the generated sequence tasks."""
    return list(DIGITS_TASKS) + list(SEQUENCE_TASKS) + list(MNIST1D_TASKS)


def check_task_name(name: Any) -> str:
    """Return ``name`` if it is a known task, else raise InvalidParameterError listing them."""
    if not isinstance(name, str) or name not in _KIND:
        raise InvalidParameterError("task", name, "one of " + ", ".join(task_names()))
    return name


def task_kind(name: str) -> str:
    """``"image"``, ``"signal"``, ``"patches"`` or ``"sequence"``: the input kind of ``name``."""
    return _KIND[check_task_name(name)]


def task_options(name: str) -> dict[str, Any]:
    """The options of task ``name`` with their defaults (empty for the digits tasks)."""
    check_task_name(name)
    return {p.name: p.default for p in {**OPTIONS, **MNIST1D_OPTIONS}.get(name, ())}


def load_task(name: str, *, seed: int = 0, **options: Any) -> TaskData:
    """Load task ``name``.

    Parameters
    ----------
    name : one of :func:`task_names`.
    seed : seed of the generated tasks and of the digits' train/validation/test split (the
        digits' pixel permutation is fixed).
    **options : task options (see :func:`task_options`); unknown options raise.
    """
    check_task_name(name)
    seed = check_seed(seed, context=f"task {name}")
    if name in DIGITS_TASKS:
        if options:
            raise InvalidParameterError("option", next(iter(options)),
                                        "none (the digits tasks take no options)",
                                        context=f"task {name}")
        return load_digits_task(name, seed=seed)
    if name in MNIST1D_TASKS:
        return load_mnist1d_task(name, **options)
    return load_sequence_task(name, seed=seed, **options)
