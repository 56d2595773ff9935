"""Files the tool writes and reads back (issue 26): nothing written through a symlink it did
not create, no fixed temporary names, names that become paths stay one component, special or
pathological files in a store are moved aside without stopping the sweep, checkpoints whose
config does not match their weights are refused, and failures end in messages, not
tracebacks. Every symlink, FIFO and directory here is a real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from entangled.atomic_io import (OutputError, UnsafeFileError, check_path_name, loads_json,
                                 make_private_dir, open_lock_file, read_limited, write_atomic,
                                 write_json_atomic, write_text_atomic)
from entangled.callbacks import load_checkpoint, save_checkpoint
from entangled.cli import main
from entangled.errors import InvalidParameterError, MappingMismatchError
from entangled.sweep import load_results, result_path, run_sweep
from entangled.train import RunConfig, fit
from run_fakes import fake_result

VICTIM_TEXT = "precious data\n"


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


def configs(n: int) -> list[dict]:
    return [{"arch": "rnn", "task": "parity", "seed": s, "steps": 5} for s in range(n)]


def quick_run(spec):
    return fake_result(spec)


# ----------------------------------------------------------------------- writing
def test_an_atomic_write_replaces_a_planted_symlink_and_leaves_its_target_alone(tmp_path, victim):
    link = tmp_path / "summary.json"
    link.symlink_to(victim)
    write_json_atomic(link, {"a": 1})
    assert victim.read_text() == VICTIM_TEXT
    assert not link.is_symlink() and json.loads(link.read_text()) == {"a": 1}


def test_temporary_names_are_unique_so_a_planted_one_is_never_used(tmp_path, victim):
    """The old checkpoint writer used the fixed name ``<file>.tmp``: a symlink planted there
    redirected the save. Now every temporary name is new and created exclusively."""
    for name in ("model.pt.tmp", f".model.{os.getpid()}.tmp", f".model.{os.getpid()}.x.tmp"):
        (tmp_path / name).symlink_to(victim)
    write_atomic(tmp_path / "model.pt", b"weights")
    assert victim.read_text() == VICTIM_TEXT
    assert (tmp_path / "model.pt").read_bytes() == b"weights"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink())
    assert leftovers == ["model.pt", "victim.txt"]


def test_a_checkpoint_save_never_writes_through_a_planted_temporary_symlink(tmp_path, victim):
    result = fit(RunConfig(arch="rnn", task="parity", steps=2, eval_every=1, batch_size=16,
                           metrics=False))
    model = torch.nn.Linear(1, 1)
    (tmp_path / "sym.pt.tmp").symlink_to(victim)
    save_checkpoint(tmp_path / "sym.pt", model, result)
    assert victim.read_text() == VICTIM_TEXT
    assert torch.load(tmp_path / "sym.pt", weights_only=True)["config_hash"] == result.config_hash


def test_a_failed_write_names_the_path_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "index.html").mkdir()  # a directory where the page goes
    with pytest.raises(OutputError, match="cannot write .*index.html"):
        write_text_atomic(tmp_path / "index.html", "<html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_a_full_disk_during_a_write_leaves_no_temporary_file(tmp_path):
    """A real write failure from the kernel: a file-size limit (RLIMIT_FSIZE) makes the write
    fail with EFBIG, as a full disk fails with ENOSPC, in a child process."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from entangled.atomic_io import write_text_atomic, OutputError
        try:
            write_text_atomic({str(tmp_path / 'index.html')!r}, "x" * 100_000)
        except OutputError as exc:
            print("refused:", exc)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 3, done.stderr
    assert "cannot write" in done.stdout and "index.html" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_command_turns_a_write_failure_into_a_message(tmp_path, capsys, monkeypatch):
    from entangled.reports import build

    def full_disk(*args, **kwargs):
        write_text_atomic(tmp_path / "index.html", "x")

    (tmp_path / "index.html").mkdir()
    monkeypatch.setattr(build, "make_report", full_disk)
    code = main(["report", "--preset", "smoke", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1
    assert "entangled report: error: " in err and "index.html" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------- report directory
def test_a_report_lock_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path, victim,
                                                                             capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".report.lock").symlink_to(victim)
    code = main(["report", "--preset", "smoke", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert ".report.lock" in err and "symbolic link" in err
    assert victim.read_text() == VICTIM_TEXT
    assert not (out / "runs").exists()  # refused before anything trained


@pytest.mark.parametrize("name", ["index.html", "summary.json", "history.json"])
def test_a_report_output_that_is_a_directory_or_symlink_is_refused_before_training(
        tmp_path, victim, capsys, name):
    for kind in ("directory", "symlink"):
        out = tmp_path / kind
        out.mkdir()
        if kind == "directory":
            (out / name).mkdir()
        else:
            (out / name).symlink_to(victim)
        code = main(["report", "--preset", "smoke", "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert name in err and ("a directory" in err or "a symbolic link" in err)
        assert not (out / "runs").exists()
    assert victim.read_text() == VICTIM_TEXT


def test_a_symlinked_runs_folder_is_refused(tmp_path, capsys):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "runs").symlink_to(elsewhere)
    code = main(["report", "--preset", "smoke", "--out", str(out), "--no-progress"])
    assert code == 2
    assert "runs/" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_lock_files_and_private_folders_refuse_symlinks_and_special_files(tmp_path, victim):
    (tmp_path / "lock").symlink_to(victim)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        open_lock_file(tmp_path / "lock")
    os.mkfifo(tmp_path / "fifo-lock")
    with pytest.raises(UnsafeFileError, match="FIFO"):
        open_lock_file(tmp_path / "fifo-lock")
    (tmp_path / "claims").symlink_to(tmp_path)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        make_private_dir(tmp_path / "claims")
    assert make_private_dir(tmp_path / "new").is_dir()
    assert victim.read_text() == VICTIM_TEXT


# ----------------------------------------------------------------------- names as paths
@pytest.mark.parametrize("name", ["../../../../x", "/tmp/abs", "a/b", "..", ".", ".hidden", "",
                                  "a\\b", "x" * 129, "ok\n", 7, None])
def test_names_that_would_leave_their_folder_are_refused(name):
    with pytest.raises(InvalidParameterError, match="not an absolute path"):
        check_path_name(name, "suite name")


@pytest.mark.parametrize("name", ["quick", "my-suite_2.v1", "A" * 128])
def test_ordinary_names_pass(name):
    assert check_path_name(name) == name


@pytest.mark.parametrize("name", ["../../../../escaped", "/tmp/escaped-absolute", "sub/dir"])
def test_a_suite_whose_name_is_a_path_is_refused_and_nothing_is_written(tmp_path, monkeypatch,
                                                                        capsys, name):
    work = tmp_path / "a" / "b" / "c" / "d" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    suite = work / "s.toml"
    suite.write_text(f'name = "{name}"\nseeds = [0]\n[[runs]]\narch = "rnn"\ntask = "parity"\n'
                     'variants = [{family = "identity"}]\nsteps = 2\n')
    code = main(["report", "--suite", str(suite), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "name=" in err and "no '/'" in err
    assert sorted(p.name for p in work.iterdir()) == ["s.toml"]
    assert not (tmp_path / "a" / "escaped").exists() and not Path("/tmp/escaped-absolute").exists()


def test_the_mnist1d_references_cache_is_neither_read_nor_written_through_a_symlink(
        tmp_path, victim, monkeypatch):
    """The cache ``entangled calibrate --mnist1d-references`` fills (outside any output
    folder): a symlink planted at its name is not read as the cache and is replaced, not
    written through, when the references are stored."""
    from entangled.reports import calibration

    cache = tmp_path / "mnist1d-references.json"
    victim.write_text(json.dumps({"key": calibration._key(calibration.STEPS, (0,)),
                                  "accuracies": {"planted": True}}))
    cache.symlink_to(victim)
    assert calibration.cached_references(cache, seeds=(0,)) is None  # the link is not followed
    monkeypatch.setattr(calibration, "_reference_task", lambda task: 0.5)
    accuracies = calibration.reference_accuracies(seeds=(0,), cache=cache)
    assert accuracies["mnist1d"]["cnn"] == [0.5] and "planted" in victim.read_text()
    assert not cache.is_symlink()
    assert calibration.cached_references(cache, seeds=(0,))["accuracies"] == accuracies


def test_the_user_cache_neither_follows_a_symlink_nor_waits_on_a_fifo(tmp_path, victim,
                                                                      monkeypatch):
    """``entangled.cache`` (the ledger, generated data sets): a symlink planted at an entry
    is not read as the entry (even when its target looks like one) and is replaced, not
    written through; a FIFO at an entry reads as missing at once; a symlink at the entry's
    lock file is not opened (nothing is created where it points)."""
    import hashlib
    import threading

    from entangled import cache

    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    slot = cache.entry("data", "planted.bin")
    slot.path.parent.mkdir(parents=True)
    planted = b"planted"
    victim.write_bytes(cache.MAGIC + hashlib.sha256(planted).hexdigest().encode() + b"\n"
                       + planted)
    slot.path.symlink_to(victim)
    assert slot.read() is None
    assert slot.write(b"mine") and not slot.path.is_symlink() and slot.read() == b"mine"
    assert victim.read_bytes().endswith(planted)

    fifo = cache.entry("data", "fifo.bin")
    os.mkfifo(fifo.path)
    found: list = []
    reader = threading.Thread(target=lambda: found.append(fifo.read()), daemon=True)
    reader.start()
    reader.join(10)
    assert found == [None]

    elsewhere = tmp_path / "elsewhere" / "created.lock"
    elsewhere.parent.mkdir()
    locked = cache.entry("data", "locked.bin")
    locked.path.with_name("locked.bin.lock").symlink_to(elsewhere)
    with locked.locked():
        assert locked.write(b"x")
    assert not elsewhere.exists() and locked.read() == b"x"


# ----------------------------------------------------------------------- reading a store
def test_reading_refuses_symlinks_fifos_devices_directories_and_oversized_files(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "big").write_bytes(b"x" * 2000)
    for name, what in [("zero", "symbolic link"), ("fifo", "FIFO"), ("dir", "directory"),
                       ("big", "more than")]:
        with pytest.raises(UnsafeFileError, match=what):
            read_limited(tmp_path / name, limit=1000)
    with pytest.raises(UnsafeFileError, match="character device"):
        read_limited("/dev/zero")


def test_pathologically_nested_json_is_a_value_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_json("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="non-standard constant"):
        loads_json('{"a": NaN}')


def test_special_and_pathological_result_files_are_moved_aside_and_the_sweep_goes_on(tmp_path):
    """A FIFO named like a result (it hung the sweep), a symlink to /dev/zero (MemoryError), a
    200,000-deep JSON (RecursionError), a directory and an oversized file: each is moved to
    ``invalid/`` with its reason and its run trained; nothing follows the symlink."""
    out = tmp_path / "runs"
    out.mkdir()
    runs = configs(5)
    hashes = [RunConfig(**c).hash() for c in runs]
    os.mkfifo(result_path(out, hashes[0]))
    result_path(out, hashes[1]).symlink_to("/dev/zero")
    result_path(out, hashes[2]).write_text("[" * 200_000 + "]" * 200_000)
    result_path(out, hashes[3]).mkdir()
    with open(result_path(out, hashes[4]), "wb") as fh:
        fh.truncate(64 * 2**20)  # sparse: 64 MiB of zeros, beyond the read limit
    summary = run_sweep(runs, out, run_fn=quick_run, progress=False)
    assert summary.complete and summary.ran == 5
    reasons = {Path(c["path"]).stem: c["reason"] for c in summary.corrupt}
    assert set(reasons) == set(hashes)
    assert "FIFO" in reasons[hashes[0]] and "symbolic link" in reasons[hashes[1]]
    assert "nested too deeply" in reasons[hashes[2]] and "directory" in reasons[hashes[3]]
    assert "more than" in reasons[hashes[4]]
    assert (out / "invalid" / f"{hashes[1]}.json").is_symlink()  # moved, not followed
    assert len(load_results(out, strict=True)) == 5


def test_loading_a_store_skips_special_files_with_a_warning(tmp_path, caplog):
    out = tmp_path / "runs"
    run_sweep(configs(2), out, run_fn=quick_run, progress=False)
    os.mkfifo(out / ("f" * 16 + ".json"))
    assert len(load_results(out)) == 2
    assert "FIFO" in caplog.text


# ----------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    config = RunConfig(arch="rnn", task="parity", steps=2, eval_every=1, batch_size=16,
                       metrics=False, family="identity")
    from entangled.callbacks import SaveModel

    saver = SaveModel(root / "model.pt")
    fit(config, callbacks=[saver])
    return root / "model.pt"


def _edited(checkpoint: Path, target: Path, **changes) -> Path:
    payload = torch.load(checkpoint, weights_only=True)
    payload["config"].update(changes)
    torch.save(payload, target)
    return target


def test_a_checkpoint_whose_config_names_another_skip_family_is_refused(checkpoint, tmp_path):
    edited = _edited(checkpoint, tmp_path / "edited.pt", family="orthogonal")
    with pytest.raises(MappingMismatchError, match="orthogonal.*saved weights hold.*identity"):
        load_checkpoint(edited)
    model, config = load_checkpoint(checkpoint)  # the unedited one still loads
    assert config.family == "identity"


@pytest.mark.slow
def test_a_checkpoint_whose_config_asks_for_a_huge_model_is_refused_without_allocating(
        checkpoint, tmp_path):
    edited = _edited(checkpoint, tmp_path / "huge.pt", model={"hidden": 200_000})
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))  # 160 GB would not fit
        from entangled.callbacks import load_checkpoint
        from entangled.errors import MappingMismatchError
        try:
            load_checkpoint({str(edited)!r})
        except MappingMismatchError as exc:
            print("refused:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert "refused:" in done.stdout, done.stderr[-2000:]
    assert "shape" in done.stdout and "200000" in done.stdout


# ----------------------------------------------------------------------- messages
def test_json_output_into_a_missing_folder_fails_before_any_work(tmp_path, capsys):
    target = tmp_path / "missing" / "ledger.json"
    with pytest.raises(SystemExit) as stop:
        main(["verify", "--builtin", "--json", str(target)])
    assert stop.value.code == 2
    assert "does not exist" in capsys.readouterr().err


def test_probe_rejects_a_negative_tolerance(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["probe", "entangled.nn:EntangledSkip", "--tol", "-1"])
    assert stop.value.code == 2
    assert "--tol" in capsys.readouterr().err


def test_a_scheduler_that_is_not_an_address_is_a_message(tmp_path, capsys):
    pytest.importorskip("distributed")
    (tmp_path / "c.json").write_text(json.dumps(configs(1)))
    code = main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "o"),
                 "--executor", "dask", "--scheduler", "not a url"])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and "Traceback" not in err

