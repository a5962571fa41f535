"""
Clusters: registered by name the first time one authenticates; and how
fresh the power readings of each one's nodes are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection

from pserv.region import schema
from pserv.region.store.common import add_event, iso, utc


def register_cluster(connection: Connection, name: str, now: datetime) -> bool:
    """
    Note that cluster ``name`` connected; register it if it is new.

    :return: whether it was new.
    """
    table = schema.clusters
    found = connection.execute(select(table.c.id).where(table.c.name == name)).first()
    if found is None:
        connection.execute(insert(table).values(name=name, created_at=utc(now), last_seen_at=utc(now)))
        add_event(connection, now, "cluster_registered", f"cluster {name} registered")
        return True
    connection.execute(update(table).where(table.c.id == found.id).values(last_seen_at=utc(now)))
    return False


def list_clusters(connection: Connection) -> list[dict[str, Any]]:
    """
    Every cluster with when it was last seen and how many nodes name it.
    """
    nodes = schema.nodes
    counts = dict(
        connection.execute(select(nodes.c.cluster, func.count()).group_by(nodes.c.cluster)).all()
    )
    rows = connection.execute(select(schema.clusters).order_by(schema.clusters.c.name)).all()
    return [
        {"name": row.name, "last_seen_at": iso(row.last_seen_at), "node_count": counts.get(row.name, 0)}
        for row in rows
    ]


def readings(connection: Connection, fresh_since: datetime) -> list[dict[str, Any]]:
    """
    For each cluster named by a node (``None``: the nodes with none), what
    the region knows of its power sweeps from its nodes' readings: how many
    nodes, how many read since ``fresh_since``, never read, or read as
    ``error``, and the oldest and newest reading.
    """
    nodes = schema.nodes
    observed = nodes.c.power_state_observed_at
    rows = connection.execute(
        select(
            nodes.c.cluster, func.count().label("nodes"),
            func.sum(case((observed >= utc(fresh_since), 1), else_=0)).label("fresh"),
            func.sum(case((observed.is_(None), 1), else_=0)).label("never"),
            func.sum(case((nodes.c.power_state == "error", 1), else_=0)).label("errors"),
            func.min(observed).label("oldest"), func.max(observed).label("newest"),
        ).group_by(nodes.c.cluster).order_by(nodes.c.cluster)
    ).all()
    return [
        {"cluster": r.cluster, "nodes": r.nodes, "fresh": int(r.fresh or 0), "never": int(r.never or 0),
         "errors": int(r.errors or 0), "oldest": iso(r.oldest), "newest": iso(r.newest)}
        for r in rows
    ]
