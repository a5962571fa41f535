"""
The power drivers, by the ``power_type`` that names them.

Drivers are imported only when first asked for, so a cluster that never
drives an SNMP PDU never imports pysnmp.
"""

from __future__ import annotations

from importlib import import_module

from pserv.power.drivers.base import PowerDriver
from pserv.power.errors import PowerSettingsError

DRIVER_PATHS: dict[str, str] = {
    "fake": "pserv.testing.fake_driver:FakeDriver",
    "ipmi": "pserv.power.drivers.ipmi.driver:IPMIDriver",
    "manual": "pserv.power.drivers.manual:ManualDriver",
    "redfish": "pserv.power.drivers.redfish.driver:RedfishDriver",
    "snmp_pdu": "pserv.power.drivers.snmp.driver:SNMPPDUDriver",
    "wol": "pserv.power.drivers.wol:WakeOnLANDriver",
}
"""``power_type`` -> ``module:Class``; one row per driver."""


def driver_names() -> list[str]:
    """
    Every ``power_type`` this pserv knows, sorted.
    """
    return sorted(DRIVER_PATHS)


def driver_class(power_type: str) -> type[PowerDriver]:
    """
    The driver class for ``power_type``.

    :raises PowerSettingsError: naming the ``power_type`` field, when no
        driver has that name.
    """
    try:
        path = DRIVER_PATHS[power_type]
    except (KeyError, TypeError):
        raise PowerSettingsError(
            f"power_type: unknown driver {power_type!r}; known: "
            + ", ".join(driver_names()),
            field="power_type",
        ) from None
    module, _, name = path.partition(":")
    cls: type[PowerDriver] = getattr(import_module(module), name)
    return cls
