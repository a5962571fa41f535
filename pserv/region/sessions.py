"""
Logging in and out of the UI: a name and password checked (argon2, off
the reactor) under the failed-login limit, a server-side session, and its
cookie: ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the request
came over TLS, lasting as long as the session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pserv.region.auth import SESSION_COOKIE, session_id
from pserv.region.db import Database
from pserv.region.passwords import off_the_reactor, verify_password
from pserv.region.store.logins import begin_login, fail_login, finish_login
from pserv.region.store.sessions import LIFETIME, end_session


@dataclass(frozen=True)
class LoginResult:
    """
    :ivar session: the new session's id, when the login succeeded.
    :ivar retry_after: whole seconds to wait, when logins are throttled.
    """

    session: str | None = None
    retry_after: int | None = None


class Sessions:
    """
    Starts and ends UI sessions.

    :param clock: gives login times and expiries.
    :param reactor: whose thread pool checks passwords.
    :param lifetime: seconds a session lasts.
    """

    def __init__(self, database: Database, clock: Any, reactor: Any, lifetime: float = LIFETIME) -> None:
        self.database = database
        self.clock = clock
        self.reactor = reactor
        self.lifetime = lifetime

    def now(self) -> datetime:
        """The clock's time, as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    async def log_in(self, name: str, password: str, address: str) -> LoginResult:
        """
        Check ``name`` and ``password`` from ``address``; a session if they
        match an enabled user, a wait if throttled, otherwise nothing (and
        a recorded failure).
        """
        check = await self.database.run(begin_login, name, address, self.now())
        if check.retry_after is not None:
            return LoginResult(retry_after=max(1, math.ceil(check.retry_after)))
        user = check.user
        matched = await off_the_reactor(self.reactor, verify_password, user and user.password_hash, password)
        if matched and not user.disabled:
            session = await self.database.run(finish_login, user.id, name, address, self.now(), self.lifetime)
            return LoginResult(session=session)
        await self.database.run(fail_login, name, address, self.now(), user)
        return LoginResult()

    async def log_out(self, request: Any) -> None:
        """End the session ``request``'s cookie names, if any, and clear the cookie."""
        session = session_id(request)
        if session is not None:
            await self.database.run(end_session, session, self.now())
        clear_cookie(request)

    def set_cookie(self, request: Any, session: str) -> None:
        """Give the browser the session's cookie."""
        _cookie(request, session, int(self.lifetime))


def clear_cookie(request: Any) -> None:
    """Tell the browser to forget the session cookie."""
    _cookie(request, "", 0)


def _cookie(request: Any, value: str, max_age: int) -> None:
    request.addCookie(SESSION_COOKIE, value.encode("latin-1"), path=b"/", max_age=str(max_age).encode(),
                      secure=request.isSecure(), httpOnly=True, sameSite="strict")


def client_address(request: Any) -> str:
    """The address a request came from, as failed logins are counted by."""
    address = request.getClientAddress()
    return str(getattr(address, "host", None) or "unknown")
