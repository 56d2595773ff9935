"""Generated sequence tasks that separate time-variant from time-invariant structure.

Every task draws its train and test sets from independent, seeded numpy generators
(``default_rng([seed, 0])`` and ``default_rng([seed, 1])``), so the same ``seed`` and options
give the same tensors. Symbols are one-hot encoded; a sequence of length ``T`` with ``D``
input channels has shape ``(T, D)``.

**Time-variant** (the answer depends on *when* something happened; permuting the time steps
of an example changes its answer):

``delayed_recall``
    Input: ``length`` uniformly random symbols out of ``symbols``, one-hot ``(T, K)``.
    Target: the symbol seen ``delay`` steps before the end, ``s[T - 1 - delay]``.
    Chance ``1/K``; memoryless baseline ``1/K`` (the last symbol is independent of the target).
``copy_memory``
    Input: ``copy_length`` random symbols, then ``delay`` blanks, then a *go* marker;
    one-hot over ``K + 2`` channels (``K`` symbols, blank, go), ``T = copy_length + delay + 1``.
    Target: the ``copy_length`` symbols in order (one classification head per symbol,
    ``output_dim = copy_length * K``; accuracy is per symbol). Chance ``1/K``; memoryless
    ``1/K`` (the last input is always *go*).

**Time-invariant** (the answer is a function of the multiset of inputs; permuting the time
steps never changes it):

``counting``
    Input: ``length`` symbols out of ``symbols``; symbol 0 is the marker. The number of markers
    ``c`` is drawn uniformly from ``0..max_count`` and placed at random positions; the other
    steps hold non-marker symbols. Target: ``c`` (``C = max_count + 1`` classes). Chance ``1/C``;
    memoryless ``(1 + (C - 1) / T) / C`` (seeing a marker last, answer ``C - 1``; else ``0``).
``parity``
    Input: ``length`` uniform random bits, one-hot ``(T, 2)``. Target: the number of ones mod 2.
    Chance ``1/2``; memoryless ``1/2`` (the last bit is independent of the parity).
``adding``
    Input ``(T, 2)``: channel 0 uniform values in [0, 1], channel 1 marks two distinct random
    steps. Target: the sum of the two marked values (regression, MSE loss; a prediction is
    *correct* if ``|error| < tolerance = 0.04``). Chance (best constant, 1.0):
    ``1 - (1 - tol)^2 = 0.0784``; memoryless: ``(2/T) * 2 tol + (1 - 2/T) (1 - (1 - tol)^2)``
    (a marked last step gives ``v + U(0, 1)``; guess ``v + 0.5``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from entangled.errors import InvalidParameterError
from entangled.mappings.params import Param
from entangled.tasks.base import TaskData

ADDING_TOLERANCE = 0.04

_COMMON = (
    Param("n_train", "int", 2000, low=1, high=10**7, doc="training examples"),
    Param("n_test", "int", 500, low=1, high=10**7, doc="test examples"),
)

OPTIONS: dict[str, tuple[Param, ...]] = {
    "delayed_recall": _COMMON + (
        Param("length", "int", 20, low=2, high=10**5, doc="sequence length T"),
        Param("symbols", "int", 8, low=2, high=1000, doc="alphabet size K"),
        Param("delay", "int", 5, low=1, high=10**5, doc="steps before the end (< length)"),
    ),
    "copy_memory": _COMMON + (
        Param("copy_length", "int", 4, low=1, high=1000, doc="symbols to copy"),
        Param("symbols", "int", 8, low=2, high=1000, doc="alphabet size K"),
        Param("delay", "int", 12, low=0, high=10**5, doc="blank steps before the go marker"),
    ),
    "counting": _COMMON + (
        Param("length", "int", 20, low=1, high=10**5, doc="sequence length T"),
        Param("symbols", "int", 4, low=2, high=1000, doc="alphabet size K (symbol 0 = marker)"),
        Param("max_count", "int", 5, low=1, high=10**5, doc="largest count (<= length)"),
    ),
    "parity": _COMMON + (
        Param("length", "int", 12, low=1, high=10**5, doc="sequence length T"),
    ),
    "adding": _COMMON + (
        Param("length", "int", 20, low=2, high=10**5, doc="sequence length T"),
    ),
}
SEQUENCE_TASKS = tuple(OPTIONS)
TIME_VARIANT = ("delayed_recall", "copy_memory")
TIME_INVARIANT = ("counting", "parity", "adding")


def check_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate ``options`` of task ``name``; return them with defaults filled in."""
    specs = {p.name: p for p in OPTIONS[name]}
    for key in options:
        if key not in specs:
            raise InvalidParameterError("option", key, f"options of task {name!r}: "
                                        + ", ".join(specs), context=f"task {name}")
    out = {p.name: p.check(options.get(p.name, p.default), context=f"task {name}")
           for p in specs.values()}
    if name == "delayed_recall" and out["delay"] >= out["length"]:
        raise InvalidParameterError("delay", out["delay"], f"an integer in [1, length - 1 = "
                                    f"{out['length'] - 1}]", context=f"task {name}")
    if name == "counting" and out["max_count"] > out["length"]:
        raise InvalidParameterError("max_count", out["max_count"], f"an integer in [1, length = "
                                    f"{out['length']}]", context=f"task {name}")
    return out


def _one_hot(tokens: np.ndarray, depth: int) -> np.ndarray:
    return np.eye(depth, dtype=np.float32)[tokens]


# ---------------------------------------------------------------------------- generators
def _delayed_recall(rng, n, o):
    tokens = rng.integers(0, o["symbols"], size=(n, o["length"]))
    return _one_hot(tokens, o["symbols"]), tokens[:, o["length"] - 1 - o["delay"]]


def _copy_memory(rng, n, o):
    k, m, d = o["symbols"], o["copy_length"], o["delay"]
    symbols = rng.integers(0, k, size=(n, m))
    tokens = np.concatenate([symbols, np.full((n, d), k), np.full((n, 1), k + 1)], axis=1)
    return _one_hot(tokens, k + 2), symbols


def _counting(rng, n, o):
    t, k, c_max = o["length"], o["symbols"], o["max_count"]
    counts = rng.integers(0, c_max + 1, size=n)
    tokens = rng.integers(1, k, size=(n, t))
    order = np.argsort(rng.random((n, t)), axis=1)  # a random permutation per example
    ranks = np.argsort(order, axis=1)
    tokens[ranks < counts[:, None]] = 0
    return _one_hot(tokens, k), counts


def _parity(rng, n, o):
    bits = rng.integers(0, 2, size=(n, o["length"]))
    return _one_hot(bits, 2), bits.sum(axis=1) % 2


def _adding(rng, n, o):
    t = o["length"]
    values = rng.random((n, t))
    marks = np.zeros((n, t))
    pos = np.argsort(rng.random((n, t)), axis=1)[:, :2]
    np.put_along_axis(marks, pos, 1.0, axis=1)
    x = np.stack([values, marks], axis=-1).astype(np.float32)
    return x, (x[..., 0] * x[..., 1]).sum(axis=1).astype(np.float32)


_GENERATORS: dict[str, Callable] = {
    "delayed_recall": _delayed_recall, "copy_memory": _copy_memory, "counting": _counting,
    "parity": _parity, "adding": _adding,
}


def target_function(name: str, options: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The target as a function of the inputs ``x`` of shape ``(N, T, D)`` (numpy).

    Used by the tests to check that time-variant targets change when the time steps are
    permuted while time-invariant ones do not.
    """
    o = check_options(name, options)
    if name == "delayed_recall":
        return lambda x: x[:, -1 - o["delay"]].argmax(-1)
    if name == "copy_memory":
        k = o["symbols"]

        def copy_target(x):
            tokens = x.argmax(-1)
            return np.stack([row[row < k][: o["copy_length"]] for row in tokens])
        return copy_target
    if name == "counting":
        return lambda x: (x.argmax(-1) == 0).sum(axis=1)
    if name == "parity":
        return lambda x: x.argmax(-1).sum(axis=1) % 2
    if name == "adding":
        return lambda x: (x[..., 0] * x[..., 1]).sum(axis=1)
    raise KeyError(name)


def levels(name: str, o: dict[str, Any]) -> tuple[float, float]:
    """Documented (chance, memoryless) accuracies of task ``name`` with options ``o``."""
    if name in ("delayed_recall", "copy_memory"):
        return 1.0 / o["symbols"], 1.0 / o["symbols"]
    if name == "counting":
        c = o["max_count"] + 1
        return 1.0 / c, (1.0 + (c - 1) / o["length"]) / c
    if name == "parity":
        return 0.5, 0.5
    if name == "adding":
        tol, t = ADDING_TOLERANCE, o["length"]
        const = 1.0 - (1.0 - tol) ** 2
        return const, (2.0 / t) * 2.0 * tol + (1.0 - 2.0 / t) * const
    raise KeyError(name)


def load_sequence_task(name: str, *, seed: int = 0, **options: Any) -> TaskData:
    """Generate sequence task ``name`` (see the module docstring) with ``seed``."""
    o = check_options(name, options)
    x_tr, y_tr = _GENERATORS[name](np.random.default_rng([seed, 0]), o["n_train"], o)
    x_te, y_te = _GENERATORS[name](np.random.default_rng([seed, 1]), o["n_test"], o)
    chance, memoryless = levels(name, o)
    regression = name == "adding"
    if name == "copy_memory":
        classes, heads = o["symbols"], o["copy_length"]
    elif name == "counting":
        classes, heads = o["max_count"] + 1, 1
    elif name == "parity":
        classes, heads = 2, 1
    elif name == "delayed_recall":
        classes, heads = o["symbols"], 1
    else:
        classes, heads = 0, 1
    doc = __doc__.split(f"``{name}``\n", 1)[1].split("\n``", 1)[0].split("\n\n**", 1)[0]
    description = " ".join(line.strip() for line in doc.strip().splitlines())
    description += (f" Options: {o}. Chance {chance:.4f}; memoryless {memoryless:.4f}.")
    to_y = (lambda y: torch.from_numpy(np.asarray(y, dtype=np.float32))) if regression else \
        (lambda y: torch.from_numpy(np.asarray(y, dtype=np.int64)))
    return TaskData(
        name=name, kind="sequence",
        x_train=torch.from_numpy(np.ascontiguousarray(x_tr)), y_train=to_y(y_tr),
        x_test=torch.from_numpy(np.ascontiguousarray(x_te)), y_test=to_y(y_te),
        input_shape=tuple(x_tr.shape[1:]), output_dim=1 if regression else classes * heads,
        chance_accuracy=chance, memoryless_accuracy=memoryless,
        time_structure="time-variant" if name in TIME_VARIANT else "time-invariant",
        description=description, target_type="regression" if regression else "classification",
        num_classes=classes, heads=heads, tolerance=ADDING_TOLERANCE, options=o,
    )
