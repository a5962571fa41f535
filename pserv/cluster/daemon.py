"""
The cluster daemon's logic: what it does when the region asks, and what it
does each time it (re)connects.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.handover import Handover
from pserv.cluster.lease import Lease
from pserv.cluster.nodes import NodeBook
from pserv.cluster.observer import PowerObserver
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import RegionLink, ReportQueue
from pserv.cluster.starts import StartsLink
from pserv.rpc.messages import AdoptRequest, CancelRequest, PowerRequest, RecoveryNode, ReleaseRequest

log = Logger()


class RegionSession(RegionLink, StartsLink, Protocol):
    """An authenticated connection to the region."""

    def recover_all(self) -> Deferred[list[RecoveryNode]]: ...

    def when_lost(self) -> Deferred[object]: ...

    def heartbeat(self) -> Deferred[float | None]: ...

    def abort(self) -> None: ...


class ClusterDaemon:
    """
    Everything one cluster runs: the registry and its drivers, the report
    queue, the node book and the power sweep.  It is the ``ClusterResponder``
    the RPC calls.

    :param group: the cluster group it is a member of, if any: a member acts
        only while its lease runs (:mod:`pserv.cluster.lease`).
    """

    def __init__(self, clock: IReactorTime, drivers: DriverSet, group: str | None = None,
                 **observer_settings: Any) -> None:
        self.clock = clock
        self.drivers = drivers
        self.group = group
        self.lease = Lease(clock, self.fence) if group is not None else None
        self.reports = ReportQueue(clock)
        self.power = ClusterPower(clock, drivers, self.reports, self.lease)
        self.book = NodeBook()
        self.handover = Handover(clock, self.book, self.power.registry)
        self.observer = PowerObserver(clock, self.book, self.power, self.reports, **observer_settings)
        self._session: RegionSession | None = None
        self._recovering = DeferredLock()

    @property
    def connected(self) -> bool:
        """Whether a connection to the region is up and recovered."""
        return self._session is not None

    def perform_power(self, request: PowerRequest) -> None:
        """The region asks for a power action: run it, reporting each step."""
        self.book.remember(request)
        self.power.perform(request)

    def cancel_action(self, cancel: CancelRequest) -> bool:
        """The region cancels an action; whether it was outstanding here."""
        return self.power.cancel(cancel.node, cancel.action)

    def release_node(self, release: ReleaseRequest) -> Deferred[None]:
        """The region moved a node away: give it up; fires once nothing is in play for it."""
        return self.handover.give_up(release.node)

    def adopt_nodes(self, adopt: AdoptRequest) -> None:
        """
        The region gave this member nodes of its group (their holder's lease
        ended): recover, as on a reconnect, to converge on them and finish
        what their last holder left.
        """
        session = self._session
        if session is None:
            return  # the recovery of the next connection brings them
        log.info("given {count} node(s) of group {group}; recovering", count=len(adopt.nodes), group=self.group)
        self._recovering.run(self._recover, session).addErrback(self._not_recovered, session)

    def _not_recovered(self, failure: Any, session: RegionSession) -> None:
        log.info("recovery after being given nodes failed ({why}); reconnecting", why=failure.getErrorMessage())
        session.abort()

    async def region_ready(self, session: RegionSession) -> None:
        """
        After every (re)connection: a member of a group first renews its
        lease; then ask for everything outstanding, converge on it (but for
        nodes given up meanwhile), let held reports go, and keep sweeping.
        """
        if self.lease is not None:
            await self.heartbeat(session)
        self._session = session
        await self._recovering.run(self._recover, session, self._link_up)
        self.observer.start()

    async def heartbeat(self, session: RegionSession) -> None:
        """Send a heartbeat; its answer renews the lease (as of when it was sent)."""
        sent = self.clock.seconds()
        seconds = await session.heartbeat()
        self.lease_renewed(sent, seconds)

    def lease_renewed(self, sent_at: float, seconds: float | None) -> None:
        """A heartbeat sent at ``sent_at`` was answered with a lease of ``seconds``."""
        if self.lease is not None:
            self.lease.renew(sent_at, seconds)

    async def _recover(self, session: RegionSession,
                       recovered: Callable[[RegionSession], None] | None = None) -> None:
        """Recover and converge; ``recovered(session)`` is called between the two."""
        recovery = self.handover.start_recovery()
        try:
            nodes = recovery.fresh(await session.recover_all())
            self.book.replace(nodes)
            self.drivers.gates.keep({node.node for node in nodes})  # the BMC limits of nodes held no more go
            if recovered is not None:
                recovered(session)
            self.power.converge(nodes)
        finally:
            recovery.end()
        log.info("recovered {nodes} node(s), {actions} outstanding action(s)",
                 nodes=len(nodes), actions=sum(len(n.actions) for n in nodes))

    def _link_up(self, session: RegionSession) -> None:
        """Let held reports go through ``session``, and hold them again when it is lost."""
        self.reports.link_up(session)
        self.power.permits.link_up(session)
        session.when_lost().addCallback(lambda _: self.region_lost(session))

    def fence(self) -> None:
        """
        The lease ended: act for no node (forget them all, stop what is in
        play without reporting it) and reconnect, so that the recovery after
        the lease is renewed says which nodes this member still holds.
        """
        stopped = self.power.fence()
        self.book.replace([])
        log.warn("cluster lease ended: acting for no node until the region renews it ({count} action(s) stopped, "
                 "not reported)", count=len(stopped))
        if self._session is not None:
            self._session.abort()

    def region_lost(self, session: RegionSession | None = None) -> None:
        """The connection dropped: hold reports until it is back."""
        if session is None or session is self._session:
            self._session = None
            self.reports.link_down()
            self.power.permits.link_down()

    def stop(self) -> Deferred[object]:
        """Stop sweeping and close the drivers."""
        self.observer.stop()
        if self.lease is not None:
            self.lease.stop()
        return self.drivers.close()
