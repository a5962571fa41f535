"""
Redfish credentials and sessions.

A session (``POST .../SessionService/Sessions``, then ``X-Auth-Token`` on
each request) costs the BMC one password check instead of one per request,
and most BMCs limit how many exist at once.  So there is at most one session
per BMC and user, one login in flight at a time however many nodes ask, and
every session is deleted when the driver closes or the reactor shuts down.
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.python.failure import Failure

from pserv.power.types.redfish_endpoint import Endpoint
from pserv.power.drivers.redfish.errors import RedfishProtocolError, error_for_status
from pserv.power.drivers.redfish.http import Reply

Send = Callable[..., Deferred[Reply]]
"""``send(endpoint, method, path, *, what, headers=None, json_body=None)``."""

_UNAVAILABLE = frozenset({404, 405, 501})


@dataclass(frozen=True, slots=True)
class Credentials:
    """
    A username and password; the password never shows in ``repr``.
    """

    username: str | None
    password: str | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str | None, str]:
        """Tells credentials apart without holding the password itself."""
        digest = hashlib.sha256((self.password or "").encode()).hexdigest()
        return (self.username, digest)

    def basic(self) -> dict[str, str]:
        """The ``Authorization`` header for HTTP basic auth, if any."""
        if not self.username:
            return {}
        pair = f"{self.username}:{self.password or ''}".encode()
        return {"Authorization": "Basic " + b64encode(pair).decode("ascii")}


@dataclass(frozen=True, slots=True)
class Session:
    """
    A live session: its token and where to delete it.
    """

    endpoint: Endpoint
    token: str = field(repr=False)
    path: str | None


class SessionsUnavailable(Exception):
    """
    The BMC advertises sessions but will not create one; use basic auth.
    """


class Sessions:
    """
    The sessions one driver holds, at most one per BMC and user.

    :param send: sends one request, retrying a busy BMC, without auth.
    :param reactor: where to hook deleting sessions at shutdown.
    """

    def __init__(self, send: Send, reactor: Any) -> None:
        self._send = send
        self._reactor = reactor
        self._live: dict[tuple, Session] = {}
        self._waiters: dict[tuple, list[Deferred[Session]]] = {}
        self._logins: dict[tuple, Deferred[Session]] = {}
        self._trigger: Any = None

    def open_count(self) -> int:
        """How many sessions are live now, over every BMC and user."""
        return len(self._live)

    def token(self, endpoint: Endpoint, creds: Credentials) -> str | None:
        """The token of the live session for this BMC and user, if any."""
        session = self._live.get((endpoint, creds.key))
        return session.token if session else None

    def login(self, endpoint: Endpoint, creds: Credentials, path: str, label: str) -> Deferred[str]:
        """
        Log in, or join the login already under way; fires with the token.

        Cancelling the result stops only this caller's wait.

        :raises PowerAuthError: when the BMC refuses the credentials.
        :raises SessionsUnavailable: when the BMC cannot create sessions.
        """
        key = (endpoint, creds.key)
        mine: Deferred[Session] = Deferred(lambda d: self._forget(key, d))
        self._waiters.setdefault(key, []).append(mine)
        if key not in self._logins:
            started = Deferred.fromCoroutine(self._login(endpoint, creds, path, label))
            self._logins[key] = started
            started.addBoth(self._deliver, key)
        return mine.addCallback(lambda session: session.token)

    def drop(self, endpoint: Endpoint, creds: Credentials, token: str) -> None:
        """
        Forget the session using ``token`` after the BMC refused it.

        A token that a concurrent caller already replaced is left alone, so
        many requests refused at once cause one new login, not many.
        """
        key = (endpoint, creds.key)
        session = self._live.get(key)
        if session is not None and session.token == token:
            del self._live[key]

    def close(self) -> Deferred[None]:
        """
        Delete every live session at its BMC, ignoring failures.
        """
        self._remove_trigger()
        for login in list(self._logins.values()):
            login.cancel()
        live, self._live = list(self._live.values()), {}
        return gatherResults([self._logout(s) for s in live]).addCallback(lambda _: None)

    async def _login(self, endpoint: Endpoint, creds: Credentials, path: str, label: str) -> Session:
        what = f"{label}: session login at {path}"
        body = {"UserName": creds.username or "", "Password": creds.password or ""}
        reply = await self._send(endpoint, "POST", path, what=what, json_body=body)
        if reply.code in _UNAVAILABLE:
            raise SessionsUnavailable(what)
        if not reply.ok:
            raise error_for_status(what, reply.code, reply.phrase, reply.body,
                                   secrets=[creds.password])
        token = reply.header("X-Auth-Token")
        if not token:
            raise RedfishProtocolError(f"{what}: HTTP {reply.code} without an X-Auth-Token")
        return Session(endpoint, token, _session_path(reply))

    def _deliver(self, result: Session | Failure, key: tuple) -> None:
        self._logins.pop(key, None)
        if isinstance(result, Session):
            self._live[key] = result
            self._add_trigger()
        for waiter in self._waiters.pop(key, []):
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    def _forget(self, key: tuple, waiter: Deferred[Session]) -> None:
        waiters = self._waiters.get(key, [])
        if waiter in waiters:
            waiters.remove(waiter)

    def _logout(self, session: Session) -> Deferred[None]:
        if session.path is None:
            return succeed(None)
        what = f"session logout at {session.path}"
        sent = self._send(session.endpoint, "DELETE", session.path, what=what,
                          headers={"X-Auth-Token": session.token})
        return sent.addBoth(lambda _: None)

    def _add_trigger(self) -> None:
        add = getattr(self._reactor, "addSystemEventTrigger", None)
        if self._trigger is None and add is not None:
            self._trigger = add("before", "shutdown", self._at_shutdown)

    def _at_shutdown(self) -> Deferred[None]:
        self._trigger = None  # firing now: removing it would warn
        return self.close()

    def _remove_trigger(self) -> None:
        trigger, self._trigger = self._trigger, None
        if trigger is not None:
            self._reactor.removeSystemEventTrigger(trigger)


def _session_path(reply: Reply) -> str | None:
    location = reply.header("Location")
    if not location:
        try:
            location = json.loads(reply.body).get("@odata.id")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return None
    path = urlsplit(location).path if isinstance(location, str) else None
    return path if path and path.startswith("/") else None
