"""The runs of a sweep: configs read from a file, resolved once and deduplicated, and the
share of one shard."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from entangled.batched import batch_key
from entangled.errors import InvalidParameterError
from entangled.runs import RunSpec, as_spec, config_hash
from entangled.store import Shard


def plan(configs: Iterable[Any]) -> dict[str, RunSpec]:
    """Resolve every config (RunSpec, RunConfig or dict) once, in order, without duplicates:
    ``{hash: resolved spec}``. An invalid config raises before anything runs."""
    ordered: dict[str, RunSpec] = {}
    for config in configs:
        spec = as_spec(config).resolve()
        ordered.setdefault(config_hash(spec), spec)
    return ordered


def shard_of(ordered: dict[str, RunSpec], shard: Shard | None, batched: bool
             ) -> dict[str, RunSpec]:
    """The runs of ``ordered`` that ``shard`` runs, in order (all of them without a shard).

    With seed batching whole batches go to one shard (:meth:`Shard.select_groups`), so every
    shard of one store must batch alike; otherwise :meth:`Shard.select`.
    """
    if shard is None:
        return ordered
    mine = (shard.select_groups({d: batch_key(s) for d, s in ordered.items()}) if batched
            else shard.select(ordered))
    return {digest: spec for digest, spec in ordered.items() if digest in mine}


def read_configs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSON list of run configs (flat RunConfig or nested RunSpec dicts; the input of
    ``entangled sweep``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"a readable JSON file ({exc})") from None
    except ValueError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        data = data["runs"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InvalidParameterError("CONFIGS", str(path), "a JSON list of RunConfig objects")
    return data
