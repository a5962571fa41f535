"""
Tests for pserv.region.store.ended, on SQLite and PostgreSQL: the actions
a piece of work ended, each counted once.
"""

from pserv.region.store.actions import request_power
from pserv.region.store.ended import Ended, ended_at, ended_of, expire_stuck_ended, report_actions_ended, superseded_by
from pserv.region.store.reports import mark_sent
from tests.region.store.test_report_batches import enrol, outcome, sent


def test_an_outcome_ends_its_action_once_even_sent_twice(run, moments):
    """A batch's outcome is an Ended with its kind, status and seconds since the request; sent again, nothing."""
    enrol(run, moments, "ended-1")
    action = sent(run, moments, "ended-1", "on")
    reports = {"running": [], "progress": [], "outcomes": [outcome(action)]}
    now = moments(30)
    first = run(report_actions_ended, "rack-1", reports, now)
    assert first["ended"] == [Ended("on", "done", (now - action_time(action)).total_seconds())]
    assert first["applied"] == [action["id"]]
    assert run(report_actions_ended, "rack-1", reports, moments(5))["ended"] == []


def test_running_reports_and_refused_outcomes_end_nothing(run, moments):
    """A running report, and an outcome from a cluster that does not own the node, end no action."""
    enrol(run, moments, "ended-2")
    action = sent(run, moments, "ended-2", "off")
    assert run(report_actions_ended, "rack-1", {"running": [{"action": action["id"]}], "outcomes": []},
               moments())["ended"] == []
    answer = run(report_actions_ended, "rack-9", {"outcomes": [outcome(action)]}, moments())
    assert (answer["ended"], answer["refused"]) == ([], [action["id"]])


def test_the_sweep_counts_the_pending_action_it_fails_not_the_sent_one_it_times_out(run, moments):
    """expire_stuck_ended: a pending action failed is Ended; a sent one is timed out, not ended."""
    enrol(run, moments, "ended-3")
    enrol(run, moments, "ended-4")
    held, _ = run(request_power, "ended-3", "on", "op", moments())
    run(mark_sent, [held["id"]], moments())
    never, _ = run(request_power, "ended-4", "cycle", "op", moments())
    ids, ended = run(expire_stuck_ended, moments(601), 600)
    assert sorted(ids) == sorted([held["id"], never["id"]])
    assert [(e.kind, e.status) for e in ended] == [("cycle", "failed")]


def test_ended_at_names_only_actions_finished_at_that_moment(run, moments):
    """An action that ended at another moment is not among those ended now, nor is one still open."""
    enrol(run, moments, "ended-5")
    action = sent(run, moments, "ended-5", "on")
    run(report_actions_ended, "rack-1", {"outcomes": [outcome(action)]}, moments())
    open_one = sent(run, moments, "ended-5", "off")
    assert run(ended_at, [action["id"], open_one["id"]], moments(1)) == []


def test_an_answered_action_is_read_as_ended_from_its_times():
    """ended_of reads the kind, status and seconds between requested_at and finished_at of an answered action."""
    action = {"kind": "off", "status": "cancelled", "requested_at": "2026-11-22T12:00:00.000Z",
              "finished_at": "2026-11-22T12:00:02.500Z"}
    assert ended_of(action) == Ended("off", "cancelled", 2.5)
    assert ended_of({**action, "finished_at": None}) == Ended("off", "cancelled", None)


def action_time(action):
    from pserv.util.times import moment_from_rfc3339
    from pserv.region.store.common import utc

    return utc(moment_from_rfc3339(action["requested_at"]))


def test_superseded_by_names_what_a_new_action_superseded_then_not_what_it_joined_later(run, moments):
    """The pending on an off superseded is Ended as superseded at the off's moment, and not again at a later moment."""
    enrol(run, moments, "ended-6")
    run(request_power, "ended-6", "on", "op", moments())
    now = moments(2)
    off, _ = run(request_power, "ended-6", "off", "op", now)
    assert [(e.kind, e.status) for e in run(superseded_by, [off], now)] == [("on", "superseded")]
    assert run(superseded_by, [off], moments(1)) == []
