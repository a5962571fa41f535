"""
Drive ``POST /api/v1/nodes/{id}/power`` with 64 concurrent clients against
a real region process, on SQLite and on PostgreSQL, and print the accepted
requests per second and the 99th-percentile latency of each; then, on
PostgreSQL, the same with 1, 2 and 4 region processes on one database.

The region runs as its own process (``pserv-region run``); the clients run
here with treq over persistent connections, so each side has one of the
machine's cores.  Every request flips its node between ``on`` and ``off``,
so none is a duplicate: each one is the full write path (lock the node,
count its generation up, insert the action, supersede the older one, two
events, commit) before its 202.

It also prints ``region_cpu_ms_per_request``, the region process's CPU
time (user and system, from /proc) over the load divided by the requests
it accepted: the figure that holds on a noisy machine.  A ``#`` line
splits the machine's busy CPU time over the load (from /proc/stat) into
the regions', the clients' and the rest (PostgreSQL's and any other
work's), so a run disturbed by other work shows as such.

**Several regions** (``--regions 1,2,4``, PostgreSQL only: a second region
on an SQLite file is refused by design).  For each count N: a fresh
schema; ``init`` with the first region's data directory; every other
region its own data directory holding a copy of the first's ``secret``
before its own ``init`` (which finds the schema at its head and tokens
present, so it changes nothing and keeps that secret); N ``pserv-region
run`` processes; the nodes enrolled once, through the first region; then
the 64 clients spread evenly, client i on region i % N.  The requests come
from one shared budget, so a region that answers faster serves more of
them.  The nodes are split: region r's clients ask only for the nodes
``ids[r::N]``, walked in turn as with one region.  Real operators rarely
ask two regions for the same node at the same moment, and with a split no
two regions ever wait on the same node's row lock, so the figure is the
regions' own cost, not a contention the benchmark made up.  Each region
keeps the one region's four nodes per client (64 nodes for its 16 clients
with 4 regions), so two requests for one node are as rarely in flight at
once as with one region, and then wait for each other in one region, as
they would in production.  It prints
``postgresql_regions_N_accepted_per_second``, ``..._p99_ms`` (over every
client's requests) and ``..._region_cpu_ms_per_request`` (the CPU time of
all N region processes over the load, per accepted request).  The plain
``postgresql_*`` lines are the one-region run's (measured once and also
reported as ``postgresql_regions_1_*``).  The clients and the regions
share the machine's cores: with more processes than cores the throughput
mostly measures that contention, which a ``#`` line says; the CPU per
request holds anyway.

With ``--profile DIR`` the region runs under cProfile
(``bench/profiled.py``), one profile per thread in ``DIR/<backend>/``
(``DIR/postgresql_regions_N/`` for N regions, where only the first region
is profiled, so the others run faster than it and the throughput of that
run means little); its figures are then the profiler's, not the
region's.  ``--only`` measures one database.

Usage: python bench/api.py [--requests 5000] [--clients 64] [--nodes 256]
       [--postgres URL] [--only sqlite|postgresql] [--regions 1,2,4]
       [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from itertools import count as counting
from pathlib import Path

import treq
from sqlalchemy import create_engine, text
from twisted.internet import defer, task
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.web.client import HTTPConnectionPool

LISTENING = re.compile(rb"listening on http://([\d.]+):(\d+)/")
# Twisted's text log marks a line's level as [namespace#level].
TROUBLE = re.compile(r"#(?:warn|error|critical|failure)\]|Traceback|Unhandled")
READY_SECONDS = 60      # for a region to listen
STOP_SECONDS = 30       # for a region to end after SIGTERM, before SIGKILL
REQUEST_SECONDS = 120   # for one request, so a wedged region fails the run instead of hanging it


class Region(ProcessProtocol):
    """A pserv-region process, ready once it says where it listens."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ready: defer.Deferred = defer.Deferred()
        self.exited = False
        self._waiting: list[defer.Deferred] = []

    def outReceived(self, data: bytes) -> None:
        self.chunks.append(data)
        if not self.ready.called:
            found = LISTENING.search(b"".join(self.chunks))
            if found:
                self.ready.callback(f"http://{found.group(1).decode()}:{found.group(2).decode()}")

    errReceived = outReceived

    @property
    def output(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def processEnded(self, reason) -> None:
        self.exited = True
        if not self.ready.called:
            self.ready.errback(RuntimeError(f"the region ended before it listened:\n{self.output}"))
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)

    def ended(self) -> defer.Deferred:
        """A new Deferred that fires once the process has ended (safe to time out)."""
        if self.exited:
            return defer.succeed(None)
        waiter: defer.Deferred = defer.Deferred()
        self._waiting.append(waiter)
        return waiter


PROFILED = Path(__file__).with_name("profiled.py")


def region_args(data_dir: Path, database: str | None, profile: Path | None = None) -> list[str]:
    runner = ["-m", "pserv.scripts.region"] if profile is None else [str(PROFILED), str(profile)]
    args = [sys.executable, *runner, "--data-dir", str(data_dir)]
    return args + (["--database", database] if database else [])


def initialize(data_dir: Path, database: str | None) -> str | None:
    """Run ``init``; the first admin token it printed, or None if the database had tokens already."""
    try:
        done = subprocess.run(region_args(data_dir, database) + ["init"], capture_output=True, text=True,
                              check=True, timeout=120)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"pserv-region init failed ({e.returncode}): {e.stderr.strip()}") from None
    if "admin token (shown once): " not in done.stdout:
        return None
    return done.stdout.split("admin token (shown once): ")[1].strip()


def spawn(reactor, regions: list[Region], data_dir: Path, database: str | None, profile: Path | None) -> Region:
    """Start a region process and add it to ``regions`` (so it is stopped, whatever happens next)."""
    region = Region()
    argv = region_args(data_dir, database, profile) + ["run", "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0"]
    reactor.spawnProcess(region, sys.executable, argv, env=None)
    regions.append(region)
    return region


async def listening(reactor, region: Region, n: int) -> str:
    """The region's API URL, once it listens; an error with its output if it has not in ``READY_SECONDS``."""
    try:
        return await region.ready.addTimeout(READY_SECONDS, reactor)
    except defer.TimeoutError:
        raise RuntimeError(f"region {n} did not listen within {READY_SECONDS}s; its output:\n{region.output}") from None


async def stop(reactor, regions: list[Region]) -> None:
    """SIGTERM every region, wait for each to end; SIGKILL one that has not after ``STOP_SECONDS``."""
    for region in regions:
        try:
            region.transport.signalProcess("TERM")
        except ProcessExitedAlready:
            pass
    for n, region in enumerate(regions):
        region.ready.addErrback(lambda _: None)  # a region that never listened: said by the one awaited
        try:
            await region.ended().addTimeout(STOP_SECONDS, reactor)
        except defer.TimeoutError:
            print(f"# region {n} did not end {STOP_SECONDS}s after SIGTERM; killed", flush=True)
            try:
                region.transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass
            await region.ended()


async def enrol(url: str, headers: dict, count: int, pool) -> list[int]:
    ids = []
    for n in range(count):
        # A production region knows no fake type; manual nodes validate as cheaply.
        body = {"name": f"bench-{n}", "power_type": "manual", "power_parameters": {"instructions": f"b{n}"}}
        response = await treq.post(f"{url}/api/v1/nodes", json=body, headers=headers, pool=pool,
                                   timeout=REQUEST_SECONDS)
        content = await response.content()
        if response.code != 201:
            raise RuntimeError(f"enrolling bench-{n}: {response.code} {content[:200]!r}")
        ids.append(json.loads(content)["id"])
    return ids


async def load(targets: list[tuple[str, list[int]]], headers: dict, requests: int, clients: int,
               pool) -> tuple[float, list[float], list[Counter]]:
    """
    ``requests`` power requests from ``clients`` clients, client i on
    ``targets[i % len(targets)]`` (a region's URL and its nodes); the time
    taken, every latency, and each region's count of answers by status.
    Once a client fails the others stop after their request in flight (so
    no region is stopped under load), and the first failure is raised.
    """
    latencies: list[float] = []
    codes: list[Counter] = [Counter() for _ in targets]
    budget = iter(range(requests))
    turns = [counting() for _ in targets]
    failed = False

    async def client(region: int) -> None:
        nonlocal failed
        try:
            await requesting(region)
        except BaseException:
            failed = True
            raise

    async def requesting(region: int) -> None:
        url, ids = targets[region]
        for _ in budget:
            if failed:
                return
            n = next(turns[region])
            node = ids[n % len(ids)]
            kind = "on" if (n // len(ids)) % 2 == 0 else "off"
            started = time.perf_counter()
            response = await treq.post(f"{url}/api/v1/nodes/{node}/power", json={"action": kind},
                                       headers=headers, pool=pool, timeout=REQUEST_SECONDS)
            await response.content()
            latencies.append(time.perf_counter() - started)
            codes[region][response.code] += 1

    started = time.perf_counter()
    running = [defer.Deferred.fromCoroutine(client(i % len(targets))) for i in range(clients)]
    # Each request times out, so this ends within REQUEST_SECONDS of a failure.
    ended = await defer.DeferredList(running, consumeErrors=True)
    elapsed = time.perf_counter() - started
    for ok, result in ended:
        if not ok:
            result.raiseException()
    return elapsed, latencies, codes


async def measure(reactor, backend: str, database: str | None, args, count: int = 1) -> tuple[float, float, float]:
    """Run ``count`` regions on ``database``, enrol, load; accepted/s, p99 ms and region CPU ms per request."""
    regions: list[Region] = []
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = args.clients
    with tempfile.TemporaryDirectory() as base:
        try:
            dirs = [Path(base) / f"region-{n}" for n in range(count)]
            token = initialize(dirs[0], database)
            if token is None:
                raise RuntimeError(f"{backend}: the database had tokens already; it must be fresh")
            for data_dir in dirs[1:]:
                data_dir.mkdir(mode=0o700)
                shutil.copy2(dirs[0] / "secret", data_dir / "secret")
                initialize(data_dir, database)
            profile = None if args.profile is None else Path(args.profile) / backend
            for n, data_dir in enumerate(dirs):
                spawn(reactor, regions, data_dir, database, profile if n == 0 else None)
            urls = [await listening(reactor, region, n) for n, region in enumerate(regions)]
            headers = {"Authorization": [f"Bearer {token}"]}
            ids = await enrol(urls[0], headers, args.nodes, pool)
            targets = [(url, ids[n::count]) for n, url in enumerate(urls)]
            pids = [region.transport.pid for region in regions]
            cpu_before, own_before, busy_before = sum(cpu_seconds(pid) for pid in pids), own_cpu(), busy_cpu()
            elapsed, latencies, codes = await load(targets, headers, args.requests, args.clients, pool)
            cpu_seconds_used = sum(cpu_seconds(pid) for pid in pids) - cpu_before
            busy_after = busy_cpu()
            own_used = own_cpu() - own_before
            busy, stolen = busy_after[0] - busy_before[0], busy_after[1] - busy_before[1]
        finally:
            try:
                await pool.closeCachedConnections()
            finally:
                await stop(reactor, regions)
                report_trouble(backend, regions)
    accepted_each = [sum(n for code, n in tally.items() if code in (200, 202)) for tally in codes]
    accepted = sum(accepted_each)
    others = sum(codes, Counter())
    others = {code: n for code, n in sorted(others.items()) if code not in (200, 202)}
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"# {backend}: {accepted}/{args.requests} accepted in {elapsed:.2f}s, "
          f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms"
          + (f", per region {'/'.join(map(str, accepted_each))}" if count > 1 else "")
          + (f", refused: {others}" if others else ""), flush=True)
    print(f"# {backend}: CPU busy {busy:.1f} of {elapsed * len(os.sched_getaffinity(0)):.1f} core-seconds: "
          f"regions {cpu_seconds_used:.1f}, clients {own_used:.1f}, the rest {max(busy - cpu_seconds_used - own_used, 0):.1f} "
          f"(PostgreSQL and whatever else runs)" + (f"; {stolen:.1f} stolen by the hypervisor" if stolen >= 0.1 else ""),
          flush=True)
    return accepted / elapsed, p99, cpu_seconds_used * 1000 / max(accepted, 1)


def report_trouble(backend: str, regions: list[Region]) -> None:
    """
    Print, as # lines, the warnings, errors and tracebacks in the regions'
    logs (the first few), and keep such a region's whole log in a file.
    """
    for n, region in enumerate(regions):
        output = region.output
        lines = [line for line in output.splitlines() if TROUBLE.search(line)]
        if lines:
            handle, path = tempfile.mkstemp(prefix=f"pserv-bench-{backend}-region-{n}-", suffix=".log")
            with os.fdopen(handle, "w") as log:
                log.write(output)
            print(f"# {backend}, region {n}: {len(lines)} log lines of warnings or errors (its log: {path}), "
                  f"the first:", flush=True)
            for line in lines[:5]:
                print(f"#   {line[:300]}", flush=True)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """The CPU time (user and system) this process, the clients', has used."""
    times = os.times()
    return times.user + times.system


def busy_cpu() -> tuple[float, float]:
    """
    The CPU time all the machine's cores have spent working (user, nice,
    system, interrupts), and the time the hypervisor took from them
    (steal), from /proc/stat.
    """
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def postgres_schema(base: str) -> tuple[str, str]:
    name = f"pserv_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    finally:
        engine.dispose()
    return name, f"{base}?options=-csearch_path%3D{name}"


def drop_schema(base: str, name: str) -> None:
    engine = create_engine(base)
    try:
        with engine.begin() as connection:
            # A region left holding a lock would otherwise make this wait for ever.
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    finally:
        engine.dispose()


async def on_postgresql(reactor, args, backend: str, count: int) -> tuple[float, float, float]:
    name, url = postgres_schema(args.postgres)
    try:
        return await measure(reactor, backend, url, args, count)
    finally:
        drop_schema(args.postgres, name)


async def main(reactor, args) -> None:
    results = {}
    if args.only in (None, "sqlite"):
        results["sqlite"] = await measure(reactor, "sqlite", None, args)
    if args.only in (None, "postgresql"):
        results["postgresql"] = await on_postgresql(reactor, args, "postgresql", 1)
        if max(args.regions) > 1:
            cores = len(os.sched_getaffinity(0))
            print(f"# {cores} cores, shared by the clients' process and the regions: with more processes "
                  f"than cores the accepted/s and p99 mostly measure that contention; the CPU per request "
                  f"holds anyway", flush=True)
        for count in args.regions:
            if count > 1:
                results[f"postgresql_regions_{count}"] = await on_postgresql(
                    reactor, args, f"postgresql_regions_{count}", count)
    lines = []
    for backend, (rate, p99, cpu_ms) in results.items():
        lines += [f"{backend}_accepted_per_second: {rate:.0f}", f"{backend}_p99_ms: {p99:.1f}",
                  f"{backend}_region_cpu_ms_per_request: {cpu_ms:.2f}"]
        if backend == "postgresql" and 1 in args.regions:
            lines += [f"postgresql_regions_1_accepted_per_second: {rate:.0f}",
                      f"postgresql_regions_1_p99_ms: {p99:.1f}",
                      f"postgresql_regions_1_region_cpu_ms_per_request: {cpu_ms:.2f}"]
    print("\n".join(lines))


def region_counts(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: not a comma-separated list of counts") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: each count must be 1 or more")
    return list(dict.fromkeys(counts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="measure one database only")
    parser.add_argument("--regions", type=region_counts, default=[1, 2, 4], metavar="LIST",
                        help="region processes on the PostgreSQL database, comma-separated counts (default 1,2,4)")
    parser.add_argument("--profile", metavar="DIR", help="run the (first) region under cProfile, its profiles in DIR")
    arguments = parser.parse_args()
    if arguments.nodes < max(arguments.regions):
        parser.error(f"--nodes {arguments.nodes}: fewer nodes than regions, and each region needs its own")
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments)))
