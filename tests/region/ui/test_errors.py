"""
Tests for pserv.region.ui.errors over real HTTP: HTML error pages for the
UI's paths, JSON for the API's.
"""

import json

import pytest_twisted
import treq

from pserv.region.roles import Role
from tests.region.ui.pages import get


@pytest_twisted.ensureDeferred
async def test_an_unknown_page_is_an_html_404_and_an_unknown_api_path_json(served):
    """A path that is no page gets the 404 page; one under /api/ gets the API's JSON error."""
    page = await get(served, "/no/such/page", served.session(Role.VIEWER))
    assert page.status == 404 and page.header("content-type") == "text/html; charset=utf-8"
    assert page.html.one("h1").text() == "Not found" and page.html.one("main")
    api = await get(served, "/api/v1/nothing")
    assert api.status == 404 and json.loads(api.text) == {"error": "no such path"}


@pytest_twisted.ensureDeferred
async def test_a_method_a_page_does_not_take_is_an_html_405(served):
    """DELETE /nodes is the 405 page with an Allow header; the API's own paths still answer JSON."""
    response = await treq.delete(served.base + "/nodes")
    assert response.code == 405 and "text/html" in response.headers.getRawHeaders("content-type")[0]
    assert "does not take DELETE" in await response.text()
    api = await treq.delete(served.base + "/api/v1/whoami")
    assert api.code == 405 and json.loads(await api.text())["error"] == "DELETE is not allowed here"


@pytest_twisted.ensureDeferred
async def test_a_failing_page_is_a_500_page_without_the_failure(served, monkeypatch, logged):
    """A page that fails is the 500 page saying to see the log, and the log has the failure."""
    from pserv.region.store import node_pages

    def broken(*args):
        raise RuntimeError("a failure with details")

    monkeypatch.setattr(node_pages, "nodes_view", broken)
    answer = await get(served, "/nodes", served.session(Role.VIEWER))
    assert answer.status == 500 and "a failure with details" not in answer.text
    assert "see the region's log" in answer.html.one("main").text()
