"""
Single SNMP GETs and SETs as Deferreds, over pysnmp's asyncio API.

pysnmp runs on the asyncio loop that Twisted's asyncio reactor drives, so a
request is an asyncio task adapted with :meth:`Deferred.fromFuture`.
Cancelling the Deferred cancels the task and closes the PDU's SNMP engine,
which stops pysnmp's retransmissions and drops any late reply: nothing fires
after a cancel but the ``CancelledError``.

One SNMP engine per PDU (address and port) keeps SNMPv3 users and engine IDs
of different PDUs apart; it is replaced when the credentials change and
closed after it has been idle for a while.  Callers serialize the requests
to one PDU (see :mod:`pserv.power.drivers.snmp.queue`), so closing a PDU's
engine never abandons anyone else's request.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Hashable

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    Integer32,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    set_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth
from pysnmp.hlapi.v3arch.asyncio.cmdgen import VB_PROCESSOR
from pysnmp.proto.errind import ErrorIndication
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

AUTH_PROTOCOLS: dict[str, Any] = {
    "MD5": auth.USM_AUTH_HMAC96_MD5,
    "SHA": auth.USM_AUTH_HMAC96_SHA,
    "SHA224": auth.USM_AUTH_HMAC128_SHA224,
    "SHA256": auth.USM_AUTH_HMAC192_SHA256,
    "SHA384": auth.USM_AUTH_HMAC256_SHA384,
    "SHA512": auth.USM_AUTH_HMAC384_SHA512,
}
"""``v3_auth_protocol`` choices -> pysnmp protocol IDs."""

PRIV_PROTOCOLS: dict[str, Any] = {
    "none": None,
    "DES": auth.USM_PRIV_CBC56_DES,
    "AES": auth.USM_PRIV_CFB128_AES,
    "AES192": auth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES192C": auth.USM_PRIV_CFB192_AES,
    "AES256C": auth.USM_PRIV_CFB256_AES,
}
"""``v3_priv_protocol`` choices -> pysnmp protocol IDs; ``none`` is
authNoPriv, the ``C`` variants use Cisco-style (Reeder) key extension."""


class SNMPAddressError(Exception):
    """The PDU's address could not be resolved."""


@dataclass(frozen=True)
class Credentials:
    """
    How to authenticate to one PDU.  Secrets stay out of ``repr``.

    :ivar version: ``"1"``, ``"2c"`` or ``"3"``.
    """

    version: str
    community: str = field(default="", repr=False)
    write_community: str = field(default="", repr=False)
    v3_user: str = ""
    v3_auth_protocol: str = "SHA"
    v3_auth_key: str = field(default="", repr=False)
    v3_priv_protocol: str = "AES"
    v3_priv_key: str = field(default="", repr=False)

    def auth_data(self, write: bool) -> CommunityData | UsmUserData:
        """
        pysnmp's credentials for a read, or for a write when ``write``.
        """
        if self.version == "3":
            priv = PRIV_PROTOCOLS[self.v3_priv_protocol]
            return UsmUserData(
                self.v3_user,
                authKey=self.v3_auth_key,
                privKey=self.v3_priv_key if priv is not None else None,
                authProtocol=AUTH_PROTOCOLS[self.v3_auth_protocol],
                privProtocol=priv,
            )
        community = (self.write_community or self.community) if write else self.community
        return CommunityData(community, mpModel=0 if self.version == "1" else 1)


@dataclass(frozen=True)
class Target:
    """
    One PDU's SNMP agent and the credentials to use with it.
    """

    address: str
    port: int
    credentials: Credentials

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the PDU: its address and port."""
        return (self.address, self.port)


@dataclass(frozen=True)
class SNMPReply:
    """
    What one request came back with.

    :ivar indication: pysnmp's engine-level error (timeout, authentication
        report, ...), or ``None``.
    :ivar status: the PDU's error-status name (``"noAccess"``), or ``""``.
    :ivar value: the one varbind's value (a pyasn1 object), or ``None``.
    """

    indication: ErrorIndication | None
    status: str
    value: Any


class _Slot:
    """One PDU's engine, the credentials it was built for, and its use."""

    __slots__ = ("credentials", "engine", "in_flight", "idle_call", "retired")

    def __init__(self, credentials: Credentials, engine: SnmpEngine) -> None:
        self.credentials = credentials
        self.engine = engine
        self.in_flight = 0
        self.idle_call: IDelayedCall | None = None
        self.retired = False

    def retire(self) -> None:
        """Close the engine now, or when its last request ends."""
        self.retired = True
        if self.idle_call is not None and self.idle_call.active():
            self.idle_call.cancel()
        if self.in_flight == 0:
            self.engine.close_dispatcher()


class SNMPClient:
    """
    Sends single GETs and SETs, one SNMP engine per PDU.

    :param clock: schedules the closing of idle engines.
    :param timeout: seconds to wait for each reply.
    :param retries: how many times to resend an unanswered request.
    :param idle_timeout: seconds after which an unused engine is closed.
    """

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float = 1.0,
        retries: int = 2,
        idle_timeout: float = 120.0,
    ) -> None:
        self.clock = clock
        self.timeout = timeout
        self.retries = retries
        self.idle_timeout = idle_timeout
        self._slots: dict[Hashable, _Slot] = {}
        self._building: dict[Hashable, asyncio.Lock] = {}

    def get(self, target: Target, oid: str) -> Deferred[SNMPReply]:
        """
        Read one OID with the read credentials.

        :param oid: a dotted OID.
        """
        return self._bridge(self._exchange(target, ObjectType(ObjectIdentity(oid)), False))

    def set(self, target: Target, oid: str, value: int) -> Deferred[SNMPReply]:
        """
        Write one INTEGER with the write credentials.
        """
        varbind = ObjectType(ObjectIdentity(oid), Integer32(value))
        return self._bridge(self._exchange(target, varbind, True))

    def engine_count(self) -> int:
        """How many PDUs have an open SNMP engine."""
        return len(self._slots)

    def engine_for(self, target: Target) -> SnmpEngine | None:
        """The open engine for ``target``'s PDU, if any."""
        slot = self._slots.get(target.key)
        return slot.engine if slot is not None else None

    def close(self) -> None:
        """Close every engine; in-flight requests are abandoned."""
        for key in list(self._slots):
            slot = self._slots.pop(key)
            slot.in_flight = 0
            slot.retire()

    def _bridge(self, coroutine: Any) -> Deferred[SNMPReply]:
        done: Deferred[SNMPReply] = Deferred.fromFuture(asyncio.ensure_future(coroutine))
        done.addErrback(_twisted_cancel)
        return done

    async def _exchange(self, target: Target, varbind: ObjectType, write: bool) -> SNMPReply:
        slot = await self._slot(target)
        slot.in_flight += 1
        try:
            transport = await self._transport(target)
            send = set_cmd if write else get_cmd
            indication, status, _, varbinds = await send(
                slot.engine,
                target.credentials.auth_data(write),
                transport,
                ContextData(),
                varbind,
                lookupMib=False,
            )
        except asyncio.CancelledError:
            self._abandon(target.key, slot)
            raise
        finally:
            self._release(target.key, slot)
        value = varbinds[0][1] if varbinds and not indication and not status else None
        return SNMPReply(indication or None, _status_name(status), value)

    async def _transport(self, target: Target) -> UdpTransportTarget:
        kind = UdpTransportTarget
        try:
            if ipaddress.ip_address(target.address).version == 6:
                kind = Udp6TransportTarget
        except ValueError:
            pass  # a hostname: resolved to IPv4 by pysnmp
        try:
            return await kind.create(
                (target.address, target.port), timeout=self.timeout, retries=self.retries
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise SNMPAddressError(f"cannot resolve {target.address}") from e

    async def _slot(self, target: Target) -> _Slot:
        """The PDU's engine slot, built (in a thread) on first use."""
        lock = self._building.setdefault(target.key, asyncio.Lock())
        async with lock:  # concurrent first requests build one engine
            slot = self._slots.get(target.key)
            if slot is not None and slot.credentials != target.credentials:
                self._forget(target.key, slot)
                slot = None
            if slot is None:
                engine = await asyncio.get_running_loop().run_in_executor(None, _new_engine)
                slot = self._slots[target.key] = _Slot(target.credentials, engine)
            return slot

    def _abandon(self, key: Hashable, slot: _Slot) -> None:
        """
        A cancelled request: close its engine, which stops pysnmp's resends
        and drops a late reply, unless another request still uses it.
        """
        if slot.in_flight == 1:
            self._forget(key, slot)

    def _release(self, key: Hashable, slot: _Slot) -> None:
        slot.in_flight = max(0, slot.in_flight - 1)
        if slot.retired:
            slot.retire()
        elif slot.in_flight == 0:
            self._schedule_idle(key, slot)

    def _schedule_idle(self, key: Hashable, slot: _Slot) -> None:
        if slot.idle_call is not None and slot.idle_call.active():
            slot.idle_call.cancel()
        slot.idle_call = self.clock.callLater(self.idle_timeout, self._expire, key, slot)

    def _expire(self, key: Hashable, slot: _Slot) -> None:
        if slot.in_flight == 0:
            self._forget(key, slot)

    def _forget(self, key: Hashable, slot: _Slot) -> None:
        if self._slots.get(key) is slot:
            del self._slots[key]
        slot.retire()


def _twisted_cancel(failure: Failure) -> Failure:
    """A cancelled task fails with Twisted's CancelledError, as callers expect."""
    if failure.check(asyncio.CancelledError):
        return Failure(CancelledError())
    return failure


def _new_engine() -> SnmpEngine:
    """
    A new SNMP engine with its MIB view loaded: run in a thread, because
    pysnmp compiles its MIB modules for each engine.
    """
    engine = SnmpEngine()
    VB_PROCESSOR.make_varbinds(engine.cache, (ObjectType(ObjectIdentity("1.3.6.1.2.1.1.2.0")),))
    return engine


def _status_name(status: Any) -> str:
    if not status:
        return ""
    try:
        return str(status.prettyPrint())
    except AttributeError:
        return str(status)
