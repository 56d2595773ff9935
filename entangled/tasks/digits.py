"""The 8x8 handwritten digits (1797 images, 10 classes; the UCI "Optical Recognition of
Handwritten Digits" test set, the same data as scikit-learn's ``load_digits``), read from the
file ``data/digits.csv.gz`` shipped with the package (source and license: ``data/DIGITS.md``).

The **split is resampled per seed** (stratified, so every class keeps its proportion in every
part): ``seed`` draws a test set of 25% (450 images), then a validation set of 20% of the rest
(270) from what is left, and trains on the remaining 1077 (:func:`stratified_split` twice, the
algorithm of scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)`` with
identical indices, see :func:`split_indices`).
Every mapping trained at seed ``s`` sees the same split, so paired comparisons are paired on
the data too, and the test-set sampling variance enters the intervals across seeds. Model
selection reads the validation set only; the test set is read once. Pixels are scaled from
0..16 to [0, 1]. The pixel permutation of ``digits_permuted`` is fixed.

==================  ==========  ============================================================
task                shape       input
==================  ==========  ============================================================
digits              (1, 8, 8)   the image
digits_patches      (16, 4)     16 non-overlapping 2x2 patches in raster order, flattened
digits_sequence     (64, 1)     the 64 pixels in raster order, one per time step
digits_permuted     (64, 1)     the 64 pixels in a fixed random order (permutation seed 1234)
==================  ==========  ============================================================

Target: the digit 0..9. Chance level: the test accuracy of always answering the most frequent
training class (about 0.10; the classes are nearly balanced). Memoryless baseline: a lookup
table from the *last* time step (last pixel, or last patch) to its most frequent training
class, evaluated on the test set.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from entangled.tasks.base import TaskData

TEST_SIZE = 0.25
VALIDATION_SIZE = 0.2  # of what is left after the test set
PERMUTATION_SEED = 1234
PATCH = 2
DIGITS_TASKS = ("digits", "digits_patches", "digits_sequence", "digits_permuted")


DATA_FILE = Path(__file__).resolve().parent / "data" / "digits.csv.gz"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images, target)``: the 1797 images as ``(1797, 8, 8)`` float64 pixels 0..16 and the
    digits as int64, in the file's order (as scikit-learn's ``load_digits``)."""
    with gzip.open(DATA_FILE, "rt", encoding="ascii") as handle:
        table = np.loadtxt(handle, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


@lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    images, target = load_digits()
    return (images / 16.0).astype(np.float32), target


def approximate_mode(class_counts: np.ndarray, n_draws: int,
                     rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` to take from each class: ``floor(count / total * n_draws)``,
    then one more for the classes with the largest remainders (ties broken by ``rng``) until
    the draws add up (scikit-learn's ``_approximate_mode``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (candidates,) = np.where(remainder == value)
            add_now = min(len(candidates), need_to_add)
            floored[rng.choice(candidates, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_split(items: np.ndarray, labels: np.ndarray, test_size: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rest, test)`` of ``items``: ``ceil(test_size * N)`` test items drawn class by class
    in proportion to ``labels``, in random order, from ``np.random.RandomState(seed)``.

    The same draws in the same order as scikit-learn's ``train_test_split(items,
    test_size=test_size, stratify=labels, random_state=seed)`` (its ``StratifiedShuffleSplit``),
    so the splits match it index for index (tested against scikit-learn when installed).
    """
    n_test = math.ceil(test_size * len(labels))
    n_rest = len(labels) - n_test
    _, label_index, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    members = np.split(np.argsort(label_index, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    rest_counts = approximate_mode(class_counts, n_rest, rng)
    test_counts = approximate_mode(class_counts - rest_counts, n_test, rng)
    rest: list[int] = []
    test: list[int] = []
    for k, in_class in enumerate(members):
        shuffled = in_class.take(rng.permutation(class_counts[k]), mode="clip")
        rest.extend(shuffled[:rest_counts[k]])
        test.extend(shuffled[rest_counts[k]:rest_counts[k] + test_counts[k]])
    return items[rng.permutation(rest)], items[rng.permutation(test)]


@lru_cache(maxsize=64)
def split_indices(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into the 1797 images of the ``(train, validation, test)`` split of ``seed``:
    a stratified 25% test set, then a stratified 20% of the rest as validation set."""
    _, target = _dataset()
    index = np.arange(len(target))
    rest, test = stratified_split(index, target, TEST_SIZE, seed)
    train, val = stratified_split(rest, target[rest], VALIDATION_SIZE, seed)
    return train, val, test


def _split(seed: int) -> tuple[np.ndarray, ...]:
    """``(x_train, x_val, x_test, y_train, y_val, y_test)`` of the split of ``seed``."""
    images, target = _dataset()
    train, val, test = split_indices(seed)
    return images[train], images[val], images[test], target[train], target[val], target[test]


def pixel_permutation() -> np.ndarray:
    """The fixed permutation of the 64 pixels used by ``digits_permuted``."""
    return np.random.default_rng(PERMUTATION_SEED).permutation(64)


def to_patches(images: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """``(N, 8, 8)`` -> ``(N, (8/patch)**2, patch*patch)``: non-overlapping patches, raster order."""
    n, h, w = images.shape
    g = h // patch
    x = images.reshape(n, g, patch, g, patch).transpose(0, 1, 3, 2, 4)
    return x.reshape(n, g * g, patch * patch)


def lookup_baseline(last_train: np.ndarray, y_train: np.ndarray, last_test: np.ndarray,
                    y_test: np.ndarray) -> float:
    """Test accuracy of a table from the last step's value to its most frequent train class."""
    majority = Counter(y_train.tolist()).most_common(1)[0][0]
    table: dict[tuple, Counter] = {}
    for key, label in zip(map(tuple, last_train.reshape(len(last_train), -1).tolist()), y_train):
        table.setdefault(key, Counter())[int(label)] += 1
    correct = 0
    for key, label in zip(map(tuple, last_test.reshape(len(last_test), -1).tolist()), y_test):
        counts = table.get(key)
        guess = counts.most_common(1)[0][0] if counts else majority
        correct += int(guess == label)
    return correct / len(y_test)


def _views(name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The input of task ``name`` for ``(N, 8, 8)`` images and its last time step."""
    if name == "digits":
        return images[:, None], images[:, 7, 7]
    if name == "digits_patches":
        x = to_patches(images)
        return x, x[:, -1]
    if name == "digits_sequence":
        x = images.reshape(-1, 64, 1)
        return x, x[:, -1]
    if name == "digits_permuted":
        x = images.reshape(-1, 64)[:, pixel_permutation(), None]
        return x, x[:, -1]
    raise KeyError(name)  # pragma: no cover - guarded by load_task


_WHAT = {
    "digits": ("image", "none", "8x8 digit image (1, 8, 8), pixels in [0, 1]"),
    "digits_patches": ("patches", "none", "16 non-overlapping 2x2 patches (16, 4) in raster order"),
    "digits_sequence": ("sequence", "time-variant",
                        "the 64 pixels in raster order, one per step (64, 1)"),
    "digits_permuted": ("sequence", "time-variant",
                        f"the 64 pixels in a fixed random order (seed {PERMUTATION_SEED}), one "
                        f"per step (64, 1)"),
}


def load_digits_task(name: str, seed: int = 0) -> TaskData:
    """Load one of :data:`DIGITS_TASKS` on the split of ``seed`` (see the module docstring)."""
    x_tr, x_va, x_te, y_tr, y_va, y_te = _split(int(seed))
    (a, last_tr), (v, _), (b, last_te) = _views(name, x_tr), _views(name, x_va), _views(name, x_te)
    kind, structure, what = _WHAT[name]
    majority = Counter(y_tr.tolist()).most_common(1)[0][0]
    chance = float(np.mean(y_te == majority))
    memoryless = lookup_baseline(last_tr, y_tr, last_te, y_te)
    description = (
        f"Input: {what}. Target: the digit 0-9 (10 classes). Stratified split resampled per "
        f"seed (seed {seed}): {len(y_tr)} train / {len(y_va)} validation / {len(y_te)} test. "
        f"Chance (most frequent class): {chance:.3f}. Memoryless baseline (lookup table on the "
        f"last step only): {memoryless:.3f}."
    )
    tensor = lambda arr: torch.from_numpy(np.ascontiguousarray(arr))  # noqa: E731
    return TaskData(
        name=name, kind=kind, x_train=tensor(a), y_train=tensor(y_tr.copy()),
        x_test=tensor(b), y_test=tensor(y_te.copy()),
        input_shape=tuple(a.shape[1:]), output_dim=10, chance_accuracy=chance,
        memoryless_accuracy=memoryless, time_structure=structure, description=description,
        target_type="classification", num_classes=10, heads=1, options={},
        x_val=tensor(v), y_val=tensor(y_va.copy()),
    )
