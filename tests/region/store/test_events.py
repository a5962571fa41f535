"""
Tests for pserv.region.store.events, on SQLite and PostgreSQL.
"""

from pserv.region.store.actions import request_power
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_every_request_is_recorded(run, moments):
    """Enrolment, requests, coalescing and superseding all reach the audit log, in order."""
    run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n", "password": "pw-42"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    run(request_power, "n", "on", "alice", moments(1))
    run(request_power, "n", "on", "bob", moments(1))
    run(request_power, "n", "off", "carol", moments(1))
    items, _ = run(list_events, "n", None, 100, None)
    assert [e["kind"] for e in items] == [
        "node_created", "power_requested", "power_coalesced", "power_requested", "action_superseded",
    ]
    assert all("pw-42" not in e["message"] for e in items)


def test_since_and_after(run, moments):
    """Events filter by time and continue after an id."""
    run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    mark = moments(10)
    run(request_power, "n", "on", "a", moments(1))
    items, _ = run(list_events, None, mark, 100, None)
    assert [e["kind"] for e in items] == ["power_requested"]
    first, cursor = run(list_events, None, None, 1, None)
    rest, _ = run(list_events, None, None, 10, cursor)
    assert [e["id"] for e in first + rest] == sorted(e["id"] for e in first + rest) and len(rest) == 1


def test_newest_first_continues_before(run, moments):
    """order=desc lists the newest first; its cursor continues with before, to the oldest, each event once."""
    run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    for kind in ("on", "off", "cycle"):
        run(request_power, "n", kind, "a", moments(1))
    oldest_first, _ = run(list_events, None, None, 100, None)
    first, cursor = run(list_events, None, None, 2, None, order="desc")
    rest, end = run(list_events, None, None, 100, None, before=cursor, order="desc")
    assert [e["id"] for e in first + rest] == [e["id"] for e in reversed(oldest_first)] and end is None
    between, _ = run(list_events, "n", None, 100, oldest_first[0]["id"], before=oldest_first[3]["id"], order="desc")
    assert [e["id"] for e in between] == [oldest_first[2]["id"], oldest_first[1]["id"]]
