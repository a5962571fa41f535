"""
Tests for pserv.region.store.node_pages, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import event, update

from pserv.region import schema
from pserv.region.errors import Invalid, NotFound
from pserv.region.store.actions import request_power
from pserv.region.store.node_pages import PAGE_SIZE, SORTS, cluster_names, node_rows, node_view, nodes_view
from pserv.region.store.nodes import create_node


def enrol(run, now, name, cluster="rack-1"):
    return run(create_node, {"name": name, "cluster": cluster, "power_type": "manual"}, now)


def fail(run, action_id, error):
    run(lambda c: c.execute(update(schema.power_actions).where(schema.power_actions.c.id == action_id).values(
        status="failed", error=error)))


def test_a_page_with_its_total_and_the_last_page_for_one_past_it(run, moments):
    """Pages of 50 in name order, the total, and a page past the last is the last."""
    now = moments()
    for n in range(60):
        enrol(run, now, f"n{n:02d}", "rack-1" if n < 55 else "rack-2")
    first = run(nodes_view, {"cluster": "rack-1"})
    assert (first["total"], first["pages"], first["page"], len(first["nodes"])) == (55, 2, 1, PAGE_SIZE)
    last = run(nodes_view, {"cluster": "rack-1"}, "name", True, 7)
    assert last["page"] == 2 and [n["name"] for n in last["nodes"]] == ["n04", "n03", "n02", "n01", "n00"]
    assert first["clusters"] == ["rack-1", "rack-2"]
    empty = run(nodes_view, {"q": "zzz"})
    assert (empty["total"], empty["pages"], empty["nodes"]) == (0, 1, [])


def test_every_sort_runs_and_nothing_sorts_last_but_never_read_first(run, moments):
    """Each sort key orders the page (no cluster last either way); never observed is the oldest."""
    now = moments()
    enrol(run, now, "a", None)
    enrol(run, now, "b", "rack-2")
    enrol(run, now, "c", "rack-1")
    for key in SORTS:
        assert len(run(nodes_view, {}, key, False)["nodes"]) == 3
    assert [n["name"] for n in run(nodes_view, {}, "cluster")["nodes"]] == ["c", "b", "a"]
    assert [n["name"] for n in run(nodes_view, {}, "cluster", True)["nodes"]] == ["b", "c", "a"]
    with pytest.raises(Invalid, match="sort"):
        run(nodes_view, {}, "colour")


def test_rows_carry_the_action_in_play_what_is_queued_and_the_last_failure(run, moments):
    """The newest outstanding action with its progress, how many more wait, and the newest ended one if it failed."""
    now = moments()
    one, two = enrol(run, now, "one"), enrol(run, now, "two")
    failed, _ = run(request_power, "two", "on", "alice", now)
    fail(run, failed["id"], "BMC said no")
    run(request_power, "one", "query", "alice", now)
    newest, _ = run(request_power, "one", "off", "bob", now)
    rows = run(node_rows, [two["id"], 999, one["id"], two["id"]])
    assert [r["name"] for r in rows] == ["two", "one"]
    assert rows[1]["action"]["id"] == newest["id"] and rows[1]["action"]["progress"] is None
    assert (rows[1]["queued"], rows[1]["last_failure"]) == (1, None)
    assert (rows[0]["action"], rows[0]["last_failure"]["error"]) == (None, "BMC said no")
    assert run(node_rows, []) == [] and run(node_rows, [2**40]) == []


def test_the_page_is_a_few_queries_however_many_nodes_it_shows(run, moments, engine):
    """The page, its count, the clusters and the two about the shown nodes' actions: the same for 5 nodes or 50."""
    now = moments()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    for n in range(60):
        enrol(run, now, f"n{n:02d}")
        run(request_power, f"n{n:02d}", "on", "alice", now)
    event.listen(engine, "before_cursor_execute", count)
    try:
        run(nodes_view, {"q": "n0"})
        few = len(statements)
        statements.clear()
        run(nodes_view, {})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert few == len(statements) <= 7


def test_a_node_with_its_actions_and_events_newest_first(run, moments):
    """node_view: the node, pages of its actions and events newest first, and each page's cursor."""
    now = moments()
    enrol(run, now, "one")
    for kind in ("on", "off", "on"):
        run(request_power, "one", kind, "alice", moments(1))
    view = run(node_view, "one", 2)
    assert [a["kind"] for a in view["actions"]] == ["on", "off"] and view["actions_next"] is not None
    older = run(node_view, "one", 2, view["actions_next"], view["events_next"])
    assert [a["kind"] for a in older["actions"]] == ["on"] and older["actions_next"] is None
    ids = [e["id"] for e in view["events"] + older["events"]]
    assert ids == sorted(ids, reverse=True)
    with pytest.raises(NotFound):
        run(node_view, "nowhere")


def test_cluster_names_are_the_registered_and_the_named(run, moments):
    """Clusters registered and those only nodes name, once each, sorted."""
    from pserv.region.store.clusters import register_cluster

    now = moments()
    run(register_cluster, "rack-9", now)
    enrol(run, now, "a", "rack-1")
    enrol(run, now, "b", None)
    assert run(cluster_names) == ["rack-1", "rack-9"]
