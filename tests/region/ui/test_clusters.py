"""
Tests for pserv.region.ui.clusters: the clusters page over real HTTP on
SQLite and PostgreSQL, and how its rows are put together.
"""

import pytest_twisted

from pserv.region.roles import Role
from pserv.region.store.clusters import register_cluster
from pserv.region.ui.clusters import cluster_rows
from tests.region.ui.pages import add_node, get, observe


@pytest_twisted.ensureDeferred
async def test_the_page_says_connected_or_gone_and_how_fresh_the_readings_are(served):
    """A connected cluster (and the region it is connected to), a gone one, one only nodes name, and nodes with none, each with what the region knows."""
    served.database.run_now(register_cluster, "rack-1", served.api.now())
    served.database.run_now(register_cluster, "rack-2", served.api.now())
    served.api.clusters.lease = 600
    await served.api.clusters.heartbeat("rack-1")
    served.clock.advance(120)
    for name, cluster, ago in [("a", "rack-1", 30), ("b", "rack-1", 3600), ("c", "rack-3", None), ("d", None, 5)]:
        node = add_node(served, name, cluster=cluster)
        if ago is not None:
            observe(served, node["id"], "on", ago)
    page = (await get(served, "/clusters", served.session(Role.VIEWER))).html
    rows = {r.attrs["data-cluster"]: r for r in page.one("table", id="clusters").all("tr", data_cluster=True)}
    assert list(rows) == ["rack-1", "rack-2", "rack-3", ""]
    assert [rows[n].one("td", data_field="connected").text() for n in rows] == [
        "connected to region", "gone", "never connected", "not driven"]
    assert "2 min ago" in rows["rack-1"].text()
    assert rows["rack-1"].one("td", data_field="fresh").text() == "1 of 2 ⚠ 1 stale"
    assert "no nodes" in rows["rack-2"].text() and "no cluster reads them" in rows[""].text()


@pytest_twisted.ensureDeferred
async def test_the_page_links_the_region_s_metrics_which_a_viewer_s_session_may_read(served):
    """The clusters page links /metrics, and following the link with the same session gets the metrics."""
    import treq

    session = served.session(Role.VIEWER)
    page = (await get(served, "/clusters", session)).html
    assert page.one("p", id="metrics").one("a").attrs["href"] == "/metrics"
    answer = await treq.get(served.base + "/metrics", headers=session.headers(csrf=False))
    assert answer.code == 200 and "pserv_clusters_connected" in await answer.text()


def test_cluster_rows_put_registered_clusters_first():
    """Registered clusters keep their order with their readings; then clusters only nodes name; then no cluster."""
    readings = [{"cluster": None, "nodes": 2}, {"cluster": "b", "nodes": 1}, {"cluster": "z", "nodes": 3}]
    described = [{"name": "z", "connected": True, "last_heartbeat": None, "last_seen_at": None, "node_count": 3}]
    rows = cluster_rows(described, readings)
    assert [(r["name"], r["registered"], r["readings"]["nodes"]) for r in rows] == [
        ("z", True, 3), ("b", False, 1), (None, False, 2)]
