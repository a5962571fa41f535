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
