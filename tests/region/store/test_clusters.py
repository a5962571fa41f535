"""
Tests for pserv.region.store.clusters, on SQLite and PostgreSQL.
"""

from pserv.region.store.clusters import list_clusters, register_cluster
from pserv.region.store.nodes import create_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_register_once_and_count_nodes(run, moments):
    """A cluster is registered on first contact, seen again later, and counts its nodes."""
    assert run(register_cluster, "rack-1", moments())
    assert not run(register_cluster, "rack-1", moments(5))
    run(create_node, {"name": "n", "power_type": "fake", "cluster": "rack-1", "power_parameters": {"address": "a"}},
        moments(), power_types=POWER_TYPES_WITH_FAKE)
    assert run(list_clusters) == [
        {"name": "rack-1", "last_seen_at": "2026-11-22T12:00:05.000Z", "node_count": 1}
    ]
