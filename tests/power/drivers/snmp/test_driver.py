"""
Tests of the snmp_pdu driver: settings, and every operation against a real
net-snmp agent playing a PDU on loopback (v1, v2c with distinct read and
write communities, v3 authPriv).
"""

from __future__ import annotations

import dataclasses

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, gatherResults
from twisted.internet.task import Clock

from pserv.power.control import PowerControl
from pserv.power.types.snmp_vendors import VENDORS, VENDORS_BY_NAME
from pserv.power.drivers.snmp.errors import PDUProtocolError
from pserv.power.drivers.snmp.driver import SNMPPDUDriver
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)
from pserv.power.states import PowerState
from pserv.testing.emulators import snmp_pdu as emulator
from tests.emulators.snmp_fixtures import agent, relay, v2c, v3  # noqa: F401 - fixtures

ON, OFF = PowerState.ON, PowerState.OFF
WRONG_SECRETS = ("n0t-the-Community", "n0t-the-Auth-Key", "n0t-the-Priv-Key")
ALL_SECRETS = emulator.SECRETS + WRONG_SECRETS


@pytest.fixture(autouse=True)
def fresh_agent(request):
    if "agent" in request.fixturenames:
        request.getfixturevalue("agent").reset()


@pytest.fixture
def driver():
    made = SNMPPDUDriver(timeout=0.3, retries=1)
    yield made
    made.close()


async def failure_of(deferred) -> PowerError:
    try:
        result = await deferred
    except PowerError as error:
        for secret in ALL_SECRETS:
            assert secret not in str(error) and secret not in repr(error.args)
        return error
    pytest.fail(f"expected a PowerError, got {result!r}")


# Settings, description and policy.


def test_settings_are_named_as_the_issue_says():
    """The schema has exactly the issue's setting names and the per-BMC limits, secrets marked secret."""
    names = [s.name for s in SNMPPDUDriver.settings]
    assert names == [
        "address", "port", "vendor", "outlet", "version", "community", "write_community",
        "v3_user", "v3_auth_protocol", "v3_auth_key", "v3_priv_protocol", "v3_priv_key",
        "cycle_delay", "min_command_interval", "max_concurrent",
    ]
    secret = {s.name for s in SNMPPDUDriver.settings if s.secret}
    assert secret == {"community", "write_community", "v3_auth_key", "v3_priv_key"}
    assert SNMPPDUDriver.settings["vendor"].choices == tuple(v.name for v in VENDORS) + ("auto",)


def test_bind_fills_defaults():
    """Only address, outlet and a community are needed; the rest defaults."""
    control = SNMPPDUDriver().bind({"address": "pdu1.example", "outlet": "4", "community": "c"})
    assert isinstance(control, PowerControl)
    assert control.params["port"] == 161 and control.params["outlet"] == 4
    assert (control.params["vendor"], control.params["version"]) == ("auto", "2c")
    assert control.verify_policy.cycle_delay == 5.0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"address": None}, "address"),
        ({"address": "not an address!"}, "address"),
        ({"outlet": None}, "outlet"),
        ({"outlet": 0}, "outlet"),
        ({"port": 70000}, "port"),
        ({"vendor": "acme"}, "vendor"),
        ({"version": "4"}, "version"),
        ({"community": None}, "community"),
        ({"cycle_delay": -1}, "cycle_delay"),
        ({"version": "3"}, "v3_user"),
        ({"version": "3", "v3_user": "u"}, "v3_auth_key"),
        ({"version": "3", "v3_user": "u", "v3_auth_key": "k" * 8}, "v3_priv_key"),
        ({"version": "3", "v3_user": "u", "v3_auth_key": "n0t-8"}, "v3_auth_key"),
        ({"version": "3", "v3_user": "u", "v3_auth_key": "k" * 8, "v3_priv_key": "short"}, "v3_priv_key"),
        ({"v3_priv_protocol": "ROT13"}, "v3_priv_protocol"),
        ({"timeout": 3}, "timeout"),
    ],
)
def test_bind_names_the_bad_field(change, field):
    """Each invalid setting fails with a PowerSettingsError naming its field."""
    params = {"address": "10.0.0.5", "outlet": 3, "community": "n0t-the-Community"}
    params.update(change)
    with pytest.raises(PowerSettingsError) as caught:
        SNMPPDUDriver().bind(params)
    assert caught.value.field == field and str(caught.value).startswith(field + ":")
    assert "n0t-" not in str(caught.value)


def test_v3_auth_no_priv_needs_no_priv_key():
    """v3_priv_protocol none (authNoPriv) binds without a privacy key."""
    params = {"address": "10.0.0.5", "outlet": 3, "version": "3", "v3_user": "u",
              "v3_auth_key": "k" * 8, "v3_priv_protocol": "none"}
    assert SNMPPDUDriver().bind(params).params["v3_priv_key"] is None


def test_describe_names_pdu_and_outlet_without_secrets():
    """describe is 'snmp_pdu ADDRESS outlet N' and shows no community or key."""
    control = SNMPPDUDriver().bind({"address": "10.0.0.5", "outlet": 3, "version": "3",
                                    "v3_user": "u", "v3_auth_key": "n0t-the-Auth-Key",
                                    "v3_priv_key": "n0t-the-Priv-Key"})
    assert control.description == "snmp_pdu 10.0.0.5 outlet 3"
    assert "n0t-" not in repr(control) + control.description


def test_policy_takes_cycle_delay_from_the_node():
    """policy() is the driver's VerifyPolicy with the node's cycle_delay."""
    driver = SNMPPDUDriver()
    control = driver.bind({"address": "10.0.0.5", "outlet": 3, "community": "c", "cycle_delay": "12.5"})
    expected = dataclasses.replace(SNMPPDUDriver.verify_policy, cycle_delay=12.5)
    assert control.verify_policy == expected
    assert driver.policy(control.params) == expected


@pytest_twisted.ensureDeferred
async def test_soft_off_is_unsupported():
    """soft_off fails at once with PowerUnsupportedError saying why."""
    control = SNMPPDUDriver().bind({"address": "10.0.0.5", "outlet": 3, "community": "c"})
    error = await failure_of(control.soft_off())
    assert isinstance(error, PowerUnsupportedError)
    assert str(error).startswith("snmp_pdu 10.0.0.5 outlet 3: cannot soft off")
    assert "power off" in str(error)


@pytest_twisted.ensureDeferred
async def test_another_reactor_fails_fast_instead_of_hanging():
    """On a reactor without an asyncio loop, operations fail at once with a clear error."""
    control = SNMPPDUDriver(reactor=Clock()).bind({"address": "10.0.0.5", "outlet": 3, "community": "c"})
    error = await failure_of(control.query())
    assert isinstance(error, PowerFatalError) and "asyncio reactor" in str(error)


# Against the agent.


async def round_trip(control, agent, model, outlet):
    assert await control.query() is ON
    await control.power_off()
    assert agent.outlet(model, outlet) == "off"
    assert await control.query() is OFF
    await control.power_on()
    assert agent.outlet(model, outlet) == "on"
    assert await control.query() is ON


@pytest.mark.parametrize("vendor", [v.name for v in VENDORS])
@pytest_twisted.ensureDeferred
async def test_every_vendor_round_trips(agent, driver, vendor):
    """query, off, query, on, query works for every vendor row against the agent."""
    await round_trip(driver.bind(v2c(agent, outlet=3, vendor=vendor)), agent, vendor, 3)
    assert all(agent.outlet(vendor, n) == "on" for n in (2, 4))


@pytest.mark.parametrize(
    "sys_object_id, model",
    [
        (".1.3.6.1.4.1.318.1.3.4.5", "apc_rackpdu"),
        (".1.3.6.1.4.1.318.1.3.4.2", "apc_masterswitch"),
        (".1.3.6.1.4.1.13742.6", "raritan_pdu2"),
        (".1.3.6.1.4.1.1718.3", "servertech_sentry3"),
        (".1.3.6.1.4.1.1718.4", "servertech_sentry4"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_auto_picks_the_vendor_from_sys_object_id(agent, driver, sys_object_id, model):
    """vendor=auto switches the outlet of the MIB that sysObjectID names, no other."""
    agent.set_sys_object_id(sys_object_id)
    await round_trip(driver.bind(v2c(agent, outlet=2, vendor="auto")), agent, model, 2)
    await driver.bind(v2c(agent, outlet=2, vendor="auto")).power_off()
    others = [v.name for v in VENDORS if v.name != model]
    assert all(agent.outlet(name, 2) == "on" for name in others)


@pytest_twisted.ensureDeferred
async def test_auto_detection_is_cached_per_pdu(agent, driver):
    """sysObjectID is read once per PDU: a later change is not seen by this driver."""
    agent.set_sys_object_id(".1.3.6.1.4.1.13742.6")
    assert await driver.bind(v2c(agent, outlet=1, vendor="auto")).query() is ON
    agent.set_sys_object_id(".1.3.6.1.4.1.8072.3.2.10")
    await driver.bind(v2c(agent, outlet=5, vendor="auto")).power_off()
    assert agent.outlet("raritan_pdu2", 5) == "off"
    fresh = SNMPPDUDriver(timeout=0.3, retries=1)
    try:
        error = await failure_of(fresh.bind(v2c(agent, outlet=5, vendor="auto")).query())
    finally:
        fresh.close()
    assert isinstance(error, PowerSettingsError) and error.field == "vendor"
    assert "1.3.6.1.4.1.8072.3.2.10" in str(error)


@pytest_twisted.ensureDeferred
async def test_v1_round_trip(agent, driver):
    """SNMPv1 switches and reads an outlet."""
    control = driver.bind(v2c(agent, outlet=4, vendor="servertech_sentry3", version="1"))
    await round_trip(control, agent, "servertech_sentry3", 4)


@pytest_twisted.ensureDeferred
async def test_v3_auth_priv_round_trip(agent, driver):
    """SNMPv3 authPriv (SHA/AES) switches and reads an outlet."""
    await round_trip(driver.bind(v3(agent, outlet=6, vendor="raritan_pdu2")), agent, "raritan_pdu2", 6)


@pytest_twisted.ensureDeferred
async def test_v2c_reads_with_community_and_writes_with_write_community(agent, driver):
    """SETs use write_community and GETs community: a wrong one breaks only its side."""
    wrong_read = driver.bind(v2c(agent, outlet=7, community=WRONG_SECRETS[0]))
    await wrong_read.power_off()
    assert agent.outlet("apc_rackpdu", 7) == "off"
    assert isinstance(await failure_of(wrong_read.query()), PowerTransientError)
    read_only = driver.bind(v2c(agent, outlet=7, write_community=emulator.READ_COMMUNITY))
    assert await read_only.query() is OFF
    error = await failure_of(read_only.power_on())
    assert isinstance(error, PowerAuthError) and "noAccess" in str(error)
    assert "write_community" in str(error) and agent.outlet("apc_rackpdu", 7) == "off"


@pytest_twisted.ensureDeferred
async def test_wrong_community_is_a_bounded_transient_timeout(agent, driver, relay):
    """A wrong community gets no answer: transient after 1 + retries unanswered tries, says to check it."""
    control = driver.bind(v2c(agent, community=WRONG_SECRETS[0], port=relay.port))
    error = await failure_of(control.query())
    assert isinstance(error, PowerTransientError) and not error.fatal
    # The bound: each try waits one timeout (0.3 s), and there are exactly 1 + retries of them.
    assert (relay.requests, relay.responses) == (1 + driver.retries, 0)
    assert str(error).startswith(f"snmp_pdu {agent.address} outlet 1: no response")
    assert "check address and community" in str(error)


@pytest.mark.parametrize(
    "change, hint",
    [
        ({"v3_auth_key": WRONG_SECRETS[1]}, "v3_auth_key"),
        ({"v3_user": "nobody"}, "v3_user"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_wrong_v3_credentials_are_auth_errors(agent, driver, change, hint):
    """A wrong v3 key or user is a fatal PowerAuthError naming what to check."""
    error = await failure_of(driver.bind(v3(agent, **change)).query())
    assert isinstance(error, PowerAuthError) and error.fatal
    assert hint in str(error) and str(error).startswith(f"snmp_pdu {agent.address} outlet 1: ")


@pytest_twisted.ensureDeferred
async def test_wrong_v3_priv_key_times_out_and_says_so(agent, driver):
    """net-snmp drops what it cannot decrypt: transient, pointing at v3_priv_key."""
    error = await failure_of(driver.bind(v3(agent, v3_priv_key=WRONG_SECRETS[2])).query())
    assert isinstance(error, PowerTransientError) and "v3_priv_key" in str(error)


@pytest_twisted.ensureDeferred
async def test_unexpected_status_value_is_a_clear_protocol_error(agent, driver):
    """A status value outside the row says what came back and what was expected."""
    agent.force(".1.3.6.1.4.1.13742.6.4.1.2.1.3.1.2", 4)
    error = await failure_of(driver.bind(v2c(agent, outlet=2, vendor="raritan_pdu2")).query())
    assert isinstance(error, PDUProtocolError) and error.fatal
    assert "returned 4" in str(error) and "7 (on) or 8 (off)" in str(error)
    assert "1.3.6.1.4.1.13742.6.4.1.2.1.3.1.2" in str(error)


@pytest_twisted.ensureDeferred
async def test_missing_outlet_is_a_settings_error_naming_outlet(agent, driver):
    """An outlet the PDU lacks fails query and switching with field 'outlet'."""
    control = driver.bind(v2c(agent, outlet=99))
    for call in (control.query, control.power_on):
        error = await failure_of(call())
        assert isinstance(error, PowerSettingsError) and error.field == "outlet"
        assert str(error).startswith(f"snmp_pdu {agent.address} outlet 99: outlet:")


@pytest_twisted.ensureDeferred
async def test_sets_to_one_pdu_never_overlap(agent, relay):
    """Concurrent switching of four outlets reaches the agent one request at a time, in order."""
    agent.set_delay(0.05)
    agent.set_sys_object_id(".1.3.6.1.4.1.318.1.3.4.5")
    patient = SNMPPDUDriver(timeout=3.0, retries=0)  # no resends to blur the count
    controls = [patient.bind(v2c(agent, outlet=n, vendor="auto", port=relay.port)) for n in (1, 2, 3, 4)]
    try:
        await gatherResults([c.power_off() for c in controls] + [controls[0].query()])
    finally:
        patient.close()
    assert relay.max_in_flight == 1
    assert relay.requests == 1 + 4 + 1  # one sysObjectID read, four SETs, one GET
    sets = agent.sets()
    assert [s[0].rsplit(".", 1)[1] for s in sets] == ["1", "2", "3", "4"]
    for before, after in zip(sets, sets[1:]):
        assert after[3] >= before[4]  # each SET starts after the previous one ended
    assert all(agent.outlet("apc_rackpdu", n) == "off" for n in (1, 2, 3, 4))


@pytest_twisted.ensureDeferred
async def test_cancel_mid_call_abandons_it_without_a_late_callback(agent, driver, relay):
    """A cancelled GET fails once with CancelledError, is never resent, and frees the PDU."""
    slow_outlet = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.5"
    agent.delay(slow_outlet, 0.6)
    control = driver.bind(v2c(agent, outlet=5, port=relay.port))
    seen = []
    pending = control.query()
    pending.addBoth(seen.append)
    await relay.next_request()  # the GET has reached the agent
    pending.cancel()
    probe = SNMPPDUDriver(timeout=3.0, retries=0)
    try:  # answered only after the agent has answered the cancelled GET
        assert await probe.bind(v2c(agent, outlet=6, port=relay.port)).query() is ON
    finally:
        probe.close()
    assert len(seen) == 1 and seen[0].check(CancelledError)
    assert relay.requests == 2 and relay.responses == 2  # no resend; the late reply was dropped
    assert await driver.bind(v2c(agent, outlet=6, port=relay.port)).query() is ON
    assert len(seen) == 1


@pytest_twisted.ensureDeferred
async def test_no_error_message_carries_a_secret(agent, driver):
    """Errors from every failure path show no community or key, right or wrong."""
    errors = [
        await failure_of(driver.bind(v2c(agent, community=WRONG_SECRETS[0])).query()),
        await failure_of(driver.bind(v2c(agent, write_community=emulator.READ_COMMUNITY)).power_off()),
        await failure_of(driver.bind(v2c(agent, outlet=42)).power_off()),
        await failure_of(driver.bind(v3(agent, v3_auth_key=WRONG_SECRETS[1])).power_on()),
        await failure_of(driver.bind(v3(agent, outlet=77)).query()),
        await failure_of(driver.bind(v2c(agent)).soft_off()),
    ]
    agent.set_sys_object_id(".1.3.6.1.4.1.9.1.1")
    errors.append(await failure_of(driver.bind(v2c(agent, vendor="auto")).query()))
    for error in errors:
        text = f"{error} {error!r}"
        assert not any(secret in text for secret in ALL_SECRETS), text
        assert str(error).startswith(f"snmp_pdu {agent.address} outlet ")


def test_every_vendor_is_emulated():
    """The agent plays every row of the table, so the round trips cover them all."""
    from pserv.testing.emulators.snmp_pdu_agent import MODELS

    assert set(MODELS) == set(VENDORS_BY_NAME)
