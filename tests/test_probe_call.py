"""``entangled probe`` on modules written the way packages write them (issue 25).

The fixture package ``tests/probe_packages/minihc`` uses the idioms flags alone could not reach
before — ``forward(x, history)``, a tuple return, a constructor taking the package's own config
object, a module-level Sinkhorn — plus blocks whose correct behaviour is not stream mixing
(scalar-gated, ReLU after the sum) and two bugs (a skip lost after the first call, a
transposed mixing). Each is probed from Python and from the command line, and compared with a
known answer: the matrix the block applies, computed by hand.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path

import pytest
import torch

from entangled.cli import main
from entangled.theory.probe import ProbeError, check_probed, probe
from entangled.theory.probe.invoke import append_to_window, parse_selector
from entangled.theory.probe.mapping import ProbedMapping

PACKAGES = str(Path(__file__).parent / "probe_packages")
sys.path.insert(0, PACKAGES)
import minihc  # noqa: E402
from minihc.sinkhorn import sinkhorn_knopp  # noqa: E402

HISTORY_CALL = "torch.zeros_like(x[:, -1]), list(x.unbind(1))"
STREAM_FLAGS = ["--input-shape", "2,4,8", "--streams", "4"]


def run_cli(args, tmp_path, capsys):
    """``entangled probe --in-process ARGS --json FILE`` -> (exit status, JSON data, text)."""
    out = tmp_path / "probe.json"
    code = main(["probe", "--in-process", *args, "--json", str(out)])
    text = capsys.readouterr()
    data = json.loads(out.read_text()) if out.exists() else None
    return code, data, text.out + text.err


def verdicts(data) -> dict[str, str]:
    return {e["short_name"].split(".")[-1]: e["verdict"] for e in data["ledger"]["entries"]}


def not_applicable(data) -> dict[str, str]:
    return {item["conjecture"].rsplit(".", 1)[-1]: item["reason"]
            for item in data["not_applicable"]}


def matrix(data) -> torch.Tensor:
    return torch.tensor(data["probe"]["params"]["matrix"], dtype=torch.float64)


def history_companion(alphas: torch.Tensor) -> torch.Tensor:
    """The window map of ``x_{l+1} = sum_k alpha_k h_k``: the shift, ``alphas`` as last row."""
    k = len(alphas)
    h = torch.zeros(k, k, dtype=torch.float64)
    h[torch.arange(k - 1), torch.arange(1, k)] = 1.0
    h[-1] = alphas
    return h


# --------------------------------------------------------------- call anything: Python
def test_history_window_forward_from_python():
    block = minihc.HistoryMix(max_history=4)
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    m = probe(block, x, streams=4, call=HISTORY_CALL, kind="history-window", no_branch=True)
    logits = torch.tensor([-10.0, -10.0, -10.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(m.matrix(), history_companion(logits.softmax(0)),
                               atol=1e-12, rtol=0)
    assert m.params["kind"] == "history-window" and "shifted window" in m.params["invocation"]
    ledger, skipped = check_probed(m)
    found = {e.short_name.split(".")[-1]: e.verdict for e in ledger.entries}
    assert found["window_forward_gain_at_most_one"] == "holds"
    assert "falsified" not in found.values()
    assert "doubly_stochastic" in {c.function_name for c, _ in skipped}


def test_tuple_output_selected_by_index_or_callable():
    torch.manual_seed(0)
    block = minihc.TupleBlock(minihc.HCConfig())
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    expected = sinkhorn_knopp(block.inner.logits.detach().double(), 20, 1.0)
    for output in ("0", "[0]", lambda value: value[0]):
        m = probe(block, x, streams=4, silence="inner.branch", output=output)
        torch.testing.assert_close(m.matrix(), expected, atol=1e-12, rtol=0)
    with pytest.raises(ProbeError, match="--output"):
        probe(block, x, streams=4, silence="inner.branch")


def test_module_level_exposed_function_is_recorded_during_forward():
    from entangled.theory.probe.blocks import ModuleFunction

    torch.manual_seed(1)
    block = minihc.TransposedSinkhornMixer(minihc.HCConfig())
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    m = probe(block, x, streams=4, silence="branch",
              exposed=ModuleFunction(sinkhorn_knopp, "minihc.sinkhorn:sinkhorn_knopp"))
    h = sinkhorn_knopp(block.logits.detach().double(), 20, 1.0)
    torch.testing.assert_close(m.exposed_matrix(), h, atol=1e-12, rtol=0)
    torch.testing.assert_close(m.matrix(), h.T, atol=1e-12, rtol=0)      # the bug: H^T applied
    # the binding is restored after recording
    assert minihc.layers.sinkhorn_knopp is sinkhorn_knopp


def test_selector_parsing_and_errors():
    value = ({"h": torch.ones(1)}, (torch.zeros(1), torch.full((1,), 2.0)))
    assert float(parse_selector("0")(value)["h"]) == 1.0
    assert float(parse_selector("[0]['h']")(value)) == 1.0
    assert float(parse_selector("1[-1]")(value)) == 2.0
    assert parse_selector("[1]").steps == (("index", 1),)

    class Output:
        hidden = torch.zeros(1)

    assert parse_selector(".hidden")(Output()) is Output.hidden
    assert parse_selector("hidden")(Output()) is Output.hidden
    for bad in ("", "[", "0..x", "[0"):
        with pytest.raises(ProbeError, match="invalid --output"):
            parse_selector(bad)
    with pytest.raises(ProbeError, match="index 5 out of range; the block returned 2 values"):
        parse_selector("5")(value)
    with pytest.raises(ProbeError, match="no key 'x'; the block returned keys 'h'"):
        parse_selector("[0]['x']")(value)


def test_append_to_window_known_answer_and_shape_error():
    window = torch.arange(12.0).reshape(1, 3, 4)
    new = torch.full((1, 4), -1.0)
    out = append_to_window(window, new)
    torch.testing.assert_close(out[0, :2], window[0, 1:])
    torch.testing.assert_close(out[0, 2], new[0])
    with pytest.raises(ProbeError, match="new state of shape \\(1, 4\\)"):
        append_to_window(window, torch.zeros(1, 5))


# ------------------------------------------------------------ call anything: the CLI
def test_cli_history_window(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    code, data, text = run_cli(["minihc.layers:HistoryMix", "--init-args", "max_history=4",
                                *STREAM_FLAGS, "--kind", "history-window", "--call",
                                HISTORY_CALL, "--no-branch", "--perturb", "mixing_logits:4"],
                               tmp_path, capsys)
    assert code == 0, text
    logits = torch.tensor([-10.0, -10.0, -10.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(matrix(data), history_companion(logits.softmax(0)),
                               atol=1e-6, rtol=0)      # the module is float32, probed in float64
    assert verdicts(data)["mixing_is_live"] == "holds"
    assert "history-window" in not_applicable(data)["doubly_stochastic"]


def test_cli_tuple_return_config_object_and_module_level_exposed(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    common = ["--init-args", "HCConfig(dim=8, num_streams=4)", *STREAM_FLAGS]
    exposed = ["--exposed", "minihc.sinkhorn:sinkhorn_knopp"]
    code, data, text = run_cli(["minihc.layers:TupleBlock", *common, "--silence",
                                "inner.branch", "--output", "0"], tmp_path, capsys)
    assert code == 0, text
    torch.manual_seed(0)             # --seed 0: the CLI seeds torch before the constructor
    expected = sinkhorn_knopp(minihc.TupleBlock(minihc.HCConfig()).inner.logits.detach()
                              .double(), 20, 1.0)
    torch.testing.assert_close(matrix(data), expected, atol=1e-6, rtol=0)

    code, data, text = run_cli(["minihc.layers:SinkhornMixer", *common, "--silence", "branch",
                                *exposed], tmp_path, capsys)
    assert code == 0 and verdicts(data)["equals_exposed"] == "holds", text
    code, data, text = run_cli(["minihc.layers:TransposedSinkhornMixer", *common, "--silence",
                                "branch", *exposed], tmp_path, capsys)
    assert code == 1 and verdicts(data)["equals_exposed"] == "falsified", text
    assert verdicts(data)["doubly_stochastic"] == "holds"   # only the exposed matrix shows it
    # a module-level function called with its arguments (block and x in scope)
    code, data, text = run_cli(["minihc.layers:TransposedSinkhornMixer", *common, "--silence",
                                "branch", "--exposed",
                                "minihc.sinkhorn:sinkhorn_knopp(block.logits, iters=20)"],
                               tmp_path, capsys)
    assert code == 1 and verdicts(data)["equals_exposed"] == "falsified", text
    exposed_matrix = torch.tensor(data["probe"]["params"]["exposed"], dtype=torch.float64)
    torch.testing.assert_close(exposed_matrix, matrix(data).T, atol=1e-6, rtol=0)


@pytest.mark.parametrize("args, message", [
    (["--call", "x,,"], "invalid --call='x,,'"),
    (["--call", "x, history=undefined_name"], "name 'undefined_name' is not defined"),
    (["--init-args", "NoSuchConfig()"], "name 'NoSuchConfig' is not defined"),
    (["--output", "[0"], "invalid --output='[0'"),
    (["--exposed", "minihc.sinkhorn:nothing_here"], "has no callable 'nothing_here'"),
    (["--claims", "no_such_claim"], "invalid claims='no_such_claim'"),
    (["--kind", "history-window"], "must return the new state of shape (2, 8)"),
])
def test_cli_bad_call_options_exit_2_naming_the_option(args, message, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    base = ["minihc.layers:SinkhornMixer", "--init-args", "HCConfig()", *STREAM_FLAGS,
            "--silence", "branch"]
    if args[0] == "--init-args":
        base = base[:1] + base[3:]
    if args[0] == "--kind":       # x[:, -1:] broadcasts the new state to the wrong shape
        base = ["minihc.layers:HistoryMix", *STREAM_FLAGS, "--no-branch", "--call",
                "x[:, -1:], list(x.unbind(1))"]
    code, data, text = run_cli([*base, *args], tmp_path, capsys)
    assert code == 2 and data is None
    assert message in text, text


def test_cli_isolated_child_sees_the_package(tmp_path, capsys, monkeypatch):
    """Without --in-process: the child process imports the package from PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", PACKAGES)
    out = tmp_path / "p.json"
    code = main(["probe", "minihc.layers:TupleBlock", "--init-args", "HCConfig()",
                 *STREAM_FLAGS, "--silence", "inner.branch", "--output", "0", "--json",
                 str(out)])
    assert code == 0, capsys.readouterr()
    assert json.loads(out.read_text())["probe"]["params"]["invocation"] == "output 0"


# --------------------------------------------------------------- claims that apply
def test_scalar_gated_block_holds_with_stream_claims_not_applicable(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    code, data, text = run_cli(["minihc.layers:ScalarGatedBlock", "--input-shape", "2,3,8",
                                "--silence", "branch", "--kind", "scalar-gated", "--perturb",
                                "skip_scale"], tmp_path, capsys)
    assert code == 0, text
    torch.testing.assert_close(matrix(data), 0.5 * torch.eye(8, dtype=torch.float64))
    assert verdicts(data)["skip_is_scalar_multiple_of_identity"] == "holds"
    reasons = not_applicable(data)
    for claim in ("doubly_stochastic", "skip_gain_at_most_one", "composite_gain_bounded",
                  "spectral_norm_at_most_one"):
        assert "declared scalar-gated" in reasons[claim]
    # the same correct block declared as stream mixing: its alpha = 0.5 is "not stochastic"
    code, data, text = run_cli(["minihc.layers:ScalarGatedBlock", "--input-shape", "2,3,8",
                                "--silence", "branch"], tmp_path, capsys)
    assert code == 1 and verdicts(data)["doubly_stochastic"] == "falsified"


def test_scalar_multiple_claim_falsified_by_a_per_feature_gate():
    gate = torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64)
    m = probe(lambda x: gate * x, torch.randn(2, 3, dtype=torch.float64), no_branch=True,
              kind="scalar-gated")
    ledger, _ = check_probed(m)
    entry = next(e for e in ledger.entries if e.short_name.endswith("scalar_multiple_of_identity"))
    alpha = gate.mean()
    assert entry.verdict == "falsified"
    assert entry.worst == pytest.approx(float((gate - alpha).abs().max() / alpha))


def test_post_activation_block_measured_as_such_or_before_the_relu(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    base = ["minihc.layers:PostActivationBlock", "--input-shape", "2,3,8", "--silence", "branch",
            "--kind", "post-activation"]
    code, data, text = run_cli(base, tmp_path, capsys)
    assert code == 0, text
    x = torch.randn((2, 3, 8), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(matrix(data), torch.diag((x[0, 0] > 0).double()))  # relu'(x) I
    assert "--pre-activation" in not_applicable(data)["doubly_stochastic"]
    assert verdicts(data)["positions_independent"] == "holds"
    code, data, text = run_cli([*base, "--pre-activation", "act"], tmp_path, capsys)
    assert code == 0, text
    torch.testing.assert_close(matrix(data), torch.eye(8, dtype=torch.float64))
    assert verdicts(data)["doubly_stochastic"] == "holds"
    assert data["probe"]["params"]["measured_at"] == "act"


def test_claims_selection(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    base = ["minihc.layers:ScalarGatedBlock", "--input-shape", "2,3,8", "--silence", "branch"]
    code, data, _ = run_cli([*base, "--claims=-doubly_stochastic,-spectral_norm_at_most_one,"
                             "-skip_gain_at_most_one"], tmp_path, capsys)
    assert code == 0
    assert "removed with --claims" in not_applicable(data)["doubly_stochastic"]
    code, data, _ = run_cli([*base, "--claims", "kronecker_form,positions_independent"],
                            tmp_path, capsys)
    assert code == 0 and set(verdicts(data)) == {"kronecker_form", "positions_independent"}
    code, data, _ = run_cli([*base, "--claims", "+skip_is_identity", "--kind", "scalar-gated"],
                            tmp_path, capsys)
    assert code == 1 and verdicts(data)["skip_is_identity"] == "falsified"    # alpha = 0.5


# ------------------------------------------------------------------ state across calls
def test_block_that_loses_its_skip_after_the_first_call_is_falsified(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    code, data, text = run_cli(["minihc.layers:CachedSkipBlock", "--init-args", "HCConfig()",
                                *STREAM_FLAGS, "--silence", "branch"], tmp_path, capsys)
    assert code == 1
    found = verdicts(data)
    assert {k for k, v in found.items() if v == "falsified"} == {"skip_map_stable_across_calls"}
    assert found["block_is_a_function"] == "holds"     # same input twice: same output
    params = data["probe"]["params"]
    assert params["call_drift"] == pytest.approx(1.0) and params["calls"] == 3
    assert torch.tensor(params["call_maps"]).abs().max() == 0    # calls 2 and 3: no skip
    assert "call 2:" in text
    code, data, _ = run_cli(["minihc.layers:CachedSkipBlock", "--init-args", "HCConfig()",
                             *STREAM_FLAGS, "--silence", "branch", "--calls", "1"],
                            tmp_path, capsys)
    assert code == 0 and "skip_map_stable_across_calls" in not_applicable(data)


def test_new_params_round_trip():
    m = ProbedMapping(2, matrix=[[1.0, 0.0], [0.0, 1.0]], kind="scalar-gated",
                      invocation="output 0", measured_at="act", calls=3, call_drift=0.5,
                      call_maps=[[[0.0, 0.0], [0.0, 0.0]]] * 2,
                      mixing_gradients={"w": 0.0, "v": math.nan})
    back = ProbedMapping.from_dict(json.loads(json.dumps(m.to_dict(), allow_nan=False)))
    assert back.params == m.params and back.params["mixing_gradients"]["v"] == "NaN"
    with pytest.raises(ValueError, match="invalid kind='gated'"):
        ProbedMapping(1, matrix=[[1.0]], kind="gated")


# ----------------------------------------------------------------------- precision
def test_published_sinkhorn_defaults_lose_their_gradient_in_float32_only(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    base = ["minihc.layers:PublishedSinkhornMixer", *STREAM_FLAGS, "--silence", "branch",
            "--perturb", "logits:8"]
    results = {}
    for dtype in ("float32", "float64"):
        code, data, text = run_cli([*base, "--dtype", dtype], tmp_path, capsys)
        results[dtype] = (code, verdicts(data), data["probe"]["params"])
    code, found, params = results["float32"]
    assert code == 1 and params["dtype"] == "float32"
    assert {k for k, v in found.items() if v == "falsified"} == {
        "gradient_reaches_mixing_parameters"}
    assert params["mixing_gradients"] == {"logits": 0.0}
    torch.testing.assert_close(matrix_of(params), torch.eye(4, dtype=torch.float64),
                               atol=0, rtol=0)          # an exact permutation
    code, found, params = results["float64"]
    assert code == 0 and found["gradient_reaches_mixing_parameters"] == "holds"
    # the gradient is of the order of exp(-160) / 0.05: tiny, but not zero
    assert 0 < params["mixing_gradients"]["logits"] < 1e-60


def matrix_of(params) -> torch.Tensor:
    return torch.tensor(params["matrix"], dtype=torch.float64)


def test_bfloat16_probe_widens_numerical_tolerances_and_differences_in_float32():
    torch.manual_seed(2)
    block = minihc.SinkhornMixer(minihc.HCConfig())
    x = torch.randn(2, 4, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = probe(block, x, streams=4, silence="branch", dtype="bfloat16")
    assert m.params["dtype"] == "bfloat16"
    assert any("finite differences of the forward map taken in float32" in note
               for note in m.params["notes"])
    exact = sinkhorn_knopp(block.logits.detach().double(), 20, 1.0)
    error = float((m.matrix() - exact).abs().max())
    assert 0 < error < 2 ** -7                    # bfloat16 rounding: visible, and bounded
    ledger, _ = check_probed(m)
    by_name = {e.short_name.split(".")[-1]: e for e in ledger.entries}
    assert by_name["doubly_stochastic"].tol == pytest.approx(8 * 2 ** -7)
    assert by_name["doubly_stochastic"].verdict == "holds"
    with pytest.raises(ValueError, match="invalid dtype="):
        probe(block, x, streams=4, silence="branch", dtype="int8")
