"""What a sweep did: :class:`SweepSummary`, returned by :func:`entangled.sweep.run_sweep`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SweepSummary:
    """What :func:`~entangled.sweep.run_sweep` did.

    Attributes
    ----------
    out_dir : the result directory.
    total : distinct runs in the sweep.
    skipped : runs already finished before this call (valid result files).
    ran : runs executed by this call and written.
    failed : ``[{"hash", "label", "error"}]`` for runs that raised (not written; rerun next time).
    corrupt : ``[{"path", "reason", "moved_to"}]`` invalid result files found, moved aside
        and rerun.
    stale : ``[{"path", "reason", "moved_to"}]`` valid files produced differently (torch
        version, device), moved aside and rerun.
    superseded : ``[{"path", "reason", "moved_to"}]`` files of an earlier schema (another
        training protocol) moved to ``superseded/``.
    diverged : hashes of runs (old or new) with status ``"diverged"``.
    shard : ``"I/N"`` when only shard I of N was run (``total`` counts that shard's runs).
    done_elsewhere : runs finished by another sweep on the same directory during this call.
    claimed_elsewhere : hashes of runs still being trained by another sweep when this call
        returned (only with ``wait=False``).
    adopted : result files of a store written before manifests existed whose digests this
        call recorded (:func:`entangled.store.adopt_store`).
    hashes : the config hash of every run, in sweep order.
    ran_hashes : the hashes of the runs executed (and written) by this call.
    wall_time_s : duration of the call.
    """

    out_dir: str
    total: int = 0
    skipped: int = 0
    ran: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    corrupt: list[dict[str, str]] = field(default_factory=list)
    stale: list[dict[str, str]] = field(default_factory=list)
    superseded: list[dict[str, str]] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    ran_hashes: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    shard: str | None = None
    done_elsewhere: int = 0
    claimed_elsewhere: list[str] = field(default_factory=list)
    adopted: int = 0

    @property
    def complete(self) -> bool:
        """Every run of the sweep (of its shard) has a valid result file."""
        return not self.failed and self.skipped + self.ran + self.done_elsewhere == self.total

    @property
    def rerun(self) -> int:
        """Runs done again because their file was invalid or stale."""
        return len(self.corrupt) + len(self.stale)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
