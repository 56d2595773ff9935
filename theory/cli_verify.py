"""``entangled verify``: run conjectures and print the ledger of verdicts.

Exit status: 0 when every verdict matches its ``expected``, 1 when some does not, 2 for usage
errors (a PATH that does not exist: reported at once, nothing runs) or a source that failed to
load (reported with its traceback before the search starts; the others still run).

The conjectures run isolated in a child process: ``sys.exit``, ``os._exit``, an exception of
any kind or a check longer than ``--timeout`` seconds is an ``error`` verdict of that check,
never the exit status of the command.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from entangled.atomic_io import write_text_atomic
from entangled.commands import output_file

HELP = "run conjectures and print the ledger of verdicts"

#: Default of ``--timeout`` (same as :data:`entangled.theory.engine.DEFAULT_TIMEOUT`; kept here so that
#: ``--help`` does not import the engine).
DEFAULT_TIMEOUT = 120.0

EPILOG = """\
PATH is a .py file, a directory (every .py file below it) or a dotted module name.
Without PATH the built-in catalog (entangled.theory.conjectures) is verified; with PATHs the catalog
is verified too unless --no-builtin is given.

Conjectures run in a child process; a check that exits, crashes or runs longer than
--timeout seconds gets the verdict "error" and the others still run.

exit status: 0 all verdicts match their expectation, 1 some do not, 2 usage or load error
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``entangled verify`` to ``parser``."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="conjecture file, directory or dotted module name")
    parser.add_argument("--json", metavar="FILE", default=None, type=output_file,
                        help="also write the ledger as JSON to FILE")
    parser.add_argument("--examples", metavar="N", type=_positive_int, default=None,
                        help="hypothesis examples per conjecture and family "
                             "(default: the conjecture's own, else 30)")
    parser.add_argument("--seed", metavar="S", type=_nonnegative_int, default=0,
                        help="base seed of the search (default 0)")
    parser.add_argument("--family", metavar="F", action="append", default=None,
                        help="only check family F (repeatable)")
    parser.add_argument("--timeout", metavar="SECONDS", type=_positive_float,
                        default=DEFAULT_TIMEOUT,
                        help="time limit of one conjecture x family check, and of loading one "
                             f"source (default {DEFAULT_TIMEOUT:g} s); past it: verdict error")
    parser.add_argument("--no-builtin", action="store_true",
                        help="do not verify the built-in catalog")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress lines on stderr")


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"invalid SECONDS={text!r}; allowed: a number > 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid N={text!r}; allowed: a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid N={text!r}; allowed: a positive integer")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid S={text!r}; allowed: an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid S={text!r}; allowed: an integer >= 0")
    return value


# ------------------------------------------------------------------------ formatting
def format_value(value) -> str:
    """Measured value for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    return f"{value:.3g}"


def format_ledger(ledger) -> str:
    """The ledger as a plain-text table, counterexample snippets and errors under their rows,
    followed by the summary line."""
    headers = ("conjecture", "family", "verdict", "expected", "examples", "worst", "match")
    rows = []
    notes: dict[int, list[str]] = {}
    for index, entry in enumerate(ledger.entries):
        mark = "ok" if entry.matches_expected else "MISMATCH"
        rows.append((entry.short_name or entry.conjecture, entry.where, entry.verdict,
                     entry.expected, str(entry.examples), format_value(entry.worst), mark))
        lines = []
        cx = entry.counterexample
        if cx is not None and entry.verdict in ("falsified", "error"):
            where = f"n={cx.get('n')}" + (f", depth={cx['depth']}" if "depth" in cx else "")
            lines.append(f"counterexample ({where}, value={format_value(cx.get('value'))}):")
            lines.append(f"  {cx['snippet']}")
        if entry.error:
            lines += ["error: " + line for line in _last_lines(entry.error, 6)]
        if lines:
            notes[index] = lines
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
           "  ".join("-" * w for w in widths).rstrip()]
    for index, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        out += ["    " + line for line in notes.get(index, [])]
    for failure in ledger.load_errors:
        out.append("")
        out.append(f"LOAD ERROR {failure['source']}:")
        out += ["    " + line for line in failure["error"].rstrip().splitlines()]
    out.append("")
    out.append(summary_line(ledger))
    return "\n".join(out)


def _last_lines(text: str, count: int) -> list[str]:
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    return lines[-count:]


def summary_line(ledger) -> str:
    s = ledger.summary()
    text = (f"{s['total']} checks: {s['proved']} proved, {s['holds']} hold, "
            f"{s['falsified']} falsified, {s['error']} error; "
            f"{s['matching']} match expectations, {s['mismatching']} do not")
    if s["load_errors"]:
        text += f"; {s['load_errors']} source(s) failed to load"
    return text + f" ({ledger.seconds:.1f} s)"


def _progress(stream: TextIO):
    def report(index: int, total: int, entry) -> None:
        flag = "" if entry.matches_expected else "  MISMATCH"
        stream.write(f"[{index}/{total}] {entry.short_name} {entry.where}: {entry.verdict} "
                     f"({entry.examples} examples, {entry.seconds:.2f} s){flag}\n")
        stream.flush()
    return report


def _report_load_errors(stream: TextIO):
    """Print each source that failed to load as soon as loading ends (before the search)."""
    def report(pairs: int, load_errors: list[dict]) -> None:
        for failure in load_errors:
            last = _last_lines(failure["error"], 1)
            stream.write(f"entangled verify: could not load {failure['source']}: "
                         f"{last[0] if last else 'error'} (traceback below the ledger)\n")
        if load_errors:
            stream.write(f"entangled verify: checking the {pairs} check(s) of the sources "
                         "that loaded\n")
        stream.flush()
    return report


def run(args: argparse.Namespace) -> int:
    """Run ``entangled verify``; return the exit status."""
    from entangled.theory.engine import verify
    from entangled.theory.loader import ConjectureLoadError, expand_source

    builtin = not args.no_builtin
    if not builtin and not args.paths:
        print("entangled verify: error: --no-builtin needs at least one PATH", file=sys.stderr)
        return 2
    bad = []
    for path in args.paths:  # fail fast: a wrong PATH is reported before anything runs
        try:
            expand_source(path)
        except ConjectureLoadError as exc:
            bad.append(str(exc))
    if bad:
        for message in bad:
            print(f"entangled verify: error: {message}", file=sys.stderr)
        return 2
    progress = None if args.quiet else _progress(sys.stderr)
    ledger = verify(args.paths, builtin=builtin, examples=args.examples, seed=args.seed,
                    families=args.family, progress=progress, timeout=args.timeout,
                    loaded=_report_load_errors(sys.stderr))
    if args.json:  # written first: a closed stdout (`| head`) must not lose the ledger
        try:
            write_text_atomic(args.json, ledger.to_json() + "\n")
        except OSError as exc:
            print(format_ledger(ledger))
            print(f"entangled verify: error: cannot write --json {args.json}: {exc}",
                  file=sys.stderr)
            return 2
    print(format_ledger(ledger))
    if builtin:
        from entangled.theory.literature import literature_summary

        summary = literature_summary(ledger)
        if summary:
            print()
            print("\n".join(summary))
    if ledger.load_errors:
        return 2
    if not ledger.entries:
        print("entangled verify: error: no conjecture was checked (none found for the "
              "given PATHs and --family)", file=sys.stderr)
        return 2
    return 0 if ledger.all_match() else 1
