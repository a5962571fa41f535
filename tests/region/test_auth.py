"""
Tests for pserv.region.auth.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.auth import CACHE_SECONDS, TokenCheck, Unauthorized
from pserv.region.db import Database
from pserv.region.store.tokens import create_token


def bearer(token):
    request = DummyRequest([b""])
    request.requestHeaders.setRawHeaders(b"authorization", [f"Bearer {token}".encode()])
    return request


@pytest_twisted.ensureDeferred
async def test_known_token_is_remembered_for_a_while(engine, moments):
    """A valid token is checked once against the store, then remembered until the cache expires."""
    database = Database(engine, reactor)
    token = database.run_now(create_token, "ops", moments())
    clock = Clock()
    check = TokenCheck(database, clock)
    try:
        assert await check.name_for(bearer(token)) == "ops"
        database.run = None  # a second lookup would now fail
        assert await check.name_for(bearer(token)) == "ops"
        clock.advance(CACHE_SECONDS + 1)
        with pytest.raises(TypeError):
            check.name_for(bearer(token))
    finally:
        Database.stop(database)


@pytest_twisted.ensureDeferred
async def test_bad_tokens_refused(engine):
    """A missing, malformed or unknown token is refused."""
    check = TokenCheck(Database(engine, reactor), Clock())
    with pytest.raises(Unauthorized):
        check.name_for(DummyRequest([b""]))
    with pytest.raises(Unauthorized):
        check.name_for(bearer(""))
    with pytest.raises(Unauthorized):
        await check.name_for(bearer("pserv_nope"))
    check.database.stop()
