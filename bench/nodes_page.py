"""
The nodes page with 10,000 nodes: how long does the first page take?

Builds a SQLite region database (a file, WAL, as ``pserv-region`` keeps
one) with N nodes in four clusters through the store's own functions:
enrolled with ``create_node``, their power read by the clusters'
``report_power_states`` (most minutes ago, some long ago, some never),
and one node in ten with a power request in play (``request_power``).
It then serves the region's web resource on loopback, in this process
(the region's own reactor and database threads), and times, over
persistent connections, one client at a time:

- ``GET /nodes`` with a logged-in session (the first page of 50, sorted by
  name, with the total and each node's action in play), and
- ``GET /api/v1/nodes?limit=100`` with a bearer token, for comparison;
- and two harder pages: the last one sorted by when the power was read,
  newest first (``?sort=-observed&page=LAST``: an OFFSET past every other
  row), and a filtered search (``?q=node-0&power_state=on&sort=cluster``).

Prints ``nodes_page_first_ms_p50`` and ``_p99``, ``api_nodes_100_ms_p50``
and ``_p99``, ``nodes_page_last_by_observed_ms_p50`` and
``nodes_page_search_ms_p50`` as its last lines.  The aim is a first page
under 300 ms.

Usage: python bench/nodes_page.py [--nodes 10000] [--requests 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import treq
from twisted.internet import defer, task
from twisted.web.client import HTTPConnectionPool
from twisted.web.server import Site

from pserv.region.api import RegionAPI
from pserv.region.db import Database, make_engine
from pserv.region.http import BoundedRequest
from pserv.region.migrate import upgrade
from pserv.region.roles import Role
from pserv.region.store.actions import request_power
from pserv.region.store.clusters import register_cluster
from pserv.region.store.nodes import create_node
from pserv.region.store.reports import report_power_states
from pserv.region.store.sessions import create_session
from pserv.region.store.tokens import create_token
from pserv.region.store.users import create_user
from pserv.util.times import iso_from_moment

CLUSTERS = ["rack-1", "rack-2", "rack-3", "rack-4"]


def populate(database: Database, count: int, now: datetime) -> None:
    """N manual nodes (cheap to validate) in four clusters, read, one in ten with an action in play."""
    def enrol(connection):
        for name in CLUSTERS:
            register_cluster(connection, name, now)
        for n in range(1, count + 1):
            create_node(connection, {"name": f"node-{n:05d}", "cluster": CLUSTERS[n % 4], "power_type": "manual",
                                     "power_parameters": {"instructions": f"row {n // 40}, slot {n % 40}"}}, now)

    def read(connection):
        for index, cluster in enumerate(CLUSTERS):
            states = [
                {"node": n, "power_state": "on" if n % 3 else "off", "error": None, "epoch": 0,
                 "observed_at": iso_from_moment(now - timedelta(seconds=60 if n % 7 else 3600))}
                for n in range(1, count + 1) if n % 4 == index and n % 11
            ]
            report_power_states(connection, cluster, states, now)

    def ask(connection):
        for n in range(1, count + 1, 10):
            request_power(connection, n, "off" if n % 20 else "on", "bench", now)

    for work in (enrol, read, ask):
        started = time.perf_counter()
        database.run_now(work)
        print(f"# {work.__name__}: {time.perf_counter() - started:.1f} s", flush=True)


def credentials(database: Database, now: datetime) -> tuple[dict, dict]:
    """A viewer's session cookie and a viewer's bearer token."""
    user = database.run_now(create_user, "bench", "not-a-hash", Role.VIEWER, now)
    session = database.run_now(create_session, user["id"], "bench", "127.0.0.1", now, 3600.0)
    token = database.run_now(create_token, "bench", now, Role.VIEWER)
    return {"Cookie": [f"pserv_session={session}"]}, {"Authorization": [f"Bearer {token}"]}


async def timed(url: str, headers: dict, requests: int, pool) -> list[float]:
    """Milliseconds of each of ``requests`` GETs, one after another, after one to warm up."""
    times = []
    for n in range(requests + 1):
        started = time.perf_counter()
        response = await treq.get(url, headers=headers, pool=pool)
        body = await response.content()
        if response.code != 200:
            raise RuntimeError(f"{url}: {response.code} {body[:200]!r}")
        if n:
            times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, max(0, round(fraction * len(times)) - 1))]


async def main(reactor, args) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'region.sqlite'}")
        upgrade(engine)
        database = Database(engine, reactor)
        populate(database, args.nodes, now)
        cookie, bearer = credentials(database, now)
        database.start()
        site = Site(RegionAPI(database, reactor).resource())
        site.requestFactory = BoundedRequest
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        base = f"http://127.0.0.1:{port.getHost().port}"
        pool = HTTPConnectionPool(reactor)
        try:
            page = await timed(f"{base}/nodes", cookie, args.requests, pool)
            api = await timed(f"{base}/api/v1/nodes?limit=100", bearer, args.requests, pool)
            last = await timed(f"{base}/nodes?sort=-observed&page={-(-args.nodes // 50)}", cookie, args.requests, pool)
            search = await timed(f"{base}/nodes?q=node-0&power_state=on&sort=cluster", cookie, args.requests, pool)
        finally:
            await pool.closeCachedConnections()
            await port.stopListening()
            database.stop()
            engine.dispose()
    print(f"# {args.nodes} nodes, {args.requests} requests each, one at a time", flush=True)
    print(f"nodes_page_first_ms_p50: {percentile(page, 0.5):.1f}")
    print(f"nodes_page_first_ms_p99: {percentile(page, 0.99):.1f}")
    print(f"api_nodes_100_ms_p50: {percentile(api, 0.5):.1f}")
    print(f"api_nodes_100_ms_p99: {percentile(api, 0.99):.1f}")
    print(f"nodes_page_last_by_observed_ms_p50: {percentile(last, 0.5):.1f}")
    print(f"nodes_page_search_ms_p50: {percentile(search, 0.5):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=50)
    arguments = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments)))
