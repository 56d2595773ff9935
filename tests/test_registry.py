"""One registry implementation (entangled.registry) behind families, architectures, tasks,
commands and report sections: the same listing, the same errors, plug-ins, temporary
registrations for tests, and run-time registrations that reach worker processes (or are
refused before anything trains)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
import warnings
from importlib import metadata
from pathlib import Path

import pytest

import entangled.mappings
import entangled.tasks
from entangled.cli import COMMAND_REGISTRY, discover_commands
from entangled.errors import EntangledError, UnknownEntryError, UnknownFamilyError
from entangled.mappings.registry import FAMILY_REGISTRY
from entangled.nn.models import ARCHITECTURE_REGISTRY
from entangled.registry import BUILTIN, PLUGIN, RUNTIME, Registry, registries
from entangled.reports.sections import SECTION_REGISTRY, register_section
from entangled.tasks.base import TASK_REGISTRY

REPO = Path(__file__).resolve().parent.parent
KINDS = {FAMILY_REGISTRY: "family", ARCHITECTURE_REGISTRY: "arch", TASK_REGISTRY: "task",
         COMMAND_REGISTRY: "command", SECTION_REGISTRY: "section"}


def test_the_five_kinds_are_registries_of_one_implementation():
    assert all(isinstance(r, Registry) for r in KINDS)
    assert {r.group for r in KINDS} == {
        "entangled.families", "entangled.architectures", "entangled.tasks",
        "entangled.commands", "entangled.report_sections"}
    assert set(KINDS) <= set(registries())


@pytest.mark.parametrize("registry", list(KINDS), ids=lambda r: r.kind)
def test_an_unknown_name_gets_the_same_error_listing_every_name(registry):
    with registry.temporarily("zz_probe", _entry_for(registry)):
        names = registry.names()
        with pytest.raises(UnknownEntryError) as info:
            registry.get("no_such_name")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (f"invalid {KINDS[registry]}='no_such_name'; allowed: one of "
                               + ", ".join(names))
    assert "zz_probe" in names and info.value.known == names


def test_families_list_sorted_and_the_others_in_registration_order():
    assert FAMILY_REGISTRY.names() == sorted(FAMILY_REGISTRY.names())
    assert ARCHITECTURE_REGISTRY.names()[:4] == ["cnn", "vit", "transformer", "rnn"]
    with ARCHITECTURE_REGISTRY.temporarily("aaa_last", _entry_for(ARCHITECTURE_REGISTRY)):
        assert ARCHITECTURE_REGISTRY.names()[-1] == "aaa_last"  # not sorted in


def test_an_unknown_family_is_still_an_unknown_family_error():
    with pytest.raises(UnknownFamilyError, match="invalid family='nope'; allowed: one of birkhoff"):
        entangled.mappings.family_class("nope")


@pytest.mark.parametrize("registry", list(KINDS), ids=lambda r: r.kind)
def test_a_taken_name_refuses_another_entry_and_accepts_the_same_one(registry):
    first, second = _entry_for(registry), _entry_for(registry)
    with registry.temporarily("zz_taken", first):
        assert registry.register("zz_taken", first) is first  # idempotent
        with pytest.raises(EntangledError, match=f"{registry.kind} 'zz_taken' is already "
                                                 f"registered by {__name__}"):
            registry.register("zz_taken", second)
    assert "zz_taken" not in registry  # temporarily: gone after the block


@pytest.mark.parametrize("bad", ["", "has space", 3, "1abc"])
def test_names_must_be_identifiers(bad):
    with pytest.raises(ValueError, match=r"invalid task name=.*; allowed: a non-empty identifier"):
        TASK_REGISTRY.register(bad, _entry_for(TASK_REGISTRY))


def test_origins_of_builtins_plugins_and_run_time_entries():
    assert FAMILY_REGISTRY.origin("orthogonal") == BUILTIN
    assert ARCHITECTURE_REGISTRY.origin("cnn") == BUILTIN
    point = metadata.EntryPoint("zz_section", f"{__name__}:_plugin_section",
                                SECTION_REGISTRY.group)
    with SECTION_REGISTRY.scoped(entry_points=[point]):
        register_section("zz_runtime", _plugin_section)
        assert SECTION_REGISTRY.origin("zz_section") == PLUGIN
        assert SECTION_REGISTRY.origin("zz_runtime") == RUNTIME
        assert [n for n, _ in SECTION_REGISTRY.runtime_entries()] == ["zz_runtime"]
    assert "zz_section" not in SECTION_REGISTRY and "zz_runtime" not in SECTION_REGISTRY


def test_a_module_plugin_registers_itself_and_a_broken_plugin_only_warns(tmp_path, monkeypatch):
    module = tmp_path / "zz_task_plugin.py"
    module.write_text(textwrap.dedent("""
        from entangled.tasks import register_task
        def load(*, seed=0):
            raise RuntimeError("not loaded in this test")
        register_task("zz_module_task", kind="sequence", time_structure="static",
                      chance=0.5, load=load)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [metadata.EntryPoint("zz_module", "zz_task_plugin", TASK_REGISTRY.group),
              metadata.EntryPoint("broken", "no_such_module_xyz:TASK", TASK_REGISTRY.group)]
    with TASK_REGISTRY.scoped(entry_points=points):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = TASK_REGISTRY.names()
        assert "zz_module_task" in names and "broken" not in names
        assert TASK_REGISTRY.origin("zz_module_task") == PLUGIN
        assert [str(w.message) for w in caught] == [
            "could not load task plugin 'broken' (no_such_module_xyz:TASK): "
            "No module named 'no_such_module_xyz'"]
    assert "zz_module_task" not in TASK_REGISTRY


def test_a_command_registered_at_run_time_runs(capsys):
    from entangled.cli import main, register_command

    module = types.ModuleType("zz_hello")
    module.HELP = "say hello"
    module.add_arguments = lambda parser: parser.add_argument("--name", default="world")
    module.run = lambda args: print(f"hello {args.name}") or 0
    with COMMAND_REGISTRY.scoped():
        register_command("zz_hello", module)
        assert "zz_hello" in discover_commands()
        assert main(["zz_hello", "--name", "you"]) == 0
    assert capsys.readouterr().out == "hello you\n"
    with pytest.raises(EntangledError, match="invalid command module"):
        register_command("zz_bad", types.ModuleType("zz_bad"))


# --------------------------------------------------------------------- worker processes
SCRIPT = '''
import json, sys
from dataclasses import dataclass

import torch
from torch import nn

from entangled.nn.blocks import EntangledModel, ResidualBlock
from entangled.nn.models import register_architecture
from entangled.nn.skip import EntangledSkip
from entangled.sweep import run_sweep


@dataclass
class TinyConfig:
    width: int = 4

    def validate(self):
        return self


class Branch(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin = nn.Linear(width, width)

    def forward(self, h):
        return torch.tanh(self.lin(h))


class Tiny(EntangledModel):
    arch = "tiny_script"

    def __init__(self, config, skip_spec, input_shape, output_dim):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        self.inp = nn.Linear(input_shape[0] * input_shape[1], config.width)
        self.residual_blocks = nn.ModuleList(
            [ResidualBlock(EntangledSkip(skip_spec.mapping(config.width, 0)), Branch(config.width))])
        self.head = nn.Linear(config.width, output_dim)

    def embed(self, x):
        return self.inp(x.flatten(1))

    def readout(self, h):
        return self.head(h)


def main(out, where):
    model = Tiny
    if where == "local":
        class Local(Tiny):  # defined inside main(): no worker can import it
            pass
        model = Local
    register_architecture("tiny_script", config=TinyConfig, model=model,
                          input_kinds=("sequence",), input_ranks=(2,), input_doc="(T, D)")
    configs = [{"arch": "tiny_script", "task": "parity", "steps": 2, "batch_size": 8,
                "eval_every": 1, "seed": seed, "task_options": {"n_train": 32, "n_test": 16}}
               for seed in range(2)]
    try:
        summary = run_sweep(configs, out, jobs=2, progress=False)
    except ValueError as exc:
        print(json.dumps({"error": str(exc)}))
        return
    print(json.dumps({"ran": summary.ran, "failed": summary.failed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''


def _run_script(tmp_path: Path, where: str) -> dict:
    script = tmp_path / "train_tiny.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "out"), where],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_architecture_registered_in_a_scripts_main_reaches_two_workers(tmp_path):
    """Issue 24: registered in main(), it validated in the parent and failed in every worker."""
    report = _run_script(tmp_path, "top")
    assert report == {"ran": 2, "failed": []}
    results = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert sorted(r["spec"]["seed"] for r in results) == [0, 1]
    assert {r["spec"]["arch"]["name"] for r in results} == {"tiny_script"}


def test_an_entry_no_worker_can_import_is_refused_before_anything_trains(tmp_path):
    report = _run_script(tmp_path, "local")
    assert ("architecture 'tiny_script' was registered at run time (module __main__) and "
            "cannot be sent to worker processes") in report["error"]
    assert "or run with one job" in report["error"]
    assert not list((tmp_path / "out").glob("*.json"))


# --------------------------------------------------------------------------- helpers
def _plugin_section(evidence):
    return None


def _entry_for(registry: Registry):
    """A fresh valid entry of ``registry``'s kind (a new object: a different identity)."""
    import dataclasses

    from entangled.mappings.base import Mapping
    from entangled.nn.models import Architecture
    from entangled.tasks import Task

    if registry is FAMILY_REGISTRY:
        return type("ZzFamily", (Mapping,), {"family": "zz", "__module__": __name__})
    if registry is ARCHITECTURE_REGISTRY:
        config = dataclasses.make_dataclass("ZzConfig", [], namespace={"validate": lambda s: s})
        model = type("ZzModel", (), {"__module__": __name__})
        return Architecture("zz", config, model, ("sequence",), (2,), "(T, D)")
    if registry is TASK_REGISTRY:
        def load(*, seed=0):
            raise RuntimeError("never loaded")
        return Task("zz", "sequence", "static", 0.5, load)
    if registry is COMMAND_REGISTRY:
        module = types.ModuleType("zz_command")
        module.add_arguments, module.run = (lambda parser: None), (lambda args: 0)
        module.__name__ = __name__
        return module
    return lambda evidence: None
