"""
The cluster daemon's logic: what it does when the region asks, and what it
does each time it (re)connects.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.handover import Handover
from pserv.cluster.nodes import NodeBook
from pserv.cluster.observer import PowerObserver
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import RegionLink, ReportQueue
from pserv.rpc.messages import CancelRequest, PowerRequest, RecoveryNode, ReleaseRequest

log = Logger()


class RegionSession(RegionLink, Protocol):
    """An authenticated connection to the region."""

    def recover_all(self) -> Deferred[list[RecoveryNode]]: ...

    def when_lost(self) -> Deferred[object]: ...


class ClusterDaemon:
    """
    Everything one cluster runs: the registry and its drivers, the report
    queue, the node book and the power sweep.  It is the ``ClusterResponder``
    the RPC calls.
    """

    def __init__(self, clock: IReactorTime, drivers: DriverSet, **observer_settings: Any) -> None:
        self.clock = clock
        self.drivers = drivers
        self.reports = ReportQueue(clock)
        self.power = ClusterPower(clock, drivers, self.reports)
        self.book = NodeBook()
        self.handover = Handover(clock, self.book, self.power.registry)
        self.observer = PowerObserver(clock, self.book, self.power, self.reports, **observer_settings)

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

    async def region_ready(self, session: RegionSession) -> None:
        """
        After every (re)connection: ask for everything outstanding, converge
        on it (but for nodes given up meanwhile), let held reports go, and
        keep sweeping.
        """
        recovery = self.handover.start_recovery()
        try:
            nodes = recovery.fresh(await session.recover_all())
            self.book.replace(nodes)
            self.reports.link_up(session)
            session.when_lost().addCallback(lambda _: self.region_lost())
            self.power.converge(nodes)
        finally:
            recovery.end()
        log.info("recovered {nodes} node(s), {actions} outstanding action(s)",
                 nodes=len(nodes), actions=sum(len(n.actions) for n in nodes))
        self.observer.start()

    def region_lost(self) -> None:
        """The connection dropped: hold reports until it is back."""
        self.reports.link_down()

    def stop(self) -> Deferred[object]:
        """Stop sweeping and close the drivers."""
        self.observer.stop()
        return self.drivers.close()
