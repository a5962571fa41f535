"""
Tests for pserv.region.store.groups, on SQLite and PostgreSQL: how a
group's nodes are spread over its live members, failed over once a lease
has ended, and moved by hand-over when a member joins or drains.
"""

from collections import Counter

from sqlalchemy import select

from pserv.region import schema
from pserv.region.store.actions import request_power
from pserv.region.store.clusters import heartbeat, register_cluster, set_draining
from pserv.region.store.events import list_events
from pserv.region.store.groups import rendezvous, spread
from pserv.region.store.nodes import create_node, get_node
from pserv.region.store.reports import mark_sent

LEASE = 10.0


def enrol(run, moments, count, group="row-a"):
    """``count`` manual nodes of ``group``; their ids."""
    return [run(create_node, {"name": f"n{n}", "group": group, "power_type": "manual"}, moments())["id"]
            for n in range(count)]


def join(run, moments, *names, group="row-a"):
    """Members of ``group`` connected now, each with a lease of LEASE seconds."""
    for name in names:
        run(register_cluster, name, moments(), "region-a", group, LEASE)


def beats(run, *names):
    """The leader's judgment that ``names`` have lapsed, with the last heartbeat of each as recorded now."""
    table = schema.clusters
    rows = run(lambda c: c.execute(select(table.c.name, table.c.last_heartbeat_at).where(table.c.name.in_(names))).all())
    return dict(rows)


def holders(run, ids):
    """Each node's cluster."""
    return {node: run(get_node, node)["cluster"] for node in ids}


def epochs(run, ids):
    """Each node's epoch (the API does not show it)."""
    nodes = schema.nodes
    return dict(run(lambda c: c.execute(select(nodes.c.id, nodes.c.epoch).where(nodes.c.id.in_(ids))).all()))


def test_rendezvous_is_even_and_moves_only_what_a_member_gains():
    """Over 3 members each holds about a third; a fourth takes only nodes it gains, from each of the others."""
    nodes = range(1, 3001)
    three = {n: rendezvous(n, ["a", "b", "c"]) for n in nodes}
    assert all(900 < count < 1100 for count in Counter(three.values()).values())
    four = {n: rendezvous(n, ["a", "b", "c", "d"]) for n in nodes}
    moved = [n for n in nodes if three[n] != four[n]]
    assert all(four[n] == "d" for n in moved) and 600 < len(moved) < 900


def test_new_nodes_are_given_to_live_members_at_once(run, moments):
    """Nodes of a group with no holder go to the rendezvous member, epoch counted up, and are to be adopted."""
    ids = enrol(run, moments, 12)
    join(run, moments, "rack-1", "rack-2")
    result = run(spread, moments())
    expected = {n: rendezvous(n, ["rack-1", "rack-2"]) for n in ids}
    assert holders(run, ids) == expected
    assert sorted(n for nodes in result["adopt"].values() for n in nodes) == ids
    assert result["release"] == [] and result["grouped"] is True
    assert {run(get_node, n)["moving_from"] for n in ids} == {None}
    assert run(spread, moments())["adopt"] == {}


def test_a_node_given_with_nothing_outstanding_is_read_by_its_new_holder(run, moments):
    """
    A node of a group given to a member (first, or by failover) with no
    action outstanding gets a ``query``, as at enrolment: else its holder,
    which learns of it by recovery, read it only at its next sweep, and it
    showed ``unknown`` (or its old holder's state) till then (found by the
    simulation with groups: no fault, yet not converged for 25 s).
    """
    from pserv.region.store.actions import list_actions

    [node] = enrol(run, moments, 1)
    join(run, moments, "rack-1")
    run(spread, moments())
    def outstanding(c):
        rows = c.execute(select(schema.power_actions.c.id).where(schema.power_actions.c.node_id == node)).scalars()
        return [(a["kind"], a["status"]) for a in list_actions(c, list(rows))]
    assert run(outstanding) == [("query", "pending")]
    action, _ = run(request_power, node, "on", "op", moments())
    join(run, moments, "rack-2")
    moments(LEASE + 3)
    run(heartbeat, "rack-2", "region-a", moments(), LEASE)
    run(spread, moments(), beats(run, "rack-1"))
    assert run(get_node, node)["cluster"] == "rack-2"
    assert [kind for kind, _ in run(outstanding)] == ["query", "on"]  # the pending on is recovered: no new query


def test_without_a_live_member_nothing_moves(run, moments):
    """Before any member connects, and once every lease has ended, nodes stay where they are."""
    ids = enrol(run, moments, 3)
    assert run(spread, moments())["adopt"] == {}
    join(run, moments, "rack-1")
    run(spread, moments())
    moments(LEASE + 5)
    result = run(spread, moments(), beats(run, "rack-1"))
    assert (result["adopt"], result["release"], result["grouped"]) == ({}, [], True)
    assert set(holders(run, ids).values()) == {"rack-1"}


def test_a_lapsed_members_nodes_fail_over_to_the_live_members(run, moments):
    """rack-2, judged lapsed by the leader: its nodes (one with an action in flight) go to rack-1, epochs counted up, each with an event."""
    ids = enrol(run, moments, 8)
    join(run, moments, "rack-1", "rack-2")
    run(spread, moments())
    mine = [n for n in ids if run(get_node, n)["cluster"] == "rack-2"]
    action, _ = run(request_power, mine[0], "on", "op", moments())
    run(mark_sent, [action["id"]], moments())
    before = epochs(run, mine)
    moments(LEASE + 3)
    run(heartbeat, "rack-1", "region-a", moments(), LEASE)
    result = run(spread, moments(), beats(run, "rack-2"))
    assert result["adopt"] == {"rack-1": mine}
    assert set(holders(run, ids).values()) == {"rack-1"}
    failed_over = [e for e in run(list_events, None, None, 100, None)[0] if e["kind"] == "node_failed_over"]
    assert len(failed_over) == len(mine) and "lease of cluster rack-2 ended" in failed_over[0]["message"]
    assert epochs(run, mine) == {n: e + 1 for n, e in before.items()}


def test_a_member_that_beat_since_it_was_judged_lapsed_keeps_its_nodes(run, moments):
    """A lapsed judgment made on a heartbeat older than the one recorded now fails nothing over."""
    ids = enrol(run, moments, 4)
    join(run, moments, "rack-1", "rack-2")
    run(spread, moments())
    before = holders(run, ids)
    judged = beats(run, "rack-1", "rack-2")
    moments(LEASE - 1)
    run(heartbeat, "rack-1", "region-a", moments(), LEASE)
    run(heartbeat, "rack-2", "region-a", moments(), LEASE)
    result = run(spread, moments(), judged)
    assert (result["adopt"], result["release"]) == ({}, [])
    assert holders(run, ids) == before


def test_a_pass_says_each_clusters_last_heartbeat_and_its_grant(run, moments):
    """The pass reports every cluster's last heartbeat and the seconds of lease it was given."""
    join(run, moments, "rack-1")
    heartbeats = run(spread, moments())["heartbeats"]
    assert heartbeats == {"rack-1": (beats(run, "rack-1")["rack-1"], LEASE)}


def test_a_member_that_joins_takes_its_share_by_hand_over(run, moments):
    """A third member's share moves by hand-over: moving_from names the live holder, which is asked to release."""
    ids = enrol(run, moments, 30)
    join(run, moments, "rack-1", "rack-2")
    run(spread, moments())
    join(run, moments, "rack-3")
    result = run(spread, moments())
    gained = sorted(n for n in ids if rendezvous(n, ["rack-1", "rack-2", "rack-3"]) == "rack-3")
    assert gained and sorted(node for _, node in result["release"]) == gained
    assert result["adopt"] == {}
    for cluster, node in result["release"]:
        shown = run(get_node, node)
        assert (shown["cluster"], shown["moving_from"]) == ("rack-3", cluster)


def test_a_node_with_an_action_in_flight_waits_to_move(run, moments):
    """A planned move skips a node whose action is sent; it moves on a later pass, once that has ended."""
    ids = enrol(run, moments, 30)
    join(run, moments, "rack-1", "rack-2")
    run(spread, moments())
    node = next(n for n in ids if rendezvous(n, ["rack-1", "rack-2", "rack-3"]) == "rack-3")
    action, _ = run(request_power, node, "on", "op", moments())
    run(mark_sent, [action["id"]], moments())
    join(run, moments, "rack-3")
    result = run(spread, moments())
    assert node not in [n for _, n in result["release"]]
    assert run(get_node, node)["moving_from"] is None


def test_a_draining_member_gives_up_its_nodes_and_gets_none(run, moments):
    """Draining rack-2 moves all its nodes to rack-1 by hand-over; new nodes go to rack-1 only."""
    ids = enrol(run, moments, 10)
    join(run, moments, "rack-1", "rack-2")
    run(spread, moments())
    held = sorted(n for n in ids if run(get_node, n)["cluster"] == "rack-2")
    run(set_draining, "rack-2", True, moments())
    result = run(spread, moments())
    assert sorted(node for cluster, node in result["release"] if cluster == "rack-2") == held
    assert {run(get_node, n)["cluster"] for n in held} == {"rack-1"}
    new = run(create_node, {"name": "late", "group": "row-a", "power_type": "manual"}, moments())["id"]
    assert run(spread, moments())["adopt"] == {"rack-1": [new]}


def test_a_pass_already_running_elsewhere_does_nothing(run, moments, engine):
    """On PostgreSQL a second region's pass, while one holds the groups' lock, changes nothing."""
    from pserv.region.store.leadership import GROUPS_LOCK, once

    ids = enrol(run, moments, 3)
    join(run, moments, "rack-1")
    if engine.dialect.name != "postgresql":
        assert run(spread, moments())["adopt"] == {"rack-1": ids}
        return
    with engine.begin() as holding:
        assert once(holding, GROUPS_LOCK)
        assert run(spread, moments()) == {"adopt": {}, "release": [], "grouped": True, "heartbeats": {}}
    assert run(spread, moments())["adopt"] == {"rack-1": ids}
