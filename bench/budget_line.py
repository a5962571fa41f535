"""
The region's part of a bulk power-on of N nodes under one power budget,
on SQLite and on PostgreSQL: how long one round of ``TakeStarts`` takes
while all N wait in the budget's line, as a cluster asks for them (calls
of at most 500 asks, :data:`pserv.rpc.region.MAX_ASKS`), and how many
statements it sends.

The nodes are as in ``bench/bulk_store.py`` (of cluster ``rack-1``),
each under the budget ``pdu-1`` (20 starts per 10 s), each with an ``on``
sent.  The first round puts every action in the line and grants the
first 20; the second (a second later) renews every place and grants
none: the steady state while a bulk power-on goes out in waves, one round
every ``retry_after`` (at most 5 s).  Each figure is one run.

Usage: python bench/budget_line.py [--nodes 10000] [--postgres URL] [--only sqlite|postgresql]
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from bulk_store import main, populate, timed
from pserv.region import schema
from pserv.region.migrate import upgrade
from pserv.region.store import budget_line
from pserv.region.store.actions import request_bulk
from pserv.region.store.recovery import claim_for_delivery
from pserv.rpc.region import MAX_ASKS


def prepare(engine: Engine, count: int, now: datetime) -> list[tuple[int, int]]:
    """The nodes under ``pdu-1``, an ``on`` of each sent: the (action, node) pairs to ask for."""
    upgrade(engine)
    populate(engine, count)
    with engine.begin() as connection:
        connection.execute(insert(schema.budgets).values(
            name="pdu-1", starts=20, per_seconds=10.0, in_flight=None, created_at=now, updated_at=now))
        connection.execute(update(schema.nodes).values(budget="pdu-1"))
        _, actions, _ = request_bulk(connection, None, {"cluster": "rack-1"}, "on", "bench", now)
        claim_for_delivery(connection, ["rack-1"], [a["id"] for a in actions], now)
    return [(a["id"], a["node"]) for a in actions]


def one_round(engine: Engine, asks: list[tuple[int, int]], now: datetime) -> tuple[float, int, int]:
    """Every ask, in calls of MAX_ASKS: the seconds and statements in all, and the starts granted."""
    seconds = statements = granted = 0
    for start in range(0, len(asks), MAX_ASKS):
        took, sent, taken = timed(engine, budget_line.take_starts, "rack-1", asks[start:start + MAX_ASKS], now)
        seconds += took
        statements += sent
        granted += len(taken.granted)
    return seconds, statements, granted


def measure(name: str, engine: Engine, count: int) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    asks = prepare(engine, count, now)
    measured_at = budget_line.measured_at
    budget_line.measured_at = lambda connection, moment: moment  # one clock for both rounds, on either database
    try:
        for label, moment in (("first", now), ("steady", now + timedelta(seconds=1))):
            seconds, statements, granted = one_round(engine, asks, moment)
            print(f"{name}_{label}_round_seconds: {seconds:.3f}")
            print(f"{name}_{label}_round_statements: {statements}")
            print(f"{name}_{label}_round_granted: {granted}")
    finally:
        budget_line.measured_at = measured_at


if __name__ == "__main__":
    main(measure, __doc__)
