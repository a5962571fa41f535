"""
Tests for pserv.region.peers: the messages regions tell each other, the
in-process hub the simulation uses, and LISTEN/NOTIFY with the leader's
advisory lock on a real PostgreSQL.
"""

import uuid

import pytest
import pytest_twisted
from sqlalchemy import create_engine, text
from twisted.internet import reactor, task
from twisted.internet.task import Clock

from pserv.region.db import Database, make_engine
from pserv.region.peers import MOST_PAYLOAD, Alone, Hub, PeerMessage, PostgresPeers
from tests.region.conftest import POSTGRES


def test_a_message_goes_through_its_payload_and_back():
    """encode and decode are inverse; a payload not of pserv's decodes to None."""
    message = PeerMessage("cancel", (4, 40), "rack-1", "region-a")
    assert PeerMessage.decode(message.encode()) == message
    assert PeerMessage.decode(PeerMessage("deliver", (1, 2, 3)).encode()) == PeerMessage("deliver", (1, 2, 3))
    for payload in ("", "a b c", "a shout - 1", "a deliver - x,1"):
        assert PeerMessage.decode(payload) is None


def test_a_long_message_is_split_to_fit_one_notify():
    """Many ids go in several payloads, each at most MOST_PAYLOAD bytes, in order."""
    message = PeerMessage("deliver", tuple(range(10**6, 10**6 + 5000)), "", "region-a")
    parts = message.split()
    assert len(parts) > 1 and all(len(p.encode()) <= MOST_PAYLOAD for p in parts)
    assert tuple(i for p in parts for i in p.ids) == message.ids


def test_alone_leads_until_it_stops_and_tells_nobody():
    """SQLite's one region leads from the start."""
    alone = Alone()
    assert alone.leads()
    alone.stop()
    assert not alone.leads()


def test_on_a_hub_the_first_member_leads_and_the_next_takes_over():
    """Messages reach the other members on the next turn; when the leader stops, the next member leads from then."""
    clock = Clock()
    hub = Hub(clock)
    heard = {"a": [], "b": []}
    a, b = hub.join(), hub.join()
    a.start("a", heard["a"].append)
    b.start("b", heard["b"].append)
    a.tell([PeerMessage("deliver", (7,))])
    assert heard["b"] == []
    clock.advance(0)
    assert heard == {"a": [], "b": [PeerMessage("deliver", (7,), "", "a")]}
    assert a.leads() and not b.leads()
    a.stop()
    assert b.leads()


@pytest.fixture
def schema_url():
    """A private schema of the PostgreSQL test database (its own channel and lock keys)."""
    name = f"pserv_peers_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


async def until(condition, seconds=15.0):
    """Wait on the real reactor (the listening threads are real) until ``condition()``; fail after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError("not within the time")


def regions(url, count):
    """``count`` regions' peers on ``url``, each publishing through a database pool of its own."""
    made = []
    for n in range(count):
        database = Database(make_engine(url), reactor)
        heard = []
        peers = PostgresPeers(url, reactor, database.run)
        peers.start(f"region-{n}", heard.append)
        made.append((peers, heard, database))
    return made


@pytest_twisted.ensureDeferred
async def test_postgres_regions_hear_each_other_and_one_leads(schema_url):
    """Over real PostgreSQL: one of two regions leads; each hears the other's messages, never its own; when the leader stops the other takes over."""
    made = regions(schema_url, 2)
    try:
        await until(lambda: sum(p.leads() for p, _, _ in made) == 1)
        (first, first_heard, _), (second, second_heard, _) = made
        await first.tell([PeerMessage("release", (3,), "rack-1")])
        await second.tell([PeerMessage("deliver", tuple(range(1, 3001)))])
        await until(lambda: second_heard and first_heard and sum(len(m.ids) for m in first_heard) == 3000)
        assert second_heard == [PeerMessage("release", (3,), "rack-1", "region-0")]
        assert {m.sender for m in first_heard} == {"region-1"}
        leader, follower = (first, second) if first.leads() else (second, first)
        leader.stop()
        await until(follower.leads)
    finally:
        for peers, _, database in made:
            peers.stop()
            database.stop()
            database.engine.dispose()


@pytest_twisted.ensureDeferred
async def test_another_schema_is_another_set_of_regions(schema_url):
    """Regions in two schemas of one database each have a leader, and hear nothing of the other's messages."""
    other = schema_url.rsplit("%3D", 1)[0] + "%3Dpublic"
    mine, theirs = regions(schema_url, 1), regions(other, 2)
    try:
        await until(lambda: mine[0][0].leads() and sum(p.leads() for p, _, _ in theirs) == 1)
        await mine[0][0].tell([PeerMessage("deliver", (1,))])
        await theirs[0][0].tell([PeerMessage("deliver", (2,))])
        # A listener gets notifications in commit order: had the first been
        # on their channel, it would have come before the second.
        await until(lambda: theirs[1][1])
        assert theirs[1][1] == [PeerMessage("deliver", (2,), "", "region-0")]
    finally:
        for peers, _, database in mine + theirs:
            peers.stop()
            database.stop()
            database.engine.dispose()
