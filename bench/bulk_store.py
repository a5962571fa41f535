"""
The store's part of one bulk request for N nodes of one cluster, on SQLite
and on PostgreSQL: how long ``request_bulk`` takes (the transaction behind
the 202), and ``claim_for_delivery`` right after it (marking the actions
``sent`` and building their requests), and how many statements each sends.

The nodes are as in ``bench/bulk.py``: of cluster ``rack-1``, off and
wanted off, nothing outstanding.  SQLite is a file in a temporary
directory; PostgreSQL a private schema of ``--postgres`` (dropped after).
Each figure is one run; the machine's noise is not averaged out.

Usage: python bench/bulk_store.py [--nodes 10000] [--postgres URL] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import Engine

from pserv.region import schema
from pserv.region.db import make_engine
from pserv.region.migrate import upgrade
from pserv.region.store.actions import request_bulk
from pserv.region.store.recovery import claim_for_delivery

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def populate(engine: Engine, count: int) -> None:
    """N nodes of rack-1, off and wanted off, never read, nothing outstanding."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    nodes = [
        {"id": n, "name": f"node-{n}", "cluster": "rack-1", "power_type": "fake",
         "power_parameters": {"address": f"bmc-{n}"}, "power_secrets": {}, "desired_power_state": "off",
         "power_state": "off", "power_state_observed_at": None, "generation": 0, "lifecycle": "ready",
         "drift_policy": "observe", "created_at": now, "updated_at": now}
        for n in range(1, count + 1)
    ]
    with engine.begin() as connection:
        connection.execute(insert(schema.nodes), nodes)


def timed(engine: Engine, work: Callable[..., Any], *args: Any) -> tuple[float, int, Any]:
    """Seconds ``work`` took in one transaction, the statements it sent, and its result."""
    statements = []

    def count(*_: Any) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        with engine.begin() as connection:
            result = work(connection, *args)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return time.perf_counter() - started, len(statements), result


def measure(name: str, engine: Engine, count: int) -> None:
    """Populate, then time one bulk ``on`` and its claim; print the figures."""
    upgrade(engine)
    populate(engine, count)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    seconds, statements, (_, actions, _) = timed(
        engine, request_bulk, None, {"cluster": "rack-1"}, "on", "bench", now)
    print(f"{name}_request_bulk_seconds: {seconds:.2f}")
    print(f"{name}_request_bulk_statements: {statements}")
    seconds, statements, claimed = timed(
        engine, claim_for_delivery, ["rack-1"], [a["id"] for a in actions], now)
    print(f"{name}_claim_for_delivery_seconds: {seconds:.2f}")
    print(f"{name}_claim_for_delivery_statements: {statements}")
    print(f"{name}_claimed: {len(claimed)}")


def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/region.sqlite")
        yield engine
        engine.dispose()


def postgres_engine(url: str) -> Iterator[Engine]:
    name = f"pserv_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    engine = make_engine(f"{url}?options=-csearch_path%3D{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def main(measure: Callable[[str, Engine, int], None], doc: str) -> None:
    """Parse ``--nodes``, ``--postgres`` and ``--only``, and ``measure`` on each database asked for."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--postgres", default=POSTGRES, help="a PostgreSQL database to make a schema in")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    arguments = parser.parse_args()
    print(f"nodes: {arguments.nodes}")
    if arguments.only in (None, "sqlite"):
        for engine in sqlite_engine():
            measure("sqlite", engine, arguments.nodes)
    if arguments.only in (None, "postgresql"):
        for engine in postgres_engine(arguments.postgres):
            measure("postgresql", engine, arguments.nodes)


if __name__ == "__main__":
    main(measure, __doc__)
