"""
Tests for pserv.power.play: a node's plays, who waits on each, and the
outcome each ends with.
"""

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from pserv.power.actions import OffAction, OnAction, QueryAction
from pserv.power.decisions import CANCELLING, NONE
from pserv.power.errors import PowerAuthError
from pserv.power.outcome import OutcomeStatus
from pserv.power.play import Play, Slot
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle


@pytest.fixture
def clock():
    return Clock()


def play_of(cls, clock, action_id=1, **bmc):
    """A play of a new action on a fresh in-memory BMC."""
    return Play(cls(FakeBMC(clock, **bmc), clock, action_id=action_id), Deferred())


def test_power_requests_are_callers_and_queries_riders(clock):
    """A power request joining a play is a caller; a query joining it is a rider."""
    play = play_of(OnAction, clock)
    play.add(Deferred(), ActionKind.ON)
    play.add(Deferred(), ActionKind.QUERY)
    assert (len(play.callers), len(play.riders)) == (2, 1)
    assert len(play_of(QueryAction, clock).riders) == 1


def test_outcome_of_an_action_that_ran(clock):
    """An action that ran to its end is done, with its verified state and its commands."""
    play = play_of(OnAction, clock)
    play.action.start()
    advance_until_idle(clock)
    outcome = play.outcome()
    assert (outcome.status, outcome.state, outcome.commands) == (OutcomeStatus.DONE, PowerState.ON, ("power_on",))


def test_outcome_of_a_failed_action_says_whether_it_is_fatal(clock):
    """An action that failed is failed, with its error and whether it was fatal."""
    play = play_of(OnAction, clock)
    play.action.control.fail_next("query", PowerAuthError("bad password"))
    play.action.start()
    advance_until_idle(clock)
    outcome = play.outcome()
    assert (outcome.status, outcome.fatal, outcome.error) == (OutcomeStatus.FAILED, True, "bad password")


def test_outcome_of_a_stopped_action_is_superseded_only_with_a_successor(clock):
    """A stopped action is superseded by its successor if it has one, else cancelled."""
    cancelled, superseded = play_of(OnAction, clock), play_of(OnAction, clock)
    superseded.successor = play_of(OffAction, clock, action_id=9)
    for play in (cancelled, superseded):
        play.action.cancel()
    assert (cancelled.outcome().status, cancelled.outcome().superseded_by) == (OutcomeStatus.CANCELLED, None)
    assert (superseded.outcome().status, superseded.outcome().superseded_by) == (OutcomeStatus.SUPERSEDED, 9)


def test_a_slots_row_names_what_is_in_flight_and_waiting(clock):
    """The row is none or the kind in flight (cancelling once told to stop), and the kind waiting."""
    slot = Slot()
    assert (slot.row(), slot.newest) == ((NONE, NONE), None)
    slot.in_flight = play_of(OnAction, clock, latency=1.0)
    slot.in_flight.action.start()
    assert slot.row() == ("on", NONE) and slot.newest is slot.in_flight
    clock.advance(1.5)  # its power_on is in flight: not a safe point
    slot.in_flight.action.cancel(ActionKind.OFF)
    slot.waiting = play_of(OffAction, clock)
    assert slot.row() == (CANCELLING, "off") and slot.newest is slot.waiting


def test_a_redelivered_id_joins_its_play(clock):
    """A request whose id is in play joins that play; one with no id or another id does not."""
    slot = Slot()
    slot.in_flight = play_of(OnAction, clock, action_id=4)
    assert slot.redelivered(ActionKind.ON, 4, Deferred()) and len(slot.in_flight.callers) == 2
    assert not slot.redelivered(ActionKind.ON, None, Deferred())
    assert not slot.redelivered(ActionKind.ON, 5, Deferred())
