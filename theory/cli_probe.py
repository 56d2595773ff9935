"""``entangled probe TARGET``: measure the skip map a residual module applies and check claims.

TARGET is ``package.module:factory`` or ``path/to/file.py:factory``; the factory is called with
no arguments and returns either ``(block, sample_input)`` or a dict with the keys ``block`` and
``input`` and optionally ``streams``, ``dim``, ``layout``, ``silence``, ``exposed``,
``perturb``, ``source``, ``description`` (see :func:`theory.probe.probe_spec`). The current
directory is put on ``sys.path`` first, so ``examples.my_module:factory`` works from the repo
root.

Exit status: 0 when every verdict matches its expectation, 1 when one does not, 2 for usage
errors and targets or conjecture files that fail to load.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

HELP = "measure the skip mapping a residual module actually applies"
MATRIX_PRINT_LIMIT = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="package.module:factory or path/to/file.py:factory; the factory "
                             "takes no arguments and returns (block, sample_input) or a dict "
                             "with keys block, input, streams, dim, layout, silence, exposed, "
                             "perturb, source")
    parser.add_argument("--streams", type=int, default=None, metavar="N",
                        help="number of residual streams n (overrides the factory)")
    parser.add_argument("--dim", type=int, default=None, metavar="D",
                        help="width d of each stream (overrides the factory)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="write the probed mapping and the ledger as JSON to FILE")
    parser.add_argument("--conjectures", action="append", default=[], metavar="PATH",
                        help="extra conjectures (.py file, directory or module) whose families "
                             "include 'probed'; repeatable")


def load_factory(target: str):
    """The callable named by ``module:factory`` or ``file.py:factory``."""
    from theory.probe import ProbeError

    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise ProbeError(f"invalid TARGET={target!r}; allowed: 'package.module:factory' or "
                         "'path/to/file.py:factory'")
    where, name = target.split(":")
    try:
        if where.endswith(".py") or os.sep in where or "/" in where:
            path = Path(where).expanduser().resolve()
            if not path.is_file():
                raise ProbeError(f"invalid TARGET={target!r}: no file {where}")
            module_name = f"_entangled_probe_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.parent))
            try:
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
        else:
            cwd = os.getcwd()
            if cwd not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(where)
    except ProbeError:
        raise
    except Exception as exc:
        raise ProbeError(f"could not load TARGET {target!r}: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ProbeError(f"invalid TARGET={target!r}: {where} has no callable {name!r}")
    return factory


def format_matrix(matrix, limit: int = MATRIX_PRINT_LIMIT) -> str:
    """Rows of the matrix with 4 decimals (the top-left ``limit x limit`` corner when larger)."""
    n = matrix.shape[0]
    shown = matrix[:limit, :limit].tolist()
    lines = ["  " + " ".join(f"{v:8.4f}" for v in row) + (" ..." if n > limit else "")
             for row in shown]
    if n > limit:
        lines.append(f"  ... ({n} x {n}, top-left {limit} x {limit} shown)")
    return "\n".join(lines)


def _value(entry) -> str:
    if entry.worst is None:
        cx = entry.counterexample
        if entry.verdict == "falsified" and cx is not None:
            return f"value={cx.get('value')}"
        return ""
    return f"worst={entry.worst:.3g} (tol {entry.tol:g})"


def run(args: argparse.Namespace) -> int:
    from theory.engine import dedupe
    from theory.loader import load_builtin, load_sources
    from theory.probe import check_probed, probe_spec

    factory = load_factory(args.target)
    try:
        spec = factory()
    except Exception as exc:
        from theory.probe import ProbeError
        raise ProbeError(f"the factory {args.target} raised {type(exc).__name__}: {exc}") from None
    m = probe_spec(spec, source=args.target, streams=args.streams, dim=args.dim)

    try:
        conjectures = load_builtin()
    except Exception as exc:
        print(f"entangled probe: error: the built-in conjecture catalog failed to load: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.conjectures:
        found, errors = load_sources(args.conjectures)
        if errors:
            for error in errors:
                print(f"entangled probe: error: could not load {error['source']}:\n"
                      f"{error['error']}", file=sys.stderr)
            return 2
        conjectures = dedupe(conjectures + found)
    ledger, skipped = check_probed(m, conjectures)

    p = m.params
    description = spec.get("description") if isinstance(spec, dict) else None
    print(f"probe of {p['source']}" + (f" — {description}" if description else ""))
    print(f"  input {tuple(p['input_shape'])}, layout {p['layout']!r}, {p['streams']} streams "
          f"of width {p['dim']}, {p['dtype']}")
    print(f"stream map H ({m.n} x {m.n}), y_i = sum_j H_ij x_j:")
    print(format_matrix(m.dense()))
    exposed = m.exposed_matrix()
    if exposed is not None:
        gap = float((m.dense() - exposed).abs().max())
        print(f"mixing matrix the module computes: max |H - exposed| = {gap:.3g}")
        if gap > 1e-5:
            print(format_matrix(exposed))
    print(f"Kronecker residual ||J - H ⊗ I_d||_F / ||J||_F = {p['kronecker_residual']:.3g}")
    print(f"cross-position leakage = {p['cross_position']:.3g}, "
          f"position spread = {p['position_spread']:.3g}")
    print()
    print("ledger:")
    for entry in ledger.entries:
        mark = "ok " if entry.matches_expected else "!! "
        print(f"  {mark}{entry.verdict:<10} {entry.short_name:<38} {_value(entry)}")
        if not entry.matches_expected:
            print(f"       claim: {entry.statement}")
            if entry.verdict == "error" and entry.error:
                print("       " + entry.error.strip().splitlines()[-1])
            elif entry.verdict == "falsified":
                print(f"       expected {entry.expected}; measured "
                      f"{entry.worst if entry.worst is not None else 'False'}")
    for conj, reason in skipped:
        print(f"  n/a {conj.short_name:<49} {reason}")
    summary = ledger.summary()
    print(f"{summary['total']} claims: {summary['holds']} hold, {summary['falsified']} falsified, "
          f"{summary['error']} errors; {summary['mismatching']} differ from the expectation"
          f" ({len(skipped)} not applicable)")

    if args.json:
        data = {"probe": m.to_dict(), "ledger": ledger.to_dict(),
                "not_applicable": [{"conjecture": c.name, "reason": r} for c, r in skipped]}
        Path(args.json).write_text(json.dumps(data, indent=2, allow_nan=False))
    return 0 if ledger.all_match() else 1
