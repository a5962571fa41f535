"""
The clusters connected to this region: who is connected, what they report,
and delivering power requests and cancels to them.

This is the region's end of the RPC (the ``RegionResponder`` that
``pserv.rpc`` calls).  The database stays the truth: an action is marked
``sent`` as it is handed over, and whatever a dropped connection loses is
handed over again by the cluster's recovery call when it reconnects.

The store builds the messages the region sends; the reports it applies it
takes as the plain data of :func:`pserv.rpc.wire.unstructure`, turned so
here, in one place (:func:`store_form`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol, Sequence

from twisted.internet.defer import CancelledError, Deferred, gatherResults, succeed
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.reflect import qual

from pserv.region.db import Database
from pserv.region.metrics import RegionMetrics
from pserv.region.peers import Alone, PeerMessage, Peers
from pserv.region.store import actions, budget_line, clusters, moves, recovery, reports, schedules
from pserv.region.store.ended import report_actions_ended
from pserv.rpc import wire
from pserv.rpc.messages import (
    ActionReports,
    AdoptRequest,
    CancelRequest,
    ObservedState,
    OutcomeReport,
    PowerRequest,
    RecoveryPage,
    RecoveryQuery,
    ReleaseRequest,
    ReportsAnswer,
    BudgetPlace,
    StartAsk,
    StartsAnswer,
)

log = Logger()

LEASE_SECONDS = 45.0
"""How long a cluster's lease runs past each heartbeat the region answers (``cluster_lease``)."""


DUE_MARGIN = 0.001
"""Seconds a scheduled action's timer fires after its time: the claim
compares the time as the store keeps it (microseconds), so a timer right
on it could, by a rounding, find it not yet due and leave it to the next sweep."""


class ClusterConnection(Protocol):
    """What the region can ask of a connected cluster."""

    def perform_power(self, requests: Sequence[PowerRequest]) -> Deferred[object]: ...

    def cancel_action(self, cancel: CancelRequest) -> Deferred[bool]: ...

    def release_node(self, release: ReleaseRequest) -> Deferred[None]: ...

    def adopt_nodes(self, adopt: AdoptRequest) -> Deferred[None]: ...


class ConnectedClusters:
    """
    The region's view of its clusters.

    :param clock: gives the times recorded with reports.
    :param peers: the other regions on the database, told what is for
        their clusters (nobody, by default).
    :param lease: seconds a cluster's lease runs past each heartbeat.
    :param metrics: counts the reports and the actions they end; the
        region's, or one of its own.
    :ivar region: this region's name, recorded with the clusters connected to it.
    """

    def __init__(self, database: Database, clock: Any, peers: Peers | None = None,
                 lease: float = LEASE_SECONDS, metrics: RegionMetrics | None = None) -> None:
        self.database = database
        self.metrics = metrics if metrics is not None else RegionMetrics(clock, lambda: len(self.connections))
        self.clock = clock
        self.peers = peers if peers is not None else Alone()
        self.lease = lease
        self.region = "region"
        self.connections: dict[str, ClusterConnection] = {}
        self._releasing: dict[tuple[ClusterConnection, int], list[Deferred[None]]] = {}
        self._gathered: set[int] = set()
        self._told: set[int] = set()
        self._gathered_waiters: list[Deferred[int | None]] = []
        self._claiming = False
        self._timers: dict[int, Deferred[int | None]] = {}
        self.on_grouped: Callable[[], object] = lambda: None
        """Called when a member of a cluster group connects, here or to another region."""
        self.budget_clock: Callable[[], datetime] = self.now
        """The time power budgets are measured by on SQLite (on PostgreSQL, the server's clock is)."""

    def now(self) -> datetime:
        """The clock's time, as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    def deliver_at(self, action_id: int, at: datetime) -> Deferred[int | None]:
        """
        Hand over the scheduled action ``action_id`` at ``at`` (by this
        region's clock; :data:`DUE_MARGIN` after, so that no rounding of
        the time finds it not yet due), once however often asked; the
        claim itself holds it back until then.
        A timer lost with a restart is the sweep's to arm again
        (:meth:`arm_coming`).

        :return: fires as :meth:`start_delivery` does once the time has
            come and the hand-over was claimed (``None`` if the timer was
            stopped first).
        """
        if action_id not in self._timers:
            seconds = max(0.0, _seconds(at) - self.clock.seconds()) + DUE_MARGIN
            timer = deferLater(self.clock, seconds, self.start_delivery, [action_id])
            timer.addErrback(lambda f: f.trap(CancelledError) and None)
            timer.addBoth(self._timer_ended, action_id)
            self._timers[action_id] = timer
        waiter: Deferred[int | None] = Deferred()
        self._timers[action_id].addBoth(lambda result: (waiter.callback(result), result)[1])
        return waiter

    def _timer_ended(self, result: int | None, action_id: int) -> int | None:
        self._timers.pop(action_id, None)
        return result

    def arm_coming(self, within: float) -> Deferred[None]:
        """
        Arm a timer for each scheduled action coming due in the next
        ``within`` seconds (the sweep's period): after a restart, or on a
        region that did not accept them, they are handed over at their time.
        Never fails.
        """
        now = self.now()
        listing = self.database.run(schedules.coming, now, now + timedelta(seconds=within))
        listing.addCallback(lambda found: [self.deliver_at(action_id, at) for action_id, at in found])
        listing.addErrback(lambda f: log.info("listing the scheduled actions failed: {why}", why=f.getErrorMessage()))
        return listing.addCallback(lambda _: None)

    def stop_timers(self) -> None:
        """Forget the scheduled deliveries (the region stops; the actions stay pending in the database)."""
        for timer in list(self._timers.values()):
            timer.cancel()

    # The RegionResponder protocol.

    def cluster_connected(self, name: str, connection: ClusterConnection) -> Deferred[object]:
        """
        A cluster authenticated: register it, remember its connection, and
        ask it to give up the nodes moved away from it.
        """
        self.connections[name] = connection
        group = getattr(connection, "group", None)
        log.info("cluster {name} connected{group}", name=name, group="" if group is None else f" (group {group})")
        registering = self.database.run(clusters.register_cluster, name, self.now(), self.region, group, self.lease)
        if group is not None:
            registering.addCallback(self._grouped, name)
        return registering.addCallback(lambda _: self.start_releases([name]))

    def _grouped(self, _: object, name: str) -> Deferred[None]:
        """A member of a group is registered: have the leader, here or elsewhere, spread its group now."""
        self.on_grouped()
        return self.peers.tell([PeerMessage("grouped", (), name)])

    def cluster_disconnected(self, name: str, connection: ClusterConnection | None = None) -> Deferred[None] | None:
        """A cluster's connection is gone: it is connected to no region until it connects again."""
        if connection is None or self.connections.get(name) is connection:
            self.connections.pop(name, None)
            log.info("cluster {name} disconnected", name=name)
            leaving = self.database.run(clusters.disconnected, name, self.region)
            return leaving.addErrback(lambda f: log.info("recording that {name} left failed: {why}", name=name,
                                                         why=f.getErrorMessage()))
        return None

    def recover(self, cluster: str, query: RecoveryQuery) -> Deferred[RecoveryPage]:
        """One page of everything ``cluster`` must converge on."""
        return self.database.run(recovery.recover, cluster, query.after, query.limit, self.now())

    def report_actions(self, cluster: str, batch: ActionReports) -> Deferred[ReportsAnswer]:
        """Record a batch of reports in one transaction; log each outcome, for operators (never a secret)."""
        self.metrics.reports_received(len(batch.running), len(batch.progress), len(batch.outcomes))
        self.metrics.recording.inc()
        recording = self.database.run(report_actions_ended, cluster, store_form(batch), self.now())
        recording.addBoth(self._counted)
        return recording.addCallback(self._recorded, cluster, batch)

    def _counted(self, result: Any) -> Any:
        self.metrics.recording.dec()
        if not isinstance(result, Failure):
            self.metrics.actions_ended(result["ended"])
        return result

    def _recorded(self, result: dict[str, Any], cluster: str, batch: ActionReports) -> ReportsAnswer:
        applied, retry, refused = set(result["applied"]), set(result["retry"]), set(result["refused"])
        for outcome in batch.outcomes:
            if outcome.action in retry:
                continue
            log.info(
                "action {action} {status} (power {state}) from cluster {cluster}{taken}",
                action=outcome.action, status=outcome.status.value,
                state=None if outcome.power_state is None else outcome.power_state.value, cluster=cluster,
                taken="" if outcome.action in applied else "; refused, the cluster does not hold the node"
                if outcome.action in refused else "; not applied to the node",
            )
        return ReportsAnswer(applied=tuple(result["applied"]), retry=tuple(result["retry"]),
                             refused=tuple(result["refused"]))

    def report_power_states(self, cluster: str, states: Sequence[ObservedState]) -> Deferred[int]:
        """Record observed states; deliver the actions a drift policy made."""
        self.metrics.states_received(len(states))
        recording = self.database.run(reports.report_power_states, cluster, store_form(tuple(states)), self.now())
        return recording.addCallback(self._enforced)

    def _enforced(self, result: dict[str, Any]) -> int:
        if result["enforced"]:
            self.start_delivery(result["enforced"])
        return result["changed"]

    def heartbeat(self, cluster: str) -> Deferred[float]:
        """The cluster is alive: its lease runs :attr:`lease` seconds more; answers those seconds."""
        beating = self.database.run(clusters.heartbeat, cluster, self.region, self.now(), self.lease)
        return beating.addCallback(lambda _: self.lease)

    def take_starts(self, cluster: str, asks: Sequence[StartAsk]) -> Deferred[StartsAnswer]:
        """Which of ``cluster``'s actions asking may send their power-on now (:mod:`pserv.region.store.budget_line`)."""
        taking = self.database.run(budget_line.take_starts, cluster, [(a.action, a.node) for a in asks],
                                   self.budget_clock())
        return taking.addCallback(self._started)

    def _started(self, taken: budget_line.Taken) -> StartsAnswer:
        self.metrics.starts_granted(taken.started)
        return _starts_answer(taken)

    # Delivery.

    def deliver(self, action_ids: list[int] | None = None, tell: Sequence[int] = ()) -> Deferred[int]:
        """
        Hand pending actions (``action_ids``, or all) of connected clusters'
        nodes to their clusters; returns how many were handed over.  Those
        of ``tell`` not handed over here, the other regions are told of:
        their clusters may have them.
        """
        if not self.connections:
            return self._tell("deliver", tell).addCallback(lambda _: 0)
        claiming = self.database.run(recovery.claim_for_delivery, sorted(self.connections), action_ids, self.now(),
                                     self.region)
        return claiming.addCallback(self._hand_over, tell)

    def start_delivery(self, action_ids: list[int] | None = None, told: bool = False) -> Deferred[int | None]:
        """
        :meth:`deliver`, for a caller that need not wait: a failure is
        handled by :func:`log_undelivered`, so the result never fails.
        Actions named while a hand-over is being claimed wait for it and go
        together in the next: under load one claim (one transaction) hands
        over the actions of many requests.

        :param action_ids: the actions to hand over; all pending if ``None``.
        :param told: whether another region told of them (this one then
            tells nobody of those it cannot hand over).
        :returns: how many the claim that carried them handed over, or
            ``None`` if that failed.
        """
        if action_ids is None:
            return self.deliver(None).addErrback(log_undelivered, None)
        if not action_ids:
            return succeed(0)
        waiter: Deferred[int | None] = Deferred()
        self._gathered.update(action_ids)
        if told:
            self._told.update(action_ids)
        self._gathered_waiters.append(waiter)
        if not self._claiming:
            self._claim_gathered()
        return waiter

    def _claim_gathered(self) -> None:
        ids, self._gathered = sorted(self._gathered), set()
        told, self._told = self._told, set()
        waiters, self._gathered_waiters = self._gathered_waiters, []
        self._claiming = True
        claiming = self.deliver(ids, [i for i in ids if i not in told])
        claiming.addErrback(log_undelivered, ids).addCallback(self._claimed, waiters)

    def _claimed(self, handed: int | None, waiters: list[Deferred[int | None]]) -> None:
        self._claiming = False
        for waiter in waiters:
            waiter.callback(handed)
        if self._gathered:
            self._claim_gathered()

    def _hand_over(self, requests: list[tuple[str, PowerRequest]], tell: Sequence[int] = ()) -> int:
        """
        Send each cluster its requests, in order (its connection sends them
        in as few calls as fit); tell the other regions of those of ``tell``
        that were not among them.
        """
        by_cluster: dict[str, list[PowerRequest]] = {}
        for cluster, request in requests:
            by_cluster.setdefault(cluster, []).append(request)
        if tell:
            claimed = {request.action for _, request in requests}
            self._tell("deliver", [i for i in tell if i not in claimed])
        for cluster, waiting in by_cluster.items():
            connection = self.connections.get(cluster)
            if connection is None:
                continue
            sending = connection.perform_power(waiting)
            sending.addErrback(self._not_delivered, [request.action for request in waiting])
        return len(requests)

    def _not_delivered(self, failure: Any, actions: list[int]) -> None:
        log.info("actions {actions} not delivered ({why}); recovery will hand them over",
                 actions=_ranges(actions), why=failure.getErrorMessage())

    def cancel(self, cluster: str | None, node: int, action: int) -> None:
        """Ask the cluster running ``action`` to stop it at its safe point."""
        connection = self.connections.get(cluster or "")
        if connection is None:
            if cluster is not None:
                self._tell("cancel", [node, action], cluster)
            return
        connection.cancel_action(CancelRequest(node, action)).addErrback(
            lambda f: log.info("cancel of {action} not delivered: {why}", action=action, why=f.getErrorMessage())
        )

    # The other regions.

    def _tell(self, kind: str, ids: Sequence[int], cluster: str = "") -> Deferred[None]:
        """Tell the other regions (if ``ids`` says anything)."""
        if not ids:
            return succeed(None)
        return self.peers.tell([PeerMessage(kind, tuple(ids), cluster)])

    def hear(self, message: PeerMessage) -> None:
        """
        Another region's message: hand over the actions it names, pass a
        cancel or a release on to a cluster connected here, or have a
        cluster connected here adopt nodes.  Nothing is told on again.
        """
        if message.kind == "deliver":
            self.start_delivery(list(message.ids), told=True)
        elif message.kind == "grouped":
            self.on_grouped()
        elif message.cluster not in self.connections:
            return
        elif message.kind == "cancel" and len(message.ids) == 2:
            self.cancel(message.cluster, *message.ids)
        elif message.kind == "release":
            for node in message.ids:
                self.release(message.cluster, node)
        elif message.kind == "adopt":
            self.adopt(message.cluster, list(message.ids))

    # Moves.

    def start_releases(self, names: list[str] | None = None) -> Deferred[None]:
        """
        Ask the clusters ``names`` (by default every connected one) to give
        up each node moving away from them; fires once each has answered or
        failed.  Never fails: a failure is logged, and the next sweep or
        connection asks again.
        """
        listing = self.database.run(moves.moving_from, sorted(self.connections) if names is None else names)
        listing.addCallback(lambda found: gatherResults([self.release(cluster, node) for cluster, node in found]))
        listing.addErrback(lambda f: log.info("listing the nodes to give up failed: {why}", why=f.getErrorMessage()))
        return listing.addCallback(lambda _: None)

    def release(self, cluster: str, node: int) -> Deferred[None]:
        """
        Ask ``cluster`` to give up ``node`` (once at a time on a connection); once it has,
        end the move and hand the node's pending actions to its new
        cluster.  Without a connection here, the other regions are told
        (one may have it), and the cluster is asked again
        when it connects.  Fires when that is done or has failed; never fails.
        """
        connection = self.connections.get(cluster)
        if connection is None:
            return self._tell("release", [node], cluster)
        key = (connection, node)
        if key not in self._releasing:
            self._releasing[key] = []
            releasing = connection.release_node(ReleaseRequest(node))
            releasing.addCallback(lambda _: self.database.run(actions.hand_over, node, cluster, self.now()))
            releasing.addCallback(lambda pending: pending and self.start_delivery(pending))
            releasing.addErrback(
                lambda f: log.info("node {node}: cluster {cluster} has not given it up ({why}); asked again "
                                   "later", node=node, cluster=cluster, why=f.getErrorMessage())
            )
            releasing.addCallback(self._released, key)
        waiter: Deferred[None] = Deferred()
        self._releasing[key].append(waiter)
        return waiter

    def adopt(self, cluster: str, nodes: list[int]) -> Deferred[None]:
        """
        Tell ``cluster`` that ``nodes`` are its own now (a group's spread
        gave them to it): it recovers and converges on them.  Without a
        connection here, the other regions are told; a cluster that is
        connected nowhere recovers them when it connects.  Never fails.
        """
        connection = self.connections.get(cluster)
        if connection is None:
            return self._tell("adopt", nodes, cluster)
        adopting = connection.adopt_nodes(AdoptRequest(tuple(nodes)))
        adopting.addErrback(self._not_adopted, cluster, nodes)
        return adopting.addCallback(lambda _: None)

    def _not_adopted(self, failure: Any, cluster: str, nodes: list[int]) -> Deferred[None]:
        """
        The connection here did not carry an adoption.  It may be one its
        cluster has already left for another region (a partition, then a
        reconnect there), where the cluster has recovered and will not
        again: tell the other regions, as without a connection here.
        """
        log.info("cluster {cluster} was not told here it holds {count} node(s) ({why}); telling the other "
                 "regions, and it recovers them when it reconnects", cluster=cluster, count=len(nodes),
                 why=failure.getErrorMessage())
        return self._tell("adopt", nodes, cluster)

    def _released(self, _: Any, key: tuple[ClusterConnection, int]) -> None:
        for waiter in self._releasing.pop(key, []):
            waiter.callback(None)


def _starts_answer(taken: budget_line.Taken) -> StartsAnswer:
    """What :func:`~pserv.region.store.budget_line.take_starts` decided, as ``TakeStarts`` answers it."""
    return StartsAnswer(
        granted=tuple(taken.granted), refused=tuple(taken.refused), retry_after=taken.retry_after,
        waiting=tuple(BudgetPlace(action=p.action, budget=p.budget, place=p.place, of=p.of) for p in taken.waiting),
    )


def _seconds(at: datetime) -> float:
    """A stored (naive UTC) or aware time as seconds since the epoch, as a clock reads."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)).timestamp()


def _ranges(ids: list[int]) -> str:
    """Action ids for a log line: ``7`` for one, ``7-12 (6)`` for several, which a batch's are."""
    return str(ids[0]) if len(ids) == 1 else f"{min(ids)}-{max(ids)} ({len(ids)})"


def store_form(report: ActionReports | OutcomeReport | tuple[ObservedState, ...]) -> Any:
    """
    A report as the store's report functions take it: its plain wire data
    (enums as values, times as ISO 8601 text).
    """
    return wire.unstructure(report)
UNDELIVERED = (
    "handing over {actions} failed ({error}); they stay pending or sent until "
    "their cluster's recovery hands them over"
)
"""The log line of a failed :meth:`ConnectedClusters.start_delivery`."""


def log_undelivered(failure: Failure, action_ids: list[int] | None) -> None:
    """
    Log a failed hand-over as a handled error, and end the failure there.

    Nothing is lost: an action not yet claimed is still ``pending``, one
    claimed is ``sent``, and the cluster's recovery call returns both.  The
    line names the actions and the exception's type, not its message or
    traceback: those can quote the request, and the request carries the
    node's secrets.

    :param failure: why :meth:`ConnectedClusters.deliver` failed.
    :param action_ids: the actions it was handing over; ``None`` for all.
    """
    actions = "every pending action" if action_ids is None else f"actions {sorted(action_ids)}"
    log.error(UNDELIVERED, actions=actions, error=qual(failure.type))
