"""
Tests for pserv.region.store.reports, on SQLite and PostgreSQL.
"""

from pserv.region.store.actions import get_action, request_power
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node, delete_node, get_node
from pserv.region.store.reports import (
    mark_sent,
    report_outcome,
    report_power_states,
    report_progress,
    report_running,
)
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name="n", cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def outcome(action, status="done", state="on", **extra):
    return {"action": action["id"], "node": action["node"], "status": status, "generation": action["generation"],
            "power_state": state, "error": None, "fatal": False, "superseded_by": None, "commands": [], **extra}


def kinds(run, node="n"):
    return [e["kind"] for e in run(list_events, node, None, 100, None)[0]]


def test_action_life_and_applied_outcome(run, moments):
    """sent, running, progress and a current outcome update the action and the node's observed state."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "cycle", "a", moments())
    run(mark_sent, [action["id"]], moments(1))
    assert run(report_running, "rack-1", action["id"], moments(1))
    assert run(report_progress, "rack-1", action["id"], "off_verified", moments(1))
    assert run(report_outcome, "rack-1", outcome(action, observed_at="2026-11-22T12:00:03.5Z"), moments(1))
    shown, node = run(get_action, action["id"]), run(get_node, "n")
    assert (shown["status"], shown["power_state"], shown["started_at"] is not None) == ("done", "on", True)
    assert (node["power_state"], node["power_state_observed_at"]) == ("on", "2026-11-22T12:00:03.500Z")


def test_starting_and_each_milestone_are_events_for_live_pages(run, moments):
    """An action's start and its milestone are recorded as events (the UI's "in play" follows them live); a repeat is not."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "cycle", "a", moments())
    run(mark_sent, [action["id"]], moments(1))
    run(report_running, "rack-1", action["id"], moments(1))
    assert not run(report_running, "rack-1", action["id"], moments(1))
    run(report_progress, "rack-1", action["id"], "off_verified", moments(1))
    assert kinds(run)[-2:] == ["action_running", "action_progress"]
    assert run(list_events, "n", None, 100, None)[0][-1]["message"] == f"cycle action {action['id']}: off_verified"


def test_a_state_without_its_read_time_is_recorded_not_applied(run, moments):
    """An outcome's state that says not when it was read is kept on the action, never on the node."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "on", "a", moments())
    assert run(report_outcome, "rack-1", outcome(action), moments(1))
    assert run(get_action, action["id"])["power_state"] == "on"
    assert (run(get_node, "n")["power_state"], run(get_node, "n")["power_state_observed_at"]) == ("unknown", None)


def test_outcome_stamps_the_observation_with_its_read_time_and_never_goes_back(run, moments):
    """An outcome's state is observed at its observed_at; one read before the node's last observation is ignored."""
    node = enrol(run, moments)
    seen = {"node": node["id"], "power_state": "off", "error": None, "observed_at": "2026-11-22T12:00:30Z"}
    run(report_power_states, "rack-1", [seen], moments())
    old, _ = run(request_power, "n", "on", "a", moments())
    assert run(report_outcome, "rack-1", outcome(old, "failed", "on", observed_at="2026-11-22T12:00:10Z"), moments(60))
    assert (run(get_node, "n")["power_state"], run(get_node, "n")["power_state_observed_at"]) == (
        "off", "2026-11-22T12:00:30.000Z")
    new, _ = run(request_power, "n", "cycle", "a", moments())
    run(report_outcome, "rack-1", outcome(new, "done", "on", observed_at="2026-11-22T12:00:45Z"), moments(60))
    assert run(get_node, "n")["power_state_observed_at"] == "2026-11-22T12:00:45.000Z"


def test_outcome_is_idempotent(run, moments):
    """A re-sent outcome is recorded once and changes nothing more."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "off", "a", moments())
    run(report_outcome, "rack-1", outcome(action, state="off"), moments())
    assert not run(report_outcome, "rack-1", outcome(action, status="failed", error="x"), moments())
    assert run(get_action, action["id"])["status"] == "done"
    assert kinds(run).count("action_done") == 1


def test_a_timed_out_action_takes_its_late_reports_truthfully(run, moments):
    """A timed-out action still takes its running report and its outcome, which replaces timed_out and is applied."""
    from pserv.region.store.actions import expire_stuck

    enrol(run, moments)
    action, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [action["id"]], moments())
    run(expire_stuck, moments(601), 600)
    assert run(get_action, action["id"])["status"] == "timed_out"
    assert run(report_running, "rack-1", action["id"], moments(1))
    assert run(report_outcome, "rack-1", outcome(action, observed_at="2026-11-22T12:10:01Z"), moments(1))
    shown, node = run(get_action, action["id"]), run(get_node, "n")
    assert (shown["status"], shown["power_state"], shown["finished_at"] is not None) == ("done", "on", True)
    assert node["power_state"] == "on"
    assert kinds(run)[-4:] == ["action_timed_out", "action_running", "action_done", "power_observed"]


def test_stale_outcome_is_recorded_not_applied(run, moments):
    """An outcome from an older generation is recorded, and the node's observed state is left alone."""
    enrol(run, moments)
    old, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [old["id"]], moments())
    run(request_power, "n", "off", "a", moments())
    assert not run(report_outcome, "rack-1", outcome(old, state="on"), moments())
    assert run(get_node, "n")["power_state"] == "unknown"
    assert "stale_outcome" in kinds(run)


def test_reports_from_a_cluster_that_does_not_own_the_node(run, moments):
    """A cluster reporting on another cluster's node is refused and recorded."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "on", "a", moments())
    assert not run(report_running, "rack-9", action["id"], moments())
    assert not run(report_outcome, "rack-9", outcome(action), moments())
    assert run(get_action, action["id"])["status"] == "pending"
    assert kinds(run).count("report_refused") == 2


def test_outcome_completes_a_deletion(run, moments):
    """A node deleting while its action ran is deleted once the outcome arrives."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [action["id"]], moments())
    assert run(delete_node, "n", moments())["lifecycle"] == "deleting"
    run(report_outcome, "rack-1", outcome(action, status="cancelled", state=None), moments())
    import pytest

    from pserv.region.errors import NotFound
    with pytest.raises(NotFound):
        run(get_node, "n")


def test_observed_states_never_go_backwards(run, moments):
    """An observation older than the node's last one is ignored; changes are events."""
    node = enrol(run, moments)
    state = lambda s, at, error=None: {"node": node["id"], "power_state": s, "error": error, "observed_at": at}
    changed = lambda states: run(report_power_states, "rack-1", states, moments())["changed"]
    assert changed([state("on", "2026-11-22T12:01:00Z")]) == 1
    assert changed([state("off", "2026-11-22T12:00:30Z")]) == 0
    assert changed([state("error", "2026-11-22T12:02:00Z", "timed out")]) == 1
    shown = run(get_node, "n")
    assert (shown["power_state"], shown["power_error"]) == ("error", "timed out")
    assert run(report_power_states, "rack-9", [state("on", "2026-11-22T12:03:00Z")], moments())["changed"] == 0


def sweep_sees(run, moments, node, state, minute):
    seen = {"node": node["id"], "power_state": state, "error": None, "observed_at": f"2026-11-22T13:{minute:02d}:00Z"}
    return run(report_power_states, "rack-1", [seen], moments())["enforced"]


def test_enforce_acts_on_the_second_sighting_only(run, moments):
    """An enforcing node seen off twice while desired on gets an on action; once is not enough."""
    from pserv.region.store.nodes import update_node

    node = enrol(run, moments)
    run(update_node, "n", {"drift_policy": "enforce"}, moments())
    first, _ = run(request_power, "n", "on", "a", moments())
    run(mark_sent, [first["id"]], moments())
    run(report_outcome, "rack-1", outcome(first), moments())
    assert sweep_sees(run, moments, node, "off", 1) == []
    enforced = sweep_sees(run, moments, node, "off", 2)
    assert len(enforced) == 1
    action = run(get_action, enforced[0])
    assert (action["kind"], action["requested_by"]) == ("on", "drift-policy")
    assert sweep_sees(run, moments, node, "off", 3) == []
    assert "drift_enforced" in kinds(run)


def test_observe_and_errors_never_act(run, moments):
    """An observing node, or one whose reads fail, gets no action however often it drifts."""
    node = enrol(run, moments)
    run(request_power, "n", "on", "a", moments())
    first = run(list_events, "n", None, 100, None)
    for minute in range(1, 4):
        assert sweep_sees(run, moments, node, "off", minute) == []
    assert sweep_sees(run, moments, node, "error", 5) == []
    assert len(first) > 0


def test_observation_events_are_stamped_by_the_region(run, moments):
    """A power_observed event carries the region's time, not the reading cluster's (another machine's clock)."""
    node = enrol(run, moments)
    seen = {"node": node["id"], "power_state": "on", "error": None, "observed_at": "2026-11-22T11:00:00Z"}
    run(report_power_states, "rack-1", [seen], moments(30))
    [event] = [e for e in run(list_events, "n", None, 100, None)[0] if e["kind"] == "power_observed"]
    assert event["at"] == "2026-11-22T12:00:30.000Z"


def test_a_sweeps_states_cost_the_same_statements_whatever_their_number(engine, run, moments):
    """Recording 10 or 100 nodes' observed states takes the same number of statements."""
    from sqlalchemy import event

    counts = []
    for size in (10, 100):
        nodes = [enrol(run, moments, f"s{size}-{n}") for n in range(size)]
        states = [{"node": node["id"], "power_state": "on", "error": None, "observed_at": "2026-11-22T12:30:00Z"}
                  for node in nodes]
        statements = []
        count = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert run(report_power_states, "rack-1", states, moments())["changed"] == size
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[1] <= 6
