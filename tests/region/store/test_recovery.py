"""
Tests for pserv.region.store.recovery, on SQLite and PostgreSQL.
"""

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.states import ActionKind, ActionStatus
from pserv.region.store.actions import get_action, request_power
from pserv.region.store.nodes import create_node
from pserv.region.store.recovery import recover
from pserv.rpc.messages import RecoveryAction
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name, cluster):
    body = {"name": name, "power_type": "fake", "cluster": cluster,
            "power_parameters": {"address": name, "password": "pw"}}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def test_pages_of_owned_nodes_with_intent(run, moments):
    """Recovery lists only the cluster's nodes, in pages, with settings, intent and outstanding actions."""
    for n in range(5):
        enrol(run, moments, f"n{n}", "rack-1")
    enrol(run, moments, "other", "rack-2")
    action, _ = run(request_power, "n1", "cycle", "a", moments())
    first = run(recover, "rack-1", None, 3, moments())
    second = run(recover, "rack-1", first.next, 3, moments())
    assert [n.name for n in first.nodes + second.nodes] == ["n0", "n1", "n2", "n3", "n4"]
    assert second.next is None
    n1 = first.nodes[1]
    assert n1.power_parameters["password"] == "pw"
    assert (n1.desired_power_state, n1.generation) == ("on", 1)
    assert n1.actions == (RecoveryAction(id=action["id"], kind=ActionKind.CYCLE, generation=1,
                                         status=ActionStatus.SENT, progress=None, cancel_requested=False),)


def test_recovery_delivers_pending_actions(run, moments):
    """Pending actions handed over by recovery are marked sent."""
    enrol(run, moments, "n0", "rack-1")
    action, _ = run(request_power, "n0", "on", "a", moments())
    run(recover, "rack-1", None, 100, moments())
    assert run(get_action, action["id"])["status"] == "sent"


def test_finished_actions_are_not_recovered(run, moments):
    """Superseded and finished actions are not handed over."""
    enrol(run, moments, "n0", "rack-1")
    run(request_power, "n0", "on", "a", moments())
    newer, _ = run(request_power, "n0", "off", "a", moments())
    entry = run(recover, "rack-1", None, 100, moments()).nodes[0]
    assert [a.id for a in entry.actions] == [newer["id"]]


def test_claim_for_delivery(run, moments):
    """Pending actions of connected clusters' nodes are claimed once, marked sent, with settings."""
    enrol(run, moments, "n0", "rack-1")
    enrol(run, moments, "n1", "rack-2")
    first, _ = run(request_power, "n0", "on", "a", moments())
    run(request_power, "n1", "on", "a", moments())
    from pserv.region.store.recovery import claim_for_delivery

    claimed = run(claim_for_delivery, ["rack-1"], None, moments())
    assert [(cluster, r.action, r.kind) for cluster, r in claimed] == [("rack-1", first["id"], "on")]
    assert claimed[0][1].power_parameters["password"] == "pw"
    assert run(get_action, first["id"])["status"] == "sent"
    assert run(claim_for_delivery, ["rack-1"], None, moments()) == []
    assert run(claim_for_delivery, [], None, moments()) == []


def test_a_region_claims_only_for_the_clusters_connected_to_it_by_the_database(run, moments):
    """
    A region still holding a connection its cluster has left for another
    region (a partition, then a reconnect elsewhere) claims nothing for it:
    sent there, the action would be lost and stay ``sent``, since the
    cluster's recovery on its new connection came first (the simulation's
    seed 18 with two regions).  The region the cluster is connected to claims it.
    """
    from pserv.region.store.clusters import register_cluster, disconnected
    from pserv.region.store.recovery import claim_for_delivery

    enrol(run, moments, "n0", "rack-1")
    run(register_cluster, "rack-1", moments(), "region-a")
    run(disconnected, "rack-1", "region-a")
    run(register_cluster, "rack-1", moments(), "region-b")
    action, _ = run(request_power, "n0", "on", "a", moments())
    assert run(claim_for_delivery, ["rack-1"], None, moments(), "region-a") == []
    assert run(get_action, action["id"])["status"] == "pending"
    claimed = run(claim_for_delivery, ["rack-1"], None, moments(), "region-b")
    assert [r.action for _, r in claimed] == [action["id"]]


def test_a_timed_out_action_is_still_handed_over_as_sent(run, moments):
    """Recovery lists a timed-out action, as sent, so its cluster ends it once back; it stays timed_out."""
    from pserv.region.store.actions import expire_stuck

    enrol(run, moments, "n0", "rack-1")
    action, _ = run(request_power, "n0", "off", "a", moments())
    run(recover, "rack-1", None, 100, moments())
    run(expire_stuck, moments(601), 600)
    entry = run(recover, "rack-1", None, 100, moments()).nodes[0]
    assert [(a.id, a.status) for a in entry.actions] == [(action["id"], ActionStatus.SENT)]
    assert run(get_action, action["id"])["status"] == "timed_out"


def test_recovery_and_delivery_carry_escalate_after(run, moments):
    """A soft_off's escalate_after reaches the cluster both ways: claimed for delivery, and in recovery."""
    from pserv.region.store.recovery import claim_for_delivery

    enrol(run, moments, "n0", "rack-1")
    enrol(run, moments, "n1", "rack-1")
    claimed_one, _ = run(request_power, "n0", "soft_off", "a", moments(), escalate_after=45.0)
    [(_, delivered)] = run(claim_for_delivery, ["rack-1"], [claimed_one["id"]], moments())
    recovered_one, _ = run(request_power, "n1", "soft_off", "a", moments(), escalate_after=2.5)
    entries = run(recover, "rack-1", None, 100, moments()).nodes
    assert delivered.escalate_after == 45.0
    assert [(a.kind, a.escalate_after) for e in entries for a in e.actions] == [("soft_off", 45.0), ("soft_off", 2.5)]
    assert entries[1].request(entries[1].actions[0]).escalate_after == 2.5


def test_claiming_many_actions_sends_a_few_statements(run, moments, engine):
    """Claiming a bulk request's actions costs the same few statements for 3 actions as for 60 (SQLite's BEGIN too)."""
    from pserv.region.store.actions import request_bulk
    from pserv.region.store.recovery import claim_for_delivery
    from tests.region.store.statements import statements

    costs = []
    for count in (3, 60):
        for n in range(count):
            enrol(run, moments, f"c{count}-{n}", f"rack-{count}")
        _, made, _ = run(request_bulk, None, {"cluster": f"rack-{count}"}, "on", "a", moments())
        costs.append(statements(engine, claim_for_delivery, [f"rack-{count}"], [a["id"] for a in made], moments()))
        assert [a["status"] for a in run(lambda c: [get_action(c, a["id"]) for a in made])] == ["sent"] * count
    assert costs[0] == costs[1] <= 3


def test_recovery_and_delivery_carry_the_boot_device(run, moments):
    """An on's or cycle's boot device reaches the cluster both ways, so a re-run sets it again before its command."""
    from pserv.region.store.recovery import claim_for_delivery

    enrol(run, moments, "n0", "rack-1")
    enrol(run, moments, "n1", "rack-1")
    claimed, _ = run(request_power, "n0", "on", "a", moments(), boot_device="pxe", power_types=POWER_TYPES_WITH_FAKE)
    [(_, delivered)] = run(claim_for_delivery, ["rack-1"], [claimed["id"]], moments())
    run(request_power, "n1", "cycle", "a", moments(), boot_device="bios", boot_persistent=True,
        power_types=POWER_TYPES_WITH_FAKE)
    entries = run(recover, "rack-1", None, 100, moments()).nodes
    assert delivered.boot == BootSetting(BootDevice.PXE)
    assert [(a.kind, a.boot_device, a.boot_persistent) for e in entries for a in e.actions] == [
        ("on", BootDevice.PXE, False), ("cycle", BootDevice.BIOS, True)]
    assert entries[1].request(entries[1].actions[0], ActionKind.ON).boot == BootSetting(BootDevice.BIOS, True)


def test_recovery_names_each_nodes_budget(run, moments):
    """A recovery entry, and the request re-running its action, name the node's budget, else its cluster's default."""
    from datetime import datetime

    from sqlalchemy import insert, update

    from pserv.region import schema

    enrol(run, moments, "own", "rack-1")
    enrol(run, moments, "plain", "rack-1")
    run(lambda c: c.execute(insert(schema.clusters).values(name="rack-1", created_at=datetime(2026, 1, 1),
                                                            budget="rack-default")))
    run(lambda c: c.execute(update(schema.nodes).where(schema.nodes.c.name == "own").values(budget="pdu-1")))
    run(request_power, "own", "on", "a", moments())
    entries = {n.name: n for n in run(recover, "rack-1", None, 100, moments()).nodes}
    assert (entries["own"].budget, entries["plain"].budget) == ("pdu-1", "rack-default")
    assert entries["own"].request(entries["own"].actions[0]).budget == "pdu-1"
