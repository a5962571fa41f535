"""
Tests for pserv.power.drivers.ipmi.boot: the boot flags of System Boot Options.
"""

import pytest

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.ipmi.boot import boot_flags, set_boot_flags
from pserv.power.errors import PowerProtocolError


@pytest.mark.parametrize("device, code", [(BootDevice.PXE, 0x04), (BootDevice.DISK, 0x08),
                                          (BootDevice.CDROM, 0x14), (BootDevice.BIOS, 0x18)])
def test_each_device_has_its_code(device, code):
    """The flags name PXE 0x04, disk 0x08, CD/DVD 0x14, BIOS setup 0x18, marked valid, for the next boot only."""
    assert set_boot_flags(device, False) == (0x05, 0x80, code, 0, 0, 0)


def test_persistent_sets_its_bit():
    """A persistent boot device sets bit 6 of the first flags byte as well as valid."""
    assert set_boot_flags(BootDevice.PXE, True)[1] == 0xC0


def test_an_answer_reads_back_as_its_setting():
    """Get System Boot Options' answer (version, selector, flags) reads back as the setting it holds."""
    assert boot_flags(bytes([1, 5, 0xC0, 0x14, 0, 0, 0])) == BootSetting(BootDevice.CDROM, True)
    assert boot_flags(bytes([1, 0x85, 0x80, 0x08, 0, 0, 0])) == BootSetting(BootDevice.DISK, False)


def test_flags_not_valid_or_of_another_device_say_nothing():
    """Flags not marked valid, or naming a device pserv does not set (floppy), say nothing."""
    assert boot_flags(bytes([1, 5, 0x00, 0x04, 0, 0, 0])) is None
    assert boot_flags(bytes([1, 5, 0x80, 0x3C, 0, 0, 0])) is None


@pytest.mark.parametrize("data", [b"", bytes([1, 5, 0x80]), bytes([1, 4, 0x80, 0x04, 0])])
def test_a_short_answer_or_another_parameter_is_a_protocol_error(data):
    """An answer too short for the flags, or of another parameter, is a protocol error."""
    with pytest.raises(PowerProtocolError):
        boot_flags(data)
