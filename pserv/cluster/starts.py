"""
The cluster's side of power budgets: an action about to send a power-on
under a budget waits here for the region to grant it a start.

The region holds the budgets and the line of actions waiting for each
(:mod:`pserv.region.store.budget_line`): so a budget holds across every
cluster whose nodes share it, a group's members included, and a budget
changed applies at the next ask.  :class:`StartPermits` asks for every
waiting action in one ``TakeStarts`` (a new one is asked for within the
reactor turn it arrives in, along with the others), and again for those
still waiting after the answer's ``retry_after``, so that its place in
line is kept.  While the region cannot be reached, nothing starts and the
asks are made again with backoff.

An action the region refuses a start (ended there, or of a node this
cluster does not hold) is asked for by the next region action it serves,
if any; with none left it fails, fatally, having sent nothing.

Waiting is a safe point: an action superseded or cancelled while it waits
(an ``off`` arriving for a node waiting to be switched on) withdraws, and
no power-on is ever sent for it.  A start granted but answered later than
:data:`LATE_ANSWER` seconds after the ask is not used (the action asks
again): so every power-on is sent within that long of the region granting
its start, and a budget holds at the BMCs as it does in the region's
ledger, however slow the link.  Power-offs never wait here.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from pserv.power.control import ControlWrapper, PowerControl
from pserv.power.errors import PowerFatalError
from pserv.rpc.messages import BudgetPlace, StartAsk, StartsAnswer
from pserv.util.backoff import Backoff, exponential

log = Logger()

LATE_ANSWER = 1.0
"""Seconds after an ask past which a start it is granted is not used."""

ASK_BACKOFF: Backoff = exponential(1.0, 5.0)
"""The wait before asking again after the region could not be asked."""


class StartsLink(Protocol):
    """What the cluster's RPC connection offers for budgets."""

    def take_starts(self, asks: Sequence[StartAsk]) -> Deferred[StartsAnswer]: ...


Serving = Callable[[int, Any], list[int]]
"""The region actions an action serves, oldest first: ``serving(node, action)``."""


class _Waiter:
    """One action waiting for its start."""

    __slots__ = ("node", "action", "granted", "refused", "asked_by", "asked")

    def __init__(self, node: int, action: Any, granted: Deferred[None]) -> None:
        self.node = node
        self.action = action
        self.granted = granted
        self.refused: set[int] = set()
        self.asked_by: int | None = None
        """The region action it was last asked for by."""
        self.asked = False
        """Whether it has been asked for yet."""


class StartPermits:
    """
    The actions of this cluster waiting for a start, and the asking.

    :param serving: the region actions an action serves: it is asked for
        by the oldest that the region has not refused (a request that
        joined it keeps it in line when the one that made it is cancelled).
    :ivar places: where each waiting region action stands, as last answered.
    """

    def __init__(self, clock: IReactorTime, serving: Serving, backoff: Backoff = ASK_BACKOFF) -> None:
        self.clock = clock
        self._serving = serving
        self._backoff = backoff
        self._link: StartsLink | None = None
        self._waiters: dict[int, _Waiter] = {}
        self._asking: Deferred[None] | None = None
        """The ask out, if one is: a new link abandons it (its answer may never come)."""
        self._next: IDelayedCall | None = None
        self._failures = 0
        self.places: dict[int, BudgetPlace] = {}

    @property
    def waiting(self) -> int:
        """How many actions wait for a start."""
        return len(self._waiters)

    def permit(self, node: int, action: Any) -> Deferred[None]:
        """
        Fires once the region has granted ``action`` of ``node`` a start;
        cancelling it withdraws the action from the line.
        """
        key = id(action)
        granted: Deferred[None] = Deferred(lambda _: self._withdraw(key))
        self._waiters[key] = _Waiter(node, action, granted)
        self._soon(0)
        return granted

    def link_up(self, link: StartsLink) -> None:
        """The region is reachable through ``link``: ask at once for every waiting action."""
        self._abandon()
        self._link, self._failures = link, 0
        self._soon(0, now=True)

    def link_down(self) -> None:
        """The region is not reachable: ask nothing until it is back."""
        self._abandon()
        self._link = None

    def _abandon(self) -> None:
        """Give up the ask out, if any: on a link that is gone, its answer may never come."""
        asking, self._asking = self._asking, None
        if asking is not None:
            asking.cancel()

    def _withdraw(self, key: int) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is not None and waiter.asked_by is not None:
            self.places.pop(waiter.asked_by, None)

    def _soon(self, seconds: float, now: bool = False) -> None:
        """Ask in ``seconds``, unless an ask is due sooner (or ``now``: replacing a later one)."""
        pending = self._next
        if pending is not None and pending.active():
            if not now and pending.getTime() <= self.clock.seconds() + seconds:
                return
            pending.cancel()
        self._next = self.clock.callLater(seconds, self._ask)

    def _ask(self) -> None:
        self._next = None
        if self._asking is not None or not self._waiters:
            return
        if self._link is None:
            return  # link_up asks
        asks = self._asks()
        if not asks:
            return
        asked_at = self.clock.seconds()
        asking: Deferred[None] = Deferred()
        self._asking = asking
        answered = self._link.take_starts(asks)
        answered.addCallbacks(self._answered, self._not_answered, callbackArgs=(asked_at, asking),
                              errbackArgs=(asking,))
        answered.addErrback(lambda f: log.failure("handling a TakeStarts answer failed", f))
        asking.addErrback(lambda f: f.trap(CancelledError))

    def _asks(self) -> list[StartAsk]:
        """One ask per waiting action, by the oldest region action it serves that was not refused."""
        asks = []
        for waiter in self._waiters.values():
            ids = self._ids(waiter)
            waiter.asked_by, waiter.asked = (ids[0] if ids else None), True
            if waiter.asked_by is not None:
                asks.append(StartAsk(action=waiter.asked_by, node=waiter.node))
        return asks

    def _ids(self, waiter: _Waiter) -> list[int]:
        """The region actions ``waiter`` may be asked for by: those it serves, oldest first, not refused."""
        return [i for i in self._serving(waiter.node, waiter.action) if i > 0 and i not in waiter.refused]

    def _answered(self, answer: StartsAnswer, asked_at: float, asking: Deferred[None]) -> None:
        if asking is not self._asking:
            return  # abandoned: a newer ask, on a newer link, answers for these
        self._asking, self._failures = None, 0
        late = self.clock.seconds() - asked_at > LATE_ANSWER
        granted, refused = set(answer.granted), set(answer.refused)
        for place in answer.waiting:
            self.places[place.action] = place
        for key, waiter in list(self._waiters.items()):
            by = waiter.asked_by
            if by in granted and not late:
                del self._waiters[key]
                self.places.pop(by, None)
                waiter.granted.callback(None)
            elif by in refused:
                waiter.refused.add(by)
                self.places.pop(by, None)
                if not self._ids(waiter):
                    del self._waiters[key]
                    waiter.granted.errback(PowerFatalError(
                        f"the region refused action {by} a start under its power budget (it has ended, or the "
                        "node is not this cluster's); no power command was sent"))
        if late and granted:
            log.info("{count} start(s) granted {seconds:.1f}s after asking, later than {late:g}s: not used, asking "
                     "again", count=len(granted), seconds=self.clock.seconds() - asked_at, late=LATE_ANSWER)
        if self._waiters:
            fresh = any(not waiter.asked for waiter in self._waiters.values())  # came while this ask was out
            self._soon(0 if late or refused or fresh else answer.retry_after)

    def _not_answered(self, failure: Any, asking: Deferred[None]) -> None:
        if asking is not self._asking:
            return  # abandoned
        self._asking = None
        if failure.check(CancelledError):
            return
        log.info("asking the region for power-on starts failed ({why}); asking again", why=failure.getErrorMessage())
        delay = self._backoff(self._failures)
        self._failures += 1
        if self._waiters:
            self._soon(delay)


class BudgetedControl(ControlWrapper):
    """
    A node's power under a budget: what it passes through is unchanged,
    and it offers the action its ``permit`` (:meth:`StartPermits.permit`)
    to wait for before a power-on.
    """

    def __init__(self, control: PowerControl, permits: StartPermits, node: int) -> None:
        super().__init__(control)
        self._permits = permits
        self._node = node

    def permit(self, action: Any) -> Deferred[None]:
        """Fires once ``action`` may send its power-on."""
        return self._permits.permit(self._node, action)

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        return call()
