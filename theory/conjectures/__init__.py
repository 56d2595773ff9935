"""The built-in conjecture catalog, one module per theme.

Importing this package registers every built-in conjecture (``from theory import conjecture``):

* :mod:`~theory.conjectures.spectral` — eigenvalues, determinants, spectral radius;
* :mod:`~theory.conjectures.norms` — norms, orthogonality, distance from I, residual Jacobians;
* :mod:`~theory.conjectures.structure` — sparsity, support graphs, cycles, Markov gaps;
* :mod:`~theory.conjectures.composition` — products of L mappings, closure, composite gain;
* :mod:`~theory.conjectures.literature` — claims of the papers of DESIGN §1, true and false;
* :mod:`~theory.conjectures.probed` — claims about the skip map a real module applies, checked
  on mappings measured by :mod:`theory.probe` (``entangled probe``), never searched.

Every catalog function is also an ordinary function of a mapping (or of a tuple of mappings
for ``depth`` claims) and can be called directly.
"""

from theory.conjectures import composition, literature, norms, probed, spectral, structure

THEMES = ("spectral", "norms", "structure", "composition", "literature", "probed")

__all__ = ["THEMES", "composition", "literature", "norms", "probed", "spectral", "structure"]
