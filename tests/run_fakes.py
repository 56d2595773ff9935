"""Typed run results without training: a known function of the spec (for sweep and report
tests)."""

from __future__ import annotations

import os

from entangled.runs import Curves, RunResult, as_spec, config_hash


def fake_result(config, status: str = "ok", test_accuracy: float | None = None,
                chance: float = 0.1, time_structure: str = "time-invariant") -> RunResult:
    """A valid RunResult for ``config`` (a RunSpec, RunConfig or dict); accuracies default to
    ``0.25 + seed / 1000``."""
    import torch

    spec = as_spec(config).resolve()
    seed = spec.seed
    ok = status == "ok"
    acc = 0.25 + seed / 1000 if test_accuracy is None else test_accuracy
    return RunResult(
        spec=spec, config_hash=config_hash(spec), status=status,
        steps_done=spec.budget.steps, steps_planned=spec.budget.steps, diverged_at=None,
        train_accuracy=0.5 + seed / 1000 if ok else None,
        train_loss=1.0 / (seed + 1) if ok else None,
        test_accuracy=acc if ok else None,
        test_loss=2.0 / (seed + 1) if ok else None, chance_accuracy=chance,
        memoryless_accuracy=0.1, time_structure=time_structure, input_kind="sequence",
        skip_width=16, curves=Curves([0, 1], [None, 0.5], [1.0, 0.5], [0.1, 0.2]),
        metrics={}, n_parameters=seed, device="cpu", threads=spec.budget.threads,
        torch_version=torch.__version__, validation_accuracy=acc if ok else None,
        selected_step=spec.budget.steps if ok else None, steps_to_threshold=1 if ok else None,
        wall_time_s=0.0, environment={"pid": os.getpid()},
    )


def sleepy_run(spec) -> RunResult:
    """Marks ``$ENTANGLED_TEST_MARKS/pid-<pid>`` and sleeps a minute (interruption tests)."""
    import time
    from pathlib import Path

    marks = Path(os.environ["ENTANGLED_TEST_MARKS"])
    (marks / f"pid-{os.getpid()}").write_text(str(spec.seed))
    time.sleep(60)
    return fake_result(spec)


def smoke_shard_size(shard: str) -> int:
    """How many of the smoke suite's runs shard ``shard`` (``"I/N"``) holds: the shards take
    the sorted distinct hashes in turn."""
    from entangled.store import parse_shard
    from entangled.reports import presets

    hashes = {c.hash() for c in presets.get_preset("smoke").configs()}
    return len(parse_shard(shard).select(hashes))

