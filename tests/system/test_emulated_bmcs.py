"""
The promises through the REST API, with the production drivers against
emulated BMCs and PDUs on loopback: a region and a cluster over real
TCP+TLS (``pserv_drivers``), snmpd playing a PDU, pyghmi's BMC server for
IPMI (and ipmi_sim for IPMI 1.5), sushy-tools and a scripted Redfish BMC.
"""

import pytest_twisted

from pserv.power.boot import BootDevice
from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.states import PowerState
from pserv.testing.emulators.redfish import OFF_SYSTEM, sushy  # noqa: F401 - sushy is a fixture
from pserv.testing.emulators.redfish_stub import (  # noqa: F401 - stub_bmc is a fixture
    Answer,
    redfish_tree,
    reset_path,
    stub_bmc,
    system_document,
)
from tests.emulators.ipmi_fixtures import PASSWORD, USERNAME, ipmi_sims, pyghmi_bmcs  # noqa: F401 - fixtures
from tests.emulators.snmp_fixtures import agent, v2c  # noqa: F401 - agent is a fixture
from tests.emulators.targets import SNMPTarget

CYCLE_DELAY = 5.0
"""Seconds the PDU's cycle waits, off, before switching on (the driver's
default): a safe point long enough for the on and the cancel to arrive."""


async def action(pserv, action_id):
    """The action as the API shows it."""
    code, shown = await pserv.api("GET", f"/api/v1/actions/{action_id}")
    assert code == 200, shown
    return shown


@pytest_twisted.ensureDeferred
async def test_cancelling_a_cycle_leaves_the_on_that_joined_it_to_finish(pserv_drivers, agent):  # noqa: F811
    """Cycle, on (joining it), cancel of the cycle: only the cycle is cancelled; the on ends done, the node on."""
    settings = v2c(agent, outlet=5, cycle_delay=CYCLE_DELAY)
    pdu = SNMPTarget(agent, 5, settings)
    await pdu.set_power("on")
    await pserv_drivers.enrol_node("pdu-5", "snmp_pdu", settings)
    await pdu.received()
    cycle = await pserv_drivers.power("pdu-5", "cycle")
    await pserv_drivers.progress_of(cycle["id"])  # off, verified: the cycle now waits CYCLE_DELAY
    on = await pserv_drivers.power("pdu-5", "on")
    await pserv_drivers.running_of(on["id"])  # the cluster runs it: it joined the cycle
    code, asked = await pserv_drivers.api("POST", f"/api/v1/actions/{cycle['id']}/cancel")
    assert (code, asked["cancel_requested"]) == (202, True)
    await pserv_drivers.outcome_of(cycle["id"])
    await pserv_drivers.outcome_of(on["id"])
    code, node = await pserv_drivers.api("GET", "/api/v1/nodes/pdu-5")
    seen = {
        "cycle": (await action(pserv_drivers, cycle["id"]))["status"],
        "on": (await action(pserv_drivers, on["id"]))["status"],
        "node": (node["power_state"], node["desired_power_state"]),
        "outlet": await pdu.power(),
        "outlet received": await pdu.received(),
    }
    assert seen == {"cycle": "cancelled", "on": "done", "node": ("on", "on"), "outlet": "on",
                    "outlet received": ["power_off", "power_on"]}


async def on_of_an_unreadable_node(pserv, name):
    """Ask ``on`` of node ``name`` and return the action as it ended."""
    on = await pserv.power(name, "on")
    await pserv.outcome_of(on["id"])
    return await action(pserv, on["id"])


@pytest_twisted.ensureDeferred
async def test_on_never_switches_an_ipmi_node_whose_power_reads_answer_0xC1(pserv_drivers, pyghmi_bmcs):  # noqa: F811
    """A BMC answering 0xC1 (invalid command) to every power read gets no command from on: it fails, saying why."""
    port = pyghmi_bmcs.ports[0]
    await pyghmi_bmcs.set(port, "power", "on")
    await pyghmi_bmcs.set(port, "query_supported", False)
    try:
        await pserv_drivers.enrol_node("bmc-1", "ipmi", {
            "address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD})
        shown = await on_of_an_unreadable_node(pserv_drivers, "bmc-1")
    finally:
        await pyghmi_bmcs.set(port, "query_supported", True)
    stats = await pyghmi_bmcs.stats(port)
    assert {"on": shown["status"], "BMC received": stats["controls"], "BMC power": stats["power"]} == {
        "on": "failed", "BMC received": [], "BMC power": "on"}
    assert all(said in shown["error"] for said in (f"ipmi 127.0.0.1:{port}", "read", "0xC1")), shown["error"]


@pytest_twisted.ensureDeferred
async def test_on_never_switches_a_redfish_node_whose_power_reads_answer_405(pserv_drivers, stub_bmc):  # noqa: F811
    """A Redfish BMC read once, then answering 405 to GET of its system, gets no reset from on: it fails, saying why."""
    stub = stub_bmc.stub
    redfish_tree(stub, systems={"1": "On"})
    refused = Answer(405, {"error": {"message": "GET not allowed"}})
    stub.on("GET", "/redfish/v1/Systems/1", Answer(200, system_document("1", "On")), refused)
    await pserv_drivers.enrol_node("bmc-2", "redfish", {"address": stub_bmc.address, "username": "u", "password": "p"})
    shown = await on_of_an_unreadable_node(pserv_drivers, "bmc-2")
    assert {"on": shown["status"], "resets received": stub.count("POST", reset_path("1"))} == {
        "on": "failed", "resets received": 0}
    assert all(said in shown["error"] for said in (f"redfish {stub_bmc.address}", "read", "405")), shown["error"]


async def cycle_with_pxe(pserv, name):
    """Ask a cycle with boot device PXE of node ``name``; the action as it ended."""
    code, cycle = await pserv.api("POST", f"/api/v1/nodes/{name}/power", {"action": "cycle", "boot_device": "pxe"})
    assert code == 202 and (cycle["boot_device"], cycle["boot_persistent"]) == ("pxe", False), cycle
    await pserv.outcome_of(cycle["id"])
    return await action(pserv, cycle["id"])


@pytest_twisted.ensureDeferred
async def test_a_cycle_with_pxe_sets_the_ipmi_bmc_s_boot_flags_first(pserv_drivers, pyghmi_bmcs):  # noqa: F811
    """A cycle with boot_device pxe sets the BMC's boot flags to PXE, next boot only (read back), then cycles it."""
    port = pyghmi_bmcs.ports[1]
    await pyghmi_bmcs.set(port, "power", "on")
    await pserv_drivers.enrol_node("bmc-3", "ipmi", {
        "address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD})
    before = len((await pyghmi_bmcs.stats(port))["controls"])
    shown = await cycle_with_pxe(pserv_drivers, "bmc-3")
    stats = await pyghmi_bmcs.stats(port)
    assert {"cycle": shown["status"], "boot flags": stats["boot_flags"], "BMC received": stats["controls"][before:],
            "BMC power": stats["power"]} == {
        "cycle": "done", "boot flags": [0x80, 0x04], "BMC received": [0, 1], "BMC power": "on"}


@pytest_twisted.ensureDeferred
async def test_a_cycle_with_pxe_sets_ipmi_sim_s_boot_device_first(pserv_drivers, ipmi_sims):  # noqa: F811
    """Through IPMI 1.5 to ipmi_sim, a cycle with boot_device pxe hands ipmi_sim boot pxe before the power commands."""
    sim = ipmi_sims[0]
    sim.set_power("on")
    await pserv_drivers.enrol_node("sim-1", "ipmi", {
        "address": "127.0.0.1", "port": sim.port, "username": USERNAME, "password": PASSWORD,
        "backend": "python-ipmi"})
    before = len(sim.controls)
    shown = await cycle_with_pxe(pserv_drivers, "sim-1")
    assert {"cycle": shown["status"], "boot": sim.boot, "controls": sim.controls[before:]} == {
        "cycle": "done", "boot": "pxe", "controls": ["boot pxe", "power 0", "power 1"]}


@pytest_twisted.ensureDeferred
async def test_a_cycle_with_pxe_sets_the_redfish_system_s_boot_override_first(pserv_drivers, sushy):  # noqa: F811
    """Against sushy-tools, a cycle with boot_device pxe leaves the system's boot override on Pxe, and the node on."""
    params = sushy.params(system_id=OFF_SYSTEM)
    await pserv_drivers.enrol_node("rf-1", "redfish", params)
    shown = await cycle_with_pxe(pserv_drivers, "rf-1")
    driver = RedfishDriver(request_timeout=5.0)
    try:
        seen = await driver.get_boot_device(params)
        power = await driver.query(params)
        await driver.power_off(params)
    finally:
        await driver.close()
    assert (shown["status"], seen.device, power) == ("done", BootDevice.PXE, PowerState.ON)


@pytest_twisted.ensureDeferred
async def test_a_boot_device_for_a_pdu_outlet_is_refused_at_the_api(pserv_drivers, agent):  # noqa: F811
    """An on with a boot device for an SNMP PDU outlet is a 409 naming boot_device; the outlet is sent nothing."""
    settings = v2c(agent, outlet=6)
    pdu = SNMPTarget(agent, 6, settings)
    await pserv_drivers.enrol_node("pdu-6", "snmp_pdu", settings)
    received = await pdu.received()
    code, body = await pserv_drivers.api("POST", "/api/v1/nodes/pdu-6/power", {"action": "on", "boot_device": "pxe"})
    assert (code, body["field"]) == (409, "boot_device") and "snmp_pdu cannot set a boot device" in body["error"]
    assert await pdu.received() == received
