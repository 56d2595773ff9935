"""Third-party families register through the entry-point group ``entangled.families``."""

import warnings
from importlib import metadata

import pytest
import torch

import entangled as E
from entangled.mappings import registry


class NegatedIdentity(E.Mapping):
    """A toy third-party family: ``M = -I``."""

    family = "negated_identity"
    summary = "-I (a plugin test family)"

    def _build_matrix(self):
        return -torch.eye(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, tol=1e-9):
        return bool((torch.as_tensor(matrix) + torch.eye(len(matrix))).abs().max() <= tol)


@pytest.fixture
def fake_entry_points():
    points = [
        metadata.EntryPoint("negated_identity", f"{__name__}:NegatedIdentity", registry.ENTRY_POINT_GROUP),
        metadata.EntryPoint("broken", "no_such_module_xyz:Family", registry.ENTRY_POINT_GROUP),
    ]
    with registry.FAMILY_REGISTRY.scoped(entry_points=points):
        yield points


def test_entry_point_family_is_registered_and_broken_plugin_only_warns(fake_entry_points):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = E.families()
    assert "negated_identity" in names and names == sorted(names)
    assert any("broken" in str(w.message) for w in caught)
    m = E.make_mapping("negated_identity", 3)
    assert torch.equal(m.apply(torch.ones(3, dtype=torch.float64)), -torch.ones(3, dtype=torch.float64))
    assert E.Mapping.from_dict(m.to_dict()) == m


def test_registering_a_second_class_under_a_taken_name_is_an_error():
    class Impostor(NegatedIdentity):
        family = "identity"

    with pytest.raises(ValueError, match="already registered"):
        E.register_family(Impostor)


def test_conjecture_on_a_plugin_family_that_failed_to_load_names_it(fake_entry_points):
    """Issue 16 item 3: a declared plug-in family that is not available is named as such."""
    from entangled.theory import conjecture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = conjecture(families=["negated_identity"])(lambda m: True)
        assert ok.__conjecture__.searched_families() == ["negated_identity"]
        with pytest.raises(ValueError, match="plug-in family 'broken'.*failed to load"):
            conjecture(families=["broken"])(lambda m: True)
