"""A report is judged on its own runs: an expected falsification of a built-in conjecture that
a suite's small ``conjecture_examples`` did not find is shown, not counted as a mismatch."""

from entangled.reports.build import ReportOutcome
from entangled.reports.evidence import catalog_examples, ledger_mismatches

COMPOSITION = "entangled.theory.conjectures.composition.unconstrained_mixing_composite_gain_bounded"
CIRCULANT = "entangled.theory.conjectures.lit_circulant.reported_sinkhorn_composite_error_is_about_4e_7"


def entry(name, verdict, expected, family="dense"):
    return {"conjecture": name, "family": family, "verdict": verdict, "expected": expected,
            "matches_expected": verdict != "error"
            and (verdict in ("holds", "proved")) == (expected == "holds")}


def test_the_catalog_examples_are_the_conjectures_own_or_the_default():
    needed = catalog_examples()
    assert needed[COMPOSITION] == 30  # no examples= of its own: the engine default
    assert needed[CIRCULANT] == 10    # examples=10 in lit_circulant.py


def test_expected_falsification_not_found_with_too_few_examples_is_unconfirmed_not_a_mismatch():
    ledger = {"entries": [
        entry(COMPOSITION, "holds", "falsified"),          # 5 < 30: search too small
        entry(CIRCULANT, "holds", "falsified"),            # 12 >= 10: a real mismatch
        entry(COMPOSITION, "falsified", "holds", "orthogonal"),  # a counterexample: always counts
        entry("my_file.my_claim", "holds", "falsified"),   # a user's own conjecture: counts
        entry(COMPOSITION, "error", "falsified", "identity"),
        entry(COMPOSITION, "falsified", "falsified", "sinkhorn"),  # matches
    ]}
    mismatches, unconfirmed = ledger_mismatches(ledger, 12, needed=lambda: {COMPOSITION: 30,
                                                                           CIRCULANT: 10})
    assert [(m["conjecture"], m["family"]) for m in mismatches] == [
        (CIRCULANT, "dense"), (COMPOSITION, "orthogonal"), ("my_file.my_claim", "dense"),
        (COMPOSITION, "identity")]
    assert unconfirmed == [{"conjecture": COMPOSITION, "family": "dense", "verdict": "holds",
                            "expected": "falsified", "examples": 12, "catalog_examples": 30}]
    # with the catalog's own count the same entry is a mismatch again
    mismatches, unconfirmed = ledger_mismatches(ledger, 30, needed=lambda: {COMPOSITION: 30,
                                                                           CIRCULANT: 10})
    assert unconfirmed == [] and len(mismatches) == 5


def test_the_catalog_is_read_only_when_an_expected_falsification_is_missing():
    def never():
        raise AssertionError("catalog looked up without need")

    ledger = {"entries": [entry(COMPOSITION, "falsified", "holds"), entry(COMPOSITION, "holds", "holds")]}
    assert ledger_mismatches(ledger, 5, needed=never) == (
        [{"conjecture": COMPOSITION, "family": "dense", "verdict": "falsified", "expected": "holds"}], [])


def test_terminal_summary_names_the_unconfirmed_and_exit_status_ignores_them():
    from types import SimpleNamespace

    outcome = ReportOutcome(
        index="index.html", findings=[], mismatches=[],
        runs={"loaded": 4, "expected": 4, "reused": 0, "ran": 4, "rerun": 0, "invalid": 0,
              "stale": 0, "superseded": 0, "failed": 0},
        sweep=SimpleNamespace(failed=[], corrupt=[], stale=[]), wall_time_s=1.0,
        unconfirmed=[{"conjecture": COMPOSITION, "family": "dense", "verdict": "holds",
                      "expected": "falsified", "examples": 5, "catalog_examples": 30}])
    text = outcome.terminal_summary()
    assert "every verdict matches its expectation" in text
    assert "1 expected falsification(s) not found with this suite's 5 examples" in text
    assert "not counted as mismatches" in text and "[dense]: holds at 5 examples, catalog 30" in text
