"""
Tests for pserv.sim.processes, pserv.sim.operators and pserv.sim.workload
together: the simulated region and clusters start, crash and restart.
"""

from random import Random

from pserv.testing.power import advance_until_idle
from pserv.sim.world import Shape, World


def started(seed=1):
    world = World(seed, Shape(steps=1, nodes=0, clusters=1), {})
    world.region.start()
    world.clusters[0].start()
    world.workload.add_node(Random(seed))
    advance_until_idle(world.clock, 5)
    return world


def test_an_enrolled_node_is_read_and_a_request_switches_it():
    """An operator enrols a node and powers it on through the API; the BMC goes on."""
    world = started()
    [node] = world.live_nodes()
    world.workload._request(node, "on", 0)
    advance_until_idle(world.clock, 30)
    assert [bmc.power.value for bmc in world.fleet.bmcs.values()] == ["on"]
    assert len(world.checker.acknowledged) == 1 and world.checker.violations == []


def test_the_region_restarts_on_its_database():
    """A crashed region loses no committed node, and its cluster reconnects to the new one."""
    world = started()
    world.region.crash()
    assert not world.region.up
    world.region.start()
    advance_until_idle(world.clock, 120)
    assert world.region.incarnation == 2 and world.live_nodes()
    assert world.region.region.clusters.connections.keys() == {"rack-1"}


def test_a_cluster_restarts_knowing_nothing():
    """A crashed cluster comes back as a new process with a new daemon."""
    world = started()
    before = world.clusters[0].daemon
    world.clusters[0].crash()
    world.clusters[0].start()
    advance_until_idle(world.clock, 60)
    assert world.clusters[0].daemon is not before and world.clusters[0].process.name == "rack-1#2"


def test_an_operator_gets_no_answer_from_a_dead_region():
    """With the region down, an API call fails: nothing is acknowledged."""
    world = started()
    world.region.crash()
    world.workload._request(world.live_nodes()[0], "off", 0)
    advance_until_idle(world.clock, 5)
    assert world.workload.answers.get("no answer") == 1 and not world.checker.acknowledged


def test_a_region_that_dies_hands_on_leadership_and_its_clusters_fail_over():
    """With two regions, the first leads; when it dies the second leads and the cluster connects to it."""
    world = World(1, Shape(steps=1, nodes=0, clusters=1), {})
    world.start()
    advance_until_idle(world.clock, 5)
    first, second = world.regions
    assert first.peers.leads() and not second.peers.leads()
    assert set(first.region.clusters.connections) | set(second.region.clusters.connections) == {"rack-1"}
    first.crash()
    assert second.peers.leads()
    advance_until_idle(world.clock, 40)
    assert second.region.clusters.connections.keys() == {"rack-1"}
    first.start()
    assert second.peers.leads() and not first.peers.leads()


def test_a_partitioned_member_loses_its_lease_and_its_nodes_fail_over():
    """rack-1 cut off past its lease stops acting; its group's nodes go to rack-2; healed, it comes back."""
    from sqlalchemy import select

    from pserv.region import schema

    world = World(1, Shape(steps=1, nodes=0), {})
    world.start()
    for _ in range(8):
        world.workload.add_node(Random(3))
    for _ in range(10):
        world._second()
    with world.engine.connect() as connection:
        before = dict(connection.execute(select(schema.nodes.c.id, schema.nodes.c.cluster)
                                         .where(schema.nodes.c.group.is_not(None))).all())
    assert "rack-1" in before.values()
    heal = world.partition_cluster(60, world.clusters[0])
    for _ in range(40):
        world._second()
    assert world.clusters[0].daemon.lease.until is None
    with world.engine.connect() as connection:
        after = dict(connection.execute(select(schema.nodes.c.id, schema.nodes.c.cluster)
                                        .where(schema.nodes.c.group.is_not(None))).all())
    assert set(after.values()) == {"rack-2"}
    heal()
    for _ in range(60):
        world._second()
    assert world.clusters[0].daemon.lease.holds() and world.checker.violations == []
