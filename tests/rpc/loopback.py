"""
Real TCP and TLS on loopback for the RPC tests: a region that can stop and
start again on its port, clusters, and a relaying man in the middle.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory

from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.region_protocol import region_rpc_factory
from pserv.rpc.service import region_endpoint
from pserv.rpc.tls import ensure_certificate, peer_fingerprint

from pserv.testing.rpc import SECRET, RecordingCluster


def within(deferred: Deferred[Any], seconds: float = 10.0) -> Deferred[Any]:
    """``deferred``, failing with a timeout rather than hanging the test run."""
    return deferred.addTimeout(seconds, reactor)


class LoopbackRegion:
    """The region's RPC listening on 127.0.0.1 with TLS; keeps its port across restarts."""

    def __init__(self, tmp_path: Any, responder: Any, secret: bytes = SECRET) -> None:
        self.responder = responder
        self.factory = region_rpc_factory(responder, secret, tmp_path / "tls", clock=reactor)
        self.port_number = 0
        self.port: Any = None

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port_number}"

    def start(self) -> None:
        """Listen (again, on the same port)."""
        self.port = reactor.listenTCP(self.port_number, self.factory, interface="127.0.0.1")
        self.port_number = self.port.getHost().port

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self.port is not None:
            await self.port.stopListening()
            self.port = None
        await within(self.factory.wrappedFactory.disconnect_all())


async def connect_cluster(address: str, secret: bytes = SECRET, name: str = "rack-1",
                          responder: Any = None, cls: type[ClusterRPC] = ClusterRPC) -> ClusterRPC:
    """A cluster connected (not necessarily authenticated yet) over TLS to ``address``."""
    rpc = cls(responder or RecordingCluster(), secret, name, peer_fingerprint)
    await within(connectProtocol(region_endpoint(reactor, address), rpc))
    return rpc


async def disconnect(rpc: ClusterRPC) -> None:
    """Drop a cluster's connection and wait until it is gone."""
    rpc.close()
    await within(rpc.when_lost())


class _Back(Protocol):
    def __init__(self, front: _Front) -> None:
        self.front = front

    def connectionMade(self) -> None:
        self.front.attach(self)

    def dataReceived(self, data: bytes) -> None:
        self.front.transport.write(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.front.transport.loseConnection()


class _Front(Protocol):
    def __init__(self, target: str) -> None:
        self.target = target
        self.back: _Back | None = None
        self.pending: list[bytes] = []

    def connectionMade(self) -> None:
        connectProtocol(region_endpoint(reactor, self.target), _Back(self)).addErrback(
            lambda _: self.transport.loseConnection())

    def attach(self, back: _Back) -> None:
        self.back = back
        for data in self.pending:
            back.transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        if self.back is None:
            self.pending.append(data)
        else:
            self.back.transport.write(data)

    def connectionLost(self, reason: Any = None) -> None:
        if self.back is not None:
            self.back.transport.loseConnection()


def listen_relay(tmp_path: Any, target: str) -> Any:
    """
    A man in the middle: TLS with its own certificate towards clusters,
    TLS to the region at ``target``, relaying bytes both ways.
    """
    options = ensure_certificate(tmp_path / "relay-tls").options
    factory = Factory.forProtocol(lambda: _Front(target))
    return reactor.listenTCP(0, TLSMemoryBIOFactory(options, False, factory), interface="127.0.0.1")
