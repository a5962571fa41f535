"""
A region holding 100,000 nodes and a cluster owning 10,000 of them: each
process's resident memory, how long one full power sweep takes, and the
API's nodes page.

The benchmark builds a region's SQLite database (``initialize``, then
bulk inserts): N nodes spread over ten clusters, ``rack-1`` to
``rack-10``, node ``n`` on ``rack-((n - 1) % 10 + 1)``, so that rack-1's
share (N / 10) is interleaved with the others in id order.  Every node has
power type ``fake`` with ``{"address": "bmc-n", "latency": 0.02}``: each
call to its emulated BMC answers after 20 ms.  Every node is off, wanted
off, and was last read an hour ago; nothing is outstanding.

It then runs three processes: this one, which only watches and asks; the
region, ``pserv-region run`` (:func:`pserv.scripts.region.main` with the
``fake`` power type added, as tests/region/process.py does); and the
cluster ``rack-1``, ``pserv-cluster run --sync-interval 60 --concurrency
32`` (:func:`pserv.scripts.cluster.main` with the ``FakeDriver`` added, as
tests/scripts/test_cluster.py does, so its fleet of emulated BMCs lives in
the cluster process and is counted in its memory).  The one addition to
the cluster is a wrapper round ``PowerObserver.sweep`` that prints, by
the machine's wall clock (``time.time()``, which all three processes
share), when each sweep starts and when its last read is done.  Each
daemon sets its own GC thresholds, as in production.

What is timed:

- ``sweep_seconds``: the cluster's second sweep, the steady state (the
  first starts as soon as the cluster has recovered after connecting),
  from the moment that sweep
  starts in the cluster until the region has committed a reading taken in
  that sweep for every one of rack-1's nodes.  This process polls the
  region's database file every 100 ms (SQLite, read-only, its own
  connection: a reader takes no lock from the region's writer), counting
  rack-1's nodes whose ``power_state_observed_at`` is at or after the
  sweep's start; the figure is late by at most one poll.
  ``first_sweep_seconds`` is the same for the first sweep.
  ``sweep_reads_seconds``: from the same start until the cluster's last
  read is done and its last batch of states handed to the report queue
  (the cluster's own view; the rest is reporting and recording).
- ``sweep_cluster_cpu_seconds`` and ``sweep_region_cpu_seconds``: each
  process's CPU time (user and system, from /proc) over the second sweep,
  the figures that hold on a shared machine.
- ``nodes_page_p50_ms``, ``nodes_page_p99_ms``: ``GET
  /api/v1/nodes?limit=100`` with the admin's bearer token, ``--requests``
  times one after another over one persistent connection (after one to
  warm up), once the second sweep is recorded and before the third
  begins.  The API pages by keyset (``after=ID``), not by offset, so a
  deep page costs what the first does: ``nodes_deep_page_...`` asks for
  the last 100 nodes (``after=N-100``) and ``nodes_rack_page_...`` for the
  last 100 of rack-1 (``cluster=rack-1&after=...``).
  ``nodes_page_during_sweep_...`` is the first page again while the third
  sweep runs (its own ``during_sweep_seconds`` is printed too).
- ``region_rss_mb``, ``cluster_rss_mb``: resident memory (``VmRSS``) of
  each process at the end (the cluster's is taken after its second sweep
  too, ``cluster_rss_after_sweep_mb``); ``..._peak_rss_mb`` is ``VmHWM``.
  ``region_idle_rss_mb`` is the region's before the cluster connects.

Prints ``name: value`` lines, the figures last.  The machine's other
work shows in the times, hardly in the memory.

Usage: python bench/scale.py [--nodes 100000] [--clusters 10] [--latency 0.02]
       [--interval 60] [--concurrency 32] [--requests 200] [--timeout 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import insert

from pserv.region import schema
from pserv.region.config import RegionConfig
from pserv.region.db import make_engine
from pserv.region.service import initialize
from pserv.region.store.clusters import register_cluster

POLL_SECONDS = 0.1
CLUSTER = "rack-1"

REGION_WITH_FAKE = (
    "import sys; from pserv.scripts.region import main; "
    "from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE; "
    "sys.exit(main(sys.argv[1:], power_types=POWER_TYPES_WITH_FAKE))"
)
"""``python -c`` source: ``pserv-region ARGS`` whose nodes may be fake."""

CLUSTER_WITH_FAKE = """
import sys, time
from pserv.cluster.observer import PowerObserver
from pserv.scripts.cluster import main
from pserv.testing.fake_driver import FakeDriver

untimed = PowerObserver.sweep

def sweep(self):
    print(f"bench: sweep of {len(self.book)} started at {time.time():.6f}", flush=True)
    done = untimed(self)
    def read(result):
        print(f"bench: sweep read at {time.time():.6f}", flush=True)
        return result
    return done.addCallback(read)

PowerObserver.sweep = sweep
sys.exit(main(sys.argv[1:], extra_drivers={"fake": FakeDriver}))
"""
"""``python -c`` source: ``pserv-cluster ARGS`` with the fake driver, each sweep's start and end printed."""

LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)/")
RPC = re.compile(r"RPC for clusters on ([\d.]+):(\d+)")
STARTED = re.compile(r"bench: sweep of (\d+) started at ([\d.]+)")
READ = re.compile(r"bench: sweep read at ([\d.]+)")


def populate(config: RegionConfig, count: int, clusters: int, latency: float) -> None:
    """N fake nodes over ``clusters`` clusters, off, read an hour ago, nothing outstanding."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    engine = make_engine(config.database_url)
    try:
        with engine.begin() as connection:
            for c in range(1, clusters + 1):
                register_cluster(connection, f"rack-{c}", now)
        for first in range(1, count + 1, 10_000):
            rows = [
                {"id": n, "name": f"node-{n:06d}", "cluster": f"rack-{(n - 1) % clusters + 1}",
                 "power_type": "fake", "power_parameters": {"address": f"bmc-{n}", "latency": latency},
                 "power_secrets": {}, "desired_power_state": "off", "power_state": "off",
                 "power_state_observed_at": now - timedelta(hours=1), "generation": 0, "lifecycle": "ready",
                 "drift_policy": "observe", "created_at": now, "updated_at": now}
                for n in range(first, min(first + 10_000, count + 1))
            ]
            with engine.begin() as connection:
                connection.execute(insert(schema.nodes), rows)
    finally:
        engine.dispose()


class Child:
    """A daemon this benchmark started, its output in a file."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        self._file = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, *args], stdout=self._file, stderr=subprocess.STDOUT,
                                        env=env)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: re.Pattern[str], timeout: float, skip: int = 0) -> re.Match[str]:
        """The ``skip``-th (from 0) match of ``pattern`` in the output, once printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = list(pattern.finditer(self.output()))
            if len(found) > skip:
                return found[skip]
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} ended ({self.process.returncode}):\n{self.output()[-3000:]}")
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{self.name}: no {pattern.pattern!r} within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def status(self, field: str) -> float:
        """A ``/proc/PID/status`` memory field, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User and system CPU time so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; this child only."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._file.close()


def observed_since(database: Path, since: float) -> int:
    """How many of rack-1's nodes the region has a reading of taken at or after ``since``."""
    moment = datetime.fromtimestamp(since, timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute(
            "SELECT count(*) FROM nodes WHERE cluster = ? AND power_state_observed_at >= ?", (CLUSTER, moment)
        ).fetchone()[0]
    finally:
        connection.close()


def timed_sweep(cluster: Child, region: Child, database: Path, which: int, owned: int,
                timeout: float, during: Callable[[], object] | None = None) -> dict[str, Any]:
    """
    Sweep number ``which`` (from 0): from its start to the region's record
    of every owned node, the cluster's own end, each process's CPU time.
    ``during()``, if given, runs in a thread of its own from the sweep's
    start, and its result is ``figures["during"]``.
    """
    started = cluster.wait_for(STARTED, timeout, skip=which)
    start = float(started.group(2))
    cpu = cluster.cpu_seconds(), region.cpu_seconds()
    figures: dict[str, Any] = {"swept": int(started.group(1)), "start": start, "seconds": "timeout"}
    meanwhile = None
    if during is not None:
        meanwhile = threading.Thread(target=lambda: figures.update(during=during()))
        meanwhile.start()
    while time.time() - start < timeout:
        if observed_since(database, start) >= owned:
            figures["seconds"] = time.time() - start
            break
        time.sleep(POLL_SECONDS)
    figures["reads_seconds"] = float(cluster.wait_for(READ, timeout, skip=which).group(1)) - start
    figures["cluster_cpu"] = cluster.cpu_seconds() - cpu[0]
    figures["region_cpu"] = region.cpu_seconds() - cpu[1]
    if meanwhile is not None:
        meanwhile.join()
    return figures


def pages(host: str, port: int, token: str, path: str, requests: int) -> list[tuple[float, float]]:
    """
    ``(when it was sent, milliseconds)`` of each of ``requests`` GETs of
    ``path``, one after another, after one to warm up.
    """
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    try:
        for n in range(requests + 1):
            sent, started = time.time(), time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
            if n == 0 and len(json.loads(body)["items"]) != 100:
                raise RuntimeError(f"{path}: not 100 items")
            if n:
                times.append((sent, elapsed))
    finally:
        connection.close()
    return times


def timed_pages(*args: Any) -> tuple[list[float], float]:
    """:func:`pages`, and how long they took in all."""
    started = time.perf_counter()
    return pages(*args), time.perf_counter() - started


def percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, max(0, round(fraction * len(times)) - 1))]


def page_figures(name: str, timed: list[tuple[float, float]], since: float | None = None) -> dict[str, str]:
    """The p50 and p99 figures; a line with the p90, the slowest and (after ``since``) when the slow ones were sent."""
    times = sorted(ms for _, ms in timed)
    slow = [f"{sent - since:.1f}s:{ms:.0f}ms" for sent, ms in timed if ms > 100] if since is not None else []
    print(f"# {name}: {len(times)} requests, p90 {percentile(times, 0.9):.1f} ms, slowest {times[-1]:.1f} ms, "
          f"{sum(ms > 100 for ms in times)} over 100 ms" + (f" (sent after the sweep began: {slow})" if slow else ""),
          flush=True)
    return {f"{name}_p50_ms": f"{percentile(times, 0.5):.1f}", f"{name}_p99_ms": f"{percentile(times, 0.99):.1f}"}


def run(arguments: argparse.Namespace, directory: Path) -> dict[str, Any]:
    config = RegionConfig(data_dir=directory / "region")
    token = initialize(config)
    started = time.perf_counter()
    populate(config, arguments.nodes, arguments.clusters, arguments.latency)
    print(f"# populated {arguments.nodes} nodes in {time.perf_counter() - started:.1f} s", flush=True)
    database = config.data_dir / "region.sqlite"
    owned = len(range(1, arguments.nodes + 1, arguments.clusters))
    figures: dict[str, Any] = {}
    region = Child("region", ["-c", REGION_WITH_FAKE, "--data-dir", str(config.data_dir), "run",
                              "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0"], directory / "region.log")
    cluster = None
    try:
        rpc = region.wait_for(RPC, 120)
        listening = region.wait_for(LISTENING, 120)
        host, port = listening.group(1), int(listening.group(2))
        time.sleep(2)
        figures["region_idle_rss_mb"] = f"{region.status('VmRSS'):.1f}"
        cluster = Child("cluster", [
            "-c", CLUSTER_WITH_FAKE, "run", "--region", f"{rpc.group(1)}:{rpc.group(2)}", "--name", CLUSTER,
            "--secret-file", str(config.secret_path), "--sync-interval", str(arguments.interval),
            "--concurrency", str(arguments.concurrency),
        ], directory / "cluster.log")
        first = timed_sweep(cluster, region, database, 0, owned, arguments.timeout)
        print(f"# first sweep: {first}", flush=True)
        second = timed_sweep(cluster, region, database, 1, owned, arguments.timeout)
        print(f"# second sweep: {second}", flush=True)
        figures["cluster_rss_after_sweep_mb"] = f"{cluster.status('VmRSS'):.1f}"
        first_page = pages(host, port, token, "/api/v1/nodes?limit=100", arguments.requests)
        deep = pages(host, port, token, f"/api/v1/nodes?limit=100&after={arguments.nodes - 100}", arguments.requests)
        rack_after = (owned - 100) * arguments.clusters
        rack = pages(host, port, token, f"/api/v1/nodes?limit=100&cluster={CLUSTER}&after={rack_after}",
                     arguments.requests)
        third = timed_sweep(cluster, region, database, 2, owned, arguments.timeout, during=lambda: timed_pages(
            host, port, token, "/api/v1/nodes?limit=100", arguments.requests))
        busy, paging = third.pop("during")
        print(f"# third sweep (paging meanwhile, {paging:.2f} s of paging): {third}", flush=True)
        figures.update({
            "region_rss_mb": f"{region.status('VmRSS'):.1f}",
            "region_peak_rss_mb": f"{region.status('VmHWM'):.1f}",
            "cluster_rss_mb": f"{cluster.status('VmRSS'):.1f}",
            "cluster_peak_rss_mb": f"{cluster.status('VmHWM'):.1f}",
            "cluster_nodes": second["swept"],
            "first_sweep_seconds": _seconds(first["seconds"]),
            "sweep_seconds": _seconds(second["seconds"]),
            "sweep_reads_seconds": _seconds(second["reads_seconds"]),
            "sweep_cluster_cpu_seconds": _seconds(second["cluster_cpu"]),
            "sweep_region_cpu_seconds": _seconds(second["region_cpu"]),
            "sweep_interval_seconds": f"{arguments.interval:g}",
            "sweep_concurrency": arguments.concurrency,
            **page_figures("nodes_page", first_page),
            **page_figures("nodes_deep_page", deep),
            **page_figures("nodes_rack_page", rack),
            **page_figures("nodes_page_during_sweep", busy, third["start"]),
            "during_sweep_seconds": _seconds(third["seconds"]),
        })
    finally:
        if cluster is not None:
            cluster.stop()
        region.stop()
    return figures


def _seconds(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=100_000, help="nodes in the region")
    parser.add_argument("--clusters", type=int, default=10, help="clusters they are spread over; rack-1 runs")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds each fake BMC call takes")
    parser.add_argument("--interval", type=float, default=60.0, help="the cluster's --sync-interval")
    parser.add_argument("--concurrency", type=int, default=32, help="the cluster's --concurrency")
    parser.add_argument("--requests", type=int, default=200, help="GETs of each page")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds any wait may take")
    arguments = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        figures = run(arguments, Path(directory))
    print(f"# {time.perf_counter() - started:.0f} s in all", flush=True)
    print(f"nodes: {arguments.nodes}")
    print(f"latency: {arguments.latency}")
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
