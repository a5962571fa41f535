"""
Tests for pserv.region.store.events, on SQLite and PostgreSQL.
"""

import pytest

from pserv.region.errors import NotFound
from pserv.region.store.actions import request_power
from pserv.region.store.common import add_event
from pserv.region.store.events import events_after, list_events, newest_event_id, node_id
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


def test_newest_event_id(run, moments):
    """The newest id is 0 for an empty log, then the id of the last event stored."""
    assert run(newest_event_id) == 0
    run(add_event, moments(), "note", "one")
    run(add_event, moments(), "note", "two")
    assert run(newest_event_id) == run(list_events, None, None, 10, None)[0][-1]["id"]


def test_events_after_reads_a_window_of_the_log(run, moments):
    """events_after reads ids above after and up to through, oldest first, narrowed by node and time."""
    run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    mark = moments(10)
    for text in ("a", "b", "c"):
        run(add_event, moments(1), "note", text)
    every = run(events_after, 0, 100)
    ids = [e["id"] for e in every]
    assert [e["message"] for e in every[1:]] == ["a", "b", "c"] and ids == sorted(ids)
    assert every == run(list_events, None, None, 100, None)[0]
    assert [e["id"] for e in run(events_after, ids[0], 100, through=ids[2])] == ids[1:3]
    assert [e["id"] for e in run(events_after, 0, 2)] == ids[:2]
    assert [e["kind"] for e in run(events_after, 0, 100, node=run(node_id, "n"))] == ["node_created"]
    assert [e["message"] for e in run(events_after, 0, 100, since=mark)] == ["a", "b", "c"]


def test_node_id_takes_an_id_or_a_name(run, moments):
    """node_id finds a node by id or by name; an unknown one is NotFound naming the node field."""
    node = run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
               moments(), power_types=POWER_TYPES_WITH_FAKE)
    assert run(node_id, "n") == run(node_id, str(node["id"])) == node["id"]
    with pytest.raises(NotFound) as refused:
        run(node_id, "nobody")
    assert refused.value.field == "node"


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
