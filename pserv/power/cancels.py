"""
What an operator's cancel of one request, and a seeded generation, do to
what is in play for a node: the registry's half that carries out
:data:`~pserv.power.decisions.CANCELS`.

A cancel ends exactly the requests that brought the id it names.  The
action serving them goes on for the other requests (detach), stops for the
newest of them, which runs next as its own action (take over), or, if
nothing is left that wants its work, stops (a waiting one at once, the one
in flight at its next safe point for what waits next).
"""

from __future__ import annotations

from collections import deque

from twisted.internet.defer import Deferred

from pserv.power.decisions import CANCELS, CancelDecision
from pserv.power.outcome import Outcome
from pserv.power.play import Play, Request, Slot
from pserv.power.states import ActionKind


class CancelRules:
    """
    The cancel rules, for :class:`~pserv.power.registry.PowerActionRegistry`
    to inherit: they use its plays, its deliveries and its way of telling
    the action in flight to stop.
    """

    _deliveries: deque[tuple[Deferred[Outcome], Outcome]]

    # What the registry provides.

    def _new_play(self, node: str, first: Request, *others: Request) -> Play:
        raise NotImplementedError

    def _put_waiting(self, node: str, slot: Slot, new: Play | None, old: Play) -> None:
        raise NotImplementedError

    def _cancel_in_flight(self, node: str, play: Play, successor: ActionKind | None) -> None:
        raise NotImplementedError

    def _cancel_request(self, node: str, slot: Slot, play: Play, action_id: int) -> None:
        """
        End the requests that brought ``action_id``, and only those: look
        up what that does to ``play`` in :data:`CANCELS` and do it.
        """
        named = play.take(action_id)
        for request in named:
            request.cancelled = True
        keepers = play.keepers()
        _RULES[CANCELS[slot.cancel_row(play, keepers)]](self, node, slot, play, named, keepers)

    def _detach(self, node: str, slot: Slot, play: Play, named: list[Request], keepers: list[Request]) -> None:
        """The named requests end at once; ``play`` goes on for the others."""
        play.lower_generation()
        self._deliveries.extend((r.answer, play.cut(r)) for r in named)

    def _take_over(self, node: str, slot: Slot, play: Play, named: list[Request], keepers: list[Request]) -> None:
        """The newest keeper runs as its own action, the other requests with it; ``play`` stops for it."""
        newest = max(keepers, key=lambda r: r.generation)
        if play is slot.waiting:
            takeover = self._new_play(node, newest, *(r for r in play.requests if r is not newest))
            play.requests = named
            self._put_waiting(node, slot, takeover, play)
        else:
            play.requests = named + play.riders()
            slot.waiting = self._new_play(node, newest, *(r for r in keepers if r is not newest))
            self._cancel_in_flight(node, play, slot.next_kind())

    def _stop_named(self, node: str, slot: Slot, play: Play, named: list[Request], keepers: list[Request]) -> None:
        """
        ``play`` stops, and answers the named requests when it ends; at once
        if it only watches for what it asked (a soft off's shutdown, which
        it goes on watching for, with nobody waiting on it).
        """
        if play is not slot.waiting and play.watching():
            self._deliveries.extend((r.answer, play.cut(r)) for r in named)
        else:
            play.requests[:0] = named
        self._stop(node, slot, play)

    def _stop(self, node: str, slot: Slot, play: Play) -> None:
        """Nothing wants ``play``'s work any more: a waiting one ends at once, the one in flight at its safe point."""
        if play is slot.waiting:
            self._put_waiting(node, slot, None, play)
        else:
            self._cancel_in_flight(node, play, slot.next_kind())

    def _stale(self, node: str, slot: Slot, generation: int) -> None:
        """Supersede ``node``'s power actions in play older than ``generation``."""
        for play in (slot.waiting, slot.in_flight):
            action = play.action if play is not None else None
            if action is not None and action.kind.changes_power and action.generation < generation:
                play.stale = True
                self._stop(node, slot, play)


_RULES = {
    CancelDecision.DETACH: CancelRules._detach,
    CancelDecision.TAKE_OVER: CancelRules._take_over,
    CancelDecision.STOP: CancelRules._stop_named,
}
"""What carries out each decision of :data:`~pserv.power.decisions.CANCELS`."""
