"""Loading conjectures: the built-in catalog, ``.py`` files, directories and module names.

* :func:`load_builtin` imports every module of the package ``entangled.theory.conjectures`` (they
  register in the global registry, once, however often they are imported).
* :func:`load_file` executes a ``.py`` file as a private module (not importable by name; its
  directory is on ``sys.path`` while it runs, so sibling helpers can be imported). Its
  conjectures are named ``<file stem>.<function>`` and go to a scoped registry, so loading a
  file never duplicates the catalog, even if the file imports it.
* :func:`load_sources` accepts a mix of files, directories (every ``.py`` below, recursively)
  and dotted module names, and returns the conjectures plus one error record (with traceback)
  per source that failed, so that one broken file does not stop the others.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pkgutil
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Iterable, Sequence

from entangled.errors import EntangledError
from entangled.theory.registry import Conjecture, scope

BUILTIN_PACKAGE = "entangled.theory.conjectures"
_FILE_CACHE: dict[tuple[str, int], tuple[ModuleType, list[Conjecture]]] = {}


class ConjectureLoadError(EntangledError):
    """A conjecture source (file, directory or module) that cannot be loaded."""


def _from_namespace(module: ModuleType, extra: Iterable[Conjecture] = ()) -> list[Conjecture]:
    """Conjectures defined in ``module`` (not merely imported into it), in definition order."""
    found: dict[str, Conjecture] = {}
    for value in list(vars(module).values()):
        conj = getattr(value, "__conjecture__", None)
        if isinstance(conj, Conjecture) and conj.module == module.__name__:
            found.setdefault(conj.name, conj)
    for conj in extra:
        if conj.module == module.__name__:
            found.setdefault(conj.name, conj)
    return list(found.values())


def load_module(name: str) -> list[Conjecture]:
    """Import module ``name`` (and, for a package, its submodules); return its conjectures."""
    from entangled.theory.registry import all_conjectures

    module = importlib.import_module(name)
    modules = [module]
    if hasattr(module, "__path__"):
        for info in sorted(pkgutil.walk_packages(module.__path__, prefix=name + "."),
                           key=lambda i: i.name):
            modules.append(importlib.import_module(info.name))
    registered = all_conjectures()
    out: list[Conjecture] = []
    for mod in modules:
        out += _from_namespace(mod, registered)
    return out


def load_builtin() -> list[Conjecture]:
    """The built-in catalog: conjectures of every module in ``entangled.theory.conjectures``.

    Returns an empty list while the package has no modules.
    """
    try:
        importlib.import_module(BUILTIN_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name in (BUILTIN_PACKAGE, "entangled.theory"):
            return []
        raise
    return load_module(BUILTIN_PACKAGE)


def _private_module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"entangled_conjecture_file_{stem}_{digest}"


def load_file(path: str | os.PathLike) -> list[Conjecture]:
    """Execute the ``.py`` file at ``path`` and return the conjectures it defines.

    Cached per (resolved path, modification time). Raises :class:`ConjectureLoadError` for a
    missing file; exceptions of the file itself propagate.
    """
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise ConjectureLoadError(f"invalid path={str(path)!r}; allowed: an existing .py file, "
                                  "a directory or a dotted module name")
    key = (str(resolved), resolved.stat().st_mtime_ns)
    if key in _FILE_CACHE:
        return list(_FILE_CACHE[key][1])
    name = _private_module_name(resolved)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {resolved} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__conjecture_module__"] = resolved.stem
    directory = str(resolved.parent)
    sys.modules[name] = module
    sys.path.insert(0, directory)
    try:
        with scope() as registry:
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if directory in sys.path:
            sys.path.remove(directory)
    conjectures = _from_namespace(module, registry.conjectures())
    _FILE_CACHE[key] = (module, conjectures)
    return list(conjectures)


def load_function(path: str | os.PathLike, name: str):
    """The function ``name`` defined in the conjecture file ``path`` (used by snippets)."""
    for conj in load_file(path):
        if conj.function_name == name:
            return conj.function
    raise ConjectureLoadError(f"invalid name={name!r}; allowed: a conjecture defined in {path}")


def _files_below(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*.py")
        if not any(part.startswith(".") or part == "__pycache__"
                   for part in p.relative_to(directory).parts)
    )


def expand_source(source: str) -> list[tuple[str, str]]:
    """``[(kind, target)]`` for one PATH argument: ``("file", path)`` or ``("module", name)``."""
    path = Path(source).expanduser()
    if path.is_dir():
        return [("file", str(p)) for p in _files_below(path)]
    if path.is_file():
        return [("file", str(path))]
    if source.endswith(".py") or os.sep in source or not all(
            part.isidentifier() for part in source.split(".")):
        raise ConjectureLoadError(
            f"invalid path={source!r}; allowed: an existing .py file, a directory or a dotted "
            "module name")
    return [("module", source)]


def load_sources(sources: Sequence[str]) -> tuple[list[Conjecture], list[dict]]:
    """Load every source; return ``(conjectures, errors)``.

    Each error is ``{"source": str, "error": traceback text}``; a failing source does not
    stop the others. Files reached twice (a file and its directory) load once.
    """
    conjectures: list[Conjecture] = []
    errors: list[dict] = []
    seen: set[str] = set()
    for source in sources:
        try:
            targets = expand_source(str(source))
        except ConjectureLoadError as exc:
            errors.append({"source": str(source), "error": str(exc)})
            continue
        for kind, target in targets:
            ident = str(Path(target).resolve()) if kind == "file" else target
            if ident in seen:
                continue
            seen.add(ident)
            try:
                conjectures += load_file(target) if kind == "file" else load_module(target)
            except (Exception, SystemExit, GeneratorExit):  # sys.exit() in a file: a load error
                errors.append({"source": target, "error": traceback.format_exc()})
    return conjectures, errors
