"""
One bulk request for 10,000 nodes of one cluster: how soon is it accepted,
and how soon has the region recorded every action done?

A region (SQLite, its RPC on loopback with TLS) holds N fake-driver nodes
of cluster ``rack-1``, off, never read, with nothing outstanding.  A cluster
daemon connects over TLS; the runs wait until it has recovered and the
region has recorded its first power sweep (every node read as ``off``,
polled like the batches below); its fake BMCs answer
each call after ``--latency`` seconds and change power ``--settle``
seconds after accepting a command.  Then one real HTTP request, ``POST
/api/v1/power`` with ``{"action": "on", "filter": {"cluster": "rack-1"}}``
and the admin's bearer token, powers them all on; once every action is
``done``, a second request cycles the same nodes (now on).  Region and
cluster share this one process and its core; in production each has its
own.  The garbage collector is tuned as the daemons tune it.

Times run from just before the request is sent.  ``seconds_to_202`` ends
when the response's status arrives; ``seconds_to_half_done`` and
``seconds_to_all_done`` end at the first poll that shows half (all) of the
batch's actions ``done``.  The benchmark polls the batch's counts
(:func:`pserv.region.store.batches.get_batch`) every 100 ms, on a
database connection of its own in the reactor's thread pool, so its polls
are not among the region's transactions; a figure is late by at most one
poll interval and one poll.

``rpc_calls`` counts every AMP call either end sent during the run
(region to cluster and cluster to region, heartbeats included);
``transactions`` every transaction begun on the region's engine.  Each
run prints ``on_...`` (``cycle_...``) lines; the last lines are the ``on``
run's figures under the plain names.  A wait that passes ``--timeout``
prints ``timeout``; a batch that ends with actions not ``done`` prints
``not reached``.

Usage: python bench/bulk.py [--nodes 10000] [--latency 0.02] [--settle 1.0] [--timeout 600]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twisted.internet import asyncioreactor

asyncioreactor.install()

import treq  # noqa: E402
from sqlalchemy import create_engine, event, func, insert, select  # noqa: E402
from twisted.internet import defer, task, threads  # noqa: E402

from pserv.cluster.daemon import ClusterDaemon  # noqa: E402
from pserv.cluster.driver_set import DriverSet  # noqa: E402
from pserv.region import schema  # noqa: E402
from pserv.region.config import RegionConfig  # noqa: E402
from pserv.region.service import Region, initialize  # noqa: E402
from pserv.region.store.batches import get_batch  # noqa: E402
from pserv.rpc.auth import load_secret  # noqa: E402
from pserv.rpc.protocol import GuardedAMP  # noqa: E402
from pserv.rpc.service import RegionConnection  # noqa: E402
from pserv.scripts.support import tune_gc  # noqa: E402
from pserv.testing.fake_driver import FakeDriver  # noqa: E402
from pserv.testing.power import FakeFleet  # noqa: E402

POLL_SECONDS = 0.1
FIGURES = ("seconds_to_202", "seconds_to_half_done", "seconds_to_all_done", "rpc_calls", "transactions")


def populate(region: Region, count: int) -> None:
    """N nodes of rack-1, off and wanted off, never read, nothing outstanding."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    nodes = [
        {"id": n, "name": f"node-{n}", "cluster": "rack-1", "power_type": "fake",
         "power_parameters": {"address": f"bmc-{n}"}, "power_secrets": {}, "desired_power_state": "off",
         "power_state": "off", "power_state_observed_at": None, "generation": 0, "lifecycle": "ready",
         "drift_policy": "observe", "created_at": now, "updated_at": now}
        for n in range(1, count + 1)
    ]
    with region.database.engine.begin() as connection:
        connection.execute(insert(schema.nodes), nodes)


class Counts:
    """AMP calls sent by either end, and transactions begun on the region's engine."""

    def __init__(self, engine: Any) -> None:
        self.rpc: Counter[str] = Counter()
        self.transactions = 0
        event.listen(engine, "begin", self._begun)
        original = GuardedAMP.callRemote

        def call_remote(protocol: GuardedAMP, command: Any, **arguments: Any) -> Any:
            self.rpc[f"{protocol.side}:{command.commandName.decode()}"] += 1
            return original(protocol, command, **arguments)

        GuardedAMP.callRemote = call_remote  # type: ignore[method-assign]

    def _begun(self, connection: Any) -> None:
        self.transactions += 1

    def snapshot(self) -> tuple[Counter[str], int]:
        """The counts so far."""
        return Counter(self.rpc), self.transactions


async def swept(reactor: Any, poll_engine: Any, count: int, timeout: float) -> bool:
    """
    Whether, within ``timeout`` seconds, the region has recorded a reading
    of every node: the cluster has recovered and its first power sweep is
    reported, so that neither overlaps the runs.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if await threads.deferToThread(read_observed, poll_engine) >= count:
            return True
        await task.deferLater(reactor, POLL_SECONDS)
    return False


def reading_engine(url: str) -> Any:
    """
    An engine of the benchmark's own that only reads: plain SQLite
    transactions (the region's begin theirs ``IMMEDIATE``, to write), so
    that, with the region's WAL, a poll never waits for the region's
    writer nor holds it up.
    """
    engine = create_engine(url)
    event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA query_only=ON"))
    return engine


def read_observed(poll_engine: Any) -> int:
    nodes = schema.nodes
    with poll_engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(nodes).where(nodes.c.power_state_observed_at.is_not(None))
        ).scalar()


async def bulk_run(reactor: Any, region: Region, token: str, poll_engine: Any, counts: Counts,
                   action: str, timeout: float) -> dict[str, Any]:
    """One bulk request for every node of rack-1, timed until all its actions are done."""
    rpc_before, transactions_before = counts.snapshot()
    url = f"http://127.0.0.1:{region.port.getHost().port}/api/v1/power"
    body = {"action": action, "filter": {"cluster": "rack-1"}, "reason": "bench/bulk.py"}
    started = time.perf_counter()
    figures: dict[str, Any] = dict.fromkeys(FIGURES, "timeout")
    try:
        response = await treq.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                                   timeout=timeout, reactor=reactor)
    except Exception as e:
        print(f"{action}: the request failed: {e!r}")
        return figures
    figures["seconds_to_202"] = time.perf_counter() - started
    answer = await response.json()
    if response.code != 202:
        print(f"{action}: answered {response.code}: {answer}")
        return figures
    batch = await wait_done(reactor, poll_engine, answer["batch"], started, timeout, figures)
    rpc_after, transactions_after = counts.snapshot()
    figures["rpc_calls"] = sum((rpc_after - rpc_before).values())
    figures["transactions"] = transactions_after - transactions_before
    figures["rpc_by_command"] = dict(sorted((rpc_after - rpc_before).items()))
    figures["counts"] = batch["counts"] if batch else None
    return figures


async def wait_done(reactor: Any, poll_engine: Any, batch_id: int, started: float, timeout: float,
                    figures: dict[str, Any]) -> dict[str, Any] | None:
    """Poll the batch until every action is final; note when half and all are done."""
    batch = None
    while time.perf_counter() - started < timeout:
        batch = await threads.deferToThread(read_batch, poll_engine, batch_id)
        done, size = batch["counts"]["done"], batch["size"]
        if done * 2 >= size and figures["seconds_to_half_done"] == "timeout":
            figures["seconds_to_half_done"] = time.perf_counter() - started
        if done == size:
            figures["seconds_to_all_done"] = time.perf_counter() - started
        if batch["finished"]:
            for name in ("seconds_to_half_done", "seconds_to_all_done"):
                if figures[name] == "timeout":
                    figures[name] = "not reached (some actions did not end done; see counts)"
            return batch
        await task.deferLater(reactor, POLL_SECONDS)
    return batch


def read_batch(poll_engine: Any, batch_id: int) -> dict[str, Any]:
    with poll_engine.connect() as connection:
        return get_batch(connection, batch_id)


def show(prefix: str, figures: dict[str, Any]) -> None:
    if figures.get("counts") is not None:
        print(f"{prefix}counts: {figures['counts']}")
    if figures.get("rpc_by_command") is not None:
        print(f"{prefix}rpc_by_command: {figures['rpc_by_command']}")
    for name in FIGURES:
        value = figures[name]
        print(f"{prefix}{name}: {value:.2f}" if isinstance(value, float) else f"{prefix}{name}: {value}")


async def main(reactor: Any, arguments: argparse.Namespace) -> None:
    tune_gc()
    with tempfile.TemporaryDirectory() as directory:
        config = RegionConfig(data_dir=Path(directory), listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
        token = initialize(config)
        region = Region(config, reactor)
        populate(region, arguments.nodes)
        counts = Counts(region.database.engine)
        region.start()
        fleet = FakeFleet(reactor, latency=arguments.latency, settle=arguments.settle)
        daemon = ClusterDaemon(reactor, DriverSet(reactor, {"fake": FakeDriver(reactor, fleet)}), interval=3600)
        connection = RegionConnection.to_region(
            reactor, f"127.0.0.1:{region.rpc_port.getHost().port}", "rack-1",
            load_secret(config.secret_path), daemon, daemon.region_ready,
        )
        connection.startService()
        poll_engine = reading_engine(config.database_url)
        if not await swept(reactor, poll_engine, arguments.nodes, arguments.timeout):
            print("the cluster's recovery and first sweep: timeout")
        on = await bulk_run(reactor, region, token, poll_engine, counts, "on", arguments.timeout)
        if on["seconds_to_all_done"] == "timeout":
            cycle = dict.fromkeys(FIGURES, "skipped (the on run did not finish)")
        else:
            cycle = await bulk_run(reactor, region, token, poll_engine, counts, "cycle", arguments.timeout)
        poll_engine.dispose()
        await connection.stopService()
        await daemon.stop()
        await region.stop()
    print(f"nodes: {arguments.nodes}")
    print(f"latency: {arguments.latency}")
    print(f"settle: {arguments.settle}")
    show("on_", on)
    show("cycle_", cycle)
    show("", {name: on[name] for name in FIGURES})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds each fake BMC call takes")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before a command's effect shows")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each run may take")
    arguments = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments)))
    sys.exit(0)
