"""The built-in conjecture catalog, one module per theme.

Importing this package registers every built-in conjecture (``from entangled.theory import conjecture``):

* :mod:`~entangled.theory.conjectures.spectral` — eigenvalues, determinants, spectral radius;
* :mod:`~entangled.theory.conjectures.norms` — norms, orthogonality, distance from I, residual Jacobians;
* :mod:`~entangled.theory.conjectures.structure` — sparsity, support graphs, cycles, Markov gaps;
* :mod:`~entangled.theory.conjectures.composition` — products of L mappings, closure, composite gain;
* :mod:`~entangled.theory.conjectures.literature` — claims of the papers of DESIGN §1, true and false;
* :mod:`~entangled.theory.conjectures.probed` — claims about the skip map a real module applies, checked
  on mappings measured by :mod:`entangled.theory.probe` (``entangled probe``), never searched;
* the literature ledger (:mod:`entangled.theory.literature`), one module per source:
  :mod:`~entangled.theory.conjectures.lit_lechner`, :mod:`~entangled.theory.conjectures.lit_hyper_connections`,
  :mod:`~entangled.theory.conjectures.lit_mhc`, :mod:`~entangled.theory.conjectures.lit_mhc_lite`,
  :mod:`~entangled.theory.conjectures.lit_circulant`, :mod:`~entangled.theory.conjectures.lit_orthostochastic`,
  :mod:`~entangled.theory.conjectures.lit_orthogonal`, :mod:`~entangled.theory.conjectures.lit_refinement`,
  :mod:`~entangled.theory.conjectures.lit_implementations` (with :mod:`~entangled.theory.conjectures.literature`),
  and the 2026 successors (claims 31-48): :mod:`~entangled.theory.conjectures.lit_truncated_sinkhorn`,
  :mod:`~entangled.theory.conjectures.lit_stream_collapse`,
  :mod:`~entangled.theory.conjectures.lit_parametrisations`,
  :mod:`~entangled.theory.conjectures.lit_stream_models`.

Every catalog function is also an ordinary function of a mapping (or of a tuple of mappings
for ``depth`` claims) and can be called directly.
"""

from entangled.theory.conjectures import (
    composition,
    lit_circulant,
    lit_hyper_connections,
    lit_implementations,
    lit_lechner,
    lit_mhc,
    lit_mhc_lite,
    lit_orthogonal,
    lit_orthostochastic,
    lit_parametrisations,
    lit_refinement,
    lit_stream_collapse,
    lit_stream_models,
    lit_truncated_sinkhorn,
    literature,
    norms,
    probed,
    spectral,
    structure,
)

THEMES = ("spectral", "norms", "structure", "composition", "literature", "probed")
LITERATURE_THEMES = ("lit_lechner", "lit_hyper_connections", "lit_mhc", "lit_mhc_lite",
                     "lit_circulant", "lit_orthostochastic", "lit_orthogonal", "lit_refinement",
                     "lit_implementations", "lit_truncated_sinkhorn", "lit_stream_collapse",
                     "lit_parametrisations", "lit_stream_models")

__all__ = ["LITERATURE_THEMES", "THEMES", "composition", "lit_circulant",
           "lit_hyper_connections", "lit_implementations", "lit_lechner", "lit_mhc",
           "lit_mhc_lite", "lit_orthogonal", "lit_orthostochastic", "lit_parametrisations",
           "lit_refinement", "lit_stream_collapse", "lit_stream_models",
           "lit_truncated_sinkhorn", "literature", "norms", "probed", "spectral", "structure"]
