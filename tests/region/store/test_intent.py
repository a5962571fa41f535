"""
Tests for pserv.region.store.intent: a cancelled request is withdrawn, on
SQLite and PostgreSQL.
"""

from pserv.region import schema
from pserv.region.store.actions import cancel_action, get_action, request_power
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node, get_node, update_node
from pserv.region.store.recovery import recover
from pserv.region.store.reports import mark_sent, report_outcome, report_power_states
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, drift_policy="observe"):
    body = {"name": "n", "power_type": "fake", "cluster": "rack-1", "power_parameters": {"address": "n"},
            "drift_policy": drift_policy}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def ask(run, moments, kind, sent=False):
    action, _ = run(request_power, "n", kind, "ops", moments())
    if sent:
        run(mark_sent, [action["id"]], moments())
    return action


def ends(run, moments, action, status, state=None):
    outcome = {"action": action["id"], "node": action["node"], "status": status, "generation": action["generation"],
               "power_state": state, "error": None, "fatal": False, "superseded_by": None, "commands": []}
    run(report_outcome, "rack-1", outcome, moments())


def desired(run):
    node = run(get_node, "n")
    return node["desired_power_state"], node["generation"]


def test_cancelling_the_newest_pending_request_gives_back_the_desired_state_before_it(run, moments):
    """off done, then on cancelled while pending: desired is off again, the generation stays, and an event says so."""
    enrol(run, moments)
    ends(run, moments, ask(run, moments, "off", sent=True), "done", "off")
    on = ask(run, moments, "on")
    cancelled, _ = run(cancel_action, on["id"], "ops", moments())
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("cancelled", True)
    assert desired(run) == ("off", 2)
    messages = [e["message"] for e in run(list_events, "n", None, 100, None)[0] if e["kind"] == "intent_withdrawn"]
    assert messages == [f"on action {on['id']} withdrawn: desired power back to off (was on)"]


def test_withdrawing_the_only_request_leaves_no_intent(run, moments):
    """A node's first request, cancelled: desired is unknown again."""
    enrol(run, moments)
    run(cancel_action, ask(run, moments, "cycle")["id"], "ops", moments())
    assert desired(run) == ("unknown", 1)


def test_an_action_in_flight_is_withdrawn_when_it_ends_unless_done(run, moments):
    """A cancel in flight gives the desired state back once the action ends cancelled or failed; done, it stands."""
    enrol(run, moments)
    ends(run, moments, ask(run, moments, "on", sent=True), "done", "on")
    for status, left in [("cancelled", "on"), ("failed", "on"), ("done", "off")]:
        off = ask(run, moments, "off", sent=True)
        run(cancel_action, off["id"], "ops", moments())
        assert desired(run)[0] == "off", "not before it ends"
        ends(run, moments, off, status)
        assert desired(run)[0] == left, status


def test_cancelling_an_older_request_changes_no_intent(run, moments):
    """An older action in flight, cancelled after a newer request: the newer request's intent stands."""
    enrol(run, moments)
    off = ask(run, moments, "off", sent=True)
    ask(run, moments, "on")
    run(cancel_action, off["id"], "ops", moments())
    ends(run, moments, off, "cancelled")
    assert desired(run) == ("on", 2)


def test_two_withdrawn_requests_go_back_to_the_one_before_both(run, moments):
    """on in flight and off pending, a node's first two requests, both cancelled (either order): no intent again."""
    for order in ("newest first", "oldest first"):
        run(lambda c: c.execute(schema.power_actions.delete()))
        run(lambda c: c.execute(schema.nodes.delete()))
        enrol(run, moments)
        on = ask(run, moments, "on", sent=True)
        off = ask(run, moments, "off")
        first, second = (off, on) if order == "newest first" else (on, off)
        run(cancel_action, first["id"], "ops", moments())
        run(cancel_action, second["id"], "ops", moments())
        ends(run, moments, on, "cancelled")
        assert desired(run) == ("unknown", 2), order


def test_cancelling_a_query_changes_no_intent(run, moments):
    """A query has no intent: cancelling it leaves the desired state."""
    enrol(run, moments)
    ends(run, moments, ask(run, moments, "on", sent=True), "done", "on")
    query = ask(run, moments, "query")
    run(cancel_action, query["id"], "ops", moments())
    assert run(get_action, query["id"])["status"] == "cancelled" and desired(run) == ("on", 1)


def test_recovery_hands_over_the_desired_state_given_back(run, moments):
    """After a withdrawal, recovery gives the cluster the desired state from before the request."""
    enrol(run, moments)
    ends(run, moments, ask(run, moments, "off", sent=True), "done", "off")
    run(cancel_action, ask(run, moments, "on")["id"], "ops", moments())
    entry = run(recover, "rack-1", None, 10, moments()).nodes[0]
    assert (entry.desired_power_state.value, entry.actions) == ("off", ())


def sweep_sees(run, moments, node, state, minute):
    seen = {"node": node["id"], "power_state": state, "error": None, "observed_at": f"2026-11-22T13:{minute:02d}:00Z"}
    return run(report_power_states, "rack-1", [seen], moments())["enforced"]


def test_drift_enforcement_never_carries_out_a_withdrawn_request(run, moments):
    """An enforcing node, off: on cancelled pending, and on cancelled in flight; the sweep sees off twice and asks nothing."""
    node = enrol(run, moments)
    ends(run, moments, ask(run, moments, "off", sent=True), "done", "off")
    run(update_node, "n", {"drift_policy": "enforce"}, moments())
    run(cancel_action, ask(run, moments, "on")["id"], "ops", moments())
    assert [sweep_sees(run, moments, node, "off", minute) for minute in (1, 2, 3)] == [[], [], []]
    flying = ask(run, moments, "on", sent=True)
    run(cancel_action, flying["id"], "ops", moments())
    ends(run, moments, flying, "cancelled", "off")
    assert [sweep_sees(run, moments, node, "off", minute) for minute in (4, 5, 6)] == [[], [], []]
    assert desired(run)[0] == "off"
