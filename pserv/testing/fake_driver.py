"""
The ``fake`` power type and driver: nodes whose BMCs are
:class:`~pserv.testing.power.FakeBMC` objects in memory, for the demo,
simulation and registry tests.  It is not a stand-in for testing real
drivers, which run against real emulators.

Production knows nothing of it (:data:`pserv.power.types.POWER_TYPES` and
:data:`pserv.power.drivers.DRIVER_PATHS` leave it out).  Whoever wants fake
nodes says so: a region built with :data:`POWER_TYPES_WITH_FAKE`, a
cluster's ``DriverSet`` given a :class:`FakeDriver`.
"""

from __future__ import annotations

from typing import Any, Mapping

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.base import PowerDriver
from pserv.power.settings import Setting, SettingsSchema, SettingType
from pserv.power.states import PowerState
from pserv.power.types import POWER_TYPES, PowerType
from pserv.power.types.bmc_limits import BMC_LIMITS
from pserv.testing.power import FakeBMC, FakeFleet

FAKE = PowerType(
    "fake",
    "Emulated BMC (in memory)",
    SettingsSchema(
        Setting("address", "BMC name", required=True, help="any name; one BMC per name"),
        Setting("username", "Username", default="admin"),
        Setting("password", "Password", secret=True),
        Setting("latency", "Latency (s)", SettingType.NUMBER, minimum=0,
                help="seconds each call takes; the fleet's default if not set"),
        *BMC_LIMITS,
    ),
    can_set_boot=True,
)
"""The ``fake`` power type."""

POWER_TYPES_WITH_FAKE = POWER_TYPES.adding(FAKE)
"""The production power types and ``fake``: for regions of tests, the
simulation and the demo."""


class FakeDriver(PowerDriver):
    """
    Drives the BMCs of a :class:`FakeFleet`, by address.

    :param fleet: the emulated BMCs; a fresh fleet on the driver's reactor
        if not given.
    """

    power_type = FAKE

    def __init__(self, reactor: IReactorTime | None = None, fleet: FakeFleet | None = None) -> None:
        super().__init__(reactor)
        self._fleet = fleet

    @property
    def fleet(self) -> FakeFleet:
        """
        The emulated BMCs this driver talks to.
        """
        if self._fleet is None:
            self._fleet = FakeFleet(self.reactor)
        return self._fleet

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"fake {params.get('address')}"

    def bmc(self, params: Mapping[str, Any]) -> FakeBMC:
        """
        The emulated BMC a node's settings name.
        """
        latency = params.get("latency")
        return self.fleet.bmc(params["address"], **({} if latency is None else {"latency": latency}))

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self.bmc(params).power_on()

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self.bmc(params).power_off()

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self.bmc(params).soft_off()

    def query(self, params: Mapping[str, Any]) -> Deferred[PowerState]:
        return self.bmc(params).query()

    def set_boot_device(self, params: Mapping[str, Any], device: BootDevice, persistent: bool) -> Deferred[None]:
        return self.bmc(params).set_boot_device(device, persistent)

    def get_boot_device(self, params: Mapping[str, Any]) -> Deferred[BootSetting | None]:
        return self.bmc(params).get_boot_device()
