"""Closed-form proofs with sympy, attached to catalog conjectures (verdict "proved").

A :class:`Proof` holds the statement, the derivation as LaTeX lines, and a function that
builds the sympy identities the derivation relies on. :meth:`Proof.check` verifies every
identity symbolically — an identity ``lhs = rhs`` holds when ``simplify(lhs - rhs)`` is 0 or
sympy's ``(lhs - rhs).equals(0)`` is ``True`` (matrices entrywise) — and caches the result.
A proof with a wrong identity (a wrong eigenvalue, a wrong Jacobian) fails its check.

sympy is imported inside the functions of this module only, so importing the module is cheap.

>>> proof = rotation_block_eigenvalues()
>>> proof.check()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

Identity = tuple[Any, Any]


@dataclass
class Proof:
    """A symbolic proof: statement, LaTeX derivation and the identities that establish it.

    Parameters
    ----------
    statement : str
        The claim in words.
    latex : str
        The derivation, one LaTeX line per line of text.
    identities : callable
        ``identities() -> list[(lhs, rhs)]`` of sympy expressions or matrices; the proof is
        valid when every pair is symbolically equal.
    """

    statement: str
    latex: str
    identities: Callable[[], Sequence[Identity]] = field(repr=False)
    _status: tuple[bool, str | None] | None = field(default=None, init=False, repr=False,
                                                    compare=False)

    def status(self) -> tuple[bool, str | None]:
        """``(valid, reason)``: verify every identity with sympy; cached on this object.

        ``reason`` is ``None`` for a valid proof, else which identity failed or the traceback
        of the exception raised while building or checking the identities (recorded, never
        hidden). The cache lives on the proof itself, so it ends with it (no global table).
        """
        if self._status is None:
            import traceback

            try:
                pairs = list(self.identities())
                failed = [k for k, (lhs, rhs) in enumerate(pairs)
                          if not symbolically_equal(lhs, rhs)]
                self._status = (True, None) if not failed else (
                    False, f"identity {failed[0] + 1} of {len(pairs)} does not hold")
            except Exception:  # a proof that cannot be evaluated is not a proof
                self._status = (False, "the proof raised:\n" + traceback.format_exc())
        return self._status

    def check(self) -> bool:
        """Whether every identity holds (see :meth:`status`, which also says why not)."""
        return self.status()[0]

    def latex_lines(self) -> list[str]:
        """The derivation as a list of LaTeX lines."""
        return [line for line in self.latex.splitlines() if line.strip()]


def symbolically_equal(lhs: Any, rhs: Any) -> bool:
    """Whether two sympy scalars or matrices are identical expressions.

    .. math:: \\mathrm{simplify}(a - b) = 0 \\;\\lor\\; (a - b).\\mathrm{equals}(0)

    applied entrywise for matrices (shapes must agree).
    """
    import sympy as sp

    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        lhs, rhs = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs.shape != rhs.shape:
            return False
        return all(_vanishes(a - b) for a, b in zip(lhs, rhs))
    return _vanishes(sp.sympify(lhs) - sp.sympify(rhs))


def _vanishes(expr: Any) -> bool:
    import sympy as sp

    expr = sp.sympify(expr)
    if sp.simplify(expr) == 0:
        return True
    if sp.simplify(sp.expand(expr.rewrite(sp.exp))) == 0:
        return True
    return expr.equals(0) is True


# ---------------------------------------------------------------------------- the proofs


def rotation_matrix(theta: Any):
    """:math:`R(\\theta) = \\begin{pmatrix}\\cos\\theta & -\\sin\\theta\\\\ \\sin\\theta & \\cos\\theta\\end{pmatrix}`."""
    import sympy as sp

    return sp.Matrix([[sp.cos(theta), -sp.sin(theta)], [sp.sin(theta), sp.cos(theta)]])


def rotation_block_eigenvalues(eigenvalues: Sequence[Any] | None = None) -> Proof:
    """The 2x2 rotation block has eigenvalues :math:`e^{\\pm i\\theta}`.

    Both claimed eigenvalues are roots of the characteristic polynomial, and their sum and
    product equal the trace and determinant (so the multiset is right, multiplicities
    included). ``eigenvalues`` overrides the claim (a wrong one fails :meth:`Proof.check`).
    """

    def identities():
        import sympy as sp

        theta, lam = sp.symbols("theta lambda")
        rot = rotation_matrix(theta)
        first, second = eigenvalues or (sp.exp(sp.I * theta), sp.exp(-sp.I * theta))
        first, second = sp.sympify(first).subs("theta", theta), sp.sympify(second).subs("theta", theta)
        poly = rot.charpoly(lam).as_expr()
        return [
            (poly.subs(lam, first), 0),
            (poly.subs(lam, second), 0),
            (first + second, rot.trace()),
            (first * second, rot.det()),
        ]

    return Proof(
        statement="The 2x2 rotation block R(theta) has eigenvalues e^{i theta} and e^{-i theta}.",
        latex="\n".join([
            r"R(\theta) = \begin{pmatrix}\cos\theta & -\sin\theta\\ \sin\theta & \cos\theta\end{pmatrix}",
            r"\det(\lambda I - R) = \lambda^2 - 2\lambda\cos\theta + 1",
            r"= (\lambda - e^{i\theta})(\lambda - e^{-i\theta}) \quad (e^{i\theta} + e^{-i\theta} = 2\cos\theta,\; e^{i\theta}e^{-i\theta} = 1)",
            r"\Rightarrow \operatorname{spec} R(\theta) = \{e^{i\theta}, e^{-i\theta}\},\; |\lambda| = 1",
        ]),
        identities=identities,
    )


def rotation_norm_preservation() -> Proof:
    """:math:`\\|R(\\theta) x\\|^2 = \\|x\\|^2` for every :math:`x \\in \\mathbb R^2`, and
    :math:`R^T R = I`, :math:`\\det R = 1`."""

    def identities():
        import sympy as sp

        theta, x1, x2 = sp.symbols("theta x1 x2", real=True)
        rot = rotation_matrix(theta)
        x = sp.Matrix([x1, x2])
        y = rot * x
        return [
            ((y.T * y)[0], (x.T * x)[0]),
            (rot.T * rot, sp.eye(2)),
            (rot.det(), 1),
        ]

    return Proof(
        statement="A parametrised 2x2 rotation preserves the Euclidean norm: ||R(theta) x||^2 = ||x||^2.",
        latex="\n".join([
            r"R(\theta)x = (x_1\cos\theta - x_2\sin\theta,\; x_1\sin\theta + x_2\cos\theta)^T",
            r"\|R(\theta)x\|^2 = (x_1^2 + x_2^2)(\cos^2\theta + \sin^2\theta) = \|x\|^2",
            r"R(\theta)^T R(\theta) = I, \qquad \det R(\theta) = \cos^2\theta + \sin^2\theta = 1",
            r"\text{block-diagonal } M = \oplus_k R(\theta): \; M^T M = I,\; |\det M| = 1",
        ]),
        identities=identities,
    )


def doubly_stochastic_2x2(a: Any):
    """:math:`D(a) = \\begin{pmatrix}a & 1-a\\\\ 1-a & a\\end{pmatrix}`, the general 2x2 doubly
    stochastic matrix (:math:`0 \\le a \\le 1`)."""
    import sympy as sp

    return sp.Matrix([[a, 1 - a], [1 - a, a]])


def doubly_stochastic_2x2_closure(product_parameter: Any = None) -> Proof:
    """:math:`D(a) D(b) = D(ab + (1-a)(1-b))` with :math:`ab + (1-a)(1-b) \\in [0, 1]`.

    ``product_parameter`` overrides the claimed parameter of the product (for testing).
    """

    def identities():
        import sympy as sp

        a, b = sp.symbols("a b", real=True)
        product = doubly_stochastic_2x2(a) * doubly_stochastic_2x2(b)
        c = product_parameter if product_parameter is not None else a * b + (1 - a) * (1 - b)
        c = sp.sympify(c).subs({"a": a, "b": b})
        ones = sp.Matrix([1, 1])
        return [
            (product, doubly_stochastic_2x2(c)),
            (product * ones, ones),
            ((ones.T * product).T, ones),
            # c in [0, 1]: c = 1/2 + (2a-1)(2b-1)/2 and |2a-1|, |2b-1| <= 1
            (c, sp.Rational(1, 2) + (2 * a - 1) * (2 * b - 1) / 2),
        ]

    return Proof(
        statement="Products of 2x2 doubly stochastic matrices are doubly stochastic: "
                  "D(a) D(b) = D(ab + (1-a)(1-b)).",
        latex="\n".join([
            r"D(a) = \begin{pmatrix}a & 1-a\\ 1-a & a\end{pmatrix},\quad 0 \le a \le 1",
            r"D(a)D(b) = \begin{pmatrix}ab + (1-a)(1-b) & a(1-b) + (1-a)b\\ (1-a)b + a(1-b) & (1-a)(1-b) + ab\end{pmatrix} = D(c)",
            r"c = ab + (1-a)(1-b) = \tfrac12 + \tfrac12(2a-1)(2b-1) \in [0, 1]",
            r"D(c)\mathbf 1 = \mathbf 1,\quad \mathbf 1^T D(c) = \mathbf 1^T",
        ]),
        identities=identities,
    )


def doubly_stochastic_2x2_spectral_norm() -> Proof:
    """:math:`D(a)` is symmetric with eigenvalues 1 and :math:`2a - 1`, so
    :math:`\\|D(a)\\|_2 = \\max(1, |2a-1|) = 1` on :math:`0 \\le a \\le 1`."""

    def identities():
        import sympy as sp

        a = sp.Symbol("a", real=True)
        lam = sp.Symbol("lambda")
        d = doubly_stochastic_2x2(a)
        poly = d.charpoly(lam).as_expr()
        return [
            (d, d.T),
            (sp.factor(poly), sp.factor((lam - 1) * (lam - (2 * a - 1)))),
        ]

    return Proof(
        statement="A 2x2 doubly stochastic matrix has spectral norm 1 (eigenvalues 1 and 2a - 1).",
        latex="\n".join([
            r"D(a) = D(a)^T \Rightarrow \|D(a)\|_2 = \max |\lambda_i|",
            r"\det(\lambda I - D(a)) = (\lambda - 1)(\lambda - (2a - 1))",
            r"0 \le a \le 1 \Rightarrow |2a - 1| \le 1 \Rightarrow \|D(a)\|_2 = 1",
        ]),
        identities=identities,
    )


def circulant_eigenvalues_dft(sizes: Sequence[int] = (3, 4), conjugate: bool = False) -> Proof:
    """Circulant eigenvalues are the DFT of the first row, for symbolic entries.

    For :math:`C_{ij} = c_{(j - i) \\bmod n}` the Fourier vector
    :math:`v_k = (\\omega^{jk})_j`, :math:`\\omega = e^{2\\pi i/n}`, satisfies
    :math:`C v_k = \\lambda_k v_k` with :math:`\\lambda_k = \\sum_j c_j \\omega^{jk}`; the
    :math:`n` vectors are independent (Vandermonde), so these are all the eigenvalues. For the
    symmetric rows of the circulant family (:math:`c_j = c_{n-j}`) this equals the DFT
    :math:`\\sum_j c_j e^{-2\\pi i jk/n}`. ``conjugate=True`` claims the wrong sign pairing for a
    general (non-symmetric) row, which fails.
    """

    def identities():
        import sympy as sp

        pairs = []
        for n in sizes:
            c = sp.symbols(f"c0:{n}")
            circulant = sp.Matrix(n, n, lambda i, j: c[(j - i) % n])
            omega = sp.exp(2 * sp.pi * sp.I / n)
            for k in range(n):
                vector = sp.Matrix([omega ** (j * k) for j in range(n)])
                sign = -1 if conjugate else 1
                eigenvalue = sum(c[j] * omega ** (sign * j * k) for j in range(n))
                pairs.append((circulant * vector, eigenvalue * vector))
            symmetric = {c[j]: c[n - j] for j in range(1, n) if j > n - j}
            for k in range(n):
                dft = sum(c[j] * sp.exp(-2 * sp.pi * sp.I * j * k / n) for j in range(n))
                forward = sum(c[j] * omega ** (j * k) for j in range(n))
                pairs.append((forward.subs(symmetric), dft.subs(symmetric)))
            vandermonde = sp.Matrix(n, n, lambda j, k: omega ** (j * k))
            determinant = vandermonde.det()
            pairs.append((sp.expand(determinant * sp.conjugate(determinant)), n**n))
        return pairs

    return Proof(
        statement="The eigenvalues of a circulant matrix are the DFT of its first row "
                  "(n = " + ", ".join(str(n) for n in sizes) + ", symbolic entries).",
        latex="\n".join([
            r"C_{ij} = c_{(j-i) \bmod n},\qquad \omega = e^{2\pi i/n},\qquad v_k = (\omega^{jk})_{j=0}^{n-1}",
            r"(C v_k)_i = \sum_j c_{(j-i) \bmod n}\,\omega^{jk} = \omega^{ik} \sum_m c_m \omega^{mk} = \lambda_k (v_k)_i",
            r"\lambda_k = \sum_m c_m \omega^{mk} \overset{c_m = c_{n-m}}{=} \sum_m c_m e^{-2\pi i mk/n} = \hat c_k",
            r"\det(\omega^{jk})_{j,k} \ne 0 \Rightarrow \operatorname{spec} C = \{\hat c_0, \dots, \hat c_{n-1}\}",
        ]),
        identities=identities,
    )


def linear_residual_jacobian(claimed: Any = None) -> Proof:
    """The Jacobian of the linear residual block :math:`h \\mapsto Mh + Wh` is :math:`M + W`
    (symbolic 2x2 ``M`` and ``W``). ``claimed`` overrides the claimed Jacobian."""

    def identities():
        import sympy as sp

        m = sp.Matrix(2, 2, sp.symbols("m11 m12 m21 m22"))
        w = sp.Matrix(2, 2, sp.symbols("w11 w12 w21 w22"))
        h = sp.Matrix(sp.symbols("h1 h2"))
        block = m * h + w * h
        jacobian = block.jacobian(h)
        target = claimed(m, w) if claimed is not None else m + w
        return [(jacobian, target)]

    return Proof(
        statement="The Jacobian of the linear residual block h -> M h + W h is M + W.",
        latex="\n".join([
            r"g(h) = Mh + Wh,\qquad g_i(h) = \sum_j (M_{ij} + W_{ij}) h_j",
            r"\frac{\partial g_i}{\partial h_j} = M_{ij} + W_{ij} \;\Rightarrow\; J_g = M + W",
            r"\|J_g\|_2 \le \|M\|_2 + \|W\|_2 \quad\text{(triangle inequality)}",
        ]),
        identities=identities,
    )


def permutation_cycle_charpoly(lengths: Sequence[int] = (1, 2, 3, 4, 5, 6),
                               claimed: Callable[[Any, int], Any] | None = None) -> Proof:
    """A cyclic permutation of length :math:`L` has characteristic polynomial
    :math:`\\lambda^L - 1`, so its eigenvalues are the :math:`L`-th roots of unity.
    ``claimed(lam, L)`` overrides the claimed polynomial."""

    def identities():
        import sympy as sp

        lam = sp.symbols("lambda")
        pairs = []
        for length in lengths:
            cycle = sp.Matrix(length, length, lambda i, j: 1 if j == (i + 1) % length else 0)
            poly = cycle.charpoly(lam).as_expr()
            target = claimed(lam, length) if claimed is not None else lam**length - 1
            pairs.append((sp.expand(poly), sp.expand(target)))
            for k in range(length):
                root = sp.exp(2 * sp.pi * sp.I * k / length)
                pairs.append((poly.subs(lam, root), 0))
        return pairs

    return Proof(
        statement="A cycle of length L has characteristic polynomial lambda^L - 1: its eigenvalues "
                  "are the L-th roots of unity (checked for L = " +
                  ", ".join(str(n) for n in lengths) + ").",
        latex="\n".join([
            r"P_L = (\delta_{j, i+1 \bmod L})_{ij},\qquad \det(\lambda I - P_L) = \lambda^L - 1",
            r"\lambda^L - 1 = \prod_{k=0}^{L-1}(\lambda - e^{2\pi i k/L})",
            r"P = \oplus_c P_{L_c} \Rightarrow \operatorname{spec} P = \biguplus_c \{e^{2\pi i k/L_c}\}_{k<L_c}",
        ]),
        identities=identities,
    )


def row_stochastic_eigenvector_one(n: int = 3) -> Proof:
    """A row-stochastic matrix has the eigenvector :math:`\\mathbf 1` with eigenvalue 1
    (symbolic :math:`n \\times n`, last column eliminated by the row-sum constraint)."""

    def identities():
        import sympy as sp

        entries = sp.Matrix(n, n - 1, lambda i, j: sp.Symbol(f"a{i}{j}"))
        last = sp.Matrix([1 - sum(entries[i, :]) for i in range(n)])
        matrix = entries.row_join(last)
        ones = sp.ones(n, 1)
        lam = sp.symbols("lambda")
        return [
            (matrix * ones, ones),
            (matrix.charpoly(lam).as_expr().subs(lam, 1), 0),
        ]

    return Proof(
        statement="A row-stochastic matrix has eigenvalue 1 with eigenvector the all-ones vector "
                  f"(n = {n}, symbolic entries).",
        latex="\n".join([
            r"\sum_j A_{ij} = 1 \;\forall i \iff A\mathbf 1 = \mathbf 1",
            r"\Rightarrow \det(I - A) = 0,\quad 1 \in \operatorname{spec} A",
            r"A \ge 0 \Rightarrow \rho(A) \le \|A\|_\infty = 1 \Rightarrow \rho(A) = 1",
        ]),
        identities=identities,
    )


def doubly_stochastic_symbolic(n: int):
    """A symbolic :math:`n \\times n` doubly stochastic matrix: free entries
    :math:`a_{ij}` for :math:`i, j < n-1`, the last column and row fixed by the sums."""
    import sympy as sp

    free = sp.Matrix(n - 1, n - 1, lambda i, j: sp.Symbol(f"a{i}{j}"))
    matrix = sp.zeros(n, n)
    for i in range(n - 1):
        for j in range(n - 1):
            matrix[i, j] = free[i, j]
        matrix[i, n - 1] = 1 - sum(free[i, :])
    for j in range(n):
        matrix[n - 1, j] = 1 - sum(matrix[i, j] for i in range(n - 1))
    return matrix


def circulant_simplex_doubly_stochastic(sizes: Sequence[int] = (3, 4)) -> Proof:
    """:math:`H = \\sum_k c_k \\Pi^k` with :math:`\\sum_k c_k = 1` has unit row and column
    sums, and two such matrices commute (C-mHC, literature ledger claim 13)."""

    def identities():
        import sympy as sp

        pairs = []
        for n in sizes:
            shift = sp.Matrix(n, n, lambda i, j: 1 if j == (i + 1) % n else 0)
            c = sp.symbols(f"c1:{n}")
            d = sp.symbols(f"d1:{n}")
            weights_c = [1 - sum(c)] + list(c)
            weights_d = [1 - sum(d)] + list(d)
            h = sum((w * shift ** k for k, w in enumerate(weights_c)), sp.zeros(n, n))
            g = sum((w * shift ** k for k, w in enumerate(weights_d)), sp.zeros(n, n))
            ones = sp.ones(n, 1)
            pairs += [(h * ones, ones), (h.T * ones, ones), (h * g, g * h)]
        return pairs

    return Proof(
        statement="A convex combination of powers of the cyclic shift is doubly stochastic, and "
                  "two of them commute (n = " + ", ".join(map(str, sizes)) + ", symbolic c).",
        latex="\n".join([
            r"H = \sum_{k=0}^{n-1} c_k \Pi^k,\quad \sum_k c_k = 1,\quad \Pi\mathbf 1 = \Pi^T\mathbf 1 = \mathbf 1",
            r"H\mathbf 1 = \sum_k c_k \mathbf 1 = \mathbf 1,\qquad \mathbf 1^T H = \mathbf 1^T",
            r"c \ge 0 \Rightarrow H \ge 0:\ H \text{ doubly stochastic}",
            r"HG = \sum_{k,l} c_k d_l \Pi^{k+l} = GH",
        ]),
        identities=identities,
    )


def column_stochastic_conserves_sum(n: int = 3) -> Proof:
    """:math:`\\mathbf 1^T H = \\mathbf 1^T \\Rightarrow \\sum_i (Hx)_i = \\sum_i x_i`: the
    mean across streams is conserved (literature ledger claim 8)."""

    def identities():
        import sympy as sp

        h = doubly_stochastic_symbolic(n)
        x = sp.Matrix(sp.symbols(f"x0:{n}"))
        return [(sum(h * x), sum(x)), ((sp.ones(1, n) * h).T, sp.ones(n, 1))]

    return Proof(
        statement=f"A column-stochastic mixing conserves the sum (mean) across streams "
                  f"(n = {n}, symbolic entries).",
        latex="\n".join([
            r"\mathbf 1^T H = \mathbf 1^T",
            r"\sum_i (Hx)_i = \mathbf 1^T H x = \mathbf 1^T x = \sum_i x_i",
        ]),
        identities=identities,
    )


def doubly_stochastic_gram(n: int = 3) -> Proof:
    """For doubly stochastic :math:`M`, :math:`M^T M` is doubly stochastic, so
    :math:`\\|M\\|_2^2 = \\rho(M^T M) \\le \\|M^T M\\|_\\infty = 1` (claim 6)."""

    def identities():
        import sympy as sp

        m = doubly_stochastic_symbolic(n)
        gram = m.T * m
        ones = sp.ones(n, 1)
        return [(gram * ones, ones), (gram.T * ones, ones), (gram, gram.T)]

    return Proof(
        statement=f"The Gram matrix of a doubly stochastic matrix is doubly stochastic, hence "
                  f"its spectral norm is at most 1 (n = {n}, symbolic entries).",
        latex="\n".join([
            r"M\mathbf 1 = \mathbf 1,\ \mathbf 1^T M = \mathbf 1^T \Rightarrow M^TM\mathbf 1 = M^T\mathbf 1 = \mathbf 1",
            r"M \ge 0 \Rightarrow M^TM \ge 0,\quad \rho(M^TM) \le \|M^TM\|_\infty = 1",
            r"\|M\|_2 = \sqrt{\rho(M^TM)} \le 1",
        ]),
        identities=identities,
    )


def collapse_factorisation(n: int = 3) -> Proof:
    """For doubly stochastic :math:`H, G`: :math:`(H - J/n)(G - J/n) = HG - J/n`, so
    :math:`P_L - J/n = \\prod_l (H_l - J/n)` (claim 14)."""

    def identities():
        import sympy as sp

        h = doubly_stochastic_symbolic(n)
        g = doubly_stochastic_symbolic(n).subs(
            {sp.Symbol(f"a{i}{j}"): sp.Symbol(f"b{i}{j}") for i in range(n) for j in range(n)})
        jn = sp.ones(n, n) / n
        return [(((h - jn) * (g - jn) - (h * g - jn)).applyfunc(sp.expand), sp.zeros(n, n)),
                ((h * jn).applyfunc(sp.expand), jn), ((jn * h).applyfunc(sp.expand), jn)]

    return Proof(
        statement=f"(H - J/n)(G - J/n) = HG - J/n for doubly stochastic H, G (n = {n}): the "
                  "deviation of a product from J/n is the product of the deviations.",
        latex="\n".join([
            r"HJ = JH = J,\ J^2 = nJ \Rightarrow (H - \tfrac Jn)(G - \tfrac Jn) = HG - \tfrac Jn",
            r"H - \tfrac Jn = (1 - n\delta)(R - \tfrac Jn),\ R \text{ doubly stochastic},\ \|R - \tfrac Jn\|_2 \le 1",
            r"\Rightarrow \|P_L - \tfrac Jn\|_2 \le \prod_l (1 - n\delta_l)",
        ]),
        identities=identities,
    )


def cayley_orthogonal(n: int = 3) -> Proof:
    """The Cayley map :math:`Q = (I - A/2)^{-1}(I + A/2)` of a skew-symmetric :math:`A` is
    orthogonal and :math:`Q + I = 2(I - A/2)^{-1}` is invertible (no eigenvalue -1); for a
    2x2 skew :math:`A`, :math:`\\det e^A = 1` (claim 24)."""

    def identities():
        import sympy as sp

        names = sp.symbols(f"s0:{n * (n - 1) // 2}", real=True)
        a = sp.zeros(n, n)
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                a[i, j], a[j, i] = names[k], -names[k]
                k += 1
        eye = sp.eye(n)
        left = eye - a / 2
        q = (left.adjugate() * (eye + a / 2) / left.det()).applyfunc(sp.cancel)
        t = sp.Symbol("t", real=True)
        rotation = sp.Matrix([[sp.cos(t), -sp.sin(t)], [sp.sin(t), sp.cos(t)]])
        generator = sp.Matrix([[0, -t], [t, 0]])
        return [((q.T * q).applyfunc(sp.cancel), eye),
                (((q + eye) * left).applyfunc(sp.cancel), 2 * eye),
                # R(t) = exp(tG) solves R' = G R, R(0) = I; det R = 1
                (rotation.diff(t), generator / t * rotation), (rotation.subs(t, 0), sp.eye(2)),
                (rotation.det(), 1)]

    return Proof(
        statement=f"The Cayley map of a skew-symmetric matrix is orthogonal without eigenvalue -1 "
                  f"(n = {n}); the exponential of a 2x2 skew matrix has determinant 1.",
        latex="\n".join([
            r"A^T = -A,\quad Q = (I - \tfrac A2)^{-1}(I + \tfrac A2)",
            r"Q^TQ = (I - \tfrac A2)(I + \tfrac A2)^{-1}(I - \tfrac A2)^{-1}(I + \tfrac A2) = I \text{ (the factors commute)}",
            r"Q + I = (I - \tfrac A2)^{-1}\big((I + \tfrac A2) + (I - \tfrac A2)\big) = 2(I - \tfrac A2)^{-1} \Rightarrow -1 \notin \operatorname{spec} Q",
            r"\det e^A = e^{\operatorname{tr} A} = e^0 = 1",
        ]),
        identities=identities,
    )


def orthostochastic_squares(n: int = 3) -> Proof:
    """The entrywise square of an orthogonal matrix is doubly stochastic: checked for the
    Cayley parametrisation of :math:`SO(n)` and the 2x2 reflection (claim 18)."""

    def identities():
        import sympy as sp

        names = sp.symbols(f"s0:{n * (n - 1) // 2}", real=True)
        a = sp.zeros(n, n)
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                a[i, j], a[j, i] = names[k], -names[k]
                k += 1
        eye = sp.eye(n)
        q = ((eye - a).adjugate() * (eye + a) / (eye - a).det()).applyfunc(sp.cancel)
        squares = q.applyfunc(lambda e: e ** 2)
        ones = sp.ones(n, 1)
        theta = sp.Symbol("theta", real=True)
        reflection = sp.Matrix([[sp.cos(theta), sp.sin(theta)], [sp.sin(theta), -sp.cos(theta)]])
        r2 = reflection.applyfunc(lambda e: e ** 2)
        return [((squares * ones).applyfunc(sp.cancel), ones),
                ((squares.T * ones).applyfunc(sp.cancel), ones),
                (r2 * sp.ones(2, 1), sp.ones(2, 1)), (r2.T * sp.ones(2, 1), sp.ones(2, 1))]

    return Proof(
        statement=f"Entrywise squares of orthogonal matrices are doubly stochastic (Cayley "
                  f"parametrisation, n = {n}; 2x2 reflections).",
        latex="\n".join([
            r"B_{ij} = Q_{ij}^2 \ge 0",
            r"\sum_j B_{ij} = (QQ^T)_{ii} = 1,\qquad \sum_i B_{ij} = (Q^TQ)_{jj} = 1",
        ]),
        identities=identities,
    )


def orthogonal_update_norm(n: int = 3) -> Proof:
    """With :math:`\\varepsilon = 0`, :math:`x' = x + f - \\frac{\\langle x, f\\rangle}{\\|x\\|^2}x`
    has :math:`\\|x'\\|^2 = \\|x\\|^2 + \\|f\\|^2 - \\langle x, f\\rangle^2/\\|x\\|^2 \\ge \\|x\\|^2`;
    with :math:`\\varepsilon > 0` and :math:`f = -kx`, :math:`x' = (1 - k\\varepsilon/(\\|x\\|^2 + \\varepsilon))x`
    shrinks (claim 20)."""

    def identities():
        import sympy as sp

        x = sp.Matrix(sp.symbols(f"x0:{n}", real=True))
        f = sp.Matrix(sp.symbols(f"f0:{n}", real=True))
        k, eps = sp.symbols("k epsilon", positive=True)
        s, a = (x.T * x)[0], (x.T * f)[0]
        update = x + f - a / s * x
        perp = f - a / s * x
        anti = -k * x
        eps_update = x + anti - ((x.T * anti)[0] / (s + eps)) * x
        return [((update.T * update)[0], s + (f.T * f)[0] - a ** 2 / s),
                ((perp.T * perp)[0], (f.T * f)[0] - a ** 2 / s),
                (eps_update, (1 - k * eps / (s + eps)) * x)]

    return Proof(
        statement="The orthogonal residual update adds ||f_perp||^2 to ||x||^2 exactly when "
                  "epsilon = 0; with epsilon > 0 an anti-parallel f shrinks x.",
        latex="\n".join([
            r"x' = x + f_\perp,\quad f_\perp = f - \tfrac{\langle x, f\rangle}{\|x\|^2}x \perp x",
            r"\|x'\|^2 = \|x\|^2 + \|f_\perp\|^2 = \|x\|^2 + \|f\|^2 - \tfrac{\langle x,f\rangle^2}{\|x\|^2} \ge \|x\|^2",
            r"\varepsilon > 0,\ f = -kx:\quad x' = \big(1 - \tfrac{k\varepsilon}{\|x\|^2 + \varepsilon}\big)x,\ \|x'\| < \|x\| \text{ for } 0 < \tfrac{k\varepsilon}{\|x\|^2+\varepsilon} < 2",
        ]),
        identities=identities,
    )


def memoryless_baselines() -> Proof:
    """Adding problem: predicting the mean 1 for :math:`u + v`, :math:`u, v \\sim U(0, 1)`,
    gives MSE :math:`\\operatorname{Var}(u + v) = 1/6 \\approx 0.167`; copy memory: blanks
    known, 10 symbols uniform over 8 give cross-entropy :math:`10\\log 8/(T + 20)` (claim 22)."""

    def identities():
        import sympy as sp

        u, v, t = sp.symbols("u v T", positive=True)
        mse = sp.integrate(sp.integrate((u + v - 1) ** 2, (u, 0, 1)), (v, 0, 1))
        mean = sp.integrate(sp.integrate(u + v, (u, 0, 1)), (v, 0, 1))
        p = sp.Rational(1, 8)
        per_symbol = -8 * p * sp.log(p)
        return [(mse, sp.Rational(1, 6)), (mean, 1), (10 * per_symbol / (t + 20),
                                                        10 * sp.log(8) / (t + 20))]

    return Proof(
        statement="Memoryless baselines: adding problem MSE 1/6; copy memory cross-entropy "
                  "10 log 8 / (T + 20).",
        latex="\n".join([
            r"E[u + v] = 1,\quad E[(u + v - 1)^2] = \operatorname{Var} u + \operatorname{Var} v = \tfrac1{12} + \tfrac1{12} = \tfrac16",
            r"\text{copy: } T + 10 \text{ blank outputs (loss 0)},\ 10 \text{ outputs uniform on 8: } 10\log 8",
            r"\text{mean over } T + 20 \text{ steps: } \tfrac{10\log 8}{T + 20}",
        ]),
        identities=identities,
    )


def rotation_composition() -> Proof:
    """:math:`R(a)R(b) = R(a + b)`: products of rotations are rotations, all singular values
    of any product of orthogonal factors are 1 (claims 21 and 27)."""

    def identities():
        import sympy as sp

        a, b = sp.symbols("a b", real=True)
        product = rotation_matrix(a) * rotation_matrix(b)
        target = rotation_matrix(a + b).applyfunc(lambda e: sp.expand_trig(e))
        return [(product, target), (product.T * product, sp.eye(2))]

    return Proof(
        statement="Rotations compose to rotations, so products of orthogonal factors keep every "
                  "singular value at 1.",
        latex="\n".join([
            r"R(a)R(b) = R(a + b)",
            r"(Q_L\cdots Q_1)^T(Q_L\cdots Q_1) = I \Rightarrow \sigma_i(Q_L \cdots Q_1) = 1",
        ]),
        identities=identities,
    )


# ------------------------------------------------------------- 2026 successors (claims 31-48)
def deep_delta_spectrum() -> Proof:
    """Deep Delta Learning's update :math:`A = I - \\beta k k^T` (claim 35), for symbolic
    :math:`k \\in \\mathbb R^3` and :math:`\\beta`: :math:`A k = (1 - \\beta k^Tk) k`, :math:`A v = v`
    for the two vectors :math:`v \\perp k` below, :math:`\\det A = 1 - \\beta k^Tk` and
    :math:`A^TA - I = \\beta(\\beta k^Tk - 2) k k^T`; with :math:`\\lVert k\\rVert = 1` the spectrum is
    :math:`\\{1, 1, 1 - \\beta\\}` and :math:`A` is orthogonal iff :math:`\\beta(\\beta - 2) = 0`."""

    def identities():
        import sympy as sp

        beta = sp.Symbol("beta", real=True)
        k = sp.Matrix(sp.symbols("k1:4", real=True))
        norm2 = (k.T * k)[0, 0]
        a = sp.eye(3) - beta * k * k.T
        v1 = sp.Matrix([k[1], -k[0], 0])
        v2 = sp.Matrix([k[2], 0, -k[0]])
        def expand(matrix):
            return matrix.applyfunc(sp.expand)

        return [(expand(a * k), expand((1 - beta * norm2) * k)),
                (expand(a * v1), v1), (expand(a * v2), v2),
                (sp.expand(a.det()), sp.expand(1 - beta * norm2)),
                ((a.T * a - sp.eye(3)).applyfunc(sp.expand),
                 (beta * (beta * norm2 - 2) * k * k.T).applyfunc(sp.expand)),
                (sp.Matrix(sorted(sp.solve(beta * (beta - 2), beta))), sp.Matrix([0, 2]))]

    return Proof(
        statement="A = I - beta k k^T with ||k|| = 1 has eigenvalues 1 (d - 1 times) and "
                  "1 - beta, det A = 1 - beta, and is orthogonal iff beta is 0 or 2 "
                  "(symbolic k in R^3, beta).",
        latex="\n".join([
            r"A k = k - \beta k (k^Tk) = (1 - \beta) k, \qquad A v = v \ (v \perp k)",
            r"\det(I - \beta k k^T) = 1 - \beta k^Tk = 1 - \beta \quad\text{(matrix determinant lemma)}",
            r"A^TA = I - 2\beta k k^T + \beta^2 k (k^Tk) k^T = I + \beta(\beta - 2) k k^T",
            r"A^TA = I \iff \beta(\beta - 2) = 0 \iff \beta \in \{0, 2\};\quad \beta = 1:\ \det A = 0",
        ]),
        identities=identities,
    )


def cayley_has_determinant_one(n: int = 3) -> Proof:
    """The Cayley map :math:`Q = (I - A/2)^{-1}(I + A/2)` of a skew-symmetric :math:`A` has
    :math:`\\det Q = 1` (claim 36): :math:`\\det(I + A/2) = \\det((I - A/2)^T) = \\det(I - A/2)`,
    which is :math:`1 + \\tfrac14\\sum a_{ij}^2 > 0` at :math:`n = 3`. A reflection
    (determinant -1) is never a Cayley image."""

    def identities():
        import sympy as sp

        names = sp.symbols(f"s0:{n * (n - 1) // 2}", real=True)
        a = sp.zeros(n, n)
        k = 0
        for i in range(n):
            for j in range(i + 1, n):
                a[i, j], a[j, i] = names[k], -names[k]
                k += 1
        eye = sp.eye(n)
        out = [(sp.expand((eye + a / 2).det()), sp.expand((eye - a / 2).det())),
               ((eye + a / 2).T, eye - a / 2)]
        if n == 3:
            out.append((sp.expand((eye - a / 2).det()), 1 + sum(s ** 2 for s in names) / 4))
        return out

    return Proof(
        statement=f"The Cayley map of a skew-symmetric matrix has determinant 1 (n = {n}): it "
                  "cannot represent a reflection.",
        latex="\n".join([
            r"(I + \tfrac A2)^T = I - \tfrac A2 \Rightarrow \det(I + \tfrac A2) = \det(I - \tfrac A2)",
            r"\det Q = \det(I + \tfrac A2) / \det(I - \tfrac A2) = 1",
            r"n = 3:\ \det(I - \tfrac A2) = 1 + \tfrac14 (a_{12}^2 + a_{13}^2 + a_{23}^2) > 0",
        ]),
        identities=identities,
    )


def log_one_minus_x_bound() -> Proof:
    """:math:`\\log(1 - x) \\ge -x - x^2` for :math:`0 \\le x \\le 1/2` (claim 33): with
    :math:`f(x) = \\log(1 - x) + x + x^2`, :math:`f(0) = 0` and
    :math:`f'(x) = x(1 - 2x)/(1 - x) \\ge 0` on :math:`[0, 1/2]`. Hence
    :math:`(1 - \\beta/L)^L \\ge e^{-\\beta - \\beta^2/L}` whenever :math:`\\beta/L \\le 1/2`; past
    :math:`1/2` the derivative is negative and :math:`f` crosses 0 at :math:`x^* \\approx 0.6838`."""

    def identities():
        import sympy as sp

        x = sp.Symbol("x", real=True)
        f = sp.log(1 - x) + x + x ** 2
        return [(f.subs(x, 0), 0),
                (sp.together(sp.diff(f, x)), x * (1 - 2 * x) / (1 - x)),
                (f.subs(x, sp.Rational(1, 2)), sp.Rational(3, 4) - sp.log(2))]

    return Proof(
        statement="log(1 - x) >= -x - x^2 on [0, 1/2], so (1 - beta/L)^L >= exp(-beta - "
                  "beta^2/L) for beta/L <= 1/2.",
        latex="\n".join([
            r"f(x) = \log(1 - x) + x + x^2,\quad f(0) = 0",
            r"f'(x) = -\frac{1}{1 - x} + 1 + 2x = \frac{x(1 - 2x)}{1 - x} \ge 0 \ \text{on}\ [0, \tfrac12]",
            r"L \log(1 - \tfrac\beta L) \ge -\beta - \tfrac{\beta^2}{L} \quad (\tfrac\beta L \le \tfrac12)",
        ]),
        identities=identities,
    )


def sinkhorn_cross_ratio(n: int = 3) -> Proof:
    """Scaling preserves cross ratios (claim 32): for :math:`P = D A E` (diagonal
    :math:`D, E`), :math:`P_{ij}P_{kl} / (P_{il}P_{kj}) = a_{ij}a_{kl} / (a_{il}a_{kj})` for all
    :math:`i, j, k, l` (symbolic, n = 3). With logits of range at most :math:`2B` every cross
    ratio is at least :math:`e^{-4B}`; summing :math:`P_{ij}P_{kl} \\ge e^{-4B} P_{il}P_{kj}`
    over :math:`k, l` for a doubly stochastic :math:`P` gives :math:`n P_{ij} \\ge e^{-4B}`."""

    def identities():
        import sympy as sp

        d = sp.symbols(f"d0:{n}", positive=True)
        e = sp.symbols(f"e0:{n}", positive=True)
        a = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a{i}{j}", positive=True))
        p = sp.Matrix(n, n, lambda i, j: d[i] * a[i, j] * e[j])
        pairs = []
        for i in range(n):
            for j in range(n):
                k, l = (i + 1) % n, (j + 1) % n
                pairs.append((sp.cancel(p[i, j] * p[k, l] / (p[i, l] * p[k, j])),
                              a[i, j] * a[k, l] / (a[i, l] * a[k, j])))
        return pairs

    return Proof(
        statement="Diagonal scaling P = D A E preserves every cross ratio P_ij P_kl / "
                  "(P_il P_kj), the step behind the Sinkhorn entry floor e^{-4B}/n (n = 3).",
        latex="\n".join([
            r"\frac{P_{ij}P_{kl}}{P_{il}P_{kj}} = \frac{d_i a_{ij} e_j\, d_k a_{kl} e_l}{d_i a_{il} e_l\, d_k a_{kj} e_j} = \frac{a_{ij}a_{kl}}{a_{il}a_{kj}} \ge e^{-4B}",
            r"n P_{ij} = \sum_{k,l} P_{ij}P_{kl} \ge e^{-4B} \sum_{k,l} P_{il}P_{kj} = e^{-4B}\Big(\sum_l P_{il}\Big)\Big(\sum_k P_{kj}\Big) = e^{-4B}",
        ]),
        identities=identities,
    )


def prenorm_is_a_hyper_connection() -> Proof:
    """A Pre-Norm block is a Hyper-Connection with one stream and unit weights (claim 41):
    :math:`x + F(N(x)) = H_{res} x + H_{post} F(N(H_{pre} x))` at
    :math:`H_{res} = H_{pre} = H_{post} = 1`, for any branch :math:`F` and norm :math:`N`."""

    def identities():
        import sympy as sp

        x, r, a, b = sp.symbols("x r a b", real=True)
        f, norm = sp.Function("F"), sp.Function("N")
        hyper = r * x + b * f(norm(a * x))
        return [(hyper.subs({r: 1, a: 1, b: 1}), x + f(norm(x)))]

    return Proof(
        statement="x + F(N(x)) is the one-stream Hyper-Connection H_res x + H_post "
                  "F(N(H_pre x)) with H_res = H_pre = H_post = 1.",
        latex="\n".join([
            r"\text{HC, } n = 1:\quad y = H_{res}\,x + H_{post}\,F(N(H_{pre}\,x))",
            r"H_{res} = H_{pre} = H_{post} = 1:\quad y = x + F(N(x)) \quad\text{(Pre-Norm)}",
        ]),
        identities=identities,
    )


def all_proofs() -> dict[str, Proof]:
    """Every built-in proof by name."""
    return {
        "rotation_block_eigenvalues": rotation_block_eigenvalues(),
        "rotation_norm_preservation": rotation_norm_preservation(),
        "doubly_stochastic_2x2_closure": doubly_stochastic_2x2_closure(),
        "doubly_stochastic_2x2_spectral_norm": doubly_stochastic_2x2_spectral_norm(),
        "circulant_eigenvalues_dft": circulant_eigenvalues_dft(),
        "linear_residual_jacobian": linear_residual_jacobian(),
        "permutation_cycle_charpoly": permutation_cycle_charpoly(),
        "row_stochastic_eigenvector_one": row_stochastic_eigenvector_one(),
        "circulant_simplex_doubly_stochastic": circulant_simplex_doubly_stochastic(),
        "column_stochastic_conserves_sum": column_stochastic_conserves_sum(),
        "doubly_stochastic_gram": doubly_stochastic_gram(),
        "collapse_factorisation": collapse_factorisation(),
        "cayley_orthogonal": cayley_orthogonal(),
        "orthostochastic_squares": orthostochastic_squares(),
        "orthogonal_update_norm": orthogonal_update_norm(),
        "memoryless_baselines": memoryless_baselines(),
        "rotation_composition": rotation_composition(),
        "deep_delta_spectrum": deep_delta_spectrum(),
        "cayley_has_determinant_one": cayley_has_determinant_one(),
        "log_one_minus_x_bound": log_one_minus_x_bound(),
        "sinkhorn_cross_ratio": sinkhorn_cross_ratio(),
        "prenorm_is_a_hyper_connection": prenorm_is_a_hyper_connection(),
    }
