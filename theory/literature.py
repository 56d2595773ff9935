"""The literature ledger: 48 published claims about residual mixing, each encoded as conjectures.

:data:`CLAIMS` lists every claim as the source states it (in our words), its source, its kind
— ``"theorem"`` (a mathematical statement), ``"empirical"`` (a measured or reported behaviour)
or ``"implementation"`` (a promise about code) — the conjectures that encode it (qualified
names in the built-in catalog) and how the claim was read where the source is loose. The
conjectures run in ``entangled verify`` and ``entangled report`` like every other catalog
entry; claims 28-30 also run on any module through ``entangled probe``.

Claims 1-30 come from the papers of DESIGN §1, claims 31-48 from their 2026 successors
(mostly preprints: every number is a claim to test). Ten claims are **falsified as literally
stated** (:data:`LITERALLY_FALSIFIED`), each with a minimal counterexample found by the search:
20 Sinkhorn iterations are not exactly doubly stochastic (5); the reported composite error 4e-7
is not a typical value (17); orthostochastic matrices do not cover the doubly stochastic ones
from n = 3 (19); the orthogonal residual update with its eps > 0 does shrink the stream (20);
the truncated-Sinkhorn gap does not grow with the logit scale for every matrix (31);
``(1 - beta/L)^L >= e^{-beta - beta^2/L}`` fails for ``beta/L > 0.684`` (33); permutations
never approach consensus (39); Post-Norm is no fixed-weight Hyper-Connection (41); circulant
consensus slows down faster than ``(1 - gamma)^{L/n}`` from n = 18 (46). Claims checked in
several precisions show one verdict per dtype: claim 31's reported numbers hold in float32
and fail in float64 (the 4e-7 is float32 rounding), claim 37's underflow is real in float32
only. Sharpened readings that are falsified too are marked in :attr:`Claim.reading`; a claim
that needs training names its suite (:attr:`Claim.suite`).

:func:`literature_rows` turns a :class:`~entangled.theory.ledger.Ledger` into one row per (claim,
conjecture) — claim, source, kind, verdict, evidence — for reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

C = "entangled.theory.conjectures."
S = C + "lit_truncated_sinkhorn."
K = C + "lit_stream_collapse."
P = C + "lit_parametrisations."
M = C + "lit_stream_models."


@dataclass(frozen=True)
class Claim:
    """One published claim of the ledger."""

    number: int
    text: str
    source: str
    kind: str
    conjectures: tuple[str, ...]
    reading: str = ""
    suite: str = ""        # a suite that tests the part of the claim that needs training


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
    Claim(31, "Truncated Sinkhorn-Knopp (t = 20) is not exactly doubly stochastic; the error "
              "grows with the logit scale and accumulates over depth (composite errors ~4e-7, "
              "~4e-3, ~4e-2 reported at logit scales 1, 3, 6 for n = 4, L = 64).",
          "mHC 2512.24880; mHC-lite 2601.05732; circulant-HC write-up "
          "(github contactsebi/circulant-hyper-connections)", "empirical",
          (S + "truncated_sinkhorn_gap_grows_with_logit_scale_for_every_matrix",
           S + "truncated_sinkhorn_median_gap_grows_with_logit_scale",
           S + "reported_composite_gaps_at_logit_scales_1_3_6",
           C + "literature.twenty_sinkhorn_iterations_are_exactly_doubly_stochastic",
           C + "literature.sinkhorn_gap_accumulates_at_most_multiplicatively"),
          "not exact (claim 5) and accumulating (claim 11): confirmed; 'grows with the scale' "
          "holds for the median gap in float64 and float32 and is falsified for single "
          "matrices; the reported numbers hold in float32 and are falsified in float64 — the "
          "4e-7 at scale 1 is float32 rounding, truncation alone leaves ~1e-10"),
    Claim(32, "For Sinkhorn limits of logits with range <= 2B, ||prod_l H_l - J||_2 <= "
              "sqrt(n) (1 - e^{-4B})^L with J = 11^T/n; the lemma: every entry of such a limit "
              "is >= e^{-4B}/n.",
          "circulant hyper-connections (github contactsebi/circulant-hyper-connections)",
          "theorem",
          (K + "sinkhorn_limit_entry_floor", K + "stream_collapse_bound"),
          "limits approximated by 1000 iterations; the lemma follows from the invariance of "
          "cross ratios under scaling (proof attached), the bound from claim 14"),
    Claim(33, "Circulant mixing c = (1 - gamma) e_0 + gamma softmax(z): ||C - I||_2 <= 2 gamma, "
              "every |eigenvalue| >= 1 - 2 gamma, sigma_min(prod C_l) >= prod (1 - 2 gamma_l); "
              "with gamma_l = beta/(2L) this is >= (1 - beta/L)^L >= e^{-beta - beta^2/L}.",
          "circulant hyper-connections (github contactsebi/circulant-hyper-connections)",
          "theorem",
          (K + "gamma_circulant_distance_and_eigenvalue_bounds",
           C + "lit_circulant.circulant_smallest_singular_value_bound",
           K + "uniform_gamma_product_bound_exponential_form",
           K + "uniform_gamma_product_bound_for_small_beta"),
          "the bounds hold; the last inequality is falsified for beta/L > 0.684 (depth 1, "
          "n = 3) and proved for beta/L <= 1/2"),
    Claim(34, "Exact doubly stochastic parametrisations reach different parts of the Birkhoff "
              "polytope (dimension (n - 1)^2): circulant mixing n - 1 dimensions, a Kronecker "
              "product of 2 x 2 factors at n = 4 only 2, mHC-lite all of it with n! weights "
              "(transportation-polytope mHC claims all of it).",
          "transportation-polytope mHC 2605.21724; KromHC 2601.21579; mHC-lite 2601.05732",
          "theorem",
          (P + "circulant_parametrisation_reaches_n_minus_1_dimensions",
           P + "kronecker_2x2_parametrisation_reaches_2_dimensions",
           P + "mhc_lite_parametrisation_reaches_the_whole_polytope",
           P + "sinkhorn_parametrisation_reaches_the_whole_polytope"),
          "reach = rank of the parametrisation's Jacobian at random points; mHC's Sinkhorn "
          "projection added (full); the transportation-polytope construction is not encoded "
          "(not specified in the sources at hand)"),
    Claim(35, "Deep Delta Learning: A = I - beta k k^T with ||k|| = 1 has eigenvalues 1 (d - 1 "
              "times) and 1 - beta, det A = 1 - beta, and is orthogonal iff beta in {0, 2}; at "
              "beta = 1 the skip is singular.", "Deep Delta Learning, arXiv 2601.00417",
          "theorem", (P + "deep_delta_update_spectrum",)),
    Claim(36, "A Cayley map of a skew-symmetric matrix never has eigenvalue -1, so a "
              "pure-Cayley mixer cannot represent a reflection (scoRNN adds a ±1 diagonal for "
              "this).", "EΔ-MHC-Geo, arXiv 2605.06729; scoRNN", "theorem",
          (P + "cayley_mixer_cannot_represent_a_reflection",
           C + "lit_orthogonal.cayley_and_exponential_of_skew_are_special"),
          "determinant 1 (proof attached) and every reflection has the eigenvalue -1"),
    Claim(37, "Sinkhorn underflow: with logits whose range is >~ 104 in float32 (e.g. "
              "off-diagonal -8 at temperature 0.05, a published default) exp underflows to "
              "exactly 0, the output is an exact permutation with exactly zero gradient; in "
              "float64 the same input is fine.",
          "this testbed's reading of the published mHC-style defaults", "implementation",
          (S + "published_sinkhorn_defaults_are_not_an_exact_permutation",
           S + "published_sinkhorn_defaults_gradient_reaches_every_logit",
           C + "probed.gradient_reaches_mixing_parameters"),
          "confirmed: both claims hold in float64 and are falsified in float32, as the claim "
          "says; entangled probe --dtype float32 checks a module the same way"),
    Claim(38, "Identity degeneration: learned Birkhoff mixing collapses toward I; the "
              "spectral-sphere alternative keeps ||M||_2 = 1 but allows negative entries and so "
              "loses mean preservation (1^T M != 1^T in general).", "sHC, arXiv 2603.20896",
          "theorem", (P + "spectral_sphere_mixing_preserves_the_stream_mean",),
          "the mean-preservation half is confirmed (its negation is falsified, n = 1); the "
          "identity degeneration of learned mixing needs training and is not encoded"),
    Claim(39, "Homogeneity trap: doubly stochastic mixing suppresses sigma_2(M); the composite "
              "over depth approaches J.", "arXiv 2601.02080", "theorem",
          (K + "doubly_stochastic_composite_approaches_consensus",
           C + "lit_circulant.collapse_bound_without_sqrt_n"),
          "falsified as stated (permutations keep sigma_2 = 1; identity at n = 2); true, at "
          "the collapse-bound rate, for strictly positive layers"),
    Claim(40, "Hyper-Connections' hidden matrix is low rank when all n streams start as copies "
              "of the embedding: rank <= l + 1 at layer l (broken by per-stream embeddings).",
          "arXiv 2601.02080 on HC, arXiv 2409.19606", "theorem",
          (M + "hyper_connection_hidden_rank_grows_by_one_per_layer",)),
    Claim(41, "Pre-Norm and Post-Norm residual blocks are Hyper-Connections with n = 1 and "
              "fixed weights: an algebraic identity.", "Zhu et al., arXiv 2409.19606",
          "theorem",
          (M + "prenorm_block_is_a_one_stream_hyper_connection",
           M + "postnorm_block_is_a_fixed_weight_hyper_connection"),
          "Pre-Norm: proved; Post-Norm with fixed weights: falsified (n = 1; the norm makes "
          "the weights input-dependent)"),
    Claim(42, "Pre-Norm hidden-state growth (1 + l/2) d <= E||h_l||^2 <= (1 + 3l/2) d for "
              "identity skips; how does it change under orthogonal or doubly stochastic skips?",
          "Xiong et al. 2020", "empirical",
          (M + "prenorm_growth_within_xiong_bounds_for_norm_preserving_skips",
           M + "prenorm_growth_within_xiong_bounds_for_doubly_stochastic_skips"),
          "Monte Carlo at initialisation (400 networks, L = 8): inside the bounds for "
          "identity, orthogonal, permutation and rotation skips; below the lower bound for "
          "doubly stochastic mixtures"),
    Claim(43, "Two gain conventions, max_i |sum_j M_ij| and max_i sum_j |M_ij| (the infinity "
              "norm), agree only for nonnegative M; for orthogonal families the first can be "
              "<= 1 while the true norm is > 1.",
          "a published stability toolkit vs the infinity norm", "theorem",
          (P + "signed_row_sum_gain_bounds_the_infinity_norm",
           C + "lit_mhc.amax_gain_definitions_agree"),
          "confirmed: for sum-preserving orthogonal mixings (signed gain exactly 1) the "
          "infinity norm exceeds 1 from n = 3"),
    Claim(44, "Which marginal of truncated Sinkhorn is exact depends on the last normalisation "
              "step (rows in one popular implementation, columns in the paper's formula): the "
              "forward and backward gains differ accordingly.",
          "mHC 2512.24880 and its implementations", "theorem",
          (S + "truncated_sinkhorn_last_normalisation_decides_the_exact_marginal",)),
    Claim(45, "Metamorphic limits of Sinkhorn: t -> 0 iterations returns the unnormalised "
              "exponentials; t -> infinity converges to the doubly stochastic limit.",
          "Sinkhorn 1964; an mHC implementation keeping t = 0", "theorem",
          (S + "zero_sinkhorn_iterations_return_the_exponentials",
           S + "many_sinkhorn_iterations_converge_to_doubly_stochastic")),
    Claim(46, "mHC-GNN: over-smoothing decays like (1 - gamma)^{L/n} with n streams instead of "
              "(1 - gamma)^L.", "mHC-GNN, arXiv 2601.02451", "empirical",
          (K + "oversmoothing_decays_like_one_minus_gamma_to_the_L_over_n",),
          "read for circulant stream mixing: falsified from n = 18 on (mixing between nearby "
          "streams contracts like 1 - gamma (1 - cos(2 pi/n)), slower than (1 - gamma)^{1/n})"),
    Claim(47, "A tiny character LM (6 blocks, width 128, 4 streams, 400 steps, one seed): "
              "baseline, HC, mHC and circulant mHC end within 0.02 nats of each other in "
              "validation loss; composite forward/backward gains HC 1.54/2.22, mHC 1.00/1.02, "
              "circulant 1.00/1.00.",
          "circulant hyper-connections (github contactsebi/circulant-hyper-connections)",
          "empirical", (M + "circulant_composite_gains_are_one",),
          "the circulant gains are exactly 1 at any depth (holds); the loss comparison is a "
          "paired multi-seed suite with fixed mixings, "
          "reports/suites/literature/lit47_stream_lm.toml",
          suite="reports/suites/literature/lit47_stream_lm.toml"),
    Claim(48, "Value-residual and dense-connection variants (ResFormer, DenseFormer, "
              "MUDDFormer, LAuReL) initialise their mixing weights so that the block starts as "
              "a plain residual: an identity-at-initialisation claim checkable per module.",
          "ResFormer 2410.17897, DenseFormer 2402.02622, MUDDFormer 2502.12170, LAuReL "
          "2411.07501", "implementation",
          (M + "published_identity_initialisations_start_as_plain_residuals",
           C + "probed.skip_is_identity"),
          "probed on re-implementations of DenseFormer's and LAuReL's initialisations; any "
          "module: entangled probe ... --claims +skip_is_identity"),
)

LITERALLY_FALSIFIED = {
    5: C + "literature.twenty_sinkhorn_iterations_are_exactly_doubly_stochastic",
    17: C + "lit_circulant.reported_sinkhorn_composite_error_is_about_4e_7",
    19: C + "lit_orthostochastic.orthostochastic_matrices_cover_doubly_stochastic",
    20: C + "lit_orthogonal.orthogonal_update_never_decreases_the_norm",
    31: S + "truncated_sinkhorn_gap_grows_with_logit_scale_for_every_matrix",
    33: K + "uniform_gamma_product_bound_exponential_form",
    39: K + "doubly_stochastic_composite_approaches_consensus",
    41: M + "postnorm_block_is_a_fixed_weight_hyper_connection",
    46: K + "oversmoothing_decays_like_one_minus_gamma_to_the_L_over_n",
}
"""Claim number -> the conjecture that falsifies the claim as literally stated."""


def claim_conjecture_names() -> list[str]:
    """Every conjecture of the ledger, in claim order (a conjecture may serve two claims)."""
    return list(dict.fromkeys(name for claim in CLAIMS for name in claim.conjectures))


def _evidence(entries: list[Any]) -> str:
    """Words for a reader: the counterexample of a falsification, else the worst value; for a
    claim checked in several dtypes, the verdict in each first."""
    dtypes = [e for e in entries if getattr(e, "dtype", None)]
    if dtypes:
        verdicts = "; ".join(f"{e.dtype}: {e.verdict}" for e in dtypes)
        return f"{verdicts} — {_single_evidence(entries)}"
    return _single_evidence(entries)


def _single_evidence(entries: list[Any]) -> str:
    for entry in entries:
        if entry.verdict == "error":
            return "error: " + (entry.error or "").strip().splitlines()[-1][:200]
    for entry in entries:
        cx = entry.counterexample
        if entry.verdict == "falsified" and cx:
            params = cx.get("params")
            return (f"counterexample [{entry.where}] n={cx.get('n')}"
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


def literature_summary(ledger: Any, conjectures: Iterable[Any] | None = None) -> list[str]:
    """Lines for ``entangled verify``: the literature claims the ledger found falsified as
    literally stated (claim, source and the smallest counterexample), and the claims whose
    verdict depends on the dtype (one verdict per dtype). Claims whose conjectures are not in
    the ledger are left out; ``[]`` when none is."""
    rows = [r for r in literature_rows(ledger, conjectures) if r.verdict != "not run"]
    if not rows:
        return []
    by_conjecture = {(r.number, r.conjecture): r for r in rows}
    claims = {c.number: c for c in CLAIMS}
    lines = [f"literature ledger: {len({r.number for r in rows})} of {len(CLAIMS)} published "
             "claims checked (entangled.theory.literature)"]
    falsified = []
    for number, name in sorted(LITERALLY_FALSIFIED.items()):
        short = name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1]
        row = by_conjecture.get((number, short))
        if row is not None and row.verdict == "falsified":
            falsified.append(f"  claim {number} ({claims[number].source}): "
                             f"{claims[number].text}")
            falsified.append(f"      {row.evidence}")
    if falsified:
        lines.append("falsified as literally stated, with the smallest counterexample found:")
        lines += falsified
    split = [r for r in rows if r.evidence.startswith(("float64:", "float32:", "bfloat16:"))]
    if split:
        lines.append("verdict depends on the precision:")
        lines += [f"  claim {r.number} {r.conjecture}: {r.evidence.split(' — ')[0]}"
                  for r in split]
    return lines
