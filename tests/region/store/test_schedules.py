"""
Tests for pserv.region.store.schedules, and the scheduled actions of
pserv.region.store.actions and recovery, on SQLite and PostgreSQL: held
until their time, the node's newest intent meanwhile.
"""

from datetime import timedelta

import pytest

from pserv.region.errors import Invalid
from pserv.region.store.actions import cancel_action, expire_stuck, get_action, request_bulk, request_power
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node, get_node
from pserv.region.store.recovery import claim_for_delivery, recover
from pserv.region.store.schedules import MAX_AHEAD, coming, schedule
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name="n", cluster="rack-1"):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def claimed(run, moments, seconds=0):
    return [r.action for _, r in run(claim_for_delivery, ["rack-1"], None, moments(seconds))]


def test_a_time_past_means_now_and_one_too_far_ahead_is_refused(moments):
    """None and a time not after now are now; one past MAX_AHEAD is refused naming not_before."""
    now = moments()
    assert schedule(None, now) is None and schedule(now, now) is None and schedule(now - timedelta(1), now) is None
    assert schedule(now + MAX_AHEAD, now) == now + MAX_AHEAD
    with pytest.raises(Invalid) as refused:
        schedule(now + MAX_AHEAD + timedelta(seconds=1), now)
    assert refused.value.field == "not_before"


def test_a_scheduled_action_is_committed_at_once_with_its_time(run, moments):
    """The action is pending with its not_before, the intent set now, and its event says when."""
    enrol(run, moments)
    action, created = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(hours=1))
    assert created and (action["status"], action["not_before"]) == ("pending", "2026-11-22T13:00:00.000Z")
    assert run(get_node, "n")["desired_power_state"] == "off"
    said = [e["message"] for e in run(list_events, "n", None, 100, None)[0] if e["kind"] == "power_requested"]
    assert said == ["off requested by bob, not before 2026-11-22T13:00:00.000Z"]


def test_a_scheduled_action_is_not_claimed_before_its_time(run, moments):
    """No claim hands it over a second early; the first claim at its time does, once."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(seconds=60))
    assert claimed(run, moments, 59) == []
    assert claimed(run, moments, 1) == [action["id"]]
    assert claimed(run, moments) == [] and run(get_action, action["id"])["status"] == "sent"


def test_recovery_keeps_a_scheduled_action_back_with_its_intent(run, moments):
    """Recovery before its time neither lists nor sends it, and tells the generation and intent from before it."""
    enrol(run, moments)
    on, _ = run(request_power, "n", "on", "bob", moments())
    run(claim_for_delivery, ["rack-1"], None, moments())
    off, _ = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(seconds=60))
    early = run(recover, "rack-1", None, 10, moments(30)).nodes[0]
    assert ([a.id for a in early.actions], early.generation, early.desired_power_state) == ([on["id"]], 1, "on")
    assert run(get_action, off["id"])["status"] == "pending"
    due = run(recover, "rack-1", None, 10, moments(30)).nodes[0]
    assert ([a.id for a in due.actions], due.generation, due.desired_power_state) == ([on["id"], off["id"]], 2, "off")
    assert run(get_action, off["id"])["status"] == "sent"


def test_a_scheduled_action_times_out_counted_from_its_time(run, moments):
    """The time-out sweep counts a scheduled action's wait from its not_before, not from its request."""
    enrol(run, moments)
    action, _ = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(hours=1))
    assert run(expire_stuck, moments(3600 + 599), 600) == []
    assert run(expire_stuck, moments(2), 600) == [action["id"]]


def test_a_request_for_now_supersedes_a_scheduled_one_of_the_same_kind(run, moments):
    """An off for now does not wait behind an off for later: it is a new action, and supersedes it."""
    enrol(run, moments)
    later, _ = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(hours=1))
    now, created = run(request_power, "n", "off", "bob", moments())
    assert created and run(get_action, later["id"])["superseded_by"] == now["id"]
    assert claimed(run, moments) == [now["id"]]


def test_the_same_scheduled_request_coalesces(run, moments):
    """The same kind for the same time joins the scheduled action (200, not a new one)."""
    enrol(run, moments)
    at = moments.now + timedelta(hours=1)
    first, _ = run(request_power, "n", "off", "bob", moments(), not_before=at)
    again, created = run(request_power, "n", "off", "carol", moments(5), not_before=at)
    assert not created and again["id"] == first["id"]


def test_a_newer_request_supersedes_a_scheduled_one_and_a_cancel_cancels_it(run, moments):
    """
    A scheduled action is the newest intent: an on for now supersedes it;
    a cycle scheduled after supersedes that on (still pending) in turn, and
    a cancel of the cycle ends it at once and gives the node back its intent.
    """
    enrol(run, moments)
    off, _ = run(request_power, "n", "off", "bob", moments(), not_before=moments.now + timedelta(hours=1))
    on, _ = run(request_power, "n", "on", "bob", moments())
    assert run(get_action, off["id"])["status"] == "superseded"
    cycle, _ = run(request_power, "n", "cycle", "bob", moments(), not_before=moments.now + timedelta(hours=2))
    result, cancelled = run(cancel_action, cycle["id"], "bob", moments())
    assert cancelled and result["status"] == "cancelled" and run(get_node, "n")["desired_power_state"] == "on"
    assert run(get_action, on["id"])["superseded_by"] == cycle["id"]
    assert claimed(run, moments, 3 * 3600) == []


def test_a_bulk_request_may_be_scheduled(run, moments):
    """A bulk request's actions carry its time, and are held with it."""
    enrol(run, moments, "a")
    enrol(run, moments, "b")
    _, made, _ = run(request_bulk, ["a", "b"], None, "off", "bob", moments(),
                     not_before=moments.now + timedelta(seconds=60))
    assert {a["not_before"] for a in made} == {"2026-11-22T12:01:00.000Z"}
    assert claimed(run, moments, 30) == [] and sorted(claimed(run, moments, 30)) == sorted(a["id"] for a in made)


def test_coming_lists_the_held_actions_due_soon(run, moments):
    """coming() names the pending actions coming due by the time given, soonest first, each with its time."""
    enrol(run, moments, "a")
    enrol(run, moments, "b")
    now = moments()
    soon, _ = run(request_power, "b", "off", "bob", now, not_before=now + timedelta(seconds=10))
    run(request_power, "a", "off", "bob", now, not_before=now + timedelta(seconds=100))
    assert run(coming, now, now + timedelta(seconds=30)) == [(soon["id"], now + timedelta(seconds=10))]
