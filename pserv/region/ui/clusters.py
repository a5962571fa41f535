"""
The clusters page, ``GET /clusters``: each cluster registered or named by
a node, whether it is connected to this region now (or gone), its last
heartbeat and when it last connected, its nodes, and what the region
knows of its power sweeps: how fresh its nodes' readings are.  The region
hears no sweep itself, only the readings sweeps bring.

A mixin: the class serving it has ``database``, ``access``, ``clusters``
(:class:`~pserv.region.clusters.ConnectedClusters`) and ``now()``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pserv.region.auth import Credential
from pserv.region.endpoints import page
from pserv.region.routes import Routes
from pserv.region.store import clusters
from pserv.region.ui.formats import STALE_AFTER
from pserv.region.ui.view import show


class ClustersPage:
    """``/clusters``."""

    routes = Routes()

    @routes.route("/clusters", methods=["GET"])
    @page
    async def clusters_page(self, request: Any, credential: Credential) -> bytes:
        now = self.now()
        registered, readings = await self.database.run(_read, now, now - timedelta(seconds=STALE_AFTER))
        return show(request, "clusters.html", credential, now, section="clusters",
                    rows=cluster_rows(registered, readings),
                    stale_minutes=int(STALE_AFTER // 60))


def _read(connection: Any, now: Any, fresh_since: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return clusters.list_clusters(connection, now), clusters.readings(connection, fresh_since)


def cluster_rows(described: list[dict[str, Any]], readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    One row per cluster: the registered ones (as
    :func:`~pserv.region.store.clusters.list_clusters` gives them) with their readings, then those only nodes name (never
    connected), then the nodes with no cluster (``name`` ``None``).
    """
    by_cluster = {r["cluster"]: r for r in readings}
    rows = [{**c, "registered": True, "readings": by_cluster.pop(c["name"], None)} for c in described]
    for name in sorted(n for n in by_cluster if n is not None):
        rows.append(_unregistered(name, by_cluster[name]))
    if None in by_cluster:
        rows.append(_unregistered(None, by_cluster[None]))
    return rows


def _unregistered(name: str | None, readings: dict[str, Any]) -> dict[str, Any]:
    """A cluster only nodes name (never connected), or (``name`` ``None``) the nodes with no cluster."""
    return {"name": name, "registered": False, "connected": False, "group": None, "region": None,
            "last_heartbeat": None, "draining": False, "last_seen_at": None, "node_count": readings["nodes"],
            "readings": readings}
