"""
The per-node power-action registry: one action in flight per node, at most
one waiting, duplicates coalesced and conflicts superseded.

A request is first admitted (:mod:`pserv.power.admission`: a stale one is
answered at once), then looked up in
:data:`pserv.power.decisions.DECISIONS` and dispatched.  What is in play
for each node is in :mod:`pserv.power.play`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import count
from typing import Callable, Iterator

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from pserv.power.actions import ACTION_CLASSES
from pserv.power.admission import Admission
from pserv.power.control import PowerControl
from pserv.power.decisions import DECISIONS, NONE, Decision
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.play import Play, Slot
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind
from pserv.power.steps import PowerAction


@dataclass(frozen=True, slots=True)
class ActionEvent:
    """
    Something that happened to an action in the registry.

    :ivar name: ``queued``, ``started``, ``joined``, ``cancelling``,
        ``progress`` or ``ended``.
    :ivar detail: the milestone, for ``progress``; for ``joined``, the id
        the joining request brought (or ``None``).
    :ivar outcome: for ``ended``.
    """

    name: str
    node: str
    action: PowerAction
    detail: str | None = None
    outcome: Outcome | None = None


ActionListener = Callable[[ActionEvent], None]
Checkpoint = Callable[[str, PowerAction, str], "Deferred[object] | None"]

_CREATING = frozenset(
    [Decision.START, Decision.SUPERSEDE, Decision.WAIT, Decision.REPLACE_WAITING]
)
"""The decisions that make a new action."""


class PowerActionRegistry:
    """
    One per cluster: every node's power actions.

    :param clock: what actions wait on.
    :param ids: the ids for actions the registry numbers itself (requests
        may bring the region's ids instead); 1, 2, 3... by default.  A
        cluster numbers its own -1, -2... so they never meet the region's.
    :param checkpoint: called with (node, action, milestone) at each
        milestone; an action waits for a Deferred it returns before going on.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        ids: Iterator[int] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.clock = clock
        self._checkpoint = checkpoint
        self._slots: dict[str, Slot] = {}
        self._admission = Admission()
        self._ids = ids if ids is not None else count(1)
        self._deliveries: deque[tuple[Deferred[Outcome], Outcome]] = deque()
        self._delivering = False
        self._listeners: list[ActionListener] = []
        self._dispatch = {
            Decision.START: self._start_now,
            Decision.JOIN_IN_FLIGHT: self._join_in_flight,
            Decision.JOIN_WAITING: self._join_waiting,
            Decision.SUPERSEDE: self._supersede,
            Decision.WAIT: self._wait,
            Decision.REPLACE_WAITING: self._replace_waiting,
        }

    def add_listener(self, listener: ActionListener) -> None:
        """
        Call ``listener`` with an :class:`ActionEvent` for every change.
        """
        self._listeners.append(listener)

    def request(self, node: str, kind: ActionKind | str, control: PowerControl, *, action_id: int | None = None,
                generation: int | None = None, escalate_after: float | None = None,
                policy: VerifyPolicy | None = None) -> Deferred[Outcome]:
        """
        Ask for a power action on ``node``.

        :param control: the node's power, used if a new action is created.
        :param action_id: the region's id for this request; a request whose
            id is already in play joins that action (a re-delivery).
        :param generation: the node's intent generation for this request;
            by default the registry counts one up for each power request.  A
            power request older than the node's current generation is stale
            and is answered ``superseded`` without running.
        :param escalate_after: for ``soft_off``, seconds before a hard off.
        :param policy: how to verify, if not the control's own policy.
        :return: fires exactly once with the :class:`Outcome`.
        """
        kind = ActionKind(kind)
        request: Deferred[Outcome] = Deferred()
        slot = self._slots.get(node)
        if slot is None:
            slot = self._slots[node] = Slot()
        admitted = self._admission.admit(node, kind, generation)
        if admitted is None:
            newest = slot.newest
            refusal = self._admission.refusal(node, kind, action_id, newest.action if newest else None)
            self._deliveries.append((request, refusal))
        elif not slot.redelivered(kind, action_id, request):
            self._decide(node, slot, kind, request, control, action_id, admitted, escalate_after, policy)
        self._forget_if_idle(node, slot)
        self._drain()
        return request

    def cancel(self, node: str, action_id: int) -> bool:
        """
        An operator's cancel of one action.  A waiting action ends at once,
        one in flight at its next safe point; every request it answers ends
        ``cancelled``.

        :return: whether that action was in play.
        """
        slot = self._slots.get(node)
        if slot is None:
            return False
        waiting, in_flight = slot.waiting, slot.in_flight
        if waiting is not None and waiting.action.id == action_id:
            slot.waiting = None
            waiting.action.cancel()
            self._settle(node, waiting, None)
        elif in_flight is not None and in_flight.action.id == action_id:
            self._cancel_in_flight(node, in_flight, None)
        else:
            return False
        self._drain()
        return True

    def in_play(self, node: str) -> tuple[PowerAction | None, PowerAction | None]:
        """
        The actions in flight and waiting for ``node``.
        """
        slot = self._slots.get(node)
        if slot is None:
            return None, None
        return (
            slot.in_flight.action if slot.in_flight else None,
            slot.waiting.action if slot.waiting else None,
        )

    def row(self, node: str) -> tuple[str, str]:
        """
        ``node``'s row of the decision table: ``(in flight, waiting)``.
        """
        slot = self._slots.get(node)
        return slot.row() if slot is not None else (NONE, NONE)

    def generation(self, node: str) -> int:
        """
        ``node``'s current intent generation.
        """
        return self._admission.generation(node)

    def busy_nodes(self) -> list[str]:
        """
        The nodes with an action in play.
        """
        return list(self._slots)

    # Decisions

    def _decide(self, node: str, slot: Slot, kind: ActionKind, request: Deferred[Outcome], control: PowerControl,
                action_id: int | None, generation: int, escalate_after: float | None,
                policy: VerifyPolicy | None) -> None:
        """Look up ``node``'s decision for ``kind`` and carry it out; only some make a new action."""
        decision = DECISIONS[(*slot.row(), kind)]
        if decision in _CREATING:
            new = self._new_play(node, kind, request, control, action_id, generation, escalate_after, policy)
            self._dispatch[decision](node, slot, kind, new)
        else:
            self._dispatch[decision](node, slot, kind, request, generation, action_id)

    def _new_play(self, node: str, kind: ActionKind, request: Deferred[Outcome], control: PowerControl,
                  action_id: int | None, generation: int, escalate_after: float | None,
                  policy: VerifyPolicy | None) -> Play:
        options = {"escalate_after": escalate_after} if kind is ActionKind.SOFT_OFF else {}
        action = ACTION_CLASSES[kind](
            control,
            self.clock,
            action_id=next(self._ids) if action_id is None else action_id,
            generation=generation,
            policy=policy,
            on_progress=self._progress_hook(node) if self._listeners or self._checkpoint else None,
            **options,
        )
        self._emit("queued", node, action)
        return Play(action, request)

    def _start_now(self, node: str, slot: Slot, kind: ActionKind, new: Play) -> None:
        slot.in_flight = new
        self._start(node, new)

    def _join_in_flight(self, node: str, slot: Slot, kind: ActionKind, request: Deferred[Outcome],
                        generation: int, action_id: int | None) -> None:
        self._join(node, slot.in_flight, kind, request, generation, action_id)

    def _join_waiting(self, node: str, slot: Slot, kind: ActionKind, request: Deferred[Outcome],
                      generation: int, action_id: int | None) -> None:
        self._join(node, slot.waiting, kind, request, generation, action_id)

    def _supersede(self, node: str, slot: Slot, kind: ActionKind, new: Play) -> None:
        in_flight = slot.in_flight
        slot.waiting = in_flight.successor = new
        self._cancel_in_flight(node, in_flight, kind)

    def _wait(self, node: str, slot: Slot, kind: ActionKind, new: Play) -> None:
        slot.waiting = new
        self._cancel_in_flight(node, slot.in_flight, kind)

    def _replace_waiting(self, node: str, slot: Slot, kind: ActionKind, new: Play) -> None:
        replaced, in_flight = slot.waiting, slot.in_flight
        slot.waiting = replacement = new
        if in_flight.successor is replaced:
            in_flight.successor = replacement
        replaced.action.cancel()
        replaced.successor = replacement
        self._settle(node, replaced, replacement)
        self._cancel_in_flight(node, in_flight, kind)

    def _join(self, node: str, play: Play, kind: ActionKind, request: Deferred[Outcome],
              generation: int, action_id: int | None) -> None:
        play.add(request, kind)
        if generation > play.action.generation:
            play.action.generation = generation
        self._emit("joined", node, play.action, detail=None if action_id is None else str(action_id))

    # Running

    def _start(self, node: str, play: Play) -> None:
        play.action.done.addCallback(self._ended, node, play)
        self._emit("started", node, play.action)
        play.action.start()

    def _cancel_in_flight(self, node: str, play: Play, successor: ActionKind | None) -> None:
        if not play.action.cancelling:
            self._emit("cancelling", node, play.action)
        play.action.cancel(successor)

    def _ended(self, action: PowerAction, node: str, play: Play) -> None:
        slot = self._slots[node]
        following = slot.waiting
        slot.in_flight, slot.waiting = following, None
        self._settle(node, play, following)
        if following is not None:
            self._start(node, following)
        self._forget_if_idle(node, slot)
        self._drain()

    def _settle(self, node: str, play: Play, following: Play | None) -> None:
        """
        Deliver ``play``'s outcome; a superseded action's query riders move
        on to ``following``, the action that runs instead.
        """
        outcome = play.outcome()
        self._emit("ended", node, play.action, outcome=outcome)
        deliveries = self._deliveries
        for request in play.callers:
            deliveries.append((request, outcome))
        if outcome.status is OutcomeStatus.SUPERSEDED and following is not None:
            following.riders.extend(play.riders)
        else:
            for request in play.riders:
                deliveries.append((request, outcome))

    def _forget_if_idle(self, node: str, slot: Slot) -> None:
        if slot.in_flight is None and slot.waiting is None:
            self._slots.pop(node, None)

    def _drain(self) -> None:
        if self._delivering:
            return
        self._delivering = True
        try:
            deliveries = self._deliveries
            while deliveries:
                request, outcome = deliveries.popleft()
                request.callback(outcome)
        finally:
            self._delivering = False

    def _emit(self, name: str, node: str, action: PowerAction, **extra) -> None:
        for listener in self._listeners:
            listener(ActionEvent(name, node, action, **extra))

    def _progress_hook(self, node: str) -> Callable[[PowerAction, str], Deferred[object] | None]:
        def milestone(action: PowerAction, reached: str) -> Deferred[object] | None:
            self._emit("progress", node, action, detail=reached)
            if self._checkpoint is None:
                return None
            return self._checkpoint(node, action, reached)

        return milestone
