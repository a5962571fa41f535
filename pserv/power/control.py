"""
The interface an action drives: one node's power, bound to its settings.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from twisted.internet.defer import Deferred

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
