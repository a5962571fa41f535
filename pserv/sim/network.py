"""
An in-memory network for a simulated world: listening addresses, client
endpoints, and connections whose bytes take time to arrive.

Each connection is a stream, as TCP is: bytes arrive in the order they were
written, each write after a latency drawn from the world's random
generator.  What the harness can do to a connection is what a real network
does to a TCP stream: delay it (every write waits out a stall, as during a
partition that sends no reset), or cut it (data in flight is lost and both
ends see the connection drop).  Messages on different connections overlap
and reorder freely, since each has its own latencies.

When a process dies its connections stop delivering to it, it hears
nothing more, and each peer sees its connection drop after a latency.

A machine can be *partitioned* from some addresses (a cluster cut off
from every region while it still reaches its BMCs): for a while, nothing
crosses between them.  Its connections to those addresses hold every
write, and every close, until the partition ends (TCP retransmits what
was lost; a reset cannot cross either), and its new connections to them
time out.
"""

from __future__ import annotations

from random import Random
from typing import Any, Callable, Iterable

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import (
    ConnectionAborted, ConnectionDone, ConnectionLost, ConnectionRefusedError, TCPTimedOutError,
)
from twisted.internet.interfaces import (
    IConsumer, IPushProducer, IReactorTime, IStreamClientEndpoint, ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from pserv.sim.process import Process

log = Logger()

Latency = Callable[[], float]

CONNECT_TIMEOUT = 5.0
"""How long a connection attempt across a partition waits before it times out."""


class SimNetwork:
    """
    Addresses (``name:port``) and the connections between processes.

    :param clock: the world's clock; deliveries outlive their senders.
    :param latency: draws each write's one-way delay, in seconds.
    """

    def __init__(self, clock: IReactorTime, rng: Random, latency: tuple[float, float] = (0.0005, 0.01)) -> None:
        self.clock = clock
        self.rng = rng
        self.low, self.high = latency
        self.listeners: dict[str, tuple[Process, Factory]] = {}
        self.connections: list[SimConnection] = []
        self.partitions: dict[str, tuple[frozenset[str], float]] = {}
        self._ports = 40000

    def latency(self) -> float:
        """One write's delay."""
        return self.rng.uniform(self.low, self.high)

    def listen(self, address: str, factory: Factory, process: Process) -> None:
        """``process`` accepts connections on ``address`` with ``factory``."""
        factory.doStart()
        self.listeners[address] = (process, factory)

    def endpoint(self, address: str, process: Process) -> IStreamClientEndpoint:
        """Where ``process`` connects to reach ``address``."""
        return SimEndpoint(self, address, process)

    def crash(self, process: Process) -> None:
        """``process`` died: stop listening for it and drop its connections."""
        for address, (owner, _) in list(self.listeners.items()):
            if owner is process:
                del self.listeners[address]
        for connection in self.of(process):
            connection.cut(ConnectionLost("the peer's process died"))

    def partition(self, ip: str, addresses: Iterable[str], seconds: float) -> None:
        """
        Nothing crosses between the machine ``ip`` and ``addresses`` for
        ``seconds`` (or until :meth:`heal`): open connections hold what is
        written and closed until then, and new ones time out.
        """
        until = self.clock.seconds() + seconds
        cut_off = frozenset(addresses)
        self.partitions[ip] = (cut_off, until)
        for connection in self.connections:
            if not connection.closed and connection.client.process.ip == ip and connection.address in cut_off:
                connection.hold(until)

    def heal(self, ip: str) -> None:
        """The partition of ``ip`` ends: new connections go through (what was held arrives as it was due)."""
        self.partitions.pop(ip, None)

    def partitioned(self, ip: str, address: str) -> bool:
        """Whether the machine ``ip`` is cut off from ``address`` now."""
        cut_off, until = self.partitions.get(ip, (frozenset(), 0.0))
        return address in cut_off and until > self.clock.seconds()

    def of(self, process: Process) -> list[SimConnection]:
        """The open connections with an end in ``process``."""
        return [c for c in self.connections if not c.closed and process in (c.client.process, c.server.process)]

    def between(self, a: Process, b: Process) -> list[SimConnection]:
        """The open connections from ``a`` to ``b`` (either way round)."""
        return [c for c in self.of(a) if b in (c.client.process, c.server.process)]

    def next_port(self) -> int:
        """A client port number, new each time."""
        self._ports += 1
        return self._ports

    def connect(self, address: str, factory: Factory, process: Process) -> Deferred[Protocol]:
        """Open a connection from ``process``; see :class:`SimEndpoint`."""
        def attempt() -> None:
            if self.partitioned(process.ip, address):
                nonlocal call
                call = process.clock.callLater(CONNECT_TIMEOUT, connecting.errback, TCPTimedOutError(address))
                return
            listening = self.listeners.get(address)
            if listening is None or not listening[0].alive:
                connecting.errback(ConnectionRefusedError(address))
                return
            connecting.callback(self._open(address, factory, process, *listening))

        call = process.clock.callLater(self.latency() * 2, attempt)
        connecting: Deferred[Protocol] = Deferred(lambda _: call.cancel() if call.active() else None)
        return connecting

    def _open(self, address: str, factory: Factory, process: Process, server: Process,
              server_factory: Factory) -> Protocol:
        _, _, port = address.rpartition(":")
        client_address = IPv4Address("TCP", process.ip, self.next_port())
        server_address = IPv4Address("TCP", server.ip, int(port))
        server_protocol = server_factory.buildProtocol(client_address)
        client_protocol = factory.buildProtocol(server_address)
        connection = SimConnection(self, (process, client_protocol, client_address),
                                   (server, server_protocol, server_address), address)
        self.connections.append(connection)
        connection.server.protocol.makeConnection(connection.server)
        connection.client.protocol.makeConnection(connection.client)
        return client_protocol

    def forget(self, connection: SimConnection) -> None:
        """A closed connection leaves the list."""
        if connection in self.connections:
            self.connections.remove(connection)


@implementer(IStreamClientEndpoint)
class SimEndpoint:
    """A client endpoint on a :class:`SimNetwork`."""

    def __init__(self, network: SimNetwork, address: str, process: Process) -> None:
        self.network = network
        self.address = address
        self.process = process

    def connect(self, protocolFactory: Factory) -> Deferred[Protocol]:
        return self.network.connect(self.address, protocolFactory, self.process)


class SimConnection:
    """
    One stream between two processes.

    :ivar closed: whether it is gone (no more bytes move).
    :ivar address: the address the client connected to.
    """

    def __init__(self, network: SimNetwork, client: tuple[Process, Protocol, IPv4Address],
                 server: tuple[Process, Protocol, IPv4Address], address: str = "") -> None:
        self.network = network
        self.address = address
        self.closed = False
        self.stalled_until = 0.0
        self.held_until = 0.0
        self.client = SimTransport(self, *client, peer_address=server[2])
        self.server = SimTransport(self, *server, peer_address=client[2])
        self.client.peer, self.server.peer = self.server, self.client

    def describe(self) -> str:
        """``client -> server`` for the event log."""
        return f"{self.client.process.name}->{self.server.process.name}"

    def send(self, sender: SimTransport, data: bytes) -> None:
        """Queue ``data`` for the other end, after what is queued already."""
        clock = self.network.clock
        now = clock.seconds()
        at = max(sender.next_arrival, now + self.network.latency(), self.stalled_until, self.held_until)
        sender.next_arrival = at
        clock.callLater(at - now, self._arrive, sender.peer, data)

    def _arrive(self, receiver: SimTransport, data: bytes) -> None:
        if self.closed or not receiver.process.alive:
            return
        try:
            receiver.protocol.dataReceived(data)
        except Exception:
            log.failure("{process} failed on data received; dropping the connection",
                        process=receiver.process.name)
            self.cut(ConnectionLost("protocol error"))

    def stall(self, seconds: float) -> None:
        """Hold every write from now on until ``seconds`` have passed."""
        self.stalled_until = max(self.stalled_until, self.network.clock.seconds() + seconds)

    def hold(self, until: float) -> None:
        """A partition: hold every write and close, either way, until ``until`` (the world's time)."""
        self.held_until = max(self.held_until, until)

    def finish(self, closer: SimTransport) -> None:
        """An orderly close, once what ``closer`` wrote has arrived."""
        clock = self.network.clock
        at = max(closer.next_arrival, clock.seconds() + self.network.latency(), self.stalled_until,
                 self.held_until)
        clock.callLater(at - clock.seconds(), self._close, Failure(ConnectionDone()))

    def abort(self, aborter: SimTransport) -> None:
        """``aborter`` drops the connection at once, discarding data in flight."""
        if self.closed:
            return
        self.closed = True
        self.network.forget(self)
        aborter.lost(Failure(ConnectionAborted()))
        self._later(aborter.peer, Failure(ConnectionLost("connection reset by peer")))

    def cut(self, reason: Exception) -> None:
        """The network loses the connection: each live end hears so after a latency."""
        if self.closed:
            return
        self.closed = True
        self.network.forget(self)
        for end in (self.client, self.server):
            self._later(end, Failure(reason))

    def _close(self, reason: Failure) -> None:
        if self.closed:
            return
        self.closed = True
        self.network.forget(self)
        self.client.lost(reason)
        self.server.lost(reason)

    def _later(self, end: SimTransport, reason: Failure) -> None:
        clock = self.network.clock
        delay = max(self.network.latency(), self.held_until - clock.seconds())
        clock.callLater(delay, end.lost, reason)


@implementer(ITCPTransport, IConsumer, IPushProducer)
class SimTransport:
    """One end of a :class:`SimConnection`: what its protocol writes to."""

    def __init__(self, connection: SimConnection, process: Process, protocol: Protocol,
                 address: IPv4Address, peer_address: IPv4Address) -> None:
        self.connection = connection
        self.process = process
        self.protocol = protocol
        self.address = address
        self.peer_address = peer_address
        self.peer: SimTransport = self
        self.next_arrival = 0.0
        self.disconnecting = False
        self.disconnected = False
        self.connected = True
        self.producer: Any = None

    def write(self, data: bytes) -> None:
        if data and not self.disconnecting and not self.connection.closed:
            self.connection.send(self, data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if not self.disconnecting:
            self.disconnecting = True
            self.connection.finish(self)

    def abortConnection(self) -> None:
        self.disconnecting = True
        self.connection.abort(self)

    def lost(self, reason: Failure) -> None:
        """Tell the protocol, once, if its process is alive."""
        if self.disconnected:
            return
        self.disconnected, self.connected = True, False
        if self.process.alive:
            self.protocol.connectionLost(reason)

    def getPeer(self) -> IPv4Address:
        return self.peer_address

    def getHost(self) -> IPv4Address:
        return self.address

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def stopConsuming(self) -> None:
        self.producer = None

    def pauseProducing(self) -> None:
        """Reading never needs to pause: the simulation has no buffers to fill."""

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.loseConnection()

    def getTcpNoDelay(self) -> bool:
        return True

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def getTcpKeepAlive(self) -> bool:
        return False

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass

    def loseWriteConnection(self) -> None:
        self.loseConnection()
