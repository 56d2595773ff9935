"""``entangled report``: run a suite and write the self-contained HTML report."""

from __future__ import annotations

import argparse
import os
import sys

from entangled.commands import (add_json_argument, add_yes_argument, confirm_cost, text_stream,
                                write_json_output)

HELP = "run a suite and write the self-contained HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from entangled.reports.presets import preset_names

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=preset_names(), default="quick",
                        help="built-in suite: smoke (CI), quick (default, F1-F3) or full")
    source.add_argument("--suite", metavar="FILE.toml", default=None,
                        help="your own suite file (name, seeds, [[runs]] with arch, task, "
                             "variants and budget keys; see reports/suites/*.toml)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: reports/out/<suite name> under the current directory)")
    parser.add_argument("--conjectures", nargs="+", default=[], metavar="PATH",
                        help="extra conjecture files, directories or modules for the ledger")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel training workers (default: number of CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    from entangled.commands.sweep import add_scaleout_arguments

    add_scaleout_arguments(parser, batching_default=None)  # also --seed-batching
    decided = parser.add_mutually_exclusive_group()
    decided.add_argument("--until-decided", dest="until_decided", action="store_true",
                         default=True,
                         help="run the suite's [sequential] design: add stages of seeds only to "
                              "primary comparisons still undecided (default when the suite has "
                              "the table; the presets do)")
    decided.add_argument("--fixed-design", dest="until_decided", action="store_false",
                         help="train every run of the suite once, no stages")
    add_yes_argument(parser)
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="exit 0 even when a conjecture's verdict differs from its "
                             "expectation (default: exit 1)")
    add_json_argument(parser, "the report's summary (findings, runs, mismatches)")


def run(args: argparse.Namespace) -> int:
    from entangled.errors import InvalidParameterError
    from entangled.reports import presets
    from entangled.reports.build import make_report, report_dir, train_shard
    from entangled.reports.fragility import fragility
    from entangled.reports.staged import later_stage_configs

    if args.jobs is not None and args.jobs < 1:
        raise InvalidParameterError("--jobs", args.jobs, "a positive integer")
    from entangled.theory.loader import expand_source

    for path in args.conjectures:  # fail fast: a wrong PATH stops before anything trains
        expand_source(path)
    suite = presets.load_suite(args.suite) if args.suite else presets.get_preset(args.preset)
    runs_dir = report_dir(suite, args.out) / "runs"
    staged = args.until_decided and not args.shard  # a shard trains stage 1's runs only
    confirm_cost(presets.run_configs(suite), runs_dir, yes=args.yes,
                 workers=args.jobs or max(1, os.cpu_count() or 1), shard=args.shard,
                 later=later_stage_configs(suite) if staged else ())
    out = text_stream(args.json)
    if args.shard:
        summary = train_shard(args.preset, args.out, args.shard, jobs=args.jobs,
                              progress=not args.no_progress, executor=args.executor,
                              scheduler=args.scheduler, suite=suite,
                              seed_batching=args.seed_batching)
        write_json_output(args.json, summary.to_dict())
        again = f"--suite {args.suite}" if args.suite else f"--preset {args.preset}"
        print(f"shard {summary.shard}: {summary.total} runs, {summary.skipped} already done, "
              f"{summary.ran} run now, {summary.done_elsewhere} by another sweep, "
              f"{len(summary.failed)} failed. Once every shard is done, `entangled report "
              f"{again}` with the same --out renders the page.", file=out)
        return 0 if summary.complete else 1
    outcome = make_report(suite, args.out, conjecture_paths=args.conjectures, jobs=args.jobs,
                          progress=not args.no_progress, executor=args.executor,
                          scheduler=args.scheduler, seed_batching=args.seed_batching,
                          until_decided=args.until_decided)
    print(outcome.terminal_summary(), file=sys.stderr)
    write_json_output(args.json, {
        "index": str(outcome.index.resolve()),
        "findings": [{"key": j.finding.key, "verdict": j.verdict,
                      "fragility": fragility(j.to_dict())} for j in outcome.findings],
        "mismatches": outcome.mismatches, "unconfirmed": outcome.unconfirmed,
        "runs": outcome.runs,
        "wall_time_s": outcome.wall_time_s})
    print(outcome.index.resolve(), file=out)
    if outcome.mismatches and not args.allow_mismatch:
        print(f"entangled report: {len(outcome.mismatches)} conjecture verdict(s) differ from "
              "the expectation (exit 1; --allow-mismatch to exit 0)", file=sys.stderr)
        return 1
    return 0
