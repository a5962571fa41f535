"""
Tests for pserv.region.store.clusters, on SQLite and PostgreSQL.
"""

from datetime import timedelta

from sqlalchemy import update

from pserv.region import schema
from pserv.region.store.clusters import disconnected, heartbeat, list_clusters, readings, register_cluster
from pserv.region.store.nodes import create_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_register_once_and_count_nodes(run, moments):
    """A cluster is registered on first contact, seen again later, and counts its nodes."""
    assert run(register_cluster, "rack-1", moments())
    assert not run(register_cluster, "rack-1", moments(5))
    run(create_node, {"name": "n", "power_type": "fake", "cluster": "rack-1", "power_parameters": {"address": "a"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    assert run(list_clusters) == [
        {"name": "rack-1", "group": None, "connected": False, "region": None, "last_heartbeat": None,
         "lease_expires_at": None, "draining": False, "last_seen_at": "2026-11-22T12:00:05.000Z", "node_count": 1}
    ]


def test_readings_count_fresh_never_and_error_by_cluster(run, moments):
    """Per cluster: nodes, read since the time given, never read, read as error, the oldest and newest reading."""
    now = moments()
    for n, (cluster, state, ago) in enumerate([("r1", "on", 10), ("r1", "error", 900), ("r1", "unknown", None),
                                               (None, "off", 5)]):
        node = run(create_node, {"name": f"n{n}", "cluster": cluster, "power_type": "manual"}, now)
        at = None if ago is None else now - timedelta(seconds=ago)
        run(lambda c, i=node["id"], s=state, t=at: c.execute(
            update(schema.nodes).where(schema.nodes.c.id == i).values(power_state=s, power_state_observed_at=t)))
    found = {r["cluster"]: r for r in run(readings, now - timedelta(seconds=600))}
    assert {k: (v["nodes"], v["fresh"], v["never"], v["errors"]) for k, v in found.items()} == {
        "r1": (3, 1, 1, 1), None: (1, 1, 0, 0)}
    assert found["r1"]["oldest"] < found["r1"]["newest"]


def test_a_cluster_is_connected_while_its_lease_runs_on_its_region(run, moments):
    """A heartbeat names the region and renews the lease; the listing shows it connected until the lease ends or it leaves."""
    run(register_cluster, "rack-1", moments(), "region-a", "row-a", 10.0)
    run(heartbeat, "rack-1", "region-b", moments(5), 10.0)
    [shown] = run(list_clusters, moments())
    assert (shown["connected"], shown["region"], shown["group"]) == (True, "region-b", "row-a")
    assert (shown["last_heartbeat"], shown["lease_expires_at"]) == ("2026-11-22T12:00:05.000Z", "2026-11-22T12:00:15.000Z")
    [later] = run(list_clusters, moments(11))
    assert (later["connected"], later["region"]) == (False, None)


def test_leaving_one_region_does_not_undo_a_connection_to_another(run, moments):
    """A disconnect from region A after the cluster connected to region B leaves it connected to B."""
    run(register_cluster, "rack-1", moments(), "region-a", None, 10.0)
    run(register_cluster, "rack-1", moments(1), "region-b", None, 10.0)
    run(disconnected, "rack-1", "region-a")
    assert run(list_clusters, moments())[0]["region"] == "region-b"
    run(disconnected, "rack-1", "region-b")
    assert run(list_clusters, moments())[0]["connected"] is False
