"""Measured properties of skip mappings: pure functions of a :class:`Mapping` (or matrices).

These are the quantities the ``entangled families`` table, the theory catalog and the report
measure. Every function returns a plain ``float``/``int``/``bool`` computed in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from entangled.mappings.base import Mapping
from entangled.mappings.registry import families, family_class, make_mapping
from entangled.mappings.structure import as_terms, conditional
from entangled.validation import check_positive_int

DEFAULT_TOL = 1e-9


def eigenvalue_modulus_deviation(m: Mapping) -> float:
    """``max_i | |lambda_i| - 1 |``: 0 when every eigenvalue lies on the unit circle."""
    return float((m.eigvals().abs() - 1).abs().max())


def eigenvalue_spread(m: Mapping) -> float:
    """``max_i |lambda_i| - min_i |lambda_i|`` (0 for I, orthogonal and permutation maps)."""
    moduli = m.eigvals().abs()
    return float(moduli.max() - moduli.min())


def spectral_radius(m: Mapping) -> float:
    """``max_i |lambda_i|``."""
    return float(m.eigvals().abs().max())


def spectral_norm(m: Mapping) -> float:
    """``||M||_2 = sigma_max``, the Jacobian norm of the skip path ``h -> M h``."""
    return float(m.singular_values().max())


def det_modulus(m: Mapping) -> float:
    """``|det M| = prod_i |lambda_i|`` (computed as ``exp(sum log |lambda_i|)``)."""
    moduli = m.eigvals().abs()
    if bool((moduli == 0).any()):
        return 0.0
    return float(torch.exp(torch.log(moduli).sum()))


def nonzero_count(m: Mapping) -> int:
    """Number of nonzero entries of ``M`` (``n`` for I and permutations)."""
    return int(torch.count_nonzero(m.dense()))


def sparsity(m: Mapping) -> float:
    """Fraction of entries of ``M`` that are exactly zero (``1 - 1/n`` for I)."""
    return 1.0 - nonzero_count(m) / m.n**2


def min_entry(m: Mapping) -> float:
    """Smallest entry of ``M`` (nonnegative mapping iff >= 0)."""
    return float(m.dense().min())


def symmetry_error(m: Mapping) -> float:
    """``max |M - M^T|``."""
    dense = m.dense()
    return float((dense - dense.T).abs().max())


def row_sum_error(m: Mapping) -> float:
    """``max_i |sum_j M_ij - 1|``: 0 for row-stochastic mappings."""
    return float((m.dense().sum(1) - 1).abs().max())


def column_sum_error(m: Mapping) -> float:
    """``max_j |sum_i M_ij - 1|``: 0 for column-stochastic mappings."""
    return float((m.dense().sum(0) - 1).abs().max())


def orthogonality_error(m: Mapping) -> float:
    """``max |M^T M - I|``."""
    dense = m.dense()
    return float((dense.T @ dense - torch.eye(m.n, dtype=dense.dtype)).abs().max())


def distance_from_identity(m: Mapping) -> float:
    """Normalised Frobenius distance ``||M - I||_F / sqrt(n)`` (0 for I, 2 for -I)."""
    dense = m.dense()
    return float(torch.linalg.norm(dense - torch.eye(m.n, dtype=dense.dtype)) / math.sqrt(m.n))


def spectral_gap(m: Mapping) -> float:
    """``1 - |lambda_2|``, with eigenvalues sorted by decreasing modulus (0 when n = 1).

    For a stochastic mapping ``|lambda_1| = 1`` and the gap measures how fast the induced
    Markov chain mixes; for I and permutations it is 0.
    """
    moduli = torch.sort(m.eigvals().abs(), descending=True).values
    return 0.0 if m.n == 1 else float(1 - moduli[1])


def product_matrix(mappings: Sequence[Mapping]) -> torch.Tensor:
    """``P = M_L ... M_2 M_1`` for ``mappings = [M_1, ..., M_L]`` (applied first to last)."""
    if len(mappings) == 0:
        raise ValueError("invalid mappings=[]; allowed: a non-empty sequence of mappings")
    sizes = {m.n for m in mappings}
    if len(sizes) != 1:
        raise ValueError(f"invalid mappings with sizes {sorted(sizes)}; allowed: equal n")
    product = mappings[0].matrix()
    for m in mappings[1:]:
        product = m.dense() @ product
    return product


def composite_gain(mappings: Sequence[Mapping]) -> tuple[float, float]:
    """mHC's Amax gain of the composite skip ``P = M_L ... M_1``.

    Returns ``(forward, backward)``: the largest absolute row sum ``max_i sum_j |P_ij|``
    (``||P||_inf``, bounds the forward signal) and the largest absolute column sum
    ``max_j sum_i |P_ij|`` (``||P||_1``, bounds the backward gradient).
    """
    absolute = product_matrix(mappings).abs()
    return float(absolute.sum(1).max()), float(absolute.sum(0).max())


@dataclass(frozen=True)
class IdentityAttribute:
    """An attribute of the identity that a mapping may share."""

    key: str
    label: str
    description: str
    holds: Callable[[Mapping, float], bool]


IDENTITY_ATTRIBUTES: tuple[IdentityAttribute, ...] = (
    IdentityAttribute("unit_eigenvalues", "|eig|=1", "every eigenvalue has modulus 1",
                      lambda m, tol: eigenvalue_modulus_deviation(m) <= tol),
    IdentityAttribute("unit_spectral_norm", "||M||2=1", "spectral norm (Jacobian norm) is 1",
                      lambda m, tol: abs(spectral_norm(m) - 1) <= tol),
    IdentityAttribute("unit_det", "|det|=1", "determinant has modulus 1",
                      lambda m, tol: abs(det_modulus(m) - 1) <= tol),
    IdentityAttribute("n_nonzeros", "nnz=n", "exactly n nonzero entries",
                      lambda m, tol: nonzero_count(m) == m.n),
    IdentityAttribute("nonnegative", "M>=0", "every entry is nonnegative",
                      lambda m, tol: min_entry(m) >= -tol),
    IdentityAttribute("symmetric", "M=M^T", "M equals its transpose",
                      lambda m, tol: symmetry_error(m) <= tol),
    IdentityAttribute("rows_sum_to_one", "rows=1", "every row sums to 1",
                      lambda m, tol: row_sum_error(m) <= tol),
    IdentityAttribute("columns_sum_to_one", "cols=1", "every column sums to 1",
                      lambda m, tol: column_sum_error(m) <= tol),
)


def identity_attributes(m: Mapping, tol: float = DEFAULT_TOL) -> dict:
    """Which attributes of ``I`` the mapping shares (booleans) and its distance from ``I``."""
    shared: dict[str, bool | float] = {attr.key: bool(attr.holds(m, tol)) for attr in IDENTITY_ATTRIBUTES}
    shared["distance_from_identity"] = distance_from_identity(m)
    return shared


def family_rows(n: int = 64, seed: int = 0) -> list[dict]:
    """One row per family, default parameters, measured at size ``n``."""
    n = check_positive_int("n", n)
    rows = []
    for name in families():
        mapping = make_mapping(name, n, seed=seed)
        cls = family_class(name)
        rows.append({
            "family": name,
            "summary": cls.summary,
            "params": {k: v for k, v in mapping.params.items()},
            "parameters": [
                {"name": p.name, "default": p.default, "allowed": p.allowed(), "doc": p.doc}
                for p in cls.parameters
            ],
            "n": n,
            "seed": seed,
            "shares": identity_attributes(mapping),
            "structure": sorted(t.value for t in as_terms(cls.structure)),
            "structure_when": [when.describe() for when in conditional(cls)],
        })
    return rows
