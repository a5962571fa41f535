"""
Tests for pserv.client.http, against the stub region on a loopback port and
in memory.
"""

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from treq.testing import StubTreq

from pserv.client.http import ApiClient, ClientError, UnreachableError, node_path
from pserv.testing.region_stub import TOKEN, node, page


@pytest_twisted.ensureDeferred
async def test_sends_the_token_and_parses_json(api, stub):
    """A GET carries the bearer token and query, and returns the status and parsed body."""
    stub.on("GET", "/api/v1/nodes/n1", 200, node())
    response = await api.get(node_path("n1"), {"ignored": None})
    assert (response.status, response.body["name"]) == (200, "n1")
    assert stub.requests[0].authorization == f"Bearer {TOKEN}"


@pytest_twisted.ensureDeferred
async def test_error_body_becomes_client_error(api, stub):
    """A 400 with {error, field} raises ClientError with both."""
    stub.on("POST", "/api/v1/nodes", 400, {"error": "must be a number", "field": "power_parameters.port"})
    with pytest.raises(ClientError) as caught:
        await api.post("/api/v1/nodes", {"name": "n1", "power_type": "ipmi"})
    assert (caught.value.status, caught.value.field) == (400, "power_parameters.port")


@pytest_twisted.ensureDeferred
async def test_connection_refused_is_unreachable(region_url):
    """No server on the port: UnreachableError naming the URL and the reason."""
    from twisted.internet import reactor

    with pytest.raises(UnreachableError, match=r"cannot reach http://127.0.0.1:1: connection refused"):
        await ApiClient("http://127.0.0.1:1", TOKEN, reactor).get("/api/v1/drivers")


@pytest_twisted.ensureDeferred
async def test_collect_follows_next_and_stops_at_the_limit(api, stub):
    """collect gathers pages through next, and asks each page for no more than the limit leaves."""
    stub.on("GET", "/api/v1/nodes", 200, page([node(1, "a"), node(2, "b")], "/api/v1/nodes?after=2&limit=2"))
    stub.on("GET", "/api/v1/nodes", 200, page([node(3, "c")], "/api/v1/nodes?after=3&limit=1"))
    listed = await api.collect("/api/v1/nodes", {"cluster": "rack-1"}, limit=3)
    assert [n["name"] for n in listed["items"]] == ["a", "b", "c"]
    assert listed["next"] == "/api/v1/nodes?after=3&limit=1"
    assert [r.query for r in stub.requests] == [{"cluster": "rack-1", "limit": "3"}, {"after": "2", "limit": "1"}]


def test_a_link_to_another_site_is_refused(memory_api, stub):
    """A next link to another origin is not followed (the token would go with it)."""
    stub.on("GET", "/api/v1/nodes", 200, page([node()], "http://elsewhere.test/api/v1/nodes?after=1"))
    d = Deferred.fromCoroutine(memory_api.collect("/api/v1/nodes", {}))
    assert "another site" in str(d.result.value)
    d.addErrback(lambda f: None)
    assert len(stub.requests) == 1


class Silent(Resource):
    isLeaf = True

    def render(self, request):
        return NOT_DONE_YET


def test_no_answer_in_time_is_unreachable(clock):
    """A region that never answers: UnreachableError once the timeout passes on the clock."""
    api = ApiClient("http://region.test", TOKEN, clock, http=StubTreq(Silent()), timeout=5)
    d = Deferred.fromCoroutine(api.get("/api/v1/drivers"))
    clock.advance(5)
    assert str(d.result.value) == "no answer from http://region.test in 5 s"
    d.addErrback(lambda f: None)


def test_node_path_quotes_the_name():
    """A node name is one quoted path segment."""
    assert node_path("rack 1/n1", "power") == "/api/v1/nodes/rack%201%2Fn1/power"


def test_repr_hides_the_token(memory_api):
    """The client's repr shows the URL, never the token."""
    assert TOKEN not in repr(memory_api) and "region.test" in repr(memory_api)


def test_an_interrupt_is_a_plain_cancel(clock):
    """Cancelling a request in flight (an interrupt) raises CancelledError, not 'unreachable'."""
    from twisted.internet.defer import CancelledError

    api = ApiClient("http://region.test", TOKEN, clock, http=StubTreq(Silent()), timeout=5)
    d = Deferred.fromCoroutine(api.get("/api/v1/drivers"))
    d.cancel()
    assert isinstance(d.result.value, CancelledError)
    d.addErrback(lambda f: None)
    assert clock.getDelayedCalls() == []


STREAM = "/api/v1/events/stream"


def streaming(api, received, **options) -> Deferred:
    return Deferred.fromCoroutine(api.stream(STREAM, {"after": 0}, received.append, **options))


def test_a_stream_is_handed_over_as_it_comes_and_ends_when_the_region_ends_it(memory_api, memory_http, stub):
    """stream() asks for an event stream with the token, hands each piece on as it comes, and returns at its end."""
    from pserv.testing.region_stub import event

    stub.on_stream(STREAM)
    received = []
    d = streaming(memory_api, received)
    memory_http.flush()
    stub.streams[0].send(event(1))
    memory_http.flush()
    assert b"".join(received).startswith(b"retry: 2000\n\nid: 1\n") and not d.called
    stub.streams[0].end()
    memory_http.flush()
    assert d.result is None and stub.requests[0].authorization == f"Bearer {TOKEN}"


def test_a_stream_refused_is_the_regions_error(memory_api, memory_http, stub):
    """An error answer instead of a stream is a ClientError with the region's message and field."""
    stub.on("GET", STREAM, 404, {"error": "no node 'n9'", "field": "node"})
    d = streaming(memory_api, [])
    memory_http.flush()
    assert (d.result.value.status, d.result.value.field) == (404, "node")
    d.addErrback(lambda f: None)


def test_an_answer_that_is_not_a_stream_is_refused(memory_api, memory_http, stub):
    """A 200 that is not text/event-stream is not a pserv region's stream."""
    stub.on("GET", "/api/v1/events", 200, page([]))
    d = Deferred.fromCoroutine(memory_api.stream("/api/v1/events", None, [].append))
    memory_http.flush()
    assert isinstance(d.result.value, ClientError) and "not an event stream" in str(d.result.value)
    d.addErrback(lambda f: None)


def test_cancelling_a_stream_closes_its_connection(memory_api, memory_http, stub, clock):
    """A cancelled stream (an interrupt) closes the connection and leaves no timer."""
    from twisted.internet.defer import CancelledError

    stub.on_stream(STREAM)
    d = streaming(memory_api, [], idle=45)
    memory_http.flush()
    d.cancel()
    memory_http.flush()
    assert isinstance(d.result.value, CancelledError) and stub.streams[0].gone and clock.getDelayedCalls() == []
    d.addErrback(lambda f: None)


def test_what_receive_raises_ends_the_stream(memory_api, memory_http, stub):
    """When the receiver raises, the connection is closed and the stream fails with its error."""
    def refuse(data):
        raise ClientError(200, "not for me")

    stub.on_stream(STREAM)
    d = Deferred.fromCoroutine(memory_api.stream(STREAM, None, refuse))
    memory_http.flush()
    assert str(d.result.value) == "not for me" and stub.streams[0].gone
    d.addErrback(lambda f: None)


def test_a_stream_that_never_answers_is_unreachable(clock):
    """The stream's answer must begin within the timeout, as any request's."""
    api = ApiClient("http://region.test", TOKEN, clock, http=StubTreq(Silent()), timeout=5)
    d = streaming(api, [])
    clock.advance(5)
    assert str(d.result.value) == "no answer from http://region.test in 5 s"
    d.addErrback(lambda f: None)
