"""`entangled families`: the measured identity-attribute table, as text and JSON."""

import json
import subprocess
import sys

import entangled as E
from entangled.cli import main


def test_families_json_has_one_row_per_family_with_measured_attributes(capsys):
    assert main(["families", "--n", "16", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_family = {row["family"]: row for row in rows}
    assert sorted(by_family) == E.families()
    identity = by_family["identity"]["shares"]
    assert all(identity[key] for key in identity if key != "distance_from_identity")
    assert identity["distance_from_identity"] == 0.0
    permutation = by_family["permutation"]["shares"]
    assert permutation["unit_eigenvalues"] and permutation["n_nonzeros"] and not permutation["symmetric"]
    circulant = by_family["circulant"]["shares"]
    assert circulant["symmetric"] and circulant["rows_sum_to_one"] and not circulant["unit_eigenvalues"]
    assert by_family["orthogonal"]["shares"]["unit_det"] and not by_family["orthogonal"]["shares"]["nonnegative"]
    assert by_family["sparse"]["params"] == {"density": 0.05, "strength": 0.5, "normalise": "row"}


def test_families_table_is_readable_text(capsys):
    assert main(["families", "--n", "8"]) == 0
    out = capsys.readouterr().out
    assert "n=8" in out and "|eig|=1" in out
    table, declared = out.split("Declared structure", 1)
    lines = [line for line in table.splitlines() if line.split() and line.split()[0] in E.families()]
    assert len(lines) == len(E.families())
    structure = {line.split()[0]: line.split(None, 1)[1] for line in declared.splitlines()
                 if line.split() and line.split()[0] in E.families()}
    assert sorted(structure) == E.families()
    assert structure["orthogonal"] == "orthogonal" and structure["dense"] == "-"
    assert structure["sinkhorn"] == "nonnegative; column_stochastic when iters >= 1"
    identity_line = next(line for line in lines if line.startswith("identity"))
    assert identity_line.split().count("yes") == 8 and identity_line.split()[-1] == "0.000"


def test_families_bad_n_exits_2_with_message():
    result = subprocess.run([sys.executable, "-m", "entangled.cli", "families", "--n", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "n=0" in result.stderr and "positive integer" in result.stderr
