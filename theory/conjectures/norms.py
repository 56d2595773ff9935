"""Norm and Jacobian conjectures: orthogonality, isometry, distance from I, residual Jacobians.

The residual block used here is :math:`g(h) = M h + f(h)` with a seeded random branch
:math:`f(h) = \\tanh(W h + b)`, :math:`W_{ij} \\sim \\mathcal N(0, 1/n)` (seed of the mapping),
evaluated at a seeded point ``h``. Jacobians are computed by autograd in float64 through the
mapping's structure-aware :meth:`~entangled.Mapping.apply`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from entangled.properties import distance_from_identity, orthogonality_error
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.spectral import matrix_spectral_norm, numeric_singular_values

JACOBIAN_N = (1, 24)
JACOBIAN_EXAMPLES = 12


def tanh_branch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded weights ``(W, b)`` of the branch :math:`f(h) = \\tanh(W h + b)`, float64."""
    generator = torch.Generator().manual_seed(int(seed) % (2**63))
    weight = torch.randn(n, n, generator=generator, dtype=torch.float64) / math.sqrt(n)
    bias = torch.randn(n, generator=generator, dtype=torch.float64)
    return weight, bias


def evaluation_point(n: int, seed: int) -> torch.Tensor:
    """A seeded point :math:`h \\sim \\mathcal N(0, I_n)` at which Jacobians are taken."""
    generator = torch.Generator().manual_seed(int(seed) % (2**63) + 1)
    return torch.randn(n, generator=generator, dtype=torch.float64)


def rowwise_jacobian(function: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    """Jacobian :math:`J_{ij} = \\partial g_i / \\partial h_j` of a map acting on the last axis.

    ``function`` must act on each row of a batch independently (as :meth:`Mapping.apply` and
    row-wise layers do). Row ``i`` of the Jacobian is the gradient of output ``i`` of copy
    ``i`` of ``h``, so one backward pass gives the whole matrix.
    """
    n = h.shape[0]
    batch = h.detach().expand(n, n).clone().requires_grad_(True)
    output = function(batch)
    (gradient,) = torch.autograd.grad(output.diagonal().sum(), batch)
    return gradient


def _relative(excess: float, scale: float) -> float:
    return max(0.0, excess) / max(1.0, scale)


@conjecture(requires=["orthogonal"], tol=1e-9, proof=symbolic.rotation_norm_preservation())
def orthogonality_error_vanishes(m):
    """Orthogonal, permutation and rotation mappings satisfy M^T M = I and so preserve norms.

    .. math:: \\max_{ij} |(M^T M - I)_{ij}| \\le 10^{-9}
    """
    return orthogonality_error(m)


@conjecture(requires=["orthogonal"], tol=1e-9)
def isometries_have_unit_singular_values(m):
    """Every singular value of an orthogonal, permutation or rotation mapping is 1 (dynamical isometry).

    .. math:: \\max_i |\\sigma_i(M) - 1| \\le 10^{-9}\\quad (\\text{SVD of the dense matrix})
    """
    return float((numeric_singular_values(m) - 1).abs().max())


@conjecture(tol=1e-9, n=JACOBIAN_N, examples=JACOBIAN_EXAMPLES)
def skip_jacobian_is_the_matrix(m):
    """The Jacobian of the skip path h -> M h (autograd through apply) is M itself.

    Hence the spectral norm of ``M`` is the Jacobian norm of the skip.

    .. math:: \\frac{\\max_{ij} |J_{ij} - M_{ij}|}{\\max(1, \\max_{ij}|M_{ij}|)} \\le 10^{-9}
    """
    jacobian = rowwise_jacobian(m.apply, evaluation_point(m.n, m.seed))
    dense = m.dense()
    return float((jacobian - dense).abs().max()) / max(1.0, float(dense.abs().max()))


@conjecture(tol=1e-9, n=JACOBIAN_N, examples=JACOBIAN_EXAMPLES,
            proof=symbolic.linear_residual_jacobian())
def linear_residual_block_jacobian_is_m_plus_w(m):
    """The Jacobian of the linear residual block h -> M h + W h is M + W.

    .. math:: J_{h \\mapsto Mh + Wh} = M + W
    """
    weight, _ = tanh_branch(m.n, m.seed)
    jacobian = rowwise_jacobian(lambda h: m.apply(h) + h @ weight.T, evaluation_point(m.n, m.seed))
    target = m.dense() + weight
    return float((jacobian - target).abs().max()) / max(1.0, float(target.abs().max()))


@conjecture(tol=1e-9, n=JACOBIAN_N, examples=JACOBIAN_EXAMPLES,
            reference="arXiv 2206.01261 (Lechner et al. 2022)")
def residual_block_jacobian_triangle_bound(m):
    """A residual block's Jacobian obeys ||M + J_f|| <= ||M|| + ||J_f|| (f a tanh layer).

    .. math:: \\frac{\\|J_g\\|_2 - \\|M\\|_2 - \\|J_f\\|_2}{\\max(1, \\|M\\|_2)} \\le 10^{-9},
              \\qquad g(h) = Mh + \\tanh(Wh + b)

    ``J_g`` and ``J_f`` are computed by autograd.
    """
    weight, bias = tanh_branch(m.n, m.seed)
    h = evaluation_point(m.n, m.seed)
    branch = lambda x: torch.tanh(x @ weight.T + bias)  # noqa: E731
    block_jacobian = rowwise_jacobian(lambda x: m.apply(x) + branch(x), h)
    branch_jacobian = rowwise_jacobian(branch, h)
    skip_norm = matrix_spectral_norm(m.dense())
    excess = (matrix_spectral_norm(block_jacobian) - skip_norm
              - matrix_spectral_norm(branch_jacobian))
    return _relative(excess, skip_norm)


@conjecture(tol=1e-9, n=JACOBIAN_N, examples=JACOBIAN_EXAMPLES)
def residual_block_jacobian_lipschitz_bound(m):
    """A residual block's Jacobian obeys ||M + J_f|| <= ||M|| + Lip(f), with Lip(tanh(W h + b)) <= ||W||.

    .. math:: J_f = \\operatorname{diag}(1 - \\tanh^2(Wh + b))\\, W,\\quad \\|J_f\\|_2 \\le \\|W\\|_2,
              \\quad \\|J_g\\|_2 \\le \\|M\\|_2 + \\|W\\|_2
    """
    weight, bias = tanh_branch(m.n, m.seed)
    block_jacobian = rowwise_jacobian(lambda x: m.apply(x) + torch.tanh(x @ weight.T + bias),
                                      evaluation_point(m.n, m.seed))
    skip_norm = matrix_spectral_norm(m.dense())
    excess = matrix_spectral_norm(block_jacobian) - skip_norm - matrix_spectral_norm(weight)
    return _relative(excess, skip_norm)


@conjecture(requires=["orthogonal"], tol=1e-9)
def isometry_distance_from_identity_at_most_two(m):
    """An orthogonal mapping is at normalised Frobenius distance at most 2 from I (equality at -I).

    .. math:: \\frac{\\|Q - I\\|_F^2}{n} = \\frac{2n - 2\\operatorname{tr} Q}{n} \\le 4
    """
    return max(0.0, distance_from_identity(m) - 2.0)


@conjecture(families=["rotation"], tol=1e-9)
def rotation_distance_from_identity_closed_form(m):
    """A block rotation by theta is at distance 2|sin(theta/2)| sqrt(2 floor(n/2) / n) from I.

    .. math:: \\frac{\\|M - I\\|_F}{\\sqrt n} = 2\\left|\\sin\\tfrac{\\theta}{2}\\right|
              \\sqrt{\\frac{2\\lfloor n/2 \\rfloor}{n}}

    (each block contributes :math:`\\|R(\\theta) - I\\|_F^2 = 4 - 4\\cos\\theta = 8\\sin^2(\\theta/2)`):
    the distance grows continuously from 0 at :math:`\\theta = 0`.
    """
    theta = m.params["theta"]
    expected = 2 * abs(math.sin(theta / 2)) * math.sqrt(2 * (m.n // 2) / m.n)
    return abs(distance_from_identity(m) - expected)
