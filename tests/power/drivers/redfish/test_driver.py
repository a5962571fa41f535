"""
Tests for pserv.power.drivers.redfish.driver: the driver against sushy-tools' real
Redfish emulator (fake systems driver, basic auth, and once over TLS).

The fake driver applies a reset 1-11 s after accepting it, on a later read.
So round trips run the real power actions through the driver, which send
each command once and verify it by reading with backoff on the real reactor;
the three actions go to three systems and run concurrently so the module
stays well under its time budget.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock

from pserv.power.actions import OffAction, OnAction, SoftOffAction
from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.drivers.redfish.errors import RedfishTLSError
from pserv.power.errors import PowerAuthError, PowerSettingsError, PowerTransientError, PowerUnsupportedError
from pserv.power.policy import VerifyPolicy
from pserv.power.states import PowerState
from pserv.testing.emulators.loopback import ClockSpy, cancel_mid_request, closed_port, silent_server  # noqa: F401
from pserv.testing.emulators.redfish import (  # noqa: F401
    OFF_SYSTEM,
    ON_SYSTEM,
    PASSWORD,
    SOFT_SYSTEM,
    STILL_OFF,
    STILL_ON,
    sushy,
    sushy_tls,
)
from pserv.testing.emulators.redfish_stub import Answer, redfish_tree, reset_path, stub_bmc  # noqa: F401
from pserv.util.backoff import exponential

ON, OFF = PowerState.ON, PowerState.OFF
VERIFY = VerifyPolicy(backoff=exponential(0.25, 1.0), deadline=15.0)
"""Reads after a command: the emulator's delay is at most 11 s (+1 s rounding)."""


@pytest_twisted.async_yield_fixture
async def driver():
    driver = RedfishDriver(request_timeout=5.0)
    yield driver
    await driver.close()


def count_requests(driver: RedfishDriver) -> list[tuple[str, str]]:
    """Record (method, path) of every HTTP request the driver sends from now on."""
    sent: list[tuple[str, str]] = []
    http = driver.client.http
    original: Callable[..., Deferred[Any]] = http.send

    def send(endpoint: Any, method: str, path: str, **kwargs: Any) -> Deferred[Any]:
        sent.append((method, path))
        return original(endpoint, method, path, **kwargs)

    http.send = send  # type: ignore[method-assign]
    return sent


# -- settings -----------------------------------------------------------------


def test_settings_are_the_documented_ones() -> None:
    """The schema has exactly address, username, password (secret), system_id, verify_tls (default true)."""
    schema = RedfishDriver.settings
    assert [s.name for s in schema] == ["address", "username", "password", "system_id", "verify_tls",
                                       "min_command_interval", "max_concurrent"]
    assert schema["address"].required and schema["password"].secret
    assert schema["verify_tls"].default is True and schema["verify_tls"].type.value == "boolean"
    assert schema.redact({"password": PASSWORD})["password"] == "set"


@pytest.mark.parametrize("address", ["ftp://bmc", "https://u:p@bmc", "bmc:0", "bmc/redfish/v2"])
def test_bind_names_a_bad_address(address: str) -> None:
    """bind() refuses a bad address with a PowerSettingsError naming address."""
    with pytest.raises(PowerSettingsError) as raised:
        RedfishDriver().bind({"address": address})
    assert raised.value.field == "address"


def test_bind_names_a_bad_system_id_and_describes_without_secrets() -> None:
    """bind() refuses a system_id path outside /redfish/v1; the description holds no password."""
    with pytest.raises(PowerSettingsError) as raised:
        RedfishDriver().bind({"address": "bmc", "system_id": "../../etc"})
    assert raised.value.field == "system_id"
    control = RedfishDriver().bind({"address": "bmc", "username": "u", "password": PASSWORD})
    assert control.description == "redfish bmc" and PASSWORD not in repr(control)
    assert control.params["verify_tls"] is True


# -- sushy-tools: reads, discovery, round trips ---------------------------------


@pytest_twisted.ensureDeferred
async def test_query_reads_on_and_off(sushy, driver) -> None:
    """query() reads PowerState of the chosen system from the emulator: on and off."""
    assert await driver.query(sushy.params(system_id=STILL_ON)) is ON
    assert await driver.query(sushy.params(system_id=STILL_OFF)) is OFF


@pytest_twisted.ensureDeferred
async def test_discovery_is_cached_per_bmc(sushy, driver) -> None:
    """After the first query, a query is a single GET of the system (cached URL, no rediscovery)."""
    await driver.query(sushy.params(system_id=STILL_ON))
    sent = count_requests(driver)
    await driver.query(sushy.params(system_id=STILL_ON))
    assert sent == [("GET", f"/redfish/v1/Systems/{STILL_ON}")]


@pytest_twisted.ensureDeferred
async def test_several_systems_need_a_system_id(sushy, driver) -> None:
    """With five systems and no system_id, the error names system_id and lists the ids."""
    with pytest.raises(PowerSettingsError) as raised:
        await driver.query(sushy.params())
    assert raised.value.field == "system_id" and STILL_ON in str(raised.value)


@pytest_twisted.ensureDeferred
async def test_an_unknown_system_id_is_a_settings_error(sushy, driver) -> None:
    """A system_id the BMC does not have (a 404) is a settings error naming system_id."""
    with pytest.raises(PowerSettingsError) as raised:
        await driver.query(sushy.params(system_id="no-such-node"))
    assert raised.value.field == "system_id"
    assert str(raised.value).startswith(f"system_id: redfish {sushy.address} has no system 'no-such-node'")


@pytest_twisted.ensureDeferred
async def test_a_system_name_is_followed_to_its_system(sushy, driver) -> None:
    """sushy-tools redirects a system's name to its UUID; the driver follows it on the same BMC."""
    assert await driver.query(sushy.params(system_id="node-3")) is ON


@pytest_twisted.ensureDeferred
async def test_on_off_and_soft_off_reach_their_states(sushy, driver) -> None:
    """on, off and soft_off actions through the driver send once and verify on, off and off."""
    cases = [(OFF_SYSTEM, OnAction, OFF, ON),
             (ON_SYSTEM, OffAction, ON, OFF),
             (SOFT_SYSTEM, SoftOffAction, ON, OFF)]
    for system, _, before, _ in cases:
        assert await driver.query(sushy.params(system_id=system)) is before
    actions = [
        action(driver.bind(sushy.params(system_id=system)), reactor, policy=VERIFY)
        for system, action, _, _ in cases
    ]
    await gatherResults([action.start() for action in actions])
    assert [(a.error, a.state, len(a.commands)) for a in actions] == [
        (None, after, 1) for *_, after in cases
    ]


# -- sushy-tools: failures -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_is_fatal_not_retried_and_not_shown(sushy, driver) -> None:
    """A wrong password is PowerAuthError after one request, and the message holds no password."""
    sent = count_requests(driver)
    wrong = "Wr0ng-" + PASSWORD
    with pytest.raises(PowerAuthError) as raised:
        await driver.query(sushy.params(system_id=STILL_ON, password=wrong))
    assert raised.value.fatal
    assert sent == [("GET", "/redfish/v1/"), ("GET", "/redfish/v1/Systems")]
    message = str(raised.value)
    assert message.startswith(f"redfish {sushy.address}: GET /redfish/v1/Systems: HTTP 401")
    assert wrong not in message and PASSWORD not in message


@pytest_twisted.ensureDeferred
async def test_a_refused_command_is_sent_once(sushy, driver) -> None:
    """A command refused with 401 is PowerAuthError after exactly one POST: never re-sent."""
    await driver.query(sushy.params(system_id=STILL_OFF))
    sent = count_requests(driver)
    with pytest.raises(PowerAuthError):
        await driver.power_on(sushy.params(system_id=STILL_OFF, password="nope"))
    assert [m for m, _ in sent] == ["POST"]


@pytest_twisted.ensureDeferred
async def test_connection_refused_is_transient(driver) -> None:
    """A BMC with nothing listening fails transient, naming the BMC."""
    address = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(PowerTransientError, match="connection refused") as raised:
        await driver.query({"address": address})
    assert str(raised.value).startswith(f"redfish {address}: GET /redfish/v1/")


@pytest_twisted.ensureDeferred
async def test_a_bmc_that_never_answers_times_out_as_transient(silent_server) -> None:
    """A BMC that accepts but never replies fails transient when the driver's clock reaches the request timeout."""
    clock = Clock()
    driver = RedfishDriver(clock=clock, request_timeout=0.5)
    call = driver.query({"address": silent_server.address})
    await silent_server.factory.requested
    clock.advance(0.499)
    assert not call.called
    clock.advance(0.001)
    with pytest.raises(PowerTransientError, match="no reply within 0.5s"):
        await call
    await silent_server.factory.connections[0].lost
    await driver.close()


@pytest_twisted.ensureDeferred
async def test_cancelling_a_query_drops_the_connection(silent_server) -> None:
    """Cancelling a driver call mid-request fails it with CancelledError, once, closes the connection, leaves no timer."""
    spy = ClockSpy(reactor)
    driver = RedfishDriver(spy, request_timeout=30.0)
    await cancel_mid_request(driver.query({"address": silent_server.address}), silent_server, spy, driver.close)


@pytest_twisted.ensureDeferred
async def test_a_vanished_system_is_found_again(stub_bmc, driver) -> None:
    """A cached system that now 404s is rediscovered once, then read."""
    redfish_tree(stub_bmc.stub, systems={"1": "On"})
    await driver.query({"address": stub_bmc.address})
    stub_bmc.stub.script.clear()
    redfish_tree(stub_bmc.stub, systems={"2": "Off"})
    assert await driver.query({"address": stub_bmc.address}) is OFF
    assert stub_bmc.stub.count("GET", "/redfish/v1/Systems/1") == 2
    assert stub_bmc.stub.count("GET", "/redfish/v1/Systems/2") == 1


@pytest_twisted.ensureDeferred
async def test_on_of_a_bmc_refusing_reads_sends_no_reset(stub_bmc, driver) -> None:
    """An on whose read the BMC answers 501 fails fatally, naming the refusal, and posts no reset."""
    redfish_tree(stub_bmc.stub, systems={"1": "On"})
    await driver.query({"address": stub_bmc.address})
    stub_bmc.stub.on("GET", "/redfish/v1/Systems/1", Answer(501))
    action = OnAction(driver.bind({"address": stub_bmc.address}), reactor)
    await action.start()
    assert stub_bmc.stub.count("POST", reset_path("1")) == 0 and action.commands == []
    assert isinstance(action.error, PowerUnsupportedError) and action.error.fatal
    assert "the BMC refused to read power, so nothing was sent" in str(action.error)


@pytest_twisted.ensureDeferred
async def test_an_operation_is_bounded_by_the_policy(stub_bmc) -> None:
    """A whole query that outlasts the policy's read timeout fails transient, naming it."""
    class Quick(RedfishDriver):
        verify_policy = VerifyPolicy(read_timeout=0.2)

    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("GET", "/redfish/v1/Systems", Answer(503, delay=0.05))
    driver = Quick(retry_backoff=exponential(0.1, 0.1), retries=3)
    with pytest.raises(PowerTransientError, match=r"query took over 0.2s"):
        await driver.query({"address": stub_bmc.address})
    await driver.close()


# -- sushy-tools over TLS ----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_tls_verification_refuses_a_self_signed_bmc(sushy_tls, driver) -> None:
    """With verify_tls on (the default) a self-signed BMC fails fatally, saying why and what to set."""
    with pytest.raises(RedfishTLSError, match="certificate verify failed.*verify_tls: false") as raised:
        await driver.query(sushy_tls.params(system_id=STILL_ON))
    assert raised.value.fatal


@pytest_twisted.ensureDeferred
async def test_tls_opt_out_reads_and_commands(sushy_tls, driver) -> None:
    """verify_tls: false reads and commands over TLS; it never lends its connection to a verifying node."""
    params = sushy_tls.params(system_id=STILL_ON, verify_tls=False)
    assert await driver.query(params) is ON
    await driver.power_on(params)
    with pytest.raises(RedfishTLSError):
        await driver.query(sushy_tls.params(system_id=STILL_ON))


@pytest_twisted.ensureDeferred
async def test_tls_verification_accepts_a_trusted_certificate(sushy_tls, monkeypatch) -> None:
    """With the BMC's certificate trusted (SSL_CERT_FILE), verification on succeeds for 127.0.0.1."""
    monkeypatch.setenv("SSL_CERT_FILE", str(sushy_tls.workdir / "bmc.crt"))
    driver = RedfishDriver(request_timeout=5.0)
    assert await driver.query(sushy_tls.params(system_id=STILL_ON)) is ON
    await driver.close()


# -- sushy-tools: the boot override ---------------------------------------------


@pytest.mark.parametrize("device, persistent", [(BootDevice.PXE, False), (BootDevice.DISK, True),
                                                (BootDevice.CDROM, False)])
@pytest_twisted.ensureDeferred
async def test_a_boot_device_is_set_and_read_back(sushy, driver, device, persistent) -> None:
    """PATCH Boot sets BootSourceOverrideTarget on sushy-tools; its GET reads the device back (kept for every boot: libvirt's way)."""
    params = sushy.params(system_id=STILL_OFF)
    await driver.set_boot_device(params, device, persistent)
    seen = await driver.get_boot_device(params)
    assert seen == BootSetting(device, True) and seen.gives(BootSetting(device, persistent))


@pytest_twisted.ensureDeferred
async def test_an_on_with_a_boot_device_sets_it_first(sushy, driver) -> None:
    """An on with boot device pxe through the Redfish driver sets PXE (read back) and then switches the node on."""
    params = sushy.params(system_id=OFF_SYSTEM)
    control = driver.bind(params)
    action = OnAction(control, reactor, policy=VERIFY, boot=BootSetting(BootDevice.PXE))
    await action.start()
    assert (action.error, action.state, action.boot_set) == (None, ON, True)
    assert (await driver.get_boot_device(params)).device is BootDevice.PXE
    await driver.power_off(params)


def test_the_redfish_driver_can_set_a_boot_device() -> None:
    """The Redfish driver declares, as its power type does, that it can set a boot device."""
    assert RedfishDriver.can_set_boot
