"""
The promises the simulation checks, after every step and at the end.

1. Never two calls in flight to one BMC from live processes, across all
   clusters and their restarts (checked as each call starts).
2. Every acknowledged request reaches exactly one outcome: one terminal
   event per action, a final status that never changes, and, at the end,
   every acknowledged action ended.
3. Once faults stop, every node converges within a bounded time
   (:mod:`pserv.sim.convergence`).
4. No power change nobody asked for: every command belongs to a running
   action of a kind that sends it, for an action the region has not ended;
   no command twice for one action; no ``power_off`` after a cycle's
   ``off_verified``; no command to a node that has stayed in the command's
   target since before its action started; no outcome of a stale
   generation applied.
5. The region's observed state never goes backwards: within one epoch of
   a node (between two hand-overs from cluster to cluster) its observation
   time, by the clock of the one cluster that reads the node then, never
   decreases; and what it records is what the BMC really showed when that
   cluster read it (its time taken back by that cluster's clock offset),
   and was reported by that cluster.
6. No locked node is switched off: no ``power_off`` or ``soft_off`` is
   sent for an action requested while its node was locked (its
   ``power_requested`` event after the node's ``node_locked`` and before
   any ``node_unlocked``: the node's row lock orders them).
7. No scheduled action runs early: no command is sent for an action
   before its ``not_before``, by the clock of any region (the earliest a
   region's clock shows it, each region being one that may hand it over).
8. A boot device asked for is set before the power goes on: every
   ``power_on`` sent for an action with a boot device is preceded, on
   that BMC and since the action started, by setting that boot device.
9. No power budget is ever exceeded in the region's ledger: the starts
   it granted under a budget (``budget_starts``, stamped by the one
   database's clock, the world's true time) are never more than the
   budget's ``starts`` in any window of its ``per_seconds`` (checked at
   the end; the budget does not change during a run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pserv.power.registry import ActionEvent
from pserv.power.states import DEFINITE, FINAL, ActionKind, PowerState, values
from pserv.region import schema
from pserv.region.store.locks import SWITCHING_OFF
from pserv.sim.process import Process
from pserv.sim.truth import BMCTruth

TERMINAL_EVENTS = frozenset(f"action_{status.value}" for status in FINAL)
SENDS = {
    ActionKind.ON: {"power_on"}, ActionKind.OFF: {"power_off"}, ActionKind.CYCLE: {"power_off", "power_on"},
    ActionKind.SOFT_OFF: {"soft_off"}, ActionKind.QUERY: set(),
}
TARGET = {"power_on": PowerState.ON, "power_off": PowerState.OFF, "soft_off": PowerState.OFF}
BOOT_CALLS = ("set_boot_device", "get_boot_device")
"""The calls that set and read back a boot device: no power command."""
SWITCHING_OFF_COMMANDS = frozenset({"power_off", "soft_off"})
"""The commands a locked node must never get for an action requested while it was locked."""
TIME_SLACK = 0.0011
"""Observation times travel with millisecond precision."""


@dataclass(frozen=True)
class Violation:
    """A broken promise: which, when, and what happened."""

    invariant: int
    at: float
    message: str

    def __str__(self) -> str:
        return f"invariant {self.invariant} at t={self.at:.3f}: {self.message}"


@dataclass
class Running:
    """A registry action running in one cluster process."""

    id: int
    kind: str
    started_at: float
    riders: list[int]
    sent: list[str] = field(default_factory=list)
    boot: str | None = None
    boot_set: str | None = None
    play: object = None
    """The registry's action itself: a fenced action run again has the same id, in another play."""


@dataclass
class Call:
    """One call in flight to a BMC."""

    process: Process
    address: str
    operation: str


class Checker:
    """
    Watches a world and records every :class:`Violation`.

    :param nodes: node id by BMC address, as the world enrols them.
    """

    def __init__(self, clock: Any, engine: Engine, truth: BMCTruth, nodes: dict[str, int],
                 offsets: dict[str, float] | None = None) -> None:
        self.clock = clock
        self.engine = engine
        self.truth = truth
        self.nodes = nodes
        self.offsets = offsets or {}
        self.region_offsets: list[float] = [0.0]
        """Each region's clock offset (the world sets them)."""
        self.violations: list[Violation] = []
        self.acknowledged: set[int] = set()
        self._in_flight: dict[str, list[Call]] = {}
        self._running: dict[Process, dict[str, Running]] = {}
        self._joined: dict[Process, dict[int, list[int]]] = {}
        self._final: dict[int, str] = {}
        self._terminal_events: dict[int, int] = {}
        self._last_event = 0
        self._observed: dict[int, tuple[str, datetime | None, int]] = {}
        self._reported: dict[tuple[int, float], set[str]] = {}

    def fail(self, invariant: int, message: str) -> None:
        """Record a broken promise."""
        self.violations.append(Violation(invariant, self.clock.seconds(), message))

    # Invariants 1 and 4, as each BMC call starts.

    def call_started(self, process: Process, address: str, operation: str) -> Call:
        others = [c for c in self._in_flight.get(address, ()) if c.process.alive]
        if others:
            held = others[0]
            self.fail(1, f"{process.name} sent {operation} to {address} while {held.process.name}'s "
                         f"{held.operation} was in flight")
        running = self._running.get(process, {}).get(str(self._node_id(address)))
        if running is None:
            self.fail(4, f"{process.name} sent {operation} to {address} with no action running")
        elif operation.startswith(BOOT_CALLS):
            self._check_boot_call(process, address, operation, running)
        elif operation != "query":
            self._check_command(process, address, operation, running)
        call = Call(process, address, operation)
        self._in_flight.setdefault(address, []).append(call)
        return call

    def _node_id(self, address: str) -> int | None:
        """The node on ``address``, known before the operator hears it was enrolled."""
        if address not in self.nodes:
            nodes = schema.nodes
            with self.engine.connect() as connection:
                for row in connection.execute(select(nodes.c.id, nodes.c.power_parameters)):
                    self.nodes.setdefault(row.power_parameters["address"], row.id)
        return self.nodes.get(address)

    def call_ended(self, token: object) -> None:
        assert isinstance(token, Call)
        calls = self._in_flight.get(token.address, [])
        if token in calls:
            calls.remove(token)

    def _check_boot_call(self, process: Process, address: str, operation: str, running: Running) -> None:
        """Invariants 4 and 6: a boot device is set only by an action asked to, and noted for its power_on."""
        if operation == "get_boot_device":
            return
        setting = operation.removeprefix("set_boot_device ")
        if running.boot != setting:
            self.fail(4, f"{process.name} set boot device {setting} on {address} for {running.kind} action "
                         f"{running.id}, which asks for {running.boot or 'none'}")
        running.boot_set = setting

    def _check_command(self, process: Process, address: str, operation: str, running: Running) -> None:
        what = f"{process.name} sent {operation} to {address} for {running.kind} action {running.id}"
        if operation == "power_on" and running.boot is not None and running.boot_set != running.boot:
            self.fail(8, f"{what}: its boot device {running.boot} was not set first")
        if operation not in SENDS[running.kind]:
            self.fail(4, f"{what}: not a command of that kind")
        if operation in running.sent:
            self.fail(4, f"{what}: sent twice")
        running.sent.append(operation)
        rows = self._actions(running.riders)
        if running.riders and all(row.status in FINAL for row in rows.values()):
            self.fail(4, f"{what}: the region has ended every action it serves "
                         f"({', '.join(f'{i} {rows[i].status}' for i in sorted(rows))})")
        if operation == "power_off" and any(row.progress == "off_verified" for row in rows.values()):
            self.fail(4, f"{what}: repeats the off of a cycle already verified off")
        if self.truth.settled_since(address, TARGET[operation], running.started_at):
            self.fail(4, f"{what}: the node has been {TARGET[operation].value} since before the action started")
        if operation in SWITCHING_OFF_COMMANDS:
            switching = [i for i, row in rows.items() if ActionKind(row.kind) in SWITCHING_OFF]  # a query may ride
            for action in self._requested_while_locked(switching):
                self.fail(6, f"{what}: action {action} was requested while the node was locked")
        earliest = max(self.region_offsets)
        for row in rows.values():
            if row.not_before is not None and self.clock.seconds() < _stamp(row.not_before) - earliest - TIME_SLACK:
                self.fail(7, f"{what}: action {row.id} is not to be handed over before {row.not_before} "
                             f"(t={_stamp(row.not_before) - earliest:.3f} at the earliest region clock)")

    def _actions(self, ids: Iterable[int]) -> dict[int, Any]:
        ids = [i for i in ids if i > 0]
        if not ids:
            return {}
        table = schema.power_actions
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(table.c.id, table.c.kind, table.c.status, table.c.progress, table.c.not_before).where(table.c.id.in_(ids))
            ).all()
        return {row.id: row for row in rows}

    def _requested_while_locked(self, ids: Iterable[int]) -> list[int]:
        """Those of the actions ``ids`` whose request came while their node was locked."""
        ids = [i for i in ids if i > 0]
        if not ids:
            return []
        events = schema.events
        found = []
        with self.engine.connect() as connection:
            asked = connection.execute(
                select(events.c.id, events.c.node_id, events.c.action_id)
                .where(events.c.action_id.in_(ids), events.c.kind == "power_requested")
            ).all()
            for row in asked:
                last = connection.execute(
                    select(events.c.kind).where(events.c.node_id == row.node_id, events.c.id < row.id,
                                                events.c.kind.in_(("node_locked", "node_unlocked")))
                    .order_by(events.c.id.desc()).limit(1)
                ).scalar()
                if last == "node_locked":
                    found.append(row.action_id)
        return sorted(found)

    def registry_event(self, process: Process, event: ActionEvent) -> None:
        """Follow which action runs on each node in each cluster process."""
        running = self._running.setdefault(process, {})
        action = event.action
        if event.name == "started":
            riders = [action.id] if action.id > 0 else []
            waiting = self._joined.setdefault(process, {}).pop(action.id, [])
            running[event.node] = Running(action.id, action.kind.value, self.clock.seconds(), riders + waiting,
                                          boot=None if action.boot is None else str(action.boot), play=action)
        elif event.name == "joined" and event.detail is not None:
            current = running.get(event.node)
            if current is not None and current.id == action.id:
                current.riders.append(int(event.detail))
            else:
                self._joined.setdefault(process, {}).setdefault(action.id, []).append(int(event.detail))
        elif event.name == "ended":
            current = running.get(event.node)
            if current is not None and current.play is action:
                del running[event.node]
            self._joined.setdefault(process, {}).pop(action.id, None)

    # Invariant 4: stale outcomes.

    def outcome_recorded(self, outcome: dict[str, Any], applied: bool) -> None:
        """The region recorded an outcome; if applied, it must be at the node's generation."""
        if not applied:
            return
        actions, nodes = schema.power_actions, schema.nodes
        with self.engine.connect() as connection:
            row = connection.execute(
                select(actions.c.generation, nodes.c.generation.label("current"))
                .join(nodes, nodes.c.id == actions.c.node_id).where(actions.c.id == int(outcome["action"]))
            ).first()
        if row is not None and row.generation != row.current:
            self.fail(4, f"action {outcome['action']} of generation {row.generation} applied "
                         f"at generation {row.current}")

    # After every step: invariants 2 and 5.

    def after_step(self) -> None:
        """Check what the database shows now."""
        with self.engine.connect() as connection:
            self._check_outcomes(connection)
            self._check_observations(connection)

    def _check_outcomes(self, connection: Any) -> None:
        events = schema.events
        for row in connection.execute(
            select(events.c.id, events.c.kind, events.c.action_id)
            .where(events.c.id > self._last_event).order_by(events.c.id)
        ):
            self._last_event = row.id
            if row.kind in TERMINAL_EVENTS and row.action_id is not None:
                seen = self._terminal_events[row.action_id] = self._terminal_events.get(row.action_id, 0) + 1
                if seen > 1:
                    self.fail(2, f"action {row.action_id} reached a second outcome ({row.kind})")
        table = schema.power_actions
        for row in connection.execute(select(table.c.id, table.c.status).where(table.c.status.in_(values(FINAL)))):
            before = self._final.setdefault(row.id, row.status)
            if before != row.status:
                self.fail(2, f"action {row.id} ended {before}, then became {row.status}")
                self._final[row.id] = row.status

    def reported(self, cluster: str, node: int, observed_at: datetime | None) -> None:
        """``cluster`` reported an observation of ``node`` read at ``observed_at`` (its clock)."""
        if observed_at is not None:
            self._reported.setdefault((node, _stamp(observed_at)), set()).add(cluster)

    def applied_or_older(self, cluster: str, reports: Iterable[Any]) -> None:
        """
        The region has handled ``reports`` (each with ``node``, ``epoch``,
        ``observed_at``) from ``cluster``: each one of the node's current
        epoch, from the cluster that owns it, read after the observation the
        node shows, must now be shown (or a newer one).
        """
        nodes = schema.nodes
        with self.engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(
                select(nodes.c.id, nodes.c.epoch, nodes.c.cluster, nodes.c.moving_from,
                       nodes.c.power_state_observed_at)
                .where(nodes.c.id.in_(sorted({report.node for report in reports})))
            )}
        for report in reports:
            row = rows.get(report.node)
            owner = None if row is None else (row.moving_from or row.cluster)
            if row is None or report.observed_at is None or (report.epoch, cluster) != (row.epoch, owner):
                continue
            read = _stamp(report.observed_at) - self.offsets.get(cluster, 0.0)
            shown = self._true_time(row.id, row.power_state_observed_at)
            if shown is None or shown < read - TIME_SLACK:
                self.fail(5, f"node {row.id}: {cluster} reported a read at t={read:.3f} in epoch {row.epoch}, "
                             f"and the region kept an older one (t={shown})")

    def _true_time(self, node: int, at: datetime | None) -> float | None:
        """When the observation stamped ``at`` was really read (by its reporter's offset)."""
        if at is None:
            return None
        stamp = _stamp(at)
        clusters = self._reported.get((node, stamp), ())
        return max((stamp - self.offsets.get(c, 0.0) for c in clusters), default=stamp)

    def _check_observations(self, connection: Any) -> None:
        nodes = schema.nodes
        for row in connection.execute(
            select(nodes.c.id, nodes.c.power_state, nodes.c.power_state_observed_at, nodes.c.power_parameters,
                   nodes.c.epoch)
        ):
            now = (row.power_state, row.power_state_observed_at, row.epoch)
            before = self._observed.get(row.id)
            self._observed[row.id] = now
            if before == now or row.power_state_observed_at is None:
                continue
            if before is not None and before[1] is not None and before[2] == now[2] and now[1] < before[1]:
                self.fail(5, f"node {row.id}: observation went back from {before[1]} to {now[1]} in epoch {now[2]}")
            self._check_truth(row.id, row.power_parameters["address"], row.power_state, row.power_state_observed_at)

    def _check_truth(self, node: int, address: str, state: str, at: datetime) -> None:
        if state not in DEFINITE:
            return
        stamp = _stamp(at)
        clusters = sorted(self._reported.get((node, stamp), ()))
        if not clusters:
            self.fail(5, f"node {node}: the region records power {state} as read at {at}, which no cluster reported")
            return
        for cluster in clusters:
            seconds = stamp - self.offsets.get(cluster, 0.0)
            if self.truth.was(address, PowerState(state), seconds - TIME_SLACK, seconds + TIME_SLACK):
                return
        seconds = stamp - self.offsets.get(clusters[0], 0.0)
        shown = self.truth.state_at(address, seconds)
        self.fail(5, f"node {node}: the region records power {state} as read by {clusters[0]} at t={seconds:.3f}, "
                     f"when the BMC was {shown.value}")

    # At the end: invariant 2.

    def check_budgets(self) -> None:
        """Invariant 9, over the whole run's ledger."""
        budgets, starts = schema.budgets, schema.budget_starts
        with self.engine.connect() as connection:
            limits = connection.execute(select(budgets.c.name, budgets.c.starts, budgets.c.per_seconds)).all()
            for name, most, seconds in limits:
                times = [_stamp(at) for at in connection.execute(
                    select(starts.c.at).where(starts.c.budget == name).order_by(starts.c.at)).scalars()]
                for i, first in enumerate(times):
                    within = sum(1 for t in times[i:] if t < first + seconds)
                    if within > most:
                        self.fail(9, f"budget {name}: {within} starts granted within {seconds:g}s from "
                                     f"{first:.3f}, more than its {most}")
                        break

    def unended(self) -> list[int]:
        """Acknowledged actions with no terminal event."""
        return sorted(a for a in self.acknowledged if self._terminal_events.get(a, 0) == 0)


def _stamp(moment: datetime) -> float:
    """A time as the seconds it travels as (to the millisecond), naive times taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp(), 3)
