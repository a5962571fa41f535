"""
Tests for pserv.sim.world: determinism, and that the harness catches a real
bug when one is put back.
"""

import subprocess
import sys

from pserv.sim.faults import parse_faults
from pserv.sim.world import Shape, World

SHORT = Shape(steps=40)


def test_same_seed_same_run_event_for_event():
    """Two worlds of one seed log the same events in the same order."""
    first = World(5, SHORT, parse_faults("all"))
    second = World(5, SHORT, parse_faults("all"))
    assert first.run().digest == second.run().digest
    assert first.events == second.events


def test_another_seed_another_run():
    """Seeds make different worlds."""
    assert World(5, SHORT, parse_faults("all")).run().digest != World(6, SHORT, parse_faults("all")).run().digest


def test_same_run_in_another_process_with_another_hash_seed():
    """The run does not depend on Python's string hashing (set order), so a replay elsewhere matches."""
    digests = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "pserv.sim", "--seed", "5", "--steps", "40"],
            capture_output=True, text=True, env={"PYTHONHASHSEED": hash_seed, "PATH": ""}, timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        digests.update(line for line in done.stdout.splitlines() if '"digest"' in line)
    assert len(digests) == 1


def test_without_faults_everything_is_done_and_converges_fast():
    """With no fault, every request ends and the world converges at the first check."""
    result = World(3, SHORT, {}).run()
    assert result.ok and result.converged_after == 5.0
    assert result.summary["acknowledged actions"] > 0


def test_a_bug_put_back_is_caught(monkeypatch):
    """With the cluster's memory of ended actions removed, a known seed breaks invariant 4 (an ended action re-run)."""
    import pserv.cluster.power

    monkeypatch.setattr(pserv.cluster.power, "ENDED_MEMORY", 0)
    result = World(7, Shape(steps=100), parse_faults("all")).run()  # re-picked: the first seed from 1 that catches it
    assert any(v.invariant == 4 for v in result.violations), result.violations


def test_a_move_without_a_hand_over_is_caught(monkeypatch):
    """A move that gives the node to its new cluster at once lets two clusters read one BMC: invariant 1."""
    import pserv.region.store.nodes
    from pserv.region.store.moves import move_to

    def at_once(connection, node, cluster, now):
        return {**move_to(connection, node, cluster, now), "moving_from": None}

    monkeypatch.setattr(pserv.region.store.nodes, "move_to", at_once)
    result = World(10, Shape(steps=60), parse_faults("all")).run()  # re-picked: the first seed from 1 that catches it
    assert any(v.invariant == 1 for v in result.violations), result.violations


def test_a_hand_over_that_leaves_the_new_cluster_unaware_is_caught(monkeypatch):
    """A hand-over that does not tell the new cluster of the node (its query timed out while the old one was down) never sees its power change: invariant 3."""
    import pserv.region.store.actions
    import pserv.region.store.moves
    from pserv.sim.convergence import unconverged

    for broken in (True, False):
        if broken:
            monkeypatch.setattr(pserv.region.store.actions, "hand_over", pserv.region.store.moves.released)
        world = World(3, Shape(steps=0, nodes=0, skew=0), {})
        address = enrol_one(world)
        rack1 = world.clusters[0]
        rack1.crash()
        world.workload._call("PATCH", "/api/v1/nodes/n1", {"cluster": "rack-2"}, None)
        for _ in range(60):
            world._second()
        rack1.start()
        world.press_button(address)
        for _ in range(120):
            world._second()
        queried = [line for line in world.events if f"rack-2#1: query {address}" in line]
        assert (bool(queried), not unconverged(world.engine, world.truth, world.region.offset)) == (not broken,) * 2
        monkeypatch.undo()


def test_ordering_reads_by_two_clocks_is_caught(monkeypatch):
    """Comparing the old and the new cluster's clocks after a move keeps a stale read: invariant 5."""
    from sqlalchemy import select, update

    import pserv.region.store.moves
    import pserv.region.store.reports
    from pserv.region import schema

    released, nodes = pserv.region.store.moves.released, schema.nodes

    def keeping_the_time(connection, node_id, cluster, now):
        kept = connection.execute(select(nodes.c.power_state_observed_at).where(nodes.c.id == node_id)).scalar()
        pending = released(connection, node_id, cluster, now)
        connection.execute(update(nodes).where(nodes.c.id == node_id).values(power_state_observed_at=kept))
        return pending

    def by_any_clock(node, report):
        seen = pserv.region.store.reports._parse_time(report.get("observed_at"))
        shown = node.power_state_observed_at
        return None if seen is None or (shown is not None and seen <= shown) else seen

    monkeypatch.setattr(pserv.region.store.moves, "released", keeping_the_time)
    monkeypatch.setattr(pserv.region.store.reports, "newer", by_any_clock)
    result = World(3, Shape(steps=60), parse_faults("all")).run()  # re-picked: the first seed from 1 that catches it
    assert any(v.invariant == 5 for v in result.violations), result.violations


def enrol_one(world):
    """Start ``world`` with one node, ``n1`` on ``rack-1``, enrolled and read; its BMC's address."""
    world.region.start()
    for cluster in world.clusters:
        cluster.start()
    address = world.new_bmc()
    body = {"name": "n1", "cluster": "rack-1", "power_type": "fake", "power_parameters": {"address": address}}
    world.workload._call("POST", "/api/v1/nodes", body, lambda node: world.enrolled(address, node["id"]))
    for _ in range(5):
        world._second()
    return address


def moved_during_a_partition():
    """
    A world whose one node, on ``rack-1``, was moved to ``rack-2`` while
    ``rack-1``'s connection stalls for 120 s, ten seconds ago: the move's
    query waits for ``rack-1`` to give the node up, and times out first.
    """
    world = World(3, Shape(steps=0, nodes=0, skew=0), {})
    address = enrol_one(world)
    [rpc] = [c for c in world.network.connections if not c.closed and c.client.process.name.startswith("rack-1")]
    rpc.stall(120)
    world.workload._call("PATCH", "/api/v1/nodes/n1", {"cluster": "rack-2"}, None)
    for _ in range(10):
        world._second()
    return world, address


def test_a_move_away_from_a_partitioned_cluster_waits_for_it():
    """Moved while its cluster is cut off, a node is left to that cluster until it is back and gives it up."""
    from pserv.region.store.nodes import get_node

    world, address = moved_during_a_partition()
    with world.engine.connect() as connection:
        assert get_node(connection, "n1")["moving_from"] == "rack-1"
    assert not [line for line in world.events if f"rack-2#1: query {address}" in line]
    for _ in range(60):
        world._second()
    with world.engine.connect() as connection:
        node = get_node(connection, "n1")
    assert (node["cluster"], node["moving_from"]) == ("rack-2", None)
    assert node["power_state"] == world.fleet.bmcs[address].power.value
    assert [line for line in world.events if f"rack-2#1: query {address}" in line]
    assert world.checker.violations == []


def test_a_partition_longer_than_the_action_timeout_ends_truthfully():
    """Sent actions cut off longer than the timeout become timed_out, and each then takes its late outcome."""
    from sqlalchemy import text

    world = World(5, Shape(steps=60), parse_faults("all"))
    result = world.run()
    with world.engine.connect() as connection:
        timed_out = connection.execute(text("SELECT action_id FROM events WHERE kind = 'action_timed_out'")).scalars().all()
        ended = connection.execute(text(
            "SELECT e.action_id FROM events e WHERE e.kind IN "
            "('action_done', 'action_failed', 'action_superseded', 'action_cancelled') AND EXISTS "
            "(SELECT 1 FROM events t WHERE t.kind = 'action_timed_out' AND t.action_id = e.action_id AND t.id < e.id)"
        )).scalars().all()
    assert result.ok and timed_out and sorted(ended) == sorted(timed_out), (timed_out, ended, result.violations)
