"""
The snmpd PDU agent as a pytest fixture, one per test module.
"""

import os

import pytest

from pserv.emulators import snmp_pdu as emulator
from pserv.emulators.snmp_pdu import running_emulator


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
