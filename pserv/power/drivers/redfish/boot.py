"""
A Redfish ComputerSystem's boot override: the ``Boot`` object a PATCH of
the system sets the next boot device with, and reads back from its GET.

``BootSourceOverrideTarget`` names the device (``Pxe``, ``Hdd``, ``Cd``,
``BiosSetup``), ``BootSourceOverrideEnabled`` for how long (``Once``: the
next boot; ``Continuous``: every boot; ``Disabled``: no override).
"""

from __future__ import annotations

from typing import Any

from pserv.power.boot import BootDevice, BootSetting

TARGETS: dict[BootDevice, str] = {
    BootDevice.PXE: "Pxe",
    BootDevice.DISK: "Hdd",
    BootDevice.CDROM: "Cd",
    BootDevice.BIOS: "BiosSetup",
}
"""Each boot device's ``BootSourceOverrideTarget``."""

_BY_TARGET = {target: device for device, target in TARGETS.items()}


def boot_patch(device: BootDevice, persistent: bool) -> dict[str, Any]:
    """The body of the PATCH that makes ``device`` the next boot device (every boot, if ``persistent``)."""
    return {"Boot": {"BootSourceOverrideTarget": TARGETS[device],
                     "BootSourceOverrideEnabled": "Continuous" if persistent else "Once"}}


def boot_override(system: dict[str, Any]) -> BootSetting | None:
    """
    The boot override a ComputerSystem document holds; ``None`` when it
    holds none (no ``Boot``, ``Disabled``, or a target pserv does not set).
    """
    boot = system.get("Boot")
    if not isinstance(boot, dict):
        return None
    device = _BY_TARGET.get(boot.get("BootSourceOverrideTarget"))
    enabled = boot.get("BootSourceOverrideEnabled")
    if device is None or enabled not in ("Once", "Continuous"):
        return None
    return BootSetting(device, enabled == "Continuous")
