"""
Tests for pserv.region.store.report_batches, on SQLite and PostgreSQL: a
batch records what its reports, recorded one at a time, would.
"""

import re

from sqlalchemy import event, select

from pserv.region import schema
from pserv.region.store.actions import cancel_action, get_action, request_power
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node, delete_node, get_node
from pserv.region.store.report_batches import report_actions
from pserv.region.store.reports import mark_sent, report_outcome, report_progress, report_running
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name, cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def outcome(action, status="done", state="on", **extra):
    return {"action": action["id"], "node": action["node"], "status": status, "generation": action["generation"],
            "power_state": state, "error": None, "fatal": False, "superseded_by": None, "commands": [], **extra}


def kinds(run, node):
    return [e["kind"] for e in run(list_events, node, None, 100, None)[0]]


def sent(run, moments, node, kind):
    action, _ = run(request_power, node, kind, "op", moments())
    run(mark_sent, [action["id"]], moments())
    return action


def scenario(run, moments, prefix):
    """Nodes and actions for every rule of a report; the batch of reports that exercises them."""
    for n in range(1, 9):
        enrol(run, moments, f"{prefix}{n}", cluster="rack-9" if n == 5 else "rack-1")
    starting = sent(run, moments, f"{prefix}1", "on")
    done = sent(run, moments, f"{prefix}2", "off")
    stale = sent(run, moments, f"{prefix}3", "on")
    run(request_power, f"{prefix}3", "off", "op", moments())
    cancelled = sent(run, moments, f"{prefix}4", "on")
    run(cancel_action, cancelled["id"], "op", moments())
    elsewhere = sent(run, moments, f"{prefix}5", "on")
    query = sent(run, moments, f"{prefix}6", "query")
    cycle = sent(run, moments, f"{prefix}6", "cycle")
    deleting = sent(run, moments, f"{prefix}7", "off")
    run(delete_node, f"{prefix}7", moments())
    failed = sent(run, moments, f"{prefix}8", "on")
    at = "2026-11-22T12:10:00Z"
    return {
        "running": [{"action": starting["id"]}, {"action": failed["id"]}, {"action": 99_999_999}],
        "progress": [],
        "outcomes": [
            outcome(done, state="off", observed_at=at),
            outcome(stale, observed_at=at),
            outcome(cancelled, "cancelled", "off", observed_at=at),
            outcome(elsewhere, observed_at=at),
            outcome(query, state="off", observed_at=at),
            outcome(cycle, observed_at="2026-11-22T12:10:01Z"),
            outcome(deleting, state="off", observed_at=at),
            outcome(failed, "failed", "off", error="BMC said no", fatal=True, observed_at=at),
            {**outcome(done, state="off"), "action": 99_999_998},
        ],
    }


def one_by_one(connection, cluster, reports, now):
    """The batch's reports recorded one at a time, as the region did before batches."""
    applied = []
    for r in reports["running"]:
        report_running(connection, cluster, r["action"], now)
    for r in reports["progress"]:
        report_progress(connection, cluster, r["action"], r["progress"], now)
    for o in reports["outcomes"]:
        if report_outcome(connection, cluster, o, now):
            applied.append(o["action"])
    return {"applied": sorted(applied), "retry": []}


def snapshot(engine):
    """Every node, action and event, with ids made positions, so two runs compare."""
    with engine.connect() as connection:
        nodes = connection.execute(select(schema.nodes).order_by(schema.nodes.c.id)).all()
        actions = connection.execute(select(schema.power_actions).order_by(schema.power_actions.c.id)).all()
        events = connection.execute(select(schema.events)).all()
    position = {row.id: n for n, row in enumerate(actions)}

    def plain(text):
        return re.sub(r"\d+", "N", text or "")

    return {
        "nodes": [(n.name, n.power_state, n.power_state_observed_at, n.desired_power_state, n.lifecycle)
                  for n in nodes],
        "actions": [(a.kind, a.status, a.power_state, a.error, a.finished_at, a.started_at) for a in actions],
        "events": sorted((e.kind, plain(e.message), e.node_name, position.get(e.action_id))
                         for e in events),
    }


def test_a_batch_records_what_its_reports_one_by_one_would(engine, run, moments):
    """Running, done, stale, cancelled, refused, second-on-a-node, deleting, failed and unknown reports: the same rows and events as one at a time."""
    results = {}
    for record in (one_by_one, report_actions):
        reports = scenario(run, moments, "n")
        started = moments.now
        answer = run(record, "rack-1", reports, moments(5))
        results[record] = (snapshot(engine), len(answer["applied"]), answer["retry"])
        moments.now = started
        with engine.begin() as connection:
            for table in reversed(schema.metadata.sorted_tables):
                connection.execute(table.delete())
    assert results[one_by_one] == results[report_actions]
    assert results[report_actions][1] == 5


def test_a_batch_records_each_report_as_alone(run, moments):
    """One batch's running and outcome reports of several actions are each recorded; the answer names the outcomes applied."""
    enrol(run, moments, "a")
    enrol(run, moments, "b")
    cycle = sent(run, moments, "a", "cycle")
    off = sent(run, moments, "b", "off")
    batch = {"running": [{"action": cycle["id"]}], "progress": [],
             "outcomes": [outcome(off, state="off", observed_at="2026-11-22T12:00:03Z")]}
    assert run(report_actions, "rack-1", batch, moments(2)) == {"applied": [off["id"]], "retry": [], "refused": []}
    later = {"progress": [{"action": cycle["id"], "progress": "off_verified"}]}
    assert run(report_actions, "rack-1", later, moments(3)) == {"applied": [], "retry": [], "refused": []}
    assert (run(get_action, cycle["id"])["status"], run(get_action, off["id"])["status"]) == ("running", "done")
    assert run(get_node, "b")["power_state"] == "off"
    assert kinds(run, "a")[-2:] == ["action_running", "action_progress"]


def test_a_batch_sent_again_applies_nothing_twice(run, moments):
    """A batch repeated whole (its answer lost with the connection) records nothing more."""
    enrol(run, moments, "n")
    action = sent(run, moments, "n", "off")
    batch = {"running": [{"action": action["id"]}],
             "outcomes": [outcome(action, state="off", observed_at="2026-11-22T12:00:03Z")]}
    assert run(report_actions, "rack-1", batch, moments(2))["applied"] == [action["id"]]
    assert run(report_actions, "rack-1", batch, moments(3)) == {"applied": [], "retry": [], "refused": []}
    assert kinds(run, "n").count("action_done") == 1 and kinds(run, "n").count("action_running") == 1


def test_a_report_that_cannot_be_recorded_is_named_and_the_rest_recorded(run, moments, logged):
    """A report whose recording fails is rolled back alone and named for retry; the others are recorded."""
    enrol(run, moments, "a")
    enrol(run, moments, "b")
    first = sent(run, moments, "a", "off")
    second = sent(run, moments, "b", "off")
    broken = {**outcome(first, state="off"), "generation": "not a number"}
    batch = {"outcomes": [broken, outcome(second, state="off")]}
    assert run(report_actions, "rack-1", batch, moments(2)) == {"applied": [second["id"]], "retry": [first["id"]],
                                                                 "refused": []}
    assert (run(get_action, first["id"])["status"], run(get_action, second["id"])["status"]) == ("sent", "done")


def test_an_outcome_for_a_node_held_elsewhere_is_named_refused(run, moments):
    """An outcome from a cluster that does not hold the node is named refused, together or one at a time, and the action stays outstanding."""
    enrol(run, moments, "mine")
    enrol(run, moments, "theirs", cluster="rack-2")
    enrol(run, moments, "also-theirs", cluster="rack-2")
    mine = sent(run, moments, "mine", "off")
    theirs = sent(run, moments, "theirs", "off")
    also = sent(run, moments, "also-theirs", "off")
    together = {"outcomes": [outcome(theirs, state="off")]}
    assert run(report_actions, "rack-1", together, moments(2)) == {"applied": [], "retry": [], "refused": [theirs["id"]]}
    broken = {**outcome(mine, state="off"), "generation": "not a number"}
    alone = {"outcomes": [broken, outcome(also, state="off")]}
    assert run(report_actions, "rack-1", alone, moments(3)) == {"applied": [], "retry": [mine["id"]],
                                                               "refused": [also["id"]]}
    assert {run(get_action, a["id"])["status"] for a in (mine, theirs, also)} == {"sent"}


def test_a_batch_costs_the_same_statements_whatever_its_size(engine, run, moments):
    """Recording 10 or 100 nodes' running reports and outcomes takes the same number of statements."""
    counts = []
    for size in (10, 100):
        actions = []
        for n in range(size):
            enrol(run, moments, f"s{size}-{n}")
            actions.append(sent(run, moments, f"s{size}-{n}", "on"))
        statements = []
        count = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", count)
        try:
            run(report_actions, "rack-1", {"running": [{"action": a["id"]} for a in actions]}, moments())
            run(report_actions, "rack-1", {"outcomes": [outcome(a, observed_at="2026-11-22T12:30:00Z")
                                                        for a in actions]}, moments())
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[1] <= 20
