"""
Bearer tokens for the API, checked against the store and remembered for a
short while so a busy API does not ask the database on every request.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed

from pserv.region.db import Database
from pserv.region.errors import RegionError
from pserv.region.store.tokens import digest, token_name

CACHE_SECONDS = 60.0


class Unauthorized(RegionError):
    """No valid bearer token."""

    status = 401


class TokenCheck:
    """
    Finds the name of the token a request carries.

    :param clock: for how long a checked token is remembered.
    """

    def __init__(self, database: Database, clock: Any) -> None:
        self.database = database
        self.clock = clock
        self._known: dict[str, tuple[str, float]] = {}

    def name_for(self, request: Any) -> Deferred[str]:
        """
        The token's name.

        :raises Unauthorized: (as a failure) without a valid token.
        """
        header = (request.getHeader(b"authorization") or b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required: Authorization: Bearer <token>")
        key = digest(token.strip())
        known = self._known.get(key)
        now = self.clock.seconds()
        if known is not None and known[1] > now:
            return succeed(known[0])
        return self.database.run(token_name, token.strip()).addCallback(self._remember, key, now)

    def _remember(self, name: str | None, key: str, now: float) -> str:
        if name is None:
            raise Unauthorized("the bearer token is not valid")
        self._known[key] = (name, now + CACHE_SECONDS)
        return name
