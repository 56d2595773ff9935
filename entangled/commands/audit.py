"""``entangled audit RUNS_DIR [--rerun K] [--seed S] [--json FILE|-]``: check a result store's
files against its manifest, and retrain K sampled runs to compare with what is stored."""

from __future__ import annotations

import argparse

from entangled.commands import add_json_argument, text_stream, write_json_output

HELP = "check a result store's files and retrain a sample of its runs to compare"


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer >= 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_dir", metavar="RUNS_DIR",
                        help="a sweep's result directory (or a report directory with runs/)")
    parser.add_argument("--rerun", metavar="K", type=_count, default=0,
                        help="retrain K runs drawn at random from the valid ones and compare "
                             "them with what is stored (default 0: check the files only)")
    parser.add_argument("--seed", metavar="S", type=_count, default=0,
                        help="seed of the random draw of --rerun (default 0)")
    add_json_argument(parser, "the audit (problems, reruns, differences)")


def run(args: argparse.Namespace) -> int:
    import logging

    from entangled.audit import audit_store

    log = logging.getLogger("entangled.audit")
    report = audit_store(args.runs_dir, rerun=args.rerun, seed=args.seed, progress=log.info)
    write_json_output(args.json, report.to_dict())
    print(report.text(), file=text_stream(args.json))
    return 0 if report.clean else 1
