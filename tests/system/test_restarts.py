"""
Nothing is lost when a process dies: real region and cluster processes on
loopback, driving an emulated IPMI BMC (pyghmi's BMC server, in its own
process, which records every chassis control it receives).
"""

import pytest_twisted

from tests.system.processes import api_call, stop_all

SECRET = "restart-bmc-secret"
ON, OFF = 1, 0


@pytest_twisted.async_yield_fixture
async def system(tmp_path):
    from twisted.internet import reactor

    from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs
    from tests.system.processes import init_region, start_cluster, start_region

    bmcs = PyghmiBMCs(reactor, 1, "admin", SECRET)
    (port,) = await bmcs.start()
    data, token, secret = init_region(tmp_path)
    region, url, rpc = await start_region(reactor, data)
    cluster = await start_cluster(reactor, rpc, secret)
    world = {"reactor": reactor, "bmcs": bmcs, "bmc_port": port, "data": data, "token": token,
             "secret": secret, "region": region, "url": url, "rpc": rpc, "cluster": cluster}
    node = {"name": "n1", "cluster": "rack-1", "power_type": "ipmi",
            "power_parameters": {"address": "127.0.0.1", "port": port, "username": "admin", "password": SECRET}}
    assert (await call(world, "POST", "/api/v1/nodes", node))[0] == 201
    yield world
    await stop_all(world["cluster"], world["region"])
    await bmcs.stop()


call = api_call


async def controls(world):
    return (await world["bmcs"].stats(world["bmc_port"]))["controls"]


@pytest_twisted.ensureDeferred
async def test_cluster_killed_mid_cycle_finishes_it_once(system):
    """A cluster killed with SIGKILL mid-cycle finishes the cycle after a restart: off once, on once."""
    from tests.system.processes import start_cluster

    await system["bmcs"].set(system["bmc_port"], "power", "on")
    code, action = await call(system, "POST", "/api/v1/nodes/n1/power", {"action": "cycle"})
    assert code == 202
    await system["cluster"].wait_for(rf"action {action['id']} on node \d+: off_verified", 0, timeout=20)
    await system["cluster"].kill("KILL")
    recorded = system["region"].wait_for(rf"action {action['id']} done \(power on\)", 0)
    system["cluster"] = await start_cluster(system["reactor"], system["rpc"], system["secret"])
    await recorded
    assert await controls(system) == [OFF, ON]
    code, node = await call(system, "GET", "/api/v1/nodes/n1")
    assert (node["power_state"], node["desired_power_state"]) == ("on", "on")
    assert SECRET not in system["cluster"].output + system["region"].output


@pytest_twisted.ensureDeferred
async def test_region_killed_after_202_completes_the_action(system):
    """A region killed with SIGKILL right after a 202 completes the action after a restart, sending on once."""
    from tests.system.processes import start_region

    code, action = await call(system, "POST", "/api/v1/nodes/n1/power", {"action": "on"})
    assert code == 202
    await system["region"].kill("KILL")
    api_port = system["url"].rsplit(":", 1)[1]
    rpc_port = system["rpc"].rsplit(":", 1)[1]
    system["region"], system["url"], _ = await start_region(
        system["reactor"], system["data"], api_port, rpc_port
    )
    await system["region"].wait_for(rf"action {action['id']} done \(power on\)", 0)
    code, shown = await call(system, "GET", f"/api/v1/actions/{action['id']}")
    assert (shown["status"], shown["power_state"]) == ("done", "on")
    assert await controls(system) == [ON]


class Relay:
    """A TCP relay between cluster and region whose connections can be cut."""

    def __init__(self, reactor, target_port):
        from twisted.protocols.portforward import ProxyFactory

        self.factory = ProxyFactory("127.0.0.1", target_port)
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.servers = []
        build = self.factory.buildProtocol

        def remember(address):
            server = build(address)
            self.servers.append(server)
            return server

        self.factory.buildProtocol = remember

    def cut(self):
        for server in self.servers:
            server.transport.loseConnection()
        self.servers = []


@pytest_twisted.ensureDeferred
async def test_connection_dropped_with_a_result_in_flight_records_it_once(system):
    """A connection cut while a result is in flight loses nothing: the outcome is recorded once."""
    from tests.system.processes import start_cluster

    await system["cluster"].kill("TERM")
    relay = Relay(system["reactor"], int(system["rpc"].rsplit(":", 1)[1]))
    system["cluster"] = await start_cluster(system["reactor"], f"127.0.0.1:{relay.port.getHost().port}", system["secret"])
    await system["bmcs"].set(system["bmc_port"], "power", "on")
    code, action = await call(system, "POST", "/api/v1/nodes/n1/power", {"action": "cycle"})
    await system["cluster"].wait_for(rf"action {action['id']} on node \d+: off_verified", 0, timeout=20)
    relay.cut()
    await system["region"].wait_for(rf"action {action['id']} done \(power on\)", 0)
    code, events = await call(system, "GET", "/api/v1/events?node=n1")
    done = [e for e in events["items"] if e["kind"] == "action_done" and e["action"] == action["id"]]
    assert len(done) == 1
    assert await controls(system) == [OFF, ON]
    await relay.port.stopListening()
