"""
Recovery: everything a cluster must converge on, a page at a time, and the
pending actions handed to connected clusters.

Every node the cluster owns comes with its full power settings (secrets
included: this goes only to the authenticated cluster), its desired state,
its generation and its outstanding actions.  Pending actions handed over
here are marked ``sent``: recovery is how they are delivered.  This module
is where the region builds the messages it sends (:class:`RecoveryPage`,
:class:`PowerRequest`), from rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pserv.power.boot import BootDevice
from pserv.power.states import OUTSTANDING, ActionKind, ActionStatus, PowerState, values
from pserv.region import schema
from pserv.region.store.budget_line import budget_of
from pserv.region.store.reports import mark_sent
from pserv.region.store.schedules import due, held
from pserv.rpc.messages import PowerRequest, RecoveryAction, RecoveryNode, RecoveryPage


def recover(connection: Connection, cluster: str, after: int | None, limit: int, now: datetime) -> RecoveryPage:
    """
    One page of ``cluster``'s nodes with an id above ``after``, in id order,
    at most ``limit``: not those still moving to it (their old cluster has
    not given them up).
    """
    table = schema.nodes
    query = (
        select(table).where(table.c.cluster == cluster, table.c.moving_from.is_(None))
        .order_by(table.c.id).limit(limit + 1)
    )
    if after is not None:
        query = query.where(table.c.id > after)
    rows = connection.execute(query).all()
    page, more = rows[:limit], len(rows) > limit
    outstanding = _outstanding(connection, [row.id for row in page])
    waiting = {a.id for actions in outstanding.values() for a in actions if held(a, now) is not None}
    pending = [a.id for actions in outstanding.values() for a in actions
               if a.status == ActionStatus.PENDING and a.id not in waiting]
    mark_sent(connection, pending, now)
    default = _default_budget(connection, cluster)
    return RecoveryPage(
        nodes=tuple(_entry(row, outstanding.get(row.id, []), waiting, default) for row in page),
        next=page[-1].id if more else None,
    )


def _default_budget(connection: Connection, cluster: str) -> str | None:
    """The budget ``cluster`` names for its nodes that name none, if any."""
    table = schema.clusters
    return connection.execute(select(table.c.budget).where(table.c.name == cluster)).scalar()


def _entry(row: Any, actions: list[Any], waiting: set[int], default_budget: str | None) -> RecoveryNode:
    """
    A node as recovery tells it.  An action held for its time
    (:mod:`pserv.region.store.schedules`) is left out, and so is the
    intent it counted: the cluster hears of it only when it is due.
    """
    held_back = [a for a in actions if a.id in waiting and a.kind != ActionKind.QUERY.value]
    first = min(held_back, key=lambda a: a.generation, default=None)
    return RecoveryNode(
        node=row.id,
        name=row.name,
        power_type=row.power_type,
        power_parameters=_settings(row),
        desired_power_state=PowerState(row.desired_power_state if first is None else first.desired_before),
        generation=row.generation if first is None else first.generation - 1,
        epoch=row.epoch,
        budget=budget_of(row.budget, default_budget),
        actions=tuple(
            RecoveryAction(
                id=a.id,
                kind=ActionKind(a.kind),
                generation=a.generation,
                status=_as_sent(ActionStatus(a.status)),
                progress=a.progress,
                cancel_requested=bool(a.cancel_requested),
                escalate_after=a.escalate_after,
                boot_device=_boot_device(a),
                boot_persistent=bool(a.boot_persistent),
            )
            for a in actions if a.id not in waiting
        ),
    )


def _boot_device(row: Any) -> BootDevice | None:
    """The boot device an action's row names, if any."""
    return None if row.boot_device is None else BootDevice(row.boot_device)


def _as_sent(status: ActionStatus) -> ActionStatus:
    """
    An action's status as recovery tells it: a pending one is handed over
    by this very answer (marked sent in :func:`recover`), and a timed-out
    one is, to the cluster, one handed over and still owed an outcome.
    """
    return ActionStatus.SENT if status in (ActionStatus.PENDING, ActionStatus.TIMED_OUT) else status


def _settings(row: Any) -> dict[str, Any]:
    """A node's power parameters, secrets included."""
    return {**row.power_parameters, **row.power_secrets}


def _outstanding(connection: Connection, node_ids: list[int]) -> dict[int, list[Any]]:
    if not node_ids:
        return {}
    table = schema.power_actions
    rows = connection.execute(
        select(table)
        .where(table.c.node_id.in_(node_ids), table.c.status.in_(values(OUTSTANDING)))
        .order_by(table.c.id)
    ).all()
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row.node_id, []).append(row)
    return found


def claim_for_delivery(
    connection: Connection, clusters: list[str], action_ids: list[int] | None, now: datetime,
    region: str | None = None,
) -> list[tuple[str, PowerRequest]]:
    """
    Pending actions of nodes driven by ``clusters`` (all of them, or only
    ``action_ids``), marked ``sent``: each as its node's cluster and the
    request to send it, oldest action first.  With ``region``, only those
    of the clusters connected to that region by the database: a region may
    still hold a connection its cluster has left for another region (a
    partition, then a reconnect elsewhere), and an action sent on that one
    would be ``sent`` for good, since the cluster's recovery on its new
    connection came before it.  A node still moving to its
    cluster has none handed over.  The nodes' rows are locked (in node
    order, as every transaction that locks several takes them), so that a
    move and a claim of the same node are one after the other: the move
    then sees the action ``sent`` and is refused, or the claim sees the
    node moving; and two regions' timers for one scheduled action hand it
    over once.  An action held for its time is not claimed before it
    (:mod:`pserv.region.store.schedules`).
    """
    if not clusters:
        return []
    actions, nodes, known = schema.power_actions, schema.nodes, schema.clusters
    query = (
        select(actions, nodes.c.name, nodes.c.cluster, nodes.c.power_type, nodes.c.power_parameters,
               nodes.c.power_secrets, nodes.c.epoch, nodes.c.budget.label("node_budget"),
               known.c.budget.label("cluster_budget"))
        .join(nodes, nodes.c.id == actions.c.node_id)
        .outerjoin(known, known.c.name == nodes.c.cluster)
        .where(actions.c.status == ActionStatus.PENDING.value, nodes.c.cluster.in_(clusters),
               nodes.c.moving_from.is_(None), due(now))
        .order_by(actions.c.node_id, actions.c.id).with_for_update(of=nodes)
    )
    if action_ids is not None:
        query = query.where(actions.c.id.in_(action_ids))
    if region is not None:
        query = query.where(known.c.region == region)
    rows = sorted(connection.execute(query).all(), key=lambda row: row.id)
    mark_sent(connection, [row.id for row in rows], now)
    return [(row.cluster, _request(row)) for row in rows]


def _request(row: Any) -> PowerRequest:
    return PowerRequest(
        action=row.id, node=row.node_id, name=row.name, kind=ActionKind(row.kind), generation=row.generation,
        power_type=row.power_type, power_parameters=_settings(row), escalate_after=row.escalate_after,
        epoch=row.epoch, boot_device=_boot_device(row), boot_persistent=bool(row.boot_persistent),
        budget=budget_of(row.node_budget, row.cluster_budget),
    )
