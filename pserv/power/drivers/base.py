"""
The base every power driver shares, and a node's bound control.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.control import PowerControl
from pserv.power.errors import PowerUnsupportedError
from pserv.power.policy import DEFAULT_POLICY, VerifyPolicy
from pserv.power.settings import SettingsSchema
from pserv.power.states import PowerState
from pserv.power.types import PowerType


class PowerDriver:
    """
    A kind of power hardware: IPMI, Redfish, an SNMP PDU, ...

    One instance serves every node of its type on a cluster, so it can share
    sessions and limit concurrency per BMC or PDU.  Each operation takes the
    node's validated settings.  An operation a driver does not override is
    unsupported.

    :cvar power_type: the power type this driver drives (its name, label,
        settings and checks, from :mod:`pserv.power.types`); a subclass
        sets it, and gets :attr:`name`, :attr:`label` and :attr:`settings`
        from it.
    :cvar name: the ``power_type`` that selects this driver.
    :cvar settings: what a node of this type must configure.
    :cvar can_query: whether it can read power at all (the power type's
        declaration).
    :cvar can_set_boot: whether it can set the next boot device (the power
        type's declaration); such a driver overrides
        :meth:`set_boot_device` and, if its BMC can say, :meth:`get_boot_device`.
    :cvar verify_policy: the default timing of reads and commands.
    """

    power_type: ClassVar[PowerType]
    name: ClassVar[str]
    label: ClassVar[str]
    settings: ClassVar[SettingsSchema]
    can_query: ClassVar[bool] = True
    can_set_boot: ClassVar[bool] = False
    verify_policy: ClassVar[VerifyPolicy] = DEFAULT_POLICY

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("power_type")
        if kind is not None:
            cls.name, cls.label, cls.settings = kind.name, kind.label, kind.settings
            cls.can_query = kind.can_query
            cls.can_set_boot = kind.can_set_boot

    def __init__(self, reactor: IReactorTime | None = None) -> None:
        self._reactor_or_none = reactor

    @property
    def reactor(self) -> Any:
        """
        The reactor given, or the global one, looked up only when needed.
        """
        if self._reactor_or_none is None:
            from twisted.internet import reactor

            self._reactor_or_none = reactor
        return self._reactor_or_none

    def bind(self, params: Mapping[str, Any]) -> PowerControl:
        """
        Validate a node's settings and return its :class:`PowerControl`.

        :raises PowerSettingsError: naming the bad field.
        """
        return BoundControl(self, self.validate(params))

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """
        A node's settings checked against the schema and then against each
        other (:meth:`check`), with defaults filled in.  The cluster calls
        this before using settings (the region validates with the power
        type alone).

        :raises PowerSettingsError: naming the bad field.
        """
        cleaned = self.settings.validate(params)
        self.check(cleaned)
        return cleaned

    def check(self, params: Mapping[str, Any]) -> None:
        """
        Checks a schema cannot express, such as one setting required only
        with a value of another: the power type's own (``power_type.check``).
        Raise ``PowerSettingsError`` naming the field.
        """
        self.power_type.check(params)

    def describe(self, params: Mapping[str, Any]) -> str:
        """
        Names the BMC or PDU for messages; never includes a secret.
        """
        address = params.get("address")
        return f"{self.name} {address}" if address else self.name

    def policy(self, params: Mapping[str, Any]) -> VerifyPolicy:
        """
        The verification timing for one node.
        """
        return self.verify_policy

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Switch the node on."""
        return self._unsupported("power on", params)

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Switch the node off at once."""
        return self._unsupported("power off", params)

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Ask the operating system to shut down."""
        return self._unsupported("soft off", params)

    def query(self, params: Mapping[str, Any]) -> Deferred[PowerState]:
        """Read the power state."""
        return self._unsupported("query", params)

    def set_boot_device(self, params: Mapping[str, Any], device: BootDevice, persistent: bool) -> Deferred[None]:
        """Set the device the node boots from next (every boot, if ``persistent``)."""
        return self._unsupported("set a boot device", params)

    def get_boot_device(self, params: Mapping[str, Any]) -> Deferred[BootSetting | None]:
        """The boot device set, or ``None`` where the BMC cannot say."""
        return succeed(None)

    def close(self) -> Deferred[None]:
        """
        Release sessions and connections; the cluster calls it on shutdown.
        """
        return succeed(None)

    def _unsupported(self, what: str, params: Mapping[str, Any]) -> Deferred[Any]:
        return fail(PowerUnsupportedError(f"{self.describe(params)}: cannot {what}"))


class BoundControl:
    """
    A driver bound to one node's validated settings: a :class:`PowerControl`.
    """

    __slots__ = ("driver", "params", "verify_policy", "description", "can_query", "can_set_boot")

    def __init__(self, driver: PowerDriver, params: Mapping[str, Any]) -> None:
        self.driver = driver
        self.params = params
        self.can_query = driver.can_query
        self.can_set_boot = driver.can_set_boot
        self.verify_policy = driver.policy(params)
        self.description = driver.describe(params)

    def power_on(self) -> Deferred[None]:
        return self.driver.power_on(self.params)

    def power_off(self) -> Deferred[None]:
        return self.driver.power_off(self.params)

    def soft_off(self) -> Deferred[None]:
        return self.driver.soft_off(self.params)

    def query(self) -> Deferred[PowerState]:
        return self.driver.query(self.params)

    def set_boot_device(self, device: BootDevice, persistent: bool) -> Deferred[None]:
        return self.driver.set_boot_device(self.params, device, persistent)

    def get_boot_device(self) -> Deferred[BootSetting | None]:
        return self.driver.get_boot_device(self.params)

    def __repr__(self) -> str:
        return f"<BoundControl {self.description}>"
