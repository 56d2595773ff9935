"""Conjectures checked in several precisions (``@conjecture(dtypes=[...])``).

Known answer: the published Sinkhorn initialisation (off-diagonal logits -8, temperature 0.05)
underflows to an exact permutation in float32 — ``exp(-160)`` is below float32's smallest
subnormal (1.4e-45) and far above float64's (4.9e-324) — so "every entry of the projection is
positive" and "the gradient reaches every logit" hold in float64 and fail in float32, on the
same examples.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import entangled as E
from entangled.mappings.sinkhorn import published_default_logits
from entangled.theory.engine import check, plan_checks, run_conjectures
from entangled.theory.ledger import Ledger, LedgerEntry
from entangled.theory.registry import make_conjecture

PRECISION_FILE = textwrap.dedent('''
    import torch
    from entangled.mappings.sinkhorn import published_default_logits
    from entangled.theory import conjecture

    @conjecture(families=["sinkhorn"], params={"temperature": 0.05}, n=(2, 5), examples=4,
                dtypes=["float64", "float32"],
                expected={"float64": "holds", "float32": "falsified"})
    def published_projection_is_positive(m, dtype):
        """Every entry of SK_20 of the published logits is positive in the dtype of use."""
        return bool(m.matrix_in(dtype, logits=published_default_logits(m.n)).min() > 0)
''')


@pytest.fixture()
def precision_claim(tmp_path):
    from entangled.theory.loader import load_file

    path = tmp_path / "precision.py"
    path.write_text(PRECISION_FILE)
    (conj,) = load_file(str(path))
    return conj, path


def test_published_sinkhorn_logits_underflow_only_in_float32():
    m = E.make_mapping("sinkhorn", 4, temperature=0.05)
    logits = published_default_logits(4)
    f64 = m.matrix_in(torch.float64, logits=logits)
    f32 = m.matrix_in(torch.float32, logits=logits)
    off = ~torch.eye(4, dtype=torch.bool)
    assert float(f64[off].min()) == pytest.approx(torch.exp(torch.tensor(-160.0,
                                                  dtype=torch.float64)).item(), rel=1e-6)
    assert torch.equal(f32, torch.eye(4))                    # an exact permutation
    torch.testing.assert_close(m.matrix_in(torch.float64), m.matrix(), atol=0, rtol=0)


def test_one_entry_per_dtype_with_both_verdicts(precision_claim):
    conj, _ = precision_claim
    assert conj.dtypes == ("float64", "float32")
    assert [d for _, _, d in plan_checks([conj])] == ["float64", "float32"]
    ledger = run_conjectures([conj], seed=0)
    by_dtype = {e.dtype: e for e in ledger.entries}
    assert set(by_dtype) == {"float64", "float32"}
    assert by_dtype["float64"].verdict == "holds" and by_dtype["float64"].expected == "holds"
    f32 = by_dtype["float32"]
    assert f32.verdict == "falsified" and f32.expected == "falsified" and f32.matches_expected
    assert f32.counterexample["n"] == 2                         # shrunk to the smallest n
    assert f32.where == "sinkhorn float32" and by_dtype["float64"].where == "sinkhorn float64"
    # the entry round-trips with its dtype, and an old entry without one still loads
    again = LedgerEntry.from_json(f32.to_json())
    assert again == f32
    old = {k: v for k, v in f32.to_dict().items() if k != "dtype"}
    assert LedgerEntry.from_dict(old).dtype is None


def test_snippet_reproduces_the_float32_value(precision_claim):
    conj, _ = precision_claim
    entry = check(conj, "sinkhorn", dtype="float32", examples=4)
    snippet = entry.counterexample["snippet"]
    assert "dtype=torch.float32" in snippet
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_dtype_declarations_are_checked():
    def no_dtype(m):
        return True

    def with_dtype(m, dtype):
        return True

    with pytest.raises(ValueError, match="a function that takes a dtype keyword"):
        make_conjecture(no_dtype, families=["identity"], dtypes=["float32"])
    with pytest.raises(ValueError, match="invalid dtypes=\\['float8'\\]"):
        make_conjecture(with_dtype, families=["identity"], dtypes=["float8"])
    with pytest.raises(ValueError, match="invalid dtypes"):
        make_conjecture(with_dtype, families=["identity"], dtypes=["float32", "float32"])
    with pytest.raises(ValueError, match="over the declared dtypes"):
        make_conjecture(no_dtype, families=["identity"], expected={"float32": "holds"})
    with pytest.raises(ValueError, match="over the declared dtypes"):
        make_conjecture(with_dtype, families=["identity"], dtypes=["float32"],
                        expected={"float64": "holds"})
    conj = make_conjecture(with_dtype, families=["identity"], dtypes=["float64", "float32"],
                           expected={"float32": "falsified"})
    assert conj.expected_for("float32") == "falsified"
    assert conj.expected_for("float64") == "holds" == conj.expected
    with pytest.raises(ValueError, match="one of the dtypes float64, float32"):
        check(conj, "identity", dtype="bfloat16")
    plain = make_conjecture(no_dtype, families=["identity"])
    with pytest.raises(ValueError, match="declares no dtypes"):
        check(plain, "identity", dtype="float32")
    assert check(plain, "identity", examples=2).dtype is None


def test_verify_cli_shows_both_dtypes(precision_claim, tmp_path, capsys):
    from entangled.cli import main

    _, path = precision_claim
    out = tmp_path / "ledger.json"
    code = main(["verify", str(path), "--no-builtin", "--json", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "sinkhorn float64" in text and "sinkhorn float32" in text
    ledger = Ledger.from_dict(json.loads(out.read_text()))
    assert {(e.dtype, e.verdict) for e in ledger.entries} == {("float64", "holds"),
                                                               ("float32", "falsified")}


def test_dtype_claim_is_called_with_the_torch_dtype():
    seen = []

    def records_dtype(m, dtype):
        """Records the dtype it is called with."""
        seen.append(dtype)
        return m.dense().to(dtype).dtype == dtype

    conj = make_conjecture(records_dtype, families=["identity"], n=(1, 2), examples=2,
                           dtypes=["float32", "bfloat16"])
    for dtype in ("float32", "bfloat16"):
        assert check(conj, "identity", dtype=dtype).verdict == "holds"
    assert set(seen) == {torch.float32, torch.bfloat16}
