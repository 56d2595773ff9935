"""``entangled families``: the families and which attributes of the identity each shares."""

from __future__ import annotations

import argparse

from entangled.commands import add_json_argument, write_json_output


HELP = "list mapping families and which attributes of the identity each shares"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=64, help="size at which to measure (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random families (default 0)")
    add_json_argument(parser, "the rows")


def format_table(rows: list[dict]) -> str:
    """Plain-text table: one line per family, ``yes``/``-`` per identity attribute."""
    from entangled.properties import IDENTITY_ATTRIBUTES

    headers = ["family", "parameters"] + [a.label for a in IDENTITY_ATTRIBUTES] + ["||M-I||F/sqrt(n)"]
    body = []
    for row in rows:
        params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row["params"].items())
        cells = [row["family"], params or "-"]
        cells += ["yes" if row["shares"][a.key] else "-" for a in IDENTITY_ATTRIBUTES]
        cells.append(f"{row['shares']['distance_from_identity']:.3f}")
        body.append(cells)
    widths = [max(len(str(r[i])) for r in [headers] + body) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def format_structure(rows: list[dict]) -> str:
    """One line per family: the structure it declares (``structure_when`` after ``;``)."""
    width = max(len(row["family"]) for row in rows)
    lines = []
    for row in rows:
        text = ", ".join(row["structure"]) or "-"
        if row["structure_when"]:
            text += "; " + "; ".join(row["structure_when"])
        lines.append(f"{row['family'].ljust(width)}  {text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from entangled.properties import family_rows

    rows = family_rows(args.n, args.seed)
    write_json_output(args.json, rows)
    if args.json != "-":  # the table, unless JSON goes to standard output
        print(f"Attributes of the identity shared by each family (n={args.n}, seed={args.seed}, "
              f"tolerance 1e-9):\n")
        print(format_table(rows))
        print("\nDeclared structure (holds for every member, implied terms omitted; verified on "
              "sampled members; @conjecture(requires=...) chooses families by it):\n")
        print(format_structure(rows))
    return 0
