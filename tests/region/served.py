"""
A region's API served on loopback for tests, on an injected clock, with
credentials of every role: bearer tokens, and UI sessions (cookie and
CSRF token) made directly in the store, so no test waits for argon2.
"""

from dataclasses import dataclass

from argon2 import PasswordHasher
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.web.server import Site

from pserv.region.api import RegionAPI
from pserv.region.clusters import ConnectedClusters
from pserv.region.db import Database
from pserv.region.request_timing import TimedRequest
from pserv.region.roles import Role
from pserv.region.store.sessions import create_session, csrf_token
from pserv.region.store.tokens import create_token
from pserv.region.store.users import create_user
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.region.contract import APIClient

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""An argon2 hasher cheap enough for tests; hashes record their parameters."""

START = 1_800_000_000


@dataclass(frozen=True)
class Session:
    """A UI session as a browser holds it."""

    name: str
    cookie: str
    csrf: str

    def headers(self, csrf: bool = True) -> dict:
        """The Cookie header, and the CSRF token's header unless ``csrf`` is false."""
        headers = {"Cookie": [f"pserv_session={self.cookie}"]}
        if csrf:
            headers["X-CSRF-Token"] = [self.csrf]
        return headers


class Served:
    """
    A RegionAPI on a loopback port whose clock is a ``Clock``, its
    requests timed for its metrics as the region's are.

    :ivar base: its URL.
    """

    def __init__(self, engine, lifetime: float = 3600.0) -> None:
        self.engine = engine
        self.clock = Clock()
        self.clock.advance(START)
        self.database = Database(engine, reactor)
        self.api = RegionAPI(self.database, self.clock, ConnectedClusters(self.database, self.clock),
                             power_types=POWER_TYPES_WITH_FAKE, session_lifetime=lifetime)
        site = Site(self.api.resource())
        site.requestFactory = TimedRequest
        site.metrics = self.api.metrics
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.base = f"http://127.0.0.1:{self.port.getHost().port}"

    def stop(self):
        """End the event streams, stop listening and the database pool."""
        self.api.feed.stop()
        self.database.stop() if self.database._started else None
        return self.port.stopListening()

    def token(self, role: Role, name: str | None = None) -> str:
        """A new bearer token of ``role``."""
        return self.database.run_now(create_token, name or f"{role.value}-token", self.api.now(), role)

    def user(self, name: str, role: Role, password: str = "a-good-password") -> dict:
        """A new user of ``role``, its password hashed cheaply."""
        return self.database.run_now(create_user, name, CHEAP.hash(password), role, self.api.now())

    def session(self, role: Role, name: str | None = None) -> Session:
        """A new user of ``role`` with a live session."""
        name = name or f"{role.value}-user"
        user = self.user(name, role)
        cookie = self.database.run_now(create_session, user["id"], name, "127.0.0.1", self.api.now(),
                                       self.api.sessions.lifetime)
        return Session(name, cookie, csrf_token(cookie))

    def client(self, token: str | None = None, session: Session | None = None, csrf: bool = True) -> APIClient:
        """A contract-checking client with ``token`` or ``session``."""
        return APIClient(self.base, token, session.headers(csrf) if session else None)
