"""
Drive ``POST /api/v1/nodes/{id}/power`` with 64 concurrent clients against
a real region process, on SQLite and on PostgreSQL, and print the accepted
requests per second and the 99th-percentile latency of each.

The region runs as its own process (``pserv-region run``); the clients run
here with treq over persistent connections, so each side has one of the
machine's cores.  Every request flips its node between ``on`` and ``off``,
so none is a duplicate: each one is the full write path (lock the node,
count its generation up, insert the action, supersede the older one, two
events, commit) before its 202.

It also prints ``region_cpu_ms_per_request``, the region process's CPU
time (user and system, from /proc) over the load divided by the requests
it accepted: the figure that holds on a noisy machine.

With ``--profile DIR`` the region runs under cProfile
(``bench/profiled.py``), one profile per thread in ``DIR/<backend>/``;
its figures are then the profiler's, not the region's.  ``--only``
measures one database.

Usage: python bench/api.py [--requests 5000] [--clients 64] [--nodes 256]
       [--postgres URL] [--only sqlite|postgresql] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import treq
from sqlalchemy import create_engine, text
from twisted.internet import defer, task
from twisted.internet.protocol import ProcessProtocol
from twisted.web.client import HTTPConnectionPool

LISTENING = re.compile(rb"listening on http://([\d.]+):(\d+)/")


class Region(ProcessProtocol):
    """A pserv-region process, ready once it says where it listens."""

    def __init__(self) -> None:
        self.output = b""
        self.ready: defer.Deferred = defer.Deferred()
        self.ended: defer.Deferred = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        found = LISTENING.search(self.output)
        if found and not self.ready.called:
            self.ready.callback(f"http://{found.group(1).decode()}:{found.group(2).decode()}")

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        if not self.ready.called:
            self.ready.errback(RuntimeError(self.output.decode(errors="replace")))
        self.ended.callback(None)


PROFILED = Path(__file__).with_name("profiled.py")


def region_args(data_dir: Path, database: str | None, profile: Path | None = None) -> list[str]:
    runner = ["-m", "pserv.scripts.region"] if profile is None else [str(PROFILED), str(profile)]
    args = [sys.executable, *runner, "--data-dir", str(data_dir)]
    return args + (["--database", database] if database else [])


def initialize(data_dir: Path, database: str | None) -> str:
    done = subprocess.run(region_args(data_dir, database) + ["init"], capture_output=True, text=True, check=True)
    return done.stdout.split("admin token (shown once): ")[1].strip()


async def enrol(url: str, headers: dict, count: int, pool) -> list[int]:
    ids = []
    for n in range(count):
        # A production region knows no fake type; manual nodes validate as cheaply.
        body = {"name": f"bench-{n}", "power_type": "manual", "power_parameters": {"instructions": f"b{n}"}}
        response = await treq.post(f"{url}/api/v1/nodes", json=body, headers=headers, pool=pool)
        ids.append(json.loads(await response.content())["id"])
    return ids


async def load(url: str, headers: dict, ids: list[int], requests: int, clients: int, pool) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    accepted = 0
    counter = iter(range(requests))

    async def client() -> None:
        nonlocal accepted
        for n in counter:
            node = ids[n % len(ids)]
            kind = "on" if (n // len(ids)) % 2 == 0 else "off"
            started = time.perf_counter()
            response = await treq.post(f"{url}/api/v1/nodes/{node}/power", json={"action": kind},
                                       headers=headers, pool=pool)
            await response.content()
            latencies.append(time.perf_counter() - started)
            accepted += response.code in (200, 202)

    started = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(client()) for _ in range(clients)])
    return time.perf_counter() - started, latencies, accepted


async def measure(reactor, backend: str, database: str | None, args) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        token = initialize(Path(data_dir), database)
        region = Region()
        profile = None if args.profile is None else Path(args.profile) / backend
        argv = region_args(Path(data_dir), database, profile) + ["run", "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0"]
        reactor.spawnProcess(region, sys.executable, argv, env=None)
        url = await region.ready
        pool = HTTPConnectionPool(reactor)
        pool.maxPersistentPerHost = args.clients
        headers = {"Authorization": [f"Bearer {token}"]}
        try:
            ids = await enrol(url, headers, args.nodes, pool)
            cpu_before = cpu_seconds(region.transport.pid)
            elapsed, latencies, accepted = await load(url, headers, ids, args.requests, args.clients, pool)
            cpu_ms = (cpu_seconds(region.transport.pid) - cpu_before) * 1000 / max(accepted, 1)
        finally:
            await pool.closeCachedConnections()
            region.transport.signalProcess("TERM")
            await region.ended
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rate = accepted / elapsed
    print(f"# {backend}: {accepted}/{args.requests} accepted in {elapsed:.2f}s, "
          f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms", flush=True)
    return rate, p99, cpu_ms


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_schema(base: str) -> tuple[str, str]:
    name = f"pserv_bench_{uuid.uuid4().hex[:10]}"
    with create_engine(base).begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    return name, f"{base}?options=-csearch_path%3D{name}"


def drop_schema(base: str, name: str) -> None:
    with create_engine(base).begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))


async def main(reactor, args) -> None:
    results = {}
    if args.only in (None, "sqlite"):
        results["sqlite"] = await measure(reactor, "sqlite", None, args)
    if args.only in (None, "postgresql"):
        name, url = postgres_schema(args.postgres)
        try:
            results["postgresql"] = await measure(reactor, "postgresql", url, args)
        finally:
            drop_schema(args.postgres, name)
    for backend, (rate, p99, cpu_ms) in results.items():
        print(f"{backend}_accepted_per_second: {rate:.0f}")
        print(f"{backend}_p99_ms: {p99:.1f}")
        print(f"{backend}_region_cpu_ms_per_request: {cpu_ms:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="measure one database only")
    parser.add_argument("--profile", metavar="DIR", help="run the region under cProfile, its profiles in DIR")
    arguments = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments)))
