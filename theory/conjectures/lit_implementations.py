"""Literature ledger: implementation claims (28-30), checked on this project's own skip module.

Implementations of residual mixing promise three things about their code: the mixing matrix
they expose is the one the forward pass applies (28), moving the mixing parameters changes
the applied skip (29), and gradients flow through the skip path (30). ``entangled probe``
checks them on any module (:mod:`entangled.theory.conjectures.probed`: ``equals_exposed``,
``mixing_is_live``, ``autograd_matches_finite_differences``; the README shows runs on the
``hyper-connections`` package); here they run inside ``entangled verify`` on
:class:`entangled.nn.EntangledSkip` in a residual block, for every family, measured by
:func:`entangled.theory.probe.probe`.
"""

from __future__ import annotations

import torch

from entangled.theory import conjecture

IMPLEMENTATION = ("implementation claim; checked on entangled.nn.EntangledSkip by probing "
                  "(entangled.theory.probe)")
LIVE_THRESHOLD = 1e-6


def _block_and_input(m):
    from entangled.theory.adapters.entangled_skip import EntangledResidualBlock

    block = EntangledResidualBlock(m, seed=m.seed)
    x = torch.randn(2, m.n, generator=torch.Generator().manual_seed(m.seed),
                    dtype=torch.float64)
    return block, x


def _probe(block, x, checks: bool = False):
    from entangled.theory.probe import probe

    return probe(block, x, silence="branch", checks=checks)


def _perturb_buffers(block, names, scale: float = 0.1, seed: int = 1):
    """Add seeded noise to the skip's floating-point buffers named in ``names`` (in place)."""
    generator = torch.Generator().manual_seed(seed)
    buffers = dict(block.skip.named_buffers())
    with torch.no_grad():
        for name in names:
            tensor = buffers[name]
            noise = torch.randn(tuple(tensor.shape), generator=generator, dtype=torch.float64)
            tensor.add_((scale * noise).to(tensor.dtype))
    return block


def _floating_buffers(block) -> list[str]:
    return [name for name, t in block.skip.named_buffers() if t.is_floating_point()]


@conjecture(tol=1e-10, n=(1, 16), examples=10, reference=IMPLEMENTATION,
            kind="implementation")
def entangled_skip_applies_its_exposed_matrix(m):
    """A module's exposed mixing matrix is the one its forward pass applies: the probed skip
    of EntangledSkip equals its mapping's ``matrix()`` (max |H - M| <= 1e-10).

    Literature ledger claim 28, on this project's module.
    """
    block, x = _block_and_input(m)
    return float((_probe(block, x).dense() - block.skip.mapping.matrix()).abs().max())


@conjecture(excludes=["permutation"], n=(2, 16), examples=10, reference=IMPLEMENTATION,
            kind="implementation")
def entangled_skip_mixing_is_live(m):
    """Moving the mixing parameters changes the applied skip ("mixing is live"): noise on the
    skip's floating-point buffers changes the probed map by more than 1e-6.

    Literature ledger claim 29, on this project's module. Families declaring ``permutation``
    (``identity``, ``permutation``) are not covered: their operands are an index or nothing —
    there is nothing continuous to move.
    """
    block, x = _block_and_input(m)
    before = _probe(block, x).dense()
    after = _probe(_perturb_buffers(block, _floating_buffers(block)), x).dense()
    return bool((after - before).abs().max() > LIVE_THRESHOLD)


@conjecture(n=(2, 16), examples=5,
            reference=IMPLEMENTATION + " (claims 28 + 29 read together)",
            kind="implementation")
def entangled_skip_matrix_buffer_is_what_forward_reads(m):
    """When EntangledSkip exposes a ``matrix`` buffer, it is what its forward pass reads:
    moving it (and only it) changes the applied skip.

    Claims 28 and 29 read together, sharply: the exposed matrix is not only *equal* to the
    applied one at construction but *is* it, so editing it in place or loading a state dict
    that changes it takes effect. Modules without a ``matrix`` buffer (index-based
    permutations, the identity) expose nothing to move: vacuously true.
    """
    block, x = _block_and_input(m)
    if "matrix" not in dict(block.skip.named_buffers()):
        return True
    before = _probe(block, x).dense()
    after = _probe(_perturb_buffers(block, ["matrix"]), x).dense()
    return bool((after - before).abs().max() > LIVE_THRESHOLD)


@conjecture(tol=1e-6, n=(1, 12), examples=8, reference=IMPLEMENTATION,
            kind="implementation")
def entangled_skip_gradients_match_finite_differences(m):
    """Gradients flow through the skip path: the autograd Jacobian of EntangledSkip equals a
    finite-difference Jacobian of its forward map (relative gap <= 1e-6 in float64).

    Literature ledger claim 30, on this project's module, whose structure-aware ``apply``
    (gather, sparse products, FFT) must be differentiable. The probe's gap is measured along 8
    seeded directions with central differences; the skip is linear, so only rounding remains.
    """
    block, x = _block_and_input(m)
    return float(_probe(block, x, checks=True).params["autograd_gap"])
