"""Zero-argument factories for ``entangled probe entangled.theory.adapters.examples:NAME``.

Each returns a probe spec (see :func:`entangled.theory.probe.probe_spec`). The ``mhc_*`` factories need
the optional extra ``probe`` (``pip install "hyper-connections>=0.4"``).
"""

from __future__ import annotations

import entangled as E
from entangled.theory.adapters.entangled_skip import entangled_skip_spec


def entangled_skip_sparse() -> dict:
    """The project's ``EntangledSkip`` with the paper's sparse mapping (n = 8): self-test.

    At n = 8 the default density gives k = 1 entry of ``S`` per row; seed 881 is one where
    those entries form a permutation, so ``M = (I + S) / 2`` is doubly stochastic like the
    mHC maps the probed claims describe (most seeds are not: ``S`` is only row-stochastic).
    """
    return entangled_skip_spec(E.make_mapping("sparse", 8, seed=881))


def entangled_skip_sinkhorn() -> dict:
    """``EntangledSkip`` with a 20-iteration Sinkhorn mapping (n = 6): self-test."""
    return entangled_skip_spec(E.make_mapping("sinkhorn", 6, seed=2))


def mhc_block() -> dict:
    """hyper-connections mHC (v1) at its initialisation: 4 streams of width 16."""
    from entangled.theory.adapters.hyper_connections import mhc_spec

    return mhc_spec()


def mhc_v2_block() -> dict:
    """hyper-connections mHCv2 with perturbed static logits: 4 streams of width 16."""
    from entangled.theory.adapters.hyper_connections import mhc_spec

    return mhc_spec(version="v2", logit_scale=1.0)


def mhc_dynamic_block() -> dict:
    """mHC (v1) with input-dependent mixing, as after training (dynamic weights ~ N(0, 1))."""
    from entangled.theory.adapters.hyper_connections import mhc_spec

    return mhc_spec(logit_scale=1.0, dynamic_scale=1.0)


def mhc_peaked_block() -> dict:
    """mHC (v1) with peaked static logits (std 8): 20 Sinkhorn iterations do not converge."""
    from entangled.theory.adapters.hyper_connections import mhc_spec

    return mhc_spec(logit_scale=8.0)
