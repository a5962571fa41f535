"""
Tests for pserv.region.ui.live, on SQLite and PostgreSQL: the newest event
id read before a page's data, and the stream a live page names.
"""

from sqlalchemy import func, select

from pserv.region import schema
from pserv.region.store.nodes import create_node
from pserv.region.store.node_pages import nodes_view
from pserv.region.ui.live import Live, newest_then
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_no_event_yet_is_zero(run):
    """With an empty log the newest id is 0, and the read's result comes with it."""
    newest, view = run(newest_then, nodes_view, {})
    assert (newest, view["total"]) == (0, 0)


def test_the_newest_event_is_the_one_the_data_shows(run, moments):
    """The id is the newest event's when the data is read, in the same transaction, before it."""
    body = {"name": "n-1", "power_type": "fake", "power_parameters": {"address": "a"}}
    run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    seen = []

    def read(connection, filters):
        seen.append(connection.execute(select(func.max(schema.events.c.id))).scalar())
        return nodes_view(connection, filters)

    newest, view = run(newest_then, read, {})
    assert newest == seen[0] >= 1 and view["total"] == 1


def test_a_live_page_names_its_stream():
    """The stream starts after the page's newest event, coalesced by node, narrowed to a node's page's node."""
    assert Live("nodes", 41, "/nodes/rows").stream == "/api/v1/events/stream?after=41&coalesce=node"
    assert Live("node", 7, "/nodes/3/panels", 3).stream == "/api/v1/events/stream?after=7&coalesce=node&node=3"
