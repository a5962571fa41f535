"""
The emulators speak real IPMI: Debian's ipmitool agrees with the driver.

``ipmitool -I lanplus`` (IPMI 2.0) talks to the pyghmi emulator and
``ipmitool -I lan`` (IPMI 1.5) to ``ipmi_sim``.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.utils import getProcessOutputAndValue

from pserv.power.errors import PowerUnsupportedError
from pserv.power.states import PowerState
from pserv.testing.emulators.ipmi_emulators import IpmiSim, PyghmiBMCs
from tests.emulators.ipmi_fixtures import (  # noqa: F401 - fixtures
    PASSWORD,
    USERNAME,
    ipmi_sims,
    make_driver,
    pyghmi_bmcs,
)

IPMITOOL = shutil.which("ipmitool") or "/usr/bin/ipmitool"


async def _ipmitool(interface: str, port: int, *command: str) -> str:
    assert shutil.which("ipmitool"), "ipmitool is needed: apt-get install ipmitool"
    argv = [
        "-I",
        interface,
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        USERNAME,
        "-P",
        PASSWORD,
        *command,
    ]
    out, err, code = await getProcessOutputAndValue(IPMITOOL, argv, env={})
    assert code == 0, err.decode()
    return out.decode()


@pytest_twisted.ensureDeferred
async def test_ipmitool_lanplus_and_driver_agree(pyghmi_bmcs: PyghmiBMCs, make_driver: Any) -> None:
    """ipmitool -I lanplus reads what the driver set on the pyghmi emulator, and vice versa."""
    port = pyghmi_bmcs.ports[0]
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    driver = make_driver()
    await driver.power_on(params)
    assert "Chassis Power is on" in await _ipmitool("lanplus", port, "chassis", "power", "status")
    await _ipmitool("lanplus", port, "chassis", "power", "off")
    assert await driver.query(params) == PowerState.OFF


@pytest_twisted.ensureDeferred
async def test_pyghmi_bmc_logs_when_each_control_came(pyghmi_bmcs: PyghmiBMCs, make_driver: Any) -> None:
    """Each chassis control is logged with the wall-clock time it came, in order, one time per control."""
    port = pyghmi_bmcs.ports[3]
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    driver = make_driver()
    before = time.time()
    await driver.power_on(params)
    await driver.power_off(params)
    stats = await pyghmi_bmcs.stats(port)
    assert stats["controls"][-2:] == [1, 0] and len(stats["controlled_at"]) == len(stats["controls"])
    assert before <= stats["controlled_at"][-2] <= stats["controlled_at"][-1] <= time.time()


@pytest_twisted.ensureDeferred
async def test_ipmitool_lan_and_driver_agree(ipmi_sims: list[IpmiSim], make_driver: Any) -> None:
    """ipmitool -I lan reads what the driver set on ipmi_sim, and vice versa."""
    sim = ipmi_sims[0]
    params = {
        "address": "127.0.0.1",
        "port": sim.port,
        "username": USERNAME,
        "password": PASSWORD,
        "backend": "python-ipmi",
    }
    driver = make_driver()
    await driver.power_on(params)
    assert "Chassis Power is on" in await _ipmitool("lan", sim.port, "chassis", "power", "status")
    await _ipmitool("lan", sim.port, "chassis", "power", "off")
    assert await driver.query(params) == PowerState.OFF
    assert sim.power == "off"


@pytest_twisted.ensureDeferred
async def test_emulator_control_channel(pyghmi_bmcs: PyghmiBMCs) -> None:
    """The pyghmi emulator reports counters and refuses unknown commands."""
    port = pyghmi_bmcs.ports[1]
    await pyghmi_bmcs.set(port, "power", "on")
    stats = await pyghmi_bmcs.stats(port)
    assert stats["power"] == "on" and {"opens", "established", "closes"} <= set(stats)
    await pyghmi_bmcs.set(port, "power", "off")
    with pytest.raises(RuntimeError):
        await pyghmi_bmcs.command("explode now")


@pytest_twisted.ensureDeferred
async def test_pyghmi_bmc_can_refuse_power_reads(pyghmi_bmcs: PyghmiBMCs, make_driver: Any) -> None:
    """With query_supported false the BMC answers Get Chassis Status with 0xC1: the driver says unsupported."""
    port = pyghmi_bmcs.ports[2]
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    driver = make_driver()
    await pyghmi_bmcs.set(port, "query_supported", False)
    try:
        with pytest.raises(PowerUnsupportedError, match=r"completion code 0xC1"):
            await driver.query(params)
    finally:
        await pyghmi_bmcs.set(port, "query_supported", True)
    assert await driver.query(params) == PowerState.OFF
    assert (await pyghmi_bmcs.stats(port))["controls"] == []


@pytest_twisted.ensureDeferred
async def test_ipmi_sim_logs_each_chassis_control(ipmi_sims: list[IpmiSim], make_driver: Any) -> None:
    """ipmi_sim's chassis script logs every control it carries out, in order, soft off included."""
    sim = ipmi_sims[1]
    params = {"address": "127.0.0.1", "port": sim.port, "username": USERNAME, "password": PASSWORD,
              "backend": "python-ipmi"}
    driver = make_driver()
    before = len(sim.controls)
    await driver.power_on(params)
    await driver.soft_off(params)
    await driver.power_on(params)
    await driver.power_off(params)
    assert sim.controls[before:] == ["power 1", "shutdown 1", "power 1", "power 0"]
    assert sim.power == "off"
