"""
The one vocabulary of power: power states, the kinds of power action, and a
region action's statuses with the table of changes between them.

The store's SQL, the OpenAPI document, the RPC shapes, the client and the
simulation read these rather than spelling the names out; the region
changes an action's status only as :data:`TRANSITIONS` allows
(:mod:`pserv.region.store.transitions`).
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable

from pserv.util.machine import InvalidTransition


class PowerState(str, Enum):
    """
    A node's power state, as the API and the drivers name it.

    Drivers report only ``ON`` and ``OFF``; ``UNKNOWN`` means nobody has
    looked yet or the driver cannot tell, and ``ERROR`` that reading it failed.
    """

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"
    ERROR = "error"


DEFINITE = frozenset({PowerState.ON, PowerState.OFF})
"""The power states that say where a node's power is; the only ones a driver reads."""


class ActionKind(str, Enum):
    """
    What an operator can ask of a node's power.
    """

    ON = "on"
    OFF = "off"
    CYCLE = "cycle"
    SOFT_OFF = "soft_off"
    QUERY = "query"

    @property
    def target(self) -> PowerState | None:
        """
        The power state this kind of action leaves the node in, or ``None``
        for a query, which changes nothing.
        """
        return _TARGETS[self]

    @property
    def changes_power(self) -> bool:
        """
        Whether this kind of action may send a command that changes power.
        """
        return self is not ActionKind.QUERY


_TARGETS = {
    ActionKind.ON: PowerState.ON,
    ActionKind.CYCLE: PowerState.ON,
    ActionKind.OFF: PowerState.OFF,
    ActionKind.SOFT_OFF: PowerState.OFF,
    ActionKind.QUERY: None,
}


class ActionStatus(str, Enum):
    """
    Where a region power action is in its life, as the store, the API, the
    RPC, the client and the simulation name it.

    ``PENDING`` is committed and not yet handed to a cluster, ``SENT`` handed
    over, ``RUNNING`` started by the cluster; ``TIMED_OUT`` handed over and
    not heard of within the region's ``action_timeout``, though the cluster
    may still hold it, so it still takes the outcome that comes; the other
    four are final and match :class:`~pserv.power.outcome.OutcomeStatus`.
    """

    PENDING = "pending"
    SENT = "sent"
    RUNNING = "running"
    TIMED_OUT = "timed_out"
    DONE = "done"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Whether the action has ended; a final status never changes."""
        return self in FINAL

    def may_become(self, new: ActionStatus) -> bool:
        """
        Whether :data:`TRANSITIONS` lets an action go from this status to ``new``.

        :param new: the status asked for.
        """
        return new in TRANSITIONS[self]

    def check_transition(self, new: ActionStatus) -> None:
        """
        Refuse a change of status the table does not list.

        :param new: the status asked for.
        :raises InvalidTransition: when :data:`TRANSITIONS` does not allow
            going from this status to ``new``.
        """
        if not self.may_become(new):
            raise InvalidTransition(f"an action cannot go from {self.value} to {new.value}", self, new)


FINAL = frozenset({ActionStatus.DONE, ActionStatus.FAILED, ActionStatus.SUPERSEDED, ActionStatus.CANCELLED})
"""The statuses an action ends in."""

OUTSTANDING = frozenset({ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.RUNNING, ActionStatus.TIMED_OUT})
"""The statuses of an action that has not ended: what recovery returns."""

IN_FLIGHT = frozenset({ActionStatus.SENT, ActionStatus.RUNNING, ActionStatus.TIMED_OUT})
"""The statuses of an action a cluster may be holding."""

UNSTARTED = frozenset({ActionStatus.PENDING, ActionStatus.SENT})
"""The statuses of an action no cluster has started: what the region's timer
looks at (a ``pending`` one fails, a ``sent`` one becomes ``timed_out``)."""

TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    # A cluster's "running" report can overtake the region marking it sent,
    # and an outcome can arrive for an action the region still holds
    # pending (a recovery answer that crossed the hand-over).
    ActionStatus.PENDING: frozenset({ActionStatus.SENT, ActionStatus.RUNNING}) | FINAL,
    # A sent action nobody heard of in time times out, and still takes the
    # running report and the outcome of a cluster that held it all along.
    ActionStatus.SENT: frozenset({ActionStatus.RUNNING, ActionStatus.TIMED_OUT}) | FINAL,
    ActionStatus.TIMED_OUT: frozenset({ActionStatus.RUNNING}) | FINAL,
    ActionStatus.RUNNING: FINAL,
    **{status: frozenset() for status in FINAL},
}
"""Every change of status an action may make; anything else is an error."""


_REACHING = {
    status: frozenset(source for source, targets in TRANSITIONS.items() if status in targets)
    for status in ActionStatus
}


def reaching(status: ActionStatus) -> frozenset[ActionStatus]:
    """
    The statuses :data:`TRANSITIONS` lets become ``status``: the only ones a
    change to ``status`` may start from.

    :param status: the status to reach.
    """
    return _REACHING[status]


def values(members: Iterable[Enum]) -> list[str]:
    """
    The names of ``members`` as the API and the database spell them, sorted:
    for SQL ``IN`` and for messages.

    :param members: states, kinds or statuses, e.g. :data:`FINAL`.
    """
    return sorted(member.value for member in members)


def render_transitions() -> str:
    """
    :data:`TRANSITIONS` as a Markdown table, one row per status, as
    ``docs/api.md`` shows it.
    """
    lines = ["| status | may become |", "| --- | --- |"]
    for status in ActionStatus:
        targets = [f"`{target.value}`" for target in ActionStatus if status.may_become(target)]
        lines.append(f"| `{status.value}` | {', '.join(targets) or 'nothing: final'} |")
    return "\n".join(lines) + "\n"
