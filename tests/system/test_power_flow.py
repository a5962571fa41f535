"""
The promises across the wire: a region and a cluster over real TCP+TLS.
"""

import pytest_twisted

from pserv.power.states import PowerState


@pytest_twisted.ensureDeferred
async def test_request_is_carried_out_and_recorded(pserv):
    """A cycle asked through the API runs on the cluster and is recorded, verified, on the node."""
    node = await pserv.enrol("n1")
    pserv.fleet.bmc("n1").power = PowerState.ON
    action = await pserv.power("n1", "cycle")
    outcome = await pserv.outcome_of(action["id"])
    assert (outcome.status, outcome.power_state, outcome.commands) == ("done", "on", ("power_off", "power_on"))
    code, shown = await pserv.api("GET", f"/api/v1/actions/{action['id']}")
    assert (shown["status"], shown["power_state"]) == ("done", "on")
    code, node = await pserv.api("GET", f"/api/v1/nodes/{node['id']}")
    assert (node["power_state"], node["desired_power_state"]) == ("on", "on")


@pytest_twisted.ensureDeferred
async def test_supersede_across_the_wire(pserv):
    """on then off in quick succession ends off, with the on marked superseded."""
    await pserv.enrol("n1", latency=0.3)
    on = await pserv.power("n1", "on")
    off = await pserv.power("n1", "off")
    await pserv.outcome_of(off["id"])
    code, first = await pserv.api("GET", f"/api/v1/actions/{on['id']}")
    code, second = await pserv.api("GET", f"/api/v1/actions/{off['id']}")
    assert first["status"] == "superseded" and second["status"] == "done"
    assert pserv.fleet.bmc("n1").power is PowerState.OFF
    code, node = await pserv.api("GET", "/api/v1/nodes/n1")
    assert (node["desired_power_state"], node["power_state"]) == ("off", "off")


@pytest_twisted.ensureDeferred
async def test_result_survives_a_dropped_connection_exactly_once(pserv):
    """A connection dropped while a result is in flight loses nothing: the outcome is recorded once."""
    await pserv.enrol("n1", latency=0.3)
    action = await pserv.power("n1", "on")
    pserv.connection.rpc.transport.loseConnection()
    outcome = await pserv.outcome_of(action["id"])
    assert outcome.status == "done"
    code, events = await pserv.api("GET", "/api/v1/events?node=n1")
    done = [e for e in events["items"] if e["kind"] == "action_done" and e["action"] == action["id"]]
    assert len(done) == 1
    assert [c for _, c in pserv.fleet.bmc("n1").commands] == ["power_on"]


@pytest_twisted.ensureDeferred
async def test_cancel_reaches_the_cluster(pserv):
    """Cancelling an action in flight through the API stops it on the cluster."""
    await pserv.enrol("n1", latency=0.3)
    action = await pserv.power("n1", "on")
    await pserv.running_of(action["id"])
    code, asked = await pserv.api("POST", f"/api/v1/actions/{action['id']}/cancel")
    assert (code, asked["cancel_requested"]) == (202, True)
    outcome = await pserv.outcome_of(action["id"])
    assert (outcome.status, outcome.commands) == ("cancelled", ())
    assert pserv.fleet.bmc("n1").commands == []
