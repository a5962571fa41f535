"""Tests for pserv.sim.database."""

from datetime import datetime
from random import Random

from sqlalchemy import select

from pserv.testing.power import HeapClock, advance_until_idle
from pserv.region import schema
from pserv.region.migrate import current_revision, head_revision
from pserv.sim.database import SimDatabase, fresh_engine
from pserv.sim.process import Process


def count_nodes(connection):
    return len(connection.execute(select(schema.nodes.c.id)).all())


def test_fresh_engines_hold_the_schema_and_nothing_else():
    """Each fresh engine is at the schema's head and shares no rows with another."""
    first, second = fresh_engine(), fresh_engine()
    assert current_revision(first) == head_revision()
    with first.begin() as connection:
        connection.execute(schema.tokens.insert().values(name="t", digest="d", role="admin", created_at=datetime(2027, 1, 1)))
    with second.connect() as connection:
        assert connection.execute(select(schema.tokens.c.id)).all() == []


def test_work_runs_in_order_on_the_clock():
    """Work runs one transaction at a time, in the order asked, and answers later on the clock."""
    clock = HeapClock()
    database = SimDatabase(fresh_engine(), Process("region#1", "10.0.0.1", clock).clock, Random(1))
    seen = []
    for i in range(3):
        database.run(lambda connection, i=i: i).addCallback(seen.append)
    assert seen == []
    advance_until_idle(clock, 1)
    assert seen == [0, 1, 2]


def test_a_dead_region_commits_nothing_more():
    """Work not yet run when the region dies never runs: its transaction never committed."""
    clock = HeapClock()
    process = Process("region#1", "10.0.0.1", clock)
    database = SimDatabase(fresh_engine(), process.clock, Random(1))
    ran = []
    database.run(lambda connection: ran.append(count_nodes(connection)))
    process.kill()
    advance_until_idle(clock, 1)
    assert ran == []
