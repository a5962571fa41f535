"""
The leading region's care of the cluster groups: every
:data:`SPREAD_SECONDS` it spreads each group's nodes over the members
whose lease runs (:func:`pserv.region.store.groups.spread`), tells the new
holders of the nodes they now hold, and asks the holders of nodes moving
away to give them up.  The other regions do nothing here: the spread runs
once across regions (:mod:`pserv.region.peers`).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from pserv.region.clusters import ConnectedClusters
from pserv.region.db import Database
from pserv.region.peers import Peers
from pserv.region.store.groups import spread

log = Logger()

SPREAD_SECONDS = 2.0
"""How often the leader spreads the groups' nodes."""

IDLE_SECONDS = 30.0
"""How often the leader looks for cluster groups while it has seen none."""

LEASE_GRACE = 2.0
"""
Seconds past a lease's end, by the region's clock, before its holder's
nodes fail over: room for the two machines' clocks to run at slightly
different rates over one lease.
"""


class GroupKeeper:
    """
    Spreads the groups' nodes while this region leads.

    :param lease: the clusters' lease; a region that has just begun to lead
        fails nothing over until it has led this long, since the members of
        a region that was down may be reconnecting to it.
    """

    def __init__(self, database: Database, clusters: ConnectedClusters, peers: Peers, clock: IReactorTime,
                 lease: float, grace: float = LEASE_GRACE) -> None:
        self.database = database
        self.clusters = clusters
        self.peers = peers
        self.clock = clock
        self.lease = lease
        self.grace = grace
        self._loop = LoopingCall(self.tick)
        self._loop.clock = clock
        self._grouped = False
        self._looked: float | None = None

    def start(self) -> None:
        """Spread now and every :data:`SPREAD_SECONDS`."""
        self._loop.start(SPREAD_SECONDS, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> Deferred[Any]:
        """
        One spread, if this region leads and there are groups (while it has
        seen none, it looks every :data:`IDLE_SECONDS` only, or when a member
        of one connects here); never fails (a failure is logged, and the
        next tick tries again).
        """
        since = self.peers.leading_since()
        now = self.clock.seconds()
        if since is None or not self._due(now):
            return succeed(None)
        self._looked = now
        fail_over = now - since >= self.lease
        spreading = self.database.run(spread, self.clusters.now(), self.grace, fail_over=fail_over)
        spreading.addCallback(self._act)
        spreading.addErrback(lambda f: log.info("spreading the groups' nodes failed ({why}); trying again",
                                                why=f.getErrorMessage()))
        return spreading

    def _due(self, now: float) -> bool:
        if self._grouped or self._looked is None or now - self._looked >= IDLE_SECONDS:
            return True
        return any(getattr(c, "group", None) is not None for c in self.clusters.connections.values())

    def _act(self, result: dict[str, Any]) -> Deferred[Any]:
        self._grouped = result["grouped"]
        for cluster, nodes in result["adopt"].items():
            log.info("cluster {cluster} now holds {count} more node(s) of its group", cluster=cluster,
                     count=len(nodes))
        told = [self.clusters.adopt(cluster, nodes) for cluster, nodes in result["adopt"].items()]
        told += [self.clusters.release(cluster, node) for cluster, node in result["release"]]
        return gatherResults(told)
