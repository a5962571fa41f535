"""
What the registry holds for each node: the actions in play, the requests
each one serves, and what each request is told when it ends.

A :class:`Request` is one request as it was made: its kind, its id and
generation, and what it needs to run as its own action.  A :class:`Play` is
one action and the requests it serves: the one that made it (whose id the
action carries), the power requests that joined it, and the queries riding
it; once it is superseded, also the play it hands over to (its successor).
A :class:`Slot` is one node's play in flight and play waiting, and its row
of the decision table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from twisted.internet.defer import Deferred

from pserv.power.boot import BootSetting
from pserv.power.control import PowerControl
from pserv.power.decisions import (
    CANCELLING,
    DECISIONS,
    IN_FLIGHT_PLACE,
    LEFT_ANOTHER_KIND,
    LEFT_ITS_KIND,
    LEFT_NOTHING,
    NONE,
    TOLD_TO_STOP,
    WAITING_PLACE,
    Decision,
    boot_decision,
)
from pserv.power.lifecycle import ActionState
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind
from pserv.power.steps import PowerAction

_QUERY, _SOFT_OFF = ActionKind.QUERY, ActionKind.SOFT_OFF
_DONE, _FAILED = OutcomeStatus.DONE, OutcomeStatus.FAILED
_SUPERSEDED, _CANCELLED = OutcomeStatus.SUPERSEDED, OutcomeStatus.CANCELLED
_TOLD_TO_STOP = frozenset([ActionState.CANCELLING, ActionState.STOPPING])


@dataclass(slots=True, eq=False)
class Request:
    """
    One request in play.

    :ivar answer: fires once with the request's :class:`Outcome`.
    :ivar id: the id it brought (the region's), or for the request that made
        an action, that action's id; ``None`` for a request that joined
        without one.
    :ivar generation: the intent generation it was admitted at.
    :ivar control: the node's power, should it have to run as its own action.
    :ivar cancelled: an operator cancelled it; it is answered ``cancelled``
        unless its action reaches its end.
    :ivar boot: the boot device an ``on`` or ``cycle`` sets first, if any.
    """

    answer: Deferred[Outcome]
    kind: ActionKind
    id: int | None
    generation: int
    control: PowerControl
    escalate_after: float | None = None
    policy: VerifyPolicy | None = None
    cancelled: bool = False
    boot: BootSetting | None = None


class Play:
    """
    An action in play and the requests it serves.

    :ivar requests: every request it answers, the one that made it first.
    :ivar successor: the play that replaced it, once it is superseded.
    :ivar stale: a newer generation was seeded (recovery): it is superseded
        by an intent this registry may not have seen.
    """

    __slots__ = ("action", "requests", "successor", "stale")

    def __init__(self, action: PowerAction, first: Request) -> None:
        self.action = action
        self.requests: list[Request] = [first]
        self.successor: Play | None = None
        self.stale = False

    def add(self, request: Request) -> None:
        """``request`` joins: it gets this play's outcome."""
        self.requests.append(request)

    def take(self, request_id: int) -> list[Request]:
        """Remove and return the requests that brought ``request_id``."""
        taken = [r for r in self.requests if r.id == request_id]
        self.requests = [r for r in self.requests if r.id != request_id]
        return taken

    def riders(self) -> list[Request]:
        """The queries riding a power action (a query's own requests are not riders)."""
        if self.action.kind is _QUERY:
            return []
        return [r for r in self.requests if r.kind is _QUERY]

    def keepers(self) -> list[Request]:
        """
        The requests not cancelled that want this action's kind of work
        done: its power requests, or every request of a query.
        """
        query = self.action.kind is _QUERY
        return [r for r in self.requests if not r.cancelled and (query or r.kind is not _QUERY)]

    def ids(self, queries: bool = True) -> Iterator[int]:
        """
        The ids of the requests it serves, each once, in the order they came.

        :param queries: whether to include the queries riding it.
        """
        seen: set[int] = set()
        for request in self.requests:
            if not queries and not request.kind.changes_power:
                continue
            if request.id is not None and request.id not in seen:
                seen.add(request.id)
                yield request.id

    def told_to_stop(self) -> bool:
        """Whether it was superseded or an operator cancelled it."""
        return self.successor is not None or self.stale or any(r.cancelled for r in self.requests)

    def ended_early(self) -> bool:
        """
        Whether, once done, it ended without reaching its end: stopped at a
        safe point, never ran, or failed after it was told to stop (a
        verification that ran out for a successor's sake).
        """
        action = self.action
        return action.stopped or (action.error is not None and self.told_to_stop())

    def outcome(self, request: Request | None = None, newest: int | None = None) -> Outcome:
        """
        What ``request`` (by default, one that was not cancelled) is told
        once the action has ended.

        :param newest: the id of the action carrying the node's current
            intent, named as the superseder of a stale play.
        """
        action = self.action
        error = action.error
        if not self.ended_early():
            status = _FAILED if error is not None else _DONE
        elif request is not None and request.cancelled:
            status = _CANCELLED
        elif self.successor is not None or self.stale:
            status = _SUPERSEDED
        else:
            status = _CANCELLED
        superseded_by = None
        if status is _SUPERSEDED:
            superseded_by = self.successor.action.id if self.successor is not None else newest
        return Outcome(
            status,
            action.id,
            action.kind,
            action.generation,
            state=action.state,
            error=None if error is None else str(error),
            fatal=bool(error is not None and error.fatal),
            superseded_by=superseded_by,
            commands=tuple(action.commands),
            observed_at=action.observed_at,
        )

    def answers(self, outcome: Outcome, newest: int | None) -> tuple[list[tuple[Deferred[Outcome], Outcome]],
                                                                     list[Request]]:
        """
        Once the action has ended: what each request is told, and the
        queries that are told nothing but move on, because it ended early
        (a query always ends with a state or an error).

        :param outcome: :meth:`outcome` for a request not cancelled.
        :param newest: as for :meth:`outcome`.
        """
        early = outcome.status is _SUPERSEDED or outcome.status is _CANCELLED
        answers, moving = [], []
        for request in self.requests:
            if request.cancelled:
                answers.append((request.answer, self.outcome(request, newest)))
            elif early and request.kind is _QUERY:
                moving.append(request)
            else:
                answers.append((request.answer, outcome))
        return answers, moving

    def cut(self, request: Request) -> Outcome:
        """
        What ``request``, cancelled while the action goes on, is told at
        once: ``cancelled``, with what the action has done so far.
        """
        action = self.action
        return Outcome(_CANCELLED, action.id, request.kind, request.generation, state=action.state,
                       commands=tuple(action.commands), observed_at=action.observed_at)

    def read(self) -> Outcome:
        """A query's answer from the action's last read."""
        action = self.action
        return Outcome(_DONE, action.id, _QUERY, action.generation, state=action.state,
                       observed_at=action.observed_at)

    def watching(self) -> bool:
        """
        Whether the action only watches for an effect it asked for that may
        take long, and cannot be withdrawn: a soft off that has asked the
        OS to shut down (and not yet forced the node off).
        """
        return self.action.kind is _SOFT_OFF and self.action.commands == ["soft_off"]

    def lower_generation(self) -> None:
        """After a request left: the action carries the newest intent it still serves."""
        generations = [r.generation for r in self.requests if r.kind is not _QUERY]
        if generations and self.action.kind is not _QUERY:
            self.action.generation = max(generations)


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

    def decide_boot(self, decision: Decision, request: Request) -> Decision:
        """
        ``decision`` for ``request``, a power request, once its boot setting
        is weighed: it joins only an action with the same one
        (:data:`~pserv.power.decisions.BOOT_RULES`).
        """
        if decision is Decision.JOIN_IN_FLIGHT:
            joined = self.in_flight
        elif decision is Decision.JOIN_WAITING:
            joined = self.waiting
        else:
            return decision
        return boot_decision(decision, joined.action.boot == request.boot)

    def decide(self, kind: ActionKind) -> Decision:
        """
        The decision for a request of ``kind``: :meth:`row`'s cell of
        :data:`~pserv.power.decisions.DECISIONS`, looked up without building
        the row's strings (a kind is equal to, and hashes as, its value).

        :param kind: what the request asks for.
        """
        in_flight, waiting = self.in_flight, self.waiting
        if in_flight is None:
            first = NONE
        else:
            action = in_flight.action
            first = CANCELLING if action.lifecycle.state in _TOLD_TO_STOP else action.kind
        return DECISIONS[first, NONE if waiting is None else waiting.action.kind, kind]

    @property
    def newest(self) -> Play | None:
        """The play that carries the node's latest intent, if any."""
        return self.waiting or self.in_flight

    def plays(self) -> Iterator[Play]:
        """The plays in flight and waiting, in that order."""
        for play in (self.in_flight, self.waiting):
            if play is not None:
                yield play

    def holding(self, request_id: int) -> Play | None:
        """The play serving a request that brought ``request_id``, if any."""
        for play in self.plays():
            if any(r.id == request_id for r in play.requests):
                return play
        return None

    def queries(self) -> list[tuple[Deferred[Outcome], Outcome]]:
        """
        Answer, from the last read of the action in flight, every query in
        play for the node (riding it, waiting, or riding what waits), and
        let go of them; a waiting query left with nothing to answer is then
        for the caller to drop.
        """
        answer = self.in_flight.read()
        answers = []
        for play in self.plays():
            for request in play.requests:
                if request.kind is _QUERY and not request.cancelled:
                    answers.append((request.answer, answer))
            play.requests = [r for r in play.requests if r.kind is not _QUERY or r.cancelled]
        return answers

    def cancel_row(self, play: Play, keepers: list[Request]) -> tuple[str, str]:
        """
        The row of :data:`~pserv.power.decisions.CANCELS` for a cancel of a
        request ``play`` served: where ``play`` is, and what ``keepers``
        (its requests left, not cancelled) still want.
        """
        if play is self.waiting:
            place = WAITING_PLACE
        else:
            place = TOLD_TO_STOP if play.told_to_stop() else IN_FLIGHT_PLACE
        if not keepers:
            return place, LEFT_NOTHING
        kind = play.action.kind
        return place, LEFT_ITS_KIND if any(r.kind is kind for r in keepers) else LEFT_ANOTHER_KIND

    def next_kind(self) -> ActionKind | None:
        """What runs once the action in flight has stopped: the waiting kind, or nothing."""
        return None if self.waiting is None else self.waiting.action.kind
