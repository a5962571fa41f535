"""
Tests for pserv.power.lifecycle.
"""

from pathlib import Path

import pytest
from twisted.internet.defer import CancelledError, Deferred

from pserv.power.lifecycle import (
    TRANSITIONS,
    ActionInput,
    ActionState,
    InvalidTransition,
    Lifecycle,
    render_markdown,
)
from pserv.power.states import ActionKind


def test_starts_waiting():
    """A new lifecycle is waiting."""
    assert Lifecycle().state is ActionState.WAITING


def test_run_to_done():
    """start then finish goes waiting -> running -> done."""
    life = Lifecycle()
    assert life.fire(ActionInput.START) is ActionState.RUNNING
    assert life.fire(ActionInput.FINISH) is ActionState.DONE


def test_cancel_while_running_then_finish():
    """cancel while running goes to cancelling, and finish then ends it."""
    life = Lifecycle()
    life.fire(ActionInput.START)
    assert life.fire(ActionInput.CANCEL) is ActionState.CANCELLING
    assert life.fire(ActionInput.CANCEL) is ActionState.CANCELLING
    assert life.fire(ActionInput.FINISH) is ActionState.DONE


def test_cancel_while_waiting_is_done():
    """An action cancelled before it starts is done at once."""
    life = Lifecycle()
    assert life.fire(ActionInput.CANCEL) is ActionState.DONE
    assert life.fire(ActionInput.CANCEL) is ActionState.DONE


@pytest.mark.parametrize(
    "state, event",
    [
        (s, e)
        for s in ActionState
        for e in ActionInput
        if (s, e) not in TRANSITIONS
    ],
)
def test_undeclared_transitions_raise(state, event):
    """Every input the table does not declare for a state is an error."""
    life = Lifecycle()
    life.state = state
    with pytest.raises(InvalidTransition):
        life.fire(event)
    assert life.state is state


def started(owner=None):
    """A lifecycle that has started."""
    life = Lifecycle(owner)
    life.fire(ActionInput.START)
    return life


def test_cancel_interrupts_a_step_safe_for_the_successor():
    """A cancel while waiting on a step that is a safe point cancels that step and is stopping."""
    life = started()
    step = Deferred()
    step.addErrback(lambda f: f.trap(CancelledError))
    life.fire(ActionInput.WAIT, step, frozenset([ActionKind.OFF]))
    assert life.fire(ActionInput.CANCEL, ActionKind.OFF) is ActionState.STOPPING
    assert step.called and life.successor is ActionKind.OFF


def test_cancel_keeps_a_step_unsafe_for_the_successor_until_decided_again():
    """A step unsafe for the successor runs on; a new successor it is safe for interrupts it."""
    life = started()
    step = Deferred()
    step.addErrback(lambda f: f.trap(CancelledError))
    life.fire(ActionInput.WAIT, step, frozenset([ActionKind.OFF]))
    assert life.fire(ActionInput.CANCEL, ActionKind.ON) is ActionState.CANCELLING
    assert not step.called and life.cancelling
    assert life.fire(ActionInput.CANCEL, ActionKind.OFF) is ActionState.STOPPING
    assert step.called and life.cancelling


def test_a_step_once_resumed_is_not_interrupted():
    """After its step has answered, a cancel only marks the action cancelling."""
    life = started()
    step = Deferred()
    life.fire(ActionInput.WAIT, step, frozenset([None]))
    life.fire(ActionInput.RESUME)
    assert life.step is None
    assert life.fire(ActionInput.CANCEL) is ActionState.CANCELLING


def test_stops_at_a_safe_point_for_the_successor_only():
    """stops_at is true (and the action stopping) only where the step is safe for the successor."""
    life = started()
    assert not life.stops_at(frozenset([None]))
    life.fire(ActionInput.CANCEL, ActionKind.ON)
    assert not life.stops_at(frozenset([ActionKind.OFF])) and life.state is ActionState.CANCELLING
    assert life.stops_at(frozenset([ActionKind.ON])) and life.state is ActionState.STOPPING
    assert life.stops_at(frozenset()), "once stopping, every step is a stop"


def test_a_stopping_action_begins_no_step():
    """Waiting on a new step while stopping is an undeclared transition."""
    life = started()
    life.fire(ActionInput.CANCEL)
    life.fire(ActionInput.STOP)
    with pytest.raises(InvalidTransition):
        life.fire(ActionInput.WAIT, Deferred(), frozenset())
    assert life.state is ActionState.STOPPING


def test_done_fires_with_the_owner_and_says_how_it_ended():
    """done fires once with the owner; stopped says whether the action stopped or never ran."""
    owner = object()
    ran, stopped, never = started(owner), started(owner), Lifecycle(owner)
    ran.fire(ActionInput.FINISH)
    stopped.fire(ActionInput.CANCEL)
    stopped.fire(ActionInput.STOP)
    stopped.fire(ActionInput.FINISH, True)
    never.fire(ActionInput.CANCEL)
    fired = []
    for life in (ran, stopped, never):
        life.done.addCallback(fired.append)
    assert fired == [owner] * 3
    assert (ran.stopped, stopped.stopped, never.stopped) == (False, True, True)


def test_docs_show_the_table():
    """docs/power-actions.md shows the lifecycle's table exactly as the code holds it."""
    doc = Path(__file__).parents[2] / "docs" / "power-actions.md"
    assert render_markdown() in doc.read_text()


def test_done_lets_go_of_the_owner():
    """Once done, a lifecycle no longer holds its owner, so the two make no cycle."""
    life = started(object())
    life.fire(ActionInput.FINISH)
    assert life.owner is None
