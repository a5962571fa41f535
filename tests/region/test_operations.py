"""
Tests for pserv.region.operations: each change committed, then carried to
the clusters, once, for the API and the UI alike; on SQLite and PostgreSQL.
"""

from datetime import datetime, timezone

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import succeed

from pserv.region.auth import TokenCheck, Unauthorized
from pserv.region.db import Database
from pserv.region.roles import Role
from pserv.region.store.tokens import create_token, revoke_token
from pserv.region.metrics import RegionMetrics
from pserv.region.operations import Operations
from pserv.region.store.actions import get_action, list_node_actions
from pserv.region.store.batches import get_batch
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE

NODE = {"name": "node-1", "cluster": "rack-1", "power_type": "fake", "power_parameters": {"address": "bmc-1"}}


class Clusters:
    """What the operations ask of the connected clusters, written down."""

    def __init__(self):
        self.delivered, self.cancelled, self.released = [], [], []
        self.metrics = RegionMetrics(None)

    def start_delivery(self, ids):
        self.delivered.append(ids)
        return succeed(len(ids))

    def cancel(self, cluster, node, action):
        self.cancelled.append((cluster, node, action))

    def release(self, cluster, node):
        self.released.append((cluster, node))
        return succeed(None)


class Region(Operations):
    def __init__(self, engine):
        self.database = Database(engine, reactor)
        self.clusters = Clusters()
        self.power_types = POWER_TYPES_WITH_FAKE

    def now(self):
        return datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc).replace(tzinfo=None)


@pytest_twisted.async_yield_fixture
async def region(engine):
    made = Region(engine)
    made.database.start()
    yield made
    made.database.stop()


@pytest_twisted.ensureDeferred
async def test_a_new_node_and_a_new_request_are_handed_over_a_duplicate_is_not(region):
    """Enrolling hands its first read over; a request hands its action over; the same request again does not."""
    node = await region.enrol_node(NODE)
    [[reading]] = region.clusters.delivered
    action, created = await region.ask_for_power("node-1", "off", "alice")
    again, joined = await region.ask_for_power("node-1", "off", "bob")
    assert (created, joined, again["id"]) == (True, False, action["id"])
    assert region.clusters.delivered == [[reading], [action["id"]]] and node["cluster"] == "rack-1"


@pytest_twisted.ensureDeferred
async def test_a_bulk_request_is_one_batch_handed_over_at_once(region):
    """A bulk request commits its batch and hands all its actions over in one delivery; a dry run is not one."""
    await region.enrol_node(NODE)
    await region.enrol_node({**NODE, "name": "node-2", "power_parameters": {"address": "bmc-2"}})
    region.clusters.delivered.clear()
    batch, done, _ = await region.ask_for_bulk_power(None, {"cluster": "rack-1"}, "off", "alice", reason="rack move")
    assert region.clusters.delivered == [[a["id"] for a in done]] and len(done) == 2
    assert region.database.run_now(get_batch, batch)["size"] == 2 and done[0]["reason"] == "rack move"


@pytest_twisted.ensureDeferred
async def test_a_move_asks_the_old_cluster_to_give_the_node_up(region):
    """Changing the cluster hands the new read over and asks the old cluster to release the node."""
    node = await region.enrol_node(NODE)
    changed = await region.change_node("node-1", {"cluster": "rack-2"})
    assert changed["moving_from"] == "rack-1" and region.clusters.released == [("rack-1", node["id"])]


@pytest_twisted.ensureDeferred
async def test_a_pending_cancel_ends_at_once_and_one_in_flight_is_sent_to_its_cluster(region):
    """Cancelling a pending action ends it with nothing sent; one the cluster holds is asked to stop there."""
    node = await region.enrol_node({**NODE, "cluster": None})
    first, _ = await region.ask_for_power("node-1", "off", "alice")
    result, cancelled = await region.withdraw_action(first["id"], "alice")
    assert (cancelled, result["status"], region.clusters.cancelled) == (True, "cancelled", [])
    second, _ = await region.ask_for_power("node-1", "on", "alice")
    from sqlalchemy import update

    from pserv.region import schema
    region.database.run_now(lambda c: c.execute(update(schema.power_actions).where(
        schema.power_actions.c.id == second["id"]).values(status="sent")))
    result, cancelled = await region.withdraw_action(second["id"], "bob")
    assert cancelled is False and region.clusters.cancelled == [(None, node["id"], second["id"])]
    assert region.database.run_now(get_action, second["id"])["cancel_requested"] is True


@pytest_twisted.ensureDeferred
async def test_a_pending_action_cancelled_here_counts_in_the_metrics_one_in_flight_when_its_outcome_comes(region):
    """The pending action an operator cancels counts as cancelled at once; a cancel only asked of a cluster does not."""
    from tests.region.test_metrics import samples

    await region.enrol_node({**NODE, "cluster": None})
    first, _ = await region.ask_for_power("node-1", "cycle", "alice")
    await region.withdraw_action(first["id"], "alice")
    found = samples(region.clusters.metrics)
    assert found[("pserv_actions_total", (("kind", "cycle"), ("status", "cancelled")))] == 1.0
    assert found[("pserv_action_seconds_count", (("kind", "cycle"),))] == 1.0
    assert sum(v for (name, _), v in found.items() if name == "pserv_actions_total") == 1.0


@pytest_twisted.ensureDeferred
async def test_a_pending_action_a_request_supersedes_counts_in_the_metrics_once(region):
    """A pending on superseded by an off counts as superseded, alone or in bulk; a request that only joins counts nothing."""
    from tests.region.test_metrics import samples

    from datetime import timedelta
    from itertools import count

    ticks = count()
    region.now = lambda: datetime(2026, 11, 22, 12, 0) + timedelta(seconds=next(ticks))  # as a real clock runs
    await region.enrol_node({**NODE, "cluster": None})
    await region.ask_for_power("node-1", "on", "alice")
    await region.ask_for_power("node-1", "off", "alice")
    await region.ask_for_power("node-1", "off", "alice")
    await region.ask_for_bulk_power(["node-1"], None, "on", "alice")
    await region.ask_for_bulk_power(["node-1"], None, "on", "alice")
    found = samples(region.clusters.metrics)
    superseded = {labels: v for (name, labels), v in found.items()
                  if name == "pserv_actions_total" and ("status", "superseded") in labels}
    assert superseded[(("kind", "on"), ("status", "superseded"))] == 1.0
    assert superseded[(("kind", "off"), ("status", "superseded"))] == 1.0
    assert sum(v for (name, _), v in found.items() if name == "pserv_actions_total") == 2.0


@pytest_twisted.ensureDeferred
async def test_a_power_request_s_token_is_checked_in_its_own_transaction(region):
    """A TokenCheck as who asks: its name is the requester; revoked, it is refused and nothing is written or handed over."""
    await region.enrol_node(NODE)
    region.clusters.delivered.clear()
    token = region.database.run_now(create_token, "ops", region.now(), Role.OPERATOR)
    action, created = await region.ask_for_power("node-1", "on", TokenCheck(token, Role.OPERATOR))
    assert (action["requested_by"], created, region.clusters.delivered) == ("ops", True, [[action["id"]]])
    region.database.run_now(revoke_token, "ops", region.now())
    with pytest.raises(Unauthorized):
        await region.ask_for_power("node-1", "off", TokenCheck(token, Role.OPERATOR))
    [newest], _ = region.database.run_now(list_node_actions, "node-1", 1, None)
    assert newest["id"] == action["id"] and region.clusters.delivered == [[action["id"]]]

