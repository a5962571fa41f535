"""
Moving a node to another cluster: a hand-over, so that two clusters never
drive one BMC.

A move is refused while an action of the node is in flight (``sent`` or
``running``: its cluster holds it).  Otherwise the node takes its new
``cluster`` at once and ``moving_from`` names the cluster that drove it
(its *owner*, :func:`owner`), which must give it up first.  Until that
cluster answers ``ReleaseNode`` (it then has dropped the node, stopped
what it had in play for it, and will not touch it again), the new cluster
gets nothing of the node: no recovery entry, no action.  Pending actions
wait, and go to the new cluster once the hand-over is done (:func:`released`);
if none is left (one may time out waiting), the hand-over asks the new
cluster to read the node, as at enrolment, so that it learns of it
(:func:`pserv.region.store.actions.hand_over`).

Each hand-over counts the node's ``epoch`` up.  A cluster reports
observations with the epoch it was given the node in, and the region
applies only those of the current epoch (:mod:`pserv.region.store.reports`):
within one epoch one cluster, on one clock, reads the node, so its times
can be compared; across epochs they are never compared.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.states import IN_FLIGHT, ActionStatus, values
from pserv.region import schema
from pserv.region.errors import Conflict
from pserv.region.store.common import add_event, utc


def owner(node: Row) -> str | None:
    """The cluster that may be driving ``node``: the one it is moving from, else its cluster."""
    return node.moving_from if node.moving_from is not None else node.cluster


def move_to(connection: Connection, node: Row, cluster: str | None, now: datetime) -> dict[str, Any]:
    """
    The node columns for moving the locked ``node`` to ``cluster``, and its event.

    :raises Conflict: naming ``cluster``, while an action is in flight.
    """
    table = schema.power_actions
    busy = connection.execute(
        select(table.c.id, table.c.kind, table.c.status)
        .where(table.c.node_id == node.id, table.c.status.in_(values(IN_FLIGHT)))
        .order_by(table.c.id).limit(1)
    ).first()
    if busy is not None:
        raise Conflict(
            f"cluster: node {node.name} cannot move while its {busy.kind} action {busy.id} is {busy.status} "
            f"on cluster {owner(node)}; wait for it to end, or cancel it, then move the node",
            "cluster",
        )
    giving_up = owner(node)
    if giving_up is None:
        add_event(connection, now, "node_moved", f"node {node.name} moved to cluster {cluster}", node)
    else:
        add_event(connection, now, "node_moving",
                  f"node {node.name} moving from cluster {giving_up} to {cluster}: "
                  f"{cluster} gets it once {giving_up} has given it up", node)
    return {"cluster": cluster, "moving_from": giving_up}


def released(connection: Connection, node_id: int, cluster: str, now: datetime) -> list[int]:
    """
    ``cluster`` has given up the node ``node_id``: end its move, if it was
    moving from ``cluster``, and count its epoch up.

    :return: the node's pending actions, now to be handed to its new cluster.
    """
    nodes = schema.nodes
    node = connection.execute(
        select(nodes).where(nodes.c.id == node_id, nodes.c.moving_from == cluster).with_for_update()
    ).first()
    if node is None:
        return []
    connection.execute(
        update(nodes).where(nodes.c.id == node.id).values(
            moving_from=None, epoch=node.epoch + 1, power_state_observed_at=None, updated_at=utc(now)
        )
    )
    add_event(connection, now, "node_moved",
              f"node {node.name}: cluster {cluster} gave it up; now driven by {node.cluster or 'no cluster'}", node)
    if node.cluster is None:
        return []
    table = schema.power_actions
    return list(connection.execute(
        select(table.c.id).where(table.c.node_id == node.id, table.c.status == ActionStatus.PENDING.value)
        .order_by(table.c.id)
    ).scalars())


def moving_from(connection: Connection, clusters: list[str]) -> list[tuple[str, int]]:
    """The nodes ``clusters`` must give up: (cluster, node) in node id order."""
    nodes = schema.nodes
    if not clusters:
        return []
    rows = connection.execute(
        select(nodes.c.moving_from, nodes.c.id).where(nodes.c.moving_from.in_(sorted(clusters))).order_by(nodes.c.id)
    ).all()
    return [(row.moving_from, row.id) for row in rows]
