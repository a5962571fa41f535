"""
Clusters: registered by name the first time one authenticates; and how
fresh the power readings of each one's nodes are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.errors import NotFound
from pserv.region.store.common import add_event, iso, utc


def register_cluster(connection: Connection, name: str, now: datetime, region: str | None = None,
                     group: str | None = None, lease: float | None = None) -> bool:
    """
    Note that cluster ``name`` connected to ``region`` as a member of
    ``group`` (none for a cluster of no group), with a lease of ``lease``
    seconds from ``now``; register it if it is new.

    :return: whether it was new.
    """
    table = schema.clusters
    values: dict[str, Any] = {"last_seen_at": utc(now), "group": group}
    if region is not None:
        values.update(region=region, last_heartbeat_at=utc(now))
    if lease is not None:
        values["lease_expires_at"] = utc(now + timedelta(seconds=lease))
    found = connection.execute(select(table.c.id).where(table.c.name == name)).first()
    if found is None:
        connection.execute(insert(table).values(name=name, created_at=utc(now), **values))
        add_event(connection, now, "cluster_registered", f"cluster {name} registered"
                  + ("" if group is None else f" in group {group}"))
        return True
    connection.execute(update(table).where(table.c.id == found.id).values(**values))
    return False


def heartbeat(connection: Connection, name: str, region: str, now: datetime, lease: float) -> None:
    """Cluster ``name`` is alive on ``region``: its lease runs ``lease`` seconds from ``now``."""
    table = schema.clusters
    connection.execute(update(table).where(table.c.name == name).values(
        region=region, last_heartbeat_at=utc(now), lease_expires_at=utc(now + timedelta(seconds=lease)),
    ))


def disconnected(connection: Connection, name: str, region: str) -> None:
    """
    Cluster ``name`` left ``region`` (if it had not already connected to
    another).  Its lease runs on: its nodes move only once it has ended.
    """
    table = schema.clusters
    connection.execute(update(table).where(table.c.name == name, table.c.region == region).values(region=None))


def set_draining(connection: Connection, name: str, draining: bool, now: datetime) -> dict[str, Any]:
    """
    Drain cluster ``name`` (its group's spread moves its nodes to the other
    members, by hand-over, and gives it none) or take it back.

    :raises NotFound: for no such cluster.
    """
    table = schema.clusters
    row = connection.execute(select(table).where(table.c.name == name).with_for_update()).first()
    if row is None:
        raise NotFound(f"no cluster {name!r}", "cluster")
    if bool(row.draining) != draining:
        connection.execute(update(table).where(table.c.id == row.id).values(draining=draining))
        add_event(connection, now, "cluster_draining" if draining else "cluster_undrained",
                  f"cluster {name} " + ("draining: its nodes move to the other members of its group" if draining
                                        else "takes its share of its group's nodes again"))
    return next(c for c in list_clusters(connection, now) if c["name"] == name)


def list_clusters(connection: Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """
    Every cluster with its group, the region it is connected to (while its
    lease runs; ``None`` once it has ended or the cluster left), its last
    heartbeat and the end of its lease, whether it is draining, when it
    was last seen and how many nodes name it (or it holds for their group).
    """
    nodes = schema.nodes
    counts = dict(
        connection.execute(select(nodes.c.cluster, func.count()).group_by(nodes.c.cluster)).all()
    )
    rows = connection.execute(select(schema.clusters).order_by(schema.clusters.c.name)).all()
    return [_described(row, counts.get(row.name, 0), now) for row in rows]


def _described(row: Row, node_count: int, now: datetime | None) -> dict[str, Any]:
    live = row.lease_expires_at is not None and (now is None or row.lease_expires_at > utc(now))
    region = row.region if live else None
    return {
        "name": row.name, "group": row.group, "connected": region is not None, "region": region,
        "last_heartbeat": iso(row.last_heartbeat_at), "lease_expires_at": iso(row.lease_expires_at),
        "draining": bool(row.draining), "last_seen_at": iso(row.last_seen_at), "node_count": node_count,
    }


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
