"""
Tests of the pysnmp-to-Deferred bridge against a real snmpd on loopback:
GETs and SETs with each SNMP version, one engine per PDU, cancellation that
really abandons the request, engines built off the reactor thread.
"""

from __future__ import annotations

import threading

import pytest
import pytest_twisted
from pysnmp.proto import errind
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, gatherResults
from twisted.internet.task import Clock

from pserv.power.drivers.snmp import client as snmp_client
from pserv.power.drivers.snmp.client import Credentials, SNMPClient, Target
from pserv.testing.emulators import snmp_pdu as emulator
from tests.emulators.snmp_fixtures import agent, relay  # noqa: F401 - fixtures

RACK_PDU_OUTLET_2 = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.2"
V2C = Credentials("2c", emulator.READ_COMMUNITY, emulator.WRITE_COMMUNITY)
V3 = Credentials(
    "3",
    v3_user=emulator.V3_USER,
    v3_auth_key=emulator.V3_AUTH_KEY,
    v3_priv_key=emulator.V3_PRIV_KEY,
)


@pytest.fixture(autouse=True)
def fresh_agent(agent):
    agent.reset()


@pytest.fixture
def client():
    made = SNMPClient(reactor, timeout=0.3, retries=1)
    yield made
    made.close()


def target(agent, credentials=V2C, port=None) -> Target:
    return Target(agent.address, port or agent.port, credentials)


@pytest_twisted.ensureDeferred
async def test_v2c_get_and_set_use_their_own_communities(agent, client):
    """A v2c GET reads with community, a SET writes with write_community."""
    reply = await client.get(target(agent), RACK_PDU_OUTLET_2)
    assert (reply.indication, reply.status, int(reply.value)) == (None, "", 1)
    reply = await client.set(target(agent), RACK_PDU_OUTLET_2, 2)
    assert (reply.indication, reply.status) == (None, "")
    assert agent.outlet("apc_rackpdu", 2) == "off"


@pytest_twisted.ensureDeferred
async def test_a_read_only_community_cannot_set(agent, client):
    """When write_community is the read community, the agent answers noAccess."""
    read_only = Credentials("2c", emulator.READ_COMMUNITY, emulator.READ_COMMUNITY)
    reply = await client.set(target(agent, read_only), RACK_PDU_OUTLET_2, 2)
    assert reply.status == "noAccess"
    assert agent.outlet("apc_rackpdu", 2) == "on"


@pytest_twisted.ensureDeferred
async def test_v1_get_and_set(agent, client):
    """SNMPv1 reads and writes with the communities too."""
    v1 = Credentials("1", emulator.READ_COMMUNITY, emulator.WRITE_COMMUNITY)
    assert (await client.set(target(agent, v1), RACK_PDU_OUTLET_2, 2)).status == ""
    assert int((await client.get(target(agent, v1), RACK_PDU_OUTLET_2)).value) == 2


@pytest_twisted.ensureDeferred
async def test_v3_auth_priv_get_and_set(agent, client):
    """SNMPv3 authPriv (SHA, AES) reads and writes."""
    assert (await client.set(target(agent, V3), RACK_PDU_OUTLET_2, 2)).status == ""
    assert int((await client.get(target(agent, V3), RACK_PDU_OUTLET_2)).value) == 2


@pytest_twisted.ensureDeferred
async def test_v3_wrong_auth_key_is_reported(agent, client):
    """A wrong v3 authentication key comes back as pysnmp's WrongDigest."""
    wrong = Credentials("3", v3_user=emulator.V3_USER, v3_auth_key="not-the-key",
                        v3_priv_key=emulator.V3_PRIV_KEY)
    reply = await client.get(target(agent, wrong), RACK_PDU_OUTLET_2)
    assert isinstance(reply.indication, errind.WrongDigest)


@pytest_twisted.ensureDeferred
async def test_wrong_community_times_out(agent, client):
    """snmpd drops a wrong community: the reply is RequestTimedOut."""
    wrong = Credentials("2c", "not-the-community")
    reply = await client.get(target(agent, wrong), RACK_PDU_OUTLET_2)
    assert isinstance(reply.indication, errind.RequestTimedOut)


def test_credentials_hide_their_secrets():
    """repr of Credentials and Target shows no community or key."""
    shown = repr(Target("10.0.0.1", 161, V3)) + repr(V2C) + repr(V3)
    for secret in emulator.SECRETS:
        assert secret not in shown
    assert "pduadmin" in shown


@pytest_twisted.ensureDeferred
async def test_one_engine_per_pdu_replaced_when_credentials_change(agent, client, relay):
    """Two PDUs get two engines; new credentials for a PDU replace its engine."""
    await client.get(target(agent), RACK_PDU_OUTLET_2)
    await client.get(target(agent, port=relay.port), RACK_PDU_OUTLET_2)
    assert client.engine_count() == 2
    old = client.engine_for(target(agent))
    await client.get(target(agent, V3), RACK_PDU_OUTLET_2)
    assert client.engine_count() == 2
    assert old.transport_dispatcher is None  # closed


@pytest_twisted.ensureDeferred
async def test_idle_engines_are_closed(agent):
    """An engine unused for idle_timeout seconds is closed."""
    clock = Clock()
    idle = SNMPClient(clock, timeout=0.3, retries=1, idle_timeout=60)
    try:
        await idle.get(target(agent), RACK_PDU_OUTLET_2)
        clock.advance(59)
        assert idle.engine_count() == 1
        clock.advance(1)
        assert idle.engine_count() == 0
    finally:
        idle.close()


@pytest_twisted.ensureDeferred
async def test_engines_are_built_off_the_reactor_thread(agent, client, monkeypatch):
    """pysnmp's per-engine MIB compilation runs in a worker thread."""
    threads = []
    build = snmp_client._new_engine

    def recording():
        threads.append(threading.current_thread())
        return build()

    monkeypatch.setattr(snmp_client, "_new_engine", recording)
    await client.get(target(agent), RACK_PDU_OUTLET_2)
    assert threads and threads[0] is not threading.main_thread()


@pytest_twisted.ensureDeferred
async def test_cancel_abandons_the_request(agent, client, relay):
    """Cancelling mid-request fails with CancelledError once and closes the engine."""
    agent.delay("." + RACK_PDU_OUTLET_2, 0.4)
    seen = []
    pending = client.get(target(agent, port=relay.port), RACK_PDU_OUTLET_2)
    pending.addBoth(seen.append)
    await relay.next_request()
    engine = client.engine_for(target(agent, port=relay.port))
    pending.cancel()
    await pending.addErrback(lambda f: None)
    assert len(seen) == 1 and seen[0].check(CancelledError)
    assert engine.transport_dispatcher is None and client.engine_count() == 0


@pytest_twisted.ensureDeferred
async def test_relay_sees_overlapping_requests_without_a_queue(agent, client, relay):
    """Control: two raw concurrent SETs do overlap at the agent, as the relay shows."""
    agent.set_delay(0.1)
    via_relay = target(agent, port=relay.port)
    await gatherResults(
        [
            client.set(via_relay, RACK_PDU_OUTLET_2, 2),
            client.set(via_relay, "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3", 2),
        ]
    )
    assert relay.max_in_flight >= 2


@pytest_twisted.ensureDeferred
async def test_cancel_keeps_an_engine_another_request_still_uses(agent, client, relay):
    """Cancelling one of two concurrent requests to a PDU leaves the other to finish."""
    via_relay = target(agent, port=relay.port)
    await client.get(via_relay, RACK_PDU_OUTLET_2)  # the engine exists
    await client.set(via_relay, "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3", 1)  # whatever tests before it left
    agent.delay("." + RACK_PDU_OUTLET_2, 0.2)
    first = client.get(via_relay, RACK_PDU_OUTLET_2)
    first.addErrback(lambda f: f.trap(CancelledError))
    second = client.get(via_relay, "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3")
    second.addTimeout(5, reactor)
    await relay.next_request()
    first.cancel()
    assert int((await second).value) == 1
    assert client.engine_for(via_relay) is not None


def test_a_pysnmp_protocol_for_each_choice_of_the_power_type() -> None:
    """The client maps exactly the SNMPv3 protocol choices the snmp_pdu power type offers."""
    from pserv.power.drivers.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS
    from pserv.power.types.snmp_pdu import AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES

    assert (tuple(AUTH_PROTOCOLS), tuple(PRIV_PROTOCOLS)) == (AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES)
