"""
The production power drivers, by the ``power_type`` that names them.

Drivers are imported only when first asked for, so a cluster that never
drives an SNMP PDU never imports pysnmp.  Only the cluster imports them:
the region knows power types as data (:mod:`pserv.power.types`).  The
``fake`` driver is not here; tests, the simulation and the demo give it to
a cluster's ``DriverSet`` themselves.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from pserv.power.types import unknown_power_type

if TYPE_CHECKING:
    from pserv.power.drivers.base import PowerDriver

DRIVER_PATHS: dict[str, str] = {
    "ipmi": "pserv.power.drivers.ipmi.driver:IPMIDriver",
    "manual": "pserv.power.drivers.manual:ManualDriver",
    "redfish": "pserv.power.drivers.redfish.driver:RedfishDriver",
    "snmp_pdu": "pserv.power.drivers.snmp.driver:SNMPPDUDriver",
    "wol": "pserv.power.drivers.wol:WakeOnLANDriver",
}
"""``power_type`` -> ``module:Class``; one row per production power type
(:data:`pserv.power.types.POWER_TYPES`)."""


def driver_names() -> list[str]:
    """
    Every production ``power_type`` with a driver, sorted.
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
        raise unknown_power_type(power_type, DRIVER_PATHS) from None
    module, _, name = path.partition(":")
    cls: type[PowerDriver] = getattr(import_module(module), name)
    return cls
