"""Probe the skip mapping a residual module *actually* applies.

A residual block computes ``y = S(x) + F(x)``: a skip path ``S`` (the identity, a fixed
entangled mapping ``M``, or the stream mixing ``H`` of Hyper-Connections / mHC) plus a residual
branch ``F``. With the branch **silenced** (``F = 0``) the Jacobian of the block is the Jacobian
of the skip path,

.. math:: J = \\frac{\\partial y}{\\partial x}\\Big|_{F = 0},

and for a linear skip ``S(x) = M x`` it is ``M`` itself. :func:`probe` measures ``J`` with
``torch.func`` (one forward pass, ``vmap`` over the vector-Jacobian products of the output
basis vectors) in float64 and returns it as a :class:`ProbedMapping` — a :class:`Mapping`
of family ``"probed"`` — so that every mapping method and every property of
:mod:`entangled.properties` and :mod:`theory` applies to the module's real behaviour.

Silencing the branch
--------------------
(a) build the block around a branch you control that returns zeros (``ZeroBranch``), or
(b) pass ``silence="name.of.submodule"`` (or a list of names): :func:`probe` registers a
forward hook on a *copy* of the block that replaces that submodule's output by zeros, or
(c) declare a block without branch (``no_branch=True``). Otherwise the probe warns and labels
the result ``scope="whole block"``: it then measures the branch too, and the claims about the
skip path are not applicable.

Package layout
--------------
* :mod:`entangled.theory.probe.mapping` — :class:`ProbedMapping` (the result), the Kronecker reduction;
* :mod:`entangled.theory.probe.layouts` — where positions, streams and features sit in the input;
* :mod:`entangled.theory.probe.blocks` — silencing, fresh copies, ``--perturb`` and ``--exposed``;
* :mod:`entangled.theory.probe.jacobian` — Jacobian rows (recorded fallbacks), finite differences;
* :mod:`entangled.theory.probe.core` — :func:`probe` itself;
* :mod:`entangled.theory.probe.spec` — what a factory returns (:func:`probe_spec`);
* :mod:`entangled.theory.probe.check` — which claims apply, and their ledger (:func:`check_probed`);
* :mod:`entangled.theory.probe.page` — the self-contained HTML page of ``entangled probe --html``.

Nothing that fails while probing is swallowed: fallbacks and caught exceptions are recorded in
``params["notes"]`` of the result.

Input layout and streams
------------------------
The sample input is split into **positions** (batch, sequence, pixels: everything the skip path
must not mix) and, per position, ``n`` **streams** of width ``d``. The ``layout`` names where
they are:

* ``"... s d"`` — trailing axes ``(n, d)`` (``hyper_connections.mHCv2``);
* ``"... f"`` — trailing axis of ``n * d`` features, stream-major (``EntangledSkip(dim=-1)``
  on ``(B, T, D)``; ``n = D, d = 1`` unless ``streams`` says otherwise);
* ``"(b s) ... d"`` — streams folded into the batch axis, stream index fastest
  (``hyper_connections.ManifoldConstrainedHyperConnections``, "mHC" v1);
* ``"b f ..."`` — channels first, ``n * d`` features on axis 1 (``EntangledSkip(dim=1)`` on
  ``(B, C, H, W)``);
* ``"auto"`` (default) — ``"... s d"`` when ``streams`` is given and equals ``shape[-2]``,
  else ``"... f"``;
* a callable ``x -> x'`` of shape ``(P, n, d)`` built from reshapes/permutes only.

The ``(n d) x (n d)`` Jacobian ``J_p`` of one position is reduced to the ``n x n`` stream
map by the Frobenius-nearest Kronecker form

.. math:: H_{ij} = \\frac{1}{d}\\operatorname{tr} J_p[i, :, j, :] ,\\qquad
          r = \\frac{\\lVert J_p - H \\otimes I_d\\rVert_F}{\\lVert J_p\\rVert_F},

``r`` being the **Kronecker residual** (0 iff the skip only mixes whole streams, the same way
for every feature). Two further diagnostics are recorded: ``cross_position`` (relative
Frobenius mass of the Jacobian rows of the first and last position that reach other
positions; must be 0 for a skip path) and ``position_spread`` (relative difference of ``J_p``
between the first and the last position). Only the ``2 n d`` rows of those two positions are
differentiated, so the cost is ``2 n d`` vector-Jacobian products whatever the batch size.

What is measured for input-dependent mixing
-------------------------------------------
When the mixing matrix is computed from the input, ``y = H(x) x``, the Jacobian is

.. math:: J = H(x) \\otimes I_d + \\sum_k \\frac{\\partial H}{\\partial x_k} x \\, e_k^T ,

the *linearisation of the skip path at the sample input*, not ``H(x)`` itself: the second term
is what a gradient through the skip path really sees. The mixing matrix that the module
computes can be read by an adapter (``exposed``) and compared with the probed map.
"""

from entangled.theory.probe.blocks import (
    BlockCopies,
    ZeroBranch,
    exposed_reader,
    parse_perturb,
    perturb_parameters,
    silence_hooks,
)
from entangled.theory.probe.check import applicable, check_probed, probed_examples
from entangled.theory.probe.core import FD_TOLERANCE, probe
from entangled.theory.probe.layouts import LAYOUTS, position_index
from entangled.theory.probe.mapping import (
    PROBED_FAMILY,
    ProbedMapping,
    ProbeError,
    ProbeWarning,
    kronecker_residual,
    kronecker_split,
)
from entangled.theory.probe.spec import SPEC_KEYS, probe_spec

__all__ = [
    "BlockCopies",
    "FD_TOLERANCE",
    "LAYOUTS",
    "PROBED_FAMILY",
    "ProbeError",
    "ProbeWarning",
    "ProbedMapping",
    "SPEC_KEYS",
    "ZeroBranch",
    "applicable",
    "check_probed",
    "exposed_reader",
    "kronecker_residual",
    "kronecker_split",
    "parse_perturb",
    "perturb_parameters",
    "position_index",
    "probe",
    "probe_spec",
    "probed_examples",
    "silence_hooks",
]
