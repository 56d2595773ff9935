"""Small numeric predicates shared by the families' ``contains`` membership tests."""

from __future__ import annotations

from typing import Any

import torch

from entangled.mappings.params import as_float64_matrix


def square(matrix: Any) -> torch.Tensor:
    """The matrix as a float64 tensor, or raise InvalidMatrixError."""
    return as_float64_matrix(matrix)


def close_to(matrix: torch.Tensor, target: torch.Tensor, tol: float) -> bool:
    """Max-abs entrywise distance at most ``tol``."""
    return bool((matrix - target).abs().max() <= tol)


def is_orthogonal(matrix: torch.Tensor, tol: float) -> bool:
    """``||M^T M - I||_max <= tol``."""
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype)
    return close_to(matrix.T @ matrix, eye, tol)


def is_doubly_stochastic(matrix: torch.Tensor, tol: float) -> bool:
    """Nonnegative with every row and column summing to 1 (within ``tol``)."""
    ones = torch.ones(matrix.shape[0], dtype=matrix.dtype)
    return (
        bool(matrix.min() >= -tol)
        and close_to(matrix.sum(1), ones, tol)
        and close_to(matrix.sum(0), ones, tol)
    )


def circulant_from_first_row(row: torch.Tensor) -> torch.Tensor:
    """``C_ij = row[(j - i) mod n]`` (each row is the previous one shifted right by one)."""
    n = row.shape[0]
    index = (torch.arange(n)[None, :] - torch.arange(n)[:, None]) % n
    return row[index]
