"""Literature ledger: orthogonal updates, recurrences and parametrisations (claims 20-21, 23-24,
27).

* orthogonal residual update, arXiv 2505.11881 (20);
* orthogonal RNNs: Henaff et al. 2016, expRNN, scoRNN (21);
* parametrisations: geotorch and ``torch.nn.utils.parametrizations.orthogonal`` (23, 24);
* dynamical isometry: Pennington et al. 2017 (27).
"""

from __future__ import annotations

import math

import torch

from entangled.properties import product_matrix
from entangled.theory import conjecture
from entangled.theory import symbolic

ORTHO_UPDATE = "Orthogonal residual update, arXiv 2505.11881"
ORTHO_RNN = "Henaff et al. 2016 (arXiv 1602.06662); expRNN (arXiv 1901.08428); scoRNN"
PARAMETRISATIONS = "geotorch (Lezcano-Casado 2019); torch.nn.utils.parametrizations.orthogonal"
PENNINGTON = "Pennington, Schoenholz, Ganguli 2017, dynamical isometry (arXiv 1711.04735)"
UPDATE_EPS = 1e-6


def orthogonal_update(x: torch.Tensor, f: torch.Tensor, eps: float) -> torch.Tensor:
    """``x + f - (<x, f> / (||x||^2 + eps)) x``."""
    return x + f - (x @ f) / (x @ x + eps) * x


def _update_inputs(m) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = 1`` and the skip's displacement ``f = (M - I) 1`` as the branch output."""
    x = torch.ones(m.n, dtype=torch.float64)
    return x, m.dense() @ x - x


@conjecture(families=["dense", "orthogonal"], tol=1e-12, n=(1, 32), reference=ORTHO_UPDATE,
            kind="theorem", proof=symbolic.orthogonal_update_norm())
def orthogonal_update_adds_only_the_orthogonal_part(m):
    """With eps = 0 the update x + f - (<x, f>/||x||^2) x adds only the part of f orthogonal to
    x: ||x'||^2 = ||x||^2 + ||f_perp||^2, so the stream norm never decreases.

    Checked with ``x = 1`` and ``f = (M - 1) 1`` for the sampled ``M``; returns the relative
    error of the identity.
    """
    x, f = _update_inputs(m)
    update = orthogonal_update(x, f, 0.0)
    perp = f - (x @ f) / (x @ x) * x
    return abs(float(update @ update) - float(x @ x + perp @ perp)) / float(x @ x)


@conjecture(families=["dense"], tol=1e-12, n=(1, 1), examples=20, expected="falsified",
            reference=ORTHO_UPDATE + " (with its eps > 0)", kind="theorem")
def orthogonal_update_never_decreases_the_norm(m):
    """The orthogonal residual update as implemented, with eps = 1e-6 > 0, never decreases the
    stream norm: ||x'||^2 >= ||x||^2 (returns the decrease, <= 1e-12).

    The source: "||x_{l+1}||^2 = ||x||^2 + ||f_perp||^2 up to the eps term: the stream norm
    never decreases". Sharp reading: the update with its ``eps > 0``. Believed false: for
    ``f = -k x`` the update is ``(1 - k eps / (||x||^2 + eps)) x``, a strict shrink. The
    search runs on one stream (``n = 1``), where every ``f`` is parallel to ``x`` and the eps
    term is all that is left (``x = 1``, ``f = M - 1``: any ``M < 1`` shrinks); for ``n > 1`` a
    random ``f`` has ``||f_perp||^2 >> eps`` and hides the effect.
    """
    x, f = _update_inputs(m)
    update = orthogonal_update(x, f, UPDATE_EPS)
    return max(0.0, float(x @ x) - float(update @ update))


@conjecture(requires=["orthogonal"], tol=1e-9, depth=(1, 32), n=(1, 16), examples=15,
            reference=ORTHO_RNN, kind="theorem", proof=symbolic.rotation_composition())
def orthogonal_recurrence_preserves_gradient_norms(mappings):
    """With an orthogonal recurrence the linear part of back-propagation preserves gradient
    norms over any number of steps: every singular value of the product is 1 (to 1e-9)."""
    singular = torch.linalg.svdvals(product_matrix(list(mappings)))
    return float((singular - 1).abs().max())


@conjecture(families=["orthogonal"], n=(2, 6), examples=2, reference=PARAMETRISATIONS
            + "; Mezzadri 2007 (arXiv math-ph/0609050)", kind="empirical")
def qr_with_sign_fix_is_haar(m):
    """QR of a Gaussian matrix with the sign of R's diagonal fixed is Haar-distributed on O(n).

    Checked on 400 draws of the family's sampler
    :func:`entangled.mappings.orthogonal.haar_orthogonal` (generator seeded from the example)
    by :func:`haar_first_entry_test`.
    """
    from entangled.mappings.orthogonal import haar_orthogonal

    generator = torch.Generator().manual_seed(m.seed)
    return haar_first_entry_test(lambda: haar_orthogonal(m.n, generator), m.n)


def haar_first_entry_test(sample, n: int, samples: int = 400) -> bool:
    """Whether ``samples`` draws of ``sample() -> Q`` look Haar on ``O(n)`` through ``Q_11``:
    ``Q_11^2 ~ Beta(1/2, (n-1)/2)`` (Kolmogorov-Smirnov p >= 1e-4) and ``Q_11`` symmetric about
    0 (``|mean Q_11| <= 5 / sqrt(samples n)``, five standard errors). Plain ``torch.linalg.qr``
    without the sign fix gives ``Q_11 < 0`` in every draw (LAPACK's Householder sign
    convention; measured), so it fails the symmetry test (tests/test_literature.py)."""
    from scipy import stats

    first = torch.tensor([float(sample()[0, 0]) for _ in range(samples)], dtype=torch.float64)
    p_value = stats.kstest((first ** 2).numpy(), stats.beta(0.5, (n - 1) / 2).cdf).pvalue
    return bool(p_value >= 1e-4 and abs(float(first.mean())) <= 5 / math.sqrt(samples * n))


@conjecture(families=["dense"], tol=1e-9, n=(1, 16), reference=PARAMETRISATIONS,
            kind="theorem", proof=symbolic.cayley_orthogonal())
def cayley_and_exponential_of_skew_are_special(m):
    """The Cayley map (I - A/2)^{-1}(I + A/2) of a skew-symmetric A is orthogonal with no
    eigenvalue -1; the matrix exponential of a skew-symmetric A has determinant +1.

    ``A = (M - M^T)/2`` of the sampled dense ``M``. Returns the largest of the orthogonality
    error, ``max(0, 1e-6 - min |lambda + 1|)`` and ``|det e^A - 1|``.
    """
    matrix = m.dense()
    skew = (matrix - matrix.T) / 2
    eye = torch.eye(m.n, dtype=torch.float64)
    cayley = torch.linalg.solve(eye - skew / 2, eye + skew / 2)
    orthogonality = float((cayley.T @ cayley - eye).abs().max())
    no_minus_one = max(0.0, 1e-6 - float((torch.linalg.eigvals(cayley) + 1).abs().min()))
    determinant = abs(float(torch.linalg.det(torch.linalg.matrix_exp(skew))) - 1.0)
    return max(orthogonality, no_minus_one, determinant)


@conjecture(requires=["orthogonal"], tol=1e-9, depth=(1, 6), n=(1, 8), examples=8,
            reference=PENNINGTON, kind="theorem", proof=symbolic.rotation_composition())
def orthogonal_skips_with_zero_branches_are_isometric(mappings):
    """With orthogonal skips and zero branches every singular value of the input-output
    Jacobian is 1 (dynamical isometry).

    Built as a real network — ``EntangledSkip`` residual blocks with
    :class:`~entangled.theory.probe.ZeroBranch` branches in an ``nn.Sequential`` — and measured by
    :func:`entangled.theory.probe.probe`; returns ``max |sigma_i - 1|`` of the probed Jacobian.
    """
    from torch import nn

    from entangled.nn.skip import EntangledSkip
    from entangled.theory.probe import ZeroBranch, probe

    class Block(nn.Module):
        def __init__(self, mapping):
            super().__init__()
            self.skip, self.branch = EntangledSkip(mapping), ZeroBranch()

        def forward(self, x):
            return self.skip(x) + self.branch(x)

    network = nn.Sequential(*(Block(m) for m in mappings))
    n = mappings[0].n
    x = torch.randn(2, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probed = probe(network, x, checks=False)
    return float((torch.linalg.svdvals(probed.dense()) - 1).abs().max())
