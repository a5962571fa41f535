"""
Tests for pserv.power.play: a node's plays, who waits on each, and the
outcome each ends with.
"""

from twisted.internet.defer import Deferred

from pserv.power.actions import OffAction, OnAction, QueryAction
from pserv.power.decisions import CANCELLING, NONE
from pserv.power.errors import PowerAuthError
from pserv.power.outcome import OutcomeStatus
from pserv.power.play import Play, Request, Slot
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle


def request(kind, request_id=None, generation=1, control=None):
    """A request of ``kind`` as the registry holds it."""
    return Request(Deferred(), ActionKind(kind), request_id, generation, control)


def play_of(cls, clock, action_id=1, **bmc):
    """A play of a new action on a fresh in-memory BMC."""
    bmc = FakeBMC(clock, **bmc)
    return Play(cls(bmc, clock, action_id=action_id), request(cls.kind, action_id, control=bmc))


def test_power_requests_keep_the_action_and_queries_ride_it(clock):
    """Power requests are its keepers and queries its riders; a query's own requests are all keepers."""
    play = play_of(OnAction, clock)
    play.add(request("on", 2))
    play.add(request("query", 3))
    assert ([r.id for r in play.keepers()], [r.id for r in play.riders()]) == ([1, 2], [3])
    assert (len(play_of(QueryAction, clock).keepers()), play_of(QueryAction, clock).riders()) == (1, [])


def test_taking_a_request_leaves_the_others(clock):
    """take removes exactly the requests of one id; the generation then falls to what is still served."""
    play = play_of(OnAction, clock)
    play.add(request("on", 2, generation=5))
    play.action.generation = 5
    assert [r.id for r in play.take(2)] == [2] and list(play.ids()) == [1]
    play.lower_generation()
    assert play.action.generation == 1


def test_a_request_cancelled_alone_is_told_at_once(clock):
    """A request cancelled while its action goes on is answered cancelled, with what the action did so far."""
    play = play_of(OnAction, clock)
    play.action.start()
    advance_until_idle(clock)
    outcome = play.cut(request("on", 11, generation=4))
    assert (outcome.status, outcome.action_id, outcome.generation) == (OutcomeStatus.CANCELLED, 1, 4)
    assert outcome.commands == ("power_on",)


def test_a_soft_off_that_asked_for_the_shutdown_only_watches(clock):
    """A soft off that has sent soft_off, and nothing more, only watches for the shutdown."""
    from pserv.power.actions import SoftOffAction

    play = play_of(SoftOffAction, clock, power=PowerState.ON, shutdown_time=None)
    assert not play.watching()
    play.action.start()
    clock.advance(1)
    assert play.watching() and not play_of(OnAction, clock).watching()


def test_a_read_answers_every_query_in_play(clock):
    """queries answers the queries riding the action in flight and those waiting, from its last read."""
    slot = Slot()
    slot.in_flight = play_of(OnAction, clock)
    slot.in_flight.action.state = PowerState.ON
    slot.in_flight.add(request("query", 2))
    slot.waiting = play_of(QueryAction, clock, action_id=3)
    answers = slot.queries()
    assert [o.state for _, o in answers] == [PowerState.ON, PowerState.ON]
    assert [r.id for r in slot.in_flight.requests] == [1] and slot.waiting.requests == []


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


def test_a_slot_finds_the_play_holding_a_request_id(clock):
    """holding finds the play that serves a request id, in flight or waiting; another id finds none."""
    slot = Slot()
    slot.in_flight = play_of(OnAction, clock, action_id=4)
    slot.waiting = play_of(OffAction, clock, action_id=5)
    slot.waiting.add(request("query", 6))
    assert (slot.holding(4), slot.holding(6), slot.holding(7)) == (slot.in_flight, slot.waiting, None)
    assert slot.next_kind() is ActionKind.OFF


def test_a_cancelled_request_ends_cancelled_unless_the_action_reached_its_end(clock):
    """A cancelled request of a stopped action ends cancelled, its superseded neighbours superseded."""
    play = play_of(OnAction, clock)
    play.add(request("on", 2))
    play.requests[0].cancelled = True
    play.successor = play_of(OffAction, clock, action_id=9)
    play.action.cancel()
    assert play.outcome(play.requests[0]).status is OutcomeStatus.CANCELLED
    assert (play.outcome(play.requests[1]).status, play.outcome().superseded_by) == (OutcomeStatus.SUPERSEDED, 9)


def test_a_stale_play_is_superseded_by_the_newest_intent(clock):
    """A play made stale by a seeded generation ends superseded by the action carrying the newest intent."""
    play = play_of(OnAction, clock)
    play.stale = True
    play.action.cancel()
    assert (play.outcome(newest=12).status, play.outcome(newest=12).superseded_by) == (OutcomeStatus.SUPERSEDED, 12)
