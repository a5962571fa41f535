"""
What both ends of the region-cluster RPC share: :class:`GuardedAMP`, which
refuses every command but the handshake until it has completed.  The
refusal is a fatal error, so the connection drops, and the refused command
is not executed.  Once refused or failed, a connection stays refused.  The
handshake's state is a :class:`~pserv.rpc.session.Session`; the ends are
:mod:`pserv.rpc.region_protocol` and :mod:`pserv.rpc.cluster_protocol`.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from pserv.rpc.common import CommandFailed, InvalidRequest
from pserv.rpc.session import Session, SessionInput, SessionState

log = Logger()


def describe_peer(transport: Any) -> str:
    """``host:port`` of the peer, for log lines."""
    peer = transport.getPeer() if transport is not None else None
    host, port = getattr(peer, "host", None), getattr(peer, "port", None)
    return f"{host}:{port}" if host is not None else str(peer)


def command_names(commands: Iterable[type[amp.Command]]) -> frozenset[bytes]:
    return frozenset(command.commandName for command in commands)


class GuardedAMP(amp.AMP):
    """
    AMP that answers only ``served`` commands, and only once ``trusted``,
    but for the ``handshake`` ones.

    :cvar trusting: the states of the session in which the peer has proved
        it knows the secret.
    :ivar session: where the handshake stands.
    :ivar gone: whether the connection is lost.
    """

    served: frozenset[bytes] = frozenset()
    handshake: frozenset[bytes] = frozenset()
    trusting: ClassVar[frozenset[SessionState]] = frozenset([SessionState.AUTHENTICATED])
    side = "peer"

    def __init__(self) -> None:
        super().__init__()
        self.session = Session()
        self.gone = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.gone = True
        super().connectionLost(reason)

    @property
    def trusted(self) -> bool:
        """Whether the peer has proved it knows the secret."""
        return self.session.state in self.trusting

    def locateResponder(self, name: bytes) -> Any:
        if name in self.handshake and self.session.open:
            return super().locateResponder(name)
        if not self.trusted:
            return self._refuse
        return super().locateResponder(name) if name in self.served else None

    def _refuse(self, box: amp.AmpBox) -> Deferred[Any]:
        if self.session.open:
            command = box.get(amp.COMMAND, b"?").decode("ascii", "replace")[:64]
            log.warn("{side} refused {command!r} before the handshake from {peer}; disconnecting",
                     side=self.side, command=command, peer=describe_peer(self.transport))
        self.session.fire(SessionInput.CLOSE)
        if amp.ASK not in box:
            self.transport.loseConnection()
        return fail(amp.RemoteAmpError(b"NOT_AUTHENTICATED", "complete the handshake first", fatal=True))

    def _answer(self, what: str, call: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """Call a responder method; failures other than ours become ``CommandFailed``."""
        return maybeDeferred(call, *args).addErrback(self._failed, what)

    def _failed(self, failure: Failure, what: str) -> Failure:
        if failure.check(InvalidRequest, CommandFailed):
            return failure
        log.failure("{side}: {what} failed", failure, side=self.side, what=what)
        return Failure(CommandFailed(f"{what} failed on the {self.side}; see its log"))

    def close(self) -> None:
        """Refuse everything from now on and drop the connection."""
        self.session.fire(SessionInput.CLOSE)
        if self.transport is not None and not self.gone:
            self.transport.loseConnection()

    def abort(self) -> None:
        """Refuse everything from now on and drop the connection at once."""
        self.session.fire(SessionInput.CLOSE)
        if self.transport is not None and not self.gone:
            self.transport.abortConnection()


def empty(_: Any) -> dict[str, Any]:
    """An AMP response with nothing in it."""
    return {}
