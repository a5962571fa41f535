"""
What both ends of the RPC know: its errors, and the error tables the
commands declare.

No command is answered by both sides; each side's commands live in
:mod:`pserv.rpc.region` (the region answers) and :mod:`pserv.rpc.cluster`
(the cluster answers), and the messages they carry in
:mod:`pserv.rpc.messages`.
"""

from __future__ import annotations

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
    **SESSION_ERRORS,
}
