"""
Tests for pserv.client.events: ``pserv events [--follow]``.
"""

import json

import pytest_twisted

from tests.client.conftest import run, start
from pserv.testing.region_stub import event, page


@pytest_twisted.ensureDeferred
async def test_events_are_log_lines(api, stub, capsys):
    """events prints one line per event, oldest first, with the filters as query parameters."""
    stub.on("GET", "/api/v1/events", 200, page([event(1), event(2, "power on done")]))
    argv = ["events", "--node", "n1", "--since", "2025-01-01T00:00:00Z"]
    assert await run(argv, api) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("#2  n1  power.requested  power on done")
    assert stub.requests[0].query == {"node": "n1", "since": "2025-01-01T00:00:00Z"}


def test_follow_polls_after_the_last_id_until_interrupted(memory_api, stub, clock, capsys):
    """--follow prints what there is, then polls with after=<last id> every interval; a cancel ends it with 0."""
    stub.on("GET", "/api/v1/events", 200, page([event(1), event(2)]))
    stub.on("GET", "/api/v1/events", 200, page([event(3)]))
    stub.on("GET", "/api/v1/events", 200, page([]))
    d = start(["events", "--follow", "--node", "n1", "--interval", "5"], memory_api, clock)
    assert len(stub.requests) == 1
    clock.advance(5)
    clock.advance(5)
    d.cancel()
    assert d.result == 0 and clock.getDelayedCalls() == []
    assert [r.query for r in stub.requests] == [
        {"node": "n1"}, {"node": "n1", "after": "2"}, {"node": "n1", "after": "3"}]
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["#1", "#2", "#3"]


def test_follow_reads_a_full_page_at_once_and_json_is_lines(memory_api, stub, clock, capsys):
    """A page with a next link is followed without waiting; --json prints one event per line."""
    stub.on("GET", "/api/v1/events", 200, page([event(1)], "/api/v1/events?after=1"))
    stub.on("GET", "/api/v1/events", 200, page([event(2)]))
    d = start(["events", "--follow", "--json"], memory_api, clock)
    d.cancel()
    assert d.result == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [1, 2]
    assert stub.requests[1].query == {"after": "1"}


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
