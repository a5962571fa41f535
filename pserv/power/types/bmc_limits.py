"""
The two settings that limit the load pserv puts on one BMC or PDU agent:
``min_command_interval`` and ``max_concurrent``, declared once here and
listed by every power type that talks to a BMC over the network (IPMI,
Redfish, SNMP PDU, and the in-memory ``fake``).

Nodes that name the same BMC (the same power type and address) share one
gate in the cluster (:mod:`pserv.cluster.bmc_gate`): the limits in force
there are the strictest any of those nodes names (the largest interval,
the smallest concurrency).  Neither has a default: left unset, a BMC is
limited only by what its driver bounds already (one IPMI exchange at a
time per BMC, one SNMP request at a time per PDU, two Redfish requests
at a time per BMC).
"""

from __future__ import annotations

from pserv.power.settings import Setting, SettingType

MIN_COMMAND_INTERVAL = "min_command_interval"
"""The setting's name: seconds between the starts of two calls to the BMC."""

MAX_CONCURRENT = "max_concurrent"
"""The setting's name: calls in flight at once to the BMC."""

SHARED = "shared by every node naming this BMC address: the strictest any of them names applies"
"""What the help of both settings says of whose limit it is."""

BMC_LIMITS = (
    Setting(
        MIN_COMMAND_INTERVAL, "Minimum seconds between calls to this BMC", SettingType.NUMBER,
        minimum=0, maximum=600,
        help=f"between the starts of two calls (reads included); {SHARED}; unset: no extra wait",
    ),
    Setting(
        MAX_CONCURRENT, "Calls in flight at once to this BMC", SettingType.INTEGER,
        minimum=1, maximum=1000,
        help=f"{SHARED}; unset: only the driver's own bound",
    ),
)
"""The two settings, in form order, for a power type's schema to list last."""
