"""Structural-correlation (circulant) mappings: mixing of neighbouring coordinates.

.. math:: M_{ij} = \\frac{k\\big(d(i, j)\\big)}{Z}, \\qquad d(i, j) = \\min(|i-j|,\\; n-|i-j|),
          \\qquad Z = \\sum_j k\\big(d(0, j)\\big)

with a kernel of bandwidth ``h``: gaussian ``exp(-d^2 / 2h^2)``, laplace ``exp(-d / h)`` or box
``1[d <= h]``. Weights below ``1e-12`` of the diagonal weight are set to exactly zero, so ``M``
is banded with radius ``R`` and its graph has only the real neighbourhoods. ``M`` is
symmetric, circulant, nonnegative and doubly stochastic; ``h = 0`` gives exactly ``I``.

Eigenvalues are the DFT of the first row, :math:`\\lambda_k = \\sum_j c_j e^{-2\\pi i jk/n}`
(real, as ``c`` is symmetric); singular values are their moduli. :meth:`apply` is the FFT
product ``irfft(rfft(x) * lambda)``, O(n log n); it measured faster than a banded ``conv1d``
or shifted sums at every size from n = 32 to 4096, even for the narrowest bands
(``benchmarks/bench_mappings.py``).
"""

from __future__ import annotations


import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, along
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure

KERNEL_CUTOFF = 1e-12


def kernel_weights(distances: torch.Tensor, bandwidth: float, kernel: str) -> torch.Tensor:
    """Unnormalised kernel ``k(d)`` with ``k(0) = 1``, truncated below ``KERNEL_CUTOFF``."""
    d = distances.to(torch.float64)
    if bandwidth == 0:
        weights = (d == 0).to(torch.float64)
    elif kernel == "gaussian":
        weights = torch.exp(-0.5 * (d / bandwidth) ** 2)  # (d/h)^2, not d^2/h^2: h^2 may underflow
    elif kernel == "laplace":
        weights = torch.exp(-d / bandwidth)
    else:
        weights = (d <= bandwidth).to(torch.float64)
    return torch.where(weights < KERNEL_CUTOFF, 0.0, weights)


@register_family
class CirculantMapping(Mapping):
    """Symmetric circulant ``M`` from a distance kernel, rows and columns summing to 1."""

    family = "circulant"
    dense_below = {"cpu": 256}  # measured: benchmarks/bench_mappings.py --crossover
    half_in_float32 = True
    summary = "structural correlation: symmetric circulant kernel, rows sum to 1"
    structure = frozenset({Structure.DOUBLY_STOCHASTIC, Structure.SYMMETRIC})
    parameters = (
        Param("bandwidth", "float", 1.0, low=0.0, identity_value=0.0, search_range=(0.0, 8.0),
              doc="kernel bandwidth h (0 gives I)"),
        Param("kernel", "choice", "gaussian", choices=("gaussian", "laplace", "box"),
              identity_value="gaussian", doc="kernel shape"),
    )

    def first_row(self) -> torch.Tensor:
        """``c`` with ``M_ij = c[(j - i) mod n]`` (float64, sums to 1, ``c[j] = c[n - j]``)."""
        j = torch.arange(self.n)
        weights = kernel_weights(torch.minimum(j, self.n - j), self.params["bandwidth"],
                                 self.params["kernel"])
        return weights / weights.sum()

    def radius(self) -> int:
        """Band radius R: the largest circular distance with a nonzero weight."""
        row = self.first_row()
        return int(torch.nonzero(row[: self.n // 2 + 1]).max())

    def _build_matrix(self) -> torch.Tensor:
        return _checks.circulant_from_first_row(self.first_row())

    def _operands(self) -> dict[str, torch.Tensor]:
        return {"spectrum": torch.fft.rfft(self.first_row()).real}

    @staticmethod
    def _apply_operands(operands, x, dim):
        spectrum = torch.fft.rfft(x, dim=dim) * along(operands["spectrum"], x.ndim, dim)
        return torch.fft.irfft(spectrum, n=x.shape[dim], dim=dim)

    def _exact_eigvals(self):
        return torch.fft.fft(self.first_row().to(torch.complex128))

    def _exact_singular_values(self):
        return self._exact_eigvals().abs()

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """Symmetric circulant, nonnegative, rows summing to 1, and the first row
        nonincreasing in the circular distance ``d = 0..n//2`` (every kernel decays); with
        parameters pinned, the kernel matrix itself."""
        m = _checks.square(matrix)
        n = m.shape[0]
        pinned = cls.pinned_params(params, n)
        if pinned is not None:
            return _checks.close_to(m, cls(n, **pinned).dense(), tol)
        ones = torch.ones(n, dtype=m.dtype)
        half = m[0, : n // 2 + 1]
        return (
            _checks.close_to(m, _checks.circulant_from_first_row(m[0]), tol)
            and _checks.close_to(m, m.T, tol)
            and bool(m.min() >= -tol)
            and _checks.close_to(m.sum(1), ones, tol)
            and bool((half[1:] <= half[:-1] + tol).all())
        )


