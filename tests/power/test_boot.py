"""
Tests for pserv.power.boot: the boot devices and a request's boot setting.
"""

import pytest

from pserv.power.boot import BOOT_KINDS, BootDevice, BootSetting, boot_setting
from pserv.power.states import ActionKind


def test_no_device_is_no_setting():
    """A request that names no boot device has no boot setting."""
    assert boot_setting(None) is None


def test_device_is_next_boot_only_by_default():
    """A boot device without boot_persistent is for the next boot only."""
    assert boot_setting("pxe") == BootSetting(BootDevice.PXE, False)


def test_persistent_setting():
    """boot_persistent true makes it for every boot."""
    assert boot_setting("disk", True) == BootSetting(BootDevice.DISK, True)


def test_unknown_device_is_refused():
    """A device that is not one of pxe, disk, cdrom, bios is refused."""
    with pytest.raises(ValueError):
        boot_setting("floppy")


def test_persistent_without_device_is_refused():
    """boot_persistent alone names nothing to persist."""
    with pytest.raises(ValueError, match="boot_persistent"):
        boot_setting(None, True)


def test_only_on_and_cycle_boot():
    """Only on and cycle, the kinds that boot a node, may carry a boot device."""
    assert BOOT_KINDS == {ActionKind.ON, ActionKind.CYCLE}


def test_a_setting_says_itself():
    """A setting names its device and whether it persists."""
    assert str(BootSetting(BootDevice.PXE)) == "pxe (next boot only)"
    assert str(BootSetting(BootDevice.BIOS, True)) == "bios (persistent)"


def test_a_setting_read_back_gives_what_was_asked():
    """A read-back gives what was asked with the same device, persistent if asked so; kept for every boot is more than once."""
    once, always = BootSetting(BootDevice.PXE), BootSetting(BootDevice.PXE, True)
    assert once.gives(once) and always.gives(always) and always.gives(once)
    assert not once.gives(always)
    assert not BootSetting(BootDevice.DISK).gives(once)
