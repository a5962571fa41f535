"""
Recovery: everything a cluster must converge on, a page at a time.

Every node the cluster owns comes with its full power settings (secrets
included: this goes only to the authenticated cluster), its desired state,
its generation and its outstanding actions.  Pending actions handed over
here are marked ``sent``: recovery is how they are delivered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pserv.power.states import OUTSTANDING
from pserv.region import schema
from pserv.region.store.common import utc


def recover(
    connection: Connection, cluster: str, after: int | None, limit: int, now: datetime
) -> dict[str, Any]:
    """
    One page of ``cluster``'s nodes, in id order: ``{"nodes", "next"}``.
    """
    table = schema.nodes
    query = select(table).where(table.c.cluster == cluster).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    rows = connection.execute(query).all()
    page, more = rows[:limit], len(rows) > limit
    outstanding = _outstanding(connection, [row.id for row in page])
    _mark_sent(connection, [a.id for actions in outstanding.values() for a in actions if a.status == "pending"], now)
    return {
        "nodes": [_entry(row, outstanding.get(row.id, [])) for row in page],
        "next": page[-1].id if more else None,
    }


def _entry(row: Any, actions: list[Any]) -> dict[str, Any]:
    return {
        "node": row.id,
        "name": row.name,
        "power_type": row.power_type,
        "power_parameters": {**row.power_parameters, **row.power_secrets},
        "desired_power_state": row.desired_power_state,
        "generation": row.generation,
        "actions": [
            {
                "id": a.id,
                "kind": a.kind,
                "generation": a.generation,
                "status": "sent" if a.status == "pending" else a.status,
                "progress": a.progress,
                "cancel_requested": bool(a.cancel_requested),
            }
            for a in actions
        ],
    }


def _outstanding(connection: Connection, node_ids: list[int]) -> dict[int, list[Any]]:
    if not node_ids:
        return {}
    table = schema.power_actions
    rows = connection.execute(
        select(table)
        .where(table.c.node_id.in_(node_ids), table.c.status.in_(OUTSTANDING))
        .order_by(table.c.id)
    ).all()
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row.node_id, []).append(row)
    return found


def _mark_sent(connection: Connection, action_ids: list[int], now: datetime) -> None:
    if action_ids:
        table = schema.power_actions
        connection.execute(
            update(table)
            .where(table.c.id.in_(action_ids), table.c.status == "pending")
            .values(status="sent", sent_at=utc(now))
        )


def claim_for_delivery(
    connection: Connection, clusters: list[str], action_ids: list[int] | None, now: datetime
) -> list[dict[str, Any]]:
    """
    Pending actions of nodes owned by ``clusters`` (all of them, or only
    ``action_ids``), marked ``sent``, as PerformPower requests with each
    node's cluster under ``"cluster"``.
    """
    if not clusters:
        return []
    actions, nodes = schema.power_actions, schema.nodes
    query = (
        select(actions, nodes.c.name, nodes.c.cluster, nodes.c.power_type, nodes.c.power_parameters,
               nodes.c.power_secrets)
        .join(nodes, nodes.c.id == actions.c.node_id)
        .where(actions.c.status == "pending", nodes.c.cluster.in_(clusters))
        .order_by(actions.c.id)
    )
    if action_ids is not None:
        query = query.where(actions.c.id.in_(action_ids))
    rows = connection.execute(query).all()
    _mark_sent(connection, [row.id for row in rows], now)
    return [
        {
            "cluster": row.cluster,
            "action": row.id,
            "node": row.node_id,
            "name": row.name,
            "kind": row.kind,
            "generation": row.generation,
            "power_type": row.power_type,
            "power_parameters": {**row.power_parameters, **row.power_secrets},
        }
        for row in rows
    ]
