"""
The IPMI driver against real BMC emulators on loopback, for both backends:
operations, sessions, cancellation and settings.  How its failures surface
is in :mod:`tests.power.drivers.ipmi.test_driver_errors`.

``pyghmi`` runs against pyghmi's BMC server (IPMI 2.0, in a child process);
``python-ipmi`` against OpenIPMI's ``ipmi_sim`` (IPMI 1.5).  See
:mod:`tests.emulators.ipmi_fixtures`.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.base import BoundControl
from pserv.power.drivers.ipmi.driver import IPMIDriver
from pserv.power.drivers.ipmi.errors import IPMIStateError
from pserv.power.errors import PowerError, PowerSettingsError
from pserv.power.states import PowerState
from pserv.testing.emulators.ipmi_bmc_server import is_cipher_suites_query
from pserv.testing.emulators.ipmi_emulators import IpmiSim
from tests.emulators.ipmi_fixtures import (  # noqa: F401 - fixtures
    PASSWORD,
    USERNAME,
    failure_of,
    ipmi_relay,
    ipmi_sims,
    make_driver,
    nodes,
    pyghmi_bmcs,
)


@pytest_twisted.ensureDeferred
async def test_round_trips_on_several_bmcs(nodes: list[Any], make_driver: Any) -> None:
    """power on, query, soft off and power off reach every BMC and read back."""
    driver = make_driver()
    controls = [driver.bind(node.params) for node in nodes]
    await defer.gatherResults([c.power_on() for c in controls])
    assert await defer.gatherResults([c.query() for c in controls]) == [PowerState.ON] * len(nodes)
    assert [await node.power() for node in nodes] == ["on"] * len(nodes)
    await defer.gatherResults([c.soft_off() for c in controls])
    assert [await node.power() for node in nodes] == ["off"] * len(nodes)
    await controls[0].power_on()
    await controls[0].power_off()
    assert await controls[0].query() == PowerState.OFF
    assert await nodes[0].power() == "off"


@pytest_twisted.ensureDeferred
async def test_query_reads_state_changed_behind_our_back(
    nodes: list[Any], make_driver: Any
) -> None:
    """query reports what the BMC says, not what the driver last sent."""
    control = make_driver().bind(nodes[1].params)
    await nodes[1].set_power("on")
    assert await control.query() == PowerState.ON
    await nodes[1].set_power("off")
    assert await control.query() == PowerState.OFF


@pytest_twisted.ensureDeferred
async def test_cancel_mid_call_gives_no_late_callback(nodes: list[Any], make_driver: Any) -> None:
    """Cancelling a running call fires CancelledError now and nothing when the BMC answers."""
    node = nodes[1]
    driver = make_driver()
    errors: list[dict[str, Any]] = []
    observer = lambda event: errors.append(event) if event.get("isError") else None  # noqa: E731
    globalLogPublisher.addObserver(observer)
    try:
        await node.pause()
        call = driver.query(node.params)
        outcomes: list[Any] = []
        call.addBoth(outcomes.append)
        assert driver.session_stats(node.params).in_flight == 1
        call.cancel()
        assert len(outcomes) == 1 and outcomes[0].check(defer.CancelledError)
        await node.resume()
        await driver.settle()
    finally:
        globalLogPublisher.removeObserver(observer)
    assert len(outcomes) == 1 and errors == []
    assert driver.session_stats(node.params).in_flight == 0


@pytest_twisted.ensureDeferred
async def test_cancel_while_queued_leaves_the_queue(nodes: list[Any], make_driver: Any) -> None:
    """A call waiting for its BMC's slot is dropped from the queue when cancelled."""
    node = nodes[0]
    driver = make_driver()
    await node.pause()
    first = driver.query(node.params)
    second = driver.query(node.params)
    second.cancel()
    assert isinstance(await failure_of(second), defer.CancelledError)
    await node.resume()
    assert await first == PowerState.OFF
    stats = driver.session_stats(node.params)
    assert stats.open_attempts == 1 and stats.peak_in_flight == 1


@pytest_twisted.ensureDeferred
async def test_session_is_reused(nodes: list[Any], make_driver: Any) -> None:
    """Several calls share one authenticated session: one handshake on the BMC."""
    node = nodes[2]
    driver = make_driver()
    before = await node.handshakes()
    for _ in range(4):
        await driver.query(node.params)
    await driver.power_on(node.params)
    assert await node.handshakes() - before == 1
    assert driver.idle_sessions(node.params) == 1
    assert driver.session_stats(node.params).opened == 1


@pytest_twisted.ensureDeferred
async def test_open_sessions_counts_the_driver_s_sessions_for_the_metrics(nodes: list[Any], make_driver: Any) -> None:
    """A driver that has called no BMC has no session open; after calls to two BMCs, one each."""
    driver = make_driver()
    assert driver.open_sessions() == 0
    await driver.query(nodes[0].params)
    await driver.query(nodes[1].params)
    assert driver.open_sessions() == 2


@pytest_twisted.ensureDeferred
async def test_idle_session_expires_on_the_clock(nodes: list[Any], make_driver: Any) -> None:
    """An idle session is closed after idle_timeout on the injected clock, then rebuilt."""
    node = nodes[0]
    clock = Clock()
    driver = make_driver(clock=clock, idle_timeout=15.0)
    before = await node.handshakes()
    await driver.query(node.params)
    clock.advance(14.0)
    assert driver.idle_sessions(node.params) == 1
    clock.advance(1.0)
    await driver.settle()
    assert driver.idle_sessions(node.params) == 0
    assert driver.session_stats(node.params).closed == 1
    await driver.query(node.params)
    assert await node.handshakes() - before == 2


@pytest_twisted.ensureDeferred
async def test_per_bmc_limit_serializes_one_bmc(nodes: list[Any], make_driver: Any) -> None:
    """With per_bmc_limit=1, concurrent calls to one BMC run one at a time on one session."""
    node = nodes[1]
    driver = make_driver(per_bmc_limit=1)
    before = await node.handshakes()
    states = await defer.gatherResults([driver.query(node.params) for _ in range(5)])
    assert states == [PowerState.OFF] * 5
    stats = driver.session_stats(node.params)
    assert stats.peak_in_flight == 1 and stats.opened == 1
    assert await node.handshakes() - before == 1


@pytest_twisted.ensureDeferred
async def test_per_bmc_limit_two_allows_two(nodes: list[Any], make_driver: Any) -> None:
    """With per_bmc_limit=2, at most two exchanges and two sessions run against one BMC."""
    node = nodes[2]
    driver = make_driver(per_bmc_limit=2)
    await node.pause()
    calls = [driver.query(node.params) for _ in range(4)]
    assert driver.session_stats(node.params).in_flight == 2
    await node.resume()
    assert await defer.gatherResults(calls) == [PowerState.OFF] * 4
    stats = driver.session_stats(node.params)
    assert stats.peak_in_flight == 2 and stats.opened <= 2


@pytest_twisted.ensureDeferred
async def test_soft_off_sends_chassis_control_soft(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """soft_off is Chassis Control directive 0x5, nothing else."""
    port = pyghmi_bmcs.ports[3]
    await pyghmi_bmcs.set(port, "power", "on")
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    before = len((await pyghmi_bmcs.stats(port))["controls"])
    await make_driver().soft_off(params)
    stats = await pyghmi_bmcs.stats(port)
    assert stats["controls"][before:] == [5] and stats["power"] == "off"


@pytest_twisted.ensureDeferred
async def test_bmc_without_cipher_suite_discovery(make_driver: Any, pyghmi_bmcs: Any, ipmi_relay: Any) -> None:
    """A BMC that never answers Get Channel Cipher Suites still answers at once: nothing is sent that it ignores."""
    port = pyghmi_bmcs.ports[2]
    await pyghmi_bmcs.set(port, "cipher_query", False)
    relay = ipmi_relay(port)
    params = {"address": "127.0.0.1", "port": relay.port, "username": USERNAME, "password": PASSWORD}
    try:
        assert await make_driver().query(params) == PowerState.OFF
    finally:
        await pyghmi_bmcs.set(port, "cipher_query", True)
    assert relay.requests > 0 and not [p for p in relay.seen if is_cipher_suites_query(p)]


@pytest.mark.parametrize("suite", [3, 17])
@pytest_twisted.ensureDeferred
async def test_lanplus_to_ipmi_sim_without_discovery(
    suite: int, make_driver: Any, ipmi_sims: list[IpmiSim], ipmi_relay: Any
) -> None:
    """pyghmi reaches ipmi_sim (which never answers Get Channel Cipher Suites) at once: it sends no such query."""
    sim = ipmi_sims[2]
    relay = ipmi_relay(sim.port)
    params = {
        "address": "127.0.0.1",
        "port": relay.port,
        "username": USERNAME,
        "password": PASSWORD,
        "cipher_suite": suite,
    }
    driver = make_driver()
    try:
        await driver.power_on(params)
        assert sim.power == "on" and await driver.query(params) == PowerState.ON
    finally:
        sim.set_power("off")
    assert relay.requests > 0 and not [p for p in relay.seen if is_cipher_suites_query(p)]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"port": "six"}, "port"),
        ({"privilege": "root"}, "privilege"),
        ({"backend": "ipmitool"}, "backend"),
        ({"address": None}, "address"),
        ({"address": "bad host!"}, "address"),
        ({"cipher_suite": 5}, "cipher_suite"),
        ({"cipher_suite": 18}, "cipher_suite"),
        ({"backend": "python-ipmi", "cipher_suite": 17}, "cipher_suite"),
        ({"backend": "python-ipmi", "kg": "some-kg"}, "kg"),
        ({"backend": "python-ipmi", "privilege": "callback"}, "privilege"),
        ({"backend": "python-ipmi", "password": "p" * 17}, "password"),
        ({"password": "p" * 21}, "password"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_settings_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    """bind() rejects bad settings with PowerSettingsError naming the field, not the value."""
    params = {"address": "10.0.0.5", "username": "u", "password": "pw", **change}
    with pytest.raises(PowerSettingsError) as caught:
        IPMIDriver().bind(params)
    assert caught.value.field == field and caught.value.fatal
    assert str(caught.value).startswith(f"{field}:")
    assert "p" * 17 not in str(caught.value)


def test_settings_defaults_and_describe() -> None:
    """Defaults fill in (623, admin, suite 3, pyghmi) and describe names ADDRESS:PORT only."""
    driver = IPMIDriver()
    control = driver.bind({"address": "10.0.0.5", "password": PASSWORD})
    assert isinstance(control, BoundControl)
    assert control.params["port"] == 623 and control.params["privilege"] == "admin"
    assert control.params["cipher_suite"] == 3 and control.params["backend"] == "pyghmi"
    assert control.description == "ipmi 10.0.0.5:623"
    assert driver.describe({"address": "fd00::5", "port": 6230}) == "ipmi [fd00::5]:6230"
    assert PASSWORD not in repr(driver.target(control.params))


def test_driver_name_and_schema() -> None:
    """The driver is power_type "ipmi" with the documented settings, secrets marked."""
    assert IPMIDriver.name == "ipmi"
    names = [s.name for s in IPMIDriver.settings]
    assert names == [
        "address",
        "port",
        "username",
        "password",
        "privilege",
        "cipher_suite",
        "kg",
        "backend",
        "min_command_interval",
        "max_concurrent",
    ]
    assert {s.name for s in IPMIDriver.settings if s.secret} == {"password", "kg"}
    assert issubclass(IPMIStateError, PowerError)


@pytest.mark.parametrize("device, persistent", [(BootDevice.PXE, False), (BootDevice.DISK, True),
                                                (BootDevice.CDROM, False), (BootDevice.BIOS, True)])
@pytest_twisted.ensureDeferred
async def test_boot_device_is_set_and_read_back(nodes: list[Any], make_driver: Any, device: Any,
                                                persistent: bool) -> None:
    """Set System Boot Options sets each boot device, and Get System Boot Options reads it back (or cannot say)."""
    control = make_driver().bind(nodes[0].params)
    await control.set_boot_device(device, persistent)
    seen = await control.get_boot_device()
    assert seen in (BootSetting(device, persistent), None)


@pytest_twisted.ensureDeferred
async def test_the_pyghmi_emulator_keeps_the_boot_flags_as_sent(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """A persistent PXE boot is parameter 5 with valid and persistent set (0xC0) and device 0x04, read back as set."""
    port = pyghmi_bmcs.ports[3]
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    driver = make_driver()
    await driver.set_boot_device(params, BootDevice.PXE, True)
    assert (await pyghmi_bmcs.stats(port))["boot_flags"] == [0xC0, 0x04]
    assert await driver.get_boot_device(params) == BootSetting(BootDevice.PXE, True)
    await driver.set_boot_device(params, BootDevice.DISK, False)
    assert (await pyghmi_bmcs.stats(port))["boot_flags"] == [0x80, 0x08]
    assert await driver.get_boot_device(params) == BootSetting(BootDevice.DISK, False)


def test_the_ipmi_driver_can_set_a_boot_device() -> None:
    """The IPMI driver declares, as its power type does, that it can set a boot device."""
    assert IPMIDriver.can_set_boot and IPMIDriver().bind(
        {"address": "127.0.0.1", "username": USERNAME, "password": PASSWORD}).can_set_boot


@pytest.mark.parametrize("device, name", [(BootDevice.PXE, "pxe"), (BootDevice.DISK, "default"),
                                          (BootDevice.CDROM, "cdrom"), (BootDevice.BIOS, "bios")])
@pytest_twisted.ensureDeferred
async def test_ipmi_sim_is_given_the_boot_device(make_driver: Any, ipmi_sims: list[IpmiSim], device: Any,
                                                 name: str) -> None:
    """ipmi_sim passes the boot device set to its chassis script; its answer lacks the valid flag, so the driver cannot say."""
    sim = ipmi_sims[1]
    params = {"address": "127.0.0.1", "port": sim.port, "username": USERNAME, "password": PASSWORD,
              "backend": "python-ipmi"}
    driver = make_driver()
    await driver.set_boot_device(params, device, False)
    assert sim.boot == name and sim.controls[-1] == f"boot {name}"
    assert await driver.get_boot_device(params) is None
