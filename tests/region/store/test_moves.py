"""
Tests for pserv.region.store.moves (and the move through update_node,
recovery, delivery and reports), on SQLite and PostgreSQL.
"""

import pytest

from pserv.region.errors import Conflict
from pserv.region.store.actions import change_node, get_action, hand_over, request_power
from pserv.region.store.events import list_events
from pserv.region.store.moves import moving_from, released
from pserv.region.store.nodes import create_node, get_node, update_node
from pserv.region.store.recovery import claim_for_delivery, recover
from pserv.region.store.reports import mark_sent, report_outcome, report_power_states
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name="n", cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def seen(node, state, at, epoch=0):
    return {"node": node["id"], "power_state": state, "error": None, "observed_at": at, "epoch": epoch}


def names(page):
    return [entry.name for entry in page.nodes]


@pytest.mark.parametrize("status", ["sent", "running"])
def test_a_move_is_refused_while_an_action_is_in_flight(run, moments, status):
    """While its cluster holds an action, a node's cluster cannot change: 409 naming the field, nothing written."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "cycle", "a", moments())
    run(mark_sent, [action["id"]], moments())
    if status == "running":
        from pserv.region.store.reports import report_running
        run(report_running, "rack-1", action["id"], moments())
    with pytest.raises(Conflict, match=f"cycle action {action['id']} is {status} on cluster rack-1") as refused:
        run(change_node, "n", {"cluster": "rack-2"}, moments())
    assert refused.value.field == "cluster"
    node = run(get_node, "n")
    assert (node["cluster"], node["moving_from"]) == ("rack-1", None)


def test_a_move_waits_for_the_old_cluster_to_give_the_node_up(run, moments):
    """Moved with a pending action, the node is neither recovered by nor delivered to its new cluster until released."""
    enrol(run, moments)
    pending, _ = run(request_power, "n", "on", "a", moments())
    node, query = run(change_node, "n", {"cluster": "rack-2"}, moments())
    assert (node["cluster"], node["moving_from"]) == ("rack-2", "rack-1")
    assert names(run(recover, "rack-1", None, 10, moments())) == []
    assert names(run(recover, "rack-2", None, 10, moments())) == []
    assert run(claim_for_delivery, ["rack-1", "rack-2"], None, moments()) == []
    assert run(moving_from, ["rack-1", "rack-2"]) == [("rack-1", node["id"])]
    assert run(released, node["id"], "rack-2", moments()) == []
    assert run(released, node["id"], "rack-1", moments()) == [pending["id"], query]
    node = run(get_node, "n")
    assert (node["cluster"], node["moving_from"]) == ("rack-2", None)
    [entry] = run(recover, "rack-2", None, 10, moments()).nodes
    assert entry.epoch == 1 and [a.id for a in entry.actions] == [pending["id"], query]
    assert run(released, node["id"], "rack-1", moments()) == []
    assert ["node_moving", "node_moved"] == [e["kind"] for e in run(list_events, "n", None, 100, None)[0]
                                             if e["kind"].startswith("node_mov")]


def test_a_hand_over_with_nothing_pending_asks_the_new_cluster_to_read_the_node(run, moments):
    """Released with no pending action (the move's query timed out waiting), the node gets a query for its new cluster."""
    from pserv.region.store.actions import expire_stuck

    node = enrol(run, moments)
    run(change_node, "n", {"cluster": "rack-2"}, moments())
    timed_out = run(expire_stuck, moments(60), 30.0)
    assert timed_out and all(run(get_action, i)["status"] == "failed" for i in timed_out)
    [read] = run(hand_over, node["id"], "rack-1", moments())
    action = run(get_action, read)
    assert (action["kind"], action["status"], action["requested_by"]) == ("query", "pending", "hand-over")
    [entry] = run(recover, "rack-2", None, 10, moments()).nodes
    assert [a.id for a in entry.actions] == [read]
    assert run(hand_over, node["id"], "rack-1", moments()) == []


def test_a_hand_over_with_pending_actions_hands_those(run, moments):
    """Released with a pending action, the hand-over gives exactly the pending ones, and asks no extra read."""
    node = enrol(run, moments)
    pending, _ = run(request_power, "n", "on", "a", moments())
    _, query = run(change_node, "n", {"cluster": "rack-2"}, moments())
    assert run(hand_over, node["id"], "rack-1", moments()) == [pending["id"], query]


def test_moving_back_still_waits_for_the_release(run, moments):
    """Moved away and back before the old cluster answered, the node still waits for that cluster's release."""
    node = enrol(run, moments)
    run(update_node, "n", {"cluster": "rack-2"}, moments())
    run(update_node, "n", {"cluster": "rack-3"}, moments())
    assert run(get_node, "n")["moving_from"] == "rack-1"
    run(update_node, "n", {"cluster": "rack-1"}, moments())
    assert names(run(recover, "rack-1", None, 10, moments())) == []
    run(released, node["id"], "rack-1", moments())
    assert names(run(recover, "rack-1", None, 10, moments())) == ["n"]


def test_a_node_without_a_cluster_moves_at_once(run, moments):
    """A node no cluster drove is handed to its new cluster at once."""
    enrol(run, moments, cluster=None)
    node = run(update_node, "n", {"cluster": "rack-2"}, moments())
    assert node["moving_from"] is None
    assert names(run(recover, "rack-2", None, 10, moments())) == ["n"]


def test_the_old_cluster_reports_until_it_gives_the_node_up(run, moments):
    """While moving, the old cluster's reports count and the new one's are refused; after the release, the reverse."""
    node = enrol(run, moments)
    run(update_node, "n", {"cluster": "rack-2"}, moments())
    assert run(report_power_states, "rack-2", [seen(node, "on", "2026-11-22T12:00:05Z")], moments())["changed"] == 0
    assert run(report_power_states, "rack-1", [seen(node, "on", "2026-11-22T12:00:05Z")], moments())["changed"] == 1
    run(released, node["id"], "rack-1", moments())
    shown = run(get_node, "n")
    assert (shown["power_state"], shown["power_state_observed_at"]) == ("on", None)
    assert run(report_power_states, "rack-1", [seen(node, "off", "2026-11-22T12:00:09Z")], moments())["changed"] == 0
    assert run(report_power_states, "rack-2", [seen(node, "off", "2026-11-22T12:00:09Z")], moments())["changed"] == 0
    assert run(get_node, "n")["power_state"] == "on"


def test_observations_are_ordered_by_epoch_not_by_two_clocks(run, moments):
    """After a hand-over, the new cluster's read applies though its clock is behind; the old epoch's never does."""
    node = enrol(run, moments)
    assert run(report_power_states, "rack-1", [seen(node, "on", "2026-11-22T12:00:30Z")], moments())["changed"] == 1
    run(update_node, "n", {"cluster": "rack-2"}, moments())
    run(released, node["id"], "rack-1", moments())
    behind = seen(node, "off", "2026-11-22T12:00:20Z", epoch=1)
    assert run(report_power_states, "rack-2", [behind], moments())["changed"] == 1
    assert run(get_node, "n")["power_state_observed_at"] == "2026-11-22T12:00:20.000Z"
    run(update_node, "n", {"cluster": "rack-1"}, moments())
    run(released, node["id"], "rack-2", moments())
    late = seen(node, "on", "2026-11-22T12:00:40Z", epoch=0)
    assert run(report_power_states, "rack-1", [late], moments())["changed"] == 0
    assert run(get_node, "n")["power_state"] == "off"


def test_an_outcome_of_an_older_epoch_is_recorded_not_observed(run, moments):
    """An outcome handed over in an earlier epoch ends its action but its state is not applied."""
    node = enrol(run, moments)
    run(update_node, "n", {"cluster": "rack-2"}, moments())
    run(released, node["id"], "rack-1", moments())
    action, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [action["id"]], moments())
    outcome = {"action": action["id"], "node": node["id"], "status": "done", "generation": action["generation"],
               "power_state": "on", "error": None, "fatal": False, "superseded_by": None, "commands": [],
               "observed_at": "2026-11-22T12:00:30Z", "epoch": 0}
    assert run(report_outcome, "rack-2", outcome, moments())
    assert run(get_action, action["id"])["status"] == "done"
    assert run(get_node, "n")["power_state"] == "unknown"
