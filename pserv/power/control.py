"""
The interface an action drives: one node's power, bound to its settings.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

from twisted.internet.defer import Deferred

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.policy import VerifyPolicy
from pserv.power.states import PowerState


@runtime_checkable
class PowerControl(Protocol):
    """
    One node's power, as a driver exposes it.

    Every call returns a :class:`Deferred` whose canceller really stops the
    work (aborts the request, drops the pending exchange).  Failures are
    :class:`pserv.power.errors.PowerError` subclasses; an operation the
    hardware cannot do fails with ``PowerUnsupportedError``.

    :ivar verify_policy: the timing this node's driver wants.
    :ivar description: names the node's BMC or PDU in messages, never
        including a secret.
    :ivar can_query: optional; ``False`` only for a driver that declares it
        cannot read power at all (its power type's ``can_query``: manual,
        Wake-on-LAN).  A control without it can read, so a read it refuses
        is an error, never a reason to act blind.
    :ivar can_set_boot: optional; ``True`` only for a driver that can set
        the next boot device (its power type's ``can_set_boot``: IPMI,
        Redfish), which then also has ``set_boot_device(device, persistent)``
        and ``get_boot_device()`` (the :class:`~pserv.power.boot.BootSetting`
        read back, or ``None`` where the BMC cannot say).  A control without
        it cannot set one: an action asked to fails before any command.
    """

    verify_policy: VerifyPolicy
    description: str

    def power_on(self) -> Deferred[None]:
        """Send the command that switches the node on."""

    def power_off(self) -> Deferred[None]:
        """Send the command that switches the node off at once."""

    def soft_off(self) -> Deferred[None]:
        """Ask the operating system to shut down gracefully."""

    def query(self) -> Deferred[PowerState]:
        """Read the node's power state: ``ON`` or ``OFF``."""


class ControlWrapper:
    """
    A node's power that passes every call of another control through
    :meth:`_call` (the cluster's lease, its metrics), keeping what the
    wrapped control declares and offers (a budget's ``permit``, a BMC's
    ``turn``).
    """

    def __init__(self, control: PowerControl) -> None:
        self._control = control
        self.verify_policy = control.verify_policy
        self.description = control.description
        if hasattr(control, "can_query"):
            self.can_query = control.can_query
        self.can_set_boot: bool = getattr(control, "can_set_boot", False)
        if hasattr(control, "permit"):
            self.permit = control.permit
        if hasattr(control, "turn"):
            self.turn = control.turn

    def power_on(self) -> Deferred[None]:
        return self._call("power_on", self._control.power_on)

    def power_off(self) -> Deferred[None]:
        return self._call("power_off", self._control.power_off)

    def soft_off(self) -> Deferred[None]:
        return self._call("soft_off", self._control.soft_off)

    def query(self) -> Deferred[PowerState]:
        return self._call("query", self._control.query)

    def set_boot_device(self, device: BootDevice, persistent: bool) -> Deferred[None]:
        return self._call("set_boot_device", lambda: self._control.set_boot_device(device, persistent))  # type: ignore[attr-defined]

    def get_boot_device(self) -> Deferred[BootSetting | None]:
        return self._call("get_boot_device", self._control.get_boot_device)  # type: ignore[attr-defined]

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        """Make ``call`` (the wrapped control's ``operation``), as this wrapper does."""
        raise NotImplementedError
