"""
A lock holds across the whole system: real region and cluster processes
on loopback, driving emulated IPMI BMCs (pyghmi's BMC server, in its own
process, which records every chassis control it receives).
"""

import pytest_twisted

from tests.system.processes import api_call, stop_all

SECRET = "lock-bmc-secret"
OFF = 0
NAMES = ("n1", "n2", "n3")


@pytest_twisted.async_yield_fixture
async def system(tmp_path):
    from twisted.internet import reactor

    from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs
    from tests.system.processes import init_region, start_cluster, start_region

    bmcs = PyghmiBMCs(reactor, len(NAMES), "admin", SECRET)
    ports = await bmcs.start()
    data, token, secret = init_region(tmp_path)
    region, url, rpc = await start_region(reactor, data)
    cluster = await start_cluster(reactor, rpc, secret)
    world = {"bmcs": bmcs, "ports": dict(zip(NAMES, ports)), "token": token, "region": region, "url": url,
             "cluster": cluster}
    for name, port in world["ports"].items():
        await bmcs.set(port, "power", "on")
        node = {"name": name, "cluster": "rack-1", "power_type": "ipmi",
                "power_parameters": {"address": "127.0.0.1", "port": port, "username": "admin", "password": SECRET}}
        assert (await call(world, "POST", "/api/v1/nodes", node))[0] == 201
    yield world
    await stop_all(world["cluster"], world["region"])
    await bmcs.stop()


call = api_call


@pytest_twisted.ensureDeferred
async def test_a_bulk_off_leaves_a_locked_node_untouched(system):
    """A bulk off switches the unlocked nodes off and sends the locked node's BMC nothing; the answer names it."""
    code, locked = await call(system, "POST", "/api/v1/nodes/n2/lock", {"reason": "firmware update"})
    assert code == 200 and locked["locked"]
    code, bulk = await call(system, "POST", "/api/v1/power", {"action": "off", "nodes": list(NAMES)})
    assert code == 202 and [n["name"] for n in bulk["locked"]] == ["n2"]
    for action in bulk["actions"]:
        await system["region"].wait_for(rf"action {action['id']} done \(power off\)", 0, timeout=30)
    stats = {name: await system["bmcs"].stats(port) for name, port in system["ports"].items()}
    assert {name: (s["controls"], s["power"]) for name, s in stats.items()} == {
        "n1": ([OFF], "off"), "n2": ([], "on"), "n3": ([OFF], "off")}
    code, n2 = await call(system, "GET", "/api/v1/nodes/n2")
    assert (n2["locked_by"], n2["desired_power_state"]) == ("admin", "unknown")
    assert SECRET not in system["cluster"].output + system["region"].output
