"""
One simulated world: N regions on one database, K clusters (members of
one cluster group, and each also holding nodes of its own), a fleet of
BMCs, operators and faults, all on one clock and one seeded random generator, so that a seed
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

from sqlalchemy import func, insert, select, update

from pserv.power.registry import ActionEvent
from pserv.power.states import DEFINITE, PowerState
from pserv.testing.power import FakeBMC, FakeFleet, HeapClock, advance_until_idle
from pserv.region import schema
from pserv.region.clusters import store_form
from pserv.region.peers import Hub
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
BUDGET = "pdu-a"
BUDGET_AT = 5
"""The step at which the world makes its power budget (its first nodes are enrolled by then)."""
"""The simulated clock's start (2027-01-15), so stored times look real."""
GROUP = "row-a"
"""The cluster group of the world's grouped clusters."""


@dataclass(frozen=True)
class Shape:
    """The size and length of a world."""

    steps: int = 300
    nodes: int = 6
    clusters: int = 2
    regions: int = 2
    grouped: int = 2
    """How many of the clusters (the first ones) are members of the group :data:`GROUP`."""
    budget: tuple[int, float] | None = (2, 10.0)
    """The power budget ``pdu-a`` (starts per seconds) the world puts half its first nodes and rack-1's default
    under, after :data:`BUDGET_AT` seconds; ``None``: no budget."""
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
        self.hub = Hub(self.clock)
        self.regions = [
            SimRegion(self.clock, self.network, self.engine, self.rng, skew.uniform(-shape.skew, shape.skew), i,
                      self.hub)
            for i in range(1, shape.regions + 1)
        ]
        self.region = self.regions[0]
        self.checker.region_offsets = [region.offset for region in self.regions]
        for region in self.regions:
            region.on_start.append(self._watch_outcomes)
        addresses = tuple(region.rpc for region in self.regions)
        self.clusters = [
            SimCluster(name, i, self.clock, self.network, self.fleet, self.rng, self, offset, addresses,
                       GROUP if i <= shape.grouped else None)
            for i, (name, offset) in enumerate(offsets.items(), 1)
        ]
        self.asked_by: dict[int, float] = {}
        """The clock offset of the region that acknowledged each action."""
        self.operator = Operator(self.network, self.clock, self._token(), self._api_address)
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

    def _api_address(self) -> str:
        """Where an operator's next call goes: a live region, as a load balancer picks (any, if none is)."""
        live = [region for region in self.regions if region.up] or self.regions
        return self.rng.choice(live).http

    def offsets(self) -> list[float]:
        """Every region's clock offset."""
        return [region.offset for region in self.regions]

    def unconverged(self) -> list[str]:
        """Why each node has not converged (:func:`~pserv.sim.convergence.unconverged`)."""
        return unconverged(self.engine, self.truth, self.offsets(), self.asked_by)

    def start(self) -> None:
        """Start every region, then every cluster."""
        for region in self.regions:
            region.start()
        for cluster in self.clusters:
            cluster.start()

    def run(self) -> Result:
        """Run the world: chaos, then healing and convergence."""
        self.start()
        for _ in range(self.shape.nodes):
            self.workload.add_node(self.rng)
        for step in range(self.shape.steps):
            if step == BUDGET_AT and self.shape.budget is not None:
                self._make_budget(*self.shape.budget)
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
            if not self.unconverged():
                return self.clock.seconds() - started
        return None

    def _make_budget(self, starts: int, per_seconds: float) -> None:
        """
        The power budget :data:`BUDGET`, as an admin makes it: the nodes
        enrolled so far with an even id under it, and rack-1's default for
        its nodes that name none (so nodes enrolled later come under it
        too). Written as rows, as the budgets' API would.
        """
        now = self.now()
        with self.engine.begin() as connection:
            connection.execute(insert(schema.budgets).values(
                name=BUDGET, starts=starts, per_seconds=per_seconds, created_at=now, updated_at=now))
            connection.execute(update(schema.nodes).where(schema.nodes.c.id % 2 == 0).values(budget=BUDGET))
            connection.execute(update(schema.clusters).where(schema.clusters.c.name == "rack-1").values(
                budget=BUDGET))
        self.log(f"budget {BUDGET}: {starts} starts per {per_seconds:g}s")

    def _result(self, converged_after: float | None) -> Result:
        for action in self.checker.unended():
            self.checker.fail(2, f"acknowledged action {action} never reached an outcome")
        self.checker.check_budgets()
        if converged_after is None:
            reasons = self.unconverged()
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
            "clock offsets (s)": {**{r.name: round(r.offset, 3) for r in self.regions},
                                  **{c.name: round(c.offset, 3) for c in self.clusters}},
            "region starts": sum(r.incarnation for r in self.regions),
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
        """
        Each node's cluster as the region has it (the one it is moving to,
        for a node moving), for the nodes that name a cluster (not a group).
        """
        nodes = schema.nodes
        with self.engine.connect() as connection:
            return dict(connection.execute(select(nodes.c.id, nodes.c.cluster).where(nodes.c.group.is_(None))).all())

    def groups(self) -> list[str]:
        """The cluster groups nodes may be enrolled in."""
        return [GROUP] if any(c.group for c in self.clusters) else []

    def cut_off_clusters(self) -> list[str]:
        """The clusters that cannot hear the region now: down, partitioned, or with their connection stalled."""
        now = self.clock.seconds()
        stalled = {c.client.process.name for c in self.network.connections
                   if not c.closed and max(c.stalled_until, c.held_until) > now}
        rpc = [region.rpc for region in self.regions]
        return [c.name for c in self.clusters
                if not c.up or (c.process is not None and c.process.name in stalled)
                or any(self.network.partitioned(c.ip, address) for address in rpc)]

    def acknowledged(self, action: int, region: str | None = None) -> None:
        self.checker.acknowledged.add(action)
        for each in self.regions:
            if each.http == region:
                self.asked_by.setdefault(action, each.offset)

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
        up = [r for r in self.regions if r.up]
        if not up:
            return None
        region = self.rng.choice(up)
        self.log(f"fault: {region.process.name} crashes")
        region.crash()
        return lambda: (region.start(), self.log(f"healed: {region.process.name} starts"))

    def partition_cluster(self, seconds: float, cluster: Any = None) -> Callable[[], None] | None:
        """
        Cut a cluster's machine (``cluster``, or one chosen at random) off
        from every region for ``seconds``; it still reaches its BMCs.
        """
        rpc = [region.rpc for region in self.regions]
        whole = [c for c in self.clusters if not any(self.network.partitioned(c.ip, a) for a in rpc)]
        if not whole:
            return None
        if cluster is None:
            cluster = self.rng.choice(whole)
        self.log(f"fault: {cluster.name} cut off from every region for {seconds:.1f}s")
        self.network.partition(cluster.ip, rpc, seconds)

        def heal() -> None:
            self.network.heal(cluster.ip)
            self.log(f"healed: {cluster.name} reaches the regions again")

        return heal

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
