"""
One driver instance per power type, made on first use.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Mapping

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred

from pserv.cluster.bmc_gate import BmcGates, GatedControl
from pserv.power.control import PowerControl
from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers import driver_class


class DriverSet:
    """
    The cluster's drivers, shared by all nodes of each type so they can
    reuse sessions and limit concurrency per BMC or PDU.

    :param overrides: driver instances to use for some power types: the
        only way to drive ``fake`` nodes, which no production driver serves
        (tests and the simulation give a ``FakeDriver`` a fleet of their own).
    """

    def __init__(self, reactor: Any, overrides: Mapping[str, PowerDriver] | None = None) -> None:
        self.reactor = reactor
        self._drivers: dict[str, PowerDriver] = dict(overrides or {})
        self.gates = BmcGates(reactor)
        """The BMCs' gates: every control of a power type that talks to a BMC takes turns at its BMC's."""
        self.wrap: Callable[[str, PowerControl], PowerControl] | None = None
        """Wraps each control made, given its power type: the cluster's metrics time its calls."""

    def driver(self, power_type: str) -> PowerDriver:
        """
        The driver for ``power_type``.

        :raises PowerSettingsError: for an unknown power type.
        """
        found = self._drivers.get(power_type)
        if found is None:
            found = self._drivers[power_type] = driver_class(power_type)(self.reactor)
        return found

    def control(self, power_type: str, params: Mapping[str, Any], node: Hashable = None) -> PowerControl:
        """
        A node's power, bound to its validated settings, taking turns at its
        BMC's gate (:mod:`pserv.cluster.bmc_gate`).

        :param node: the node, whose BMC limits (``min_command_interval``,
            ``max_concurrent``) replace what it named before.
        :raises PowerSettingsError: naming the bad field.
        """
        control = self.driver(power_type).bind(params)
        validated = getattr(control, "params", None)  # a BoundControl's, validated with defaults filled in
        gate = self.gates.gate(power_type, validated if validated is not None else params, node)
        if gate is not None:
            control = GatedControl(control, gate)
        return control if self.wrap is None else self.wrap(power_type, control)

    def open_sessions(self) -> dict[str, int]:
        """BMC sessions open now, by power type, of the drivers that keep sessions (IPMI, Redfish) and are in use."""
        return {name: int(driver.open_sessions()) for name, driver in self._drivers.items()
                if callable(getattr(driver, "open_sessions", None))}

    def close(self) -> Deferred[object]:
        """Close every driver's sessions and connections."""
        return gatherResults([maybeDeferred(driver.close) for driver in self._drivers.values()])
