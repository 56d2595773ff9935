"""``entangled calibrate``: choose the primary tasks' difficulty on validation (headroom)."""

from __future__ import annotations

import argparse

from entangled.commands import (add_json_argument, add_yes_argument, confirm_cost, text_stream,
                                write_json_output)

HELP = "choose task difficulty on validation so the identity skip has headroom"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from entangled.reports.presets import preset_names

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=preset_names(), default="quick",
                        help="built-in suite whose [[calibration]] entries to run (default quick)")
    source.add_argument("--suite", metavar="FILE.toml", default=None,
                        help="your own suite file with [[calibration]] entries")
    parser.add_argument("--out", default=None,
                        help="directory of the calibration runs (resumable; default "
                             "reports/out/<suite>-calibration)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel training workers (default 1)")
    parser.add_argument("--mnist1d-references", action="store_true",
                        help="instead: train the MNIST-1D paper's reference models the published "
                             "way (4000/1000 split, 6001 updates) on --seeds seeds into this "
                             "machine's cache, which every later report shows")
    parser.add_argument("--seeds", type=int, default=5,
                        help="seeds of the reference models (with --mnist1d-references; default 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_yes_argument(parser)
    add_json_argument(parser, "the calibration results")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from entangled.errors import InvalidParameterError
    from entangled.reports import presets
    from entangled.atomic_io import check_path_name
    from entangled.reports.headroom import calibrate, calibration_run_configs

    if args.jobs < 1:
        raise InvalidParameterError("--jobs", args.jobs, "a positive integer")
    if args.mnist1d_references:
        return _references(args)
    suite = presets.load_suite(args.suite) if args.suite else presets.get_preset(args.preset)
    out_dir = (Path(args.out) if args.out else
               Path("reports") / "out" / check_path_name(f"{suite.name}-calibration", "suite name"))
    confirm_cost(calibration_run_configs(suite), out_dir, yes=args.yes, workers=args.jobs)
    results = calibrate(suite, out_dir=out_dir, jobs=args.jobs, progress=not args.no_progress)
    stream = text_stream(args.json)
    print(f"# calibration of suite {suite.name!r}: identity skip, validation accuracy only, "
          f"band {suite.band[0]:g}-{suite.band[1]:g}", file=stream)
    for result in results:
        print(f"# {result.arch} on {result.task}: set task_options.{result.knob} = "
              f"{result.chosen!r} in its [[runs]] group", file=stream)
        print(result.toml() + "\n", file=stream)
    write_json_output(args.json, [r.__dict__ for r in results])
    return 0


def _references(args: argparse.Namespace) -> int:
    from entangled.errors import InvalidParameterError
    from entangled.reports import calibration

    if args.seeds < 2:
        raise InvalidParameterError("--seeds", args.seeds, "an integer >= 2 (an interval needs two)")
    cache = calibration.references_cache()
    accuracies = calibration.reference_accuracies(seeds=range(args.seeds), cache=cache,
                                                  jobs=args.jobs)
    stream = text_stream(args.json)
    print(f"# MNIST-1D reference models, the published protocol, {args.seeds} seeds "
          f"(kept in {cache})", file=stream)
    rows = calibration.reference_rows(accuracies)
    for row in rows:
        print(f"{row['variant']:<17} {row['label']:<31} published {100 * row['published']:.0f}%  "
              f"measured {100 * row['ours']:.1f}% [{100 * row['low']:.1f}, {100 * row['high']:.1f}]  "
              f"{'matches' if row['matches'] else 'does not match'}", file=stream)
    write_json_output(args.json, rows)
    return 0
