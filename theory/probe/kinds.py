"""Declared block kinds: what a residual block promises about its skip, hence which claims apply.

A probed claim names the kinds it is about (:func:`entangled.theory.conjectures.probed.requires`,
``kinds=``); on a block of another kind it is **not applicable**, with the reason, never
falsified. The kinds:

``stream-mixing`` (default)
    ``y = H x + F(x)`` with ``H`` an ``n x n`` mixing of streams that is meant to be doubly
    stochastic (Hyper-Connections' ``H_res``, mHC, entangled mappings): every claim applies.
``scalar-gated``
    ``y = α x + F(x)`` — the skip is a multiple of the identity (a gated or scaled residual,
    DeepNet's ``α > 1``, a learnable skip gain). Stochasticity and gain bounds are not promised;
    ``skip_is_scalar_multiple_of_identity`` is.
``post-activation``
    ``y = φ(M x + F(x))`` — a nonlinearity or norm after the sum (the original ResNet's ReLU,
    Post-LN). The Jacobian is ``φ'(·) M``, input-dependent, so the claims about a linear stream
    map do not apply; measured at the pre-activation point instead (``pre_activation=`` /
    ``--pre-activation SUBMODULE``: the input of the submodule applied after the sum) they do.
``history-window``
    ``x_{l+1} = F(x_l) + Σ_k a_k h_k`` over a sliding window of the last ``K`` states
    (``forward(x, history)``); the window ``(h_1..h_K)`` is the input and the new state is
    appended to it shifted by one, so the stream map is a companion matrix. The shift has
    column sums 2 where the window overlaps, so column-gain, spectral-norm and stochasticity
    claims do not apply; the forward (row) gain does.
"""

from __future__ import annotations

from dataclasses import dataclass

from entangled.errors import InvalidParameterError


@dataclass(frozen=True)
class BlockKind:
    """A declared block kind: its name, the form of its skip, and whether the block returns the
    new state of a history window (:func:`entangled.theory.probe.invoke.append_to_window`)."""

    name: str
    form: str
    window: bool = False


BLOCK_KINDS: dict[str, BlockKind] = {kind.name: kind for kind in (
    BlockKind("stream-mixing", "y = H x + F(x), H a (doubly stochastic) mixing of n streams"),
    BlockKind("scalar-gated", "y = α x + F(x), the skip a multiple of the identity"),
    BlockKind("post-activation", "y = φ(M x + F(x)), a nonlinearity after the sum"),
    BlockKind("history-window", "x_{l+1} = F(x_l) + Σ_k a_k h_k over a window of K states",
              window=True),
)}
DEFAULT_KIND = "stream-mixing"
ALL_KINDS = tuple(BLOCK_KINDS)
#: Kinds whose skip is a linear stream map: the claims about ``H`` itself apply.
LINEAR_KINDS = ("stream-mixing", "scalar-gated", "history-window")


def check_kind(kind: object) -> str:
    """``kind`` if it is a declared kind name, else a ValueError naming the kinds."""
    if not isinstance(kind, str) or kind not in BLOCK_KINDS:
        raise InvalidParameterError("kind", kind, "one of " + ", ".join(map(repr, BLOCK_KINDS)),
                                    context="probe")
    return kind


def effective_kind(kind: str, measured_at: str | None) -> str:
    """The kind the claims see: a post-activation block measured at its pre-activation point
    is a linear stream mixing there."""
    if kind == "post-activation" and measured_at:
        return "stream-mixing"
    return kind


def kind_reason(kind: str, measured_at: str | None, claim_kinds: tuple[str, ...]) -> str:
    """Why a claim about ``claim_kinds`` does not apply to a block of ``kind``."""
    return (f"a claim about {' / '.join(claim_kinds)} blocks; this block is declared {kind}"
            + (" (--pre-activation SUBMODULE measures before the nonlinearity)"
               if kind == "post-activation" and not measured_at else ""))
