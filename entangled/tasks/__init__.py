"""Offline, seeded tasks: the 8x8 handwritten digits, MNIST-1D and generated sequence tasks.

>>> from entangled.tasks import load_task, task_names
>>> task = load_task("delayed_recall", seed=0, n_train=100, n_test=20)
>>> task.x_train.shape, task.output_dim, task.time_structure
(torch.Size([100, 20, 8]), 8, 'time-variant')

========================  ========  ===========  ===============  ==========================
task                      kind      input        time structure   chance / memoryless
========================  ========  ===========  ===============  ==========================
digits                    image     (1, 8, 8)    static           0.102 / 0.127 (last pixel)
digits_patches            patches   (16, 4)      static           0.102 / 0.244 (last patch)
digits_sequence           sequence  (64, 1)      time-variant     0.102 / 0.127
digits_permuted           sequence  (64, 1)      time-variant     0.102 / 0.249
delayed_recall            sequence  (20, 8)      time-variant     1/8 / 1/8
copy_memory               sequence  (17, 10)     time-variant     1/8 / 1/8 (per symbol)
counting                  sequence  (20, 4)      time-invariant   1/6 / 0.2083
majority                  sequence  (20, 2)      time-invariant   1/2 / 0.6069
parity                    sequence  (12, 2)      time-invariant   1/2 / 1/2
adding                    sequence  (20, 2)      time-invariant   0.0784 / 0.0785 (|err|<0.04)
mnist1d                   signal    (1, 40)      static           0.089 / 0.085 (last sample)
mnist1d_shuffled          signal    (1, 40)      static           0.089 / 0.108 (last sample)
mnist1d_sequence          sequence  (40, 1)      time-variant     0.089 / 0.085
mnist1d_shuffled_sequence sequence  (40, 1)      time-variant     0.089 / 0.108
mnist1d_patches           patches   (10, 4)      static           0.089 / 0.085 (last sample)
========================  ========  ===========  ===============  ==========================
"""

from __future__ import annotations

from typing import Any, Callable

from entangled.mappings.params import check_seed
from entangled.tasks.base import (KINDS, TIME_STRUCTURES, Task, TaskData, load_registered,
                                  register_task, registered_tasks, task_entry)
from entangled.tasks import char_lm
from entangled.tasks.digits import DIGITS_TASKS, load_digits_task
from entangled.tasks.mnist1d import MNIST1D_TASKS, load_mnist1d_task
from entangled.tasks.mnist1d import check_options as check_mnist1d_options
from entangled.tasks.mnist1d import OPTIONS as MNIST1D_OPTIONS
from entangled.tasks.sequences import F3_LENGTHS, F3_TIME_INVARIANT, F3_TIME_VARIANT, OPTIONS, \
    SEQUENCE_TASKS, TIME_INVARIANT, TIME_VARIANT, check_options, f3_task_grid, levels, \
    load_sequence_task, target_function

__all__ = ["KINDS", "TIME_STRUCTURES", "Task", "TaskData", "load_task", "register_task",
           "task_entry", "task_kind", "task_names", "task_options", "target_function",
           "TIME_VARIANT", "TIME_INVARIANT", "F3_LENGTHS", "F3_TIME_INVARIANT",
           "F3_TIME_VARIANT", "f3_task_grid"]

_DIGITS = {"digits": ("image", "static"), "digits_patches": ("patches", "static"),
           "digits_sequence": ("sequence", "time-variant"),
           "digits_permuted": ("sequence", "time-variant")}


def _digits_loader(name: str):
    def load(*, seed: int = 0):
        return load_digits_task(name, seed=seed)
    load.__qualname__ = f"load_{name}"
    return load


def _sequence_loader(name: str):
    def load(*, seed: int = 0, **options):
        return load_sequence_task(name, seed=seed, **options)
    load.__qualname__ = f"load_{name}"
    return load


def _mnist1d_loader(name: str):
    def load(*, seed: int = 0, **options):  # the data seed is an option (data_seed)
        return load_mnist1d_task(name, **options)
    load.__qualname__ = f"load_{name}"
    return load


def _option_function(function: Callable[[str, dict], Any], name: str) -> Callable[[dict], Any]:
    """``function(name, options)`` as a function of the options alone (one per task)."""
    return lambda options: function(name, options)


for _name in DIGITS_TASKS:
    register_task(_name, kind=_DIGITS[_name][0], time_structure=_DIGITS[_name][1],
                  chance=_option_function(lambda n, o: load_digits_task(n).chance_accuracy, _name),
                  load=_digits_loader(_name), summary="8x8 digits (UCI, shipped), split resampled per seed")
for _name in SEQUENCE_TASKS:
    register_task(_name, kind="sequence",
                  time_structure="time-variant" if _name in TIME_VARIANT else "time-invariant",
                  chance=_option_function(lambda n, o: levels(n, o)[0], _name),
                  load=_sequence_loader(_name), options=OPTIONS[_name],
                  check_options=_option_function(check_options, _name),
                  summary="generated sequence task")
register_task("char_lm", kind="sequence", time_structure="time-variant",
              chance=lambda o: char_lm.chance_level(o), load=char_lm.load_char_lm,
              options=char_lm.OPTIONS, check_options=char_lm.check_options,
              summary="next character of a generated English-like corpus (tiny LM)")
for _name in MNIST1D_TASKS:
    _sequence = _name.endswith("_sequence")
    register_task(_name, kind=("sequence" if _sequence else
                               "patches" if _name == "mnist1d_patches" else "signal"),
                  time_structure="time-variant" if _sequence else "static",
                  chance=_option_function(lambda n, o: load_mnist1d_task(n, **o).chance_accuracy, _name),
                  load=_mnist1d_loader(_name), options=MNIST1D_OPTIONS[_name],
                  check_options=_option_function(check_mnist1d_options, _name),
                  summary="MNIST-1D (generated offline)")


def task_names() -> list[str]:
    """Names of all tasks: digits variants, generated sequence tasks, MNIST-1D, then plugins."""
    return registered_tasks()


def check_task_name(name: Any) -> str:
    """Return ``name`` if it is a registered task, else raise InvalidParameterError listing them."""
    return task_entry(name).name


def task_kind(name: str) -> str:
    """``"image"``, ``"signal"``, ``"patches"`` or ``"sequence"``: the input kind of ``name``."""
    return task_entry(name).kind


def task_options(name: str) -> dict[str, Any]:
    """The options of task ``name`` with their defaults (empty for the digits tasks)."""
    return {p.name: p.default for p in task_entry(name).options}


def load_task(name: str, *, seed: int = 0, **options: Any) -> TaskData:
    """Load task ``name``.

    Parameters
    ----------
    name : one of :func:`task_names`.
    seed : seed of the generated tasks and of the digits' train/validation/test split (the
        digits' pixel permutation is fixed; MNIST-1D's data come from its ``data_seed``).
    **options : task options (see :func:`task_options`); unknown options raise.
    """
    entry = task_entry(name)
    seed = check_seed(seed, context=f"task {name}")
    return load_registered(entry.name, seed=seed, **options)
