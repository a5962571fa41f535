"""
What both ends of the RPC know: its protocol version, its errors, and the
error tables the commands declare.

No command is answered by both sides; each side's commands live in
:mod:`pserv.rpc.region` (the region answers) and :mod:`pserv.rpc.cluster`
(the cluster answers), and the messages they carry in
:mod:`pserv.rpc.messages`.
"""

from __future__ import annotations

VERSION = 7
"""
The RPC protocol version this release speaks.  Each side sends it in the
handshake (``Authenticate`` and its answer) and refuses a peer of another
version.  Count it up for any change an older peer would misread: a new
command or field it would need, a field removed or changed in meaning.  A
new optional field that older peers may leave out does not count.
"""

UNVERSIONED = 1
"""The version of a peer that sends none: the releases before versions were sent."""


class NotAuthenticated(Exception):
    """
    A command came before the handshake completed.  Fatal: the connection is
    dropped and nothing the peer sent is acted on.
    """


class AuthenticationFailed(Exception):
    """
    The handshake failed: a bad name or nonce, or a proof that does not
    match.  Fatal: the connection is dropped.
    """


class VersionMismatch(Exception):
    """
    The peer speaks another protocol version (:data:`VERSION`).  Fatal: the
    connection is dropped, once, with a message naming both versions.
    """


class InvalidRequest(Exception):
    """
    A command's arguments do not make sense (a bad message, a limit out of
    range).  The message names the field; the connection stays up.
    """


class CommandFailed(Exception):
    """
    The peer could not carry the command out (its database is down, say).
    Nothing was changed for certain: retry later.  The details are in the
    peer's log, never on the wire.
    """


class TooLarge(ValueError):
    """
    A value does not fit in one AMP value (64 KiB); raised by the sender,
    before anything is sent.
    """


def version_mismatch(peer_version: int | None, side: str, peer: str) -> VersionMismatch | None:
    """
    The error for a peer of another protocol version, or ``None`` when it
    speaks :data:`VERSION`.

    :param peer_version: the version the peer sent; ``None`` if it sent none
        (:data:`UNVERSIONED`).
    :param side: what this end is (``region``, ``cluster``), and ``peer``
        what the other end is, for the message.
    """
    theirs = UNVERSIONED if peer_version is None else peer_version
    if theirs == VERSION:
        return None
    return VersionMismatch(
        f"the {peer} speaks RPC protocol version {theirs} and the {side} version {VERSION}: "
        f"run the same pserv release on both"
    )


#: The errors every command after the handshake may answer.
COMMAND_ERRORS: dict[type[Exception], bytes] = {
    InvalidRequest: b"INVALID_REQUEST",
    CommandFailed: b"COMMAND_FAILED",
}

#: The error that drops a connection whose handshake has not completed.
SESSION_ERRORS: dict[type[Exception], bytes] = {
    NotAuthenticated: b"NOT_AUTHENTICATED",
}

#: The errors that end a handshake, and the connection with it.
HANDSHAKE_ERRORS: dict[type[Exception], bytes] = {
    AuthenticationFailed: b"AUTHENTICATION_FAILED",
    VersionMismatch: b"VERSION_MISMATCH",
    **SESSION_ERRORS,
}
