"""
The snmpd PDU agent as a pytest fixture, one per test module, and a relay
in front of it that counts the requests.
"""

import os

import pytest

from pserv.testing.emulators import snmp_pdu as emulator
from pserv.testing.emulators.snmp_pdu import running_emulator
from pserv.testing.emulators.udp_relay import CountingRelay


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """snmpd playing every vendor's PDU; fails under CI, and skips elsewhere, without snmpd."""
    missing = emulator.missing_tools()
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install snmpd snmp; make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with running_emulator(tmp_path_factory.mktemp("snmpd")) as running:
        yield running


@pytest.fixture
def relay(agent):
    """A relay to the agent that counts requests, so tests can see what was sent."""
    from twisted.internet import reactor

    made = CountingRelay(reactor, (agent.address, agent.port))
    made.start()
    yield made
    made.stop()


def v2c(agent, outlet=1, vendor="apc_rackpdu", **extra) -> dict:
    """snmp_pdu settings for one of the agent's outlets over SNMPv2c."""
    params = {
        "address": agent.address,
        "port": agent.port,
        "vendor": vendor,
        "outlet": outlet,
        "version": "2c",
        "community": emulator.READ_COMMUNITY,
        "write_community": emulator.WRITE_COMMUNITY,
    }
    params.update(extra)
    return params


def v3(agent, outlet=1, vendor="apc_rackpdu", **extra) -> dict:
    """snmp_pdu settings for one of the agent's outlets over SNMPv3 (SHA, AES)."""
    params = {
        "address": agent.address,
        "port": agent.port,
        "vendor": vendor,
        "outlet": outlet,
        "version": "3",
        "v3_user": emulator.V3_USER,
        "v3_auth_protocol": "SHA",
        "v3_auth_key": emulator.V3_AUTH_KEY,
        "v3_priv_protocol": "AES",
        "v3_priv_key": emulator.V3_PRIV_KEY,
    }
    params.update(extra)
    return params
