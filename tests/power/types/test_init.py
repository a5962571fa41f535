"""
Tests for pserv.power.types: the production power types, answering as the
drivers did, without driver code.
"""

import subprocess
import sys

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.types import POWER_TYPES
from pserv.testing.fake_driver import FAKE, POWER_TYPES_WITH_FAKE
from tests.power.types.answers import as_captured, settings_answers

BMC_LIBRARIES = {"pyghmi", "pyipmi", "pysnmp", "pyasn1", "OpenSSL", "treq", "sushy", "sushy_tools", "bcrypt"}


def test_production_types_leave_fake_out():
    """The production table holds every real power type and not fake; the testing table adds fake."""
    assert list(POWER_TYPES) == ["ipmi", "manual", "redfish", "snmp_pdu", "wol"]
    assert dict(POWER_TYPES_WITH_FAKE) == {**POWER_TYPES, "fake": FAKE}


def test_only_manual_and_wol_cannot_read_power():
    """Only manual and Wake-on-LAN declare that they cannot read power; every other type, fake too, can."""
    assert {name for name, kind in POWER_TYPES_WITH_FAKE.items() if not kind.can_query} == {"manual", "wol"}


def test_loads_no_driver_and_no_bmc_library():
    """Importing every power type loads no driver module, no BMC library and no reactor."""
    code = (
        "import sys, pserv.power.types, pserv.testing.fake_driver; "
        "print(sorted({m.split('.')[0] for m in sys.modules})); "
        "print([m for m in sys.modules if m.startswith('pserv.power.drivers.') or m == 'twisted.internet.reactor'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    tops, drivers = (eval(line) for line in done.stdout.splitlines())
    assert not BMC_LIBRARIES & set(tops)
    assert [m for m in drivers if m != "pserv.power.drivers.base"] == []


@pytest.mark.parametrize("name", sorted(POWER_TYPES_WITH_FAKE))
def test_validation_answers_as_the_drivers_did(name):
    """For every captured input, the power type cleans to the same settings or names the same field with the same message."""
    kind = POWER_TYPES_WITH_FAKE[name]
    cases = [c for c in settings_answers() if c["power_type"] == name and isinstance(c["raw"], dict)]
    for case in cases:
        try:
            cleaned = as_captured(kind.validate(case["raw"]))
        except PowerSettingsError as error:
            assert {"error": str(error), "field": error.field} == case["outcome"], case["raw"]
        else:
            kept = {k: v for k, v in cleaned.items() if not (kind.settings[k].secret and v in (None, ""))}
            assert kept == {**case["outcome"]["plain"], **case["outcome"]["secrets"]}, case["raw"]
    assert len(cases) > 50
