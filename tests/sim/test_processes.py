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
