"""
Tests for the stub region itself: it holds to the OpenAPI contract, so the
client's tests cannot pass against answers the region may not give.
"""

import pytest

from pserv.testing.region_stub import (
    ContractError, StubRegion, action, check_answer, event, node, page,
)


def test_factories_conform():
    """The canned Node, Action, Event and page bodies validate against the contract's schemas."""
    check_answer("GET", "/api/v1/nodes", 200, page([node(), node(2, "n2", cluster=None)], "/api/v1/nodes?after=2"))
    for status in ("pending", "done", "failed", "superseded", "cancelled"):
        check_answer("GET", "/api/v1/actions/7", 200, action(7, status=status))
    check_answer("GET", "/api/v1/events", 200, page([event(1), event(2, node=None, node_name=None)]))


@pytest.mark.parametrize("method, path, status, body, message", [
    ("GET", "/api/v1/nodes/n1", 200, {"id": 1}, "'name' is a required property"),
    ("GET", "/api/v1/actions/1", 200, action(status="exploded"), "is not one of"),
    ("POST", "/api/v1/nodes/n1/power", 201, action(), "has no 201 answer"),
    ("DELETE", "/api/v1/nodes/n1", 204, {"gone": True}, "has no body"),
    ("GET", "/api/v1/nodes/n1", 404, {"error": "x", "extra": 1}, "Additional properties"),
    ("GET", "/api/v2/nodes", 200, {}, "no such path"),
])
def test_answers_outside_the_contract_are_refused(method, path, status, body, message):
    """An answer the contract does not allow cannot be canned."""
    with pytest.raises(ContractError, match=message):
        StubRegion().on(method, path, status, body)


def test_records_a_request_body_the_contract_does_not_allow(memory_api, stub):
    """A request body outside the contract is a recorded violation (which fails the test that sent it)."""
    from twisted.internet.defer import Deferred

    stub.on("POST", "/api/v1/nodes/n1/power", 202, action())
    d = Deferred.fromCoroutine(memory_api.post("/api/v1/nodes/n1/power", {"action": "reboot"}))
    d.addErrback(lambda f: None)
    assert stub.violations and "is not one of" in stub.violations[0]
    stub.violations.clear()


def test_records_an_undeclared_query_parameter(memory_api, stub):
    """A query parameter the operation does not declare is a recorded violation."""
    from twisted.internet.defer import Deferred

    stub.on("GET", "/api/v1/nodes", 200, page([]))
    Deferred.fromCoroutine(memory_api.get("/api/v1/nodes", {"colour": "red"})).addErrback(lambda f: None)
    assert stub.violations == ["GET /api/v1/nodes: no query parameter 'colour'"]
    stub.violations.clear()


def test_a_request_the_region_refuses_may_be_answered_400(memory_api, stub):
    """A request outside the contract is no violation when the answer queued is the 400 the region gives."""
    from twisted.internet.defer import Deferred

    stub.on("POST", "/api/v1/nodes/n1/power", 400, {"error": "action: must be one of on, off", "field": "action"})
    d = Deferred.fromCoroutine(memory_api.post("/api/v1/nodes/n1/power", {"action": "reboot"}))
    d.addErrback(lambda f: None)
    assert stub.violations == [] and stub.seen("POST")


def test_an_id_argument_is_an_integer(memory_api, stub):
    """A query argument of digits where the contract takes an id or a name is checked as the id."""
    from twisted.internet.defer import Deferred

    stub.on("GET", "/api/v1/events", 200, page([]))
    Deferred.fromCoroutine(memory_api.get("/api/v1/events", {"node": "5"})).addErrback(lambda f: None)
    assert stub.violations == []


def test_an_event_stream_is_canned_only_where_the_contract_has_one():
    """A streamed answer is refused where the contract answers JSON, and its events must be Events."""
    StubRegion().on_stream("/api/v1/events/stream", event(1))
    with pytest.raises(ContractError, match="is not an event stream"):
        StubRegion().on_stream("/api/v1/events")
    with pytest.raises(ContractError, match="has no body"):
        StubRegion().on("GET", "/api/v1/events/stream", 200, page([]))
    with pytest.raises(ContractError, match="is a required property"):
        StubRegion().on_stream("/api/v1/events/stream", {"id": 1})


def test_a_stream_is_held_open_for_the_test(memory_api, memory_http, stub):
    """A streamed answer sends its events at once, more when told, and records the Last-Event-ID asked for."""
    from twisted.internet.defer import Deferred

    stub.on_stream("/api/v1/events/stream", event(1))
    received = []
    d = Deferred.fromCoroutine(memory_api.stream("/api/v1/events/stream", {"after": 0}, received.append,
                                                 headers={"Last-Event-ID": "0"}))
    stub.streams[0].send(event(2))
    memory_http.flush()
    assert b"".join(received).count(b"event: event\n") == 2 and b"".join(received).startswith(b"retry: 2000\n\n")
    assert stub.requests[0].last_event_id == "0" and stub.violations == []
    stub.streams[0].end()
    memory_http.flush()
    assert d.result is None and stub.streams[0].gone


def test_an_array_argument_is_checked_item_by_item(memory_api, stub):
    """ids=1,2 is two ids the contract allows; ids=1,x is a recorded violation."""
    from twisted.internet.defer import Deferred

    stub.on("GET", "/api/v1/actions", 200, page([action(1), action(2, status="done")]))
    Deferred.fromCoroutine(memory_api.get("/api/v1/actions", {"ids": "1,2"}))
    assert stub.violations == []
    Deferred.fromCoroutine(memory_api.get("/api/v1/actions", {"ids": "1,x"})).addErrback(lambda f: None)
    assert len(stub.violations) == 1 and "ids" in stub.violations[0]
    stub.violations.clear()
