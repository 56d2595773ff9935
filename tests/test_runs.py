"""The typed run model end to end: plugins through the CLI and a suite, schema upgrade, stale
and invalid files set aside, thread-independent numbers, the CLI conventions, suites as data,
and the report's output directory."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from entangled.runs import RunSpec, config_hash
from entangled.store import write_result
from entangled.sweep import load_results, remove_stray_temp_files, run_sweep, write_json_atomic
from run_fakes import fake_result

PLUGIN_DIR = Path(__file__).parent / "plugin_demo"
REPO = Path(__file__).resolve().parent.parent


def run_python(code: str, *, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=600)


def quick_run(spec):
    return fake_result(spec)


# ------------------------------------------------------------------------- plugins
def test_third_party_architecture_and_task_run_through_train_sweep_and_a_suite(tmp_path):
    configs = tmp_path / "configs.json"
    configs.write_text(json.dumps([{"arch": "mlp_demo", "task": "first_bit", "steps": 4,
                                    "batch_size": 8, "eval_every": 2, "seed": s,
                                    "task_options": {"n": 16}} for s in range(2)]))
    code = f"""
        import json, sys
        from entangled.cli import main
        from entangled.nn.models import architectures
        from entangled.tasks import task_names
        assert "mlp_demo" in architectures() and "first_bit" in task_names()
        rc = main(["train", "--arch", "mlp_demo", "--task", "first_bit", "--steps", "4",
                   "--task-option", "n=16", "--no-metrics", "--json", {str(tmp_path / 'one.json')!r}])
        assert rc == 0, rc
        rc = main(["sweep", {str(configs)!r}, "--out", {str(tmp_path / 'sweep')!r}, "--no-progress"])
        assert rc == 0, rc
        from entangled.reports.presets import load_suite
        from entangled.reports.analysis import outcomes
        from entangled.sweep import run_sweep, load_results
        suite = load_suite({str(PLUGIN_DIR / 'suite.toml')!r})
        summary = run_sweep(suite.configs(), {str(tmp_path / 'suite')!r}, progress=False)
        assert summary.complete and summary.ran == 4, summary
        rows = outcomes(load_results({str(tmp_path / 'suite')!r}))
        print(json.dumps([[o.arch.name, o.task.name, o.family, o.summary.n, o.skip_width] for o in rows]))
    """
    out = run_python(code, env={"PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(REPO)])})
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    assert rows == [["mlp_demo", "first_bit", "identity", 2, 8],
                    ["mlp_demo", "first_bit", "rotation", 2, 8]]
    one = json.loads((tmp_path / "one.json").read_text())
    assert one["spec"]["arch"]["name"] == "mlp_demo" and one["chance_accuracy"] == 0.5
    assert one["time_structure"] == "time-variant" and one["input_kind"] == "sequence"
    assert len(list((tmp_path / "sweep").glob("*.json"))) == 2


def test_unknown_architecture_lists_the_registered_ones():
    with pytest.raises(ValueError, match="arch='mlp'; allowed: one of cnn, vit, transformer, rnn"):
        RunSpec.from_flat({"arch": "mlp"}).resolve()


def test_registries_reject_bad_declarations():
    from entangled.nn.models import register_architecture
    from entangled.tasks import register_task

    with pytest.raises(ValueError, match="input_kinds"):
        register_architecture("bad_arch", config=dict, model=object, input_kinds=("video",),
                              input_ranks=(3,), input_doc="?")
    with pytest.raises(ValueError, match="time_structure='sometimes'"):
        register_task("bad_task", kind="sequence", time_structure="sometimes", chance=0.5,
                      load=lambda **o: None)


# ------------------------------------------------------------------ stored results
def _as_schema_1(data: dict) -> dict:
    """What the pre-typed code wrote: a flat config, no schema_version."""
    old = {k: v for k, v in data.items()
           if k not in ("schema_version", "spec", "input_kind", "skip_width", "threads",
                        "torch_version", "validation_accuracy", "selected_step",
                        "steps_to_threshold")}
    old["config"] = {"arch": "cnn", "task": "digits", "steps": 5}
    old["config_hash"] = "0123456789abcdef"
    return old


def _as_schema_2(data: dict) -> dict:
    """What the protocol before validation-based selection wrote."""
    old = {k: v for k, v in data.items()
           if k not in ("validation_accuracy", "selected_step", "steps_to_threshold")}
    old["schema_version"] = 2
    old["config_hash"] = "fedcba9876543210"
    return old


def test_results_of_an_earlier_protocol_are_moved_aside_not_used(tmp_path, caplog):
    from entangled.runs import ResultFileError, result_from_json

    spec = {"arch": "cnn", "task": "digits", "family": "sparse", "steps": 5}
    new = fake_result(spec, time_structure="static").to_dict()
    for old, version in ((_as_schema_1(new), 1), (_as_schema_2(new), 2)):
        with pytest.raises(ResultFileError, match=f"schema {version}: produced by an earlier "
                                                   "training protocol") as info:
            result_from_json(old)
        assert info.value.kind == "superseded"
    (tmp_path / "0123456789abcdef.json").write_text(json.dumps(_as_schema_1(new)))
    (tmp_path / "fedcba9876543210.json").write_text(json.dumps(_as_schema_2(new)))
    summary = run_sweep([spec], tmp_path, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and summary.skipped == 0 and summary.corrupt == []
    assert sorted(e["moved_to"] for e in summary.superseded) == [
        str(tmp_path / "superseded" / "0123456789abcdef.json"),
        str(tmp_path / "superseded" / "fedcba9876543210.json")]  # kept, never deleted
    assert "earlier training protocol" in caplog.text
    [result] = load_results(tmp_path, strict=True)
    assert result.config_hash == config_hash(spec)


def test_a_result_from_another_torch_version_is_stale_moved_aside_and_rerun(tmp_path, caplog):
    spec = {"arch": "rnn", "task": "parity", "steps": 5}
    run_sweep([spec], tmp_path, run_fn=quick_run, progress=False)
    path = tmp_path / f"{config_hash(spec)}.json"
    data = json.loads(path.read_text())
    data["torch_version"] = "1.0.0"
    write_result(tmp_path, path.stem, data)  # as a sweep under torch 1.0.0 wrote it
    summary = run_sweep([spec], tmp_path, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and summary.stale[0]["reason"].startswith("produced with torch 1.0.0")
    assert "stale result file" in caplog.text
    assert json.loads((tmp_path / "stale" / path.name).read_text())["torch_version"] == "1.0.0"


def test_tampered_values_are_rejected():
    from entangled.runs import ResultFileError, result_from_json

    good = fake_result({"arch": "rnn", "task": "parity"}).to_dict()
    for key, value, match in [("test_accuracy", 7.5, "test_accuracy=7.5"),
                              ("train_loss", -1.0, "train_loss"),
                              ("chance_accuracy", 2.0, "chance_accuracy"),
                              ("config_hash", "0" * 16, "does not match the spec"),
                              ("steps_done", 10**6, "steps_done"),
                              ("schema_version", 99, "schema_version=99")]:
        with pytest.raises(ResultFileError, match=match):
            result_from_json({**good, key: value})
    spec = json.loads(json.dumps(good["spec"]))
    spec["skip"]["params"] = {"theta": 1}  # not the resolved form of identity
    with pytest.raises(ResultFileError, match="spec"):
        result_from_json({**good, "spec": spec})


def test_temp_files_of_live_processes_are_left_alone(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    mine = tmp_path / f".abc.{os.getpid()}.x1.tmp"
    theirs_dead = tmp_path / f".abc.{dead}.x2.tmp"
    foreign = tmp_path / ".abc.tmp"
    for p in (mine, theirs_dead, foreign):
        p.write_text("{")
    assert remove_stray_temp_files(tmp_path) == [theirs_dead]
    assert mine.exists() and foreign.exists() and not theirs_dead.exists()


def test_result_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_json_atomic(tmp_path / "a.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------ threads
def scrubbed_thread_environment() -> dict[str, str]:
    """os.environ without *_NUM_THREADS (a Dask LocalCluster started earlier in this process sets
    MKL_NUM_THREADS and friends to 1 in os.environ, which would pin the child's torch to 1)."""
    return {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}


THREADS_SCRIPT = """
    import json, sys, torch
    from entangled.cli import main
    from entangled.sweep import run_sweep, load_results
    cfg = {"arch": "cnn", "task": "digits", "steps": 6, "batch_size": 32, "eval_every": 3,
           "metrics": False, "device": "cpu", "model": {"width": 8, "depth": 2}}
    args = ["train", "--arch", "cnn", "--task", "digits", "--steps", "6", "--batch-size", "32",
            "--eval-every", "3", "--no-metrics", "--device", "cpu", "--config", "width=8",
            "--config", "depth=2", "--json", sys.argv[1] + "/train.json"]
    assert main(args) == 0
    run_sweep([cfg], sys.argv[1] + "/sweep", progress=False)
    [swept] = load_results(sys.argv[1] + "/sweep")
    trained = json.load(open(sys.argv[1] + "/train.json"))
    from pathlib import Path
    from entangled.reports.build import run_suite
    from entangled.reports.presets import parse_suite
    suite = parse_suite({"name": "t", "seeds": [0], "runs": [{
        "arch": "cnn", "task": "digits", "steps": 6, "batch_size": 32, "eval_every": 3,
        "metrics": False, "device": "cpu", "model": {"width": 8, "depth": 2}, "skip_seed": 0,
        "variants": [{"family": "identity"}]}]})
    [reported], _, _ = run_suite(suite, Path(sys.argv[1]) / "report", 1, False)
    print(json.dumps({"threads_env": torch.get_num_threads(), "train": trained["curves"],
                      "sweep": swept.curves.to_dict(), "report": reported.curves.to_dict(),
                      "hash": [trained["config_hash"], swept.config_hash, reported.config_hash]}))
"""


def test_train_sweep_and_report_give_the_identical_number_whatever_omp_num_threads(tmp_path):
    outputs = []
    for threads in ("1", "2"):
        d = tmp_path / threads
        d.mkdir()
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(THREADS_SCRIPT), str(d)],
                              capture_output=True, text=True, timeout=600,
                              env={**scrubbed_thread_environment(), "OMP_NUM_THREADS": threads})
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    one, two = outputs
    assert one["threads_env"] == 1 and two["threads_env"] == 2  # the environments differ
    assert one["train"] == one["sweep"] == one["report"] == two["train"] == two["sweep"] \
        == two["report"]
    assert len(set(one["hash"] + two["hash"])) == 1


# ------------------------------------------------------------------ module state
def test_explicit_attention_is_scoped_to_one_model():
    from entangled.nn import build_model, explicit_attention
    from entangled.nn.transformer import SelfAttentionBranch

    a = build_model("transformer", input_shape=(5, 3), output_dim=2, seed=0)
    b = build_model("transformer", input_shape=(5, 3), output_dim=2, seed=1)
    x = torch.randn(4, 5, 3)
    fused = a(x)
    with explicit_attention(a):
        assert all(m.explicit for m in a.modules() if isinstance(m, SelfAttentionBranch))
        assert not any(m.explicit for m in b.modules() if isinstance(m, SelfAttentionBranch))
        explicit = a(x)
    assert torch.allclose(fused, explicit, atol=1e-6)
    assert not any(m.explicit for m in a.modules() if isinstance(m, SelfAttentionBranch))


def _code_names(path: Path) -> set[str]:
    """Imported modules, attribute chains and string constants of a module's code (the
    docstrings left out)."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            names.add(node.value)
    return names


def test_report_modules_have_no_global_backend_switch():
    names = _code_names(REPO / "reports" / "figures.py")
    assert "matplotlib.use" not in names and "matplotlib.pyplot" not in names


# ------------------------------------------------------------------ CLI
def test_cli_names_no_package_above_it_and_help_lists_every_command():
    names = _code_names(REPO / "entangled" / "cli.py")
    assert not [n for n in names if "theory" in n or "reports" in n]
    out = run_python("""
        from entangled.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
    """)
    assert out.returncode == 0, out.stderr
    for command in ("families", "train", "sweep", "verify", "probe", "report"):
        assert command in out.stdout


def test_version_and_python_m_entangled():
    out = subprocess.run([sys.executable, "-m", "entangled", "--version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "entangled 0.1.0"


def test_json_dash_goes_to_stdout_and_text_to_stderr(capsys):
    from entangled.cli import main

    assert main(["families", "--n", "4", "--json", "-"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert {r["family"] for r in rows} >= {"identity", "sparse"}
    assert main(["families", "--n", "4", "--json"]) == 0  # the former flag form still works
    assert json.loads(capsys.readouterr().out) == rows


def test_train_list_shows_the_registered_choices(capsys):
    """``train --list`` reads the registries (``train --help`` does not, to stay torch-free)."""
    from entangled.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--list"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rnn sequence tasks" in text and "counting sequence, time-invariant" in text


# ------------------------------------------------------------------ suites
def test_builtin_suites_are_data_files_shipped_with_the_package():
    from entangled.reports import presets

    assert presets.preset_names() == ["smoke", "quick", "full"]
    smoke = presets.get_preset("smoke")
    assert smoke.source.endswith("smoke.toml") and smoke.seeds == (0, 1)
    assert len(smoke.configs()) == 44  # 32 + the tuned CNN group's 2 extra rates x 3 x 2 seeds
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"suites/*.toml"' in pyproject


@pytest.mark.parametrize("text,match", [
    ('name = "x"\nseeds = [0]\ncolour = 1\n[[runs]]\narch="rnn"\ntask="parity"\nvariants=[{family="identity"}]',
     "invalid key='colour'; allowed: one of calibration, conjecture_examples, description, headroom, name, primary, runs, seed_batching, seeds, sequential"),
    ('name = "x"\nseeds = [0, 0]\n[[runs]]\narch="rnn"\ntask="parity"\nvariants=[{family="identity"}]',
     "seeds=\\[0, 0\\]; allowed: a non-empty list of distinct integers"),
    ('name = "x"\nseeds = [0]\n[[runs]]\narch="rnn"\ntask="parity"\nstepz=3\nvariants=[{family="identity"}]',
     "runs\\[0\\]: invalid key='stepz'; allowed: one of arch, batch_size"),
    ('name = "x"\nseeds = [0]\n[[runs]]\narch="rnn"\ntask="parity"\nvariants=[{family="magic"}]',
     "runs\\[0\\]: invalid run='rnn on parity'.*family='magic'"),
    ('name = "x"\nseeds = [0]\n[[runs]]\narch="rnn"\ntask="parity"\nsteps=0\nvariants=[{family="identity"}]',
     "steps=0"),
    ('name = "x"\nseeds = [0]\n[[runs]]\narch="rnn"\ntask="parity"\nvariants=[]',
     "variants=\\[\\]; allowed: a non-empty list of tables"),
    ('name = "x"\nseeds = [0\n', "valid TOML"),
])
def test_bad_suite_files_name_the_key_the_value_and_what_is_allowed(tmp_path, text, match):
    from entangled.reports.presets import SuiteError, load_suite

    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=match):
        load_suite(path)


def test_sweep_refuses_a_file_as_out_dir(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="this path is a file"):
        run_sweep([{"arch": "rnn", "task": "parity"}], a_file, run_fn=quick_run, progress=False)


def test_report_cli_accepts_a_suite_file_and_validates_before_touching_out(tmp_path, capsys):
    from entangled.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nseeds = [0]\n[[runs]]\narch="rnn"\ntask="digits"\nvariants=[{family="identity"}]')
    out = tmp_path / "out"
    assert main(["report", "--suite", str(bad), "--out", str(out)]) == 2
    assert "a task for arch 'rnn'" in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------ output directory
def test_output_directory_refusals(tmp_path):
    from entangled.reports.build import output_directory

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="this path is a file"):
        with output_directory(a_file):
            pass
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "index.html").write_text("<html>my own page</html>")
    with pytest.raises(ValueError, match="was not written by it"):
        with output_directory(foreign):
            pass
    assert (foreign / "index.html").read_text() == "<html>my own page</html>"
    shared = tmp_path / "shared"
    with output_directory(shared):
        proc = run_python(f"""
            from pathlib import Path
            from entangled.reports.build import output_directory
            try:
                with output_directory(Path({str(shared)!r})):
                    print("ENTERED")
            except ValueError as exc:
                print(exc)
        """)
        assert f"pid {os.getpid()}" in proc.stdout and "ENTERED" not in proc.stdout, proc.stderr
    with output_directory(shared):  # released
        pass


# ------------------------------------------------------------------ terminal summary
def _outcome(tmp_path, mismatches):
    from entangled.sweep import SweepSummary
    from entangled.reports.build import ReportOutcome
    from entangled.reports.findings import Finding, Judgement

    judged = [Judgement(Finding("F1", "sparse helps", "any", ()), "supported", "rule")]
    sweep = SweepSummary(out_dir=str(tmp_path), total=3, skipped=1, ran=2,
                         corrupt=[{"path": "a.json", "reason": "invalid test_accuracy=7.5",
                                   "moved_to": "invalid/a.json"}])
    runs = {"expected": 3, "loaded": 3, "reused": 1, "ran": 2, "rerun": 1, "invalid": 1,
            "stale": 0, "superseded": 0, "failed": 0}
    return ReportOutcome(tmp_path / "index.html", judged, mismatches, runs, sweep, 1.0)


def test_report_prints_a_terminal_summary_and_exits_1_on_a_mismatch(tmp_path, monkeypatch, capsys):
    import entangled.reports.build
    from entangled.cli import main

    mismatch = [{"conjecture": "my.claim", "family": "sparse", "verdict": "falsified",
                 "expected": "holds"}]
    text = _outcome(tmp_path, mismatch).terminal_summary()
    assert "F1 supported" in " ".join(text.split())
    assert "findings (fixed learning rate):" in text
    tuned = dataclasses.replace(_outcome(tmp_path, []), protocol="learning rates tuned on validation")
    assert "findings (learning rates tuned on validation):" in tuned.terminal_summary()
    assert "1 rerun: 1 invalid" in text and "invalid test_accuracy=7.5" in text
    assert "my.claim [sparse]: falsified, expected holds" in text
    for found, allow, code in [(mismatch, [], 1), (mismatch, ["--allow-mismatch"], 0), ([], [], 0)]:
        monkeypatch.setattr(entangled.reports.build, "make_report",
                            lambda *a, found=found, **k: _outcome(tmp_path, found))
        assert main(["report", "--preset", "smoke", "--out", str(tmp_path), *allow]) == code
        err = capsys.readouterr().err
        assert "F1 supported" in " ".join(err.split())


def test_each_report_invocation_is_recorded_separately(tmp_path):
    from entangled.reports.build import record_invocation

    record_invocation(tmp_path, {"wall_time_s": 100.0, "trained": 30})
    history = record_invocation(tmp_path, {"wall_time_s": 2.0, "trained": 0})
    assert [h["wall_time_s"] for h in history] == [100.0, 2.0]
    assert json.loads((tmp_path / "history.json").read_text()) == history



def test_the_last_invocation_gets_its_full_time_once_the_page_is_drawn(tmp_path):
    from entangled.reports.build import complete_invocation, record_invocation

    record_invocation(tmp_path, {"wall_time_s": 100.0, "trained": 30})
    record_invocation(tmp_path, {"wall_time_s": 2.0, "trained": 0})
    complete_invocation(tmp_path, {"total": 5.5, "render": 3.5})
    history = json.loads((tmp_path / "history.json").read_text())
    assert history == [{"wall_time_s": 100.0, "trained": 30},
                       {"wall_time_s": 5.5, "trained": 0, "render_s": 3.5}]
    complete_invocation(tmp_path / "nothing-here", {"total": 1.0, "render": 1.0})  # no file: no-op
    assert not (tmp_path / "nothing-here").exists()

# ------------------------------------------------------------------ interruption
INTERRUPT_SCRIPT = """
    import sys
    from entangled.sweep import run_sweep
    from run_fakes import sleepy_run
    configs = [{"arch": "rnn", "task": "parity", "seed": s} for s in range(8)]
    run_sweep(configs, sys.argv[1], jobs=2, run_fn=sleepy_run, progress=False)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupting_a_parallel_sweep_stops_it_and_leaves_no_worker(tmp_path, how):
    import signal
    import time

    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "ENTANGLED_TEST_MARKS": str(marks),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(REPO)])}
    # the child starts with the default SIGINT disposition whatever this process inherited
    # (an ignored SIGINT is inherited across exec and Python then never raises
    # KeyboardInterrupt), as a sweep started from a terminal does
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(INTERRUPT_SCRIPT),
                             str(tmp_path / "out")], env=env, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 300
        while time.time() < deadline and len(list(marks.glob("pid-*"))) < 2:
            time.sleep(0.1)
        workers = [int(p.name[4:]) for p in marks.glob("pid-*")]
        assert len(workers) == 2, "the workers did not start"
        start = time.time()
        proc.send_signal(getattr(signal, how))
        proc.wait(timeout=10)
        stopped = time.time() - start
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)], "workers survived the sweep"
        assert stopped < 10
        assert len(list(marks.glob("pid-*"))) == 2  # nothing pending started afterwards
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()


def test_report_with_a_missing_conjecture_file_stops_before_anything_runs(tmp_path, capsys):
    from entangled.cli import main

    out = tmp_path / "report"
    code = main(["report", "--preset", "smoke", "--out", str(out), "--no-progress",
                 "--conjectures", str(tmp_path / "missing_claims.py")])
    assert code == 2
    assert "missing_claims.py" in capsys.readouterr().err
    assert not out.exists()  # nothing trained, nothing written
