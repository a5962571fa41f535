"""
Loopback servers that misbehave, and a reactor that shows its timers.

* :func:`silent_server` accepts connections and never answers;
* :func:`garbage_server` answers with something that is not HTTP;
* :func:`closed_port` is a port nothing listens on;
* :class:`ClockSpy` records every timer set through the reactor, to prove
  none is left armed;
* :func:`cancel_mid_request` cancels a call a silent server is holding and
  checks that it ends once, at once, with nothing left to fire.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import pytest_twisted
from twisted.internet import protocol
from twisted.internet.defer import CancelledError, Deferred
from zope.interface import directlyProvides, providedBy


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    return free_port()


@dataclass
class Listening:
    """
    A server listening on loopback: its port, address and factory.

    :ivar stub: the :class:`~pserv.testing.emulators.redfish_stub.StubBMC`
        it serves, if it serves one.
    """

    port: Any
    factory: Any = None
    stub: Any = None

    @property
    def number(self) -> int:
        return self.port.getHost().port

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.number}"


class ClockSpy:
    """The real reactor, recording every timer set through it, to prove none is left armed."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.timers: list[Any] = []
        directlyProvides(self, providedBy(real))

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        call = self._real.callLater(*args, **kwargs)
        self.timers.append(call)
        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def cancel_mid_request(
    call: Deferred[Any], server: Listening, spy: ClockSpy, close: Callable[[], Awaitable[Any]]
) -> None:
    """
    Cancel ``call`` once ``server`` holds its request, and check that it
    fails with ``CancelledError`` at once and only once, that the
    connection goes, and that no timer set through ``spy`` stays armed.

    :param call: a request to ``server`` (a :func:`silent_server`).
    :param close: closes the client that made the call.
    """
    results: list[Any] = []
    call.addBoth(results.append)
    connection = await server.factory.requested
    call.cancel()
    assert len(results) == 1 and results[0].check(CancelledError)
    await connection.lost
    assert [t for t in spy.timers if t.active()] == []
    await close()
    # No timer armed and no connection left: nothing remains that could fire late.
    assert len(results) == 1


class _Silent(protocol.Protocol):
    def connectionMade(self) -> None:
        self.factory.connections.append(self)
        self.lost: Deferred[None] = Deferred()
        if not self.factory.connected.called:
            self.factory.connected.callback(self)

    def dataReceived(self, data: bytes) -> None:
        if not self.factory.requested.called:
            self.factory.requested.callback(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


class SilentFactory(protocol.Factory):
    """Accepts connections, reads requests and never answers."""

    protocol = _Silent

    def __init__(self) -> None:
        self.connections: list[_Silent] = []
        self.connected: Deferred[_Silent] = Deferred()
        self.requested: Deferred[_Silent] = Deferred()


class _Garbage(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n")
        self.transport.loseConnection()


@pytest_twisted.async_yield_fixture
async def silent_server():
    """A loopback server that never replies; its factory sees each connection."""
    from twisted.internet import reactor

    factory = SilentFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    yield Listening(port, factory)
    await port.stopListening()
    for connection in factory.connections:
        connection.transport.abortConnection()


@pytest_twisted.async_yield_fixture
async def garbage_server():
    """A loopback server that answers any request with non-HTTP bytes."""
    from twisted.internet import reactor

    factory = protocol.Factory.forProtocol(_Garbage)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    yield Listening(port, factory)
    await port.stopListening()
