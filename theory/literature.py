"""The literature ledger: 30 published claims about residual mixing, each encoded as conjectures.

:data:`CLAIMS` lists every claim as the source states it (in our words), its source, its kind
— ``"theorem"`` (a mathematical statement), ``"empirical"`` (a measured or reported behaviour)
or ``"implementation"`` (a promise about code) — the conjectures that encode it (qualified
names in the built-in catalog) and how the claim was read where the source is loose. The
conjectures run in ``entangled verify`` and ``entangled report`` like every other catalog
entry; claims 28-30 also run on any module through ``entangled probe``.

Four claims are **falsified as literally stated** (:data:`LITERALLY_FALSIFIED`), each with a
minimal counterexample found by the search: 20 Sinkhorn iterations are not exactly doubly
stochastic (5); the reported composite error 4e-7 is not a typical value (17); orthostochastic
matrices do not cover the doubly stochastic ones from n = 3 (19); the orthogonal residual
update with its eps > 0 does shrink the stream (20). Sharpened readings that are falsified too
are marked in :attr:`Claim.reading`.

:func:`literature_rows` turns a :class:`~entangled.theory.ledger.Ledger` into one row per (claim,
conjecture) — claim, source, kind, verdict, evidence — for reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

C = "entangled.theory.conjectures."


@dataclass(frozen=True)
class Claim:
    """One published claim of the ledger."""

    number: int
    text: str
    source: str
    kind: str
    conjectures: tuple[str, ...]
    reading: str = ""


@dataclass(frozen=True)
class LiteratureRow:
    """One (claim, conjecture) row of the literature section: plain data for a renderer."""

    number: int
    claim: str
    source: str
    kind: str
    conjecture: str
    statement: str
    verdict: str
    expected: str
    matches_expected: bool
    families: tuple[str, ...] = field(default_factory=tuple)
    evidence: str = ""


CLAIMS: tuple[Claim, ...] = (
    Claim(1, "Entangled mappings keep some attributes of the identity — eigenvalues, structure, "
             "Jacobian norm — while mixing features.",
          "Lechner et al., arXiv 2206.01261", "theorem",
          (C + "lit_lechner.entangled_mappings_keep_an_identity_attribute",
           C + "literature.sparse_row_stochastic_shares_identity_spectral_radius"),
          "each member keeps at least one measurable attribute (unit-modulus spectrum, "
          "eigenvalue 1 with radius 1, or spectral norm 1)"),
    Claim(2, "An orthogonal skip keeps every eigenvalue on the unit circle and the Jacobian norm "
             "of the skip path at 1.", "Lechner et al., arXiv 2206.01261", "theorem",
          (C + "lit_lechner.orthogonal_skip_unit_circle_and_unit_jacobian_norm",)),
    Claim(3, "At its initialisation HC reduces to an ordinary (pre-norm) residual connection: "
             "the effective skip is I.", "Zhu et al., Hyper-Connections, arXiv 2409.19606",
          "theorem",
          (C + "lit_hyper_connections.hc_initialisation_is_a_plain_residual",
           C + "lit_hyper_connections.mhc_initialisation_is_identity_skip"),
          "holds for HC; transferred to mHC's Sinkhorn-projected identity logits (not an mHC "
          "claim) it is falsified at n = 2"),
    Claim(4, "With unconstrained H_res the composite mapping over depth can amplify without "
             "bound (gains of order 1e16 at depth 64 for N(0, 1) mixing).",
          "Zhu et al., arXiv 2409.19606; reproduction in arXiv 2512.24880", "empirical",
          (C + "lit_hyper_connections.unconstrained_composite_gain_explodes",),
          "gain >= 1e10 at depth 64 for 4x4 N(0, 1) layers"),
    Claim(5, "H_res = Sinkhorn-Knopp(exp(logits)) with 20 iterations is doubly stochastic.",
          "mHC, arXiv 2512.24880", "theorem",
          (C + "literature.twenty_sinkhorn_iterations_are_exactly_doubly_stochastic",),
          "exactly (to 1e-12): falsified as literally stated"),
    Claim(6, "A doubly stochastic matrix has spectral norm at most 1 (the skip is "
             "non-expansive).", "mHC, arXiv 2512.24880", "theorem",
          (C + "literature.doubly_stochastic_spectral_norm_at_most_one",
           C + "literature.two_by_two_doubly_stochastic_spectral_norm_is_one",
           C + "lit_mhc.mhc_h_res_is_non_expansive"),
          "true for exact doubly stochastic matrices; applied to mHC's 20-iteration H_res it "
          "is falsified"),
    Claim(7, "Doubly stochastic matrices are closed under products, so the composite skip over "
             "any depth stays doubly stochastic.", "mHC, arXiv 2512.24880", "theorem",
          (C + "lit_mhc.doubly_stochastic_products_stay_doubly_stochastic",)),
    Claim(8, "Doubly stochastic mixing conserves the mean across streams (1^T H = 1^T).",
          "mHC, arXiv 2512.24880", "theorem",
          (C + "lit_mhc.doubly_stochastic_mixing_conserves_stream_mean",)),
    Claim(9, "The composite Amax gain stays near 1 over depth, versus thousands for "
             "unconstrained HC; two definitions (|sum_j M_ij| vs sum_j |M_ij|) are in use.",
          "mHC, arXiv 2512.24880", "empirical",
          (C + "lit_mhc.composite_amax_gain_is_one_for_doubly_stochastic",
           C + "lit_mhc.sinkhorn_composite_amax_gain_stays_near_one",
           C + "lit_mhc.amax_gain_definitions_agree"),
          "near 1 = within 1e-3 at depth 64; the definitions differ for signed matrices"),
    Claim(10, "A convex combination of permutation matrices is exactly doubly stochastic.",
          "mHC-lite, arXiv 2601.05732", "theorem",
          (C + "lit_mhc_lite.convex_combination_of_permutations_is_exactly_doubly_stochastic",)),
    Claim(11, "Finitely many Sinkhorn iterations leave a gap from double stochasticity that "
              "accumulates with depth.", "mHC-lite, arXiv 2601.05732", "theorem",
          (C + "literature.sinkhorn_gap_accumulates_at_most_multiplicatively",
           C + "literature.sinkhorn_gap_grows_monotonically_with_depth"),
          "bounded by the product of per-layer gaps (holds); 'grows with every block' "
          "(falsified)"),
    Claim(12, "Every n x n doubly stochastic matrix is a convex combination of at most "
              "(n - 1)^2 + 1 permutation matrices (Birkhoff-von Neumann, Marcus-Ree).",
          "mHC-lite, arXiv 2601.05732", "theorem",
          (C + "lit_mhc_lite.birkhoff_von_neumann_with_marcus_ree_bound",),
          "checked constructively (greedy decomposition + Caratheodory reduction)"),
    Claim(13, "H = sum_k c_k Pi^k with c on the simplex is exactly doubly stochastic, and such "
              "mappings commute.", "Circulant hyper-connections (C-mHC)", "theorem",
          (C + "lit_circulant.circulant_mixing_is_doubly_stochastic_and_commutes",)),
    Claim(14, "Collapse bound: ||P_L - J/n||_2 <= sqrt(n) prod_l (1 - n delta_l).",
          "Circulant hyper-connections (C-mHC)", "theorem",
          (C + "lit_circulant.collapse_bound", C + "lit_circulant.collapse_bound_without_sqrt_n"),
          "holds; the sqrt(n) factor is not needed (sharper bound holds, with proof)"),
    Claim(15, "Entry floor: with logits bounded by B every entry of the softmax circulant is at "
              "least e^{-2B}/n (the source states e^{-4B}/n).",
          "Circulant hyper-connections (C-mHC)", "theorem",
          (C + "lit_circulant.softmax_circulant_entry_floor",),
          "e^{-2B}/n for a softmax of logits; e^{-4B}/n is the floor for a softmax of logit "
          "differences and holds a fortiori"),
    Claim(16, "With gamma_l = 1 - c_0 and c_0 > 1/2, sigma_min(P_L) >= prod_l (1 - 2 gamma_l).",
          "Circulant hyper-connections (C-mHC)", "theorem",
          (C + "lit_circulant.circulant_smallest_singular_value_bound",)),
    Claim(17, "For n = 4, L = 64, N(0, 1) logits, 20-iteration Sinkhorn leaves a mean column-sum "
              "error of the composite around 4e-7, the circulant one around 1e-15.",
          "Circulant hyper-connections (C-mHC)", "empirical",
          (C + "lit_circulant.reported_sinkhorn_composite_error_is_about_4e_7",
           C + "lit_circulant.circulant_mixing_is_doubly_stochastic_and_commutes"),
          "every draw within a factor 10 of 4e-7: falsified (the error spans orders of "
          "magnitude between seeds)"),
    Claim(18, "The entrywise square of an orthogonal matrix is doubly stochastic "
              "(orthostochastic).", "go-mHC, arXiv 2604.02309", "theorem",
          (C + "literature.orthostochastic_squares_are_doubly_stochastic",)),
    Claim(19, "Read as 'orthostochastic mixing covers the doubly stochastic matrices': true for "
              "n = 2, false from n = 3 on.", "go-mHC, arXiv 2604.02309", "theorem",
          (C + "lit_orthostochastic.orthostochastic_matrices_cover_doubly_stochastic",
           C + "lit_orthostochastic.two_by_two_doubly_stochastic_is_orthostochastic"),
          "the covering reading is falsified at n = 3; the n = 2 half holds"),
    Claim(20, "x + f - (<x, f>/(||x||^2 + eps)) x adds only the part of f orthogonal to x: "
              "the stream norm never decreases.", "Orthogonal residual update, arXiv 2505.11881",
          "theorem",
          (C + "lit_orthogonal.orthogonal_update_adds_only_the_orthogonal_part",
           C + "lit_orthogonal.orthogonal_update_never_decreases_the_norm"),
          "exact at eps = 0 (proved); with the implemented eps > 0 the norm can decrease "
          "(falsified at n = 1)"),
    Claim(21, "With an orthogonal recurrence the linear part of back-propagation preserves "
              "gradient norms over any number of steps.",
          "Henaff et al. 2016; expRNN; scoRNN", "theorem",
          (C + "lit_orthogonal.orthogonal_recurrence_preserves_gradient_norms",)),
    Claim(22, "Copy memory: a memoryless predictor's cross-entropy is 10 log 8 / (T + 20); adding "
              "problem baseline MSE about 0.167.", "Henaff et al. 2016", "theorem",
          (C + "lit_refinement.memoryless_baselines",)),
    Claim(23, "QR of a Gaussian matrix with the sign of R's diagonal fixed is Haar-distributed "
              "on O(n).", "geotorch; PyTorch parametrizations; Mezzadri 2007", "empirical",
          (C + "lit_orthogonal.qr_with_sign_fix_is_haar",)),
    Claim(24, "The Cayley map of a skew-symmetric A is orthogonal with no eigenvalue -1; the "
              "exponential of a skew-symmetric A has determinant +1.",
          "geotorch; PyTorch parametrizations", "theorem",
          (C + "lit_orthogonal.cayley_and_exponential_of_skew_are_special",)),
    Claim(25, "Deleting a single block of a trained identity-skip residual network barely "
              "changes its accuracy.", "Veit et al. 2016", "empirical",
          (C + "lit_refinement.deleting_one_block_barely_changes_the_output",),
          "linear proxy with norm-preserving skips; trained networks: the report's lesion panel"),
    Claim(26, "Later blocks make small refinements aligned with the negative gradient.",
          "Jastrzebski et al. 2017", "empirical",
          (C + "lit_refinement.blocks_make_small_refinements",),
          "magnitude half on a linear proxy; alignment: the report's refinement panel"),
    Claim(27, "With orthogonal skips and zero branches every singular value of the input-output "
              "Jacobian is 1 (dynamical isometry).", "Pennington et al. 2017", "theorem",
          (C + "lit_orthogonal.orthogonal_skips_with_zero_branches_are_isometric",)),
    Claim(28, "A module's exposed mixing matrix is the one its forward pass applies.",
          "implementations (HC/mHC code)", "implementation",
          (C + "lit_implementations.entangled_skip_applies_its_exposed_matrix",
           C + "probed.equals_exposed")),
    Claim(29, "Moving the mixing parameters changes the applied skip ('mixing is live').",
          "implementations (HC/mHC code)", "implementation",
          (C + "lit_implementations.entangled_skip_mixing_is_live",
           C + "lit_implementations.entangled_skip_matrix_buffer_is_what_forward_reads",
           C + "probed.mixing_is_live"),
          "read with 28: EntangledSkip's exposed matrix buffer is what forward reads"),
    Claim(30, "Gradients flow through the skip path: the autograd Jacobian equals a "
              "finite-difference Jacobian of the forward map.",
          "implementations (HC/mHC code)", "implementation",
          (C + "lit_implementations.entangled_skip_gradients_match_finite_differences",
           C + "probed.autograd_matches_finite_differences")),
)

LITERALLY_FALSIFIED = {
    5: C + "literature.twenty_sinkhorn_iterations_are_exactly_doubly_stochastic",
    17: C + "lit_circulant.reported_sinkhorn_composite_error_is_about_4e_7",
    19: C + "lit_orthostochastic.orthostochastic_matrices_cover_doubly_stochastic",
    20: C + "lit_orthogonal.orthogonal_update_never_decreases_the_norm",
}
"""Claim number -> the conjecture that falsifies the claim as literally stated."""


def claim_conjecture_names() -> list[str]:
    """Every conjecture of the ledger, in claim order (a conjecture may serve two claims)."""
    return list(dict.fromkeys(name for claim in CLAIMS for name in claim.conjectures))


def _evidence(entries: list[Any]) -> str:
    """Words for a reader: the counterexample of a falsification, else the worst value."""
    for entry in entries:
        if entry.verdict == "error":
            return "error: " + (entry.error or "").strip().splitlines()[-1][:200]
    for entry in entries:
        cx = entry.counterexample
        if entry.verdict == "falsified" and cx:
            params = cx.get("params")
            return (f"counterexample [{entry.family}] n={cx.get('n')}"
                    + (f", params={params}" if params else "")
                    + f", seed={cx.get('seed')}: value {cx.get('value')}")
    proved = [e for e in entries if e.verdict == "proved" and e.proof]
    if proved:
        return "proved: " + str(proved[0].proof.get("statement", ""))
    worst = [e.worst for e in entries if e.worst is not None]
    examples = sum(e.examples for e in entries)
    return f"{examples} examples" + (f", worst {max(worst):.3g}" if worst else "")


def aggregate_verdict(entries: list[Any]) -> str:
    """One verdict over a conjecture's families: error > falsified > holds > proved."""
    verdicts = {e.verdict for e in entries}
    for verdict in ("error", "falsified", "holds", "proved"):
        if verdict in verdicts:
            return verdict
    return "not run"


def literature_rows(ledger: Any, conjectures: Iterable[Any] | None = None) -> list[LiteratureRow]:
    """One row per (claim, conjecture) from a ledger of ``entangled verify`` / the report.

    Conjectures that the ledger does not contain (the probed claims, which only
    ``entangled probe`` evaluates; or a run restricted to some families) get the verdict
    ``"not run"`` and say where they run.
    """
    by_name: dict[str, list[Any]] = {}
    for entry in ledger.entries:
        by_name.setdefault(entry.conjecture, []).append(entry)
    known = {}
    if conjectures is not None:
        known = {c.name: c for c in conjectures}
    else:
        from entangled.theory.loader import load_builtin

        known = {c.name: c for c in load_builtin()}
    rows = []
    for claim in CLAIMS:
        for name in claim.conjectures:
            entries = by_name.get(name, [])
            conj = known.get(name)
            expected = entries[0].expected if entries else (conj.expected if conj else "holds")
            verdict = aggregate_verdict(entries)
            if entries:
                evidence = _evidence(entries)
            elif conj is not None and "probed" in conj.families:
                evidence = "evaluated by entangled probe on a real module (docs/probe.md, real-world runs)"
            else:
                evidence = "not in this ledger"
            rows.append(LiteratureRow(
                number=claim.number, claim=claim.text, source=claim.source, kind=claim.kind,
                conjecture=name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1],
                statement=conj.statement if conj is not None else name,
                verdict=verdict, expected=expected,
                matches_expected=bool(entries) and all(e.matches_expected for e in entries),
                families=tuple(e.family for e in entries), evidence=evidence))
    return rows


def literature_section(ledger: Any) -> list[dict]:
    """Rows of :func:`literature_rows` as plain dicts, from a :class:`~entangled.theory.ledger.Ledger` or
    its ``to_dict()`` form (what the report caches)."""
    from dataclasses import asdict

    from entangled.theory.ledger import Ledger

    if isinstance(ledger, dict):
        ledger = Ledger.from_dict(ledger)
    return [asdict(row) for row in literature_rows(ledger)]
