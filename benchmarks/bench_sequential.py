"""Simulated error rates of the staged (group-sequential) design, at the full count.

For each case (shape of the paired differences, their spread, spending function, number of
comparisons in the finding's Holm family, true mean difference) simulates ``--datasets``
findings with :func:`entangled.reports.sequential_simulation.error_rates` and prints:

* at a true mean of 0: the family-wise rate of a false ``reproduced``/``opposite``;
* at :math:`\\pm\\delta` (2 pp): the family-wise rate of a false ``not reproduced``;
* at +10 pp: the power (per comparison) and the mean seeds used, against the cap of 40;

each with its exact 95% interval and whether it is within alpha = 0.05 (interval's lower end
at most alpha); then, for normal differences, the default t adaptation (union bound) against
the significance-level approach at five times the count. The CI test
(tests/test_report_sequential.py) runs a reduced count.

Usage::

    python benchmarks/bench_sequential.py [--datasets 20000] [--stages 5,10,20,40]

About 3–5 minutes at the default count on a busy 2-core machine (numpy, one core).
"""

from __future__ import annotations

import argparse
import time

CASES = [("normal", 0.01), ("normal", 0.05), ("heavy-tailed", 0.03), ("accuracy", 0.01),
         ("accuracy", 0.04)]
MEANS = [0.0, 0.02, -0.02, 0.10]


def main() -> None:
    from entangled.reports.sequential import SPENDING_FUNCTIONS, T_ADAPTATIONS, SequentialDesign
    from entangled.reports.sequential_simulation import error_rates

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20000)
    parser.add_argument("--stages", default="5,10,20,40")
    args = parser.parse_args()
    stages = tuple(int(n) for n in args.stages.split(","))
    start = time.perf_counter()
    print(f"stages {stages}, alpha 0.05, margin ±2 pp, {args.datasets} datasets per case; "
          "rate with exact 95% interval; 'within α': interval's lower end ≤ 0.05")
    print()
    print("| shape | σ (pp) | spending | m | true mean (pp) | rate of | rate | 95% interval "
          "| within α | mean seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spend in SPENDING_FUNCTIONS:
        design = SequentialDesign(stages=stages, spending=spend)
        for shape, sigma in CASES:
            for m in (1, 3):
                for mean in MEANS:
                    r = error_rates(design, shape, sigma, mean, comparisons=m,
                                    datasets=args.datasets, seed=2026)
                    within = "—" if r.error.startswith("power") else (
                        "yes" if r.within_alpha else "**no**")
                    print(f"| {shape} | {100 * sigma:g} | {spend} | {m} | {100 * mean:+g} | "
                          f"{r.error} | {r.rate:.4f} | [{r.low:.4f}, {r.high:.4f}] | {within} | "
                          f"{r.mean_seeds:.1f} |", flush=True)
    print()
    print("strong control: one null comparison beside two at +10 pp (normal, σ 5 pp, Holm "
          "family of 3): rate of a false word on the null one")
    print()
    print("| spending | rate | 95% interval | within α | mean seeds (null one) |")
    print("|---|---|---|---|---|")
    import numpy as np

    from entangled.reports.sequential import run_until_decided
    from entangled.reports.sequential_simulation import clopper_pearson, synthetic_differences
    for spend in SPENDING_FUNCTIONS:
        rng = np.random.default_rng(2028)
        d = synthetic_differences("normal", 0.0, 0.05, (args.datasets, 3, stages[-1]), rng)
        d[:, :2] += 0.10
        out = run_until_decided(SequentialDesign(stages=stages, spending=spend), d, 1)
        hits = int(np.isin(out.words[:, 2], ("reproduced", "opposite")).sum())
        low, high = clopper_pearson(hits, args.datasets)
        print(f"| {spend} | {hits / args.datasets:.4f} | [{low:.4f}, {high:.4f}] | "
              f"{'yes' if low <= 0.05 else '**no**'} | {out.seeds[:, 2].mean():.1f} |",
              flush=True)
    print()
    print("t adaptation (normal differences, σ 5 pp, one comparison): the default union bound "
          "against the significance-level approach (Jennison & Turnbull §11.4)")
    print()
    print("| spending | t adaptation | true mean (pp) | rate of | rate | 95% interval | "
          "within α | mean seeds |")
    print("|---|---|---|---|---|---|---|---|")
    for spend in SPENDING_FUNCTIONS:
        for adaptation in T_ADAPTATIONS:
            design = SequentialDesign(stages=stages, spending=spend, t_adaptation=adaptation)
            for mean in MEANS[:2]:
                r = error_rates(design, "normal", 0.05, mean, datasets=5 * args.datasets,
                                seed=2027)
                within = "yes" if r.within_alpha else "**no**"
                print(f"| {spend} | {adaptation} | {100 * mean:+g} | {r.error} | {r.rate:.4f} | "
                      f"[{r.low:.4f}, {r.high:.4f}] | {within} | {r.mean_seeds:.1f} |",
                      flush=True)
    print()
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
