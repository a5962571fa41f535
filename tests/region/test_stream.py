"""
Tests for pserv.region.stream: ``GET /api/v1/events/stream`` over real TCP
(the region's Site on a loopback port, read with treq's streaming
``collect``), its feed polled on the region's ``Clock``, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import pytest_twisted
import treq
from twisted.internet.defer import Deferred

from pserv.region import stream as stream_module
from pserv.region.event_feed import BATCH, POLL_SECONDS, stored_event, stored_events_after
from pserv.region.roles import Role
from pserv.region.store.common import add_event, add_events, event_row
from pserv.region.store.events import events_after
from pserv.region.store.nodes import create_node
from pserv.region.store.sessions import end_session
from pserv.region.store.tokens import revoke_token
from pserv.region.stream import KEEP_ALIVE_SECONDS, STREAM, coalesced
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.region.contract import Answer, check

HEADERS = {"content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no"}


class Reader:
    """A stream's messages, parsed as they come: each a dict of its fields (a comment's text under ``""``)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.messages: list[dict[str, str]] = []
        self.hang_up = False
        self.ended: list = []
        self._waiting: list[tuple[int, Deferred]] = []
        self._ending: list[Deferred] = []

    def end(self, result) -> None:
        """The body ended: ``None``, or the Failure that ended it."""
        self.ended.append(None if result is None else result.value)
        for waiting in self._ending:
            waiting.callback(self.ended[-1])

    def gone(self) -> Deferred:
        """Fires with how the body ended (``None``, or the exception), once it has."""
        waiting = Deferred()
        self._ending.append(waiting)
        if self.ended:
            self._ending.remove(waiting)
            waiting.callback(self.ended[-1])
        return waiting

    def collect(self, data: bytes) -> None:
        if self.hang_up:
            raise ConnectionAbortedError("the test hangs up")
        self.buffer += data
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().split("\n"):
                name, _, value = line.partition(": ")
                fields[name] = value
            self.messages.append(fields)
        for count, waiting in list(self._waiting):
            if len(self.messages) >= count:
                self._waiting.remove((count, waiting))
                waiting.callback(self.messages[:count])

    def until(self, count: int) -> Deferred:
        """Fires with the first ``count`` messages once they have come."""
        waiting = Deferred()
        self._waiting.append((count, waiting))
        self.collect(b"")
        return waiting

    @property
    def events(self) -> list[dict]:
        """The events received, as JSON."""
        return [json.loads(m["data"]) for m in self.messages if m.get("event") == "event"]


class Opened:
    """A stream opened by a test: the response and its reader."""

    def __init__(self, response, reader: Reader) -> None:
        self.response, self.reader = response, reader
        treq.collect(response, reader.collect).addBoth(reader.end)

    def header(self, name: str) -> str | None:
        values = self.response.headers.getRawHeaders(name)
        return values[0] if values else None


@pytest.fixture
def region(served):
    """The served region, with a viewer's token made before any test's events."""
    served.viewer = served.token(Role.VIEWER)
    return served


async def open_stream(served, params: dict | None = None, headers: dict | None = None,
                      token: str | None = "viewer") -> Opened:
    """Open the stream with the viewer's token (or ``headers`` alone), once it is subscribed (``retry`` came)."""
    sent = dict(headers or {})
    token = served.viewer if token == "viewer" else token
    if token is not None:
        sent["Authorization"] = [f"Bearer {token}"]
    response = await treq.get(served.base + STREAM, params=params, headers=sent, unbuffered=True)
    check("GET", STREAM, Answer(response.code, response.headers, None))
    reader = Reader()
    opened = Opened(response, reader)
    assert (await reader.until(1)) == [{"retry": "2000"}]
    return opened


def store(served, *messages: str, node=None) -> list[int]:
    """Store events now (committed); their ids."""
    for text in messages:
        served.database.run_now(add_event, served.api.now(), "note", text, node)
    return every_id(served)[-len(messages):]


def every_id(served) -> list[int]:
    """The ids of every event stored."""
    return [e["id"] for e in served.database.run_now(events_after, 0, 10_000)]


def poll(served, seconds: float = POLL_SECONDS) -> None:
    """Let the feed's next poll run (one is scheduled: none is running)."""
    assert served.api.feed.next_poll is not None, "a poll is still running"
    served.clock.advance(seconds)


def enrol(served, name: str) -> SimpleNamespace:
    """A new node, with its id and name as attributes (as store events take a node)."""
    body = {"name": name, "power_type": "fake", "power_parameters": {"address": name}}
    node = served.database.run_now(create_node, body, served.api.now(), power_types=POWER_TYPES_WITH_FAKE)
    return SimpleNamespace(id=node["id"], name=node["name"])


async def hang_up(served, opened: Opened) -> int:
    """
    Close the client's side when the next event comes (the collector
    raises), store one, and wait for the region to see the client go.

    :returns: the id of that event, which the client never took.
    """
    stream = served.api.feed.listeners[-1]
    opened.reader.hang_up = True
    (last,) = store(served, "hanging up")
    poll(served)
    await stream.ended
    assert isinstance(await opened.reader.gone(), ConnectionAbortedError)
    return last


@pytest_twisted.ensureDeferred
async def test_new_events_arrive_as_they_are_stored(region):
    """A stream from now sends only the events stored after it opened, each as id, event and the Event JSON."""
    store(region, "before")
    opened = await open_stream(region)
    assert {name: opened.header(name) for name in HEADERS} == HEADERS
    ids = store(region, "one", "two")
    poll(region)
    messages = await opened.reader.until(3)
    assert [(m["id"], m["event"]) for m in messages[1:]] == [(str(i), "event") for i in ids]
    assert opened.reader.events == region.database.run_now(events_after, ids[0] - 1, 10)
    more = store(region, "three")
    poll(region)
    assert [json.loads(m["data"])["id"] for m in (await opened.reader.until(4))[3:]] == more


@pytest_twisted.ensureDeferred
async def test_the_backlog_comes_first_in_pages_then_live_events(region, monkeypatch):
    """after=0 sends the whole log, a page at a time, then what is stored later, each event once."""
    monkeypatch.setattr(stream_module, "PAGE", 2)
    pages = []

    def read(connection, after, limit, **narrowing):
        pages.append((after, limit))
        return stored_events_after(connection, after, limit, **narrowing)

    monkeypatch.setattr(stream_module, "stored_events_after", read)
    store(region, "a", "b", "c", "d", "e")
    opened = await open_stream(region, {"after": "0"})
    await opened.reader.until(7)
    store(region, "f")
    poll(region)
    await opened.reader.until(8)
    every = every_id(region)
    assert [e["id"] for e in opened.reader.events] == every
    assert pages == [(0, 2), (every[1], 2), (every[3], 2)]


@pytest_twisted.ensureDeferred
async def test_a_resume_with_last_event_id_loses_nothing(region):
    """Reconnecting with Last-Event-ID sends what was stored while away, then new events: none lost, none twice."""
    opened = await open_stream(region)
    first = store(region, "one", "two")
    poll(region)
    await opened.reader.until(3)
    untaken = await hang_up(region, opened)
    assert region.api.feed.listeners == [] and not region.api.feed.polling
    away = store(region, "three", "four")
    again = await open_stream(region, {"after": "1"}, {"Last-Event-ID": [opened.reader.messages[-1]["id"]]})
    await again.reader.until(4)
    later = store(region, "five")
    poll(region)
    await again.reader.until(5)
    assert [e["id"] for e in opened.reader.events + again.reader.events] == first + [untaken] + away + later


@pytest_twisted.ensureDeferred
async def test_events_stored_while_the_backlog_is_read_are_sent_once(region, monkeypatch):
    """Batches that come while the backlog is still being read are read back, in order, none twice."""
    monkeypatch.setattr(stream_module, "PAGE", 1)
    store(region, "a", "b")
    live = await open_stream(region)
    opened = await open_stream(region, {"after": "0"})
    new = store(region, "c", "d")
    poll(region)
    await opened.reader.until(6)
    await live.reader.until(3)
    assert [e["id"] for e in opened.reader.events] == every_id(region)
    assert [e["id"] for e in live.reader.events] == new


@pytest_twisted.ensureDeferred
async def test_the_node_filter_takes_an_id_or_a_name(region):
    """node= (id or name) sends only that node's events, in the backlog and live."""
    one, two = enrol(region, "n1"), enrol(region, "n2")
    by_name = await open_stream(region, {"node": "n1", "after": "0"})
    by_id = await open_stream(region, {"node": str(one.id)})
    store(region, "for two", node=two)
    mine = store(region, "for one", node=one)
    poll(region)
    await by_id.reader.until(2)
    await by_name.reader.until(3)
    assert [(e["kind"], e["node"]) for e in by_name.reader.events] == [("node_created", one.id), ("note", one.id)]
    assert [e["id"] for e in by_id.reader.events] == mine


@pytest_twisted.ensureDeferred
async def test_since_narrows_the_backlog(region):
    """since= leaves out the events stored before it."""
    store(region, "old")
    region.clock.advance(60)
    mark = region.api.now().isoformat() + "Z"
    new = store(region, "new")
    opened = await open_stream(region, {"after": "0", "since": mark})
    await opened.reader.until(2)
    assert [e["id"] for e in opened.reader.events] == new


@pytest_twisted.ensureDeferred
async def test_refusals_come_before_the_stream_as_json(region):
    """An unknown node is 404, a bad after or Last-Event-ID 400 naming it, a bad coalesce 400: all JSON."""
    api = region.client(region.viewer)
    missing = await api.call("GET", STREAM, params={"node": "nobody"})
    assert (missing.status, missing.body["field"]) == (404, "node")
    for params, headers, field in [({"after": "-1"}, {}, "after"), ({"coalesce": "all"}, {}, "coalesce"),
                                   ({}, {"Last-Event-ID": ["x"]}, "Last-Event-ID")]:
        api.headers = headers
        refused = await api.call("GET", STREAM, params=params)
        assert (refused.status, refused.body["field"]) == (400, field), refused


@pytest_twisted.ensureDeferred
async def test_coalesce_node_sends_one_message_for_a_burst_of_one_node(region):
    """coalesce=node turns a batch of 1,000 events of one node into one message, its newest."""
    node = enrol(region, "n1")
    opened = await open_stream(region, {"coalesce": "node"})
    now = region.api.now()
    region.database.run_now(add_events, [event_row(now, "note", f"burst {i}", node) for i in range(BATCH)])
    poll(region)
    await opened.reader.until(2)
    after = store(region, "after the burst")
    poll(region, 0)
    await opened.reader.until(3)
    assert [e["message"] for e in opened.reader.events] == [f"burst {BATCH - 1}", "after the burst"]
    assert opened.reader.messages[1]["id"] == str(after[0] - 1)


def test_coalescing_keeps_each_nodes_newest_and_every_event_without_a_node():
    """Of a batch, coalesced keeps the newest event of each node, and all without one, in order."""
    events = [stored_event({"id": i, "node": node}) for i, node in enumerate([1, None, 2, 1, None, 2, 1], 1)]
    assert [e.id for e in coalesced(events)] == [2, 5, 6, 7]


@pytest_twisted.ensureDeferred
async def test_a_coalesced_backlog_keeps_each_nodes_newest(region):
    """A coalesced resume sends each node's newest event after the id, and the last id is the log's newest."""
    one, two = enrol(region, "n1"), enrol(region, "n2")
    ids = [store(region, f"{node.name} {i}", node=node)[0] for i in range(3) for node in (one, two)]
    opened = await open_stream(region, {"coalesce": "node", "after": str(ids[0])})
    await opened.reader.until(3)
    assert [e["message"] for e in opened.reader.events] == ["n1 2", "n2 2"]
    assert opened.reader.messages[-1]["id"] == str(ids[-1])


@pytest_twisted.ensureDeferred
async def test_a_session_cookie_is_accepted_and_no_credential_is_401(region):
    """A viewer's session cookie opens the stream; without a credential it is a JSON 401 with WWW-Authenticate."""
    session = region.session(Role.VIEWER)
    opened = await open_stream(region, headers=session.headers(csrf=False), token=None)
    assert opened.header("content-type") == "text/event-stream"
    refused = await region.client().call("GET", STREAM)
    assert refused.status == 401 and refused.body["error"] and refused.header("WWW-Authenticate")
    assert refused.header("content-type") == "application/json"


@pytest_twisted.ensureDeferred
async def test_a_quiet_stream_sends_keep_alives(region):
    """Every 15 s of the clock a quiet stream sends the comment ': keep-alive'."""
    opened = await open_stream(region)
    region.clock.advance(KEEP_ALIVE_SECONDS)
    assert (await opened.reader.until(2))[1] == {"": "keep-alive"}


@pytest_twisted.ensureDeferred
async def test_a_revoked_token_or_an_ended_session_ends_its_stream_at_the_next_keep_alive(region):
    """Each keep-alive asks again: once the token is revoked, or the session ended, the stream ends cleanly."""
    token = region.token(Role.VIEWER, "revoked-soon")
    by_token = await open_stream(region, token=token)
    session = region.session(Role.VIEWER)
    by_session = await open_stream(region, headers=session.headers(csrf=False), token=None)
    kept = await open_stream(region)
    region.database.run_now(revoke_token, "revoked-soon", region.api.now())
    region.database.run_now(end_session, session.cookie, region.api.now())
    region.clock.advance(KEEP_ALIVE_SECONDS)
    assert (await by_token.reader.gone(), await by_session.reader.gone()) == (None, None)
    assert {"": "keep-alive"} in by_token.reader.messages
    assert len(region.api.feed.listeners) == 1 and not kept.reader.ended


@pytest_twisted.ensureDeferred
async def test_the_subscriber_leaves_when_the_client_goes_and_polling_stops(region, monkeypatch):
    """A client that disconnects is unsubscribed; with nobody listening the feed reads nothing more."""
    opened = await open_stream(region)
    assert len(region.api.feed.listeners) == 1 and region.api.feed.polling
    await hang_up(region, opened)
    assert region.api.feed.listeners == [] and not region.api.feed.polling
    reads = []
    monkeypatch.setattr(region.database, "run", lambda *a, **k: reads.append(a))
    region.clock.advance(60)
    assert reads == [] and region.clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_a_paused_client_is_caught_up_from_the_database(region):
    """While the client's connection is full nothing is written; once it drains, what came meanwhile follows in order."""
    opened = await open_stream(region)
    witness = await open_stream(region)
    stream = region.api.feed.listeners[0]
    stream.pauseProducing()
    ids = store(region, "one", "two")
    poll(region)
    await witness.reader.until(3)
    more = store(region, "three")
    poll(region)
    await witness.reader.until(4)
    assert len(opened.reader.messages) == 1 and not stream.live
    stream.resumeProducing()
    await opened.reader.until(4)
    assert [e["id"] for e in opened.reader.events] == ids + more and stream.live


@pytest_twisted.ensureDeferred
async def test_stopping_the_feed_ends_every_stream(region):
    """When the region stops, each stream's response ends cleanly."""
    opened = await open_stream(region)
    region.api.feed.stop()
    assert (await opened.reader.gone()) is None
    assert region.api.feed.listeners == []


@pytest_twisted.ensureDeferred
async def test_head_answers_the_headers_alone(region):
    """HEAD gets the stream's headers and ends at once."""
    response = await treq.head(region.base + STREAM, headers={"Authorization": [f"Bearer {region.viewer}"]})
    assert response.code == 200 and response.headers.getRawHeaders("content-type") == ["text/event-stream"]
    assert region.api.feed.listeners == []
