"""Verdict and status words are string enums (entangled.words.Word) that serialise, print and
compare as the same strings the files and pages always had."""

from __future__ import annotations

import json

import pytest

from entangled.errors import InvalidParameterError
from entangled.mappings.structure import Structure
from entangled.reports.verdicts import FindingVerdict
from entangled.runs import RunStatus, result_from_json
from entangled.theory.ledger import LedgerEntry, Verdict
from entangled.words import Word
from run_fakes import fake_result

VOCABULARIES = {
    RunStatus: ["ok", "diverged"],
    Verdict: ["proved", "holds", "falsified", "error"],
    FindingVerdict: ["reproduced", "not reproduced", "opposite", "inconclusive", "not tested",
                     "missing", "at ceiling", "task not learnt"],
}


@pytest.mark.parametrize("words", list(VOCABULARIES), ids=lambda w: w.__name__)
def test_words_are_their_strings_in_json_text_and_dicts(words):
    assert [w.value for w in words] == VOCABULARIES[words]
    for word in words:
        assert isinstance(word, (str, Word)) and word == word.value
        assert json.dumps({"w": word}) == json.dumps({"w": word.value})
        assert f"{word}" == str(word) == word.value and f"{word:>20}" == f"{word.value:>20}"
        assert repr(word) == repr(word.value)
        assert {word.value: 1}[word] == 1 and {word: 1}[word.value] == 1
        assert words.parse(word.value, name="w") is word


def test_an_unknown_word_names_the_parameter_and_the_allowed_words():
    with pytest.raises(InvalidParameterError, match="invalid verdict='maybe'; allowed: one of "
                                                    "'proved', 'holds', 'falsified', 'error'"):
        Verdict.parse("maybe", name="verdict")
    with pytest.raises(InvalidParameterError, match="invalid verdict='maybe'"):
        LedgerEntry("c", "s", "t", "identity", "maybe", "holds", False)


def test_a_result_file_reads_back_its_status_as_the_enum_and_writes_the_same_text():
    result = fake_result({"arch": "rnn", "task": "parity", "steps": 5}, status="diverged")
    data = result.to_dict()
    assert data["status"] == "diverged" and type(data["status"]) is str  # plain in the data
    back = result_from_json(json.loads(json.dumps(data)))
    assert back.status is RunStatus.DIVERGED
    assert back.to_dict() == data


def test_ledger_entries_hold_verdicts_and_round_trip_as_plain_strings():
    entry = LedgerEntry("c", "s", "t", "identity", "falsified", "falsified", True)
    assert entry.verdict is Verdict.FALSIFIED and entry.expected is Verdict.FALSIFIED
    data = json.loads(json.dumps(entry.to_dict()))
    assert data["verdict"] == "falsified" and LedgerEntry.from_dict(data) == entry


def test_structure_terms_are_words_too():
    assert issubclass(Structure, Word) and f"{Structure.ORTHOGONAL}" == "orthogonal"
