"""
Tests for pserv.power.lifecycle.
"""

import pytest

from pserv.power.lifecycle import (
    TRANSITIONS,
    ActionInput,
    ActionState,
    InvalidTransition,
    Lifecycle,
)


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
