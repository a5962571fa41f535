"""
Tests for pserv.power.drivers.redfish.session: credentials and sessions.

sushy-tools 2.2 has no SessionService (its service root links no Sessions
and ``/redfish/v1/SessionService/Sessions`` is a 404), so sessions are tested
against the scripted stub BMC.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, gatherResults
from zope.interface import directlyProvides, providedBy

from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.drivers.redfish.session import Credentials
from pserv.power.errors import PowerAuthError, PowerFatalError
from pserv.power.states import PowerState
from pserv.testing.emulators.redfish_stub import (  # noqa: F401
    Answer,
    redfish_tree,
    stub_bmc,
    system_document,
)
from pserv.util.backoff import exponential

SESSIONS = "/redfish/v1/SessionService/Sessions"
SYSTEM = "/redfish/v1/Systems/1"
PASSWORD = "Sup3r-secret-pw"


def login(token: str, number: int = 1, delay: float = 0.0) -> Answer:
    location = f"{SESSIONS}/{number}"
    return Answer(201, {"@odata.id": location}, {"X-Auth-Token": token, "Location": location}, delay=delay)


class TriggerSpy:
    """The real reactor, recording shutdown triggers added and removed."""

    def __init__(self) -> None:
        self.triggers: dict[Any, tuple] = {}
        directlyProvides(self, providedBy(reactor))

    def addSystemEventTrigger(self, *args: Any) -> Any:
        handle = object()
        self.triggers[handle] = args
        return handle

    def removeSystemEventTrigger(self, handle: Any) -> None:
        del self.triggers[handle]

    def __getattr__(self, name: str) -> Any:
        return getattr(reactor, name)


@pytest_twisted.async_yield_fixture
async def session_bmc(stub_bmc):
    redfish_tree(stub_bmc.stub, sessions=True)
    stub_bmc.stub.on("POST", SESSIONS, login("tok-1"), login("tok-2", 2))
    stub_bmc.stub.on("DELETE", f"{SESSIONS}/1", Answer(204))
    stub_bmc.stub.on("DELETE", f"{SESSIONS}/2", Answer(204))
    yield stub_bmc


@pytest_twisted.async_yield_fixture
async def driver():
    driver = RedfishDriver(request_timeout=5.0, retry_backoff=exponential(0.01, 0.01), retries=1)
    yield driver
    await driver.close()


def params(bmc: Any, **extra: Any) -> dict[str, Any]:
    return {"address": bmc.address, "username": "admin", "password": PASSWORD, **extra}


def test_credentials_never_show_the_password() -> None:
    """repr and the cache key of credentials hold no password."""
    creds = Credentials("admin", PASSWORD)
    assert PASSWORD not in repr(creds) and PASSWORD not in repr(creds.key)
    header = creds.basic()["Authorization"]
    assert base64.b64decode(header.split()[1]) == f"admin:{PASSWORD}".encode()
    assert Credentials(None, None).basic() == {}


@pytest_twisted.ensureDeferred
async def test_a_session_is_opened_and_its_token_used(session_bmc, driver) -> None:
    """With Sessions linked, the driver logs in once and sends X-Auth-Token, not basic auth."""
    assert await driver.query(params(session_bmc)) is PowerState.ON
    stub = session_bmc.stub
    login_request = next(s for s in stub.seen if s.method == "POST")
    assert json.loads(login_request.body) == {"UserName": "admin", "Password": PASSWORD}
    authed = [s for s in stub.seen if s.path in ("/redfish/v1/Systems", SYSTEM)]
    assert authed and all(s.headers.get("x-auth-token") == "tok-1" for s in authed)
    assert not any("authorization" in s.headers for s in authed)


@pytest_twisted.ensureDeferred
async def test_the_driver_counts_its_live_sessions_for_the_metrics(session_bmc, driver) -> None:
    """Before any call the driver has no session; after calls to one BMC, one live session; closed, none."""
    assert driver.open_sessions() == 0
    await driver.query(params(session_bmc))
    await driver.query(params(session_bmc))
    assert driver.open_sessions() == 1
    await driver.close()
    assert driver.open_sessions() == 0


@pytest_twisted.ensureDeferred
async def test_concurrent_nodes_share_one_login(session_bmc, driver) -> None:
    """Many queries to one BMC at once open a single session."""
    session_bmc.stub.on("POST", SESSIONS, login("tok-1", delay=0.05))
    states = await gatherResults([driver.query(params(session_bmc)) for _ in range(5)])
    assert states == [PowerState.ON] * 5
    assert session_bmc.stub.count("POST", SESSIONS) == 1


@pytest_twisted.ensureDeferred
async def test_a_cancelled_caller_leaves_the_shared_login_running(session_bmc, driver) -> None:
    """Cancelling one caller waiting on a login does not fail the others."""
    stub = session_bmc.stub
    await driver.query({"address": session_bmc.address})  # discovery cached, no login
    held = login("tok-1")
    held.hold = True
    stub.on("POST", SESSIONS, held)
    first, second = driver.query(params(session_bmc)), driver.query(params(session_bmc))
    await stub.when("POST", SESSIONS)
    first.cancel()
    with pytest.raises(CancelledError):
        await first
    stub.release()
    assert await second is PowerState.ON
    assert stub.count("POST", SESSIONS) == 1


@pytest_twisted.ensureDeferred
async def test_an_expired_session_logs_in_again_once(session_bmc, driver) -> None:
    """A 401 on a session token logs in again and repeats the request once."""
    session_bmc.stub.on("GET", SYSTEM, Answer(401), Answer(200, system_document("1", "Off")))
    assert await driver.query(params(session_bmc, system_id="1")) is PowerState.OFF
    stub = session_bmc.stub
    assert stub.count("POST", SESSIONS) == 2
    assert [s.headers["x-auth-token"] for s in stub.seen if s.path == SYSTEM] == ["tok-1", "tok-2"]


@pytest_twisted.ensureDeferred
async def test_a_token_refused_twice_is_an_auth_error(session_bmc, driver) -> None:
    """A 401 that a fresh session does not cure is PowerAuthError, after one re-login only."""
    session_bmc.stub.on("GET", SYSTEM, Answer(401))
    with pytest.raises(PowerAuthError):
        await driver.query(params(session_bmc, system_id="1"))
    assert session_bmc.stub.count("POST", SESSIONS) == 2
    assert session_bmc.stub.count("GET", SYSTEM) == 2


@pytest_twisted.ensureDeferred
async def test_a_refused_login_is_fatal_and_keeps_the_password_out(session_bmc, driver) -> None:
    """Bad credentials at login are PowerAuthError, not retried, with no password in the message."""
    body = {"error": {"message": f"password {PASSWORD} is wrong"}}
    session_bmc.stub.on("POST", SESSIONS, Answer(401, body))
    with pytest.raises(PowerAuthError) as raised:
        await driver.query(params(session_bmc))
    assert PASSWORD not in str(raised.value)
    assert str(raised.value).startswith(f"redfish {session_bmc.address}: session login")
    assert session_bmc.stub.count("POST", SESSIONS) == 1


@pytest_twisted.ensureDeferred
async def test_without_working_sessions_basic_auth_is_used(session_bmc, driver) -> None:
    """A BMC that links Sessions but answers the login 405 gets basic auth instead."""
    session_bmc.stub.on("POST", SESSIONS, Answer(405))
    assert await driver.query(params(session_bmc)) is PowerState.ON
    system_get = [s for s in session_bmc.stub.seen if s.path == SYSTEM][0]
    assert system_get.headers["authorization"].startswith("Basic ")


@pytest_twisted.ensureDeferred
async def test_close_deletes_the_session(session_bmc) -> None:
    """Closing the driver deletes its session at the BMC and removes its shutdown hook."""
    spy = TriggerSpy()
    driver = RedfishDriver(spy, request_timeout=5.0)
    await driver.query(params(session_bmc))
    [(phase, event, hook)] = spy.triggers.values()
    assert (phase, event) == ("before", "shutdown")
    await driver.close()
    deletes = [s for s in session_bmc.stub.seen if s.method == "DELETE"]
    assert [(d.path, d.headers["x-auth-token"]) for d in deletes] == [(f"{SESSIONS}/1", "tok-1")]
    assert spy.triggers == {}


@pytest_twisted.ensureDeferred
async def test_reactor_shutdown_deletes_the_session(session_bmc) -> None:
    """The shutdown hook itself deletes the session, as the reactor would call it."""
    spy = TriggerSpy()
    driver = RedfishDriver(spy, request_timeout=5.0)
    await driver.query(params(session_bmc))
    [(_, _, hook)] = spy.triggers.values()
    await hook()
    assert session_bmc.stub.count("DELETE", f"{SESSIONS}/1") == 1
    await driver.close()


@pytest_twisted.ensureDeferred
async def test_tokens_and_passwords_never_reach_error_messages(session_bmc, driver) -> None:
    """A BMC error echoing the token and password is scrubbed of both."""
    body = {"error": {"message": f"token tok-1 and {PASSWORD} rejected"}}
    session_bmc.stub.on("GET", SYSTEM, Answer(400, body))
    with pytest.raises(PowerFatalError) as raised:
        await driver.query(params(session_bmc, system_id="1"))
    assert "tok-1" not in str(raised.value) and PASSWORD not in str(raised.value)
    assert "rejected" in str(raised.value)
