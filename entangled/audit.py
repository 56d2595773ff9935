"""``entangled audit``: check a result store, and retrain a sample of its runs to compare.

Two checks, for a store a report or a paper is going to rest on:

1. **Files.** Every ``<hash>.json`` is read as a sweep would read it: a regular file of bounded
   size, valid JSON, values in range, the hash of its spec equal to its name, and content equal
   to the SHA-256 the store's manifest recorded when the sweep wrote it
   (:func:`entangled.store.digest_problem`). Problems are listed; nothing is moved or deleted
   (``entangled sweep`` / ``report`` move them aside and retrain).
2. **Reruns** (``--rerun K``): K runs drawn at random (``--seed``) from the valid ones are
   trained again in this process — alone with :func:`entangled.train.fit`, or as a seed batch
   of one with :func:`entangled.batched.fit_batch` when the stored run was trained in a seed
   batch — and compared with what is stored: status, steps done, selected step and divergence
   step exactly, every accuracy, loss and curve value within :data:`ATOL` + :data:`RTOL`
   ``* |stored|``. A run trained alone is deterministic on one machine (the same config and
   seed give the same numbers), so this is float rounding at most; a difference beyond it means
   the stored numbers do not come from this config here. Runs stored with another torch
   version or on another device than this process would use are listed as not comparable
   (other kernels round differently, and training amplifies it), not as differences.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from entangled.errors import InvalidParameterError

#: Documented rounding of a rerun: absolute and relative tolerance of every compared number.
ATOL = 1e-6
RTOL = 1e-6
EXACT_FIELDS = ("status", "steps_done", "selected_step", "diverged_at")
NUMBER_FIELDS = ("train_accuracy", "train_loss", "validation_accuracy", "test_accuracy",
                 "test_loss")
CURVE_FIELDS = ("train_loss", "val_loss", "val_accuracy")


@dataclass
class Difference:
    """One compared value that differs beyond the rounding."""

    config_hash: str
    label: str
    field: str
    stored: Any
    rerun: Any


@dataclass
class AuditReport:
    """What :func:`audit_store` found.

    Attributes
    ----------
    directory : the result directory audited.
    files : result files found (``<hash>.json``).
    valid : those that passed every file check.
    problems : ``[{"path", "reason"}]`` files that did not (edited, not in the manifest,
        invalid, special files).
    manifest : whether the store keeps a manifest (without one, edits cannot be detected).
    rerun : hashes retrained and compared.
    not_comparable : ``[{"hash", "reason"}]`` sampled runs produced with another torch
        version or device (not retrained).
    differences : values that differ beyond the rounding.
    failed : ``[{"hash", "error"}]`` reruns that raised.
    """

    directory: str
    files: int = 0
    valid: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    manifest: bool = True
    rerun: list[str] = field(default_factory=list)
    not_comparable: list[dict[str, str]] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No problem file, no difference, no failed rerun."""
        return not (self.problems or self.differences or self.failed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data

    def text(self) -> str:
        lines = [f"{self.directory}: {self.files} result files, {self.valid} valid, "
                 f"{len(self.problems)} with problems"]
        if not self.manifest:
            lines.append("  no manifest (a store written before digests were recorded): edits "
                         "cannot be detected; a sweep or report on it records them")
        for problem in self.problems:
            lines.append(f"  {problem['path']}: {problem['reason']}")
        if self.rerun or self.not_comparable:
            lines.append(f"retrained {len(self.rerun)} sampled runs: "
                         f"{len({d.config_hash for d in self.differences})} differ beyond the "
                         f"rounding (atol {ATOL:g}, rtol {RTOL:g}), {len(self.failed)} failed, "
                         f"{len(self.not_comparable)} not comparable here")
        for d in self.differences:
            lines.append(f"  {d.config_hash} {d.label}: {d.field} stored {d.stored!r}, "
                         f"retrained {d.rerun!r}")
        for item in self.failed:
            lines.append(f"  {item['hash']}: the rerun failed: {item['error']}")
        for item in self.not_comparable:
            lines.append(f"  {item['hash']}: not comparable here ({item['reason']})")
        return "\n".join(lines)


def _close(stored: Any, rerun: Any) -> bool:
    if stored is None or rerun is None:
        return stored is None and rerun is None
    if isinstance(stored, float) and math.isnan(stored):
        return isinstance(rerun, float) and math.isnan(rerun)
    return abs(float(rerun) - float(stored)) <= ATOL + RTOL * abs(float(stored))


def compare(stored, rerun) -> list[Difference]:
    """The values of two results of one run that differ beyond the rounding."""
    out = []
    label = stored.spec.label()

    def differ(name: str, a: Any, b: Any) -> None:
        out.append(Difference(stored.config_hash, label, name, a, b))

    for name in EXACT_FIELDS:
        if getattr(stored, name) != getattr(rerun, name):
            differ(name, getattr(stored, name), getattr(rerun, name))
    for name in NUMBER_FIELDS:
        if not _close(getattr(stored, name), getattr(rerun, name)):
            differ(name, getattr(stored, name), getattr(rerun, name))
    if stored.curves.step != rerun.curves.step:
        differ("curves.step", stored.curves.step, rerun.curves.step)
    else:
        for name in CURVE_FIELDS:
            a, b = getattr(stored.curves, name, None), getattr(rerun.curves, name, None)
            if a is None and b is None:
                continue
            if a is None or b is None or len(a) != len(b) or not all(map(_close, a, b)):
                differ(f"curves.{name}", a, b)
    return out


def default_rerun(spec, stored) -> Any:
    """Train ``spec`` again as it was trained: alone with ``fit``, or as a seed batch of one
    with ``fit_batch`` when ``stored`` was trained in a seed batch."""
    if "seed_batch" in (stored.environment or {}):
        from entangled.batched import fit_batch

        return fit_batch([spec])[0]
    from entangled.train import fit

    return fit(spec)


def audit_store(path: str | os.PathLike, *, rerun: int = 0, seed: int = 0,
                run_fn: Callable | None = None, progress: Callable[[str], None] | None = None
                ) -> AuditReport:
    """Audit the result store at ``path`` (a sweep's directory, or a report directory with
    ``runs/``): check every file, retrain ``rerun`` sampled runs (see the module docstring).

    ``run_fn(spec, stored) -> RunResult`` retrains one run (default :func:`default_rerun`).
    """
    from entangled.export import results_directory
    from entangled.runs import ResultFileError
    from entangled.store import has_manifest
    from entangled.sweep.results import produced_differently, read_result

    if isinstance(rerun, bool) or not isinstance(rerun, int) or rerun < 0:
        raise InvalidParameterError("--rerun", rerun, "an integer >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidParameterError("--seed", seed, "an integer >= 0")
    directory = results_directory(path)
    report = AuditReport(str(directory), manifest=has_manifest(directory))
    valid = []
    for file in sorted(directory.glob("*.json")):
        report.files += 1
        try:
            result = read_result(file)
        except ResultFileError as exc:
            report.problems.append({"path": str(file), "reason": exc.reason})
            continue
        if result.config_hash != file.stem:
            report.problems.append({"path": str(file), "reason": "its config hash "
                                    f"{result.config_hash} does not match the file name"})
            continue
        valid.append(result)
    report.valid = len(valid)
    if rerun > len(valid):
        raise InvalidParameterError("--rerun", rerun, f"at most the {len(valid)} valid runs "
                                    f"of {directory}")
    sample = random.Random(seed).sample(valid, rerun)
    retrain = run_fn or default_rerun
    for index, stored in enumerate(sample, 1):
        why = produced_differently(stored)
        if why is not None:
            report.not_comparable.append({"hash": stored.config_hash, "reason": why})
            continue
        if progress is not None:
            progress(f"audit: retraining {index}/{len(sample)}: {stored.spec.label()}")
        try:
            again = retrain(stored.spec, stored)
        except Exception as exc:  # a run that cannot be retrained is reported, not fatal
            report.failed.append({"hash": stored.config_hash,
                                  "error": f"{type(exc).__name__}: {exc}"})
            continue
        report.rerun.append(stored.config_hash)
        report.differences.extend(compare(stored, again))
    return report


__all__ = ["ATOL", "RTOL", "AuditReport", "Difference", "audit_store", "compare", "default_rerun"]
