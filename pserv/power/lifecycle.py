"""
The life of one power action: a state machine driven by :data:`TRANSITIONS`.

::

    waiting --start--> running --cancel--> cancelling --stop--> stopping
       |                  |                    |                   |
     cancel             finish               finish              finish
       v                  v                    v                   v
    done (stopped,      done                 done                done (stopped:
     never ran)                        (its last command         handed over)
                                          verified)

``running`` and ``cancelling`` go through ``wait`` and ``resume`` for each
step (a read, a pause, a command, a milestone being recorded);
``cancelling`` takes ``cancel`` again when a new successor decides again.
``stop`` is a safe point: a step about to begin is safe for the successor,
or the one waited on is, and is cancelled.

Each state holds its own data.  ``running`` and ``cancelling`` hold the step
in flight: the Deferred the action waits on and the successors for which
that wait is a safe point.  ``cancelling`` and ``stopping`` hold the
successor, the kind of action waiting to run next (``None`` for an
operator's cancel).  ``done`` holds whether the action stopped.  Whoever
waits for the end waits on :attr:`Lifecycle.done`.

Any input the table does not declare raises :class:`InvalidTransition`
before anything runs: an action cannot start twice, finish before it
starts, begin a step while stopping, or start after it is done.
"""

from __future__ import annotations

from enum import Enum
import weakref
from typing import Any, Callable

from twisted.internet.defer import Deferred

from pserv.power.states import ActionKind
from pserv.util.machine import InvalidTransition, StateMachine, Table

__all__ = ["ActionInput", "ActionState", "InvalidTransition", "Lifecycle", "TRANSITIONS", "render_markdown"]


class ActionState(str, Enum):
    """
    Where a power action is in its life.
    """

    WAITING = "waiting"
    RUNNING = "running"
    CANCELLING = "cancelling"
    STOPPING = "stopping"
    DONE = "done"


class ActionInput(str, Enum):
    """
    What can happen to a power action.
    """

    START = "start"
    WAIT = "wait"
    RESUME = "resume"
    CANCEL = "cancel"
    STOP = "stop"
    FINISH = "finish"


S, I = ActionState, ActionInput

TRANSITIONS: Table[ActionState, ActionInput] = {
    (S.WAITING, I.START): (S.RUNNING, None),
    (S.WAITING, I.CANCEL): (S.DONE, "_never_ran"),
    (S.RUNNING, I.WAIT): (S.RUNNING, "_hold"),
    (S.RUNNING, I.RESUME): (S.RUNNING, "_release"),
    (S.RUNNING, I.CANCEL): (S.CANCELLING, "_stop_when_safe"),
    (S.RUNNING, I.FINISH): (S.DONE, "_end"),
    (S.CANCELLING, I.WAIT): (S.CANCELLING, "_hold"),
    (S.CANCELLING, I.RESUME): (S.CANCELLING, "_release"),
    (S.CANCELLING, I.CANCEL): (S.CANCELLING, "_stop_when_safe"),
    (S.CANCELLING, I.STOP): (S.STOPPING, "_interrupt"),
    (S.CANCELLING, I.FINISH): (S.DONE, "_end"),
    (S.STOPPING, I.RESUME): (S.STOPPING, "_release"),
    (S.STOPPING, I.CANCEL): (S.STOPPING, None),
    (S.STOPPING, I.STOP): (S.STOPPING, None),
    (S.STOPPING, I.FINISH): (S.DONE, "_end"),
    (S.DONE, I.CANCEL): (S.DONE, None),
}
"""Every declared transition: (state, input) -> (next state, output)."""

_CANCELLING, _STOPPING = S.CANCELLING, S.STOPPING
_TOLD_TO_STOP = frozenset([_CANCELLING, _STOPPING])
_NOWHERE: frozenset[ActionKind | None] = frozenset()
"""No successor: shared, since an empty frozenset is a new object each time."""


class Lifecycle(StateMachine[ActionState, ActionInput]):
    """
    One action's state and the data of that state.

    :param owner: what :attr:`done` fires with (the action); let go of
        once done.
    :ivar successor: in ``cancelling`` and ``stopping``, the kind of action
        that runs next, or ``None``.
    :ivar step: in ``running`` and ``cancelling``, the Deferred waited on.
    :ivar safe_for: the successors for which waiting on :attr:`step` is a
        safe point.
    :ivar stopped: in ``done``, whether the action stopped at a safe point
        (or never ran).
    :ivar done: fires with ``owner`` on entering ``done`` (made when first
        asked for: most actions, the registry's, are never waited on
        through it, see :meth:`then`).
    """

    __slots__ = ("owner", "successor", "step", "safe_for", "stopped", "_done", "_gone", "_then", "_then_args")

    initial = ActionState.WAITING
    table = TRANSITIONS

    def __init__(self, owner: Any = None) -> None:
        self.state = self.initial  # StateMachine.__init__, without the call: one per action
        self.owner = owner
        self.successor: ActionKind | None = None
        self.step: Deferred[Any] | None = None
        self.safe_for: frozenset[ActionKind | None] = _NOWHERE
        self.stopped = False
        self._done: Deferred[Any] | None = None
        self._gone: Callable[[], Any] | None = None
        self._then: Callable[..., object] | None = None
        self._then_args: tuple[Any, ...] = ()

    @property
    def done(self) -> Deferred[Any]:
        """Fires with ``owner`` on entering ``done``; at once, if it is done already."""
        done = self._done
        if done is None:
            done = self._done = Deferred()
            if self._gone is not None:
                done.callback(self._gone())
        return done

    def then(self, callback: Callable[..., object], *args: Any) -> None:
        """
        Call ``callback(owner, *args)`` on entering ``done``, before
        :attr:`done` fires: what a callback on :attr:`done` would do, without
        the Deferred (the registry's one per action).

        :param callback: what is called; what it raises propagates, once
            :attr:`done` has fired all the same.
        :param args: what it is called with after the owner.
        """
        self._then, self._then_args = callback, args

    @property
    def cancelling(self) -> bool:
        """Whether it was told to stop while it ran and has not ended."""
        return self.state in _TOLD_TO_STOP

    def stops_at(self, safe_for: frozenset[ActionKind | None]) -> bool:
        """
        Whether a step that is a safe point for ``safe_for`` is where the
        action stops now; if so, it is ``stopping``.  Once stopping, it takes
        no further step.

        :param safe_for: the successors for which the step is a safe point.
        """
        if self.state is _CANCELLING and self.successor in safe_for:
            self.fire(I.STOP)
        return self.state is _STOPPING

    def _hold(self, step: Deferred[Any], safe_for: frozenset[ActionKind | None]) -> None:
        self.step, self.safe_for = step, safe_for

    def _release(self) -> None:
        self.step = None

    def _stop_when_safe(self, successor: ActionKind | None = None) -> None:
        self.successor = successor
        if self.step is not None and successor in self.safe_for:
            self.fire(I.STOP)

    def _interrupt(self) -> None:
        if self.step is not None:
            self.step.cancel()

    def _never_ran(self, successor: ActionKind | None = None) -> None:
        self._end(True)

    def _end(self, stopped: bool = False) -> None:
        # Let go of the owner (the action holds its lifecycle): a finished
        # action is then freed as soon as nobody holds it, not by the
        # garbage collector.
        self.stopped = stopped
        owner, self.owner = self.owner, None
        then, self._then = self._then, None
        try:
            if then is not None:
                then(owner, *self._then_args)
        finally:
            self._then_args = ()
            if self._done is not None:
                self._done.callback(owner)
            else:
                self._gone = _remembered(owner)


def _remembered(owner: Any) -> Callable[[], Any]:
    """
    ``owner``, for a :attr:`Lifecycle.done` first asked for once done,
    without holding it (it holds the lifecycle): by weak reference where it
    can be one.
    """
    try:
        return weakref.ref(owner)
    except TypeError:
        return lambda: owner


def render_markdown() -> str:
    """
    :data:`TRANSITIONS` as a Markdown table, one row per state and one
    column per input, as ``docs/power-actions.md`` shows it.
    """
    lines = [
        "| state | " + " | ".join(event.value for event in ActionInput) + " |",
        "| --- |" + " --- |" * len(ActionInput),
    ]
    for state in ActionState:
        cells = [TRANSITIONS.get((state, event), (None, None))[0] for event in ActionInput]
        lines.append(f"| {state.value} | " + " | ".join(c.value if c else "—" for c in cells) + " |")
    return "\n".join(lines) + "\n"
