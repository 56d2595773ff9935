"""Issue 14 item 4: the ``entangled`` command starts without importing torch for ``--help``,
``--version`` and ``COMMAND --help``, and ``import entangled`` is lazy without losing a name.

Each check runs in a fresh interpreter (``sys.modules`` of the test process already holds
torch).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: Modules whose import makes startup slow (seconds for torch).
HEAVY = ("torch", "numpy", "scipy", "sympy", "matplotlib", "hypothesis", "jinja2")
#: Every built-in command's ``--help`` (``train --list`` reads the registries, which import torch).
TORCH_FREE_HELP = ("families", "train", "sweep", "verify", "probe", "report", "export")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)


def test_help_version_and_command_help_import_no_heavy_module():
    argvs = [["--help"], ["--version"]] + [[c, "--help"] for c in TORCH_FREE_HELP]
    out = run_python(f"""
        import contextlib, io, json, sys
        from entangled.cli import main

        report = []
        for argv in {argvs!r}:
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = exc.code
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            report.append({{"argv": argv, "status": status, "heavy": heavy,
                            "chars": len(text.getvalue())}})
        print(json.dumps(report))
    """)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [r["argv"] for r in report] == argvs
    for row in report:
        assert row["status"] in (0, None), row
        assert row["chars"] >= len("entangled 0.1.0"), row   # something was printed
        assert row["heavy"] == [], f"{' '.join(row['argv'])} imported {row['heavy']}"


def test_python_m_entangled_help_lists_commands_without_torch():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "entangled", "--help"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for command in ("families", "train", "sweep", "verify", "probe", "report", "export"):
        assert command in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines()
                if line.startswith("import time:")}
    assert "entangled.cli" in imported                       # the import log is complete
    assert not imported & set(HEAVY)


def test_import_entangled_is_lazy_and_keeps_every_public_name():
    out = run_python("""
        import sys
        import entangled
        import entangled.pytest_plugin  # loaded by every pytest run of the environment
        print("torch" in sys.modules)
        assert set(entangled.__all__) <= set(dir(entangled))
        values = {name: getattr(entangled, name) for name in entangled.__all__}
        print("torch" in sys.modules)
        m = entangled.make_mapping("permutation", 4, seed=1)
        print(sorted(m.matrix().sum(0).tolist()), "sparse" in entangled.families())
        from entangled import Mapping, UnknownFamilyError, nn
        print(isinstance(m, Mapping), nn.EntangledSkip.__name__, entangled.__version__)
        try:
            entangled.make_mapping("no_such_family", 4)
        except UnknownFamilyError:
            print("unknown family raises")
        try:
            entangled.no_such_name
        except AttributeError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "False",                           # import entangled (and its pytest plugin): no torch
        "True",                            # the library names are imported on first use
        "[1.0, 1.0, 1.0, 1.0] True",
        "True EntangledSkip 0.1.0",
        "unknown family raises",
        "module 'entangled' has no attribute 'no_such_name'",
    ]


@pytest.mark.parametrize("name", ["make_mapping", "families", "family_class", "from_matrix",
                                  "register_family", "Mapping"])
def test_lazy_names_are_the_mapping_library_objects(name):
    import entangled
    import entangled.mappings

    assert getattr(entangled, name) is getattr(entangled.mappings, name)


def test_train_list_prints_every_registered_architecture_and_task(capsys):
    """``train --help`` leaves the registries alone; ``train --list`` reads them (plug-ins too)."""
    from entangled.cli import main
    from entangled.nn.models import architecture, architectures
    from entangled.tasks import task_entry, task_names

    with pytest.raises(SystemExit) as done:
        main(["train", "--list"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert set(listed) == set(architectures()) | set(task_names())
    assert listed["rnn"].split(None, 1)[1] == f"{', '.join(architecture('rnn').input_kinds)} tasks"
    entry = task_entry("delayed_recall")
    assert listed["delayed_recall"].split(None, 1)[1] == f"{entry.kind}, {entry.time_structure}"
