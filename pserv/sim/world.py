"""
One simulated world: a region, K clusters, a fleet of BMCs, operators and
faults, all on one clock and one seeded random generator, so that a seed
replays the same run event for event.

A run is ``steps`` seconds of chaos (workload and faults, invariants
checked after every second), then the faults are healed and the workload
stops, and the world gets ``settle_limit`` simulated seconds to converge.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from random import Random
from typing import Any, Callable, Sequence

from sqlalchemy import func, select

from pserv.power.registry import ActionEvent
from pserv.power.states import DEFINITE, PowerState
from pserv.testing.power import FakeBMC, FakeFleet, HeapClock, advance_until_idle
from pserv.region import schema
from pserv.region.clusters import store_form
from pserv.region.service import Region
from pserv.region.store.tokens import create_token
from pserv.sim.convergence import unconverged
from pserv.sim.database import fresh_engine
from pserv.sim.faults import Faults
from pserv.sim.invariants import Call, Checker, Violation
from pserv.sim.network import SimConnection, SimNetwork
from pserv.sim.operators import Operator
from pserv.sim.process import Process
from pserv.sim.processes import SimCluster, SimRegion
from pserv.rpc.messages import ActionReports, ObservedState, OutcomeReport, ReportsAnswer
from pserv.sim.truth import BMCTruth
from pserv.sim.workload import Workload

START = 1_800_000_000.0
"""The simulated clock's start (2027-01-15), so stored times look real."""


@dataclass(frozen=True)
class Shape:
    """The size and length of a world."""

    steps: int = 300
    nodes: int = 6
    clusters: int = 2
    settle_limit: float = 900.0
    skew: float = 5.0
    """Each process's clock is off the world's by up to this many seconds, either way."""


@dataclass
class Result:
    """What a run did and found."""

    seed: int
    violations: list[Violation]
    converged_after: float | None
    digest: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.violations


class World:
    """
    A whole pserv in one process.

    :param faults: the probability per step of each fault to inject.
    :param trace: called with each line of the event log as it happens.
    """

    def __init__(self, seed: int, shape: Shape = Shape(), faults: dict[str, float] | None = None,
                 trace: Callable[[str], None] | None = None) -> None:
        self.seed = seed
        self.shape = shape
        self.rng = Random(seed)
        self.clock = HeapClock()
        self.clock.advance(START)
        self.trace = trace
        self.events: list[str] = []
        self._digest = hashlib.sha256()
        self.engine = fresh_engine()
        self.fleet = FakeFleet(self.clock)
        self.truth = BMCTruth(self.fleet)
        self.node_of: dict[str, int] = {}
        self._live: list[int] = []
        skew = Random(f"skew {seed}")
        offsets = {f"rack-{i}": skew.uniform(-shape.skew, shape.skew) for i in range(1, shape.clusters + 1)}
        self.checker = Checker(self.clock, self.engine, self.truth, self.node_of, offsets)
        self.network = SimNetwork(self.clock, self.rng)
        self._losing_answer = False
        self.region = SimRegion(self.clock, self.network, self.engine, self.rng, skew.uniform(-shape.skew, shape.skew))
        self.region.on_start.append(self._watch_outcomes)
        self.clusters = [
            SimCluster(name, i, self.clock, self.network, self.fleet, self.rng, self, offset)
            for i, (name, offset) in enumerate(offsets.items(), 1)
        ]
        self.operator = Operator(self.network, self.clock, self._token())
        self.workload = Workload(self, self.operator)
        self.faults = Faults(self, faults or {})

    def _token(self) -> str:
        with self.engine.begin() as connection:
            return create_token(connection, "sim", self.now())

    def now(self) -> datetime:
        """The clock's time as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    def log(self, text: str) -> None:
        """Append to the event log (and trace it)."""
        line = f"{self.clock.seconds() - START:12.6f} {text}"
        self.events.append(line)
        self._digest.update(line.encode() + b"\n")
        if self.trace is not None:
            self.trace(line)

    # The run.

    def run(self) -> Result:
        """Run the world: chaos, then healing and convergence."""
        self.region.start()
        for cluster in self.clusters:
            cluster.start()
        for _ in range(self.shape.nodes):
            self.workload.add_node(self.rng)
        for _ in range(self.shape.steps):
            self.workload.step()
            self.faults.step()
            self._second()
        self.log("chaos ends: healing every fault")
        self._heal()
        converged_after = self._converge()
        return self._result(converged_after)

    def _second(self) -> None:
        advance_until_idle(self.clock, 1.0)
        self.checker.after_step()

    def _heal(self) -> None:
        self.faults.heal()
        for bmc in self.fleet.bmcs.values():
            bmc.clear_failures()
            bmc.unhang()

    def _converge(self) -> float | None:
        started = self.clock.seconds()
        while self.clock.seconds() - started < self.shape.settle_limit:
            for _ in range(5):
                self._second()
            if not unconverged(self.engine, self.truth, self.region.offset):
                return self.clock.seconds() - started
        return None

    def _result(self, converged_after: float | None) -> Result:
        for action in self.checker.unended():
            self.checker.fail(2, f"acknowledged action {action} never reached an outcome")
        if converged_after is None:
            reasons = unconverged(self.engine, self.truth, self.region.offset)
            self.checker.fail(3, f"not converged {self.shape.settle_limit:g}s after the faults stopped: "
                                 + "; ".join(reasons[:4]))
        self.log(f"end: {len(self.checker.violations)} violation(s)")
        return Result(self.seed, self.checker.violations, converged_after, self._digest.hexdigest(),
                      self._summary(converged_after))

    def _summary(self, converged_after: float | None) -> dict[str, Any]:
        table = schema.power_actions
        with self.engine.connect() as connection:
            statuses = dict(connection.execute(select(table.c.status, func.count()).group_by(table.c.status)).all())
        return {
            "simulated seconds": round(self.clock.seconds() - START, 1),
            "events": len(self.events),
            "operator work": dict(self.workload.counts),
            "answers": dict(sorted(self.workload.answers.items())),
            "acknowledged actions": len(self.checker.acknowledged),
            "actions by status": dict(sorted(statuses.items())),
            "BMC commands": sum(len(b.commands) for b in self.fleet.bmcs.values()),
            "faults": {k: v for k, v in self.faults.counts.items() if v},
            "clock offsets (s)": {"region": round(self.region.offset, 3),
                                  **{c.name: round(c.offset, 3) for c in self.clusters}},
            "region starts": self.region.incarnation,
            "cluster starts": sum(c.incarnation for c in self.clusters),
            "converged after (s)": converged_after,
        }

    # What the workload and the faults act on.

    def live_nodes(self) -> list[int]:
        return list(self._live)

    def new_bmc(self) -> str:
        address = f"bmc-{len(self.truth.initial) + 1}"
        power = self.rng.choice((PowerState.ON, PowerState.OFF))
        self.truth.add(address, power, latency=self.rng.uniform(0.01, 0.5), settle=self.rng.uniform(0, 3))
        return address

    def enrolled(self, address: str, node: int) -> None:
        self.node_of[address] = node
        self._live.append(node)

    def deleted(self, node: int) -> None:
        if node in self._live:
            self._live.remove(node)

    def node_clusters(self) -> dict[int, str | None]:
        """Each node's cluster as the region has it (the one it is moving to, for a node moving)."""
        nodes = schema.nodes
        with self.engine.connect() as connection:
            return dict(connection.execute(select(nodes.c.id, nodes.c.cluster)).all())

    def cut_off_clusters(self) -> list[str]:
        """The clusters that cannot hear the region now: down, or with their connection stalled."""
        now = self.clock.seconds()
        stalled = {c.client.process.name for c in self.network.connections if not c.closed and c.stalled_until > now}
        return [c.name for c in self.clusters
                if not c.up or (c.process is not None and c.process.name in stalled)]

    def acknowledged(self, action: int) -> None:
        self.checker.acknowledged.add(action)

    def server_error(self, what: str, status: int, body: Any) -> None:
        self.checker.fail(4 if status < 500 else 2, f"{what} answered {status}: {body}")

    def crash_cluster(self) -> Callable[[], None] | None:
        up = [c for c in self.clusters if c.up]
        if not up:
            return None
        cluster = self.rng.choice(up)
        self.log(f"fault: {cluster.process.name} crashes")
        cluster.crash()
        return lambda: (cluster.start(), self.log(f"healed: {cluster.process.name} starts"))

    def crash_region(self) -> Callable[[], None] | None:
        if not self.region.up:
            return None
        self.log(f"fault: {self.region.process.name} crashes")
        self.region.crash()
        return lambda: (self.region.start(), self.log(f"healed: {self.region.process.name} starts"))

    def cluster_connection(self) -> SimConnection | None:
        rpc = [c for c in self.network.connections
               if not c.closed and c.client.process.name.startswith("rack-")]
        return self.rng.choice(rpc) if rpc else None

    def lose_next_answer(self) -> None:
        self._losing_answer = True

    def _lose_answer(self, cluster: str, batch: ActionReports) -> None:
        """Cut ``cluster``'s connection now: the region has recorded ``batch``, and its answer is lost."""
        for connection in self.network.connections:
            if not connection.closed and connection.client.process.name == cluster:
                self._losing_answer = False
                size = len(batch.running) + len(batch.progress) + len(batch.outcomes)
                self.log(f"fault: cut {connection.describe()} after the region recorded {size} report(s)")
                connection.cut(ConnectionResetError("connection reset by the network"))

    def some_bmc(self) -> tuple[str, FakeBMC] | None:
        addresses = [a for a in self.truth.initial if a in self.node_of]
        if not addresses:
            return None
        address = self.rng.choice(addresses)
        return address, self.fleet.bmcs[address]

    def press_button(self, address: str) -> None:
        self.truth.press(address, self.clock.seconds())

    # What the clusters' BMC lines and registries report.

    def call_started(self, process: Process, address: str, operation: str) -> Call:
        self.log(f"{process.name}: {operation} {address}")
        return self.checker.call_started(process, address, operation)

    def call_ended(self, token: object) -> None:
        self.checker.call_ended(token)

    def registry_event(self, process: Process, event: ActionEvent) -> None:
        action = event.action
        detail = "" if event.detail is None else f" {event.detail}"
        ended = "" if event.outcome is None else f" {event.outcome.status.value} {event.outcome.error or ''}"
        self.log(f"{process.name}: node {event.node} {action.kind.value} {action.id} {event.name}{detail}{ended}")
        self.checker.registry_event(process, event)

    def _watch_outcomes(self, region: Region) -> None:
        clusters = region.clusters
        original = clusters.report_actions

        def report_actions(cluster: str, batch: ActionReports) -> Any:
            for outcome in batch.outcomes:
                self.checker.reported(cluster, outcome.node, outcome.observed_at)

            def recorded(answer: ReportsAnswer) -> ReportsAnswer:
                for outcome in batch.outcomes:
                    if outcome.action not in answer.retry:
                        self._outcome_recorded(cluster, outcome, outcome.action in answer.applied)
                if self._losing_answer:
                    self._lose_answer(cluster, batch)
                return answer

            return original(cluster, batch).addCallback(recorded)

        clusters.report_actions = report_actions  # type: ignore[method-assign]
        observed = clusters.report_power_states

        def report_power_states(cluster: str, states: Sequence[ObservedState]) -> Any:
            self.log(f"region: from {cluster} observed " + ", ".join(
                f"{s.node} {s.power_state.value} at {_since_start(s.observed_at)} (epoch {s.epoch})" for s in states))
            for state in states:
                self.checker.reported(cluster, state.node, state.observed_at)
            return observed(cluster, states).addCallback(self._kept, cluster, states)

        clusters.report_power_states = report_power_states  # type: ignore[method-assign]


    def _outcome_recorded(self, cluster: str, outcome: OutcomeReport, applied: bool) -> None:
        state = None if outcome.power_state is None else outcome.power_state.value
        self.log(f"region: action {outcome.action} {outcome.status.value} ({state}){'' if applied else ' not applied'}")
        self.checker.outcome_recorded(store_form(outcome), applied)
        if applied and outcome.power_state in DEFINITE:
            self.checker.applied_or_older(cluster, [outcome])

    def _kept(self, changed: int, cluster: str, states: Sequence[ObservedState]) -> int:
        self.checker.applied_or_older(cluster, states)
        return changed


def _since_start(moment: datetime) -> str:
    return f"{moment.timestamp() - START:.6f}"
