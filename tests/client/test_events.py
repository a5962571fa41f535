"""
Tests for pserv.client.events: ``pserv events [--follow]``, the stream
read from the stub region in memory (StubTreq) on a ``Clock``.
"""

import json

import pytest_twisted

from pserv.client.errors import UnreachableError
from pserv.client.events import SILENCE
from pserv.testing.region_stub import event, page
from tests.client.conftest import run, start


@pytest_twisted.ensureDeferred
async def test_events_are_log_lines(api, stub, capsys):
    """events prints one line per event, oldest first, with the filters as query parameters."""
    stub.on("GET", "/api/v1/events", 200, page([event(1), event(2, "power on done")]))
    argv = ["events", "--node", "n1", "--since", "2025-01-01T00:00:00Z"]
    assert await run(argv, api) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("#2  n1  power.requested  power on done")
    assert stub.requests[0].query == {"node": "n1", "since": "2025-01-01T00:00:00Z"}


STREAM = "/api/v1/events/stream"


def lines(capsys) -> tuple[list[str], list[str]]:
    """What was printed since last asked: stdout's and stderr's lines."""
    out, err = capsys.readouterr()
    return out.splitlines(), err.splitlines()


def test_follow_prints_each_event_as_it_comes_until_interrupted(memory_api, memory_http, stub, clock, capsys):
    """--follow reads the stream from the log's start, one line per event as it comes; a cancel ends it with 0, closed."""
    stub.on_stream(STREAM, event(1), event(2))
    d = start(["events", "--follow", "--node", "n1"], memory_api, clock)
    memory_http.flush()
    assert [line.split()[1] for line in lines(capsys)[0]] == ["#1", "#2"]
    stub.streams[0].send(event(3, "power on done"))
    memory_http.flush()
    assert lines(capsys)[0][0].endswith("#3  n1  power.requested  power on done")
    d.cancel()
    memory_http.flush()
    assert d.result == 0 and clock.getDelayedCalls() == [] and stub.streams[0].gone
    assert [(r.query, r.last_event_id) for r in stub.requests] == [({"node": "n1", "after": "0"}, None)]


def test_follow_starts_after_and_since_as_asked_and_json_is_lines(memory_api, memory_http, stub, clock, capsys):
    """--after and --since are the stream's; with --json each event is one line of JSON."""
    stub.on_stream(STREAM, event(8), event(9))
    d = start(["events", "--follow", "--after", "7", "--since", "2025-01-01T00:00:00Z", "--json"], memory_api, clock)
    memory_http.flush()
    d.cancel()
    assert d.result == 0
    assert [json.loads(line)["id"] for line in lines(capsys)[0]] == [8, 9]
    assert stub.requests[0].query == {"after": "7", "since": "2025-01-01T00:00:00Z"}


def test_a_dropped_stream_is_resumed_with_last_event_id_after_a_wait(memory_api, memory_http, stub, clock, capsys):
    """When the connection drops, the client waits 2 s on its clock and reconnects with Last-Event-ID: nothing lost."""
    stub.on_stream(STREAM, event(1), event(2))
    stub.on_stream(STREAM, event(3))
    d = start(["events", "--follow"], memory_api, clock)
    memory_http.flush()
    stub.streams[0].drop()
    memory_http.flush()
    out, err = lines(capsys)
    assert err == ["pserv: warning: the connection to http://region.test was lost mid-stream; reconnecting in 2 s"]
    clock.advance(1.9)
    assert len(stub.requests) == 1
    clock.advance(0.1)
    memory_http.flush()
    assert [(r.query, r.last_event_id) for r in stub.requests] == [({"after": "0"}, None), ({"after": "0"}, "2")]
    stub.streams[1].end()
    memory_http.flush()
    out, err = lines(capsys)
    assert err == ["pserv: warning: the region ended the stream; reconnecting in 2 s"]
    clock.advance(2)
    memory_http.flush()
    assert stub.requests[-1].last_event_id == "3"
    d.cancel()
    assert d.result == 0


def test_a_silent_stream_is_taken_for_dropped(memory_api, memory_http, stub, clock, capsys):
    """A stream that sends nothing, not even a keep-alive, for 45 s is closed and opened again."""
    stub.on_stream(STREAM, event(1))
    d = start(["events", "--follow"], memory_api, clock)
    memory_http.flush()
    clock.advance(SILENCE - 1)
    stub.streams[0].write(b": keep-alive\n\n")
    memory_http.flush()
    clock.advance(SILENCE - 1)
    assert not stub.streams[0].gone
    clock.advance(1)
    memory_http.flush()
    assert stub.streams[0].gone
    assert lines(capsys)[1] == [f"pserv: warning: nothing came from http://region.test in {SILENCE:g} s; "
                                "reconnecting in 2 s"]
    clock.advance(2)
    memory_http.flush()
    assert [r.last_event_id for r in stub.requests] == [None, "1"]
    d.cancel()


class Unreachable:
    """A region that never answers: every stream fails at once."""

    def __init__(self):
        self.opened = []

    async def stream(self, path, params, receive, *, headers=None, idle=None):
        self.opened.append(headers)
        raise UnreachableError("cannot reach http://region.test: connection refused")


def test_reconnecting_backs_off_to_a_bound(clock, capsys):
    """While the region cannot be reached the waits double from 2 s up to 30 s, on the clock."""
    region = Unreachable()
    d = start(["events", "--follow"], region, clock)
    waits = []
    for _ in range(7):
        (call,) = clock.getDelayedCalls()
        waits.append(call.getTime() - clock.seconds())
        clock.advance(waits[-1])
    assert waits == [2, 4, 8, 16, 30, 30, 30] and len(region.opened) == 8
    assert all(line.endswith(f"reconnecting in {w:g} s") for line, w in zip(lines(capsys)[1], waits))
    d.cancel()
    assert d.result == 0


def test_a_refusal_ends_follow(memory_api, memory_http, stub, clock, capsys):
    """An unknown node (404) ends --follow with 2 and the region's error; nothing is retried."""
    stub.on("GET", STREAM, 404, {"error": "no node 'n9'", "field": "node"})
    d = start(["events", "--follow", "--node", "n9"], memory_api, clock)
    memory_http.flush()
    assert d.result == 2 and len(stub.requests) == 1
    assert lines(capsys)[1] == ["pserv: error: node: no node 'n9'"]


def test_an_event_that_is_not_json_ends_follow(memory_api, memory_http, stub, clock, capsys):
    """A stream event whose data is not JSON is not a pserv region's: exit 1, saying so."""
    stub.on_stream(STREAM)
    d = start(["events", "--follow"], memory_api, clock)
    memory_http.flush()
    stub.streams[0].write(b"id: 4\nevent: event\ndata: {not json\n\n")
    memory_http.flush()
    assert d.result == 1 and stub.streams[0].gone
    assert "not JSON (id 4)" in lines(capsys)[1][0]


def test_limit_is_not_for_follow(memory_api, stub, clock, capsys):
    """--limit with --follow is a usage error: exit 2, nothing requested."""
    assert start(["events", "--follow", "--limit", "3"], memory_api, clock).result == 2
    assert stub.requests == [] and "--limit: not with --follow" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_newest_first_and_where_to_go_on(api, stub, capsys):
    """--order desc asks for newest first; cut short by --limit, it says --before shows the rest."""
    stub.on("GET", "/api/v1/events", 200, page([event(9), event(8)], "/api/v1/events?order=desc&before=8&limit=2"))
    assert await run(["events", "--order", "desc", "--limit", "2", "--before", "10"], api) == 0
    out, err = capsys.readouterr()
    assert [line.split()[1] for line in out.splitlines()] == ["#9", "#8"] and err == "pserv: more: add --before 8\n"
    assert stub.requests[0].query == {"order": "desc", "before": "10", "limit": "2"}


def test_newest_first_is_not_for_follow(memory_api, stub, clock, capsys):
    """--order desc or --before with --follow is a usage error: exit 2, nothing requested."""
    assert start(["events", "--follow", "--order", "desc"], memory_api, clock).result == 2
    assert start(["events", "--follow", "--before", "5"], memory_api, clock).result == 2
    err = capsys.readouterr().err
    assert stub.requests == [] and "--order desc: not with --follow" in err and "--before: not with --follow" in err
