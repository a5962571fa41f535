"""
The per-node power-action registry: one action in flight per node, at most
one waiting, duplicates coalesced and conflicts superseded.

A request is first admitted (:mod:`pserv.power.admission`: a stale one is
answered at once), then looked up in
:data:`pserv.power.decisions.DECISIONS` and dispatched; an operator's
cancel of one request is looked up in :data:`~pserv.power.decisions.CANCELS`.
What is in play for each node, request by request, is in
:mod:`pserv.power.play`.
"""

from __future__ import annotations

from collections import deque
from itertools import count
from typing import Callable, Iterator

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from pserv.power.actions import ACTION_CLASSES
from pserv.power.admission import Admission
from pserv.power.boot import BOOT_KINDS, BootSetting
from pserv.power.cancels import CancelRules
from pserv.power.control import PowerControl
from pserv.power.events import ActionEvent, ActionListener, Checkpoint
from pserv.power.decisions import NONE, Decision
from pserv.power.outcome import Outcome
from pserv.power.play import Play, Request, Slot
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind
from pserv.power.steps import PowerAction

__all__ = ["ActionEvent", "ActionListener", "Checkpoint", "PowerActionRegistry"]

_CREATING = frozenset(
    [Decision.START, Decision.SUPERSEDE, Decision.WAIT, Decision.REPLACE_WAITING]
)
"""The decisions that make a new action."""

_KINDS: dict[ActionKind | str, ActionKind] = {**{k.value: k for k in ActionKind}, **{k: k for k in ActionKind}}
"""A request's kind by its value or itself: cheaper than calling the enum."""

_QUERY, _SOFT_OFF = ActionKind.QUERY, ActionKind.SOFT_OFF
_JOIN_IN_FLIGHT, _JOIN_WAITING = Decision.JOIN_IN_FLIGHT, Decision.JOIN_WAITING

class PowerActionRegistry(CancelRules):
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
        self._on_ended = self._ended  # bound once: every action in flight calls it
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
                policy: VerifyPolicy | None = None, boot: BootSetting | None = None) -> Deferred[Outcome]:
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
        :param boot: for ``on`` and ``cycle``, the boot device to set before
            the first power command; part of the request's intent (only a
            request with the same one coalesces).
        :return: fires exactly once with the :class:`Outcome`.
        """
        try:
            kind = _KINDS[kind]
        except (KeyError, TypeError):
            kind = ActionKind(kind)
        answer: Deferred[Outcome] = Deferred()
        slot = self._slots.get(node)
        if slot is None:
            slot = self._slots[node] = Slot()
        admitted = self._admission.admit(node, kind, generation)
        if admitted is None:
            newest = slot.newest
            in_play = newest.action.id if newest is not None and not newest.stale else None
            self._deliveries.append((answer, self._admission.refusal(node, kind, action_id, in_play)))
        else:
            options = escalate_after if kind is _SOFT_OFF else None
            request = Request(answer, kind, action_id, admitted, control, options, policy,
                              boot=boot if kind in BOOT_KINDS else None)
            held = slot.holding(action_id) if action_id is not None else None
            if held is not None:
                self._join(node, held, request)
            else:
                self._decide(node, slot, request)
            if kind is not _QUERY:
                self._admission.carried_by(node, action_id)
        if slot.in_flight is None and slot.waiting is None:
            self._slots.pop(node, None)
        if self._deliveries:
            self._drain()
        return answer

    def cancel(self, node: str, action_id: int) -> bool:
        """
        An operator's cancel of one request: every request that brought
        ``action_id`` (or the action of that id, for one the registry
        numbered) ends ``cancelled``, and only those.  The action goes on
        for the other power requests it serves, or stops at its next safe
        point for the one of them that takes over, or, if none is left,
        stops at its next safe point (a waiting one at once); queries move
        on to what runs next.

        :return: whether that request was in play.
        """
        slot = self._slots.get(node)
        play = slot.holding(action_id) if slot is not None else None
        if play is None:
            return False
        self._cancel_request(node, slot, play, action_id)
        self._forget_if_idle(node, slot)
        self._drain()
        return True

    def seed(self, node: str, generation: int) -> None:
        """
        ``node``'s intent is at least at ``generation`` (a recovery answer
        says so): older power requests are answered ``superseded`` without
        running, and older actions in play are superseded (a waiting one at
        once, the one in flight at its next safe point), so that no command
        is sent for a generation older than the newest heard of.
        """
        if not self._admission.seed(node, generation):
            return
        slot = self._slots.get(node)
        if slot is not None:
            self._stale(node, slot, generation)
            self._forget_if_idle(node, slot)
        self._drain()

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

    def serving(self, node: str, action: PowerAction, queries: bool = True) -> list[int]:
        """
        The ids of the requests ``action`` serves now, each once: the one
        that made it, then those that joined (a request cancelled on its
        own, or taken over by another action, is no longer among them).

        :param queries: whether to include the queries riding it.
        """
        slot = self._slots.get(node)
        for play in slot.plays() if slot is not None else ():
            if play.action is action:
                return list(play.ids(queries))
        return []

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

    def _decide(self, node: str, slot: Slot, request: Request) -> None:
        """Look up ``node``'s decision for ``request`` and carry it out; only some make a new action."""
        decision = slot.decide(request.kind)
        if request.kind is not _QUERY:
            decision = slot.decide_boot(decision, request)
        if decision is _JOIN_IN_FLIGHT:  # the commonest two, without the dispatch
            self._join(node, slot.in_flight, request)
        elif decision is _JOIN_WAITING:
            self._join(node, slot.waiting, request)
        elif decision in _CREATING:
            self._dispatch[decision](node, slot, self._new_play(node, request))
        else:
            self._dispatch[decision](node, slot, request)

    def _new_play(self, node: str, first: Request, *others: Request) -> Play:
        """A new action for ``first``, which gives it its id (numbered if it brought none) and generation."""
        if first.id is None:
            first.id = next(self._ids)
        options = {"escalate_after": first.escalate_after} if first.kind is _SOFT_OFF else {}
        action = ACTION_CLASSES[first.kind](
            first.control,
            self.clock,
            action_id=first.id,
            generation=first.generation,
            policy=first.policy,
            on_progress=self._progress_hook(node) if self._listeners or self._checkpoint else None,
            boot=first.boot,
            **options,
        )
        if first.kind is _SOFT_OFF:
            action.on_read = self._read_hook(node)
        if self._listeners:
            self._emit("queued", node, action)
        play = Play(action, first)
        for request in others:
            self._join(node, play, request)
        return play

    def _start_now(self, node: str, slot: Slot, new: Play) -> None:
        slot.in_flight = new
        self._start(node, new)

    def _join_in_flight(self, node: str, slot: Slot, request: Request) -> None:
        self._join(node, slot.in_flight, request)

    def _join_waiting(self, node: str, slot: Slot, request: Request) -> None:
        self._join(node, slot.waiting, request)

    def _supersede(self, node: str, slot: Slot, new: Play) -> None:
        in_flight = slot.in_flight
        slot.waiting = in_flight.successor = new
        self._cancel_in_flight(node, in_flight, new.action.kind)

    def _wait(self, node: str, slot: Slot, new: Play) -> None:
        slot.waiting = new
        self._cancel_in_flight(node, slot.in_flight, new.action.kind)

    def _replace_waiting(self, node: str, slot: Slot, new: Play) -> None:
        replaced = slot.waiting
        replaced.successor = new
        self._put_waiting(node, slot, new, replaced)

    def _put_waiting(self, node: str, slot: Slot, new: Play | None, old: Play) -> None:
        """
        ``new`` (or nothing) waits instead of ``old``, which never runs; the
        action in flight re-decides where it stops for what waits now.
        """
        in_flight = slot.in_flight
        slot.waiting = new
        if new is not None and in_flight.successor is old:
            in_flight.successor = new
        old.action.cancel()
        self._settle(node, old, new or in_flight)
        if in_flight.action.cancelling:
            in_flight.action.cancel(slot.next_kind())

    def _join(self, node: str, play: Play, request: Request) -> None:
        play.requests.append(request)
        if request.kind is not _QUERY and request.generation > play.action.generation:
            play.action.generation = request.generation
        if self._listeners:
            self._emit("joined", node, play.action, detail=None if request.id is None else str(request.id))

    # Running

    def _start(self, node: str, play: Play) -> None:
        play.action.lifecycle.then(self._on_ended, node, play)
        if self._listeners:
            self._emit("started", node, play.action)
        play.action.begin()

    def _cancel_in_flight(self, node: str, play: Play, successor: ActionKind | None) -> None:
        """
        Tell the action in flight to stop at its next safe point for
        ``successor``, what runs next (``None``: nothing).
        """
        if self._listeners and not play.action.cancelling:
            self._emit("cancelling", node, play.action)
        play.action.cancel(successor)

    def _ended(self, action: PowerAction, node: str, play: Play) -> None:
        slot = self._slots[node]
        following = slot.waiting
        slot.in_flight, slot.waiting = following, None
        if following is not None:
            following.action.shutdown_until = action.pending_shutdown()
        moving = self._settle(node, play, following)
        if moving:
            slot.in_flight = self._new_play(node, *moving)
        if slot.in_flight is not None:
            self._start(node, slot.in_flight)
        self._forget_if_idle(node, slot)
        self._drain()

    def _settle(self, node: str, play: Play, following: Play | None) -> list[Request]:
        """
        Deliver ``play``'s outcome to each request it serves.  If it ended
        early, its queries move on to ``following``, what runs instead.

        :return: the queries that must move on but have nowhere to go: they
            read for themselves.
        """
        newest = self._admission.carrier(node)
        outcome = play.outcome(newest=newest)
        if self._listeners:
            self._emit("ended", node, play.action, outcome=outcome)
        answers, moving = play.answers(outcome, newest)
        self._deliveries.extend(answers)
        if following is None:
            return moving
        for request in moving:
            following.add(request)
        return []

    def _forget_if_idle(self, node: str, slot: Slot) -> None:
        """
        Drop the idle ``slot`` of ``node``, if it is still the node's: an
        action that ended before its start returned (its control refused at
        once) may have let a new request make the node a slot of its own.
        """
        if slot.in_flight is None and slot.waiting is None and self._slots.get(node) is slot:
            del self._slots[node]

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

    def _read_hook(self, node: str) -> Callable[[PowerAction], None]:
        """A soft off's reads answer the queries in play for ``node``: its wait for the OS may be long."""
        def read(action: PowerAction) -> None:
            slot = self._slots.get(node)
            if slot is None or slot.in_flight is None or slot.in_flight.action is not action:
                return
            self._deliveries.extend(slot.queries())
            waiting = slot.waiting
            if waiting is not None and not waiting.requests:
                self._put_waiting(node, slot, None, waiting)
            self._drain()

        return read

    def _progress_hook(self, node: str) -> Callable[[PowerAction, str], Deferred[object] | None]:
        def milestone(action: PowerAction, reached: str) -> Deferred[object] | None:
            self._emit("progress", node, action, detail=reached)
            if self._checkpoint is None:
                return None
            return self._checkpoint(node, action, reached)

        return milestone
