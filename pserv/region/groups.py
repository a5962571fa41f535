"""
The leading region's care of the cluster groups: every
:data:`SPREAD_SECONDS` it spreads each group's nodes over the members
whose lease runs (:func:`pserv.region.store.groups.spread`), tells the new
holders of the nodes they now hold, and asks the holders of nodes moving
away to give them up.  The other regions do nothing here: the spread runs
once across regions (:mod:`pserv.region.peers`).

Whether a member's lease has ended the leader judges by its own clock
alone (:class:`Heartbeats`): a heartbeat is recorded by whichever region
the member is connected to, whose clock may be seconds off the leader's,
so the leader never compares the recorded times with its own; it notes
when it first saw each new heartbeat, and fails a member over once it has
seen none for longer than the lease that heartbeat was given and a grace.
It sees a heartbeat after it arrived, never before, so it errs late, never
early.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

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
"""
How often the leader looks for cluster groups while it has seen none,
unless it hears that a member of one has connected, here or to another region.
"""

LEASE_GRACE = 2.0
"""
Seconds past a lease's end, by the region's clock, before its holder's
nodes fail over: room for the two machines' clocks to run at slightly
different rates over one lease.
"""


class Heartbeats:
    """
    When this region first saw each cluster's latest heartbeat, by its own
    clock (see the module).

    :param lease: the seconds of lease to assume for a heartbeat whose grant is not recorded.
    """

    def __init__(self, lease: float) -> None:
        self.lease = lease
        self._seen: dict[str, tuple[datetime | None, float | None, float]] = {}

    def saw(self, beats: Mapping[str, tuple[datetime | None, float | None]], now: float) -> None:
        """The clusters' last heartbeats and the seconds of lease each was given, as read at ``now``."""
        for name, (beat, granted) in beats.items():
            seen = self._seen.get(name)
            if seen is None or seen[0] != beat:
                self._seen[name] = (beat, granted, now)

    def lapsed(self, now: float, grace: float) -> dict[str, datetime | None]:
        """The clusters with no new heartbeat for longer than their lease and ``grace``: each with the one last seen."""
        return {
            name: beat for name, (beat, granted, first) in self._seen.items()
            if now - first > (self.lease if granted is None else granted) + grace
        }


class GroupKeeper:
    """
    Spreads the groups' nodes while this region leads.

    :param lease: the clusters' lease, assumed for a heartbeat whose grant
        is not recorded.  A region that has just begun to lead has seen no
        heartbeat yet: it fails a member over only once it has itself seen
        none for a lease, so the members of a region that was down have
        time to reconnect to another.
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
        self.heartbeats = Heartbeats(lease)

    def start(self) -> None:
        """Spread now and every :data:`SPREAD_SECONDS`."""
        self.clusters.on_grouped = self.member_connected
        self._loop.start(SPREAD_SECONDS, now=True)

    def member_connected(self) -> None:
        """A member of a group connected (here or elsewhere): the next tick spreads, seen a group or not."""
        self._looked = None

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> Deferred[Any]:
        """
        One spread, if this region leads and there are groups (while it has
        seen none, it looks every :data:`IDLE_SECONDS` only, or once a member
        of one has connected); never fails (a failure is logged, and the
        next tick tries again).
        """
        now = self.clock.seconds()
        if not self.peers.leads() or not self._due(now):
            return succeed(None)
        self._looked = now
        spreading = self.database.run(spread, self.clusters.now(), self.heartbeats.lapsed(now, self.grace))
        spreading.addCallback(self._act)
        spreading.addErrback(lambda f: log.info("spreading the groups' nodes failed ({why}); trying again",
                                                why=f.getErrorMessage()))
        return spreading

    def _due(self, now: float) -> bool:
        return self._grouped or self._looked is None or now - self._looked >= IDLE_SECONDS

    def _act(self, result: dict[str, Any]) -> Deferred[Any]:
        self._grouped = result["grouped"]
        self.heartbeats.saw(result["heartbeats"], self.clock.seconds())  # read before now: seen late, never early
        for cluster, nodes in result["adopt"].items():
            log.info("cluster {cluster} now holds {count} more node(s) of its group", cluster=cluster,
                     count=len(nodes))
        told = [self.clusters.adopt(cluster, nodes) for cluster, nodes in result["adopt"].items()]
        told += [self.clusters.release(cluster, node) for cluster, node in result["release"]]
        return gatherResults(told)
