"""Literature ledger: Lechner et al., "Entangled Residual Mappings", arXiv 2206.01261 (claims 1-2).

Every claim of the ledger (see :mod:`entangled.theory.literature`) is a conjecture with ``reference=`` the
source, ``kind=`` what it is, and a docstring that states it as the source does and says how it
is read when the statement is loose.
"""

from __future__ import annotations

from entangled.properties import eigenvalue_modulus_deviation, spectral_radius
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.spectral import numeric_singular_values

LECHNER = "Lechner et al., Entangled Residual Mappings, arXiv 2206.01261"


def _eigenvalue_one_radius_one(m) -> float:
    """``max(min_k |lambda_k - 1|, |rho(M) - 1|)``: 1 is an eigenvalue and the spectral radius."""
    eig = m.eigvals()
    return max(float((eig - 1).abs().min()), abs(spectral_radius(m) - 1.0))


@conjecture(families=["orthogonal", "rotation", "permutation", "circulant"], tol=1e-9,
            n=(1, 32), reference=LECHNER + " §2-3",
            kind="theorem")
def entangled_mappings_keep_an_identity_attribute(m):
    """Every entangled mapping keeps at least one attribute of I: all |lambda| = 1, or
    eigenvalue 1 with spectral radius 1, or spectral norm (Jacobian norm of the skip) 1.

    Source: "entangled mappings keep some attributes of the identity — eigenvalues, structure,
    Jacobian norm — while mixing features". Read as: each member of each family of the paper
    (orthogonal, rotation, permutation, circulant structural correlation) keeps at least one
    of the three measurable attributes; which one is listed in the families table. The sparse
    family is covered by :func:`entangled.theory.conjectures.literature.sparse_row_stochastic_shares_identity_spectral_radius`
    (its attribute needs the paper's row normalisation; ``normalise="none"`` keeps none). "While mixing features" is not part of the check (at a parameter's
    identity value a member *is* I). Returns the smallest of the three deviations.
    """
    singular = numeric_singular_values(m)
    norm_dev = float((singular.max() - 1).abs())
    return min(eigenvalue_modulus_deviation(m), _eigenvalue_one_radius_one(m), norm_dev)


@conjecture(requires=["orthogonal"], tol=1e-9, n=(1, 32),
            reference=LECHNER + " §2", kind="theorem",
            proof=symbolic.rotation_norm_preservation())
def orthogonal_skip_unit_circle_and_unit_jacobian_norm(m):
    """An orthogonal skip keeps every eigenvalue on the unit circle and the skip's Jacobian
    norm at 1: max(max |1 - |lambda||, |sigma_max - 1|, |sigma_min - 1|) <= 1e-9.

    .. math:: M^TM = I \\Rightarrow \\|Mx\\| = \\|x\\|,\\ |\\lambda| = 1,\\ \\sigma_i = 1
    """
    singular = numeric_singular_values(m)
    return max(eigenvalue_modulus_deviation(m), float((singular - 1).abs().max()))
