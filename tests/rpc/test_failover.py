"""
Tests for pserv.rpc.failover: a connection to the first of several
regions that answers, over fake endpoints and then real TCP and TLS.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol

from pserv.rpc.failover import FailoverEndpoint
from pserv.rpc.service import region_addresses, region_endpoint


class FakeEndpoint:
    """An endpoint that answers with a protocol or refuses, as told, and counts its calls."""

    def __init__(self, up=True):
        self.up, self.calls = up, 0

    def connect(self, factory):
        self.calls += 1
        return succeed(Protocol()) if self.up else fail(ConnectionRefusedError("refused"))


def connect(endpoint):
    """What the endpoint's connect fired with."""
    results = []
    endpoint.connect(Factory.forProtocol(Protocol)).addBoth(results.append)
    return results[0]


def test_the_first_region_that_answers_is_used():
    """With the first region down, one attempt connects to the second, and says so."""
    a, b = FakeEndpoint(up=False), FakeEndpoint()
    failover = FailoverEndpoint([a, b], ["a:5250", "b:5250"])
    assert isinstance(connect(failover), Protocol)
    assert (a.calls, b.calls, failover.current) == (1, 1, "b:5250")


def test_the_region_that_answered_last_is_tried_first():
    """Once the second region answered, the next attempt starts with it; back to the first only if it fails."""
    a, b = FakeEndpoint(up=False), FakeEndpoint()
    failover = FailoverEndpoint([a, b], ["a:5250", "b:5250"])
    connect(failover)
    a.up = True
    connect(failover)
    assert (a.calls, b.calls) == (1, 2)
    b.up = False
    assert isinstance(connect(failover), Protocol)
    assert (a.calls, b.calls, failover.current) == (2, 3, "a:5250")


def test_an_attempt_fails_only_when_no_region_answers():
    """With every region down, the attempt fails as the last one did, each tried once."""
    a, b = FakeEndpoint(up=False), FakeEndpoint(up=False)
    failure = connect(FailoverEndpoint([a, b], ["a:5250", "b:5250"]))
    assert failure.check(ConnectionRefusedError) and (a.calls, b.calls) == (1, 1)


def test_cancelling_an_attempt_stops_it_there():
    """A cancelled attempt does not go on to the next region."""

    class Hanging(FakeEndpoint):
        def connect(self, factory):
            self.calls += 1
            return Deferred()

    a, b = Hanging(), FakeEndpoint()
    attempt = FailoverEndpoint([a, b], ["a:5250", "b:5250"]).connect(Factory.forProtocol(Protocol))
    attempt.cancel()
    results = []
    attempt.addErrback(results.append)
    assert results[0].check(CancelledError) and b.calls == 0


def test_several_addresses_are_checked_each():
    """HOST:PORT,HOST:PORT gives each address; a bad one is a one-line error naming it."""
    assert region_addresses("a:5250, b:5251") == ["a:5250", "b:5251"]
    with pytest.raises(ValueError, match="--region b: must be HOST:PORT"):
        region_addresses("a:5250,b")
    assert isinstance(region_endpoint(reactor, "a:5250,b:5250"), FailoverEndpoint)


@pytest_twisted.ensureDeferred
async def test_a_cluster_given_a_dead_region_first_connects_to_the_live_one(tmp_path):
    """Over real TCP and TLS: the first address refuses, the second is a region, and the cluster authenticates to it."""
    from tests.rpc.loopback import LoopbackRegion
    from pserv.rpc.service import RegionConnection
    from pserv.testing.rpc import SECRET, RecordingCluster, RecordingRegion

    region = LoopbackRegion(tmp_path, RecordingRegion([]))
    region.start()
    dead = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    dead_port = dead.getHost().port
    await dead.stopListening()
    connection = RegionConnection.to_region(
        reactor, f"127.0.0.1:{dead_port},{region.address}", "rack-1", SECRET, RecordingCluster(), lambda rpc: None)
    connection.startService()
    try:
        rpc = await connection.when_ready()
        assert rpc.authenticated and "rack-1" in region.responder.connections
    finally:
        await connection.stopService()
        await region.stop()
