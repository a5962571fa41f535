"""
Tests for pserv.rpc.service: reconnection with backoff, on_ready after
every authentication, heartbeats; in memory on a Clock, and once over real
TCP and TLS across a region restart.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.task import Clock, deferLater

from pserv.rpc.region_protocol import RegionRPCFactory
from pserv.rpc.service import RegionConnection, parse_address, region_endpoint

from pserv.testing.rpc import (
    CHANNEL, SECRET, WRONG_SECRET, MemoryEndpoint, RecordingCluster, RecordingRegion, delays,
)
from tests.rpc.loopback import LoopbackRegion, within


class Fixture:
    """A RegionConnection to an in-memory region, all on one Clock."""

    def __init__(self, region_secret=SECRET, on_ready=None, **options):
        self.clock = Clock()
        self.region = RecordingRegion()
        self.factory = RegionRPCFactory(self.region, region_secret, CHANNEL, self.clock, idle_timeout=1e6)
        self.endpoint = MemoryEndpoint(self.factory)
        self.ready = []
        options = {"heartbeat_interval": 10.0, "heartbeat_timeout": 5.0, "jitter": lambda: 0.0, **options}
        self.connection = RegionConnection(
            self.endpoint, "rack-1", SECRET, RecordingCluster(), on_ready or self.ready.append,
            clock=self.clock, channel=lambda transport: CHANNEL, **options)

    def start(self):
        """Start the service and deliver the handshake."""
        self.connection.startService()
        self.endpoint.flush()

    def advance(self, seconds):
        """Move the clock, then deliver what that sent."""
        self.clock.advance(seconds)
        self.endpoint.flush()


def test_parse_address():
    """HOST:PORT and [v6]:PORT parse; anything else is a one-line error naming it."""
    assert parse_address("region.example:5241") == ("region.example", 5241)
    assert parse_address("[::1]:5241") == ("::1", 5241)
    for bad in ("region", "region:", ":5241", "region:0", "region:70000", "region:x"):
        with pytest.raises(ValueError, match=f"--region {bad}: must be HOST:PORT"):
            parse_address(bad)


def test_region_endpoint_is_tls():
    """region_endpoint wraps a host-name endpoint in TLS."""
    endpoint = region_endpoint(reactor, "127.0.0.1:5241")
    assert "Wrapper" in type(endpoint).__name__


def test_retry_delays_grow_and_are_capped():
    """Delays grow by factor from initial_delay, stop at max_delay, and add the injected jitter."""
    fixture = Fixture(initial_delay=1.0, factor=2.0, max_delay=30.0, jitter=lambda: 0.25)
    assert [fixture.connection.retry_delay(n) for n in range(7)] == [1.25, 2.25, 4.25, 8.25, 16.25, 30.25, 30.25]


def test_on_ready_after_authentication():
    """on_ready gets the authenticated connection, and when_ready fires with it."""
    fixture = Fixture()
    waiting = fixture.connection.when_ready()
    fixture.start()
    assert len(fixture.ready) == 1 and fixture.ready[0].authenticated
    assert fixture.connection.rpc is fixture.ready[0]
    got = []
    waiting.addCallback(got.append)
    fixture.connection.when_ready().addCallback(got.append)
    assert got == [fixture.ready[0]] * 2


def test_reconnects_with_backoff_and_calls_on_ready_again():
    """After the region goes, refused attempts back off, and the next connection calls on_ready again."""
    fixture = Fixture(initial_delay=1.0, factor=2.0)
    fixture.start()
    fixture.endpoint.refuse = True
    fixture.factory.disconnect_all()
    fixture.endpoint.flush()
    assert fixture.connection.rpc is None and delays(fixture.clock) == [2.0]
    fixture.advance(2.0)
    assert delays(fixture.clock) == [4.0]
    fixture.advance(4.0)
    assert delays(fixture.clock) == [8.0]
    fixture.endpoint.refuse = False
    fixture.advance(8.0)
    assert len(fixture.ready) == 2 and fixture.ready[1] is not fixture.ready[0]
    assert fixture.endpoint.attempts == 4
    assert fixture.region.names() == ["cluster_connected", "cluster_disconnected", "cluster_connected"]


def test_heartbeats_answered_keep_the_connection():
    """Heartbeats go every interval and, answered, keep the connection."""
    fixture = Fixture()
    fixture.start()
    for _ in range(3):
        fixture.advance(10.0)
    fixture.advance(5.0)
    assert fixture.region.names().count("heartbeat") == 3 and fixture.connection.rpc is not None


def test_a_lease_answered_to_the_first_heartbeat_paces_the_heartbeats():
    """
    A lease shorter than the interval, answered to the heartbeat on_ready
    sends (as a group member's daemon does), makes the next heartbeats go a
    third of a lease apart: before, only the connection's own heartbeats
    paced them, and the first of those came after such a lease had ended.
    """
    fixture = Fixture(on_ready=lambda rpc: rpc.heartbeat(), heartbeat_interval=15.0)
    fixture.region.heartbeats = 6.0
    fixture.start()
    assert fixture.region.names().count("heartbeat") == 1
    fixture.advance(2.0)
    assert fixture.region.names().count("heartbeat") == 2
    fixture.advance(2.0)
    assert fixture.region.names().count("heartbeat") == 3


def test_heartbeat_loss_drops_the_connection():
    """A heartbeat unanswered for heartbeat_timeout drops the connection, and a retry is scheduled."""
    fixture = Fixture()
    fixture.start()
    rpc = fixture.connection.rpc
    fixture.region.heartbeats = Deferred()
    fixture.advance(10.0)
    fixture.advance(4.9)
    assert not rpc.gone
    fixture.advance(0.1)
    assert rpc.gone and fixture.connection.rpc is None
    assert delays(fixture.clock) == [2.0]
    fixture.advance(2.0)
    assert len(fixture.ready) == 2


def test_failed_handshakes_back_off_too():
    """Connections whose handshake fails count as failed attempts: the delays grow."""
    fixture = Fixture(region_secret=WRONG_SECRET, initial_delay=1.0, factor=2.0)
    fixture.start()
    assert fixture.ready == [] and delays(fixture.clock) == [4.0]
    fixture.advance(4.0)
    assert delays(fixture.clock) == [8.0]
    assert fixture.region.calls == []


def test_on_ready_failure_reconnects():
    """When on_ready fails (recovery failed), the connection is dropped and made again."""
    calls = []

    def on_ready(rpc):
        calls.append(rpc)
        if len(calls) == 1:
            raise RuntimeError("recovery failed")

    fixture = Fixture(on_ready=on_ready, initial_delay=1.0, factor=2.0)
    fixture.start()
    assert calls[0].gone and delays(fixture.clock) == [4.0]
    fixture.advance(4.0)
    assert len(calls) == 2 and not calls[1].gone


def test_stop_service_stops_reconnecting():
    """stopService closes the connection and schedules no retry."""
    fixture = Fixture()
    fixture.start()
    rpc = fixture.connection.rpc
    stopped = fixture.connection.stopService()
    fixture.endpoint.flush()
    assert rpc.gone and delays(fixture.clock) == []
    assert stopped.called


@pytest_twisted.ensureDeferred
async def test_reconnects_after_the_region_restarts(tmp_path):
    """Over TCP and TLS: the region restarts on its port; the cluster backs off, reconnects, recovers again."""
    region = LoopbackRegion(tmp_path, RecordingRegion())
    region.start()
    clock, ready = Clock(), DeferredQueue()
    connection = RegionConnection.to_region(
        reactor, region.address, "rack-1", SECRET, RecordingCluster(), ready.put,
        clock=clock, initial_delay=1.0, factor=2.0, jitter=lambda: 0.0, heartbeat_interval=1000.0)
    connection.startService()
    try:
        first = await within(ready.get())
        await region.stop()
        await within(first.when_lost())
        await deferLater(reactor, 0)
        assert connection.rpc is None and delays(clock) == [2.0]
        region.start()
        clock.advance(2.0)
        second = await within(ready.get())
        assert second is not first and second.authenticated
        assert region.responder.names() == ["cluster_connected", "cluster_disconnected", "cluster_connected"]
    finally:
        await connection.stopService()
        await region.stop()
