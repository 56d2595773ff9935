"""Spectral conjectures: eigenvalue modulus, closed-form spectra, determinant, spectral radius.

Closed forms are checked against eigenvalues computed numerically from the dense matrix
(:func:`entangled.theory.spectral.numeric_eigvals`), never against the family's own closed form.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from entangled.properties import spectral_gap
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.graph import permutation_cycle_lengths
from entangled.theory.spectral import (
    eigenvalue_matching_distance,
    numeric_eigvals,
    numeric_spectral_norm,
    roots_of_unity_for_cycles,
)



def eigenvalue_one_and_unit_radius_deviation(m) -> float:
    """:math:`\\max(\\min_i |\\lambda_i - 1|,\\; |\\rho(M) - 1|)` from numeric eigenvalues."""
    eigenvalues = numeric_eigvals(m)
    return max(float((eigenvalues - 1).abs().min()), abs(float(eigenvalues.abs().max()) - 1))


@conjecture(requires=["orthogonal"], tol=1e-9, reference="arXiv 2206.01261 (Lechner et al. 2022)")
def eigenvalues_on_unit_circle(m):
    """Every eigenvalue of an orthogonal, permutation or rotation mapping has modulus 1, as for I.

    .. math:: \\max_i \\big|\\,|\\lambda_i(M)| - 1\\big| \\le 10^{-9}

    Measured on eigenvalues computed numerically from the dense matrix.
    """
    return float((numeric_eigvals(m).abs() - 1).abs().max())


@conjecture(families=["rotation"], tol=1e-9, proof=symbolic.rotation_block_eigenvalues())
def rotation_eigenvalues_are_exp_i_theta(m):
    """A block rotation by theta has eigenvalues e^{+i theta}, e^{-i theta} per block (and 1 if n is odd).

    .. math:: \\operatorname{spec} M = \\{e^{i\\theta}, e^{-i\\theta}\\}^{\\lfloor n/2\\rfloor} \\cup \\{1\\}^{n \\bmod 2}
    """
    theta = m.params["theta"]
    block = torch.tensor([complex(math.cos(theta), math.sin(theta)),
                          complex(math.cos(theta), -math.sin(theta))], dtype=torch.complex128)
    expected = block.repeat(m.n // 2)
    if m.n % 2:
        expected = torch.cat((expected, torch.ones(1, dtype=torch.complex128)))
    return eigenvalue_matching_distance(numeric_eigvals(m), expected)


@conjecture(families=["circulant"], tol=1e-9, proof=symbolic.circulant_eigenvalues_dft())
def circulant_eigenvalues_are_dft_of_first_row(m):
    """The eigenvalues of a circulant mapping are the DFT of its first row.

    .. math:: \\lambda_k = \\hat c_k = \\sum_{j} c_j e^{-2\\pi i jk/n}, \\qquad c = M_{0,:}
    """
    first_row = m.dense()[0].to(torch.complex128)
    return eigenvalue_matching_distance(numeric_eigvals(m), torch.fft.fft(first_row))


@conjecture(requires=["permutation"], tol=1e-9,
            proof=symbolic.permutation_cycle_charpoly())
def permutation_eigenvalues_are_roots_of_unity_per_cycle(m):
    """A permutation's eigenvalues are the L-th roots of unity of each of its cycles (length L).

    .. math:: \\operatorname{spec} P = \\biguplus_{c} \\{e^{2\\pi i k/L_c}\\}_{k=0}^{L_c-1}

    Cycle lengths are read off the support graph (:func:`entangled.theory.graph.permutation_cycle_lengths`);
    eigenvalues are computed numerically.
    """
    expected = roots_of_unity_for_cycles(permutation_cycle_lengths(m))
    return eigenvalue_matching_distance(numeric_eigvals(m), expected)


@conjecture(requires=["doubly_stochastic"], tol=1e-9)
def doubly_stochastic_eigenvalue_one_and_unit_spectral_radius(m):
    """A doubly stochastic mapping has eigenvalue 1 and spectral radius 1, like I.

    .. math:: M\\mathbf 1 = \\mathbf 1,\\quad \\rho(M) \\le \\|M\\|_\\infty = 1
    """
    return eigenvalue_one_and_unit_radius_deviation(m)


@conjecture(families=["sinkhorn"], tol=1e-9, params={"iters": st.integers(1, 50)},
            reference="arXiv 2512.24880 (mHC)")
def sinkhorn_column_stochastic_with_unit_spectral_radius(m):
    """After at least one Sinkhorn iteration the columns sum to 1, so eigenvalue 1 is the spectral radius.

    The last Sinkhorn step normalises columns, so :math:`\\mathbf 1^T M = \\mathbf 1^T` exactly
    (up to rounding) even when rows are off, hence

    .. math:: 1 \\in \\operatorname{spec} M,\\qquad \\rho(M) \\le \\|M\\|_1 = 1.
    """
    column_error = float((m.dense().sum(0) - 1).abs().max())
    return max(column_error, eigenvalue_one_and_unit_radius_deviation(m))


@conjecture(requires=["orthogonal"], tol=1e-9)
def determinant_modulus_one(m):
    """An orthogonal, permutation or rotation mapping has |det M| = 1, like I.

    .. math:: \\big|\\,|\\det M| - 1\\big| \\le 10^{-9}\\quad (\\det \\text{ by LU of the dense matrix})
    """
    return abs(abs(float(torch.linalg.det(m.dense()))) - 1)


@conjecture(tol=1e-9)
def spectral_radius_at_most_spectral_norm(m):
    """The spectral radius never exceeds the spectral norm (the Jacobian norm of the skip).

    .. math:: \\frac{\\rho(M) - \\|M\\|_2}{\\max(1, \\|M\\|_2)} \\le 10^{-9}

    (relative, since unnormalised Sinkhorn mappings have entries up to :math:`e^{100}`).
    """
    norm = numeric_spectral_norm(m)
    radius = float(numeric_eigvals(m).abs().max())
    return max(0.0, radius - norm) / max(1.0, norm)


@conjecture(families=["birkhoff"], tol=0.0, n=(2, 64), expected="falsified")
def every_birkhoff_mapping_mixes(m):
    """Every Birkhoff (mHC-lite) mapping mixes: its spectral gap 1 - |lambda_2| is positive.

    Believed false: with ``k = 1`` (or permutations sharing cycles) the mapping is a
    permutation and the gap is 0. Returns ``True`` iff the gap exceeds ``1e-6``.
    """
    return spectral_gap(m) > 1e-6
