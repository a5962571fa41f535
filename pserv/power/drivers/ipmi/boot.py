"""
The boot flags of IPMI's System Boot Options (IPMI 2.0, 28.12 and table
28-14, parameter 5): what Set System Boot Options sends to choose the next
boot device, and what Get System Boot Options answers.

The flags are five bytes: the first holds "valid" (0x80) and "persistent"
(0x40, every boot rather than the next only), the second the device in its
bits 5:2 (PXE 0x04, hard disk 0x08, CD/DVD 0x14, BIOS setup 0x18).
"""

from __future__ import annotations

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.errors import PowerProtocolError

CMD_SET_SYSTEM_BOOT_OPTIONS = 0x08
CMD_GET_SYSTEM_BOOT_OPTIONS = 0x09
BOOT_FLAGS = 0x05
"""The boot flags' parameter selector."""

VALID = 0x80
PERSISTENT = 0x40
DEVICE_MASK = 0x3C

DEVICES: dict[BootDevice, int] = {
    BootDevice.PXE: 0x04,
    BootDevice.DISK: 0x08,
    BootDevice.CDROM: 0x14,
    BootDevice.BIOS: 0x18,
}
"""Each boot device's code in the flags' second byte."""

_BY_CODE = {code: device for device, code in DEVICES.items()}

GET_BOOT_FLAGS = (BOOT_FLAGS, 0x00, 0x00)
"""Get System Boot Options' request data for the boot flags (no set selector, no block selector)."""


def set_boot_flags(device: BootDevice, persistent: bool) -> tuple[int, ...]:
    """Set System Boot Options' request data that makes ``device`` the next boot device (every boot, if ``persistent``)."""
    return (BOOT_FLAGS, VALID | (PERSISTENT if persistent else 0), DEVICES[device], 0x00, 0x00, 0x00)


def boot_flags(data: bytes) -> BootSetting | None:
    """
    The boot setting in Get System Boot Options' answer (after the
    completion code): parameter version, selector, then the flags.
    ``None`` when the flags are not marked valid (no override is set) or
    name a device none of :class:`BootDevice` is.

    :raises PowerProtocolError: an answer too short to hold the flags, or of
        another parameter.
    """
    if len(data) < 4 or data[1] & 0x7F != BOOT_FLAGS:
        raise PowerProtocolError(f"Get System Boot Options answered {data.hex() or 'nothing'}, not boot flags")
    flags, code = data[2], data[3] & DEVICE_MASK
    if not flags & VALID or code not in _BY_CODE:
        return None
    return BootSetting(_BY_CODE[code], bool(flags & PERSISTENT))
