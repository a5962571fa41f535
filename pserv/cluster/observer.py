"""
The periodic power sync: every interval, read each owned node's power
state and report what was seen, in batches.

Nodes with an action in play are skipped (that action will report a
verified state).  Reads go through the registry, so they too are one at a
time per node, and a power request arriving meanwhile simply takes over.
Concurrency is bounded across the sweep, and each driver bounds its own per
BMC or PDU, so one dead BMC holds one slot and delays nothing else.  A node
whose reads fail ``failures_before_error`` times in a row is reported as
power ``error`` with the last error, then read again only every 2, 4, 8...
sweeps (up to ``max_skip``), until a read succeeds.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from pserv.cluster.lease import LeasedControl
from pserv.cluster.nodes import NodeBook, OwnedNode
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import ReportQueue
from pserv.power.errors import PowerSettingsError
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind, PowerState
from pserv.rpc.messages import ObservedState
from pserv.util.times import moment_from_seconds

log = Logger()


class PowerObserver:
    """
    Sweeps the cluster's nodes.

    :param interval: seconds between the starts of two sweeps.
    :param concurrency: reads in flight at once.
    :param batch: observed states per report.
    """

    def __init__(
        self,
        clock: IReactorTime,
        book: NodeBook,
        power: ClusterPower,
        reports: ReportQueue,
        *,
        interval: float = 300.0,
        concurrency: int = 32,
        failures_before_error: int = 3,
        max_skip: int = 32,
        batch: int = 200,
    ) -> None:
        self.clock = clock
        self.book = book
        self.power = power
        self.reports = reports
        self.interval = interval
        self.failures_before_error = failures_before_error
        self.max_skip = max_skip
        self.batch = batch
        self._slots = DeferredSemaphore(concurrency)
        self._failures: dict[int, int] = {}
        self._skip: dict[int, int] = {}
        self._seen: list[ObservedState] = []
        self._loop = LoopingCall(self.sweep)
        self._loop.clock = clock
        self._started: float | None = None
        self._completed: float | None = None
        self.on_swept: Callable[[float], object] = lambda seconds: None
        """Told the seconds each sweep took, when it ends: the cluster's metrics."""

    def start(self) -> None:
        """Sweep now and every ``interval`` seconds."""
        if not self._loop.running:
            self._loop.start(self.interval, now=True).addErrback(
                lambda f: log.failure("the power sweep stopped", f)
            )

    def stop(self) -> None:
        """Stop sweeping."""
        if self._loop.running:
            self._loop.stop()

    def sweep(self) -> Deferred[object]:
        """Read every node due for a read; report what was seen."""
        started = self._started = self.clock.seconds()
        reads = [self._slots.run(self._read, node) for node in self.book if self._due(node)]
        done = gatherResults(reads)
        done.addCallback(lambda _: self._flush())
        done.addCallback(lambda _: self._swept(started))
        return done

    def _swept(self, started: float) -> None:
        self._completed = started
        self.on_swept(self.clock.seconds() - started)

    def lag(self, now: float) -> float:
        """
        Seconds past when the next complete sweep was due: ``interval``
        after the start of the last complete one (or of the first, while
        none has completed); 0 before any sweep starts.
        """
        since = self._completed if self._completed is not None else self._started
        return 0.0 if since is None else max(0.0, now - since - self.interval)

    def _due(self, node: OwnedNode) -> bool:
        if self.power.registry.in_play(str(node.id)) != (None, None):
            return False
        skip = self._skip.get(node.id, 0)
        if skip:
            self._skip[node.id] = skip - 1
            return False
        return True

    async def _read(self, node: OwnedNode) -> None:
        if self.book.get(node.id) is None:
            return  # given up (moved to another cluster) while this read waited for a slot
        try:
            control = self.power.drivers.control(node.power_type, node.power_parameters, node.id)
        except PowerSettingsError as e:
            self._failed(node, str(e))
            return
        if self.power.lease is not None:
            control = LeasedControl(control, self.power.lease)  # a fenced member reads no BMC, not even a retry
        outcome: Outcome = await self.power.registry.request(str(node.id), ActionKind.QUERY, control)
        if outcome.status is OutcomeStatus.DONE and outcome.state is not None:
            self._seen_state(node, outcome.state)
        elif outcome.status is OutcomeStatus.FAILED:
            self._failed(node, outcome.error or "read failed")

    def _seen_state(self, node: OwnedNode, state: PowerState) -> None:
        self._failures.pop(node.id, None)
        self._skip.pop(node.id, None)
        self._add(node, state, None)

    def _failed(self, node: OwnedNode, error: str) -> None:
        failures = self._failures[node.id] = self._failures.get(node.id, 0) + 1
        if failures < self.failures_before_error:
            return
        self._skip[node.id] = min(2 ** (failures - self.failures_before_error + 1) - 1, self.max_skip)
        self._add(node, PowerState.ERROR, error)

    def _add(self, node: OwnedNode, state: PowerState, error: str | None) -> None:
        self._seen.append(ObservedState(node.id, state, error, moment_from_seconds(self.clock.seconds()), node.epoch))
        if len(self._seen) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        seen, self._seen = self._seen, []
        if seen:
            self.reports.power_states(seen)

