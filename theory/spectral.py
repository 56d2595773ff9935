"""Small spectral helpers for conjectures: numeric quantities independent of family closed forms.

:class:`entangled.Mapping` returns *exact* eigenvalues and singular values where a family knows
them from structure. A conjecture that claims such a closed form must compare it with a value
computed from the dense matrix alone; these helpers provide those independent measurements.
Every function is a pure function of a mapping (or of tensors) and works in float64/complex128.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

from entangled.mappings.base import Mapping


def numeric_eigvals(m: Mapping) -> torch.Tensor:
    """Eigenvalues of the dense matrix by LAPACK (``torch.linalg.eigvals``), complex128.

    Unlike :meth:`Mapping.eigvals` this never uses a family's closed form.
    """
    return torch.linalg.eigvals(m.dense()).to(torch.complex128)


def numeric_singular_values(m: Mapping) -> torch.Tensor:
    """Singular values of the dense matrix (``torch.linalg.svdvals``), float64, descending."""
    return torch.linalg.svdvals(m.dense())


def numeric_spectral_norm(m: Mapping) -> float:
    """:math:`\\|M\\|_2 = \\sigma_{\\max}(M)` computed from the dense matrix."""
    return float(numeric_singular_values(m).max())


def matrix_spectral_norm(matrix: torch.Tensor) -> float:
    """:math:`\\|A\\|_2` of a dense float64 matrix."""
    return float(torch.linalg.matrix_norm(matrix.to(torch.float64), ord=2))


def roots_of_unity_for_cycles(lengths: Iterable[int]) -> torch.Tensor:
    """The spectrum of a permutation with the given cycle lengths, complex128.

    .. math:: \\operatorname{spec}(P) = \\biguplus_{c} \\{ e^{2\\pi i k / L_c} : k = 0..L_c-1 \\}

    (a cycle of length :math:`L` has characteristic polynomial :math:`\\lambda^L - 1`).
    """
    parts = []
    for length in lengths:
        angles = 2 * math.pi * torch.arange(int(length), dtype=torch.float64) / int(length)
        parts.append(torch.polar(torch.ones_like(angles), angles))
    if not parts:
        return torch.zeros(0, dtype=torch.complex128)
    return torch.cat(parts).to(torch.complex128)


def eigenvalue_matching_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between two multisets of complex numbers of equal size.

    .. math:: d(a, b) = \\max_i |a_i - b_{\\pi(i)}|

    for the permutation :math:`\\pi` that minimises :math:`\\sum_i |a_i - b_{\\pi(i)}|`
    (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``). It is an upper bound on
    the bottleneck distance, so ``d <= tol`` proves that the multisets agree within ``tol``.
    Sizes that differ give ``inf``.
    """
    from scipy.optimize import linear_sum_assignment

    x = np.asarray(a, dtype=np.complex128).ravel()
    y = np.asarray(b, dtype=np.complex128).ravel()
    if x.shape != y.shape:
        return math.inf
    if x.size == 0:
        return 0.0
    cost = np.abs(x[:, None] - y[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def infinity_norm(matrix: torch.Tensor) -> float:
    """:math:`\\|A\\|_\\infty = \\max_i \\sum_j |A_{ij}|` (largest absolute row sum)."""
    return float(matrix.abs().sum(1).max())


def stochasticity_errors(matrix: torch.Tensor) -> tuple[float, float]:
    """``(max_i |sum_j A_ij - 1|, max_j |sum_i A_ij - 1|)`` of a dense matrix."""
    return float((matrix.sum(1) - 1).abs().max()), float((matrix.sum(0) - 1).abs().max())


def prefix_products(mappings: Sequence[Mapping]) -> list[torch.Tensor]:
    """``[M_1, M_2 M_1, ..., M_L ... M_1]`` as dense float64 tensors."""
    products = []
    current = None
    for m in mappings:
        current = m.matrix() if current is None else m.dense() @ current
        products.append(current)
    return products
