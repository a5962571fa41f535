"""
Tests for pserv.power.types.wol: the MAC address's form.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.types.wol import WOL


@pytest.mark.parametrize("mac", ["52:54:00:12:34:56", "52-54-00-12-34-56", "525400123456", "AA:BB:CC:DD:EE:FF"])
def test_mac_forms_accepted(mac):
    """Six hex pairs, split by colons or dashes throughout, or not at all, in either case."""
    assert WOL.validate({"mac": mac})["mac"] == mac


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52:54-00:12:34:56", "zz:54:00:12:34:56", "n1"])
def test_other_forms_refused(mac):
    """Anything else is a settings error naming mac."""
    with pytest.raises(PowerSettingsError) as caught:
        WOL.validate({"mac": mac})
    assert str(caught.value) == "mac: must be a MAC address like aa:bb:cc:dd:ee:ff"
