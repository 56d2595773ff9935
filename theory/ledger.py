"""The ledger of verdicts: plain dataclasses with exact dict / JSON round-trips.

One :class:`LedgerEntry` per (conjecture, family). Non-finite floats (a NaN or infinite
measured value) are stored in dicts and JSON as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` so that the JSON is standard and readable by any consumer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import site
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from entangled.errors import EntangledError
from entangled.words import Word

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Verdict(Word):
    """The verdict of a conjecture on a family (and what a conjecture expects)."""

    #: an attached sympy proof checks and the search found no counterexample
    PROVED = "proved"
    #: the search found no counterexample
    HOLDS = "holds"
    #: the search found a counterexample (shrunk, with a reproduction snippet)
    FALSIFIED = "falsified"
    #: the conjecture raised, returned something else than a bool or a number, timed out,
    #: or its proof does not check
    ERROR = "error"


def encode_float(value: float | None) -> float | str | None:
    """A float as JSON-safe data (non-finite values as strings)."""
    if value is None or isinstance(value, str):
        return value
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def decode_float(value: Any) -> float | None:
    """Inverse of :func:`encode_float`."""
    if value is None:
        return None
    if isinstance(value, str):
        return _NONFINITE[value]
    return float(value)


def _encode_counterexample(cx: dict | None) -> dict | None:
    if cx is None:
        return None
    out = copy.deepcopy(cx)
    if "value" in out and not isinstance(out["value"], bool):
        out["value"] = encode_float(out["value"])
    return out


def _decode_counterexample(cx: dict | None) -> dict | None:
    if cx is None:
        return None
    out = copy.deepcopy(cx)
    if "value" in out and not isinstance(out["value"], bool):
        out["value"] = decode_float(out["value"])
    return out


@dataclass
class LedgerEntry:
    """Verdict of one conjecture on one family.

    Attributes
    ----------
    conjecture : qualified name of the conjecture.
    statement, theme : from the conjecture.
    family : the family searched (or the family of the given examples).
    verdict : a :class:`Verdict`: ``"proved"``, ``"holds"``, ``"falsified"`` or ``"error"``.
    expected : :attr:`Verdict.HOLDS` or :attr:`Verdict.FALSIFIED`.
    matches_expected : verdict agrees with ``expected`` (proved/holds vs holds, falsified vs
        falsified; an error never matches).
    examples : number of distinct examples evaluated.
    worst : largest measured deviation (float results; NaN if any was NaN), or None for
        bool results / no evaluation.
    tol : tolerance of the conjecture.
    reference : source of the claim, or None.
    counterexample : for a falsification (or an error on an example): ``family``, ``n``,
        ``params`` and ``seed`` (depth claims: ``depth`` and ``mappings``, a list of mapping
        dicts), ``value`` (the measured value) and ``snippet`` (one line of Python that prints
        the measured value).
    proof : ``{"statement", "latex", "checked"}`` when a proof is attached, else None.
    error : error text / traceback, or None.
    seconds : wall time of the check.
    short_name : ``theme.function``.
    dtype : the precision the claim was checked in, for conjectures declaring ``dtypes``
        (``"float64"``, ``"float32"``, ...); ``None`` for the others (float64).
    """

    conjecture: str
    statement: str
    theme: str
    family: str
    verdict: Verdict
    expected: Verdict
    matches_expected: bool
    examples: int = 0
    worst: float | None = None
    tol: float = 0.0
    reference: str | None = None
    counterexample: dict | None = None
    proof: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    short_name: str = ""
    dtype: str | None = None

    @property
    def where(self) -> str:
        """The family, followed by the dtype when the claim was checked in several."""
        return self.family if self.dtype is None else f"{self.family} {self.dtype}"

    def __post_init__(self) -> None:
        self.verdict = Verdict.parse(self.verdict, name="verdict")
        self.expected = Verdict.parse(self.expected, name="expected")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["worst"] = encode_float(self.worst)
        data["counterexample"] = _encode_counterexample(self.counterexample)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LedgerEntry":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise EntangledError(f"invalid ledger entry fields {sorted(unknown)}; "
                                 f"allowed: {', '.join(sorted(names))}")
        data = copy.deepcopy(data)
        data["worst"] = decode_float(data.get("worst"))
        data["counterexample"] = _decode_counterexample(data.get("counterexample"))
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "LedgerEntry":
        return cls.from_dict(json.loads(text))


@dataclass
class Ledger:
    """All entries of one verification run, plus the files that failed to load.

    Attributes
    ----------
    entries : list of :class:`LedgerEntry`.
    load_errors : ``[{"source": ..., "error": traceback}]`` for files/modules that failed.
    seed : the base seed of the search.
    examples : the examples override, or None (each conjecture's own / the default).
    seconds : total wall time.
    dependencies : ``{file: sha256}`` of every module file the run loaded from outside the
        installed environment (the user's conjecture files, the helpers they import, the
        package sources of an editable install); see :func:`dependencies_current`.
    """

    entries: list[LedgerEntry] = field(default_factory=list)
    load_errors: list[dict] = field(default_factory=list)
    seed: int | None = 0
    examples: int | None = None
    seconds: float = 0.0
    dependencies: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict:
        """Counts: ``total``, one per verdict, ``matching`` and ``mismatching``, ``load_errors``."""
        counts = {"total": len(self.entries), "proved": 0, "holds": 0, "falsified": 0,
                  "error": 0}
        for entry in self.entries:
            counts[entry.verdict] = counts.get(entry.verdict, 0) + 1
        counts["matching"] = sum(e.matches_expected for e in self.entries)
        counts["mismatching"] = counts["total"] - counts["matching"]
        counts["load_errors"] = len(self.load_errors)
        return counts

    def all_match(self) -> bool:
        """Every verdict matches its expectation (load errors do not count here)."""
        return all(e.matches_expected for e in self.entries)

    def mismatches(self) -> list[LedgerEntry]:
        return [e for e in self.entries if not e.matches_expected]

    def to_dict(self) -> dict:
        return {
            "entries": [e.to_dict() for e in self.entries],
            "load_errors": copy.deepcopy(self.load_errors),
            "seed": self.seed,
            "examples": self.examples,
            "seconds": self.seconds,
            "summary": self.summary(),
            "dependencies": dict(self.dependencies),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Ledger":
        return cls(
            entries=[LedgerEntry.from_dict(e) for e in data.get("entries", [])],
            load_errors=copy.deepcopy(data.get("load_errors", [])),
            seed=data.get("seed"),
            examples=data.get("examples"),
            seconds=float(data.get("seconds", 0.0)),
            dependencies=dict(data.get("dependencies") or {}),
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "Ledger":
        return cls.from_dict(json.loads(text))


# ------------------------------------------------------------------ cache identity
def file_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _environment_roots() -> list[str]:
    """Directories of the installed environment (stdlib, site-packages)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv without the site helpers
        pass
    return [os.path.realpath(r) + os.sep for r in roots if r]


def user_module_files(modules: dict | None = None, sources: Sequence[str] = ()) -> list[str]:
    """Files of the loaded ``modules`` (default ``sys.modules``) that a cached ledger depends
    on: every module file outside the installed environment (user files, the helpers they
    import, an editable checkout), plus the modules of dotted ``sources`` wherever they are."""
    modules = sys.modules if modules is None else modules
    roots = _environment_roots()
    dotted = [s for s in sources if not s.endswith(".py") and os.sep not in s]
    files = set()
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        real = os.path.realpath(path)
        named = any(name == d or name.startswith(d + ".") for d in dotted)
        if named or not any(real.startswith(root) for root in roots):
            files.add(real)
    return sorted(files)


def dependency_manifest(files: Sequence[str]) -> dict[str, str]:
    """``{file: sha256}`` of ``files`` (unreadable files are left out)."""
    manifest = {}
    for path in sorted(set(files)):
        digest = file_digest(path)
        if digest is not None:
            manifest[path] = digest
    return manifest


def dependencies_current(manifest: dict[str, str]) -> bool:
    """Whether every file recorded in a ledger's ``dependencies`` still has the same content
    (a cached ledger is stale otherwise)."""
    return all(file_digest(path) == digest for path, digest in manifest.items())


def plugin_versions() -> dict[str, str]:
    """``{entry point: "distribution==version"}`` of the installed mapping-family plug-ins
    (entry-point group ``entangled.families``), read from the package metadata without
    importing them."""
    from importlib import metadata

    versions = {}
    for entry_point in metadata.entry_points(group="entangled.families"):
        dist = getattr(entry_point, "dist", None)
        label = f"{dist.metadata['Name']}=={dist.version}" if dist is not None else "?"
        versions[f"{entry_point.name}={entry_point.value}"] = label
    return dict(sorted(versions.items()))


#: distributions whose versions can change a verdict (the search, the arithmetic, the proofs)
VERDICT_DISTRIBUTIONS = ("torch", "numpy", "scipy", "sympy", "networkx", "hypothesis")


def verdict_environment() -> dict[str, str]:
    """What besides the sources can change a verdict: the Python version, the installed
    versions of :data:`VERDICT_DISTRIBUTIONS` and of ``entangled`` (read from the package
    metadata, without importing them), and where ``entangled`` is loaded from (two
    checkouts on one machine share a user-level cache: each gets its own entries)."""
    from importlib import metadata

    import entangled

    versions = {"python": sys.version.split()[0],
                "entangled_location": os.path.dirname(os.path.realpath(entangled.__file__))}
    for name in VERDICT_DISTRIBUTIONS + ("entangled",):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def ledger_cache_key(paths: Sequence[str], examples: int | None, seed: int) -> str:
    """Cache key of a verification run: the examples and seed, the sources of the theory
    package (engine and catalog), of the mapping families and of the listed conjecture
    sources, the installed versions of plug-in families and :func:`verdict_environment`.
    Modules that the sources import are not known before they run: they are recorded in the
    ledger's ``dependencies`` and checked by :func:`dependencies_current` on a cache hit."""
    import entangled.mappings

    digest = hashlib.sha256(f"{examples}|{seed}".encode())
    digest.update(json.dumps(verdict_environment(), sort_keys=True).encode())
    theory_dir = Path(__file__).parent
    sources = sorted(theory_dir.rglob("*.py"))
    sources += sorted(Path(entangled.mappings.__file__).parent.glob("*.py"))
    for path in paths:
        p = Path(path)
        sources += sorted(p.rglob("*.py")) if p.is_dir() else [p]
        digest.update(str(path).encode())
    for source in sources:
        if source.is_file():
            digest.update(source.name.encode() + source.read_bytes())
    digest.update(json.dumps(plugin_versions(), sort_keys=True).encode())
    return digest.hexdigest()[:16]
