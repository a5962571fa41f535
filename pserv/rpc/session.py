"""
Where one RPC connection's handshake stands: a state machine driven by
:data:`TRANSITIONS`, the same for both ends.

The handshake (:mod:`pserv.rpc.auth`): the cluster sends ``Authenticate``
with its name and nonce; the region answers with its nonce and its proof;
the cluster checks that proof and sends ``Prove`` with its own; the region
checks it and answers.

::

    connected --challenge--> challenged --region_proved--> region_proved
                                  |                              |
                            cluster_proved                 cluster_proved
                             (the region)                   (the cluster)
                                  v                              v
                                authenticated <------------------+

    connected, challenged, region_proved --close--> refused
    authenticated --close--> closed

A connection is refused (a command out of turn, a failed proof, a
deadline, or the connection lost or dropped before the handshake
completed) or closed (after it completed); either way nothing on it is
answered again.  ``challenged`` holds the name the cluster claims and both
nonces; ``refused`` holds why, when it is known.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pserv.util.machine import InvalidTransition, StateMachine, Table

__all__ = ["InvalidTransition", "Session", "SessionInput", "SessionState", "TRANSITIONS"]


class SessionState(str, Enum):
    """Where a connection's handshake stands."""

    CONNECTED = "connected"
    """TLS is up; nothing has been said."""
    CHALLENGED = "challenged"
    """The cluster's Authenticate is out: sent (the cluster), or answered with the region's nonce and proof."""
    REGION_PROVED = "region_proved"
    """The cluster has checked the region's proof and sent its own (the cluster's end only)."""
    AUTHENTICATED = "authenticated"
    """Both ends have proved they know the secret."""
    REFUSED = "refused"
    """Closed before the handshake completed."""
    CLOSED = "closed"
    """Closed after the handshake completed."""


class SessionInput(str, Enum):
    """What moves a connection's handshake."""

    CHALLENGE = "challenge"
    """The cluster's name and nonce are sent (the cluster) or answered (the region)."""
    REGION_PROVED = "region_proved"
    """The cluster found the region's proof good."""
    CLUSTER_PROVED = "cluster_proved"
    """The region found the cluster's proof good (and the cluster heard so)."""
    CLOSE = "close"
    """This end refuses the peer or drops the connection, or the connection is lost."""


S, I = SessionState, SessionInput

TRANSITIONS: Table[SessionState, SessionInput] = {
    (S.CONNECTED, I.CHALLENGE): (S.CHALLENGED, "_challenged"),
    (S.CHALLENGED, I.REGION_PROVED): (S.REGION_PROVED, None),
    (S.CHALLENGED, I.CLUSTER_PROVED): (S.AUTHENTICATED, None),
    (S.REGION_PROVED, I.CLUSTER_PROVED): (S.AUTHENTICATED, None),
    (S.CONNECTED, I.CLOSE): (S.REFUSED, "_refused"),
    (S.CHALLENGED, I.CLOSE): (S.REFUSED, "_refused"),
    (S.REGION_PROVED, I.CLOSE): (S.REFUSED, "_refused"),
    (S.AUTHENTICATED, I.CLOSE): (S.CLOSED, None),
    (S.REFUSED, I.CLOSE): (S.REFUSED, None),
    (S.CLOSED, I.CLOSE): (S.CLOSED, None),
}
"""Every declared transition: (state, input) -> (next state, output)."""

_HANDSHAKING = frozenset([S.CONNECTED, S.CHALLENGED, S.REGION_PROVED])
_AUTHENTICATED = frozenset([S.AUTHENTICATED, S.CLOSED])


class Session(StateMachine[SessionState, SessionInput]):
    """
    One connection's handshake and the data of where it stands.

    :ivar cluster: the cluster's name: the one it claims from ``challenged``
        on, proved once ``authenticated``.
    :ivar nonces: ``(cluster nonce, region nonce)`` from ``challenged`` on
        (the region's is empty at the cluster's end until it is answered).
    :ivar why: in ``refused``, why the handshake did not complete, if known.
    """

    __slots__ = ("cluster", "nonces", "why")

    initial = SessionState.CONNECTED
    table = TRANSITIONS

    def __init__(self) -> None:
        super().__init__()
        self.cluster: str | None = None
        self.nonces = (b"", b"")
        self.why: Any = None

    @property
    def handshaking(self) -> bool:
        """Whether the handshake is under way: neither completed nor refused."""
        return self.state in _HANDSHAKING

    @property
    def open(self) -> bool:
        """Whether it is neither refused nor closed."""
        return self.state is not S.REFUSED and self.state is not S.CLOSED

    @property
    def authenticated(self) -> bool:
        """Whether the handshake completed (the connection may have closed since)."""
        return self.state in _AUTHENTICATED

    def _challenged(self, cluster: str, cluster_nonce: bytes, region_nonce: bytes = b"") -> None:
        self.cluster = cluster
        self.nonces = (cluster_nonce, region_nonce)

    def _refused(self, why: Any = None) -> None:
        self.why = why
