"""The built-in conjecture catalog, one module per theme.

Importing this package registers every built-in conjecture (``from theory import conjecture``):

* :mod:`~theory.conjectures.spectral` — eigenvalues, determinants, spectral radius;
* :mod:`~theory.conjectures.norms` — norms, orthogonality, distance from I, residual Jacobians;
* :mod:`~theory.conjectures.structure` — sparsity, support graphs, cycles, Markov gaps;
* :mod:`~theory.conjectures.composition` — products of L mappings, closure, composite gain;
* :mod:`~theory.conjectures.literature` — claims of the papers of DESIGN §1, true and false;
* :mod:`~theory.conjectures.probed` — claims about the skip map a real module applies, checked
  on mappings measured by :mod:`theory.probe` (``entangled probe``), never searched;
* the literature ledger (:mod:`theory.literature`), one module per source:
  :mod:`~theory.conjectures.lit_lechner`, :mod:`~theory.conjectures.lit_hyper_connections`,
  :mod:`~theory.conjectures.lit_mhc`, :mod:`~theory.conjectures.lit_mhc_lite`,
  :mod:`~theory.conjectures.lit_circulant`, :mod:`~theory.conjectures.lit_orthostochastic`,
  :mod:`~theory.conjectures.lit_orthogonal`, :mod:`~theory.conjectures.lit_refinement`,
  :mod:`~theory.conjectures.lit_implementations` (with :mod:`~theory.conjectures.literature`).

Every catalog function is also an ordinary function of a mapping (or of a tuple of mappings
for ``depth`` claims) and can be called directly.
"""

from theory.conjectures import (
    composition,
    lit_circulant,
    lit_hyper_connections,
    lit_implementations,
    lit_lechner,
    lit_mhc,
    lit_mhc_lite,
    lit_orthogonal,
    lit_orthostochastic,
    lit_refinement,
    literature,
    norms,
    probed,
    spectral,
    structure,
)

THEMES = ("spectral", "norms", "structure", "composition", "literature", "probed")
LITERATURE_THEMES = ("lit_lechner", "lit_hyper_connections", "lit_mhc", "lit_mhc_lite",
                     "lit_circulant", "lit_orthostochastic", "lit_orthogonal", "lit_refinement",
                     "lit_implementations")

__all__ = ["LITERATURE_THEMES", "THEMES", "composition", "lit_circulant",
           "lit_hyper_connections", "lit_implementations", "lit_lechner", "lit_mhc",
           "lit_mhc_lite", "lit_orthogonal", "lit_orthostochastic", "lit_refinement",
           "literature", "norms", "probed", "spectral", "structure"]
