"""Tests for pserv.sim.faults: the --faults syntax."""

import pytest

from pserv.sim.faults import FAULTS, parse_faults


def test_all_and_none():
    """'all' gives every fault at its default probability; 'none' gives none."""
    assert parse_faults("all") == {name: fault.probability for name, fault in FAULTS.items()}
    assert parse_faults("none") == {}


def test_names_with_and_without_probabilities():
    """A list picks faults, each at a given probability or its default."""
    assert parse_faults("bmc-hang,cluster-crash=0.5") == {
        "bmc-hang": FAULTS["bmc-hang"].probability, "cluster-crash": 0.5,
    }


@pytest.mark.parametrize("text, says", [
    ("meteor", "no fault 'meteor'"), ("bmc-hang=often", "must be a number"), ("bmc-hang=2", "from 0 to 1"),
])
def test_bad_faults_are_named(text, says):
    """A bad fault list is refused with a one-line message naming the bad part."""
    with pytest.raises(ValueError, match=says):
        parse_faults(text)


def test_every_fault_says_what_it_models():
    """Each fault documents what it models, for docs/simulation.md."""
    assert all(fault.models and 0 < fault.probability < 1 for fault in FAULTS.values())
