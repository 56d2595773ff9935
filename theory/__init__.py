"""Properties and conjectures about entangled skip mappings.

State a claim in a few lines and get a verdict (proved / holds on N examples / falsified with a
minimal counterexample / error)::

    from entangled.theory import conjecture

    @conjecture(families=["orthogonal", "permutation", "rotation"], tol=1e-9)
    def eigenvalues_on_unit_circle(m):
        \"\"\"Every eigenvalue has modulus 1, as for the identity.\"\"\"
        return float((m.eigvals().abs() - 1).abs().max())

    from entangled import theory
    theory.check(eigenvalues_on_unit_circle, "rotation").verdict   # 'holds'

Names are imported lazily, so ``from entangled import theory`` (done by the pytest plugin in every pytest
run) costs nothing until a name is used.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "conjecture": "entangled.theory.registry",
    "Conjecture": "entangled.theory.registry",
    "all_conjectures": "entangled.theory.registry",
    "Ledger": "entangled.theory.ledger",
    "LedgerEntry": "entangled.theory.ledger",
    "check": "entangled.theory.engine",
    "evaluate_on": "entangled.theory.engine",
    "verify": "entangled.theory.engine",
    "load_builtin": "entangled.theory.loader",
    "load_file": "entangled.theory.loader",
    "load_sources": "entangled.theory.loader",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - a list, built from the lazy names


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'entangled.theory' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
