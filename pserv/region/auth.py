"""
Who is asking: a bearer token (``Authorization: Bearer <token>``, for
scripts and the CLI) or a UI session (the ``pserv_session`` cookie), and
what they may do: the role the permission table asks for, and, for a
state-changing request made with a session cookie, the session's CSRF
token.

Every request is checked against the database, with no cache: revoking a
token, ending a session or disabling a user takes effect at the next
request, in every region that shares the database.  The check is one
indexed lookup.  A route whose work is one transaction may have a bearer
token checked inside that transaction (:class:`TokenCheck`): the same
lookup and role check, with no transaction of its own; nothing the work
writes is kept if it refuses.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.engine import Connection

from pserv.region.db import Database
from pserv.region.errors import RegionError
from pserv.region.permissions import PUBLIC, STATE_CHANGING, needed
from pserv.region.roles import Role
from pserv.region.store.sessions import csrf_token, session_credential
from pserv.region.store.tokens import token_credential

SESSION_COOKIE = b"pserv_session"
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = "csrf_token"
TOKEN, SESSION = "token", "session"


class Unauthorized(RegionError):
    """No valid bearer token or session."""

    status = 401


class Forbidden(RegionError):
    """A valid credential whose role does not allow it, or a missing CSRF token."""

    status = 403


@dataclass(frozen=True)
class Credential:
    """
    Who a request is from.

    :ivar name: the token's or the user's name (an action's ``requested_by``).
    :ivar kind: ``token`` or ``session``.
    :ivar csrf_token: a session's CSRF token, for its pages' forms; never
        set for a token.
    """

    name: str
    role: Role
    kind: str
    csrf_token: str | None = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        """As ``GET /api/v1/whoami`` shows it."""
        shown = {"name": self.name, "role": self.role.value, "credential": self.kind}
        if self.csrf_token is not None:
            shown["csrf_token"] = self.csrf_token
        return shown


def bearer(request: Any) -> str | None:
    """The bearer token ``request`` carries, ``None`` if no Authorization header; '' if malformed."""
    header = request.getHeader(b"authorization")
    if header is None:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def session_id(request: Any) -> str | None:
    """The session id in ``request``'s cookie, if it has one."""
    value = request.getCookie(SESSION_COOKIE)
    return value.decode("latin-1") if value else None


class CredentialCheck:
    """
    Finds who a request is from, in the database, at every request.

    :param clock: gives the time sessions expire against.
    """

    def __init__(self, database: Database, clock: Any) -> None:
        self.database = database
        self.clock = clock

    def now(self) -> datetime:
        """The clock's time, as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    async def credential(self, request: Any) -> Credential:
        """
        The request's credential: its bearer token if it has an
        Authorization header, else its session cookie.

        :raises Unauthorized: without a valid one of either.
        """
        token = bearer(request)
        if token is not None:
            if not token:
                raise Unauthorized("a bearer token is required: Authorization: Bearer <token>")
            return _token(await self.database.run(token_credential, token))
        session = session_id(request)
        if session is None:
            raise Unauthorized("a bearer token or a session is required: Authorization: Bearer <token>")
        found = await self.database.run(session_credential, session, self.now())
        if found is None:
            raise Unauthorized("the session has ended: log in again")
        return Credential(found[0], found[1], SESSION, csrf_token(session))

    async def admit(self, request: Any, route: str) -> Credential | None:
        """
        The credential of a request for ``route``, checked against the
        permission table; ``None`` for a public route.

        :raises Unauthorized: without a valid credential (not for a public route).
        :raises Forbidden: without the role needed, or, for a state-changing
            request with a session, without its CSRF token.
        """
        least = needed(request.method.decode("ascii", "replace"), route)
        if least is PUBLIC:
            return None
        credential = await self.credential(request)
        check_csrf(request, credential)
        return check_role(credential, least)

    def token_check(self, request: Any, route: str) -> TokenCheck | None:
        """
        The check of ``request``'s bearer token for ``route``, to make in
        the transaction of the route's work; ``None`` when there is none to
        leave to it (a public route, no Authorization header, a malformed
        one): then :meth:`admit` decides, as for any route.
        """
        least = needed(request.method.decode("ascii", "replace"), route)
        token = bearer(request)
        if least is PUBLIC or not token:
            return None
        return TokenCheck(token, least)


@dataclass(frozen=True)
class TokenCheck:
    """
    A bearer token's admission, made in the transaction of the work it
    admits (:func:`requester`): the lookup and the role check of
    :meth:`CredentialCheck.admit`, with no transaction nor thread hop of
    its own.  A token revoked before that transaction is refused by it.

    :ivar least: the least role the route needs.
    """

    token: str = field(repr=False)
    least: Role

    def __call__(self, connection: Connection) -> Credential:
        """
        The token's credential, if it may use the route.

        :raises Unauthorized: it is no token (or no longer one).
        :raises Forbidden: its role does not allow the route.
        """
        return check_role(_token(token_credential(connection, self.token)), self.least)


Requester = str | TokenCheck
"""Who asks for a change: a name already admitted, or a token still to check."""


def requester(connection: Connection, who: Requester) -> str:
    """
    The name of who asks: ``who`` itself, or a token's name, checked in
    ``connection``'s transaction.

    :raises Unauthorized: for a token that is no (longer a) token.
    :raises Forbidden: for a token whose role does not allow the route.
    """
    return who if isinstance(who, str) else who(connection).name


def _token(found: tuple[str, Role] | None) -> Credential:
    """The credential of a token found, by :func:`token_credential`; refuse one not found."""
    if found is None:
        raise Unauthorized("the bearer token is not valid")
    return Credential(found[0], found[1], TOKEN)


def check_role(credential: Credential, least: Role) -> Credential:
    """
    ``credential``, if its role allows what needs ``least``.

    :raises Forbidden: naming both roles otherwise.
    """
    if not credential.role.allows(least):
        raise Forbidden(f"this needs the {least.value} role; {credential.kind} "
                        f"{credential.name!r} has the {credential.role.value} role")
    return credential


def check_csrf(request: Any, credential: Credential) -> None:
    """
    Refuse a state-changing request made with a session unless it carries
    the session's CSRF token (``X-CSRF-Token`` header or ``csrf_token``
    form field).  A bearer token needs none: a browser never adds one by
    itself.

    :raises Forbidden: without it.
    """
    if credential.kind != SESSION or request.method.decode("ascii", "replace").upper() not in STATE_CHANGING:
        return
    given = request.getHeader(CSRF_HEADER)
    given = given.decode("latin-1") if given is not None else form_fields(request).get(CSRF_FIELD, "")
    if not hmac.compare_digest(given.encode("utf-8"), (credential.csrf_token or "").encode("utf-8")):
        raise Forbidden("a valid CSRF token is required: the X-CSRF-Token header or the csrf_token form field")


def form_fields(request: Any) -> dict[str, str]:
    """
    The fields of an ``application/x-www-form-urlencoded`` body (the last
    of each name), or nothing for another body.
    """
    return {name: values[-1] for name, values in form_values(request).items()}


def form_values(request: Any) -> dict[str, list[str]]:
    """
    Every value of each field of an ``application/x-www-form-urlencoded``
    body (a checkbox ticked in many rows is one name with many values), or
    nothing for another body.
    """
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind != b"application/x-www-form-urlencoded" or getattr(request, "too_large", False):
        return {}
    request.content.seek(0)
    raw = request.content.read()
    request.content.seek(0)
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
