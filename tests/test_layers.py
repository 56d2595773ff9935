"""The layering contract over the full import graph (issue 24), checked in CI as part of the
suite: every ``import`` of the three source folders, at module level or inside a function, is
read from the source (``ast``), with ``theory/`` and ``reports/`` under their installed names
``entangled.theory`` and ``entangled.reports``.

* Layers point one way (lowest first): mappings and the vocabulary they declare <- nn, tasks <-
  runs <- training <- sweeps <- theory <- reports <- CLI. A module imports modules of its own
  layer or of a lower one only; every module is assigned a layer (a new module must say where
  it belongs, in :data:`LAYERS`).
* No cycles, counting the imports inside functions too (an import inside a function still
  runs; it only runs later). Imports under ``if TYPE_CHECKING:`` are for type checkers only and
  are left out.
* Imports of the project inside functions are lazy loading, and lazy loading is documented:
  every module that defers a project import is listed in :data:`LAZY` with the reason, and a
  module listed as *light* is checked to import without torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"entangled": "entangled", "theory": "entangled.theory", "reports": "entangled.reports"}

#: Layers, lowest first: (name, module prefixes). The longest matching prefix decides.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("mappings", ("entangled.__init__", "entangled.errors", "entangled.words",
                  "entangled.registry", "entangled.validation", "entangled.values",
                  "entangled.logs", "entangled.mappings", "entangled.properties",
                  "entangled.skips",
                  # on open branches (issue 26, 28): files, process checks, the environment record
                  "entangled.atomic_io", "entangled.process_tree", "entangled.environment",
                  # the user-level cache (standard library only; data sets use it)
                  "entangled.cache")),
    ("nn, tasks", ("entangled.nn", "entangled.tasks")),
    ("runs", ("entangled.runs",)),
    ("training", ("entangled.hooks", "entangled.train", "entangled.batched", "entangled.metrics",
                  "entangled.callbacks")),
    ("sweeps", ("entangled.sweep", "entangled.executors", "entangled.store", "entangled.export",
                "entangled.audit", "entangled.cost")),  # audit, cost: open branch (issue 26)
    ("theory", ("entangled.theory",)),
    ("reports", ("entangled.reports",)),
    ("CLI", ("entangled.cli", "entangled.__main__", "entangled.commands",
             "entangled.pytest_plugin", "entangled.theory.cli_verify",
             "entangled.theory.cli_probe", "entangled.theory.cli_conformance",
             "entangled.theory.pytest_plugin",
             "entangled.reports.cli", "entangled.reports.cli_calibrate")),
]

LIGHT = "light"
#: Modules that import project modules inside functions, and why. ``light``: the module
#: imports without torch (``entangled --help``, the pytest plugin in any project, a result or
#: suite read without a model), checked by :func:`test_light_modules_import_without_torch`.
LAZY: dict[str, str] = {
    "entangled.__init__": LIGHT,
    "entangled.cli": LIGHT,
    "entangled.commands": LIGHT,
    "entangled.commands.export": LIGHT,
    "entangled.commands.families": LIGHT,
    "entangled.commands.sweep": LIGHT,
    "entangled.commands.train": LIGHT,
    "entangled.pytest_plugin": LIGHT,
    "entangled.runs": LIGHT,
    "entangled.skips": LIGHT,
    "entangled.export": LIGHT,
    "entangled.audit": LIGHT,
    "entangled.cost": LIGHT,
    "entangled.commands.audit": LIGHT,
    "entangled.theory.engine": LIGHT,
    "entangled.theory.ledger": LIGHT,
    "entangled.theory.literature": LIGHT,
    "entangled.theory.loader": LIGHT,
    "entangled.theory.registry": LIGHT,
    "entangled.theory.strategies": LIGHT,
    "entangled.theory.pytest_plugin": LIGHT,
    "entangled.theory.cli_verify": LIGHT,
    "entangled.theory.cli_probe": LIGHT,
    "entangled.theory.cli_conformance": LIGHT,
    "entangled.reports.analysis": LIGHT,
    "entangled.reports.build": LIGHT,
    "entangled.reports.cli": LIGHT,
    "entangled.reports.cli_calibrate": LIGHT,
    "entangled.reports.learnability": LIGHT,
    "entangled.reports.adaptive_tuning": LIGHT,
    "entangled.reports.presets": LIGHT,
    "entangled.reports.tuning": LIGHT,
    "entangled.theory.adapters.examples":
        "optional: the hyper-connections adapter needs the 'probe' extra",
    "entangled.theory.conjectures.lit_hyper_connections":
        "on use: the catalog loads without building the families its functions use",
    "entangled.theory.conjectures.lit_implementations":
        "on use: the catalog loads without the probe, which only these functions run",
    "entangled.theory.conjectures.lit_orthogonal":
        "on use: the catalog loads without the probe, which only these functions run",
    "entangled.theory.conjectures.lit_stream_models":
        "on use: the catalog loads without the probe, which only these functions run",
    "entangled.theory.conjectures.lit_refinement":
        "on use: the catalog loads without building the families its functions use",
    "entangled.theory.probe.check":
        "on use: checking a probe's claims loads the conjecture engine, probing does not",
    "entangled.reports.depth": "on use: the depth section builds models only when it runs",
    "entangled.reports.calibration":
        "on use: calibrating MNIST-1D runs a sweep; reading its results does not",
    # Imports deferred while these modules were in an import cycle (train <-> runs <->
    # callbacks, removed by issue 24); they can move to the top of the module. Left while
    # other branches rewrite these files (issues 26, 29).
    "entangled.train": "pending: deferred for a removed cycle; to move to the top",
    "entangled.batched": "pending: deferred for a removed cycle; to move to the top",
    "entangled.callbacks": "pending: deferred for a removed cycle; to move to the top",
    "entangled.metrics": "pending: deferred for a removed cycle; to move to the top",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool
    type_checking: bool


def modules() -> dict[str, Path]:
    """Every module of the three folders by its installed name."""
    found = {}
    for folder, name in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if "templates" in parts or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([name, *parts]) if parts else name] = path
    return found


def imports(found: dict[str, Path]) -> list[Import]:
    """Every import of a project module, with where it is."""
    out: list[Import] = []
    for module, path in found.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

        def targets(node, package=package) -> list[str]:
            if isinstance(node, ast.Import):
                return [alias.name for alias in node.names]
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            return [f"{base}.{a.name}" if f"{base}.{a.name}" in found else base
                    for a in node.names]

        def visit(node, in_function=False, type_checking=False, module=module):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in targets(child):
                        if target == "entangled" or target.startswith("entangled."):
                            out.append(Import(module, target, child.lineno, in_function,
                                              type_checking))
                function = in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                checking = type_checking or (isinstance(child, ast.If) and "TYPE_CHECKING"
                                             in ast.unparse(child.test))
                visit(child, function, checking)

        visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


def layer_of(module: str) -> int | None:
    name = "entangled.__init__" if module == "entangled" else module
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


FOUND = modules()
IMPORTS = [i for i in imports(FOUND) if not i.type_checking]


def _resolved(name: str) -> str:
    """The module an import names (``from entangled.x import y`` of a name: ``entangled.x``)."""
    while name not in FOUND and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def test_the_scan_reads_known_imports():
    """Known answers: a module-level and a function-level import of known modules."""
    at = {(i.importer, _resolved(i.imported), i.in_function) for i in IMPORTS}
    assert ("entangled.train", "entangled.hooks", False) in at
    assert ("entangled.runs", "entangled.nn.models", True) in at
    assert ("entangled.theory.engine", "entangled.theory.ledger", False) in at
    assert len(FOUND) > 100 and len(IMPORTS) > 700


def test_every_module_has_a_layer():
    missing = sorted(m for m in FOUND if layer_of(m) is None)
    assert not missing, f"assign a layer in tests/test_layers.py LAYERS to: {missing}"


def upward(found_imports: list[Import]) -> list[str]:
    """The imports of a module of a higher layer, described."""
    return [f"{i.importer} (layer {LAYERS[layer_of(i.importer)][0]}) imports "
            f"{_resolved(i.imported)} (layer {LAYERS[layer_of(_resolved(i.imported))][0]}) "
            f"at line {i.line}{' inside a function' if i.in_function else ''}"
            for i in found_imports if layer_of(_resolved(i.imported)) > layer_of(i.importer)]


def test_imports_point_down_the_layers():
    assert not upward(IMPORTS), "\n".join(upward(IMPORTS))


def test_an_upward_import_is_reported():
    """Known answers: the runs -> train import that issue 24 removed would be caught."""
    names = [LAYERS[layer_of(m)][0] for m in ("entangled.mappings.base", "entangled.nn.cnn",
                                              "entangled.runs", "entangled.train",
                                              "entangled.sweep", "entangled.theory.engine",
                                              "entangled.reports.build", "entangled.cli")]
    assert names == [name for name, _ in LAYERS]
    assert upward([Import("entangled.runs", "entangled.train", 7, True, False)]) == [
        "entangled.runs (layer runs) imports entangled.train (layer training) at line 7 "
        "inside a function"]
    assert upward([Import("entangled.train", "entangled.runs", 7, False, False)]) == []


def test_the_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {m: set() for m in FOUND}
    for i in IMPORTS:
        if _resolved(i.imported) != i.importer:
            graph[i.importer].add(_resolved(i.imported))
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles (imports inside functions count): " + "; ".join(
        " <-> ".join(sorted(c)) for c in cycles)


def test_imports_inside_functions_are_documented_lazy_loading():
    deferring = {i.importer for i in IMPORTS if i.in_function}
    undocumented = sorted(deferring - set(LAZY))
    stale = sorted(set(LAZY) - deferring - {"entangled.__init__"})
    assert not undocumented, ("import at the top of the module, or document why it is "
                              f"deferred in tests/test_layers.py LAZY: {undocumented}")
    assert not stale, f"listed in LAZY but importing nothing inside a function: {stale}"


def _imports_torch(names: list[str]) -> bool:
    code = (f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


@pytest.mark.slow
def test_light_modules_import_without_torch():
    light = sorted(m.replace(".__init__", "") for m, why in LAZY.items() if why == LIGHT)
    assert "entangled.cli" in light and "entangled.runs" in light
    if _imports_torch(light):  # all at once; one by one to name the culprits
        heavy = [name for name in light if _imports_torch([name])]
        pytest.fail(f"listed as light in LAZY but importing torch: {heavy}")
    assert _imports_torch(["entangled.train"])  # the check can fail: train needs torch


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


def test_the_cycle_finder_finds_known_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_the_architecture_page_names_every_module():
    """docs/architecture.md (the layout section) matches the code: it names every module file
    and subpackage of the three folders."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).iterdir()):
            if path.name.startswith("_") or path.name == "__pycache__":
                continue
            if path.suffix == ".py" and f"`{path.name}`" not in page and f"`{path.stem}`" not in page:
                missing.append(f"{folder}/{path.name}")
            if (path / "__init__.py").exists() and f"`{path.name}/`" not in page:
                missing.append(f"{folder}/{path.name}/")
    assert not missing, f"docs/architecture.md does not name: {missing}"
