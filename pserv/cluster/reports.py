"""
Reports to the region, retried until acknowledged.

Each action's reports (running, progress, outcome) go in order; different
actions' reports go side by side, a bounded number at a time.  While the
region is out of reach, reports wait; on reconnection they go on.  The
region treats them idempotently by action id, so sending one twice is
harmless and losing one is impossible short of a cluster crash (after
which recovery re-runs what has no outcome).
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from pserv.rpc.messages import (
    ObservedState,
    OutcomeReport,
    ProgressReport,
    RunningReport,
)
from pserv.util.backoff import Backoff, stepped

log = Logger()

REPORT_BACKOFF: Backoff = stepped((0.5, 1.0, 2.0, 5.0, 10.0))
"""Seconds before retry ``n`` of a report: 0.5, 1, 2, 5, then 10 for good."""


class RegionLink(Protocol):
    """What the cluster's RPC connection offers for reporting."""

    def report_running(self, report: RunningReport) -> Deferred[object]: ...

    def report_progress(self, report: ProgressReport) -> Deferred[object]: ...

    def report_outcome(self, outcome: OutcomeReport) -> Deferred[object]: ...

    def report_power_states(self, states: Sequence[ObservedState]) -> Deferred[object]: ...


Send = Callable[[RegionLink], "Deferred[object]"]


class ReportQueue:
    """
    Reports waiting for the region's acknowledgement.

    :param concurrency: reports in flight at once.
    :param backoff: the wait before retry ``n`` (from zero) of a report.
    """

    def __init__(
        self, clock: IReactorTime, concurrency: int = 32, backoff: Backoff = REPORT_BACKOFF
    ) -> None:
        self.clock = clock
        self._backoff = backoff
        self._link: RegionLink | None = None
        self._waiting_for_link: list[Deferred[RegionLink]] = []
        self._queues: dict[int, list[tuple[Send, Deferred[object]]]] = {}
        self._slots = DeferredSemaphore(concurrency)

    @property
    def pending(self) -> int:
        """How many action reports are not yet acknowledged."""
        return sum(len(queue) for queue in self._queues.values())

    def link_up(self, link: RegionLink) -> None:
        """The region is reachable through ``link``: send what waits."""
        self._link = link
        waiting, self._waiting_for_link = self._waiting_for_link, []
        for waiter in waiting:
            waiter.callback(link)

    def link_down(self) -> None:
        """The region is out of reach: hold reports until it is back."""
        self._link = None

    def running(self, action: int) -> Deferred[object]:
        """Report that ``action`` started."""
        report = RunningReport(action)
        return self._enqueue(action, lambda link: link.report_running(report))

    def progress(self, action: int, milestone: str) -> Deferred[object]:
        """Report a milestone; fires once the region has recorded it."""
        report = ProgressReport(action, milestone)
        return self._enqueue(action, lambda link: link.report_progress(report))

    def outcome(self, outcome: OutcomeReport) -> Deferred[object]:
        """Report an action's outcome; fires once the region has it."""
        return self._enqueue(outcome.action, lambda link: link.report_outcome(outcome))

    def power_states(self, states: Sequence[ObservedState]) -> Deferred[object]:
        """Report observed power states."""
        return self._slots.run(self._send, lambda link: link.report_power_states(states))

    def _enqueue(self, action: int, send: Send) -> Deferred[object]:
        acknowledged: Deferred[object] = Deferred()
        queue = self._queues.get(action)
        if queue is None:
            queue = self._queues[action] = []
            queue.append((send, acknowledged))
            Deferred.fromCoroutine(self._drain(action, queue))
        else:
            queue.append((send, acknowledged))
        return acknowledged

    async def _drain(self, action: int, queue: list[tuple[Send, Deferred[object]]]) -> None:
        while queue:
            send, acknowledged = queue[0]
            result = await self._slots.run(self._send, send)
            queue.pop(0)
            acknowledged.callback(result)
        del self._queues[action]

    async def _send(self, send: Send) -> object:
        attempt = 0
        while True:
            link = self._link if self._link is not None else await self._wait_for_link()
            try:
                return await send(link)
            except Exception as e:
                delay = self._backoff(attempt)
                log.warn("report to the region failed ({error}); again in {delay}s", error=e, delay=delay)
                attempt += 1
                await deferLater(self.clock, delay)

    def _wait_for_link(self) -> Deferred[RegionLink]:
        waiter: Deferred[RegionLink] = Deferred()
        self._waiting_for_link.append(waiter)
        return waiter
