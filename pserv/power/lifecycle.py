"""
The life of one power action, as an explicit transition table.

::

    waiting --start--> running --finish--> done
       |                  |
       +--cancel--> done  +--cancel--> cancelling --finish--> done

``cancel`` is idempotent once an action is cancelling or done.  Any input
not in :data:`TRANSITIONS` raises :class:`InvalidTransition`: an action
cannot start twice, finish before it starts, or start after it is done.
"""

from __future__ import annotations

from enum import Enum


class ActionState(str, Enum):
    """
    Where a power action is in its life.
    """

    WAITING = "waiting"
    RUNNING = "running"
    CANCELLING = "cancelling"
    DONE = "done"


class ActionInput(str, Enum):
    """
    What can happen to a power action.
    """

    START = "start"
    CANCEL = "cancel"
    FINISH = "finish"


TRANSITIONS: dict[tuple[ActionState, ActionInput], ActionState] = {
    (ActionState.WAITING, ActionInput.START): ActionState.RUNNING,
    (ActionState.WAITING, ActionInput.CANCEL): ActionState.DONE,
    (ActionState.RUNNING, ActionInput.CANCEL): ActionState.CANCELLING,
    (ActionState.RUNNING, ActionInput.FINISH): ActionState.DONE,
    (ActionState.CANCELLING, ActionInput.CANCEL): ActionState.CANCELLING,
    (ActionState.CANCELLING, ActionInput.FINISH): ActionState.DONE,
    (ActionState.DONE, ActionInput.CANCEL): ActionState.DONE,
}
"""Every declared transition: (state, input) -> next state."""


class InvalidTransition(Exception):
    """
    An input arrived in a state that does not declare it.
    """

    def __init__(self, state: ActionState, event: ActionInput) -> None:
        super().__init__(f"no transition from {state.value} on {event.value}")
        self.state = state
        self.event = event


class Lifecycle:
    """
    The current :class:`ActionState` of one action.
    """

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = ActionState.WAITING

    def fire(self, event: ActionInput) -> ActionState:
        """
        Apply ``event`` and return the new state.

        :raises InvalidTransition: when the table does not declare it.
        """
        try:
            self.state = TRANSITIONS[self.state, event]
        except KeyError:
            raise InvalidTransition(self.state, event) from None
        return self.state
