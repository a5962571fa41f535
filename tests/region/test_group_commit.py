"""
Tests for pserv.region.group_commit: requests queued together commit
together, each refused alone, none answered before the commit.
"""

import pytest
import pytest_twisted
from sqlalchemy import create_engine, text
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults

from pserv.region.db import Database, make_engine
from pserv.region.errors import NotFound
from pserv.region.group_commit import GroupCommit


@pytest.fixture
def database(database_url):
    """A database with an empty table ``t`` of integers, dropped afterwards."""
    made = Database(make_engine(database_url), reactor)
    made.run_now(lambda c: c.execute(text("CREATE TABLE t (x INTEGER)")))
    yield made
    made.stop()
    made.run_now(lambda c: c.execute(text("DROP TABLE t")))
    made.engine.dispose()


def insert(connection, value):
    """One unit of work: insert ``value``, return it; refuse 13."""
    connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
    if value == 13:
        raise NotFound("thirteen", "x")
    return value


def rows(database):
    return sorted(database.run_now(lambda c: [r[0] for r in c.execute(text("SELECT x FROM t"))]))


@pytest_twisted.ensureDeferred
async def test_requests_queued_together_commit_in_one_transaction(database):
    """Twenty requests queued at once make a batch per free connection and one more, each with its own result."""
    results = await gatherResults([database.run_grouped(insert, n) for n in range(100, 120)])
    assert results == list(range(100, 120)) and rows(database) == list(range(100, 120))
    assert database.grouped.batches <= database.grouped.concurrency + 1


@pytest_twisted.ensureDeferred
async def test_a_refused_request_undoes_only_its_own_writes(database):
    """The store's refusal of one request rolls back its savepoint; its neighbours commit."""
    answers = [database.run_grouped(insert, n) for n in (12, 13, 14)]
    assert await answers[0] == 12 and await answers[2] == 14
    with pytest.raises(NotFound) as refused:
        await answers[1]
    assert refused.value.message == "thirteen" and rows(database) == [12, 14]


@pytest_twisted.ensureDeferred
async def test_an_answer_comes_only_after_the_commit(database, database_url):
    """When a request's Deferred fires, another connection already sees its write."""
    seen = []

    def look(value):
        other = create_engine(database_url)
        with other.connect() as connection:
            seen.append((value, [r[0] for r in connection.execute(text("SELECT x FROM t"))]))
        other.dispose()
        return value

    await gatherResults([database.run_grouped(insert, n).addCallback(look) for n in (1, 2)])
    assert len(seen) == 2 and all(value in visible for value, visible in seen)


def test_a_failed_commit_fails_every_request_of_the_batch():
    """If the batch's transaction fails, every request in it fails, and the queue goes on."""

    class Broken:
        def __init__(self):
            self.answers = []

        def run(self, work, items):
            self.answers.append(Deferred())
            return self.answers[-1]

    broken = Broken()
    grouped = GroupCommit(broken, concurrency=1)
    first = grouped.run(insert, 1)
    second, third = grouped.run(insert, 2), grouped.run(insert, 3)
    errors = []
    for answer in (first, second, third):
        answer.addErrback(lambda f: errors.append(f.value))
    broken.answers[0].callback([(True, 1)])
    assert first.result == 1 and len(broken.answers) == 2
    broken.answers[1].errback(RuntimeError("disk full"))
    assert [str(e) for e in errors] == ["disk full", "disk full"]
    assert grouped.running == 0 and grouped.queue == []


def test_batches_are_limited_in_size_and_in_number():
    """No more than ``concurrency`` batches run at once, each of at most ``limit`` requests."""

    class Held:
        def __init__(self):
            self.batches = []

        def run(self, work, items):
            self.batches.append(len(items))
            return Deferred()

    held = Held()
    grouped = GroupCommit(held, concurrency=2, limit=3)
    for n in range(10):
        grouped.run(insert, n)
    assert held.batches == [1, 1] and len(grouped.queue) == 8
