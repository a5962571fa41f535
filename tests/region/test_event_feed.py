"""
Tests for pserv.region.event_feed: the poller on a ``Clock``, its reads
answered by hand (a database whose every ``run`` is a Deferred the test
fires), and once against the real databases.
"""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from pserv.region.db import Database
from pserv.region.event_feed import (
    BATCH, HOLD_SECONDS, POLL_SECONDS, EventFeed, StoredEvent, stored_event, stored_events_after,
)
from pserv.region.store.common import add_event
from pserv.region.store.events import events_after, newest_event_id


class Reads:
    """A database whose reads wait for the test: each ``run`` is recorded with its Deferred."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, Deferred]] = []

    def run(self, work, *args, **kwargs) -> Deferred:
        answer = Deferred()
        self.calls.append((work.__name__, args, answer))
        return answer

    @property
    def running(self) -> list[tuple[str, tuple, Deferred]]:
        """The reads not answered yet."""
        return [call for call in self.calls if not call[2].called]

    def answer(self, result) -> tuple[str, tuple]:
        """Answer the one read running with ``result``; what it was."""
        (work, args, answer), = self.running
        answer.callback(result)
        return work, args


class Listening:
    """A listener that keeps what it is handed."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.closed = False

    def deliver(self, batch) -> None:
        self.batches.append([event.id for event in batch])

    def close(self) -> None:
        self.closed = True


def event(id: int, node: int | None = None) -> StoredEvent:
    """An event as a read of the feed's answers it."""
    return stored_event({"id": id, "at": "2026-11-22T12:00:00.000Z", "node": node, "node_name": None,
                         "action": None, "kind": "note", "message": f"event {id}"})


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def reads():
    return Reads()


@pytest.fixture
def feed(reads, clock):
    return EventFeed(reads, clock)


def started(feed, reads, newest: int = 10) -> Listening:
    """A listener subscribed to a feed that has read the newest id, ``newest``."""
    listener = Listening()
    subscribed = feed.subscribe(listener)
    assert reads.answer(newest) == ("newest_event_id", ())
    assert subscribed.result == newest
    return listener


def test_nothing_is_read_until_someone_listens(feed, reads, clock):
    """A feed nobody listens to reads nothing, however long it waits."""
    clock.advance(60)
    assert reads.calls == [] and not feed.polling and feed.horizon is None


def test_the_first_listener_starts_at_the_newest_event_then_polls_each_quarter_second(feed, reads, clock):
    """Subscribing reads the newest id at once; then new events are read after the horizon every 0.25 s."""
    listener = started(feed, reads, 10)
    assert feed.horizon == 10 and reads.running == []
    clock.advance(POLL_SECONDS)
    assert reads.answer([event(11), event(12)]) == ("stored_events_after", (10, BATCH))
    assert listener.batches == [[11, 12]] and feed.horizon == 12
    clock.advance(POLL_SECONDS)
    assert reads.answer([]) == ("stored_events_after", (12, BATCH))
    assert listener.batches == [[11, 12]]


def test_every_listener_gets_each_batch(feed, reads, clock):
    """A batch is handed to every listener; a later listener starts at the horizon, at once."""
    first = started(feed, reads)
    second = Listening()
    assert feed.subscribe(second).result == 10 and reads.running == []
    clock.advance(POLL_SECONDS)
    reads.answer([event(11)])
    assert first.batches == second.batches == [[11]] and feed.listeners == [first, second]


def test_polls_never_overlap(feed, reads, clock):
    """While a read runs no other starts, however far the clock goes; the next is 0.25 s after it ends."""
    started(feed, reads)
    clock.advance(POLL_SECONDS)
    clock.advance(10)
    assert len(reads.running) == 1
    feed.subscribe(Listening())
    assert len(reads.running) == 1
    reads.answer([])
    assert feed.next_poll.getTime() == clock.seconds() + POLL_SECONDS


def test_a_full_batch_is_followed_at_once(reads, clock):
    """When a read comes back full, the next one is due at once, not 0.25 s later."""
    feed = EventFeed(reads, clock, batch=2)
    listener = started(feed, reads)
    clock.advance(POLL_SECONDS)
    reads.answer([event(11), event(12)])
    assert feed.next_poll.getTime() == clock.seconds()
    clock.advance(0)
    assert reads.answer([event(13)]) == ("stored_events_after", (12, 2))
    assert listener.batches == [[11, 12], [13]]


def test_a_failing_poll_is_logged_and_tried_again(feed, reads, clock, logged):
    """A read that fails is logged; the feed goes on and the next read, from the same horizon, delivers."""
    listener = started(feed, reads)
    clock.advance(POLL_SECONDS)
    reads.running[0][2].errback(RuntimeError("database went away"))
    assert any("reading new events failed" in str(e.get("log_format")) for e in logged)
    clock.advance(POLL_SECONDS)
    assert reads.answer([event(11)]) == ("stored_events_after", (10, BATCH))
    assert listener.batches == [[11]]


def test_a_failing_start_is_tried_again(feed, reads, clock, logged):
    """When reading the newest id fails, the listener waits; the next tick reads it again."""
    listener = Listening()
    subscribed = feed.subscribe(listener)
    reads.running[0][2].errback(RuntimeError("no database yet"))
    assert not subscribed.called
    clock.advance(POLL_SECONDS)
    assert reads.answer(7) == ("newest_event_id", ())
    assert subscribed.result == 7


def test_a_listener_that_fails_does_not_stop_the_others(feed, reads, clock, logged):
    """A listener raising is logged; the others still get the batch and the feed goes on."""
    class Broken(Listening):
        def deliver(self, batch):
            raise RuntimeError("broken")

    feed.subscribe(Broken())
    healthy = started(feed, reads)
    clock.advance(POLL_SECONDS)
    reads.answer([event(11)])
    assert healthy.batches == [[11]] and feed.next_poll is not None
    assert any("failed to take" in str(e.get("log_format")) for e in logged)


def test_polling_stops_when_nobody_listens(feed, reads, clock):
    """When the last listener leaves, nothing more is read and the horizon is forgotten."""
    listener = started(feed, reads)
    feed.unsubscribe(listener)
    clock.advance(60)
    assert reads.running == [] and clock.getDelayedCalls() == [] and feed.horizon is None
    assert not feed.polling


def test_a_read_running_when_the_last_listener_leaves_ends_the_polling(feed, reads, clock):
    """A read that ends after everyone left schedules nothing; the next listener starts from the newest again."""
    listener = started(feed, reads)
    clock.advance(POLL_SECONDS)
    feed.unsubscribe(listener)
    reads.answer([event(11)])
    assert listener.batches == [] and clock.getDelayedCalls() == [] and feed.horizon is None
    again = started(feed, reads, 20)
    assert feed.horizon == 20 and again.batches == []


def test_a_listener_joining_while_a_read_runs_gets_its_batch(feed, reads, clock):
    """Joining while the last read runs (the others gone) starts at the horizon that read continues from."""
    first = started(feed, reads)
    clock.advance(POLL_SECONDS)
    feed.unsubscribe(first)
    second = Listening()
    assert feed.subscribe(second).result == 10
    reads.answer([event(11)])
    assert second.batches == [[11]] and feed.next_poll is not None


def test_a_missing_id_is_waited_for(feed, reads, clock):
    """An id not yet committed holds the later ones back; when it appears they come in order."""
    listener = started(feed, reads)
    clock.advance(POLL_SECONDS)
    reads.answer([event(11), event(13)])
    assert listener.batches == [[11]] and feed.horizon == 11
    clock.advance(POLL_SECONDS)
    reads.answer([event(13)])
    assert listener.batches == [[11]]
    clock.advance(POLL_SECONDS)
    assert reads.answer([event(12), event(13)]) == ("stored_events_after", (11, BATCH))
    assert listener.batches == [[11], [12, 13]] and feed.horizon == 13


def test_a_missing_id_is_passed_after_the_hold(feed, reads, clock, logged):
    """An id missing for HOLD_SECONDS was rolled back: the events after it are handed out, and that logged."""
    listener = started(feed, reads)
    clock.advance(POLL_SECONDS)
    reads.answer([event(12)])
    for _ in range(int(HOLD_SECONDS / POLL_SECONDS) - 1):
        clock.advance(POLL_SECONDS)
        reads.answer([event(12)])
        assert listener.batches == []
    clock.advance(POLL_SECONDS)
    reads.answer([event(12), event(14)])
    assert listener.batches == [[12]] and feed.horizon == 12
    assert any("never appeared" in str(e.get("log_format")) for e in logged)


def test_an_empty_log_takes_any_first_id(feed, reads, clock):
    """From an empty log (horizon 0) the first event may have any id: a sequence need not start at 1."""
    listener = started(feed, reads, 0)
    clock.advance(POLL_SECONDS)
    reads.answer([event(57), event(58)])
    assert listener.batches == [[57, 58]]


def test_stopping_closes_every_listener(feed, reads, clock):
    """stop() closes each listener, answers those still waiting to start, and polls no more."""
    listener = started(feed, reads)
    waiting = Listening()
    feed.subscribe(waiting)
    other = EventFeed(reads, clock)
    late = other.subscribe(Listening())
    other.stop()
    feed.stop()
    assert listener.closed and waiting.closed and late.called
    assert feed.listeners == [] and clock.getDelayedCalls() == []


def test_an_event_is_encoded_once():
    """A stored event carries its JSON text, compact, for every stream to send as it is."""
    stored = event(5, node=2)
    assert (stored.id, stored.node) == (5, 2) and stored.data.startswith(b'{"id":5,"at":')
    assert json.loads(stored.data) == stored.json


@pytest_twisted.ensureDeferred
async def test_events_stored_reach_a_listener_from_the_real_database(engine, moments):
    """Against SQLite and PostgreSQL, events committed after the start are handed out in order, once."""
    database = Database(engine, reactor)
    clock = Clock()
    feed = EventFeed(database, clock)
    try:
        database.run_now(add_event, moments(), "note", "before")

        class Waiting(Listening):
            def deliver(self, batch):
                super().deliver(batch)
                arrived.callback(None)

        listener = Waiting()
        horizon = await feed.subscribe(listener)
        assert horizon == database.run_now(newest_event_id)
        for text in ("one", "two"):
            database.run_now(add_event, moments(1), "note", text)
        arrived = Deferred()
        clock.advance(POLL_SECONDS)
        await arrived
        stored = database.run_now(stored_events_after, horizon, 10)
        assert listener.batches == [[e.id for e in stored]] and len(stored) == 2
        assert [e.json for e in stored] == database.run_now(events_after, horizon, 10)
    finally:
        feed.stop()
        database.stop()
