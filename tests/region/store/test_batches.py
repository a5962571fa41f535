"""
Tests for pserv.region.store.batches, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import func, select, update

from pserv.region import schema
from pserv.region.errors import Conflict, NotFound
from pserv.region.store.actions import request_bulk, request_power
from pserv.region.store.batches import batch_actions, bulk_names, bulk_nodes, bulk_preview, get_batch
from pserv.region.store.nodes import create_node, delete_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name, power_state="unknown", cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "power_parameters": {"address": name}, "cluster": cluster}
    node = run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    table = schema.nodes
    run(lambda c: c.execute(update(table).where(table.c.id == node["id"]).values(power_state=power_state)))
    return node


def set_status(run, action_id, status):
    table = schema.power_actions
    run(lambda c: c.execute(update(table).where(table.c.id == action_id).values(status=status)))


def row_counts(engine):
    """How many rows every table holds."""
    with engine.connect() as connection:
        return {t.name: connection.execute(select(func.count()).select_from(t)).scalar()
                for t in schema.metadata.sorted_tables}


@pytest.fixture
def three(run, moments):
    """Three nodes on rack-1: on, off, unknown."""
    return [enrol(run, moments, "n-on", "on"), enrol(run, moments, "n-off", "off"), enrol(run, moments, "n-new")]


@pytest.mark.parametrize("kind, change, unchanged", [
    ("on", 2, 1), ("off", 2, 1), ("soft_off", 2, 1), ("cycle", 3, 0), ("query", 0, 3),
])
def test_preview_counts_what_would_change(run, moments, three, kind, change, unchanged):
    """A dry run counts the nodes already in the action's target state; a cycle changes all, a query none."""
    assert run(bulk_preview, None, {"cluster": "rack-1"}, kind) == {
        "dry_run": True, "action": kind, "nodes": 3, "change": change, "unchanged": unchanged, "locked": 0}


def test_preview_writes_nothing(run, moments, engine, three):
    """A dry run by names or by filter leaves every table as it was: no action, no event, no batch."""
    before = row_counts(engine)
    run(bulk_preview, ["n-on", "n-off"], None, "off")
    run(bulk_preview, None, {"q": "N-"}, "cycle")
    assert row_counts(engine) == before


def test_preview_refuses_what_the_request_would(run, moments, three):
    """A dry run naming a missing node, matching no node, or taking in a deleting one, is refused as the request is."""
    with pytest.raises(NotFound):
        run(bulk_preview, ["n-on", "ghost"], None, "on")
    with pytest.raises(NotFound) as nothing:
        run(bulk_preview, None, {"power_type": "wol"}, "on")
    assert nothing.value.field == "filter"
    action, _ = run(request_power, "n-on", "off", "a", moments())
    set_status(run, action["id"], "running")
    run(delete_node, "n-on", moments())
    with pytest.raises(Conflict, match="node n-on is being deleted"):
        run(bulk_preview, None, {"cluster": "rack-1"}, "on")


def test_bulk_nodes_in_id_order_once_each(run, moments, three):
    """Nodes named by id and by name, some twice, come once each in id order."""
    ids = [n["id"] for n in three]
    assert [row.id for row in run(bulk_nodes, ["n-new", ids[0], "n-on", str(ids[1])], None)] == ids


def test_bulk_names_are_the_first_nodes_in_id_order(run, moments, three):
    """The names of the first nodes named by ids or matched by a filter, in id order; ids of nothing left out."""
    ids = [n["id"] for n in three]
    assert run(bulk_names, [ids[2], ids[0], 2**40], None) == ["n-on", "n-new"]
    assert run(bulk_names, None, {"q": "n-"}, 2) == ["n-on", "n-off"]
    assert run(bulk_names, None, {"power_state": "on"}) == ["n-on"] and run(bulk_names, [2**40], None) == []


def test_a_bulk_request_is_a_batch(run, moments, three):
    """A real bulk request records a batch: its kind, requester, reason, time, size, all its actions pending."""
    batch_id, actions, _ = run(request_bulk, None, {"cluster": "rack-1"}, "on", "alice", moments(5), reason="rack move")
    assert all(a["reason"] == "rack move" for a in actions) and len(actions) == 3
    assert run(get_batch, batch_id) == {
        "id": batch_id, "action": "on", "requested_by": "alice", "reason": "rack move",
        "created_at": "2026-11-22T12:00:05.000Z", "size": 3,
        "counts": {"pending": 3, "running": 0, "done": 0, "failed": 0, "superseded": 0, "cancelled": 0,
                   "timed_out": 0},
        "finished": False,
    }


def test_a_batch_counts_its_actions_as_they_go(run, moments, three):
    """sent and running count as running, timed_out apart and unfinished; the batch is finished once all are final."""
    batch_id, actions, _ = run(request_bulk, ["n-on", "n-off", "n-new"], None, "cycle", "a", moments())
    for action, status in zip(actions, ["sent", "running", "timed_out"]):
        set_status(run, action["id"], status)
    batch = run(get_batch, batch_id)
    assert (batch["counts"]["running"], batch["counts"]["timed_out"], batch["finished"]) == (2, 1, False)
    for action, status in zip(actions, ["done", "failed", "cancelled"]):
        set_status(run, action["id"], status)
    batch = run(get_batch, batch_id)
    assert batch["finished"] and {k: v for k, v in batch["counts"].items() if v} == {
        "done": 1, "failed": 1, "cancelled": 1}


def test_a_duplicate_in_a_bulk_request_is_in_its_batch(run, moments, three):
    """A node whose outstanding action the bulk request repeats brings that action into the batch."""
    outstanding, _ = run(request_power, "n-on", "off", "a", moments())
    batch_id, actions, _ = run(request_bulk, ["n-on", "n-off"], None, "off", "b", moments())
    assert actions[0]["id"] == outstanding["id"] and run(get_batch, batch_id)["size"] == 2


def test_a_later_request_supersedes_a_batch_action(run, moments, three):
    """A batch's pending action superseded by a later request counts as superseded."""
    batch_id, actions, _ = run(request_bulk, ["n-on", "n-off"], None, "on", "a", moments())
    run(request_power, "n-off", "off", "b", moments())
    assert run(get_batch, batch_id)["counts"]["superseded"] == 1


def test_a_deleted_node_leaves_its_batch(run, moments, three):
    """Deleting a node takes its actions out of their batches; the batch keeps its size and counts the rest."""
    batch_id, _, _ = run(request_bulk, ["n-on", "n-off"], None, "on", "a", moments())
    run(delete_node, "n-on", moments())
    batch = run(get_batch, batch_id)
    assert batch["size"] == 2 and sum(batch["counts"].values()) == 1 and batch["counts"]["pending"] == 1


def test_a_batch_lists_its_actions_with_their_nodes(run, moments, three):
    """A batch's actions come in id order with their node's name; one it joined is marked coalesced."""
    outstanding, _ = run(request_power, "n-off", "on", "a", moments(1))
    batch_id, made, _ = run(request_bulk, None, {"cluster": "rack-1"}, "on", "b", moments(2), reason="rack move")
    listed = run(batch_actions, batch_id)
    assert [(a["id"], a["node_name"], a["coalesced"]) for a in listed] == [
        (made[0]["id"], "n-on", False), (outstanding["id"], "n-off", True), (made[2]["id"], "n-new", False)]
    assert listed[0]["reason"] == "rack move" and listed[1]["requested_by"] == "a"
    assert [a["node_name"] for a in run(batch_actions, batch_id, 2)] == ["n-on", "n-off"]


@pytest.mark.parametrize("batch_id", [1, 2**40])
def test_no_such_batch_lists_no_action(run, batch_id):
    """A batch id that names nothing lists nothing."""
    assert run(batch_actions, batch_id) == []


@pytest.mark.parametrize("batch_id", [1, 2**31 - 1, 2**31, 2**40])
def test_no_such_batch(run, batch_id):
    """A batch id that names nothing (or is past the columns) is not found, naming batch."""
    with pytest.raises(NotFound) as missing:
        run(get_batch, batch_id)
    assert missing.value.field == "batch"
