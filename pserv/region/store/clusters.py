"""
Clusters: registered by name the first time one authenticates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
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
