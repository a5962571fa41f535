"""
Tests for pserv.power.outcome.
"""

import dataclasses

import pytest

from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind


def test_outcome_is_immutable():
    """An outcome shared by several callers cannot be changed by one of them."""
    outcome = Outcome(OutcomeStatus.DONE, 1, ActionKind.ON, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.status = OutcomeStatus.FAILED


def test_four_statuses():
    """A request ends in one of exactly four ways."""
    assert [s.value for s in OutcomeStatus] == ["done", "failed", "superseded", "cancelled"]
