"""Tests of entangled.theory.symbolic: every built-in proof checks, independently re-derived with sympy,
and deliberately wrong proofs fail their check."""

import numpy as np
import pytest
import sympy as sp

from entangled.theory import symbolic as S


@pytest.mark.parametrize("name", sorted(S.all_proofs()))
def test_every_builtin_proof_checks_and_has_a_derivation(name):
    proof = S.all_proofs()[name]
    assert proof.check() is True
    assert proof.statement and len(proof.latex_lines()) >= 2
    assert all("\\" in line or "=" in line for line in proof.latex_lines())


def test_at_least_five_proofs():
    assert len(S.all_proofs()) >= 5


def test_rotation_eigenvalues_independently():
    theta = sp.Symbol("theta", real=True)
    eigenvalues = S.rotation_matrix(theta).eigenvals()
    assert sum(eigenvalues.values()) == 2
    for angle in (0.3, 1.7, -2.5):
        got = sorted((complex(v.subs(theta, angle)) for v in eigenvalues), key=lambda z: z.imag)
        want = sorted((complex(np.exp(1j * angle)), complex(np.exp(-1j * angle))), key=lambda z: z.imag)
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_rotation_norm_preservation_independently():
    theta, x1, x2 = sp.symbols("theta x1 x2", real=True)
    y = S.rotation_matrix(theta) * sp.Matrix([x1, x2])
    assert sp.simplify(y.dot(y) - (x1**2 + x2**2)) == 0


def test_doubly_stochastic_closure_independently():
    a, b = sp.symbols("a b")
    product = S.doubly_stochastic_2x2(a) * S.doubly_stochastic_2x2(b)
    assert all(sp.expand(s - 1) == 0 for s in list(product * sp.ones(2, 1)) + list(sp.ones(1, 2) * product))
    assert product[0, 0].equals(product[1, 1])
    # numeric spot check at a = 0.3, b = 0.9: c = 0.27 + 0.07 = 0.34
    assert float(product[0, 0].subs({a: 0.3, b: 0.9})) == pytest.approx(0.34)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_circulant_dft_numerically(n):
    rng = np.random.default_rng(n)
    c = rng.random(n)
    c = (c + np.roll(c[::-1], 1)) / 2  # symmetric: c_j = c_{n-j}
    matrix = np.array([[c[(j - i) % n] for j in range(n)] for i in range(n)])
    got = np.sort_complex(np.linalg.eigvals(matrix).round(10))
    want = np.sort_complex(np.fft.fft(c).round(10))
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_linear_residual_jacobian_independently():
    m = sp.Matrix(2, 2, sp.symbols("m0:4"))
    w = sp.Matrix(2, 2, sp.symbols("w0:4"))
    h = sp.Matrix(sp.symbols("h0:2"))
    assert (m * h + w * h).jacobian(h).equals(m + w)


def test_permutation_cycle_charpoly_independently():
    lam = sp.Symbol("lambda")
    cycle = sp.Matrix([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert sp.expand(cycle.charpoly(lam).as_expr() - (lam**3 - 1)) == 0


@pytest.mark.parametrize("wrong", [
    S.rotation_block_eigenvalues((sp.exp(2 * sp.I * sp.Symbol("theta")),
                                  sp.exp(-sp.I * sp.Symbol("theta")))),
    S.rotation_block_eigenvalues((sp.exp(sp.I * sp.Symbol("theta")),
                                  sp.exp(sp.I * sp.Symbol("theta")))),  # right roots, wrong multiset
    S.doubly_stochastic_2x2_closure(sp.Symbol("a") * sp.Symbol("b")),
    S.circulant_eigenvalues_dft(conjugate=True),
    S.linear_residual_jacobian(lambda m, w: m * w),
    S.permutation_cycle_charpoly(claimed=lambda lam, length: lam**length + 1),
], ids=["eigenvalue-2theta", "eigenvalue-multiset", "closure-ab", "dft-sign", "jacobian-mw",
        "charpoly-plus-one"])
def test_wrong_proofs_fail(wrong):
    assert wrong.check() is False


def test_wrong_identity_and_crashing_proof_fail_and_check_is_cached():
    x = sp.Symbol("x")
    calls = []

    def identities():
        calls.append(1)
        return [(sp.sin(x) ** 2 + sp.cos(x) ** 2, 2)]

    wrong = S.Proof("sin^2 + cos^2 = 2", r"\sin^2 x + \cos^2 x = 2", identities)
    assert wrong.check() is False and wrong.check() is False
    assert len(calls) == 1
    crashing = S.Proof("crash", "x", lambda: 1 / 0)
    assert crashing.check() is False
    right = S.Proof("pythagoras", r"\sin^2 x + \cos^2 x = 1",
                    lambda: [(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)])
    assert right.check() is True


def test_symbolically_equal_matrices_and_shapes():
    x = sp.Symbol("x")
    assert S.symbolically_equal(sp.Matrix([[sp.exp(sp.I * x) + sp.exp(-sp.I * x)]]),
                                sp.Matrix([[2 * sp.cos(x)]]))
    assert not S.symbolically_equal(sp.Matrix([1, 2]), sp.Matrix([[1, 2]]))
    assert not S.symbolically_equal(x, x + 1)


def test_proof_status_says_why_and_is_cached_on_the_proof():
    calls = []

    def identities():
        calls.append(1)
        import sympy as sp
        x = sp.Symbol("x")
        return [(x + x, 2 * x), (x * x, 2 * x)]

    proof = S.Proof("x + x = 2x and x^2 = 2x", "x", identities)
    assert proof.status() == (False, "identity 2 of 2 does not hold")
    assert proof.check() is False and len(calls) == 1

    def broken():
        raise ZeroDivisionError("boom")

    ok, reason = S.Proof("raises", "x", broken).status()
    assert ok is False and "ZeroDivisionError: boom" in reason


def test_engine_proof_status_is_not_fooled_by_reused_ids():
    """A process-wide cache keyed by id() gave a new proof the verdict of a dead one whose id
    it reused; alternate valid and invalid proofs, dropping each, so ids get reused."""
    import dataclasses

    from entangled.theory.conjectures.literature import two_by_two_doubly_stochastic_spectral_norm_is_one
    from entangled.theory.engine import proof_status

    conj = two_by_two_doubly_stochastic_spectral_norm_is_one.__conjecture__
    seen_ids = set()
    for k in range(6):
        valid = k % 2 == 0
        proof = S.linear_residual_jacobian(None if valid else (lambda m, w: m - w))
        seen_ids.add(id(proof))
        assert proof_status(dataclasses.replace(conj, proof=proof))[0] is valid
        del proof
