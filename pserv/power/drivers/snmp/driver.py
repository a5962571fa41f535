"""
The ``snmp_pdu`` power driver: one outlet of a switched PDU, over SNMP.

A node's power is one outlet.  Switching it is a single SNMP SET, reading it
a single GET, with the OIDs and values of the PDU's vendor row in
:mod:`pserv.power.types.snmp_vendors` (or the row ``sysObjectID`` picks when
``vendor`` is ``auto``).  Every request to one PDU waits its turn in that
PDU's queue.  SNMPv1, v2c (separate read and write communities) and v3
(authPriv, or authNoPriv) are supported.  A PDU cannot shut an operating
system down, so ``soft_off`` is unsupported; ``cycle`` is done above the
driver, off and on with the node's ``cycle_delay`` between.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Coroutine, Mapping, TypeVar

from pyasn1.type import univ
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime

from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers.snmp.client import (
    Credentials,
    SNMPAddressError,
    SNMPClient,
    Target,
)
from pserv.power.drivers.snmp.errors import (
    Exchange,
    PDUProtocolError,
    check_reply,
    integer_value,
)
from pserv.power.drivers.snmp.queue import PDUQueues
from pserv.power.errors import (
    PowerFatalError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)
from pserv.power.policy import VerifyPolicy
from pserv.power.states import PowerState
from pserv.power.types import snmp_vendors as pdu_vendors
from pserv.power.types.snmp_pdu import SNMP_PDU
from pserv.power.types.snmp_vendors import AUTO, PDUVendor
from pserv.util.backoff import exponential

T = TypeVar("T")


@dataclass(frozen=True)
class Outlet:
    """
    One node's outlet, from its validated settings; holds no secret in repr.
    """

    address: str
    port: int
    outlet: int
    vendor: str
    credentials: Credentials

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Outlet:
        """
        The outlet that validated settings name.
        """
        return cls(
            address=params["address"],
            port=int(params["port"]),
            outlet=int(params["outlet"]),
            vendor=params["vendor"],
            credentials=Credentials(
                version=params["version"],
                community=params.get("community") or "",
                write_community=params.get("write_community") or "",
                v3_user=params.get("v3_user") or "",
                v3_auth_protocol=params["v3_auth_protocol"],
                v3_auth_key=params.get("v3_auth_key") or "",
                v3_priv_protocol=params["v3_priv_protocol"],
                v3_priv_key=params.get("v3_priv_key") or "",
            ),
        )

    @property
    def key(self) -> tuple[str, int]:
        """The PDU: what the queue and the ``auto`` cache are keyed by."""
        return (self.address, self.port)

    @property
    def where(self) -> str:
        """``snmp_pdu ADDRESS outlet N``, for messages."""
        return describe_outlet(self.address, self.outlet)

    @property
    def target(self) -> Target:
        """The PDU's agent, with this node's credentials."""
        return Target(self.address, self.port, self.credentials)


def describe_outlet(address: Any, outlet: Any) -> str:
    """
    ``snmp_pdu ADDRESS outlet N``: names a node's outlet in messages.
    """
    text = f"snmp_pdu {address}" if address else "snmp_pdu"
    return f"{text} outlet {outlet}" if outlet is not None else text


class SNMPPDUDriver(PowerDriver):
    """
    Switches PDU outlets over SNMP; one instance serves every PDU.

    :param reactor: the reactor (the global one if ``None``).
    :param timeout: seconds to wait for each SNMP reply.
    :param retries: how many times an unanswered request is resent.
    """

    power_type = SNMP_PDU
    verify_policy: ClassVar[VerifyPolicy] = VerifyPolicy(
        backoff=exponential(0.5, 2.0), deadline=30.0, read_timeout=10.0, command_timeout=15.0
    )

    def __init__(
        self, reactor: IReactorTime | None = None, timeout: float = 1.0, retries: int = 2
    ) -> None:
        super().__init__(reactor)
        self.timeout = timeout
        self.retries = retries
        self.queues = PDUQueues()
        self._client: SNMPClient | None = None
        self._detected: dict[tuple[str, int], PDUVendor] = {}

    @property
    def client(self) -> SNMPClient:
        """The SNMP client, made on first use (it needs the reactor)."""
        if self._client is None:
            self._client = SNMPClient(self.reactor, self.timeout, self.retries)
        return self._client

    def close(self) -> Deferred[None]:
        """Close every PDU's SNMP engine; for shutdown and tests."""
        if self._client is not None:
            self._client.close()
        return succeed(None)

    def describe(self, params: Mapping[str, Any]) -> str:
        """``snmp_pdu ADDRESS outlet N``; never a community or key."""
        return describe_outlet(params.get("address"), params.get("outlet"))

    def policy(self, params: Mapping[str, Any]) -> VerifyPolicy:
        """The driver's policy with this node's ``cycle_delay``."""
        value = params.get("cycle_delay")
        setting = self.settings["cycle_delay"]
        delay = setting.default if value in (None, "") else setting.clean(value)
        return dataclasses.replace(self.verify_policy, cycle_delay=float(delay))

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        """SET the outlet on."""
        return self._queued(params, lambda outlet: self._switch(outlet, PowerState.ON))

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """SET the outlet off."""
        return self._queued(params, lambda outlet: self._switch(outlet, PowerState.OFF))

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Unsupported: a PDU can only cut the outlet's power."""
        return fail(
            PowerUnsupportedError(
                f"{self.describe(params)}: cannot soft off: a PDU outlet can only cut "
                "power, not ask the operating system to shut down; use power off"
            )
        )

    def query(self, params: Mapping[str, Any]) -> Deferred[PowerState]:
        """GET the outlet's state."""
        return self._queued(params, self._read_state)

    def _queued(
        self, params: Mapping[str, Any], work: Callable[[Outlet], Coroutine[Any, Any, T]]
    ) -> Deferred[T]:
        try:
            outlet = Outlet.of(params)
        except (KeyError, TypeError, ValueError):
            return fail(PowerSettingsError(f"{self.describe(params)}: settings not validated"))
        if not isinstance(self.reactor, AsyncioSelectorReactor):
            return fail(
                PowerFatalError(
                    f"{outlet.where}: pysnmp needs Twisted's asyncio reactor, "
                    f"not {type(self.reactor).__name__}"
                )
            )
        return self.queues.run(outlet.key, lambda: Deferred.fromCoroutine(work(outlet)))

    async def _read_state(self, outlet: Outlet) -> PowerState:
        vendor = await self._vendor(outlet)
        exchange = self._exchange(outlet, vendor.status(outlet.outlet))
        raw = await self._request(outlet, exchange)
        value = integer_value(raw, exchange, vendor.expected_values())
        state = vendor.state_of(value)
        if state is None:
            raise PDUProtocolError(
                f"{outlet.where}: {exchange.request} returned {value}; "
                f"{vendor.name} expects {vendor.expected_values()}"
            )
        return state

    async def _switch(self, outlet: Outlet, state: PowerState) -> None:
        vendor = await self._vendor(outlet)
        oid, value = vendor.control(outlet.outlet, state)
        await self._request(outlet, self._exchange(outlet, oid, value))

    async def _vendor(self, outlet: Outlet) -> PDUVendor:
        """The outlet's vendor row: as set, or detected once per PDU."""
        if outlet.vendor != AUTO:
            return pdu_vendors.VENDORS_BY_NAME[outlet.vendor]
        known = self._detected.get(outlet.key)
        if known is not None:
            return known
        exchange = self._exchange(outlet, pdu_vendors.SYS_OBJECT_ID, field="vendor")
        raw = await self._request(outlet, exchange)
        vendor = pdu_vendors.vendor_for_sys_object_id(str(raw)) if _is_oid(raw) else None
        if vendor is None:
            raise PowerSettingsError(
                f"{outlet.where}: vendor: sysObjectID {_shown(raw)} matches no known PDU; "
                "set vendor to one of " + ", ".join(v.name for v in pdu_vendors.VENDORS),
                field="vendor",
            )
        self._detected[outlet.key] = vendor
        return vendor

    def _exchange(self, outlet: Outlet, oid: str, value: int | None = None,
                  field: str = "outlet") -> Exchange:
        return Exchange(outlet.where, outlet.port, outlet.credentials.version, oid, value, field)

    async def _request(self, outlet: Outlet, exchange: Exchange) -> Any:
        """One GET or SET; its value, or the PowerError it amounts to."""
        client = self.client
        try:
            if exchange.value is None:
                reply = await client.get(outlet.target, exchange.oid)
            else:
                reply = await client.set(outlet.target, exchange.oid, exchange.value)
        except SNMPAddressError:
            raise PowerTransientError(f"{outlet.where}: cannot resolve the address") from None
        try:
            return check_reply(reply, exchange)
        except PowerSettingsError:
            self._detected.pop(outlet.key, None)  # a new PDU at the address?
            raise


def _is_oid(value: Any) -> bool:
    return isinstance(value, univ.ObjectIdentifier)


def _shown(value: Any) -> str:
    return str(value.prettyPrint()) if hasattr(value, "prettyPrint") else repr(value)
