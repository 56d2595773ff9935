"""Tests of entangled.theory.probe, the probed-module claims and ``entangled probe``.

Known answers: blocks whose skip is a given matrix probe back to it; the Kronecker residual of
``H ⊗ I + I ⊗ A`` has a closed form; the deliberately broken fixtures of
``tests/probe_fixtures.py`` are falsified by the claims that describe their bug.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import entangled as E
from entangled.cli import main
from entangled.errors import InvalidParameterError
from entangled.theory.adapters.entangled_skip import EntangledResidualBlock, entangled_skip_spec
from entangled.theory.conjectures import probed as claims
from entangled.theory.probe import (
    ProbedMapping,
    ProbeError,
    ProbeWarning,
    ZeroBranch,
    check_probed,
    kronecker_split,
    probe,
    probe_spec,
)

sys.path.insert(0, str(Path(__file__).parent))
import probe_fixtures as fixtures

FIXTURES = str(Path(__file__).parent / "probe_fixtures.py")
FAMILIES = ["identity", "orthogonal", "rotation", "permutation", "sparse", "circulant",
            "sinkhorn", "birkhoff", "dense"]


def verdicts(m):
    ledger, skipped = check_probed(m)
    return {e.short_name.split(".")[-1]: e for e in ledger.entries}, skipped


def lacking_data(skipped) -> set[str]:
    """Claims not applicable for lack of a measurement (not for the block's kind or opt-in)."""
    return {conj.function_name for conj, reason in skipped if "params[" in reason}


class MatrixSkipBlock(nn.Module):
    """``y = M x + tanh(W x)`` along the last axis, ``M`` applied by a hand-written einsum."""

    def __init__(self, matrix: torch.Tensor, branch: nn.Module | None = None):
        super().__init__()
        self.register_buffer("matrix", matrix.clone())
        n = matrix.shape[0]
        self.branch = branch if branch is not None else nn.Sequential(nn.Linear(n, n), nn.Tanh())

    def forward(self, x):
        return torch.einsum("ij,...j->...i", self.matrix.to(x.dtype), x) + self.branch(x)


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize("family", FAMILIES)
def test_hand_written_block_probes_back_to_its_mapping(family):
    mapping = E.make_mapping(family, 6, seed=3)
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    m = probe(MatrixSkipBlock(mapping.matrix()), x, silence="branch")
    torch.testing.assert_close(m.matrix(), mapping.matrix(), atol=1e-10, rtol=0)
    assert m.family == "probed" and m.n == 6 and m.params["dim"] == 1
    assert m.params["kronecker_residual"] == 0.0 and m.params["cross_position"] == 0.0


def test_zero_branch_silences_by_construction():
    mapping = E.make_mapping("orthogonal", 5, seed=1)
    m = probe(MatrixSkipBlock(mapping.matrix(), branch=ZeroBranch()), torch.randn(4, 5))
    torch.testing.assert_close(m.matrix(), mapping.matrix(), atol=1e-10, rtol=0)


def test_unsilenced_branch_is_measured_too():
    """Without silencing, the Jacobian includes the branch: the probe does not fake M."""
    mapping = E.make_mapping("permutation", 5, seed=1)
    with pytest.warns(ProbeWarning, match="WHOLE block"):
        m = probe(MatrixSkipBlock(mapping.matrix()), torch.randn(1, 5))
    assert float((m.matrix() - mapping.matrix()).abs().max()) > 1e-3
    assert m.params["scope"] == "whole block"
    assert any("WHOLE block" in note for note in m.params["notes"])


@pytest.mark.parametrize("family", ["sparse", "circulant", "permutation"])
def test_entangled_skip_self_test(family):
    """The project's EntangledSkip (structure-aware apply) probes to its mapping exactly."""
    mapping = E.make_mapping(family, 8, seed=2)
    m = probe_spec(entangled_skip_spec(mapping))
    torch.testing.assert_close(m.matrix(), mapping.matrix(), atol=1e-12, rtol=0)
    found, _ = verdicts(m)
    assert found["equals_exposed"].verdict == "holds"
    assert found["kronecker_form"].verdict == "holds"


def test_entangled_skip_channels_first_layout():
    mapping = E.make_mapping("circulant", 6, bandwidth=1.5)
    block = EntangledResidualBlock(mapping, dim=1)
    m = probe(block, torch.randn(2, 6, 3, 3), layout="b f ...", silence="branch")
    torch.testing.assert_close(m.matrix(), mapping.matrix(), atol=1e-12, rtol=0)
    assert m.params["cross_position"] == 0.0


def _stream_block(h: torch.Tensor, a: torch.Tensor | None = None):
    def block(x):                                           # x: (..., n, d)
        y = torch.einsum("ij,...jd->...id", h, x)
        return y if a is None else y + torch.einsum("ab,...ib->...ia", a, x)
    return block


def test_kronecker_residual_zero_for_true_kronecker_block():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(3, 3, generator=g, dtype=torch.float64)
    m = probe(_stream_block(h), torch.randn(2, 3, 5, dtype=torch.float64), streams=3,
              no_branch=True)
    torch.testing.assert_close(m.matrix(), h, atol=1e-12, rtol=0)
    assert m.params["kronecker_residual"] < 1e-14
    assert (m.params["streams"], m.params["dim"], m.params["layout"]) == (3, 5, "... s d")


def test_kronecker_residual_known_value_for_within_stream_mixing():
    """J = H ⊗ I + I ⊗ A: nearest Kronecker H' = H + tr(A)/d I, residual known in closed form."""
    g = torch.Generator().manual_seed(1)
    n, d = 3, 4
    h = torch.randn(n, n, generator=g, dtype=torch.float64)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    m = probe(_stream_block(h, a), torch.randn(1, n, d, dtype=torch.float64), streams=n,
              no_branch=True)
    eye_n, eye_d = torch.eye(n, dtype=torch.float64), torch.eye(d, dtype=torch.float64)
    jac = torch.kron(h, eye_d) + torch.kron(eye_n, a)
    expected_h = h + torch.trace(a) / d * eye_n
    expected_r = torch.linalg.norm(torch.kron(eye_n, a - torch.trace(a) / d * eye_d)) \
        / torch.linalg.norm(jac)
    torch.testing.assert_close(m.matrix(), expected_h, atol=1e-12, rtol=0)
    assert m.params["kronecker_residual"] == pytest.approx(float(expected_r), abs=1e-12)
    assert m.params["kronecker_residual"] > 0.1
    assert verdicts(m)[0]["kronecker_form"].verdict == "falsified"


def test_kronecker_split_rejects_wrong_shape():
    with pytest.raises(ProbeError, match=r"\(6, 6\)"):
        kronecker_split(torch.zeros(5, 5), 3, 2)


def test_batch_streams_layout_recovers_h():
    """Layout '(b s) ... d' (hyper-connections mHC): streams folded into the batch axis."""
    h = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]], dtype=torch.float64)

    def block(x):                                           # x: (b * 3, t, d)
        grouped = x.reshape(-1, 3, *x.shape[1:])
        return torch.einsum("ij,bj...->bi...", h, grouped).reshape(x.shape)

    m = probe(block, torch.randn(2 * 3, 2, 4, dtype=torch.float64), streams=3, no_branch=True,
              layout="(b s) ... d")
    torch.testing.assert_close(m.matrix(), h, atol=1e-12, rtol=0)
    assert m.params["kronecker_residual"] < 1e-14 and m.params["cross_position"] == 0.0


def test_skip_that_mixes_batch_positions_is_caught():
    m = probe(lambda x: 0.5 * x + 0.5 * x.roll(1, dims=0), torch.randn(3, 4, dtype=torch.float64),
              no_branch=True)
    assert m.params["cross_position"] == pytest.approx(math.sqrt(0.5), abs=1e-12)
    assert verdicts(m)[0]["positions_independent"].verdict == "falsified"


def test_input_dependent_mixing_reports_the_linearisation():
    """y = H(x) x with H(x) = softmax(s(x))-rows: the Jacobian differs from H(x)."""
    def block(x):                                           # (1, 2, d)
        s = x.mean(-1)                                      # per-stream summary
        hx = torch.softmax(torch.stack([s, s.flip(-1)], dim=-2), dim=-1)
        return torch.einsum("...ij,...jd->...id", hx, x)

    x = torch.randn(1, 2, 3, dtype=torch.float64)
    m = probe(block, x, streams=2, no_branch=True)
    assert m.params["kronecker_residual"] > 1e-3
    jac = torch.autograd.functional.jacobian(block, x).reshape(6, 6)
    torch.testing.assert_close(m.jacobian, jac, atol=1e-12, rtol=0)


def test_probe_is_fast_for_a_few_thousand_inputs():
    n, d = 8, 256
    h = fixtures.sinkhorn(torch.randn(n, n, dtype=torch.float64), 50)
    start = time.perf_counter()
    m = probe(_stream_block(h), torch.randn(1, n, d, dtype=torch.float64), streams=n,
              no_branch=True)
    assert time.perf_counter() - start < 30
    torch.testing.assert_close(m.matrix(), h, atol=1e-12, rtol=0)


# ------------------------------------------------------------- the mapping object
def test_probed_mapping_behaves_as_a_mapping_and_round_trips():
    h = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    m = probe(_stream_block(h), torch.randn(1, 2, 3, dtype=torch.float64), streams=2, no_branch=True,
              source="unit test", exposed=h)
    assert "probed" not in E.families()
    torch.testing.assert_close(m.apply(torch.tensor([1.0, 2.0], dtype=torch.float64)),
                               torch.tensor([2.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(torch.sort(m.eigvals().real).values,
                               torch.tensor([-1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(m.singular_values(), torch.ones(2, dtype=torch.float64))
    assert set(m.graph().edges()) == {(0, 1), (1, 0)}
    data = json.loads(json.dumps(m.to_dict()))
    assert data["params"]["source"] == "unit test" and data["params"]["input_shape"] == [1, 2, 3]
    back = ProbedMapping.from_dict(data)
    assert isinstance(back, ProbedMapping) and back == m
    torch.testing.assert_close(back.matrix(), m.matrix(), atol=0, rtol=0)
    torch.testing.assert_close(back.exposed_matrix(), h)
    other = ProbedMapping.from_dict(E.make_mapping("identity", 3).to_dict())
    assert other.family == "identity"


def test_probed_mapping_rejects_bad_fields():
    with pytest.raises(InvalidParameterError, match="kronecker_residual"):
        ProbedMapping(2, matrix=[[1, 0], [0, 1]], kronecker_residual=-1.0)
    with pytest.raises(InvalidParameterError, match="exposed"):
        ProbedMapping(2, matrix=[[1, 0], [0, 1]], exposed=[[1.0]])
    with pytest.raises(InvalidParameterError, match="parameter"):
        ProbedMapping.from_dict({"family": "probed", "n": 1, "seed": 0,
                                 "params": {"matrix": [[1.0]], "colour": "red"}})


def test_bad_probe_arguments_have_clear_messages():
    block = MatrixSkipBlock(torch.eye(4, dtype=torch.float64))
    x = torch.randn(2, 4)
    with pytest.raises(ProbeError, match=r"silence='brnch'.*'branch'"):
        probe(block, x, silence="brnch")
    with pytest.raises(ProbeError, match="preserve the shape"):
        probe(lambda t: t.sum(-1), x, no_branch=True)
    with pytest.raises(InvalidParameterError, match="layout"):
        probe(block, x, layout="s d")
    with pytest.raises(ProbeError, match="divisor of 4"):
        probe(block, x, streams=3)
    with pytest.raises(InvalidParameterError, match="sample_input"):
        probe(block, [[1.0, 2.0]])
    with pytest.raises(ProbeError, match="needs streams"):
        probe(block, x, layout="(b s) ... d")
    with pytest.raises(ProbeError, match="missing key 'input'"):
        probe_spec({"block": block})
    with pytest.raises(ProbeError, match="invalid key 'inputs'"):
        probe_spec({"block": block, "inputs": x})


def test_claims_without_adapter_data_are_not_applicable():
    m = probe(MatrixSkipBlock(torch.eye(3, dtype=torch.float64)), torch.randn(1, 3),
              silence="branch")
    found, skipped = verdicts(m)
    missing = {c.function_name for c, reason in skipped if "params[" in reason}
    assert missing == {"exposed_doubly_stochastic", "equals_exposed", "mixing_is_live",
                       "gradient_reaches_mixing_parameters"}
    with pytest.raises(claims.NotApplicable, match="no 'exposed' matrix"):
        claims.equals_exposed(m)


# ------------------------------------------------------------------ fixtures
def test_correct_doubly_stochastic_mixer_holds():
    m = probe_spec(fixtures.correct_mixer())
    found, skipped = verdicts(m)
    assert lacking_data(skipped) == {"gradient_reaches_mixing_parameters"}   # no --perturb glob
    assert all(e.verdict == "holds" for e in found.values()), {
        k: e.verdict for k, e in found.items()}
    torch.testing.assert_close(m.matrix(), m.exposed_matrix(), atol=1e-12, rtol=0)


def test_mixing_computed_but_not_applied_is_falsified():
    m = probe_spec(fixtures.forgot_to_apply())
    torch.testing.assert_close(m.matrix(), torch.eye(fixtures.STREAMS, dtype=torch.float64),
                               atol=1e-12, rtol=0)
    found, _ = verdicts(m)
    live, equal = found["mixing_is_live"], found["equals_exposed"]
    assert live.verdict == "falsified" and not live.matches_expected
    assert "mixing parameters" in live.statement
    assert live.counterexample["value"] is False
    assert equal.verdict == "falsified" and equal.worst > 0.1
    assert "mixing matrix the module computes" in equal.statement
    # the identity is doubly stochastic: only the liveness / equality claims see this bug
    assert found["doubly_stochastic"].verdict == "holds"


def test_normalisation_over_the_wrong_axis_is_falsified():
    m = probe_spec(fixtures.wrong_axis())
    torch.testing.assert_close(m.matrix().sum(0), torch.ones(fixtures.STREAMS,
                                                             dtype=torch.float64))
    found, _ = verdicts(m)
    ds = found["doubly_stochastic"]
    assert ds.verdict == "falsified" and ds.worst > 0.05
    assert ds.counterexample["value"] == pytest.approx(
        float((m.matrix().sum(1) - 1).abs().max()), abs=1e-12)
    assert "doubly stochastic" in ds.statement
    assert found["exposed_doubly_stochastic"].verdict == "falsified"
    assert found["equals_exposed"].verdict == "holds"       # applied as computed


# ----------------------------------------------------------- hyper-connections
def test_hyper_connections_mhc_block():
    pytest.importorskip("hyper_connections", reason="optional extra 'probe' "
                        "(pip install 'hyper-connections>=0.4') is not installed")
    from entangled.theory.adapters.hyper_connections import mhc_mixing_matrix, mhc_spec

    at_init = probe_spec(mhc_spec())
    n = 4
    expected = torch.full((n, n), 1 / math.e) + (1 - 1 / math.e) * torch.eye(n)
    expected = (expected / expected.sum(1, keepdim=True)).double()   # SK of exp(I - 1)
    torch.testing.assert_close(at_init.matrix(), expected, atol=1e-6, rtol=0)
    found, skipped = verdicts(at_init)
    assert not lacking_data(skipped) and all(e.verdict == "holds" for e in found.values())

    # orientation: the module's A has rows = input stream; the applied map is A^T
    spec = mhc_spec(version="v2", logit_scale=1.0)
    m = probe_spec(spec)
    torch.testing.assert_close(m.matrix(), m.exposed_matrix(), atol=1e-5, rtol=0)
    assert float((m.matrix() - m.exposed_matrix().T).abs().max()) > 1e-2
    torch.testing.assert_close(m.matrix().sum(0), torch.ones(n, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(mhc_mixing_matrix(spec["block"].double(), spec["input"]),
                               m.exposed_matrix(), atol=1e-6, rtol=0)

    peaked, _ = verdicts(probe_spec(mhc_spec(logit_scale=8.0)))
    assert peaked["exposed_doubly_stochastic"].verdict == "falsified"   # 20 SK iterations

    dynamic = probe_spec(mhc_spec(logit_scale=1.0, dynamic_scale=1.0))
    found, _ = verdicts(dynamic)
    assert dynamic.params["kronecker_residual"] > 1e-3
    assert found["equals_exposed"].verdict == "falsified"
    assert found["exposed_doubly_stochastic"].verdict == "holds"


# ------------------------------------------------------------------------ CLI
def test_cli_exit_codes(tmp_path, capsys):
    assert main(["probe", f"{FIXTURES}:correct_mixer"]) == 0
    out = capsys.readouterr().out
    assert "Kronecker residual" in out and "stream map H (4 x 4)" in out
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--in-process"]) == 0
    assert capsys.readouterr().out == out            # isolated and in-process report alike

    assert main(["probe", f"{FIXTURES}:wrong_axis", "--json", str(tmp_path / "p.json")]) == 1
    out = capsys.readouterr().out
    assert "!! falsified  probed.doubly_stochastic" in out
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["probe"]["family"] == "probed"
    assert data["ledger"]["summary"]["mismatching"] >= 1
    assert ProbedMapping.from_dict(data["probe"]).n == fixtures.STREAMS

    assert main(["probe", f"{FIXTURES}:forgot_to_apply", "--in-process"]) == 1
    assert main(["probe", "entangled.theory.adapters.examples:entangled_skip_sparse", "--in-process"]) == 0
    assert main(["probe", f"{FIXTURES}:no_such_factory", "--in-process"]) == 2
    assert main(["probe", "no_such_module_xyz:factory"]) == 2
    assert main(["probe", "missing-colon"]) == 2
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--streams", "3", "--in-process"]) == 2
    err = capsys.readouterr().err
    assert "no_such_factory" in err and "no_such_module_xyz" in err and "streams=3" in err


def test_cli_user_conjectures(tmp_path, capsys):
    good = tmp_path / "mine.py"
    good.write_text(
        "from entangled.theory import conjecture\n"
        "@conjecture(families=['probed'], tol=1e-9)\n"
        "def is_identity(m):\n"
        "    '''The applied map is the identity (false for a live mixer).'''\n"
        "    import torch\n"
        "    return float((m.dense() - torch.eye(m.n, dtype=m.dense().dtype)).abs().max())\n")
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--conjectures", str(good),
                 "--in-process"]) == 1
    assert "!! falsified  mine.is_identity" in capsys.readouterr().out
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--conjectures", str(broken),
                 "--in-process"]) == 2
    assert "boom" in capsys.readouterr().err


MALICIOUS = """
import os
import sys
import time

import torch


def calls_sys_exit():
    sys.exit(0)


def calls_os_exit():
    os._exit(0)


def hangs():
    while True:
        time.sleep(0.05)


def raises():
    raise RuntimeError("boom in the factory")


def interrupts():
    raise KeyboardInterrupt


class ExitingBlock(torch.nn.Module):
    def forward(self, x):
        sys.exit(3)


def forward_calls_sys_exit():
    return ExitingBlock(), torch.zeros(2, 4, 8)
"""


@pytest.fixture()
def malicious(tmp_path):
    path = tmp_path / "malicious.py"
    path.write_text(MALICIOUS)
    exits_at_import = tmp_path / "exits_at_import.py"
    exits_at_import.write_text("import sys\nsys.exit(0)\ndef factory():\n    pass\n")
    return path, exits_at_import


@pytest.mark.parametrize("factory, flags, expected", [
    ("calls_os_exit", [], "the factory {target} ended the process running it: exit status 0"),
    ("hangs", ["--timeout", "2"], "the factory {target} did not finish within 2 s (--timeout)"),
    ("raises", [], "the factory {target} raised RuntimeError: boom in the factory"),
    ("interrupts", [], "the factory {target} raised KeyboardInterrupt"),
    ("forward_calls_sys_exit", [],
     "probing the block built by {target} failed: the block called sys.exit(3)"),
])
def test_cli_isolates_a_factory_that_exits_raises_or_hangs(malicious, factory, flags,
                                                            expected, capsys):
    """Issue 10: user code runs in a child process; its exit, exception or hang is a named
    failure with exit status 2, never the status (or the end) of the command."""
    target = f"{malicious[0]}:{factory}"
    assert main(["probe", target, *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("entangled probe: error: ")
    assert expected.format(target=target) in captured.err


def test_cli_factory_calling_sys_exit_0_fails_loudly(malicious):
    """The real command, as a user runs it: sys.exit(0) in the factory or at import is exit 2
    with the factory named, not a silent success."""
    import subprocess

    for target, expected in ((f"{malicious[0]}:calls_sys_exit", "called sys.exit(0)"),
                             (f"{malicious[1]}:factory", "importing it called sys.exit(0)")):
        done = subprocess.run([sys.executable, "-m", "entangled", "probe", target],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stdout == ""
        assert target in done.stderr and expected in done.stderr


def test_plain_function_with_float32_constants_is_probed_in_float32():
    h = torch.tensor([[0.9, 0.1], [0.2, 0.8]])                     # float32 closure

    def block(x):
        return torch.einsum("ij,bjd->bid", h, x)

    with pytest.warns(RuntimeWarning, match="float32"):
        m = probe(block, torch.randn(3, 2, 16), streams=2, no_branch=True)
    assert m.params["dtype"] == "float32"
    torch.testing.assert_close(m.matrix(), h.double(), atol=1e-7, rtol=0)
    with pytest.raises(ProbeError, match="the block raised"):
        probe(lambda x: x @ torch.ones(3, 3, dtype=torch.float64),
              torch.randn(2, 4, dtype=torch.float64), no_branch=True)


def test_readme_probe_example_runs_as_written():
    """README "Probing your own residual module": exit 0 for my_block, 1 with one iteration."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    target = "tests/probe_user_example.py"
    ok = subprocess.run([sys.executable, "-m", "entangled.cli", "probe", f"{target}:my_block"],
                        cwd=root, capture_output=True, text=True)
    broken = subprocess.run([sys.executable, "-m", "entangled.cli", "probe",
                             f"{target}:my_block_one_iteration"], cwd=root, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert broken.returncode == 1
    assert "falsified  probed.doubly_stochastic" in broken.stdout
