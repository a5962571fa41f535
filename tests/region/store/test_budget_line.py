"""
Tests for pserv.region.store.budget_line, on SQLite and PostgreSQL.
"""

import itertools
from datetime import datetime, timedelta

import pytest

from sqlalchemy import insert, update

from pserv.region import schema
from pserv.region.store.actions import cancel_action, request_power
from pserv.region.store import budget_line
from pserv.region.store.budget_line import (
    MAX_RETRY, STALE_ASK, Place, effective_budgets, places, take_starts,
)
from pserv.region.clusters import store_form
from pserv.region.store.nodes import create_node
from pserv.region.store.reports import mark_sent, report_outcome
from pserv.rpc.messages import OutcomeReport
from pserv.power.states import ActionStatus, PowerState
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


NAMES = itertools.count()


@pytest.fixture(autouse=True)
def by_moments(monkeypatch):
    """Measure budgets by the test's moments on PostgreSQL too (its own clock is tested once, below)."""
    real = budget_line.measured_at
    monkeypatch.setattr(budget_line, "measured_at", lambda connection, now: now)
    return real


def budget(run, moments, name="pdu-1", starts=2, per_seconds=10.0, in_flight=None):
    now = moments()
    run(lambda c: c.execute(insert(schema.budgets).values(
        name=name, starts=starts, per_seconds=per_seconds, in_flight=in_flight, created_at=now, updated_at=now)))


def enrol(run, moments, count, cluster="rack-1", under="pdu-1"):
    """``count`` nodes on ``cluster`` under budget ``under``, each with an ``on`` sent: their (action, node) pairs."""
    asks = []
    for _ in range(count):
        name = f"n{next(NAMES)}"
        body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
        node = run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
        run(lambda c: c.execute(update(schema.nodes).where(schema.nodes.c.id == node["id"]).values(budget=under)))
        action, _ = run(request_power, node["name"], "on", "alice", moments())
        run(mark_sent, [action["id"]], moments())
        asks.append((action["id"], node["id"]))
    return asks


def end(run, moments, action, node):
    report = OutcomeReport(action=action, node=node, status=ActionStatus.DONE, generation=1,
                           power_state=PowerState.ON, error=None, fatal=False, superseded_by=None,
                           commands=("power_on",))
    run(report_outcome, "rack-1", store_form(report), moments())


def test_starts_are_handed_out_in_waves_of_the_budget(run, moments):
    """Of five asking under 2 per 10 s, two start now; the rest wait, told their place and when to ask again."""
    budget(run, moments)
    asks = enrol(run, moments, 5)
    taken = run(take_starts, "rack-1", asks, moments())
    ids = [a for a, _ in asks]
    assert taken.granted == ids[:2] and taken.started == {"pdu-1": 2}
    assert taken.waiting == [Place(ids[2], "pdu-1", 1, 3), Place(ids[3], "pdu-1", 2, 3), Place(ids[4], "pdu-1", 3, 3)]
    assert taken.retry_after == min(10.0, MAX_RETRY)  # asked again within the window, to keep its place
    assert run(take_starts, "rack-1", asks[2:], moments(5)).granted == []
    assert run(take_starts, "rack-1", asks[2:], moments(5)).granted == ids[2:4]
    assert run(take_starts, "rack-1", asks[4:], moments(10)).granted == ids[4:]


def test_in_flight_holds_starts_until_actions_end(run, moments):
    """With at most one in flight, the second waits until the first action has ended, window or not."""
    budget(run, moments, starts=10, in_flight=1)
    asks = enrol(run, moments, 2)
    assert run(take_starts, "rack-1", asks, moments()).granted == [asks[0][0]]
    assert run(take_starts, "rack-1", asks[1:], moments(30)).granted == []
    end(run, moments, *asks[0])
    assert run(take_starts, "rack-1", asks[1:], moments()).granted == [asks[1][0]]


def test_the_line_is_shared_across_clusters_in_intent_order(run, moments):
    """A start kept for an earlier action of another cluster is not taken by a later one that asks first."""
    budget(run, moments, starts=1)
    first = enrol(run, moments, 1, cluster="rack-1")
    later = enrol(run, moments, 1, cluster="rack-2")
    run(take_starts, "rack-1", first, moments())  # takes the one start
    assert run(take_starts, "rack-2", later, moments(1)).waiting == [Place(later[0][0], "pdu-1", 1, 1)]
    second = enrol(run, moments, 1, cluster="rack-3")
    run(take_starts, "rack-3", second, moments())
    taken = run(take_starts, "rack-3", second, moments(10))
    assert taken.granted == [] and taken.waiting == [Place(second[0][0], "pdu-1", 2, 2)]
    assert run(take_starts, "rack-2", later, moments()).granted == [later[0][0]]


def test_a_place_lapses_when_its_cluster_stops_asking(run, moments):
    """A waiting action whose cluster has not asked for STALE_ASK seconds holds no start back."""
    budget(run, moments, starts=1)
    gone = enrol(run, moments, 2, cluster="rack-1")
    run(take_starts, "rack-1", gone, moments())
    other = enrol(run, moments, 1, cluster="rack-2")
    assert run(take_starts, "rack-2", other, moments(10)).granted == []
    assert run(take_starts, "rack-2", other, moments(STALE_ASK)).granted == [other[0][0]]


def test_an_ended_or_foreign_action_is_refused(run, moments):
    """A superseded or cancelled action, or one of a node the cluster does not hold, gets no start."""
    budget(run, moments)
    asks = enrol(run, moments, 2)
    run(cancel_action, asks[0][0], "alice", moments())
    taken = run(take_starts, "rack-2", asks[1:], moments())
    assert taken.refused == [asks[1][0]] and taken.granted == []
    assert run(take_starts, "rack-1", asks, moments()).refused == [asks[0][0]]


def test_an_ended_action_leaves_the_line(run, moments):
    """Once a waiting action is cancelled, those behind it move up."""
    budget(run, moments, starts=1)
    asks = enrol(run, moments, 3)
    run(take_starts, "rack-1", asks, moments())
    run(cancel_action, asks[1][0], "alice", moments())
    assert run(places, [a for a, _ in asks], moments()) == {asks[2][0]: Place(asks[2][0], "pdu-1", 1, 1)}


def test_a_node_with_no_budget_or_a_deleted_one_starts_at_once(run, moments):
    """No budget in force, or one named but gone, holds nothing back and records no start."""
    asks = enrol(run, moments, 2, under=None) + enrol(run, moments, 1, cluster="rack-1", under="gone")
    taken = run(take_starts, "rack-1", asks, moments())
    assert taken.granted == [a for a, _ in asks]
    assert run(lambda c: c.execute(schema.budget_starts.select()).all()) == []


def test_a_cluster_default_applies_to_nodes_naming_none(run, moments):
    """A node with no budget is under its cluster's default; its own budget wins over the default."""
    budget(run, moments, name="rack-default", starts=1)
    budget(run, moments, name="pdu-1", starts=5)
    plain = enrol(run, moments, 2, under=None)
    own = enrol(run, moments, 1)
    run(lambda c: c.execute(insert(schema.clusters).values(
        name="rack-1", created_at=datetime(2026, 1, 1), budget="rack-default")))
    nodes = [n for _, n in plain + own]
    assert run(effective_budgets, nodes) == {nodes[0]: "rack-default", nodes[1]: "rack-default", nodes[2]: "pdu-1"}
    taken = run(take_starts, "rack-1", plain + own, moments())
    assert taken.granted == [plain[0][0], own[0][0]]


def test_budgets_are_measured_by_the_database_clock_on_postgresql(engine, by_moments):
    """On PostgreSQL the time a start is recorded at is the server's clock, whatever the region passes."""
    passed = datetime(2001, 1, 1)
    with engine.begin() as connection:
        measured = by_moments(connection, passed)
    if engine.dialect.name == "postgresql":
        assert abs(measured - datetime.utcnow()) < timedelta(minutes=5)
    else:
        assert measured == passed


def test_a_node_moving_away_is_still_its_old_clusters_to_start(run, moments):
    """While a node moves, the old cluster, which still runs its action, may take its start; a third may not."""
    budget(run, moments)
    asks = enrol(run, moments, 1)
    run(lambda c: c.execute(update(schema.nodes).values(cluster="rack-2", moving_from="rack-1")))
    assert run(take_starts, "rack-3", asks, moments()).refused == [asks[0][0]]
    assert run(take_starts, "rack-1", asks, moments()).granted == [asks[0][0]]
