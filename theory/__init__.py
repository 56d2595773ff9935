"""Properties and conjectures about entangled skip mappings.

State a claim in a few lines and get a verdict (proved / holds on N examples / falsified with a
minimal counterexample / error)::

    from theory import conjecture

    @conjecture(families=["orthogonal", "permutation", "rotation"], tol=1e-9)
    def eigenvalues_on_unit_circle(m):
        \"\"\"Every eigenvalue has modulus 1, as for the identity.\"\"\"
        return float((m.eigvals().abs() - 1).abs().max())

    import theory
    theory.check(eigenvalues_on_unit_circle, "rotation").verdict   # 'holds'

Names are imported lazily, so ``import theory`` (done by the pytest plugin in every pytest
run) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "conjecture": "theory.registry",
    "Conjecture": "theory.registry",
    "all_conjectures": "theory.registry",
    "Ledger": "theory.ledger",
    "LedgerEntry": "theory.ledger",
    "check": "theory.engine",
    "evaluate_on": "theory.engine",
    "verify": "theory.engine",
    "load_builtin": "theory.loader",
    "load_file": "theory.loader",
    "load_sources": "theory.loader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'theory' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
