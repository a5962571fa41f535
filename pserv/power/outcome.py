"""
What a power request ends with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pserv.power.states import ActionKind, ActionStatus, PowerState

OutcomeStatus = Enum(  # type: ignore[misc]
    "OutcomeStatus",
    [(status.name, status.value) for status in ActionStatus if status.final],
    type=str,
    module=__name__,
    qualname="OutcomeStatus",
)
OutcomeStatus.__doc__ = """
The four ways a request can end: the final :class:`~pserv.power.states.ActionStatus`
members, by the same names, so that the two cannot drift apart (``DONE``,
``FAILED``, ``SUPERSEDED``, ``CANCELLED``).
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """
    The end of one power action, delivered to every request it served.

    :ivar action_id: the action that ran; a request that coalesced onto
        another action gets that action's id here.
    :ivar generation: the node's intent generation the action carried when
        it ended (coalescing a newer request raises it).
    :ivar state: the verified power state for ``DONE`` (``UNKNOWN`` when the
        driver cannot read power), else the last state read after the
        action's last command (its first read, if it sent none), if any.
    :ivar error: why it failed, for ``FAILED``.
    :ivar fatal: whether that failure was fatal (no point retrying).
    :ivar superseded_by: the id of the action that replaced it.
    :ivar commands: the commands the action sent, in order.
    :ivar observed_at: when ``state`` was read (the clock's seconds), if it was.
    """

    status: OutcomeStatus
    action_id: int
    kind: ActionKind
    generation: int
    state: PowerState | None = None
    error: str | None = None
    fatal: bool = False
    superseded_by: int | None = None
    commands: tuple[str, ...] = ()
    observed_at: float | None = None
