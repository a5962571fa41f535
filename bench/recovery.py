"""
One cluster, 10,000 nodes with outstanding intent: how long does the
cluster take to recover and converge after a restart?

A region (SQLite, its RPC on loopback with TLS) holds N fake-driver nodes
owned by cluster ``rack-1``, each with an ``on`` action the dead cluster had
been sent.  A fresh cluster daemon then connects, as one would after a
crash: it authenticates, calls recovery (paged), converges (every action
reads, switches the node on, verifies) and reports every outcome.  Region
and cluster share this one process and its core; in production each has
its own.

Prints ``recovery_rpc_seconds`` (the recovery call and its answer, all
pages) and ``converged_seconds`` (from connecting until the region has
recorded every outcome) as its last lines.

Usage: python bench/recovery.py [--nodes 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from twisted.internet import asyncioreactor

asyncioreactor.install()

from sqlalchemy import insert  # noqa: E402
from twisted.internet import defer, task  # noqa: E402

from pserv.cluster.daemon import ClusterDaemon  # noqa: E402
from pserv.cluster.driver_set import DriverSet  # noqa: E402
from pserv.testing.fake_driver import FakeDriver  # noqa: E402
from pserv.testing.power import FakeFleet  # noqa: E402
from pserv.region import schema  # noqa: E402
from pserv.region.config import RegionConfig  # noqa: E402
from pserv.region.service import Region, initialize  # noqa: E402
from pserv.rpc.auth import load_secret  # noqa: E402
from pserv.rpc.service import RegionConnection  # noqa: E402


def populate(region: Region, count: int) -> None:
    """N nodes of rack-1, each with an 'on' action already sent."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    nodes = [
        {"id": n, "name": f"node-{n}", "cluster": "rack-1", "power_type": "fake",
         "power_parameters": {"address": f"bmc-{n}"}, "power_secrets": {}, "desired_power_state": "on",
         "power_state": "off", "generation": 1, "lifecycle": "ready", "drift_policy": "observe",
         "created_at": now, "updated_at": now}
        for n in range(1, count + 1)
    ]
    actions = [
        {"id": n, "node_id": n, "kind": "on", "generation": 1, "status": "sent", "requested_by": "bench",
         "requested_at": now, "sent_at": now, "cancel_requested": False}
        for n in range(1, count + 1)
    ]
    with region.database.engine.begin() as connection:
        connection.execute(insert(schema.nodes), nodes)
        connection.execute(insert(schema.power_actions), actions)


async def main(reactor, count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        config = RegionConfig(data_dir=Path(directory), listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
        initialize(config)
        region = Region(config, reactor)
        populate(region, count)
        region.start()
        converged, recovery = watch(region, count), {}
        daemon = ClusterDaemon(reactor, DriverSet(reactor, {"fake": FakeDriver(reactor, FakeFleet(reactor))}),
                               interval=3600)
        timed_recovery(daemon, recovery)
        started = time.perf_counter()
        connection = RegionConnection.to_region(
            reactor, f"127.0.0.1:{region.rpc_port.getHost().port}", "rack-1",
            load_secret(config.secret_path), daemon, daemon.region_ready,
        )
        connection.startService()
        await converged
        converged_seconds = time.perf_counter() - started
        await connection.stopService()
        await daemon.stop()
        await region.stop()
    print(f"nodes: {count}")
    print(f"recovery_rpc_seconds: {recovery['seconds']:.2f}")
    print(f"converged_seconds: {converged_seconds:.2f}")


def watch(region: Region, count: int) -> defer.Deferred:
    """Fires once the region has recorded ``count`` outcomes."""
    done: defer.Deferred = defer.Deferred()
    seen = set()
    original = region.clusters.report_actions

    def report_actions(cluster, batch):
        recorded = original(cluster, batch)

        def counted(answer):
            seen.update(o.action for o in batch.outcomes if o.action not in answer.retry)
            if len(seen) == count and not done.called:
                done.callback(None)
            return answer

        return recorded.addCallback(counted)

    region.clusters.report_actions = report_actions
    return done


def timed_recovery(daemon: ClusterDaemon, recovery: dict) -> None:
    original = daemon.region_ready

    async def region_ready(session):
        calls = session.recover_all

        async def recover_all():
            started = time.perf_counter()
            nodes = await calls()
            recovery["seconds"] = time.perf_counter() - started
            return nodes

        session.recover_all = recover_all
        return await original(session)

    daemon.region_ready = region_ready


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    arguments = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments.nodes)))
    sys.exit(0)
