"""
Browser test of the clusters page (pserv/region/ui/clusters.py,
templates/clusters.html): the demo's cluster, connected, with the region
it is connected to and its group.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import login
from tests.browser.screens import shoot


def test_the_clusters_page_shows_each_cluster_its_region_and_group(page, viewer, api):
    """The demo's cluster shows connected to its region, with no group, its heartbeat and its nodes' readings."""
    [cluster] = [c for c in api.get("/api/v1/clusters")["items"] if c["connected"]]
    login(page, viewer.name, viewer.password)
    page.goto("/clusters")
    expect(page).to_have_title("Clusters · pserv")
    row = page.locator(f'#clusters tr[data-cluster="{cluster["name"]}"]')
    expect(row.locator('[data-field="connected"]')).to_have_text(f"connected to {cluster['region']}")
    expect(row.locator('[data-field="group"]')).to_have_text("none")
    expect(row.locator('[data-field="fresh"]')).to_contain_text(f"of {cluster['node_count']}")
    shoot(page, "clusters")


def test_the_clusters_page_links_the_region_s_metrics(page, viewer):
    """Following the clusters page's metrics link, a viewer's session gets the region's metrics as text."""
    login(page, viewer.name, viewer.password)
    page.goto("/clusters")
    page.locator("#metrics a").click()
    page.wait_for_url("**/metrics")
    expect(page.locator("body")).to_contain_text("# TYPE pserv_clusters_connected gauge")
    expect(page.locator("body")).to_contain_text("pserv_clusters_connected 1.0")
