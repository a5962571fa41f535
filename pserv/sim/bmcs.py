"""
The simulated BMCs, and each cluster process's lines to them.

The BMCs (:class:`~pserv.testing.power.FakeBMC`) belong to the world and
outlive every process.  A cluster process reaches them through its own
:class:`FleetView`, whose :class:`BMCLine` reports every call to a
:class:`CallWatcher` (the invariant checker) and drops the answers meant
for a process that has died: a command sent just before a crash still
takes effect at the BMC, but nobody hears back.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from twisted.internet.defer import Deferred

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.policy import VerifyPolicy
from pserv.testing.power import FakeBMC, FakeFleet
from pserv.sim.process import Process


class CallWatcher(Protocol):
    """Hears of every call a process makes to a BMC, and of its end."""

    def call_started(self, process: Process, address: str, operation: str) -> object: ...

    def call_ended(self, token: object) -> None: ...


class FleetView:
    """
    What one cluster process's ``fake`` driver sees of the world's BMCs.

    :param fleet: the world's BMCs.
    """

    def __init__(self, fleet: FakeFleet, process: Process, watcher: CallWatcher) -> None:
        self.fleet = fleet
        self.process = process
        self.watcher = watcher
        self._lines: dict[str, BMCLine] = {}

    def bmc(self, address: str, **overrides: Any) -> BMCLine:
        """This process's line to the BMC at ``address``."""
        line = self._lines.get(address)
        if line is None:
            line = self._lines[address] = BMCLine(self.fleet.bmc(address), address, self)
        return line


class BMCLine:
    """One process's line to one BMC: a :class:`~pserv.power.control.PowerControl`."""

    def __init__(self, bmc: FakeBMC, address: str, view: FleetView) -> None:
        self.bmc = bmc
        self.address = address
        self.view = view
        self.description = bmc.description

    @property
    def verify_policy(self) -> VerifyPolicy:
        return self.bmc.verify_policy

    def power_on(self) -> Deferred[None]:
        return self._call("power_on", self.bmc.power_on)

    def power_off(self) -> Deferred[None]:
        return self._call("power_off", self.bmc.power_off)

    def soft_off(self) -> Deferred[None]:
        return self._call("soft_off", self.bmc.soft_off)

    def query(self) -> Any:
        return self._call("query", self.bmc.query)

    @property
    def can_set_boot(self) -> bool:
        return self.bmc.can_set_boot

    def set_boot_device(self, device: BootDevice, persistent: bool) -> Deferred[None]:
        setting = BootSetting(BootDevice(device), persistent)
        return self._call(f"set_boot_device {setting}", lambda: self.bmc.set_boot_device(device, persistent))

    def get_boot_device(self) -> Deferred[BootSetting | None]:
        return self._call("get_boot_device", self.bmc.get_boot_device)

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        process = self.view.process
        token = self.view.watcher.call_started(process, self.address, operation)
        sent = call()
        answer: Deferred[Any] = Deferred(lambda _: sent.cancel())

        def heard(result: Any) -> None:
            self.view.watcher.call_ended(token)
            if process.alive and not answer.called:
                answer.callback(result)

        def failed(failure: Any) -> None:
            self.view.watcher.call_ended(token)
            if process.alive and not answer.called:
                answer.errback(failure)

        sent.addCallbacks(heard, failed)
        return answer
