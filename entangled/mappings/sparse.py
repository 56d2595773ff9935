"""The entangled sparse mapping of Lechner et al. (arXiv 2206.01261).

.. math:: M = (1 - s)\\, I + s\\, S

``S`` is a random nonnegative sparse matrix: every row has exactly
``k = max(1, round(density (n - 1)))`` off-diagonal nonzeros (at least one for density > 0) at
uniformly drawn columns, with
weights uniform in (0, 1]. ``normalise`` scales ``S``:

* ``"row"`` (default): rows of ``S`` sum to 1, so ``M`` is row-stochastic — eigenvalue 1
  (eigenvector the all-ones vector) and spectral radius 1, like ``I``;
* ``"column"``: columns of ``S`` sum to 1 (``M`` column-stochastic);
* ``"none"``: the raw weights.

A row (or column) of ``S`` that receives no off-diagonal entry (``k = 0``) puts its mass on
the diagonal, so ``density = 0`` or ``strength = 0`` gives exactly ``I``.

:meth:`apply` is a sparse product with the ``n (k + 1)`` stored entries, never dense: a CSR
sparse-dense product, and under ``torch.func`` transforms (which reject sparse tensors) a
gather of each row's stored entries and a sum.
"""

from __future__ import annotations

import warnings

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, gathered_sum
from entangled.mappings.params import Param, check_dense_fits
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure, When


def functorch_active() -> bool:
    """Whether a torch.func transform (vmap, grad, jacrev, ...) is running."""
    try:
        return torch._C._functorch.peek_interpreter_stack() is not None
    except AttributeError:  # pragma: no cover - older/newer torch without this hook
        return False


def off_diagonal_columns(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, k)`` int64: for each row i, k distinct columns drawn uniformly from {j != i}."""
    if k == 0:
        return torch.empty(n, 0, dtype=torch.int64)
    scores = torch.rand(n, n - 1, generator=generator, dtype=torch.float64)
    picks = scores.topk(k, dim=1).indices
    rows = torch.arange(n)[:, None]
    return torch.sort(picks + (picks >= rows).to(torch.int64), dim=1).values


def off_diagonal_count(n: int, density: float) -> int:
    """``k = max(1, round(density (n - 1)))`` off-diagonal entries per row for ``density > 0``
    and ``n > 1`` (at least one at any size), else 0."""
    if density == 0 or n == 1:
        return 0
    return max(1, int(round(density * (n - 1))))


def normalised_as(m: torch.Tensor, strength: float, mode: str, tol: float) -> bool:
    """Whether ``m = (1 - s) I + s S`` (with ``k >= 1`` off-diagonals per row) fits the
    diagonal and sums that normalisation ``mode`` of ``S`` gives (see :meth:`contains`)."""
    ones = torch.ones(m.shape[0], dtype=m.dtype)
    diagonal = torch.diagonal(m)
    off = m - torch.diag(diagonal)
    if mode == "row":
        return (_checks.close_to(diagonal, (1.0 - strength) * ones, tol)
                and _checks.close_to(m.sum(1), ones, tol))
    if mode == "column":
        empty = (off == 0).all(0)
        expected = torch.full_like(diagonal, 1.0 - strength).masked_fill(empty, 1.0)
        return _checks.close_to(diagonal, expected, tol) and _checks.close_to(m.sum(0), ones, tol)
    return (_checks.close_to(diagonal, (1.0 - strength) * ones, tol)
            and bool(off.max() <= strength + tol))


@register_family
class SparseMapping(Mapping):
    """``(1 - strength) I + strength S`` with ``S`` sparse, nonnegative, normalised."""

    family = "sparse"
    dense_below = {"cpu": 1024}  # measured: benchmarks/bench_mappings.py --crossover
    summary = "(1-strength) I + strength S, S random sparse nonnegative, normalised"
    seeded = True
    structure = frozenset({Structure.NONNEGATIVE, Structure.SPARSE})
    structure_when = (When(Structure.ROW_STOCHASTIC, normalise=("row",)),
                      When(Structure.COLUMN_STOCHASTIC, normalise=("column",)))
    half_in_float32 = True
    parameters = (
        Param("density", "float", 0.05, low=0.0, high=1.0, identity_value=0.0,
              doc="fraction of off-diagonal entries of S per row that are nonzero"),
        Param("strength", "float", 0.5, low=0.0, high=1.0, identity_value=0.0,
              doc="weight s of S in (1 - s) I + s S"),
        Param("normalise", "choice", "row", choices=("row", "column", "none"),
              identity_value="row", doc="scale S to row sums 1, column sums 1, or not at all"),
    )

    def uses_seed(self) -> bool:
        return self.off_diagonal_per_row() > 0 and self.params["strength"] > 0

    def max_nonzeros(self) -> int:
        """``n (k + 1)``: the diagonal and ``k`` off-diagonal entries per row."""
        return self.n * (self.off_diagonal_per_row() + 1)

    def off_diagonal_per_row(self) -> int:
        """``k = max(1, round(density (n - 1)))`` (0 for ``density = 0`` or ``n = 1``)."""
        return off_diagonal_count(self.n, self.params["density"])

    def _structure(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Columns ``(n, k)`` and weights ``(n, k)`` of the off-diagonal part of ``S``."""
        generator = torch.Generator().manual_seed(self.seed)
        k = self.off_diagonal_per_row()
        if k:
            check_dense_fits(self.n, what="draw of the sparse pattern", context=self.family)
        columns = off_diagonal_columns(self.n, k, generator)
        weights = 1.0 - torch.rand(self.n, k, generator=generator, dtype=torch.float64)
        return columns, weights

    def entries(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The nonzeros of ``M`` in row-major order: rows, columns (int64) and values
        (float64), built from the ``n (k + 1)`` stored entries without a dense matrix."""
        n, strength = self.n, self.params["strength"]
        columns, weights = self._structure()
        k = columns.shape[1]
        diagonal_index = torch.arange(n)
        if k == 0 or strength == 0:
            return diagonal_index, diagonal_index.clone(), torch.ones(n, dtype=torch.float64)
        mode = self.params["normalise"]
        on_diagonal = torch.zeros(n, dtype=torch.float64)  # S_jj: 1 for an empty column
        if mode == "row":
            weights = weights / weights.sum(1, keepdim=True)
        elif mode == "column":
            sums = torch.zeros(n, dtype=torch.float64).index_add_(0, columns.reshape(-1),
                                                                  weights.reshape(-1))
            weights = weights / sums[columns]
            on_diagonal = (sums == 0).to(torch.float64)
        rows = torch.cat((diagonal_index, diagonal_index.repeat_interleave(k)))
        cols = torch.cat((diagonal_index, columns.reshape(-1)))
        values = torch.cat(((1.0 - strength) + strength * on_diagonal,
                            strength * weights.reshape(-1)))
        keep = values != 0
        rows, cols, values = rows[keep], cols[keep], values[keep]
        order = torch.argsort(rows * n + cols)
        return rows[order], cols[order], values[order]

    def _build_matrix(self) -> torch.Tensor:
        rows, cols, values = self.entries()
        matrix = torch.zeros(self.n, self.n, dtype=torch.float64)
        matrix[rows, cols] = values
        return matrix

    derived_operands = frozenset({"ell_index", "ell_weight"})

    def _operands(self) -> dict[str, torch.Tensor]:
        """CSR arrays of ``M`` (row-major nonzeros), and the same entries row by row padded
        to the longest row with zero weights (ELL: ``ell_index``, ``ell_weight``)."""
        row, col, values = self.entries()
        counts = torch.bincount(row, minlength=self.n)
        crow = torch.cat((torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)))
        width = int(counts.max())
        position = torch.arange(len(row)) - crow[row]
        ell_index = torch.zeros(self.n, width, dtype=torch.int64)
        ell_weight = torch.zeros(self.n, width, dtype=torch.float64)
        ell_index[row, position], ell_weight[row, position] = col, values
        return {"crow": crow, "col": col, "values": values,
                "ell_index": ell_index, "ell_weight": ell_weight}

    @staticmethod
    def _apply_operands(operands, x, dim):
        n = x.shape[dim]
        if functorch_active() or torch.compiler.is_compiling():
            # torch.func transforms (jacrev, vmap), torch.compile and torch.export reject
            # sparse tensors: gather the stored entries of every row and sum them (ELL
            # layout). Not used otherwise: its backward (an index_add) measured 1.3x (n=16) to
            # 40x (n=512) slower than CSR.
            return gathered_sum(x, operands["ell_index"], operands["ell_weight"], dim, reduce_axis=1)
        with warnings.catch_warnings():
            # torch warns once that CSR support is "beta"; the operations used are tested here.
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly")
            matrix = torch.sparse_csr_tensor(
                operands["crow"], operands["col"], operands["values"], size=(n, n),
                check_invariants=False,
            )
        moved = x.movedim(dim, 0)
        with torch.autocast(x.device.type, enabled=False):  # no half CSR product (see apply_with)
            product = torch.sparse.mm(matrix, moved.reshape(n, -1))
        return product.reshape(moved.shape).movedim(0, dim)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """``(1 - s) I + s S`` for some (or the pinned) density, strength and normalisation.

        Checked: nonnegative; the same number ``k`` of off-diagonal nonzeros (exactly nonzero:
        the pattern is structural, ``tol`` applies to values) in every row (``k`` from the pinned density); ``k = 0`` or
        ``s = 0`` only for ``I``; and per ``normalise`` — ``"row"``: diagonal ``1 - s``, rows
        summing to 1; ``"column"``: columns summing to 1, diagonal ``1 - s`` on columns with
        off-diagonal entries and 1 on the others; ``"none"``: diagonal ``1 - s`` and
        off-diagonal entries in ``(0, s]``. Without a pinned ``strength``, ``s`` is read from
        the smallest diagonal entry.
        """
        m = _checks.square(matrix)
        n = m.shape[0]
        pinned = cls.pinned_params(params, n)
        eye = torch.eye(n, dtype=m.dtype)
        if bool(m.min() < -tol):
            return False
        if _checks.close_to(m, eye, tol):  # every entry of S is weighted by s <= 1
            return pinned is None or pinned["strength"] <= tol or off_diagonal_count(
                n, pinned["density"]) == 0
        counts = ((m - torch.diag(torch.diagonal(m))) != 0).sum(1)
        k = int(counts[0])
        if bool((counts != k).any()):
            return False
        if pinned is not None:
            if pinned["strength"] == 0 or off_diagonal_count(n, pinned["density"]) == 0:
                return _checks.close_to(m, eye, tol)
            if k != off_diagonal_count(n, pinned["density"]):
                return False
        if k == 0:
            return _checks.close_to(m, eye, tol)
        diagonal = torch.diagonal(m)
        strength = pinned["strength"] if pinned is not None else 1.0 - float(diagonal.min())
        if not -tol <= strength <= 1.0 + tol:
            return False
        modes = (pinned["normalise"],) if pinned is not None else ("row", "column", "none")
        return any(normalised_as(m, strength, mode, tol) for mode in modes)
