"""
Tests for pserv.power.drivers.redfish.client: auth choice, redirects, JSON
and error statuses, against the scripted stub BMC.
"""

from __future__ import annotations

import json

import pytest
import pytest_twisted

from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.drivers.redfish.errors import RedfishProtocolError
from pserv.power.errors import PowerFatalError, PowerSettingsError
from pserv.power.states import PowerState
from pserv.testing.emulators.redfish_stub import Answer, redfish_tree, reset_path, stub_bmc  # noqa: F401
from pserv.util.backoff import exponential

SYSTEM = "/redfish/v1/Systems/1"


@pytest_twisted.async_yield_fixture
async def driver():
    driver = RedfishDriver(request_timeout=5.0, retry_backoff=exponential(0.01, 0.01), retries=1)
    yield driver
    await driver.close()


def node(bmc, **extra):
    return {"address": bmc.address, "username": "admin", "password": "pw", **extra}


@pytest_twisted.ensureDeferred
async def test_a_root_that_wants_credentials_means_basic_auth(stub_bmc, driver) -> None:
    """A service root answering 401 falls back to the standard paths and basic auth."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(401))
    assert await driver.query(node(stub_bmc)) is PowerState.ON
    system_get = [s for s in stub_bmc.stub.seen if s.path == SYSTEM][0]
    assert system_get.headers["authorization"].startswith("Basic ")


@pytest_twisted.ensureDeferred
async def test_the_root_is_unauthenticated_and_its_systems_link_followed(stub_bmc, driver) -> None:
    """The root is read without credentials and its Systems link replaces the default path."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, {"Systems": {"@odata.id": "/redfish/v1/Machines"}}))
    stub_bmc.stub.on("GET", "/redfish/v1/Machines", Answer(200, {"Members": [{"@odata.id": SYSTEM}]}))
    assert await driver.query(node(stub_bmc)) is PowerState.ON
    root_get = stub_bmc.stub.seen[0]
    assert root_get.path == "/redfish/v1/" and "authorization" not in root_get.headers
    assert stub_bmc.stub.count("GET", "/redfish/v1/Systems") == 0


@pytest_twisted.ensureDeferred
async def test_no_username_sends_no_credentials(stub_bmc, driver) -> None:
    """A node without a username sends no Authorization header at all."""
    redfish_tree(stub_bmc.stub)
    await driver.query({"address": stub_bmc.address})
    assert not any("authorization" in s.headers for s in stub_bmc.stub.seen)


@pytest_twisted.ensureDeferred
async def test_a_redirect_within_the_service_is_followed(stub_bmc, driver) -> None:
    """A 307 to another path on the same BMC is followed for a GET."""
    redfish_tree(stub_bmc.stub, systems={"uuid-1": "Off"})
    stub_bmc.stub.on("GET", "/redfish/v1/Systems/blade1", Answer(307, b"", {"Location": "/redfish/v1/Systems/uuid-1"}))
    assert await driver.query(node(stub_bmc, system_id="blade1")) is PowerState.OFF


@pytest_twisted.ensureDeferred
async def test_a_redirect_to_another_host_is_refused(stub_bmc, driver) -> None:
    """A redirect off the BMC is a protocol error, so credentials never leave it."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", SYSTEM, Answer(302, b"", {"Location": "http://elsewhere.example/steal"}))
    with pytest.raises(RedfishProtocolError, match="another service"):
        await driver.query(node(stub_bmc))


@pytest_twisted.ensureDeferred
async def test_a_reply_that_is_not_json_is_a_protocol_error(stub_bmc, driver) -> None:
    """An HTML page where JSON was expected is a clear protocol error naming what came."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", SYSTEM, Answer(200, b"<html>login</html>", {"Content-Type": "text/html"}))
    with pytest.raises(RedfishProtocolError, match=r"GET /redfish/v1/Systems/1: HTTP 200 reply is not JSON \(text/html"):
        await driver.query(node(stub_bmc))


@pytest_twisted.ensureDeferred
async def test_json_that_is_not_an_object_is_a_protocol_error(stub_bmc, driver) -> None:
    """A JSON list where a resource was expected is a protocol error."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", SYSTEM, Answer(200, [1, 2, 3]))
    with pytest.raises(RedfishProtocolError, match="not an object"):
        await driver.query(node(stub_bmc))


@pytest_twisted.ensureDeferred
async def test_a_400_is_fatal_with_the_bmcs_message_and_sent_once(stub_bmc, driver) -> None:
    """A 400 to a reset is fatal, carries ExtendedInfo's message, and is not re-sent."""
    redfish_tree(stub_bmc.stub)
    body = {"error": {"code": "Base.1.8.GeneralError", "message": "See ExtendedInfo.",
                      "@Message.ExtendedInfo": [{"MessageId": "Base.1.8.PropertyMissing",
                                                 "Message": "The property ResetType is missing."}]}}
    stub_bmc.stub.on("POST", reset_path("1"), Answer(400, body))
    with pytest.raises(PowerFatalError, match="The property ResetType is missing.") as raised:
        await driver.power_on(node(stub_bmc))
    assert str(raised.value).startswith(f"redfish {stub_bmc.address}: POST {reset_path('1')}: HTTP 400")
    assert stub_bmc.stub.count("POST", reset_path("1")) == 1
    assert json.loads(stub_bmc.stub.seen[-1].body) == {"ResetType": "On"}


@pytest_twisted.ensureDeferred
async def test_no_systems_collection_is_a_settings_error_on_the_address(stub_bmc, driver) -> None:
    """A 404 for the Systems collection says the address is not a Redfish BMC."""
    stub_bmc.stub.on("GET", "/redfish/v1/", Answer(200, {}))
    with pytest.raises(PowerSettingsError) as raised:
        await driver.query(node(stub_bmc))
    assert raised.value.field == "address"
