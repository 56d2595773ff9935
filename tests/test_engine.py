"""Tests of the conjecture engine: decorator, verdicts, counterexamples, snippets, ledger."""

import contextlib
import io
import json
import math
import textwrap

import pytest
from hypothesis import strategies as st

import entangled as E
from entangled import theory
from entangled.theory import conjecture
from entangled.theory.engine import check, evaluate_on, plan, verify
from entangled.theory.ledger import Ledger, LedgerEntry
from entangled.theory.loader import load_builtin, load_file, load_sources
from entangled.theory.registry import all_conjectures

CONJECTURES = '''
import math
import torch
from entangled.theory import conjecture


@conjecture(families=["rotation", "orthogonal"], n=(1, 12))
def at_most_three(m):
    """Every mapping has n <= 3."""
    return m.n <= 3


@conjecture(families=["rotation"], n=(1, 12))
def unit_singular_values(m):
    """Rotations are isometries: all singular values are 1."""
    return float((m.singular_values() - 1).abs().max())


@conjecture(families=["rotation"], n=(2, 6), tol=1e-3)
def rotation_close_to_identity(m):
    """Every rotation is within 1e-3 of I (false: theta can be large)."""
    return float((m.matrix() - torch.eye(m.n, dtype=torch.float64)).abs().max())


@conjecture(families=["identity"], n=(1, 3))
def identity_count(m):
    """Identity has trace n."""
    return abs(float(m.matrix().trace()) - m.n)


@conjecture(families=["identity"], expected="falsified")
def identity_is_not_identity(m):
    """Believed false."""
    return False


@conjecture(families=["orthogonal"], depth=(1, 6), n=(1, 4))
def short_products(ms):
    """Depth claims receive tuples; false: tuples can be longer than 2."""
    return len(ms) <= 2


@conjecture(families=["birkhoff"], depth=(1, 5), n=(1, 6))
def birkhoff_products_row_stochastic(ms):
    """Products of Birkhoff mappings are row stochastic."""
    product = torch.eye(ms[0].n, dtype=torch.float64)
    for m in ms:
        product = m.matrix() @ product
    return float((product.sum(dim=1) - 1).abs().max())


@conjecture(families=["identity"])
def returns_nan(m):
    """NaN never holds."""
    return math.nan


@conjecture(families=["identity"])
def raises(m):
    """Crashes."""
    raise RuntimeError("kaboom in conjecture")


@conjecture(families=["identity"])
def returns_text(m):
    """Bad return type."""
    return "yes"


@conjecture(families=["probed"])
def probed_only(m):
    """Only for evaluate_on."""
    return float(m.matrix().abs().max())
'''


@pytest.fixture(scope="module")
def conj_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "userconj.py"
    path.write_text(textwrap.dedent(CONJECTURES))
    return path


@pytest.fixture(scope="module")
def fns(conj_file):
    return {c.function_name: c.function for c in load_file(conj_file)}


def run_snippet(snippet):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet, {})
    return out.getvalue().strip()


# ----------------------------------------------------------------------- decorator
def test_decorator_returns_function_with_conjecture(fns):
    fn = fns["unit_singular_values"]
    c = fn.__conjecture__
    assert fn(E.make_mapping("rotation", 4, theta=0.3)) < 1e-12
    assert c.name == "userconj.unit_singular_values"
    assert c.short_name == "userconj.unit_singular_values" and c.theme == "userconj"
    assert c.statement == "Rotations are isometries: all singular values are 1."
    assert c.n == (1, 12) and c.depth is None and c.expected == "holds"
    assert fns["short_products"].__conjecture__.depth == (1, 6)


def test_module_level_conjecture_registers_globally_once():
    @conjecture(families=["identity"], n=2, depth=3)
    def local_claim(m):
        """A claim."""
        return True

    c = local_claim.__conjecture__
    assert c.n == (2, 2) and c.depth == (3, 3)
    names = [x.name for x in all_conjectures()]
    assert names.count(c.name) == 1


@pytest.mark.parametrize("kwargs, name", [
    (dict(families=[]), "families"),
    (dict(families="orthogonal"), "families"),
    (dict(families=["rotation"], tol=-1.0), "tol"),
    (dict(families=["rotation"], tol=math.nan), "tol"),
    (dict(families=["rotation"], n=0), "n"),
    (dict(families=["rotation"], n=(5, 2)), "n"),
    (dict(families=["rotation"], depth=(2, 1)), "depth"),
    (dict(families=["rotation"], expected="maybe"), "expected"),
    (dict(families=["rotation"], examples=0), "examples"),
    (dict(families=["rotation"], params={"strength": 0.5}), "params"),
    (dict(families=["rotation"], params={"theta": math.inf}), "theta"),
    (dict(families=["rotation"], proof=object()), "proof"),
    (dict(requires=["unitary"]), "requires"),
    (dict(excludes="orthogonal_ish"), "excludes"),
    (dict(families=["rotation"], requires=["orthogonal"]), "requires"),
    (dict(requires=["orthogonal"], params={"theta": 0.1}), "params"),
])
def test_bad_decorator_arguments_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=f"invalid {name}"):
        conjecture(**kwargs)(lambda m: True)


def test_misspelled_family_is_an_error_naming_it_and_the_known_families():
    """Issue 16 item 3: a typo no longer silently shrinks the claim to the other families."""
    with pytest.raises(ValueError) as info:
        conjecture(families=["rotation", "orthogonl"])(lambda m: True)
    message = str(info.value)
    assert "invalid families='orthogonl'" in message
    assert "did you mean 'orthogonal'?" in message
    assert all(name in message for name in E.families())
    assert "probed" in message  # the non-searched name is listed too, and accepted:
    assert conjecture(families=["probed"])(lambda m: True).__conjecture__.families == ("probed",)


# ------------------------------------------------------------- families by structure
def test_required_structure_chooses_the_families_when_planned():
    conj = conjecture(requires=["orthogonal"])(lambda m: True).__conjecture__
    assert conj.by_structure and conj.requires == ("orthogonal",)
    assert conj.searched_families() == ["block_orthogonal", "identity", "orthogonal",
                                        "permutation", "rotation"]
    signed = conjecture(requires="orthogonal", excludes=["nonnegative"])(lambda m: True)
    assert signed.__conjecture__.searched_families() == ["block_orthogonal", "orthogonal",
                                                         "rotation"]
    every = conjecture()(lambda m: True).__conjecture__
    assert every.families == ("all",) and every.searched_families() == E.families()
    assert [c.name for c, f in plan([conj], ["rotation", "dense"])] == [conj.name]


def test_conditional_structure_searches_only_the_members_that_have_it():
    """sinkhorn is column stochastic only with iters >= 1: never drawn with iters = 0."""
    seen = []

    @conjecture(requires=["column_stochastic"], n=(1, 6), tol=1e-9)
    def columns_sum_to_one(m):
        """Columns sum to 1."""
        seen.append((m.family, m.params.get("iters"), m.params.get("normalise")))
        return float((m.dense().sum(0) - 1).abs().max())

    conj = columns_sum_to_one.__conjecture__
    assert conj.searched_families() == ["birkhoff", "circulant", "identity", "permutation",
                                        "sinkhorn", "sparse"]
    for family in ("sinkhorn", "sparse"):
        entry = check(conj, family, examples=25)
        assert entry.verdict == "holds", entry.counterexample
    assert min(i for f, i, _ in seen if f == "sinkhorn") >= 1
    assert {n for f, _, n in seen if f == "sparse"} == {"column"}
    assert len({i for f, i, _ in seen if f == "sinkhorn"}) > 3  # iters still searched


# ------------------------------------------------------------------------ verdicts
def test_true_by_construction_holds_on_distinct_examples(fns):
    entry = check(fns["unit_singular_values"], "rotation", examples=20)
    assert entry.verdict == "holds" and entry.matches_expected
    assert 5 <= entry.examples <= 20 + 100  # generation + nothing to shrink
    assert entry.worst is not None and entry.worst <= 1e-9
    assert entry.counterexample is None


def test_distinct_examples_are_counted_not_calls(fns):
    entry = check(fns["identity_count"], "identity", examples=50)
    assert entry.verdict == "holds"
    assert entry.examples == 3  # only n = 1, 2, 3 exist


@pytest.mark.parametrize("family", ["rotation", "orthogonal"])
def test_false_size_claim_shrinks_to_n4_and_snippet_reproduces(fns, family):
    entry = check(fns["at_most_three"], family)
    assert entry.verdict == "falsified" and not entry.matches_expected
    cx = entry.counterexample
    assert cx["family"] == family and cx["n"] == 4 and cx["seed"] == 0
    assert cx["value"] is False
    assert run_snippet(cx["snippet"]) == "False"
    assert "\n" not in cx["snippet"]


def test_float_counterexample_is_real_and_reproduced_exactly(fns):
    entry = check(fns["rotation_close_to_identity"], "rotation")
    cx = entry.counterexample
    assert entry.verdict == "falsified"
    assert cx["n"] == 2  # minimal size of the range
    assert cx["value"] > 1e-3 and entry.worst >= cx["value"]
    assert float(run_snippet(cx["snippet"])) == cx["value"]
    m = E.make_mapping("rotation", cx["n"], seed=cx["seed"], **cx["params"])
    assert fns["rotation_close_to_identity"](m) == cx["value"]


def test_depth_claim_gets_tuples_and_minimal_length(fns):
    entry = check(fns["short_products"], "orthogonal")
    cx = entry.counterexample
    assert entry.verdict == "falsified"
    assert cx["depth"] == 3 and len(cx["mappings"]) == 3 and cx["n"] == 1
    assert all(m["family"] == "orthogonal" for m in cx["mappings"])
    assert run_snippet(cx["snippet"]) == "False"
    assert check(fns["birkhoff_products_row_stochastic"], "birkhoff",
                 examples=15).verdict == "holds"


def test_nan_is_a_failure(fns):
    entry = check(fns["returns_nan"], "identity", examples=5)
    assert entry.verdict == "falsified" and math.isnan(entry.worst)
    assert run_snippet(entry.counterexample["snippet"]) == "nan"


def test_exception_is_error_with_traceback(fns):
    entry = check(fns["raises"], "identity", examples=5)
    assert entry.verdict == "error" and not entry.matches_expected
    assert "kaboom in conjecture" in entry.error and "Traceback" in entry.error
    assert entry.counterexample["n"] == 1


def test_bad_return_type_is_error(fns):
    entry = check(fns["returns_text"], "identity", examples=5)
    assert entry.verdict == "error" and "expected a bool or a real number" in entry.error


def test_expected_falsified_matches(fns):
    entry = check(fns["identity_is_not_identity"], "identity", examples=5)
    assert entry.verdict == "falsified" and entry.matches_expected


def test_same_seed_same_result_other_seed_still_minimal(fns):
    a = check(fns["rotation_close_to_identity"], "rotation", seed=1)
    b = check(fns["rotation_close_to_identity"], "rotation", seed=1)
    assert a.counterexample == b.counterexample and a.examples == b.examples


# -------------------------------------------------------------------------- proofs
class FakeProof:
    def __init__(self, ok):
        self.ok = ok
        self.statement = "x = x"
        self.latex = r"x = x"

    def check(self):
        if self.ok is None:
            raise ArithmeticError("proof crashed")
        return self.ok


@pytest.mark.parametrize("ok, claim, verdict", [
    (True, True, "proved"),
    (False, True, "error"),
    (None, True, "error"),
    (True, False, "error"),  # a counterexample against a proof must be visible
    (False, False, "error"),
])
def test_proof_verdicts(ok, claim, verdict):
    @conjecture(families=["identity"], proof=FakeProof(ok), n=(1, 3))
    def proof_claim(m):
        """Claim with a proof."""
        return claim

    entry = check(proof_claim, "identity", examples=5)
    assert entry.verdict == verdict
    assert entry.proof["latex"] == "x = x" and entry.proof["checked"] is bool(ok)
    if verdict == "error":
        assert entry.error
    if not claim:
        assert entry.counterexample is not None


# --------------------------------------------------------------------- evaluate_on
def test_evaluate_on_given_examples(fns):
    maps = [E.make_mapping("rotation", 2, theta=t) for t in (0.0, 0.5, 1.0)]
    entry = evaluate_on(fns["rotation_close_to_identity"], maps)
    assert entry.verdict == "falsified" and entry.examples == 3
    assert entry.counterexample["params"]["theta"] == 1.0  # the worst given example
    assert float(run_snippet(entry.counterexample["snippet"])) == entry.counterexample["value"]
    assert evaluate_on(fns["rotation_close_to_identity"], maps[:1]).verdict == "holds"
    assert evaluate_on(fns["raises"], maps).verdict == "error"


def test_evaluate_on_matrix_only_mapping_uses_from_matrix_snippet(fns):
    m = E.from_matrix([[0.5, 0.25], [0.125, 2.0]])
    entry = evaluate_on(fns["probed_only"], [m])
    assert entry.verdict == "falsified" and entry.counterexample["value"] == 2.0
    assert float(run_snippet(entry.counterexample["snippet"])) == 2.0


def test_unregistered_family_is_never_searched(conj_file):
    ledger = verify([str(conj_file)], builtin=False, examples=5)
    assert not any(e.conjecture.endswith("probed_only") for e in ledger.entries)


# --------------------------------------------------------------------------- ledger
def test_ledger_round_trip_and_summary(conj_file):
    ledger = verify([str(conj_file)], builtin=False, examples=8, families=["identity"])
    summary = ledger.summary()
    assert summary["total"] == len(ledger.entries) == 5
    assert summary["error"] == 2 and summary["falsified"] == 2 and summary["holds"] == 1
    assert summary["matching"] == 2 and not ledger.all_match()
    again = Ledger.from_json(ledger.to_json())
    assert again.to_dict() == ledger.to_dict()
    nan_entry = next(e for e in ledger.entries if e.conjecture.endswith("returns_nan"))
    back = LedgerEntry.from_json(nan_entry.to_json())
    assert math.isnan(back.worst) and back.to_dict() == nan_entry.to_dict()
    def reject(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    assert json.loads(nan_entry.to_json(), parse_constant=reject)["worst"] == "NaN"


def test_ledger_entry_rejects_unknown_fields():
    with pytest.raises(ValueError, match="invalid ledger entry fields"):
        LedgerEntry.from_dict({"bogus": 1})


# --------------------------------------------------------------------------- loading
def test_load_sources_reports_broken_file_and_loads_the_rest(tmp_path, conj_file):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.py").write_text(
        "from entangled.theory import conjecture\n"
        "@conjecture(families=['identity'])\n"
        "def fine(m):\n    '''Fine.'''\n    return True\n")
    (tmp_path / "bad.py").write_text("raise ImportError('broken on purpose')\n")
    found, errors = load_sources([str(tmp_path), str(tmp_path / "sub" / "good.py"),
                                  "no/such/file.py"])
    assert [c.name for c in found] == ["good.fine"]  # loaded once
    assert len(errors) == 2
    assert "broken on purpose" in errors[0]["error"]
    assert "no/such/file.py" in errors[1]["source"]


def test_loading_file_twice_and_builtin_twice_does_not_duplicate(conj_file):
    first = [c.name for c in load_file(conj_file)]
    assert first == [c.name for c in load_file(conj_file)]
    builtin = [c.name for c in load_builtin()]
    assert builtin == [c.name for c in load_builtin()]
    assert len(builtin) == len(set(builtin))
    assert not any(name.startswith("userconj.") for name in (c.name for c in all_conjectures()))


def test_dotted_module_name_loads(tmp_path, monkeypatch):
    (tmp_path / "my_user_mod.py").write_text(
        "from entangled.theory import conjecture\n"
        "@conjecture(families=['identity'], n=(1, 2))\n"
        "def trace_positive(m):\n    '''Trace > 0.'''\n    return float(m.matrix().trace()) > 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ledger = verify(["my_user_mod"], builtin=False, examples=5)
    (entry,) = ledger.entries
    assert entry.conjecture == "my_user_mod.trace_positive" and entry.verdict == "holds"


def test_top_level_names_are_exported():
    assert theory.conjecture is conjecture and theory.verify is verify
    assert theory.Ledger is Ledger and theory.check is check
    with pytest.raises(AttributeError):
        theory.not_a_name


def test_params_override_in_conjecture(tmp_path):
    @conjecture(families=["sparse"], n=(2, 5), params={"strength": 0.0,
                                                       "density": st.floats(0.1, 0.9)})
    def sparse_zero_strength_is_identity(m):
        """strength 0 gives I."""
        return float((m.matrix() - E.make_mapping("identity", m.n).matrix()).abs().max())

    entry = check(sparse_zero_strength_is_identity, "sparse", examples=10)
    assert entry.verdict == "holds" and entry.worst == 0.0


# ------------------------------------------------------------------- ledger cache key
USES_HELPER = '''
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from limits_helper import LIMIT  # noqa: E402

from entangled.theory import conjecture  # noqa: E402


@conjecture(families=["identity"], n=(1, 3))
def entries_within_limit(m):
    """Every entry of the identity is at most LIMIT (from a helper module)."""
    return float(m.matrix().abs().max()) <= LIMIT
'''


def test_ledger_cache_misses_when_an_imported_helper_changes(tmp_path, monkeypatch):
    """Issue 10 item 4: the report's cached ledger is recomputed when a module imported by a
    conjecture file changes (the file itself and the key's inputs stay the same)."""

    from entangled.reports.build import conjecture_ledger
    from entangled.theory.ledger import dependencies_current

    (tmp_path / "lib").mkdir()
    helper = tmp_path / "lib" / "limits_helper.py"
    helper.write_text("LIMIT = 2.0\n")
    source = tmp_path / "claims.py"
    source.write_text(textwrap.dedent(USES_HELPER))
    calls = []

    def user_only(*args, **kwargs):
        calls.append(args)
        return verify(*args, builtin=False, **kwargs)

    monkeypatch.setattr(theory, "verify", user_only)
    out = tmp_path / "out"
    out.mkdir()
    first = conjecture_ledger([str(source)], 3, out)
    assert [e["verdict"] for e in first["entries"]] == ["holds"]
    assert str(helper.resolve()) in first["dependencies"]
    assert dependencies_current(first["dependencies"])
    assert conjecture_ledger([str(source)], 3, out) == first and len(calls) == 1  # a hit
    helper.write_text("LIMIT = 0.5\n")
    assert not dependencies_current(first["dependencies"])
    again = conjecture_ledger([str(source)], 3, out)
    assert len(calls) == 2 and [e["verdict"] for e in again["entries"]] == ["falsified"]


def test_ledger_cache_key_covers_plugin_versions(monkeypatch):
    import entangled.theory.ledger as ledger_module

    before = ledger_module.ledger_cache_key([], 3, 0)
    monkeypatch.setattr(ledger_module, "plugin_versions",
                        lambda: {"fancy=fancy_pkg:Fancy": "fancy-pkg==1.0"})
    with_plugin = ledger_module.ledger_cache_key([], 3, 0)
    monkeypatch.setattr(ledger_module, "plugin_versions",
                        lambda: {"fancy=fancy_pkg:Fancy": "fancy-pkg==1.1"})
    assert len({before, with_plugin, ledger_module.ledger_cache_key([], 3, 0)}) == 3


def test_ledger_cache_is_shared_by_output_directories_and_never_trusts_a_damaged_entry(
        tmp_path, monkeypatch):
    """Issue 29 item 5: a report in a new output directory reuses the ledger computed for
    another one (the user-level cache), and a corrupted cache entry is computed again."""
    from entangled import cache
    from entangled.reports.build import conjecture_ledger

    source = tmp_path / "claims.py"
    source.write_text(textwrap.dedent(USES_HELPER).replace("from limits_helper import LIMIT",
                                                           "LIMIT = 2.0"))
    calls = []

    def user_only(*args, **kwargs):
        calls.append(args)
        return verify(*args, builtin=False, **kwargs)

    monkeypatch.setattr(theory, "verify", user_only)
    first = conjecture_ledger([str(source)], 3, tmp_path / "out-a")
    second = conjecture_ledger([str(source)], 3, tmp_path / "out-b")
    assert second == first and len(calls) == 1
    [stored] = (cache.cache_dir() / "ledger").glob("ledger-*.json")
    assert not list(tmp_path.glob("out-*/ledger-*.json"))  # nothing in the output directories
    stored.write_bytes(stored.read_bytes()[:-20])  # truncated
    third = conjecture_ledger([str(source)], 3, tmp_path / "out-c")
    assert len(calls) == 2
    assert [e["verdict"] for e in third["entries"]] == [e["verdict"] for e in first["entries"]]
    assert conjecture_ledger([str(source)], 4, tmp_path / "out-a") and len(calls) == 3


def test_ledger_cache_key_covers_the_versions_and_the_checkout(monkeypatch):
    import entangled.theory.ledger as ledger_module

    before = ledger_module.ledger_cache_key([], 3, 0)
    real = ledger_module.verdict_environment()
    for field in ("hypothesis", "torch", "entangled_location", "python"):
        monkeypatch.setattr(ledger_module, "verdict_environment",
                            lambda f=field: {**real, f: real[f] + "x"})
        assert ledger_module.ledger_cache_key([], 3, 0) != before, field


def test_checks_on_two_child_processes_give_the_same_ledger_in_the_same_order(tmp_path):
    """verify(jobs=2) spreads the checks over two children; every check is deterministic
    given (seed, conjecture, family), so the ledger is the one of jobs=1 (timings aside),
    including a user conjecture that kills its process (an error entry either way)."""
    user = tmp_path / "mine.py"
    user.write_text(textwrap.dedent('''
        import os
        from entangled.theory import conjecture

        @conjecture(families=["orthogonal"])
        def exits(M):
            """Kills the checking process."""
            os._exit(3)
    '''))
    one = verify([str(user)], examples=2, families=["orthogonal", "permutation"], jobs=1)
    two = verify([str(user)], examples=2, families=["orthogonal", "permutation"], jobs=2)

    def comparable(ledger):
        return [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in ledger.entries]

    assert len(one.entries) > 10 and comparable(two) == comparable(one)
    crashed = [e for e in two.entries if e.conjecture.endswith("exits")]
    assert crashed and all(e.verdict.value == "error" for e in crashed)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True])
def test_a_bad_number_of_checking_processes_is_refused(jobs):
    with pytest.raises(ValueError, match="jobs"):
        verify([], builtin=False, jobs=jobs)

