"""Literature claim 47: are baseline, HC, mHC and circulant mHC within 0.02 nats?

Reads the runs of
``entangled report --suite reports/suites/literature/lit47_stream_lm.toml --out DIR`` and prints, per mapping against the plain-residual baseline (``identity``), the paired
per-seed differences of the validation loss at the selected checkpoint (nats), their mean and
95% interval, and the paired TOST at the claim's margin of 0.02 nats
(:func:`entangled.reports.paired.compare`): "equivalent" when the 90% interval lies inside
(-0.02, 0.02). A run that diverged counts at the loss of a uniform guess, log 28.

    python benchmarks/lit47_loss_equivalence.py DIR
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict

MARGIN = 0.02
BASELINE = "identity"


def validation_loss(result) -> float | None:
    """The validation loss at the selected (best-validation-accuracy) checkpoint."""
    curves = result.curves
    if result.status != "ok" or result.selected_step not in curves.step:
        return None
    value = curves.val_loss[curves.step.index(result.selected_step)]
    return None if value is None or not math.isfinite(value) else float(value)


def losses_by_family(results) -> dict[str, dict[int, float | None]]:
    """``{family: {seed: validation loss}}`` of the ``stream_lm`` runs on ``char_lm``."""
    table: dict[str, dict[int, float | None]] = defaultdict(dict)
    for result in results:
        spec = result.spec
        if spec.arch.name == "stream_lm" and spec.task.name == "char_lm":
            table[spec.skip.family][spec.seed] = validation_loss(result)
    return dict(table)


def comparison_rows(table: dict[str, dict[int, float | None]]) -> list[dict]:
    """One row per mapping against the baseline: the paired comparison at :data:`MARGIN`."""
    from entangled.reports.paired import compare

    if BASELINE not in table:
        raise SystemExit(f"no {BASELINE!r} runs: is this the output of the lit47 suite?")
    rows = []
    for family in sorted(f for f in table if f != BASELINE):
        result = compare(table[family], table[BASELINE], chance=math.log(28), margin=MARGIN,
                         ceiling=math.inf)
        rows.append({"family": family, "seeds": result.n, "mean": result.mean,
                     "low": result.low, "high": result.high,
                     "equivalent": bool(result.tost.equivalent), "tost_p": result.tost.p_value})
    return rows


def main(argv: list[str] | None = None) -> int:
    from entangled.export import read_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="the report output directory (or its runs/ folder)")
    args = parser.parse_args(argv)
    table = losses_by_family(read_results(args.directory))
    print(f"validation loss (nats) at the selected checkpoint, paired against {BASELINE}; "
          f"TOST margin {MARGIN}")
    print(f"{'mapping':<10} {'seeds':>5} {'mean diff':>10} {'95% interval':>22} "
          f"{'TOST p':>8}  within 0.02 nats")
    for row in comparison_rows(table):
        interval = f"[{row['low']:+.4f}, {row['high']:+.4f}]"
        print(f"{row['family']:<10} {row['seeds']:>5} {row['mean']:>+10.4f} {interval:>22} "
              f"{row['tost_p']:>8.3f}  {'yes' if row['equivalent'] else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
