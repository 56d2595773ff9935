"""The probed claims against one deliberately broken fixture per bug class.

Each broken block of ``tests/probe_fixtures.py`` must be falsified by the claim written for its
bug and by no claim that has nothing to say about it; the correct block must pass every claim.
The sets below list, per fixture, exactly the claims that falsify it, with the reason each
one legitimately applies.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

from entangled.theory.probe import (
    ProbeError,
    check_probed,
    exposed_reader,
    parse_perturb,
    perturb_parameters,
    probe,
    probe_spec,
)
from entangled.theory.probe.blocks import matching_parameters

sys.path.insert(0, str(Path(__file__).parent))
import probe_fixtures as fixtures

GAIN = {"skip_gain_at_most_one", "spectral_norm_at_most_one", "doubly_stochastic"}
EXPECTED_FALSIFIED = {
    "correct_mixer": set(),
    # the only wrong thing is the gradient: H comes from the forward pass, every other claim holds
    "detached_skip": {"autograd_matches_finite_differences"},
    "stateful": {"block_is_a_function"},
    # all-ones skip: gain n, not doubly stochastic, not H, and H no longer matters
    "stream_summation": GAIN | {"composite_gain_bounded", "equals_exposed", "mixing_is_live"},
    "forgot_to_apply": {"equals_exposed", "mixing_is_live"},
    # column- but not row-stochastic: row sums > 1 give gain > 1 and spectral norm > 1
    "wrong_axis": GAIN | {"exposed_doubly_stochastic"},
    "unsilenced": {"skip_path_isolated"},
}
INTENDED = {"detached_skip": "autograd_matches_finite_differences",
            "stateful": "block_is_a_function", "stream_summation": "skip_gain_at_most_one",
            "forgot_to_apply": "equals_exposed", "wrong_axis": "doubly_stochastic",
            "unsilenced": "skip_path_isolated"}


def _probe_fixture(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return probe_spec(getattr(fixtures, name)())


def _verdicts(m):
    ledger, skipped = check_probed(m)
    return {e.short_name.split(".")[-1]: e.verdict for e in ledger.entries}, skipped


@pytest.mark.parametrize("name", sorted(EXPECTED_FALSIFIED))
def test_each_fixture_is_caught_by_exactly_its_claims(name):
    found, skipped = _verdicts(_probe_fixture(name))
    assert "error" not in found.values(), found
    falsified = {claim for claim, verdict in found.items() if verdict == "falsified"}
    assert falsified == EXPECTED_FALSIFIED[name]
    if name in INTENDED:
        assert INTENDED[name] in falsified
    if name != "unsilenced":      # only claims about other block kinds, opt-in claims and the
        reasons = {c.function_name: r for c, r in skipped}        # gradient glob stay out
        assert set(reasons) == OTHER_KINDS | OPT_IN | {"gradient_reaches_mixing_parameters"}
        assert all("declared stream-mixing" in reasons[k] for k in OTHER_KINDS)


OTHER_KINDS = {"skip_is_scalar_multiple_of_identity", "window_forward_gain_at_most_one"}
OPT_IN = {"skip_is_identity"}


def test_every_bug_class_has_a_fixture():
    assert set(fixtures.BROKEN) == set(INTENDED)


def test_unsilenced_probe_leaves_only_block_claims():
    found, skipped = _verdicts(_probe_fixture("unsilenced"))
    assert set(found) == {"autograd_matches_finite_differences", "block_is_a_function",
                          "skip_path_isolated"}
    reasons = {c.function_name: reason for c, reason in skipped}
    assert "not silenced" in reasons["doubly_stochastic"]
    assert "params['exposed']" in reasons["exposed_doubly_stochastic"]     # a bare tuple
    assert all("not silenced" in r or "params[" in r for k, r in reasons.items()
               if k not in OTHER_KINDS | OPT_IN)


def test_detached_skip_is_measured_from_the_forward_pass():
    m = _probe_fixture("detached_skip")
    assert m.params["jacobian_method"] == "finite differences"
    assert m.params["autograd_gap"] == pytest.approx(1.0, abs=1e-9)   # autograd sees 0
    assert any("finite differences" in note for note in m.params["notes"])
    torch.testing.assert_close(m.matrix(), m.exposed_matrix(), atol=1e-8, rtol=0)


def test_stateful_block_known_gaps():
    m = _probe_fixture("stateful")
    assert m.params["repeat_gap"] > 1e-3 and m.params["batch_gap"] == 0.0
    correct = _probe_fixture("correct_mixer")
    assert correct.params["repeat_gap"] == 0.0 and correct.params["batch_gap"] == 0.0


def test_batch_statistics_break_batch_independence():
    """A normalisation over the batch axis in eval mode: same input twice is fine, but the
    first item alone differs from the same item inside the batch."""
    def block(x):
        return x - x.mean(dim=0, keepdim=True)

    m = probe(block, torch.randn(3, 4, dtype=torch.float64), no_branch=True)
    assert m.params["repeat_gap"] == 0.0 and m.params["batch_gap"] > 0.5
    assert _verdicts(m)[0]["block_is_a_function"] == "falsified"


def test_stream_summation_caught_whatever_the_declared_layout():
    """Declared as one stream of width n d, the stream map is the 1x1 matrix tr(J)/(n d) = 1
    and looks harmless — but the gain claim reads the full Jacobian, whose row sums are n."""
    spec = fixtures.stream_summation()
    width = fixtures.STREAMS * fixtures.WIDTH
    m = probe(spec["block"], spec["input"], layout="... s d", silence="branch")
    wrong = probe(spec["block"], spec["input"], layout=lambda t: t.reshape(-1, 1, width),
                  silence="branch")
    assert wrong.n == 1 and float(wrong.matrix()[0, 0]) == pytest.approx(1.0, abs=1e-12)
    assert m.params["skip_gain"] == pytest.approx(fixtures.STREAMS, abs=1e-9)
    assert wrong.params["skip_gain"] == pytest.approx(fixtures.STREAMS, abs=1e-9)
    assert _verdicts(wrong)[0]["skip_gain_at_most_one"] == "falsified"


def test_vmap_failure_is_recorded_not_swallowed():
    m = _probe_fixture("stateful")            # in-place buffer update: torch.func refuses
    assert m.params["jacobian_method"] == "batched autograd"
    assert any(note.startswith("torch.func vjp/vmap failed") for note in m.params["notes"])
    assert _probe_fixture("correct_mixer").params["notes"] == []


def test_tolerance_override_changes_numerical_claims_only():
    m = _probe_fixture("wrong_axis")
    ledger, _ = check_probed(m, tol=1.0)
    found = {e.short_name.split(".")[-1]: e for e in ledger.entries}
    assert found["doubly_stochastic"].tol == 1.0 and found["doubly_stochastic"].verdict == "holds"
    assert found["composite_gain_bounded"].tol == 2.0


# ------------------------------------------------------------------ generic helpers
def test_perturb_glob_moves_only_matching_parameters():
    block = fixtures.SinkhornMixer()
    assert matching_parameters(block, "logits") == ["logits"]
    assert matching_parameters(block, "branch.*") == ["branch.0.weight", "branch.0.bias"]
    before = {k: v.clone() for k, v in block.state_dict().items()}
    perturb_parameters("logits", scale=0.5, seed=3)(block)
    after = block.state_dict()
    assert not torch.equal(before["logits"], after["logits"])
    assert torch.equal(before["branch.0.weight"], after["branch.0.weight"])
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(after["logits"] - before["logits"],
                               (0.5 * torch.randn(4, 4, generator=g, dtype=torch.float64)).float())
    with pytest.raises(ProbeError, match="no parameter name matches.*logits"):
        perturb_parameters("nothing*")(block)
    assert parse_perturb("*logits*:0.25") == ("*logits*", 0.25)
    for bad in ("", "a:b", "x:-1", "a:1:2"):
        with pytest.raises(ValueError, match="perturb"):
            parse_perturb(bad)


def test_exposed_reader_tensor_method_and_recorded_call():
    block = fixtures.SinkhornMixer().double()
    x = torch.randn(2, fixtures.STREAMS, fixtures.WIDTH, dtype=torch.float64)
    want = block.mixing().detach()
    torch.testing.assert_close(exposed_reader("mixing")(block, x, fixtures.STREAMS), want)
    torch.testing.assert_close(exposed_reader("mixing", transpose=True)(block, x, 4), want.T)
    assert "mixing" not in vars(block)                   # the recording wrapper is removed
    block.register_buffer("fixed", torch.eye(4, dtype=torch.float64))
    torch.testing.assert_close(exposed_reader("fixed")(block, x, 4), torch.eye(4).double())
    with pytest.raises(ProbeError, match="no attribute 'nope'"):
        exposed_reader("nope")(block, x, 4)
    with pytest.raises(ProbeError, match=r"\(\.\.\., 3, 3\)"):
        exposed_reader("mixing")(block, x, 3)


# ------------------------------------------------------------------------------ CLI
FIXTURES = str(Path(__file__).parent / "probe_fixtures.py")
CLASS_FLAGS = ["--input-shape", "2,4,8", "--streams", "4", "--silence", "branch",
               "--exposed", "mixing", "--perturb", "logits",
               "--in-process"]  # isolation is tested in test_probe.py; here: the flags


@pytest.mark.parametrize("cls, code, claim", [
    ("SinkhornMixer", 0, None),
    ("DetachedSkip", 1, "autograd_matches_finite_differences"),
    ("Stateful", 1, "block_is_a_function"),
    ("StreamSummation", 1, "skip_gain_at_most_one"),
    ("ForgotToApply", 1, "equals_exposed"),
    ("WrongAxis", 1, "doubly_stochastic"),
])
def test_cli_probes_a_class_from_flags_alone(cls, code, claim, capsys):
    from entangled.cli import main

    assert main(["probe", f"{FIXTURES}:{cls}", "--init-args", "streams=4, width=8, seed=0",
                 *CLASS_FLAGS]) == code
    out = capsys.readouterr().out
    if claim is not None:
        assert f"!! falsified  probed.{claim}" in out


def test_cli_whole_block_warns_and_fails_isolation(capsys, tmp_path):
    from entangled.cli import main

    assert main(["probe", f"{FIXTURES}:unsilenced", "--html", str(tmp_path / "page")]) == 1
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "WHOLE block" in captured.err
    assert "WHOLE BLOCK" in captured.out and "!! falsified  probed.skip_path_isolated" in captured.out
    assert "not applicable" in captured.out
    page = (tmp_path / "page" / "index.html").read_text()
    assert "Whole block." in page and "skip_path_isolated" in page
    assert "<script" not in page and "http" not in page.split("</style>")[0]


def test_cli_html_page_shows_heatmap_and_ledger(capsys, tmp_path):
    from entangled.cli import main

    assert main(["probe", f"{FIXTURES}:wrong_axis", "--html", str(tmp_path)]) == 1
    page = (tmp_path / "index.html").read_text()
    assert page.count('<table class="heat">') == 3          # H, exposed, perturbed
    assert "probed.doubly_stochastic" in page and "verdict-falsified" in page
    assert "Kronecker residual" in page


def test_cli_flags_override_and_bad_values(capsys):
    from entangled.cli import main

    # --tol 1e-20 is below float64 rounding: the correct block now fails a numerical claim
    assert main(["probe", f"{FIXTURES}:SinkhornMixer", "--init-args", "4, 8",
                 *CLASS_FLAGS, "--tol", "1e-20"]) == 1
    assert main(["probe", f"{FIXTURES}:SinkhornMixer", "--init-args", "4, 8, bogus=1",
                 *CLASS_FLAGS]) == 2
    assert main(["probe", f"{FIXTURES}:SinkhornMixer", "--init-args", "4,, 8",
                 *CLASS_FLAGS]) == 2
    assert main(["probe", f"{FIXTURES}:SinkhornMixer", "--input-shape", "2,x"]) == 2
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--input-shape", "2,4,8",
                 "--in-process"]) == 2
    assert main(["probe", f"{FIXTURES}:correct_mixer", "--perturb", "nomatch*",
                 "--in-process"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "--init-args" in err and "--input-shape" in err
    assert "no parameter name matches" in err


# ------------------------------------------------------------------- README runs
README_EXIT_CODES = {
    "tests/probe_fixtures.py:WrongAxis": 1,
    "hyper_connections:HyperConnections": 0,
    "hyper_connections:mHC": 0,
    "entangled.theory.adapters.examples:mhc_dynamic_block": 1,
}


def _readme_probe_commands():
    import re
    import shlex

    section = (Path(__file__).resolve().parent.parent / "docs" / "probe.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("entangled probe "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_readme_real_world_commands_run_as_written(monkeypatch, tmp_path):
    """The README's probe commands that need only this environment give the stated exit codes
    (the PYTHONPATH=/tmp/... runs need packages installed beside it and are not rerun here)."""
    pytest.importorskip("hyper_connections", reason="optional extra 'probe'")
    from entangled.cli import main

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    commands = {args[1]: args for args in _readme_probe_commands()}
    assert set(README_EXIT_CODES) <= set(commands)
    for target, code in README_EXIT_CODES.items():
        args = [a if not a.startswith("/tmp/") else str(tmp_path / Path(a).name)
                for a in commands[target]]
        assert main(args) == code, target
