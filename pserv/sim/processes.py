"""
The simulated region and clusters: the real code of each, wired to the
simulated network, database, BMCs and clock, and able to crash and start
again.

Several regions share the one database and one :class:`~pserv.region.peers.Hub`
(as regions share PostgreSQL's ``LISTEN``/``NOTIFY`` and its leader lock):
the first started that still runs leads, and a region that dies leaves the
hub, so leadership moves on; it joins again when it restarts.  A cluster
is given every region's RPC address and connects to the first that
answers (:class:`~pserv.rpc.failover.FailoverEndpoint`).

The region keeps its database across a crash; a cluster keeps nothing.
The RPC runs without TLS (bytes in memory have no one to hide from); the
handshake binds to a constant instead of a certificate.  TLS is proved by
the tests over real TCP.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pathlib import Path
from random import Random
from typing import Any, Callable, Protocol

from sqlalchemy.engine import Engine

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE, FakeDriver
from pserv.power.registry import ActionEvent
from pserv.testing.power import FakeFleet
from pserv.region.config import RegionConfig
from pserv.region.peers import Hub, HubPeers
from pserv.region.service import Region
from pserv.rpc.failover import FailoverEndpoint
from pserv.rpc.region_protocol import RegionRPCFactory
from pserv.rpc.service import RegionConnection
from pserv.sim.bmcs import CallWatcher, FleetView
from pserv.sim.database import SimDatabase
from pserv.sim.network import SimNetwork
from pserv.sim.process import Process

SECRET = b"sim-shared-secret-0123456789abcdef"
CHANNEL = b"sim-channel"
HTTP = "region-1:5240"
RPC = "region-1:5250"
SYNC_INTERVAL = 60.0
ACTION_TIMEOUT = 30.0
"""Shorter than the longest stall (45 s) and cluster outage (60 s): sent actions time out
while their cluster still holds them, and their late outcomes must be recorded truthfully."""
CLUSTER_LEASE = 20.0
"""Shorter than the longest partition (60 s): a member cut off loses its lease within runs."""


def http_address(index: int) -> str:
    """Region ``index``'s API address (from 1)."""
    return f"region-{index}:5240"


def rpc_address(index: int) -> str:
    """Region ``index``'s RPC address (from 1)."""
    return f"region-{index}:5250"


class SimRegion:
    """
    The region: API, RPC and sweep over one database that outlives it.

    :ivar region: the running :class:`~pserv.region.service.Region`, or ``None``.
    :ivar incarnation: how many times it has started.
    """

    def __init__(self, clock: Any, network: SimNetwork, engine: Engine, rng: Random, offset: float = 0.0,
                 index: int = 1, hub: Hub | None = None) -> None:
        self.clock = clock
        self.offset = offset
        self.network = network
        self.engine = engine
        self.rng = rng
        self.index = index
        self.name = f"region-{index}"
        self.http, self.rpc = http_address(index), rpc_address(index)
        self.hub = hub if hub is not None else Hub(clock)
        self.config = RegionConfig(data_dir=Path("/nonexistent/pserv-sim"), action_timeout=ACTION_TIMEOUT,
                                   cluster_lease=CLUSTER_LEASE, name=self.name)
        self.peers: HubPeers | None = None
        self.process: Process | None = None
        self.region: Region | None = None
        self.incarnation = 0
        self.on_start: list[Callable[[Region], None]] = []

    @property
    def up(self) -> bool:
        """Whether the region runs."""
        return self.process is not None and self.process.alive

    def start(self) -> None:
        """Start a new region process on the same database."""
        self.incarnation += 1
        process = self.process = Process(f"{self.name}#{self.incarnation}", f"10.0.0.{self.index}", self.clock,
                                         self.offset)
        database = SimDatabase(self.engine, process.clock, self.rng)
        peers = self.peers = self.hub.join()
        region = self.region = Region(self.config, reactor=process.clock, clock=process.clock, database=database,
                                      power_types=POWER_TYPES_WITH_FAKE, peers=peers)
        region.clusters.region = self.name
        region.clusters.budget_clock = self._true_now  # the one database's clock, as PostgreSQL's is
        for hook in self.on_start:
            hook(region)
        peers.start(self.name, region.clusters.hear)
        rpc = RegionRPCFactory(region.clusters, SECRET, CHANNEL, process.clock)
        self.network.listen(self.http, region.site(), process)
        self.network.listen(self.rpc, rpc, process)
        region.start_sweeping()

    def _true_now(self) -> datetime:
        """The world's true time, as the store keeps times: what power budgets are measured by."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    def crash(self) -> None:
        """Kill the region process; committed work stays in the database, and another region leads."""
        if self.process is not None and self.process.alive:
            self.process.kill()
            self.network.crash(self.process)
        if self.peers is not None:
            self.peers.stop()
        self.region = self.peers = None


class SimCluster:
    """
    One cluster: a daemon and its connection to the region.

    :param watcher: hears every BMC call and every registry event.
    :param offset: how far the cluster machine's clock is off the world's
        (the same for each of its processes).
    :param regions: every region's RPC address, tried in turn.
    :param group: the cluster group it is a member of, if any.
    """

    def __init__(self, name: str, index: int, clock: Any, network: SimNetwork, fleet: FakeFleet,
                 rng: Random, watcher: ClusterWatcher, offset: float = 0.0,
                 regions: tuple[str, ...] = (RPC,), group: str | None = None) -> None:
        self.name = name
        self.regions = regions
        self.group = group
        self.offset = offset
        self.ip = f"10.0.1.{index}"
        self.clock = clock
        self.network = network
        self.fleet = fleet
        self.rng = rng
        self.watcher = watcher
        self.process: Process | None = None
        self.daemon: ClusterDaemon | None = None
        self.connection: RegionConnection | None = None
        self.incarnation = 0

    @property
    def up(self) -> bool:
        """Whether the cluster runs."""
        return self.process is not None and self.process.alive

    def start(self) -> None:
        """Start a new cluster process, knowing nothing."""
        self.incarnation += 1
        process = self.process = Process(f"{self.name}#{self.incarnation}", self.ip, self.clock, self.offset)
        driver = FakeDriver(process.clock, FleetView(self.fleet, process, self.watcher))  # type: ignore[arg-type]
        daemon = self.daemon = ClusterDaemon(process.clock, DriverSet(process.clock, {"fake": driver}),
                                             group=self.group, interval=SYNC_INTERVAL)
        daemon.power.registry.add_listener(lambda event: self.watcher.registry_event(process, event))
        endpoints = [self.network.endpoint(address, process) for address in self.regions]
        endpoint = endpoints[0] if len(endpoints) == 1 else FailoverEndpoint(endpoints, list(self.regions))
        self.connection = RegionConnection(
            endpoint, self.name, SECRET, daemon, daemon.region_ready,
            clock=process.clock, channel=lambda _: CHANNEL, group=self.group, on_lease=daemon.lease_renewed,
            initial_delay=1.0, max_delay=30.0, jitter=self.rng.random,
        )
        self.connection.startService()

    def crash(self) -> None:
        """Kill the cluster process: all it held in memory is gone."""
        if self.process is not None and self.process.alive:
            self.process.kill()
            self.network.crash(self.process)
        self.daemon = self.connection = None


class ClusterWatcher(CallWatcher, Protocol):
    """A :class:`CallWatcher` that also hears each cluster registry's events."""

    def registry_event(self, process: Process, event: ActionEvent) -> None: ...
