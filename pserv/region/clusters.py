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

from datetime import datetime, timezone
from typing import Any, Protocol, Sequence

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.reflect import qual

from pserv.region.db import Database
from pserv.region.store import actions, clusters, moves, recovery, report_batches, reports
from pserv.rpc import wire
from pserv.rpc.messages import (
    ActionReports,
    CancelRequest,
    ObservedState,
    OutcomeReport,
    PowerRequest,
    RecoveryPage,
    RecoveryQuery,
    ReleaseRequest,
    ReportsAnswer,
)
from pserv.util.times import iso_from_seconds

log = Logger()


class ClusterConnection(Protocol):
    """What the region can ask of a connected cluster."""

    def perform_power(self, requests: Sequence[PowerRequest]) -> Deferred[object]: ...

    def cancel_action(self, cancel: CancelRequest) -> Deferred[bool]: ...

    def release_node(self, release: ReleaseRequest) -> Deferred[None]: ...


class ConnectedClusters:
    """
    The region's view of its clusters.

    :param clock: gives the times recorded with reports.
    """

    def __init__(self, database: Database, clock: Any) -> None:
        self.database = database
        self.clock = clock
        self.connections: dict[str, ClusterConnection] = {}
        self.last_heartbeat: dict[str, float] = {}
        self._releasing: dict[tuple[ClusterConnection, int], list[Deferred[None]]] = {}
        self._gathered: set[int] = set()
        self._gathered_waiters: list[Deferred[int | None]] = []
        self._claiming = False

    def now(self) -> datetime:
        """The clock's time, as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    # The RegionResponder protocol.

    def cluster_connected(self, name: str, connection: ClusterConnection) -> Deferred[object]:
        """
        A cluster authenticated: register it, remember its connection, and
        ask it to give up the nodes moved away from it.
        """
        self.connections[name] = connection
        self.last_heartbeat[name] = self.clock.seconds()
        log.info("cluster {name} connected", name=name)
        registering = self.database.run(clusters.register_cluster, name, self.now())
        return registering.addCallback(lambda _: self.start_releases([name]))

    def cluster_disconnected(self, name: str, connection: ClusterConnection | None = None) -> None:
        """A cluster's connection is gone."""
        if connection is None or self.connections.get(name) is connection:
            self.connections.pop(name, None)
            log.info("cluster {name} disconnected", name=name)

    def recover(self, cluster: str, query: RecoveryQuery) -> Deferred[RecoveryPage]:
        """One page of everything ``cluster`` must converge on."""
        return self.database.run(recovery.recover, cluster, query.after, query.limit, self.now())

    def report_actions(self, cluster: str, batch: ActionReports) -> Deferred[ReportsAnswer]:
        """Record a batch of reports in one transaction; log each outcome, for operators (never a secret)."""
        recording = self.database.run(report_batches.report_actions, cluster, store_form(batch), self.now())
        return recording.addCallback(self._recorded, cluster, batch)

    def _recorded(self, result: dict[str, list[int]], cluster: str, batch: ActionReports) -> ReportsAnswer:
        applied, retry = set(result["applied"]), set(result["retry"])
        for outcome in batch.outcomes:
            if outcome.action in retry:
                continue
            log.info(
                "action {action} {status} (power {state}) from cluster {cluster}{stale}",
                action=outcome.action, status=outcome.status.value,
                state=None if outcome.power_state is None else outcome.power_state.value,
                cluster=cluster, stale="" if outcome.action in applied else "; not applied to the node",
            )
        return ReportsAnswer(applied=tuple(result["applied"]), retry=tuple(result["retry"]))

    def report_power_states(self, cluster: str, states: Sequence[ObservedState]) -> Deferred[int]:
        """Record observed states; deliver the actions a drift policy made."""
        recording = self.database.run(reports.report_power_states, cluster, store_form(tuple(states)), self.now())
        return recording.addCallback(self._enforced)

    def _enforced(self, result: dict[str, Any]) -> int:
        if result["enforced"]:
            self.start_delivery(result["enforced"])
        return result["changed"]

    def heartbeat(self, cluster: str) -> None:
        self.last_heartbeat[cluster] = self.clock.seconds()

    # Delivery.

    def deliver(self, action_ids: list[int] | None = None) -> Deferred[int]:
        """
        Hand pending actions (``action_ids``, or all) of connected clusters'
        nodes to their clusters; returns how many were handed over.
        """
        claiming = self.database.run(recovery.claim_for_delivery, sorted(self.connections), action_ids, self.now())
        return claiming.addCallback(self._hand_over)

    def start_delivery(self, action_ids: list[int] | None = None) -> Deferred[int | None]:
        """
        :meth:`deliver`, for a caller that need not wait: a failure is
        handled by :func:`log_undelivered`, so the result never fails.
        Actions named while a hand-over is being claimed wait for it and go
        together in the next: under load one claim (one transaction) hands
        over the actions of many requests.

        :param action_ids: the actions to hand over; all pending if ``None``.
        :returns: how many the claim that carried them handed over, or
            ``None`` if that failed.
        """
        if action_ids is None:
            return self.deliver(None).addErrback(log_undelivered, None)
        waiter: Deferred[int | None] = Deferred()
        self._gathered.update(action_ids)
        self._gathered_waiters.append(waiter)
        if not self._claiming:
            self._claim_gathered()
        return waiter

    def _claim_gathered(self) -> None:
        ids, self._gathered = sorted(self._gathered), set()
        waiters, self._gathered_waiters = self._gathered_waiters, []
        self._claiming = True
        claiming = self.deliver(ids) if self.connections else succeed(0)
        claiming.addErrback(log_undelivered, ids).addCallback(self._claimed, waiters)

    def _claimed(self, handed: int | None, waiters: list[Deferred[int | None]]) -> None:
        self._claiming = False
        for waiter in waiters:
            waiter.callback(handed)
        if self._gathered:
            self._claim_gathered()

    def _hand_over(self, requests: list[tuple[str, PowerRequest]]) -> int:
        """Send each cluster its requests, in order (its connection sends them in as few calls as fit)."""
        by_cluster: dict[str, list[PowerRequest]] = {}
        for cluster, request in requests:
            by_cluster.setdefault(cluster, []).append(request)
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
        if connection is not None:
            connection.cancel_action(CancelRequest(node, action)).addErrback(
                lambda f: log.info("cancel of {action} not delivered: {why}", action=action, why=f.getErrorMessage())
            )

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
        cluster.  Without a connection, nothing is sent: the cluster is
        asked when it connects.  Fires when that is done or has failed;
        never fails.
        """
        connection = self.connections.get(cluster)
        if connection is None:
            return succeed(None)
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

    def _released(self, _: Any, key: tuple[ClusterConnection, int]) -> None:
        for waiter in self._releasing.pop(key, []):
            waiter.callback(None)

    def describe(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored clusters with whether each is connected and its last heartbeat."""
        described = []
        for row in rows:
            beat = self.last_heartbeat.get(row["name"])
            described.append({
                **row,
                "connected": row["name"] in self.connections,
                "last_heartbeat": None if beat is None else iso_from_seconds(beat),
            })
        return described


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
