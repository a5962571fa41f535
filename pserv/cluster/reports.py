"""
Reports to the region, retried until acknowledged, many in one call.

Each action's reports (running, progress, outcome) go in order, one at a
time: the next waits for the region's acknowledgement of the one before.
Different actions' reports go together: a batch carries the oldest
unacknowledged report of each action that has one ready, as many as fit
one AMP value, and at most :data:`BATCHES_IN_FLIGHT` batches travel at
once.  The first report goes at once; those that come while batches are
in flight wait for the next, so batches grow with the load and no timer
delays a report.

While the region is out of reach, reports wait; on reconnection they go
on.  The region treats them idempotently by action id, so sending one
twice is harmless (a batch cut by a dropped connection is sent again
whole), and losing one is impossible short of a cluster crash (after
which recovery re-runs what has no outcome).  A report's Deferred fires
only once the region has recorded it: a cycle waits on its
``off_verified`` milestone before it powers the node on.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Any, Protocol, Sequence

import attrs
from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from pserv.rpc import wire
from pserv.rpc.arguments import MAX_VALUE, encode_json
from pserv.rpc.messages import (
    ActionReports,
    ObservedState,
    OutcomeReport,
    ProgressReport,
    ReportsAnswer,
    RunningReport,
)
from pserv.util.backoff import Backoff, stepped

log = Logger()

REPORT_BACKOFF: Backoff = stepped((0.5, 1.0, 2.0, 5.0, 10.0))
"""Seconds before retry ``n`` of a report: 0.5, 1, 2, 5, then 10 for good."""

BATCHES_IN_FLIGHT = 2
"""How many batches of action reports travel at once."""

MOST_PER_BATCH = 1000
"""The most reports one batch carries, whatever their size: it bounds the region's transaction."""

MOST_ERROR = 2000
"""An outcome too big for a batch (some driver's error a page long) keeps this many characters of its error."""

_ROOM = MAX_VALUE - len(encode_json(wire.unstructure(ActionReports())))
"""The bytes of one AMP value left for reports around an empty batch."""


class Taken(Enum):
    """What the region did with an outcome report."""

    APPLIED = "applied"
    """Recorded, and applied to the node."""
    RECORDED = "recorded"
    """Recorded, not applied: stale, or recorded already."""
    REFUSED = "refused"
    """Not taken: this cluster does not hold the node; the action is still outstanding."""


class RegionLink(Protocol):
    """What the cluster's RPC connection offers for reporting."""

    def report_actions(self, reports: ActionReports) -> Deferred[ReportsAnswer]: ...

    def report_power_states(self, states: Sequence[ObservedState]) -> Deferred[object]: ...


@attrs.define
class _Report:
    """One report waiting for its acknowledgement."""

    action: int
    message: RunningReport | ProgressReport | OutcomeReport
    size: int
    acknowledged: Deferred[object] = attrs.field(factory=Deferred)
    refusals: int = 0
    """How many times in a row the region could not record it."""


class ReportQueue:
    """
    Reports waiting for the region's acknowledgement.

    :param concurrency: power state reports in flight at once.
    :param backoff: the wait before retry ``n`` (from zero) after a failed call.
    """

    def __init__(
        self, clock: IReactorTime, concurrency: int = 32, backoff: Backoff = REPORT_BACKOFF
    ) -> None:
        self.clock = clock
        self._backoff = backoff
        self._link: RegionLink | None = None
        self._waiting_for_link: list[Deferred[RegionLink]] = []
        self._slots = DeferredSemaphore(concurrency)
        self._queues: dict[int, deque[_Report]] = {}
        self._ready: dict[int, None] = {}
        self._in_flight = 0
        self._failures = 0
        self._resting: IDelayedCall | None = None
        self._holding = False

    @property
    def pending(self) -> int:
        """How many action reports are not yet acknowledged."""
        return sum(len(queue) for queue in self._queues.values())

    def link_up(self, link: RegionLink) -> None:
        """The region is reachable through ``link``: send what waits, at once."""
        self._link = link
        if self._resting is not None and self._resting.active():
            self._resting.cancel()
        self._resting, self._failures = None, 0
        waiting, self._waiting_for_link = self._waiting_for_link, []
        for waiter in waiting:
            waiter.callback(link)
        self._flush()

    def link_down(self) -> None:
        """The region is out of reach: hold reports until it is back."""
        self._link = None

    def running(self, action: int) -> Deferred[object]:
        """Report that ``action`` started."""
        return self._enqueue(action, RunningReport(action))

    def progress(self, action: int, milestone: str) -> Deferred[object]:
        """Report a milestone; fires once the region has recorded it."""
        return self._enqueue(action, ProgressReport(action, milestone))

    def outcome(self, outcome: OutcomeReport) -> Deferred[object]:
        """Report an action's outcome; fires, with what the region did with it (:class:`Taken`), once the region has answered."""
        return self._enqueue(outcome.action, outcome)

    def power_states(self, states: Sequence[ObservedState]) -> Deferred[object]:
        """Report observed power states."""
        return self._slots.run(self._send_states, states)

    # Action reports.

    def _enqueue(self, action: int, message: RunningReport | ProgressReport | OutcomeReport) -> Deferred[object]:
        report = _Report(action, message, _size(message))
        if report.size > _ROOM and isinstance(message, OutcomeReport):
            message = attrs.evolve(message, error=(message.error or "")[:MOST_ERROR], commands=message.commands[-20:])
            report = _Report(action, message, _size(message))
        queue = self._queues.get(action)
        if queue is None:
            self._queues[action] = deque([report])
            self._ready[action] = None
            self._flush()
        else:
            queue.append(report)
        return report.acknowledged

    def _flush(self) -> None:
        """Send batches while the link is up, none is waiting out a backoff, and there is room in flight."""
        while (self._link is not None and self._resting is None and not self._holding
               and self._in_flight < BATCHES_IN_FLIGHT and self._ready):
            batch = self._take()
            self._in_flight += 1
            sending = self._link.report_actions(_message(batch))
            sending.addCallbacks(self._answered, self._failed, callbackArgs=(batch,), errbackArgs=(batch,))

    def _take(self) -> list[_Report]:
        """The head reports of ready actions, oldest ready first, as many as fit one batch."""
        batch: list[_Report] = []
        room = _ROOM
        for action in list(self._ready):
            report = self._queues[action][0]
            if batch and (report.size + 1 > room or len(batch) == MOST_PER_BATCH):
                break
            batch.append(report)
            room -= report.size + 1
            del self._ready[action]
        return batch

    def _answered(self, answer: ReportsAnswer, batch: list[_Report]) -> None:
        self._in_flight -= 1
        self._failures = 0
        retry, applied, refused = set(answer.retry), set(answer.applied), set(answer.refused)
        done = [report for report in batch if report.action not in retry]
        self._holding = True
        try:
            for report in done:
                queue = self._queues[report.action]
                queue.popleft()
                if queue:
                    self._ready[report.action] = None
                else:
                    del self._queues[report.action]
            for report in done:
                report.acknowledged.callback(_taken(report, applied, refused))
        finally:
            self._holding = False
        for report in batch:
            if report.action in retry:
                self._refused(report)
        self._flush()

    def _refused(self, report: _Report) -> None:
        """The region could not record ``report``: send it again after its own backoff, the others meanwhile."""
        delay = self._backoff(report.refusals)
        report.refusals += 1
        log.warn("the region could not record the report on action {action}; again in {delay}s",
                 action=report.action, delay=delay)
        self.clock.callLater(delay, self._ready_again, report)

    def _ready_again(self, report: _Report) -> None:
        queue = self._queues.get(report.action)
        if queue and queue[0] is report:
            self._ready[report.action] = None
            self._flush()

    def _failed(self, failure: Failure, batch: list[_Report]) -> None:
        self._in_flight -= 1
        self._retry_later(batch, failure.getErrorMessage())

    def _retry_later(self, batch: list[_Report], why: str) -> None:
        """A call failed: ready ``batch``'s actions again after the backoff, and meanwhile send nothing."""
        for report in batch:
            self._ready[report.action] = None
        if self._resting is not None:
            return
        delay = self._backoff(self._failures)
        self._failures += 1
        log.warn("reports on {count} action(s) to the region failed ({error}); again in {delay}s",
                 count=len(batch), error=why, delay=delay)
        self._resting = self.clock.callLater(delay, self._rested)

    def _rested(self) -> None:
        self._resting = None
        self._flush()

    # Power states.

    async def _send_states(self, states: Sequence[ObservedState]) -> object:
        attempt = 0
        while True:
            link = self._link if self._link is not None else await self._wait_for_link()
            try:
                return await link.report_power_states(states)
            except Exception as e:
                delay = self._backoff(attempt)
                log.warn("power states to the region failed ({error}); again in {delay}s", error=e, delay=delay)
                attempt += 1
                await deferLater(self.clock, delay)

    def _wait_for_link(self) -> Deferred[RegionLink]:
        waiter: Deferred[RegionLink] = Deferred()
        self._waiting_for_link.append(waiter)
        return waiter


def _taken(report: _Report, applied: set[int], refused: set[int]) -> Taken | None:
    """What the region did with ``report``, if it is an outcome."""
    if not isinstance(report.message, OutcomeReport):
        return None
    if report.action in refused:
        return Taken.REFUSED
    return Taken.APPLIED if report.action in applied else Taken.RECORDED


def _size(message: Any) -> int:
    """The bytes of ``message`` in a batch."""
    return len(encode_json(wire.unstructure(message)))


def _message(batch: list[_Report]) -> ActionReports:
    """The batch as the message that carries it."""
    kinds: dict[type, list[Any]] = {RunningReport: [], ProgressReport: [], OutcomeReport: []}
    for report in batch:
        kinds[type(report.message)].append(report.message)
    return ActionReports(
        running=tuple(kinds[RunningReport]), progress=tuple(kinds[ProgressReport]),
        outcomes=tuple(kinds[OutcomeReport]),
    )

