"""
Tests for pserv.power.outcome.
"""

import dataclasses

import pytest

from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import FINAL, ActionKind, ActionStatus


def test_outcome_is_immutable():
    """An outcome shared by several callers cannot be changed by one of them."""
    outcome = Outcome(OutcomeStatus.DONE, 1, ActionKind.ON, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.status = OutcomeStatus.FAILED


def test_four_statuses():
    """A request ends in one of exactly four ways."""
    assert [s.value for s in OutcomeStatus] == ["done", "failed", "superseded", "cancelled"]


def test_outcome_statuses_are_the_final_action_statuses():
    """OutcomeStatus names exactly the final ActionStatus members, by the same names and values."""
    assert {(s.name, s.value) for s in OutcomeStatus} == {(s.name, s.value) for s in FINAL}
    assert [s.value for s in OutcomeStatus] == [s.value for s in ActionStatus if s.final]
    assert all(ActionStatus(s) in FINAL and ActionStatus(s) == s for s in OutcomeStatus)
