"""
Tests for pserv.power.drivers.redfish.boot: a ComputerSystem's boot override.
"""

import pytest

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.redfish.boot import boot_override, boot_patch


@pytest.mark.parametrize("device, target", [(BootDevice.PXE, "Pxe"), (BootDevice.DISK, "Hdd"),
                                            (BootDevice.CDROM, "Cd"), (BootDevice.BIOS, "BiosSetup")])
def test_each_device_has_its_target(device, target):
    """Each boot device is PATCHed as its BootSourceOverrideTarget, Once for the next boot only."""
    assert boot_patch(device, False) == {"Boot": {"BootSourceOverrideTarget": target,
                                                  "BootSourceOverrideEnabled": "Once"}}


def test_persistent_is_continuous():
    """A persistent boot device is BootSourceOverrideEnabled Continuous."""
    assert boot_patch(BootDevice.PXE, True)["Boot"]["BootSourceOverrideEnabled"] == "Continuous"


def test_a_system_reads_back_its_override():
    """A system's Boot reads back as the setting it holds."""
    system = {"Boot": {"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Continuous"}}
    assert boot_override(system) == BootSetting(BootDevice.CDROM, True)


@pytest.mark.parametrize("system", [{}, {"Boot": "x"}, {"Boot": {"BootSourceOverrideTarget": "Pxe",
                                                                  "BootSourceOverrideEnabled": "Disabled"}},
                                    {"Boot": {"BootSourceOverrideTarget": "Floppy",
                                              "BootSourceOverrideEnabled": "Once"}}])
def test_no_override_or_one_pserv_does_not_set_says_nothing(system):
    """No Boot, a disabled override, or a target pserv does not set, says nothing."""
    assert boot_override(system) is None
