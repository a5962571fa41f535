"""
The next boot device an ``on`` or ``cycle`` may set before its power
command, as the API, the RPC, the store and the drivers name it.

A request's boot setting is part of its intent: two ``on`` requests that
differ only in their boot device are different intents (the newer
supersedes), identical ones coalesce (``docs/power-actions.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from pserv.power.states import ActionKind

__all__ = ["BOOT_KINDS", "BootDevice", "BootSetting", "boot_setting"]


class BootDevice(str, Enum):
    """
    A device a node may boot from next.
    """

    PXE = "pxe"
    DISK = "disk"
    CDROM = "cdrom"
    BIOS = "bios"


BOOT_KINDS = frozenset([ActionKind.ON, ActionKind.CYCLE])
"""The kinds of action that may carry a boot device: those that boot the node."""


@dataclass(frozen=True, slots=True)
class BootSetting:
    """
    The boot device to set, and whether for every boot or the next only.

    :ivar device: what to boot from.
    :ivar persistent: ``True`` for every boot from now on, ``False`` (the
        default) for the next boot only.
    """

    device: BootDevice
    persistent: bool = False

    def gives(self, asked: BootSetting) -> bool:
        """
        Whether this setting, read back from a BMC, gives what ``asked``
        asks: the same device, for every boot if it asks that.  One kept
        for every boot where the next boot only was asked still boots the
        device next (a BMC that keeps every override, as libvirt's behind
        sushy-tools does, reads back so).
        """
        return self.device is asked.device and (self.persistent or not asked.persistent)

    def __str__(self) -> str:
        return f"{self.device.value} ({'persistent' if self.persistent else 'next boot only'})"


def boot_setting(device: Any, persistent: Any = None) -> BootSetting | None:
    """
    The boot setting a request's ``boot_device`` and ``boot_persistent``
    name, or ``None`` when it names no device.

    :raises ValueError: an unknown device, or ``persistent`` without a device.
    """
    if device is None:
        if persistent is not None:
            raise ValueError("boot_persistent: only with boot_device")
        return None
    return BootSetting(BootDevice(device), bool(persistent))
