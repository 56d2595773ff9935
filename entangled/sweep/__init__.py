"""Resumable sweeps: a list of run specs executed into a result directory.

Each run is stored as ``<out_dir>/<config_hash>.json`` (the schema-versioned JSON of its
:class:`~entangled.runs.RunResult`), written atomically: the JSON goes to a uniquely named
temporary file in the same directory, is flushed and fsync'ed, then moved over the final name
with :func:`os.replace`. A sweep that is killed therefore leaves only complete result files
(and possibly stray ``.*.<pid>.*.tmp`` files; a later sweep removes only those of processes
that no longer run); re-running it skips every run whose file is valid and runs the rest.

Before a sweep trusts a file it validates it (:func:`entangled.runs.result_from_json`: schema,
value ranges, the hash of the spec equal to the file name). Files are never deleted:

* **invalid** (unreadable, out-of-range values, hash mismatch, extra or missing keys):
  reported, moved to ``<out_dir>/invalid/`` and the run is repeated;
* **stale** (valid, but produced with another torch version or on another device than this
  process would use): reported, moved to ``<out_dir>/stale/`` and repeated;
* **superseded** (an earlier schema, written by an earlier training protocol: test accuracy
  at the last step, no validation split): moved to ``<out_dir>/superseded/``; the runs of the
  sweep are trained under the current protocol (their hashes differ).

Results are read back as JSON only (never pickle).

Several sweeps may share one result directory (hosts on a shared filesystem, array jobs):
each run is trained under an ``O_EXCL`` claim file, so no run is trained twice, and
``shard="I/N"`` splits the runs up front (:mod:`entangled.store`). Runs execute in this
process, in local worker processes or on a Dask cluster (:mod:`entangled.executors`).
Ctrl-C or SIGTERM stops a sweep within seconds: pending runs are cancelled, local workers
terminated, finished result files kept; local workers also end by themselves when the
sweep's process dies.

The package has one module per job, and every public name is importable from
``entangled.sweep`` itself:

* :mod:`~entangled.sweep.loop`: :func:`run_sweep`, the loop;
* :mod:`~entangled.sweep.planning`: the runs of a sweep (:func:`plan`, :func:`read_configs`,
  a shard's share);
* :mod:`~entangled.sweep.results`: the result files (:func:`result_path`,
  :func:`load_results`, :func:`check_result_file`, setting files aside);
* :mod:`~entangled.sweep.execute`: what one executor call does (train under the runs'
  claims, write each result as it finishes);
* :mod:`~entangled.sweep.progress`: the progress bar and its log lines;
* :mod:`~entangled.sweep.workers`: how many local workers this machine holds;
* :mod:`~entangled.sweep.summary`: :class:`SweepSummary`, what a sweep did.

Its messages go to the one logger ``entangled.sweep``.
"""

from __future__ import annotations

from entangled.atomic_io import write_json_atomic
from entangled.runs import canonical_json, config_hash
from entangled.sweep.loop import run_sweep
from entangled.sweep.planning import read_configs
from entangled.sweep.results import check_result_file, load_results, result_path
from entangled.sweep.summary import SweepSummary

# Importable from here as before the split (callers and tests use them), not in __all__:
from entangled.sweep.loop import SweepInterrupted as SweepInterrupted
from entangled.sweep.planning import plan as plan
from entangled.sweep.progress import ProgressBar as ProgressBar
from entangled.sweep.progress import duration_text as duration_text
from entangled.sweep.results import SET_ASIDE as SET_ASIDE
from entangled.sweep.results import prepare_out_dir as prepare_out_dir
from entangled.sweep.results import produced_differently as produced_differently
from entangled.sweep.results import read_result as read_result
from entangled.sweep.results import remove_stray_temp_files as remove_stray_temp_files
from entangled.sweep.results import set_aside as set_aside
from entangled.sweep.results import supersede_directory as supersede_directory
from entangled.sweep.workers import WORKER_MEMORY_BYTES as WORKER_MEMORY_BYTES
from entangled.sweep.workers import available_memory_bytes as available_memory_bytes
from entangled.sweep.workers import local_worker_limit as local_worker_limit

__all__ = ["SweepSummary", "canonical_json", "check_result_file", "config_hash", "load_results",
           "read_configs", "result_path", "run_sweep", "write_json_atomic"]
