"""
What the registry holds for each node: the actions in play, who waits for
each one's outcome, and what that outcome is.

A :class:`Play` is one action and the requests it answers: the power
requests it serves (its callers), the queries riding it (its riders) and,
once it is superseded, the play it hands over to (its successor).  A
:class:`Slot` is one node's play in flight and play waiting, and its row of
the decision table.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred

from pserv.power.decisions import CANCELLING, NONE
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind
from pserv.power.steps import PowerAction

_QUERY = ActionKind.QUERY


class Play:
    """
    An action in play and the requests it answers.

    :ivar callers: the power requests it serves.
    :ivar riders: the queries riding it; if it is superseded they move on
        to its successor, so a query always ends with a state or an error.
    :ivar successor: the play that replaced it, once it is superseded.
    """

    __slots__ = ("action", "callers", "riders", "successor")

    def __init__(self, action: PowerAction, first: Deferred[Outcome]) -> None:
        self.action = action
        self.callers: list[Deferred[Outcome]] = []
        self.riders: list[Deferred[Outcome]] = []
        self.successor: Play | None = None
        self.add(first)

    def add(self, request: Deferred[Outcome], kind: ActionKind | None = None) -> None:
        """
        A power request becomes a caller; a query, a rider.

        :param kind: what ``request`` asked for; the action's kind by default.
        """
        if (kind or self.action.kind) is _QUERY:
            self.riders.append(request)
        else:
            self.callers.append(request)

    def outcome(self) -> Outcome:
        """What every caller is told once the action has ended."""
        action = self.action
        error = action.error
        if error is not None:
            status = OutcomeStatus.FAILED
        elif action.stopped:
            status = OutcomeStatus.SUPERSEDED if self.successor else OutcomeStatus.CANCELLED
        else:
            status = OutcomeStatus.DONE
        return Outcome(
            status,
            action.id,
            action.kind,
            action.generation,
            state=action.state,
            error=None if error is None else str(error),
            fatal=bool(error is not None and error.fatal),
            superseded_by=(
                self.successor.action.id if status is OutcomeStatus.SUPERSEDED and self.successor else None
            ),
            commands=tuple(action.commands),
            observed_at=action.observed_at,
        )


class Slot:
    """
    What is in play for one node: at most one play in flight, one waiting.
    """

    __slots__ = ("in_flight", "waiting")

    def __init__(self) -> None:
        self.in_flight: Play | None = None
        self.waiting: Play | None = None

    def row(self) -> tuple[str, str]:
        """The node's row of the decision table: ``(in flight, waiting)``."""
        in_flight = self.in_flight
        if in_flight is None:
            first = NONE
        elif in_flight.action.lifecycle.cancelling:
            first = CANCELLING
        else:
            first = in_flight.action.kind.value
        waiting = self.waiting
        return first, NONE if waiting is None else waiting.action.kind.value

    @property
    def newest(self) -> Play | None:
        """The play that carries the node's latest intent, if any."""
        return self.waiting or self.in_flight

    def redelivered(self, kind: ActionKind, action_id: int | None, request: Deferred[Outcome]) -> bool:
        """
        Whether ``action_id`` is in play already; if so, ``request`` joins
        it (a re-delivery of the same action).

        :param kind: what ``request`` asks for.
        :param action_id: the region's id the request brought, if any.
        """
        if action_id is None:
            return False
        for play in (self.in_flight, self.waiting):
            if play is not None and play.action.id == action_id:
                play.add(request, kind)
                return True
        return False
