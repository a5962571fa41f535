"""
Tests for pserv.region.clusters: the region's end of the cluster RPC, on
SQLite and PostgreSQL, with a recording stand-in for a cluster's connection.
"""

import gc

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import fail, succeed
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from pserv.power.states import ActionStatus, PowerState
from pserv.region.clusters import UNDELIVERED, ConnectedClusters
from pserv.region.db import Database
from pserv.region.store.actions import get_action, request_power
from pserv.region.store.clusters import list_clusters
from pserv.region.store.nodes import create_node, get_node, update_node
from pserv.rpc.messages import (
    ActionReports, BudgetPlace, OutcomeReport, RecoveryQuery, ReportsAnswer, RunningReport, StartAsk,
)
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


class RecordingConnection:
    def __init__(self, broken=False, group=None):
        self.performed, self.cancelled, self.released, self.broken = [], [], [], broken
        self.adopted, self.group = [], group

    def adopt_nodes(self, adopt):
        self.adopted.append(adopt.nodes)
        return fail(ConnectionError("gone")) if self.broken else succeed(None)

    def perform_power(self, requests):
        self.performed.extend(requests)
        return fail(ConnectionError("gone")) if self.broken else succeed({})

    def cancel_action(self, cancel):
        self.cancelled.append((cancel.node, cancel.action))
        return succeed(True)

    def release_node(self, release):
        self.released.append(release.node)
        return fail(ConnectionError("gone")) if self.broken else succeed(None)


@pytest.fixture
def hub(engine):
    database = Database(engine, reactor)
    yield ConnectedClusters(database, reactor)
    database.stop()


def enrol(hub, moments, name, cluster):
    body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
    return hub.database.run_now(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


@pytest_twisted.ensureDeferred
async def test_connected_cluster_gets_its_actions(hub, moments):
    """A connected cluster is registered and handed its nodes' pending actions, marked sent."""
    rack1, rack2 = RecordingConnection(), RecordingConnection()
    await hub.cluster_connected("rack-1", rack1)
    enrol(hub, moments, "n0", "rack-1")
    enrol(hub, moments, "n1", "rack-3")
    mine, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    hub.database.run_now(request_power, "n1", "on", "a", moments())
    assert await hub.deliver() == 1
    assert [(r.action, r.kind, r.power_type) for r in rack1.performed] == [(mine["id"], "on", "fake")]
    assert hub.database.run_now(get_action, mine["id"])["status"] == "sent"
    assert rack2.performed == []
    described = hub.database.run_now(list_clusters, hub.now())
    assert [(c["name"], c["connected"], c["region"]) for c in described] == [("rack-1", True, "region")]


@pytest_twisted.ensureDeferred
async def test_a_node_under_a_budget_is_delivered_naming_it_and_its_starts_are_taken(hub, moments, monkeypatch):
    """A request names the node's budget (its cluster's default here); TakeStarts grants the budget's one start."""
    from sqlalchemy import insert, update

    from pserv.region import schema
    from pserv.region.store import budget_line

    monkeypatch.setattr(budget_line, "measured_at", lambda connection, now: now)
    rack1 = RecordingConnection()
    await hub.cluster_connected("rack-1", rack1)
    now = moments()
    hub.database.run_now(lambda c: c.execute(insert(schema.budgets).values(
        name="pdu-1", starts=1, per_seconds=10.0, created_at=now, updated_at=now)))
    hub.database.run_now(lambda c: c.execute(update(schema.clusters).values(budget="pdu-1")))
    for name in ("n0", "n1"):
        enrol(hub, moments, name, "rack-1")
        hub.database.run_now(request_power, name, "on", "a", moments())
    await hub.deliver()
    assert [r.budget for r in rack1.performed] == ["pdu-1", "pdu-1"]
    answer = await hub.take_starts("rack-1", [StartAsk(r.action, r.node) for r in rack1.performed])
    first, second = rack1.performed
    assert answer.granted == (first.action,) and answer.waiting == (BudgetPlace(second.action, "pdu-1", 1, 1),)
    assert b'pserv_budget_starts_total{budget="pdu-1"} 1.0' in hub.metrics.exposition()


@pytest_twisted.ensureDeferred
async def test_lost_delivery_waits_for_recovery(hub, moments):
    """A delivery the connection drops leaves the action sent, for recovery to hand over again."""
    await hub.cluster_connected("rack-1", RecordingConnection(broken=True))
    enrol(hub, moments, "n0", "rack-1")
    action, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    await hub.deliver([action["id"]])
    page = await hub.recover("rack-1", RecoveryQuery(after=None, limit=10))
    assert [a.id for a in page.nodes[0].actions] == [action["id"]]


@pytest_twisted.ensureDeferred
async def test_disconnected_clusters_get_nothing(hub, moments):
    """After a cluster disconnects, its pending actions stay pending."""
    connection = RecordingConnection()
    await hub.cluster_connected("rack-1", connection)
    hub.cluster_disconnected("rack-1", connection)
    enrol(hub, moments, "n0", "rack-1")
    action, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    assert await hub.deliver() == 0
    assert hub.database.run_now(get_action, action["id"])["status"] == "pending"


@pytest_twisted.ensureDeferred
async def test_reports_and_cancel_pass_through(hub, moments):
    """Reports reach the store under the cluster's name; cancels reach the cluster."""
    connection = RecordingConnection()
    await hub.cluster_connected("rack-1", connection)
    node = enrol(hub, moments, "n0", "rack-1")
    action, _ = hub.database.run_now(request_power, "n0", "off", "a", moments())
    await hub.deliver()
    assert await hub.report_actions("rack-1", ActionReports(running=(RunningReport(action["id"]),))) == ReportsAnswer()
    outcome = OutcomeReport(action=action["id"], node=node["id"], status=ActionStatus.DONE, generation=1,
                            power_state=PowerState.OFF, error=None, fatal=False, superseded_by=None, commands=(),
                            observed_at=moments())
    answer = await hub.report_actions("rack-1", ActionReports(outcomes=(outcome,)))
    assert answer == ReportsAnswer(applied=(action["id"],))
    assert hub.database.run_now(get_node, node["id"])["power_state"] == "off"
    hub.cancel("rack-1", node["id"], action["id"])
    assert connection.cancelled == [(node["id"], action["id"])]


@pytest_twisted.ensureDeferred
async def test_reports_and_the_actions_they_end_are_counted_once(hub, moments):
    """The hub's metrics count each report by kind and the outcome's action once, though the batch comes twice."""
    from tests.region.test_metrics import samples

    await hub.cluster_connected("rack-1", RecordingConnection())
    node = enrol(hub, moments, "m0", "rack-1")
    action, _ = hub.database.run_now(request_power, "m0", "off", "a", moments())
    await hub.deliver()
    outcome = OutcomeReport(action=action["id"], node=node["id"], status=ActionStatus.DONE, generation=1,
                            power_state=PowerState.OFF, error=None, fatal=False, superseded_by=None, commands=(),
                            observed_at=moments())
    batch = ActionReports(running=(RunningReport(action["id"]),), outcomes=(outcome,))
    await hub.report_actions("rack-1", batch)
    await hub.report_actions("rack-1", batch)
    found = samples(hub.metrics)
    assert found[("pserv_actions_total", (("kind", "off"), ("status", "done")))] == 1.0
    assert found[("pserv_action_seconds_count", (("kind", "off"),))] == 1.0
    assert found[("pserv_reports_total", (("kind", "outcome"),))] == 2.0
    assert (found[("pserv_report_batches_recording", ())], found[("pserv_clusters_connected", ())]) == (0.0, 1.0)


class RaisingConnection(RecordingConnection):
    """A connection that cannot even send, and quotes the request in its error."""

    def perform_power(self, requests):
        raise TypeError(f"cannot send {requests}")


@pytest_twisted.ensureDeferred
async def test_a_failed_start_delivery_is_logged_without_secrets(hub, moments):
    """start_delivery logs a failing hand-over as one handled error, no secret; recovery still has the action."""
    await hub.cluster_connected("rack-1", RaisingConnection())
    body = {"name": "n0", "power_type": "fake", "cluster": "rack-1",
            "power_parameters": {"address": "n0", "password": "n0t-the-Password"}}
    hub.database.run_now(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    action, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        assert await hub.start_delivery([action["id"]]) is None
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(events.append)
    errors = [e for e in events if e.get("log_level") in (LogLevel.error, LogLevel.critical) or e.get("isError")]
    assert [e["log_format"] for e in errors] == [UNDELIVERED]
    assert "builtins.TypeError" in formatEvent(errors[0]) and f"actions [{action['id']}]" in formatEvent(errors[0])
    assert not any("n0t-the-Password" in repr(e) + formatEvent(e) for e in events)
    page = await hub.recover("rack-1", RecoveryQuery(after=None, limit=10))
    assert [a.id for a in page.nodes[0].actions] == [action["id"]]


@pytest_twisted.ensureDeferred
async def test_a_moved_node_goes_to_its_new_cluster_once_the_old_gives_it_up(hub, moments):
    """A cluster is asked to give up the nodes moved away from it as it connects; then the new cluster gets them."""
    node = enrol(hub, moments, "n0", "rack-1")
    action, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    hub.database.run_now(update_node, "n0", {"cluster": "rack-2"}, moments())
    rack2 = RecordingConnection()
    await hub.cluster_connected("rack-2", rack2)
    assert rack2.released == [] and rack2.performed == []
    rack1 = RecordingConnection()
    await hub.cluster_connected("rack-1", rack1)
    assert rack1.released == [node["id"]] and rack1.performed == []
    assert [r.action for r in rack2.performed] == [action["id"]] and rack2.performed[0].epoch == 1
    assert hub.database.run_now(get_node, "n0")["moving_from"] is None


@pytest_twisted.ensureDeferred
async def test_a_node_not_given_up_stays_moving(hub, moments):
    """A release the old cluster does not answer leaves the node moving and its actions pending."""
    enrol(hub, moments, "n0", "rack-1")
    action, _ = hub.database.run_now(request_power, "n0", "on", "a", moments())
    hub.database.run_now(update_node, "n0", {"cluster": "rack-2"}, moments())
    rack2 = RecordingConnection()
    await hub.cluster_connected("rack-2", rack2)
    await hub.cluster_connected("rack-1", RecordingConnection(broken=True))
    await hub.start_releases()
    assert hub.database.run_now(get_node, "n0")["moving_from"] == "rack-1"
    assert rack2.performed == [] and hub.database.run_now(get_action, action["id"])["status"] == "pending"


class RecordingPeers:
    """The other regions, as far as a test cares: what they were told."""

    def __init__(self):
        self.told = []

    def tell(self, messages):
        self.told.extend(messages)
        return succeed(None)


@pytest.fixture
def shared(engine):
    """A region's clusters whose peers record what they are told."""
    database = Database(engine, reactor)
    yield ConnectedClusters(database, reactor, RecordingPeers())
    database.stop()


@pytest_twisted.ensureDeferred
async def test_what_is_for_a_cluster_connected_elsewhere_is_told_to_the_other_regions(shared, moments):
    """With its cluster not connected here, an action to hand over, a cancel, a release and an adoption are told to the other regions."""
    enrol(shared, moments, "n0", "rack-1")
    action, _ = shared.database.run_now(request_power, "n0", "on", "a", moments())
    await shared.start_delivery([action["id"]])
    shared.cancel("rack-1", 1, action["id"])
    await shared.release("rack-1", 1)
    await shared.adopt("rack-1", [1, 2])
    assert [(m.kind, m.ids, m.cluster) for m in shared.peers.told] == [
        ("deliver", (action["id"],), ""), ("cancel", (1, action["id"]), "rack-1"), ("release", (1,), "rack-1"),
        ("adopt", (1, 2), "rack-1")]


@pytest_twisted.ensureDeferred
async def test_an_adoption_a_dead_connection_here_lost_is_told_to_the_other_regions(shared, moments):
    """
    A connection here that fails to carry an adoption may be one its
    cluster has left for another region, where it is connected and will not
    recover again: the other regions are told (found by the simulation with
    two regions and a partition, seed 101: the failed-over node's new holder
    never heard of it, and its actions stayed timed out for good).
    """
    await shared.cluster_connected("rack-1", RecordingConnection(broken=True))
    await shared.adopt("rack-1", [1, 2])
    assert [(m.kind, m.ids, m.cluster) for m in shared.peers.told] == [("adopt", (1, 2), "rack-1")]


@pytest_twisted.ensureDeferred
async def test_what_another_region_tells_reaches_a_cluster_connected_here(shared, moments):
    """Heard from another region: actions are handed over, and a cancel, a release and an adoption go to the cluster; nothing is told on."""
    from pserv.region.peers import PeerMessage

    rack1 = RecordingConnection()
    await shared.cluster_connected("rack-1", rack1)
    enrol(shared, moments, "n0", "rack-1")
    action, _ = shared.database.run_now(request_power, "n0", "on", "a", moments())
    shared.hear(PeerMessage("deliver", (action["id"],), "", "region-b"))
    shared.hear(PeerMessage("cancel", (1, action["id"]), "rack-1", "region-b"))
    shared.hear(PeerMessage("adopt", (1,), "rack-1", "region-b"))
    shared.hear(PeerMessage("release", (5,), "rack-9", "region-b"))
    await shared.start_delivery([action["id"]], told=True)  # waits for the claim the message started
    assert [r.action for r in rack1.performed] == [action["id"]]
    assert rack1.cancelled == [(1, action["id"])] and rack1.adopted == [(1,)] and rack1.released == []
    assert shared.peers.told == []


@pytest_twisted.ensureDeferred
async def test_a_group_member_connecting_is_told_to_the_leader_wherever_it_is(shared, moments):
    """A member of a group connecting here, or heard of from another region, calls on_grouped; the other regions are told of it, not of an ungrouped cluster."""
    called = []
    shared.on_grouped = lambda: called.append(len(called))
    await shared.cluster_connected("rack-0", RecordingConnection())
    await shared.cluster_connected("rack-1", RecordingConnection(group="row-a"))
    assert [(m.kind, m.ids, m.cluster) for m in shared.peers.told] == [("grouped", (), "rack-1")]
    from pserv.region.peers import PeerMessage

    shared.hear(PeerMessage("grouped", (), "rack-7", "region-b"))
    assert called == [0, 1]


@pytest.fixture
def timed(engine, moments):
    """Clusters on a hand-driven clock, set to the store's moments."""
    from datetime import timezone

    from twisted.internet.task import Clock

    clock = Clock()
    clock.advance(moments.now.replace(tzinfo=timezone.utc).timestamp())
    database = Database(engine, reactor)
    yield ConnectedClusters(database, clock), clock
    database.stop()


def schedule_off(hub, clock, name, seconds):
    from datetime import timedelta

    now = hub.now()
    action, _ = hub.database.run_now(request_power, name, "off", "a", now, not_before=now + timedelta(seconds=seconds))
    return action


@pytest_twisted.ensureDeferred
async def test_a_scheduled_action_is_handed_over_at_its_time_not_before(timed, moments):
    """A scheduled action is held from every claim until its time, then its timer hands it over, once."""
    from pserv.util.times import moment_from_iso

    hub, clock = timed
    rack1 = RecordingConnection()
    await hub.cluster_connected("rack-1", rack1)
    enrol(hub, moments, "n0", "rack-1")
    action = schedule_off(hub, clock, "n0", 60)
    delivered = hub.deliver_at(action["id"], moment_from_iso(action["not_before"]))
    assert hub.deliver_at(action["id"], moment_from_iso(action["not_before"])) is not delivered
    assert await hub.deliver() == 0
    clock.advance(59)
    assert await hub.deliver() == 0 and rack1.performed == []
    clock.advance(1)
    assert not delivered.called  # its timer fires DUE_MARGIN after the time
    clock.advance(0.001)
    assert await delivered == 1
    assert [r.action for r in rack1.performed] == [action["id"]]
    assert hub.database.run_now(get_action, action["id"])["status"] == "sent"


@pytest_twisted.ensureDeferred
async def test_after_a_restart_the_sweep_arms_the_timers_of_actions_coming_due(timed, moments):
    """A region that did not accept a scheduled action (or restarted) arms its timer from the database in time."""
    hub, clock = timed
    rack1 = RecordingConnection()
    await hub.cluster_connected("rack-1", rack1)
    enrol(hub, moments, "n0", "rack-1")
    enrol(hub, moments, "n1", "rack-1")
    soon, later = schedule_off(hub, clock, "n0", 20), schedule_off(hub, clock, "n1", 100)
    await hub.arm_coming(30)
    assert sorted(hub._timers) == [soon["id"]]
    timer = hub._timers[soon["id"]]
    clock.advance(20.001)
    assert await timer == 1 and [r.action for r in rack1.performed] == [soon["id"]]
    assert hub.database.run_now(get_action, soon["id"])["status"] == "sent"
    assert hub.database.run_now(get_action, later["id"])["status"] == "pending"


def test_stopped_timers_hand_nothing_over(timed, moments):
    """Stopping the timers (the region stops) leaves the scheduled action pending, for the next sweep."""
    from datetime import datetime

    hub, clock = timed
    waiting = hub.deliver_at(7, datetime(2026, 11, 22, 12, 1))
    hub.stop_timers()
    clock.advance(120)
    assert waiting.called and waiting.result is None and hub._timers == {}
