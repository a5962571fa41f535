"""
Cluster groups: each node of a group is held by one member, chosen by
rendezvous hashing over the members whose lease runs and which are not
draining, and moves only as the rules below allow, so that two clusters
never drive one BMC.

The leading region runs :func:`spread` every few seconds
(:mod:`pserv.region.peers`):

- A node held by nobody (new to its group) is given to its member at once,
  with a ``query`` (as at enrolment) if it has nothing outstanding, so
  that its holder reads it at once rather than at its next sweep.
- A node whose holder the leader judges *lapsed* is **failed over**: the
  leader has seen no new heartbeat of it for longer than its lease and a
  grace, by the leader's own clock (:class:`pserv.region.groups.Heartbeats`:
  no two machines' clocks are compared), so the holder has stopped acting
  for it (a member acts only while its lease runs, by its own clock,
  counted from before the heartbeat that renewed it).  The node is given
  to its member at once, even with an action in flight; its epoch counts
  up, and the new holder recovers the node's outstanding actions and
  finishes them (``AdoptNodes``), or reads it with a ``query`` if it has
  none.  The old holder's late reports are then refused.  A holder whose
  heartbeat has changed since the leader judged it (it beat meanwhile)
  keeps its nodes: the pass locks the lapsed holders' rows, so a heartbeat
  is either seen by it or waits for it.
- A node whose holder is alive but is not its member any more (a member
  joined, or the holder drains) **moves** by the hand-over of
  :mod:`pserv.region.store.moves`: once it has nothing in flight, the
  holder gives it up (``ReleaseNode``) before the new one gets it.
- While no member's lease runs, nothing moves.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pserv.region import schema
from pserv.region.errors import Conflict
from pserv.power.states import OUTSTANDING, values
from pserv.region.store.actions import _read_power
from pserv.region.store.common import add_event, utc
from pserv.region.store.leadership import GROUPS_LOCK, once
from pserv.region.store.moves import move_to, owner


def rendezvous(node: int, members: Sequence[str]) -> str:
    """
    The member of ``members`` (not empty) that holds ``node``: the highest
    score of each name with the node id.  A member that joins or leaves
    moves only the nodes it gains or held.
    """
    return max(members, key=lambda member: (hashlib.sha256(f"{member}/{node}".encode()).digest(), member))


def spread(connection: Connection, now: datetime, lapsed: Mapping[str, datetime | None] | None = None,
           ) -> dict[str, Any]:
    """
    One pass over every group (see the module).

    :param lapsed: the clusters the leader judges lapsed, each with the
        last heartbeat it saw of it; one that has beaten since is not.
    :return: ``adopt``, the nodes each cluster now holds by assignment or
        failover (cluster -> node ids), ``release``, the (cluster, node)
        pairs to ask to give up (both empty if another region's pass
        runs), ``grouped``, whether any cluster is a member of a group,
        and ``heartbeats``, each cluster's last heartbeat and the seconds
        of lease it was given (as :meth:`Heartbeats.saw
        <pserv.region.groups.Heartbeats.saw>` takes them).
    """
    result: dict[str, Any] = {"adopt": {}, "release": [], "grouped": True, "heartbeats": {}}
    if not once(connection, GROUPS_LOCK):
        return result
    lapsed = lapsed or {}
    table = schema.clusters
    if lapsed:
        connection.execute(select(table.c.id).where(table.c.name.in_(sorted(lapsed))).with_for_update()).all()
    clusters = connection.execute(select(table)).all()
    result["grouped"] = any(row.group is not None for row in clusters)
    result["heartbeats"] = {row.name: (row.last_heartbeat_at, _granted(row)) for row in clusters}
    members: dict[str, list[str]] = defaultdict(list)
    for row in clusters:
        if row.group is not None and _live(row, now) and not row.draining:
            members[row.group].append(row.name)
    fail_over = {row.name for row in clusters if row.name in lapsed and row.last_heartbeat_at == lapsed[row.name]}
    live = {row.name for row in clusters if _live(row, now)} - fail_over
    adopt: dict[str, list[int]] = defaultdict(list)
    for node in _group_nodes(connection, sorted(members)):
        want = rendezvous(node.id, sorted(members[node.group]))
        holder = owner(node)
        if node.cluster == want and node.moving_from is None:
            continue
        if holder is None or holder in fail_over:
            _give(connection, node, want, holder, now)
            adopt[want].append(node.id)
        elif node.moving_from is None and holder in live:
            try:
                values = move_to(connection, node, want, now)
            except Conflict:
                continue  # an action in flight: the next pass tries again
            connection.execute(update(schema.nodes).where(schema.nodes.c.id == node.id).values(
                **values, updated_at=utc(now)))
            result["release"].append((holder, node.id))
    result["adopt"] = {cluster: ids for cluster, ids in sorted(adopt.items())}
    return result


def _live(row: Any, moment: datetime) -> bool:
    """
    Whether ``row``'s lease runs at ``moment``, as far as the region that
    granted it says (by its clock: good enough to choose members by, never
    to fail one over by).
    """
    return row.lease_expires_at is not None and row.lease_expires_at > utc(moment)


def _granted(row: Any) -> float | None:
    """The seconds of lease ``row``'s last heartbeat was given (one region's clock at both ends)."""
    if row.lease_expires_at is None or row.last_heartbeat_at is None:
        return None
    return (row.lease_expires_at - row.last_heartbeat_at).total_seconds()


def _group_nodes(connection: Connection, groups: list[str]) -> list[Any]:
    """The nodes of ``groups`` not being deleted, locked, in id order."""
    if not groups:
        return []
    nodes = schema.nodes
    return connection.execute(
        select(nodes).where(nodes.c.group.in_(groups), nodes.c.lifecycle != "deleting")
        .order_by(nodes.c.id).with_for_update()
    ).all()


def _give(connection: Connection, node: Any, cluster: str, lapsed: str | None, now: datetime) -> None:
    """
    Give ``node`` to ``cluster`` at once: a first assignment, or a failover
    from ``lapsed``; with nothing outstanding, a ``query`` for its new holder
    to read it by (its recovery hands the query over).
    """
    connection.execute(update(schema.nodes).where(schema.nodes.c.id == node.id).values(
        cluster=cluster, moving_from=None, epoch=node.epoch + 1, power_state_observed_at=None,
        updated_at=utc(now),
    ))
    actions = schema.power_actions
    outstanding = connection.execute(select(actions.c.id).where(
        actions.c.node_id == node.id, actions.c.status.in_(values(OUTSTANDING))).limit(1)).first()
    if outstanding is None:
        _read_power(connection, {"id": node.id, "cluster": cluster}, now, f"group {node.group}")
    if lapsed is None:
        add_event(connection, now, "node_moved", f"node {node.name} of group {node.group} given to cluster {cluster}",
                  node)
    else:
        add_event(connection, now, "node_failed_over",
                  f"node {node.name} of group {node.group}: the lease of cluster {lapsed} ended; "
                  f"now held by {cluster}, which recovers its outstanding actions", node)
