"""
Tests for pserv.region.request_timing: every answered request is timed
under its route's template, over a real API on loopback.
"""

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families

from pserv.region.metrics import OTHER_ROUTE
from pserv.region.roles import Role


def timed(served):
    """(route, method, status) -> how many requests the API's metrics timed."""
    found = {}
    for family in text_string_to_metric_families(served.api.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == "pserv_api_request_seconds_count":
                found[(sample.labels["route"], sample.labels["method"], sample.labels["status"])] = sample.value
    return found


@pytest_twisted.ensureDeferred
async def test_a_request_is_timed_under_its_route_template_not_its_path(served):
    """GET of a node that is not there is timed as /api/v1/nodes/{node} with its 404, never with the name asked."""
    client = served.client(served.token(Role.VIEWER))
    assert (await client.call("GET", "/api/v1/nodes/{node}", node="secret-node-name")).status == 404
    assert timed(served) == {("/api/v1/nodes/{node}", "GET", "404"): 1.0}
    assert b"secret-node-name" not in served.api.metrics.exposition()


@pytest_twisted.ensureDeferred
async def test_a_route_that_admits_nothing_is_found_from_the_mapper(served):
    """The public document and the login page are timed under their routes, though no endpoint noted them."""
    await treq.get(served.base + "/api/v1/openapi.json")
    await treq.get(served.base + "/login")
    assert {("/api/v1/openapi.json", "GET", "200"), ("/login", "GET", "200")} <= timed(served).keys()


@pytest_twisted.ensureDeferred
async def test_unmatched_paths_and_unknown_methods_are_other(served):
    """A path no route matches is route 'other'; a method the region does not serve is method 'other'."""
    await treq.get(served.base + "/api/v1/no/such/path/for-anyone")
    await treq.request("BREW", served.base + "/api/v1/nodes")
    found = timed(served)
    assert (OTHER_ROUTE, "GET", "404") in found
    assert any(method == "other" for _, method, _ in found)
    assert not any("for-anyone" in route or route == "BREW" for route, _, _ in found)


@pytest_twisted.ensureDeferred
async def test_an_event_stream_is_not_timed(served):
    """The event stream, which lasts as long as its client listens, is left out of the request times when it ends."""
    token = served.token(Role.VIEWER)
    response = await treq.get(served.base + "/api/v1/events/stream", headers={"Authorization": [f"Bearer {token}"]},
                              unbuffered=True)
    assert response.code == 200
    ended = treq.collect(response, lambda data: None)
    served.api.feed.stop()
    await ended
    await treq.get(served.base + "/api/v1/openapi.json")  # answered after the stream's end was handled
    assert ("/api/v1/openapi.json", "GET", "200") in timed(served)
    assert not any(route == "/api/v1/events/stream" for route, _, _ in timed(served))
