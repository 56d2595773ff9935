"""scikit-learn's bundled handwritten digits (1797 images of 8x8 pixels, 10 classes).

All four variants share one **fixed stratified split** (``train_test_split(test_size=0.25,
stratify=y, random_state=0)``: 1347 train / 450 test examples, every class in the same
proportion in both parts). Pixels are scaled from 0..16 to [0, 1]. The split and the pixel
permutation are fixed, so the ``seed`` of :func:`entangled.tasks.load_task` does not change
the data of these tasks.

==================  ==========  ============================================================
task                shape       input
==================  ==========  ============================================================
digits              (1, 8, 8)   the image
digits_patches      (16, 4)     16 non-overlapping 2x2 patches in raster order, flattened
digits_sequence     (64, 1)     the 64 pixels in raster order, one per time step
digits_permuted     (64, 1)     the 64 pixels in a fixed random order (permutation seed 1234)
==================  ==========  ============================================================

Target: the digit 0..9. Chance level: the accuracy of always answering the most frequent
training class (about 0.10; the classes are nearly balanced). Memoryless baseline: a lookup
table from the *last* time step (last pixel, or last patch) to its most frequent training
class, evaluated on the test set.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np
import torch

from entangled.tasks.base import TaskData

TEST_SIZE = 0.25
SPLIT_RANDOM_STATE = 0
PERMUTATION_SEED = 1234
PATCH = 2
DIGITS_TASKS = ("digits", "digits_patches", "digits_sequence", "digits_permuted")


@lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    return tuple(train_test_split(images, data.target.astype(np.int64), test_size=TEST_SIZE,
                                  stratify=data.target, random_state=SPLIT_RANDOM_STATE))


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


def load_digits_task(name: str) -> TaskData:
    """Load one of :data:`DIGITS_TASKS` (see the module docstring)."""
    x_tr, x_te, y_tr, y_te = _split()
    if name == "digits":
        a, b = x_tr[:, None], x_te[:, None]
        last_tr, last_te = x_tr[:, 7, 7], x_te[:, 7, 7]
        kind, structure = "image", "none"
        what = "8x8 digit image (1, 8, 8), pixels in [0, 1]"
    elif name == "digits_patches":
        a, b = to_patches(x_tr), to_patches(x_te)
        last_tr, last_te = a[:, -1], b[:, -1]
        kind, structure = "patches", "none"
        what = "16 non-overlapping 2x2 patches (16, 4) in raster order"
    elif name == "digits_sequence":
        a, b = x_tr.reshape(-1, 64, 1), x_te.reshape(-1, 64, 1)
        last_tr, last_te = a[:, -1], b[:, -1]
        kind, structure = "sequence", "time-variant"
        what = "the 64 pixels in raster order, one per step (64, 1)"
    elif name == "digits_permuted":
        perm = pixel_permutation()
        a, b = x_tr.reshape(-1, 64)[:, perm, None], x_te.reshape(-1, 64)[:, perm, None]
        last_tr, last_te = a[:, -1], b[:, -1]
        kind, structure = "sequence", "time-variant"
        what = f"the 64 pixels in a fixed random order (seed {PERMUTATION_SEED}), one per step (64, 1)"
    else:  # pragma: no cover - guarded by load_task
        raise KeyError(name)
    majority = Counter(y_tr.tolist()).most_common(1)[0][0]
    chance = float(np.mean(y_te == majority))
    memoryless = lookup_baseline(last_tr, y_tr, last_te, y_te)
    description = (
        f"Input: {what}. Target: the digit 0-9 (10 classes). Fixed stratified split "
        f"{len(y_tr)} train / {len(y_te)} test. Chance (most frequent class): {chance:.3f}. "
        f"Memoryless baseline (lookup table on the last step only): {memoryless:.3f}."
    )
    return TaskData(
        name=name, kind=kind,
        x_train=torch.from_numpy(np.ascontiguousarray(a)), y_train=torch.from_numpy(y_tr.copy()),
        x_test=torch.from_numpy(np.ascontiguousarray(b)), y_test=torch.from_numpy(y_te.copy()),
        input_shape=tuple(a.shape[1:]), output_dim=10, chance_accuracy=chance,
        memoryless_accuracy=memoryless, time_structure=structure, description=description,
        target_type="classification", num_classes=10, heads=1, options={},
    )
