"""
What the region and the cluster both know of each power type, as data:
its label, its settings schema and the checks between settings, with no
driver code and no BMC library.  The region validates nodes and serves
``GET /api/v1/drivers`` from here; each driver
(:mod:`pserv.power.drivers`) names the :class:`PowerType` it drives.

:data:`POWER_TYPES` is the table of production power types.  The ``fake``
type is not in it: tests, the simulation and the demo add it explicitly
(:data:`pserv.testing.fake_driver.POWER_TYPES_WITH_FAKE`).
"""

from pserv.power.types.base import Check, PowerType, PowerTypes, no_check, unknown_power_type
from pserv.power.types.ipmi import IPMI
from pserv.power.types.manual import MANUAL
from pserv.power.types.redfish import REDFISH
from pserv.power.types.snmp_pdu import SNMP_PDU
from pserv.power.types.wol import WOL

POWER_TYPES = PowerTypes([IPMI, MANUAL, REDFISH, SNMP_PDU, WOL])
"""Every production ``power_type``, by name."""

__all__ = [
    "Check", "POWER_TYPES", "PowerType", "PowerTypes", "no_check", "unknown_power_type",
    "IPMI", "MANUAL", "REDFISH", "SNMP_PDU", "WOL",
]
