"""Subcommands of the ``entangled`` command that live in the core package, and the
conventions every command shares.

``--json FILE|-``: every command that produces data writes it as strict JSON to ``FILE``
(atomically), or to standard output for ``-``; the human-readable text then goes to standard
error so that the two never mix.

``--yes`` (``report``, ``sweep``): the commands estimate what the runs still to train will cost
before anything trains (:mod:`entangled.cost`) and ask above a limit; without a terminal they
refuse such a job unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_json_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """The shared ``--json FILE|-`` option (``--json`` alone means ``-``), checked when the
    command line is parsed (:func:`output_file`), before any work."""
    parser.add_argument("--json", metavar="FILE|-", nargs="?", const="-", default=None,
                        type=output_file,
                        help=f"write {what} as JSON to FILE ('-' or no value: standard output)")


def output_file(target: str) -> str:
    """``target`` if a file can be written there: ``-`` (standard output), or a path whose
    folder exists and is writable and which is not a directory. An ``argparse`` type, so that
    a wrong path is a usage error at once, not after the work (exit 2)."""
    import os

    if target == "-":
        return target
    folder = os.path.dirname(os.path.abspath(target))
    if os.path.isdir(target):
        raise argparse.ArgumentTypeError(f"{target!r} is a directory; allowed: a file path or '-'")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder of {target!r} does not exist; allowed: a "
                                         "file path in an existing folder, or '-'")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"the folder of {target!r} is not writable; allowed: a "
                                         "file path in a writable folder, or '-'")
    return target


def write_json_output(target: str | None, data: Any) -> None:
    """Write ``data`` to ``target`` (a path, or ``-`` for standard output); no-op for None."""
    if target is None:
        return
    if target == "-":
        sys.stdout.write(json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
        sys.stdout.flush()
        return
    from pathlib import Path

    from entangled.errors import InvalidParameterError
    from entangled.atomic_io import write_json_atomic

    path = Path(target)
    if path.is_dir():
        raise InvalidParameterError("--json", target, "a file path or '-' (this is a directory)")
    try:
        write_json_atomic(path, data)
    except OSError as exc:
        raise InvalidParameterError("--json", target, f"a writable file path or '-' ({exc.strerror})") from None


def text_stream(json_target: str | None):
    """Where human-readable text goes: stderr when JSON goes to stdout, else stdout."""
    return sys.stderr if json_target == "-" else sys.stdout


# ------------------------------------------------------------------ cost gate
def add_yes_argument(parser: argparse.ArgumentParser) -> None:
    """``--yes``: train even when the estimated cost is above the limit."""
    parser.add_argument("--yes", action="store_true",
                        help="train even when the estimated cost of the runs still to train is "
                             "above the limit (entangled.cost; default 48 CPU hours, "
                             "$ENTANGLED_COST_LIMIT_CPU_HOURS); without a terminal such a job "
                             "is refused unless --yes is given")


def _ask_on_terminal():
    """A function asking a question on the terminal, or ``None`` when there is none."""
    if not (sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(question: str) -> str:
        sys.stderr.write(question)
        sys.stderr.flush()
        return sys.stdin.readline()

    return ask


def confirm_cost(configs: Any, out_dir: Any, *, yes: bool, workers: int = 1,
                 shard: Any = None, later: Any = ()) -> None:
    """Estimate the runs of ``configs`` that have no result file in ``out_dir`` yet (of
    ``shard`` only, when given), log the estimate, and stop with
    :class:`entangled.cost.CostRefused` when it is above the limit and not confirmed
    (``yes``, or an answer on the terminal). Invalid configs raise before any estimate.

    ``later``: runs that may follow (a staged report's later stages, at most: see
    :func:`entangled.reports.staged.later_stage_configs`); those without a result file count
    too, so that the gate holds the worst case, and the estimate says how many of each."""
    import dataclasses
    import logging
    from pathlib import Path

    from entangled.cost import check_cost, estimate
    from entangled.store import parse_shard
    from entangled.sweep.planning import plan
    from entangled.sweep.results import result_path

    def still_to_train(planned: dict) -> list:
        return [spec for digest, spec in planned.items()
                if out_dir is None or not result_path(Path(out_dir), digest).exists()]

    planned = plan(configs)
    chosen = parse_shard(shard)
    if chosen is not None:
        keep = chosen.select(planned)
        planned = {digest: spec for digest, spec in planned.items() if digest in keep}
    todo = still_to_train(planned)
    later_planned = {digest: spec for digest, spec in plan(list(later)).items()
                     if digest not in planned}
    more = still_to_train(later_planned)
    cost = estimate(todo + more)
    if later_planned:
        cost = dataclasses.replace(cost, breakdown=f"{len(todo)} at stage 1 and at most "
                                                   f"{len(more)} in later stages")
    logging.getLogger("entangled.cost").info(
        "estimated cost of the %d of %d runs still to train: %s", len(todo) + len(more),
        len(planned) + len(later_planned), cost.describe(workers))
    check_cost(cost, yes=yes, ask=_ask_on_terminal(), workers=workers)
