"""
Tests for pserv.region.store.locks, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import func, select

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.region.store.actions import cancel_action, get_action, request_bulk, request_power
from pserv.region.store.events import list_events
from pserv.region.store.locks import lock_node, unlock_node
from pserv.region.store.nodes import create_node, get_node, update_node
from pserv.region.store.reports import mark_sent, report_outcome, report_power_states
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name="n", cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def events(run, node="n"):
    return [(e["kind"], e["message"]) for e in run(list_events, node, None, 100, None)[0]]


def count_actions(run):
    return run(lambda c: c.execute(select(func.count()).select_from(schema.power_actions)).scalar())


def test_a_lock_is_shown_and_recorded(run, moments):
    """A lock shows who, why and when on the node, and is an event naming them."""
    enrol(run, moments)
    node = run(lock_node, "n", "alice", "firmware update", moments(5))
    assert (node["locked"], node["locked_by"], node["lock_reason"]) == (True, "alice", "firmware update")
    assert node["locked_at"] == "2026-11-22T12:00:05.000Z"
    assert ("node_locked", "node n locked by alice: firmware update") in events(run)


def test_a_locked_node_refuses_what_switches_it_off(run, moments):
    """off, cycle and soft_off are refused with 409 naming action, who and why; nothing is written."""
    enrol(run, moments)
    run(lock_node, "n", "alice", "firmware update", moments())
    before = count_actions(run)
    for kind in ("off", "cycle", "soft_off"):
        with pytest.raises(Conflict) as refused:
            run(request_power, "n", kind, "bob", moments())
        assert refused.value.body() == {"error": "node n is locked by alice: firmware update", "field": "action"}
    assert count_actions(run) == before and run(get_node, "n")["desired_power_state"] == "unknown"


def test_on_and_query_still_work_on_a_locked_node(run, moments):
    """A lock refuses only what switches the node off: on and query are made as ever."""
    enrol(run, moments)
    run(lock_node, "n", "alice", "firmware update", moments())
    on, created = run(request_power, "n", "on", "bob", moments())
    query, _ = run(request_power, "n", "query", "bob", moments())
    assert created and (on["kind"], query["kind"]) == ("on", "query")


def test_unlocking_lets_an_off_through_and_is_recorded(run, moments):
    """An unlocked node takes an off again; the unlock names who, and the lock it ended."""
    enrol(run, moments)
    run(lock_node, "n", "alice", "firmware update", moments())
    node = run(unlock_node, "n", "bob", moments())
    assert (node["locked"], node["locked_by"], node["lock_reason"], node["locked_at"]) == (False, None, None, None)
    assert run(request_power, "n", "off", "bob", moments())[1]
    assert ("node_unlocked", "node n unlocked by bob (locked by alice: firmware update)") in events(run)


def test_locking_twice_and_unlocking_an_unlocked_node_are_conflicts(run, moments):
    """A second lock is refused (the first stands, reason and all); so is unlocking a node not locked."""
    enrol(run, moments)
    with pytest.raises(Conflict, match="not locked"):
        run(unlock_node, "n", "bob", moments())
    run(lock_node, "n", "alice", "firmware update", moments())
    with pytest.raises(Conflict, match="already locked by alice"):
        run(lock_node, "n", "bob", "other", moments())
    assert run(get_node, "n")["lock_reason"] == "firmware update"


@pytest.mark.parametrize("reason", [None, "", "x" * 201, "two\nlines", 7])
def test_a_lock_needs_a_reason(run, moments, reason):
    """A lock without a reason of 1 to 200 characters on one line is refused naming reason; nothing changes."""
    enrol(run, moments)
    with pytest.raises(Invalid) as refused:
        run(lock_node, "n", "alice", reason, moments())
    assert refused.value.field == "reason" and not run(get_node, "n")["locked"]


def test_a_lock_is_refused_while_an_off_is_outstanding(run, moments):
    """A node with an off still outstanding refuses the lock, naming the action; once it ends, the lock is taken."""
    enrol(run, moments)
    off, _ = run(request_power, "n", "off", "bob", moments())
    with pytest.raises(Conflict, match=f"off action {off['id']} outstanding"):
        run(lock_node, "n", "alice", "firmware update", moments())
    run(cancel_action, off["id"], "bob", moments())
    assert run(lock_node, "n", "alice", "firmware update", moments())["locked"]


def test_a_bulk_off_leaves_locked_nodes_alone_and_names_them(run, moments):
    """A bulk off acts on the unlocked nodes only, and answers the locked ones with who and why."""
    for name in ("a", "b", "c"):
        enrol(run, moments, name)
    locked = run(lock_node, "b", "alice", "firmware update", moments())
    _, made, left = run(request_bulk, None, {"cluster": "rack-1"}, "off", "bob", moments())
    assert [a["node"] for a in made] == [n["id"] for n in map(lambda x: run(get_node, x), ("a", "c"))]
    assert left == [{"node": locked["id"], "name": "b", "locked_by": "alice", "lock_reason": "firmware update"}]
    assert run(get_node, "b")["desired_power_state"] == "unknown" and events(run, "b")[-1][0] == "node_locked"


def test_a_bulk_on_takes_every_node_locked_or_not(run, moments):
    """A lock does not stand in the way of a bulk on: every node gets it, none is named."""
    for name in ("a", "b"):
        enrol(run, moments, name)
    run(lock_node, "b", "alice", "firmware update", moments())
    _, made, left = run(request_bulk, ["a", "b"], None, "on", "bob", moments())
    assert len(made) == 2 and left == []


def test_a_bulk_off_of_locked_nodes_only_is_refused(run, moments):
    """When every node named is locked, the bulk request does nothing: 409 naming action."""
    enrol(run, moments, "a")
    run(lock_node, "a", "alice", "firmware update", moments())
    before = count_actions(run)
    with pytest.raises(Conflict) as refused:
        run(request_bulk, ["a"], None, "cycle", "bob", moments())
    assert refused.value.field == "action" and "locked by alice" in str(refused.value)
    assert count_actions(run) == before


def sweep_sees(run, moments, node, state, minute):
    seen = {"node": node["id"], "power_state": state, "error": None, "observed_at": f"2026-11-22T13:{minute:02d}:00Z"}
    return run(report_power_states, "rack-1", [seen], moments())["enforced"]


def test_drift_enforcement_never_switches_a_locked_node_off(run, moments):
    """An enforcing node desired off but seen on is held back by its lock: no action, one event, said once."""
    node = enrol(run, moments)
    run(update_node, "n", {"drift_policy": "enforce"}, moments())
    off, _ = run(request_power, "n", "off", "a", moments())
    run(mark_sent, [off["id"]], moments())
    run(report_outcome, "rack-1", {"action": off["id"], "node": node["id"], "status": "done", "generation": 1,
                                   "power_state": "off", "error": None, "fatal": False, "superseded_by": None,
                                   "commands": []}, moments())
    run(lock_node, "n", "alice", "firmware update", moments())
    before = count_actions(run)
    assert [sweep_sees(run, moments, node, "on", minute) for minute in (1, 2, 3, 4)] == [[], [], [], []]
    assert count_actions(run) == before
    held = [message for kind, message in events(run) if kind == "drift_held"]
    assert held == ["power seen on twice, desired off: not enforced, node n is locked by alice: firmware update"]


def test_drift_enforcement_still_switches_a_locked_node_on(run, moments):
    """A lock does not hold back an on: a locked node desired on but seen off is switched on."""
    node = enrol(run, moments)
    run(update_node, "n", {"drift_policy": "enforce"}, moments())
    on, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [on["id"]], moments())
    run(report_outcome, "rack-1", {"action": on["id"], "node": node["id"], "status": "done", "generation": 1,
                                   "power_state": "on", "error": None, "fatal": False, "superseded_by": None,
                                   "commands": []}, moments())
    run(lock_node, "n", "alice", "firmware update", moments())
    sweep_sees(run, moments, node, "off", 1)
    enforced = sweep_sees(run, moments, node, "off", 2)
    assert len(enforced) == 1 and run(get_action, enforced[0])["kind"] == "on"
