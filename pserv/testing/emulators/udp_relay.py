"""
A counting UDP relay, to see what a client sends to a server on loopback.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol


class CountingRelay(DatagramProtocol):
    """
    A UDP relay on 127.0.0.1 in front of a server (an SNMP agent, a BMC)
    that counts requests in flight: forwarded to the server and not yet
    answered.  :attr:`seen` keeps every request, in order, so a test can
    check what a client sent.

    Each client address gets its own upstream socket, so replies find their
    way back.  ``max_in_flight`` above 1 means two requests overlapped at
    the server.
    """

    def __init__(self, reactor: Any, server: tuple[str, int]) -> None:
        self.reactor = reactor
        self.server = server
        self.seen: list[bytes] = []
        self.requests = 0
        self.responses = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._listening: Any = None
        self._upstreams: dict[Any, Any] = {}
        self._waiters: list[Deferred[None]] = []

    def start(self) -> int:
        """Listen on a free port; return it."""
        self._listening = self.reactor.listenUDP(0, self, interface="127.0.0.1")
        self.port = self._listening.getHost().port
        return self.port

    def stop(self) -> None:
        """Close every socket of the relay."""
        for upstream in self._upstreams.values():
            upstream.stopListening()
        if self._listening is not None:
            self._listening.stopListening()

    def next_request(self) -> Deferred[None]:
        """Fires when the next request has been forwarded to the server."""
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def datagramReceived(self, data: bytes, client: Any) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream = self.reactor.listenUDP(0, _Upstream(self, client), interface="127.0.0.1")
            self._upstreams[client] = upstream
        self.seen.append(data)
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        upstream.write(data, self.server)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def reply(self, data: bytes, client: Any) -> None:
        """Pass the server's reply back to the client that asked."""
        self.responses += 1
        self.in_flight = max(0, self.in_flight - 1)
        self.transport.write(data, client)


class _Upstream(DatagramProtocol):
    def __init__(self, relay: CountingRelay, client: Any) -> None:
        self.relay = relay
        self.client = client

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.relay.reply(data, self.client)
