"""Composition and depth conjectures: products of L mappings, closure, composite (Amax) gain.

Every function here takes a tuple ``(M_1, ..., M_L)`` of mappings of one family and size
(``depth=`` in the decorator); the composite skip of ``L`` blocks is
:math:`P = M_L \\cdots M_1` (:func:`entangled.properties.product_matrix`).
"""

from __future__ import annotations

import math

import torch

from entangled.properties import composite_gain, product_matrix
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.spectral import infinity_norm, stochasticity_errors

DEPTH = (1, 8)


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=DEPTH,
            proof=symbolic.doubly_stochastic_2x2_closure(),
            reference="arXiv 2512.24880 (mHC)")
def doubly_stochastic_products_stay_doubly_stochastic(mappings):
    """Products of exactly doubly stochastic mappings are doubly stochastic at every depth.

    .. math:: P\\mathbf 1 = M_L \\cdots M_1 \\mathbf 1 = \\mathbf 1,\\quad
              \\mathbf 1^T P = \\mathbf 1^T,\\quad P \\ge 0
    """
    product = product_matrix(mappings)
    rows, cols = stochasticity_errors(product)
    return max(rows, cols, max(0.0, -float(product.min())))


@conjecture(requires=["orthogonal"], tol=1e-9, depth=DEPTH)
def orthogonal_products_stay_orthogonal(mappings):
    """Products of orthogonal (permutation, rotation) mappings are orthogonal at every depth.

    .. math:: (M_L \\cdots M_1)^T (M_L \\cdots M_1) = I
    """
    product = product_matrix(mappings)
    eye = torch.eye(product.shape[0], dtype=product.dtype)
    return float((product.T @ product - eye).abs().max())


@conjecture(families=["sparse"], tol=1e-9, depth=DEPTH, params={"normalise": "row"},
            reference="arXiv 2206.01261 (Lechner et al. 2022)")
def row_stochastic_sparse_products_stay_row_stochastic(mappings):
    """Products of row-stochastic sparse mappings stay row-stochastic: the composite keeps eigenvalue 1.

    .. math:: M_i \\mathbf 1 = \\mathbf 1 \\Rightarrow M_L \\cdots M_1 \\mathbf 1 = \\mathbf 1
    """
    rows, _ = stochasticity_errors(product_matrix(mappings))
    return rows


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=DEPTH,
            reference="arXiv 2512.24880 (mHC)")
def doubly_stochastic_composite_gain_bounded(mappings):
    """The composite gain (mHC Amax) of doubly stochastic mappings stays <= 1 at every depth.

    .. math:: \\max\\big(\\max_i \\textstyle\\sum_j |P_{ij}|,\\; \\max_j \\sum_i |P_{ij}|\\big) - 1 \\le 10^{-9}
    """
    forward, backward = composite_gain(mappings)
    return max(forward, backward) - 1.0


@conjecture(families=["dense"], tol=1e-6, depth=DEPTH, expected="falsified",
            reference="arXiv 2409.19606 (Hyper-Connections); arXiv 2512.24880 (mHC)")
def unconstrained_mixing_composite_gain_bounded(mappings):
    """Unconstrained dense mixing (Hyper-Connections) keeps the composite gain Amax <= 1 + 1e-6.

    Believed false — the instability that motivates mHC: for
    :math:`M = I + \\sigma G / \\sqrt n` the absolute row and column sums of the product
    exceed 1 and grow with depth.
    """
    forward, backward = composite_gain(mappings)
    return max(forward, backward) - 1.0


@conjecture(requires=["orthogonal"], excludes=["nonnegative"], tol=1e-6, n=(2, 64),
            depth=DEPTH, expected="falsified")
def orthogonal_mixing_composite_gain_bounded(mappings):
    """Norm-preserving (orthogonal) mixing also keeps the composite gain Amax <= 1 + 1e-6.

    Believed false: Amax is an l1/l-infinity gain, not the l2 gain; a rotation by
    :math:`\\theta` already has row sums :math:`|\\cos\\theta| + |\\sin\\theta| > 1`.
    """
    forward, backward = composite_gain(mappings)
    return max(forward, backward) - 1.0


@conjecture(tol=1e-9, depth=DEPTH)
def composite_gain_is_submultiplicative(mappings):
    """The composite gain of L mappings is at most the product of their gains.

    .. math:: \\|M_L \\cdots M_1\\|_\\infty \\le \\prod_l \\|M_l\\|_\\infty,\\qquad
              \\|M_L \\cdots M_1\\|_1 \\le \\prod_l \\|M_l\\|_1

    Measured relative to the bound (unnormalised Sinkhorn entries reach :math:`e^{100}`).
    """
    forward, backward = composite_gain(mappings)
    forward_bound = math.prod(infinity_norm(m.dense()) for m in mappings)
    backward_bound = math.prod(infinity_norm(m.dense().T) for m in mappings)
    if not (math.isfinite(forward_bound) and math.isfinite(backward_bound)):
        return 0.0 if forward <= forward_bound and backward <= backward_bound else math.inf
    return max((forward - forward_bound) / max(1.0, forward_bound),
               (backward - backward_bound) / max(1.0, backward_bound))
