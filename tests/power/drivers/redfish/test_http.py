"""
Tests for pserv.power.drivers.redfish.http: one bounded, cancellable exchange.

These use in-process servers that misbehave on purpose (never answer, stall
mid-body, speak something else); the sushy-tools emulator is exercised in
test_driver.py.
"""

from __future__ import annotations


import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock

from pserv.power.types.redfish_endpoint import parse_address
from pserv.power.drivers.redfish.errors import RedfishProtocolError
from pserv.power.drivers.redfish.http import MAX_BODY, RedfishHttp
from pserv.power.errors import PowerTransientError
from pserv.testing.emulators.loopback import (  # noqa: F401
    ClockSpy,
    cancel_mid_request,
    closed_port,
    garbage_server,
    silent_server,
)
from pserv.testing.emulators.redfish_stub import Answer, stub_bmc  # noqa: F401

WHAT = "redfish test: GET /redfish/v1/"


@pytest_twisted.async_yield_fixture
async def http():
    client = RedfishHttp(reactor, timeout=0.5)
    yield client
    await client.close()


def endpoint(address: str):
    return parse_address(address)


@pytest_twisted.ensureDeferred
async def test_reads_a_whole_reply(stub_bmc, http) -> None:
    """A reply comes back whole: status, headers and body, with Redfish headers sent."""
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, {"Id": "root"}, {"X-Test": "yes"}))
    reply = await http.send(endpoint(stub_bmc.address), "GET", "/redfish/v1/", what=WHAT)
    assert (reply.code, reply.ok, reply.header("X-Test")) == (200, True, "yes")
    assert reply.body == b'{"Id": "root"}'
    seen = stub_bmc.stub.seen[0].headers
    assert seen["odata-version"] == "4.0" and seen["accept"] == "application/json"


@pytest_twisted.ensureDeferred
async def test_connections_are_kept_and_reused(stub_bmc, http) -> None:
    """Consecutive requests to one BMC share one persistent connection."""
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, {}))
    for _ in range(3):
        await http.send(endpoint(stub_bmc.address), "GET", "/redfish/v1/", what=WHAT)
    assert stub_bmc.factory.connections == 1
    assert stub_bmc.stub.count("GET", "/redfish/v1/") == 3


@pytest_twisted.ensureDeferred
async def test_a_silent_bmc_times_out_as_transient_and_is_dropped(silent_server) -> None:
    """A BMC that accepts but never answers fails transient when the clock reaches the timeout, connection closed."""
    clock = Clock()
    http = RedfishHttp(reactor, timeout=0.5, clock=clock)
    call = http.send(endpoint(silent_server.address), "GET", "/redfish/v1/", what=WHAT)
    await silent_server.factory.requested
    clock.advance(0.499)
    assert not call.called
    clock.advance(0.001)
    with pytest.raises(PowerTransientError, match=r"no reply within 0\.5s"):
        await call
    await silent_server.factory.connections[0].lost
    await http.close()


@pytest_twisted.ensureDeferred
async def test_a_body_that_stalls_times_out_and_is_dropped(stub_bmc, http) -> None:
    """Headers then a stalled body still fail within the timeout, and the connection is dropped."""
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, hold=True, partial=b'{"Id": '))
    with pytest.raises(PowerTransientError, match="no reply within"):
        await http.send(endpoint(stub_bmc.address), "GET", "/redfish/v1/", what=WHAT)
    await stub_bmc.stub.when_none_held()
    assert stub_bmc.stub.held == []


@pytest_twisted.ensureDeferred
async def test_cancel_aborts_the_request_with_no_late_callback(silent_server) -> None:
    """Cancelling drops the connection at once; nothing fires later and no timer stays armed."""
    spy = ClockSpy(reactor)
    http = RedfishHttp(spy, timeout=30.0)
    call = http.send(endpoint(silent_server.address), "GET", "/redfish/v1/", what=WHAT)
    await cancel_mid_request(call, silent_server, spy, http.close)


@pytest_twisted.ensureDeferred
async def test_cancel_while_connecting_is_a_plain_cancel(silent_server) -> None:
    """Cancelling before the connection is up fails with CancelledError, not a network error."""
    http = RedfishHttp(reactor, timeout=30.0)
    call = http.send(endpoint(silent_server.address), "GET", "/redfish/v1/", what=WHAT)
    call.cancel()
    with pytest.raises(CancelledError):
        await call
    await http.close()


@pytest_twisted.ensureDeferred
async def test_connection_refused_is_transient(http) -> None:
    """Nothing listening is a transient 'connection refused'."""
    with pytest.raises(PowerTransientError, match="connection refused"):
        await http.send(endpoint(f"http://127.0.0.1:{closed_port()}"), "GET", "/", what=WHAT)


@pytest_twisted.ensureDeferred
async def test_a_reply_that_is_not_http_is_a_protocol_error(garbage_server, http) -> None:
    """Bytes that are not HTTP give a clear, fatal protocol error."""
    with pytest.raises(RedfishProtocolError, match="not valid HTTP") as raised:
        await http.send(endpoint(garbage_server.address), "GET", "/redfish/v1/", what=WHAT)
    assert raised.value.fatal and str(raised.value).startswith(WHAT)


@pytest_twisted.ensureDeferred
async def test_an_oversized_body_is_a_protocol_error(stub_bmc, http) -> None:
    """A body past MAX_BODY is refused rather than buffered."""
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, b"x" * (MAX_BODY + 1)))
    with pytest.raises(RedfishProtocolError, match="body over"):
        await http.send(endpoint(stub_bmc.address), "GET", "/redfish/v1/", what=WHAT)


@pytest_twisted.ensureDeferred
async def test_requests_per_bmc_are_limited(stub_bmc) -> None:
    """At most per_bmc requests are in flight to one BMC; the rest wait their turn."""
    http = RedfishHttp(reactor, timeout=5.0, per_bmc=2)
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, {}, delay=0.2))
    calls = [http.send(endpoint(stub_bmc.address), "GET", "/redfish/v1/", what=WHAT) for _ in range(5)]
    for call in calls:
        assert (await call).code == 200
    assert stub_bmc.stub.most_in_flight == 2
    await http.close()
