"""
What an SNMP reply means for a power operation: a value, or a PowerError.

Timeouts are transient.  SNMPv3 authentication reports are
:class:`~pserv.power.errors.PowerAuthError`.  SNMPv1/v2c agents drop a
request with a wrong community without a word, so for them a timeout says to
check the community too.  A missing outlet object is a
:class:`~pserv.power.errors.PowerSettingsError` naming ``outlet``; a value the
vendor's MIB does not define is a :class:`PDUProtocolError`.  Messages name
the PDU and outlet (``snmp_pdu ADDRESS outlet N``) and the OID, never a
community or a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.proto import errind
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from pserv.power.drivers.snmp.client import SNMPReply
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
)


class PDUProtocolError(PowerProtocolError):
    """
    The PDU answered, but not as its vendor's MIB says it should: usually
    the wrong ``vendor`` for this PDU.
    """


@dataclass(frozen=True)
class Exchange:
    """
    One request, described for messages; holds no secret.

    :ivar where: ``snmp_pdu ADDRESS outlet N``.
    :ivar value: the value a SET wrote, or ``None`` for a GET.
    :ivar field: the setting to blame if the PDU has no such object.
    """

    where: str
    port: int
    version: str
    oid: str
    value: int | None = None
    field: str = "outlet"

    @property
    def write(self) -> bool:
        """Whether this was a SET."""
        return self.value is not None

    @property
    def request(self) -> str:
        """``GET oid`` or ``SET oid = value``."""
        if self.value is None:
            return f"GET {self.oid}"
        return f"SET {self.oid} = {self.value}"


_AUTH_HINTS: tuple[tuple[type[errind.ErrorIndication], str], ...] = (
    (errind.UnknownUserName, "the PDU does not know v3_user"),
    (errind.WrongDigest, "check v3_auth_key and v3_auth_protocol"),
    (errind.AuthenticationFailure, "check v3_auth_key and v3_auth_protocol"),
    (errind.AuthenticationError, "check v3_auth_key and v3_auth_protocol"),
    (errind.DecryptionError, "check v3_priv_key and v3_priv_protocol"),
    (errind.UnsupportedSecurityLevel, "the PDU does not allow authPriv for v3_user"),
    (errind.UnknownSecurityName, "the PDU does not know v3_user"),
    (errind.UnknownCommunityName, "check community"),
)

_MISSING_STATUSES = frozenset({"noSuchName", "notWritable", "noCreation", "inconsistentName"})
_ACCESS_STATUSES = frozenset({"noAccess", "authorizationError", "readOnly"})
_VALUE_STATUSES = frozenset(
    {"badValue", "wrongValue", "wrongType", "wrongLength", "wrongEncoding", "inconsistentValue"}
)


def check_reply(reply: SNMPReply, exchange: Exchange) -> Any:
    """
    The reply's value, or the PowerError it amounts to.

    :raises PowerError: see the module's docstring.
    """
    if reply.indication is not None:
        raise indication_error(reply.indication, exchange)
    if reply.status:
        raise status_error(reply.status, exchange)
    if reply.value is None or isinstance(reply.value, (NoSuchObject, NoSuchInstance, EndOfMibView)):
        raise missing_error(exchange, "no such object")
    return reply.value


def indication_error(indication: errind.ErrorIndication, exchange: Exchange) -> PowerError:
    """
    The error for an engine-level failure: a timeout or a security report.
    """
    if isinstance(indication, errind.RequestTimedOut):
        return PowerTransientError(f"{exchange.where}: {timeout_hint(exchange)}")
    for kind, hint in _AUTH_HINTS:
        if isinstance(indication, kind):
            return PowerAuthError(
                f"{exchange.where}: SNMP authentication failed "
                f"({type(indication).__name__}); {hint}"
            )
    return PowerTransientError(
        f"{exchange.where}: SNMP {exchange.request} failed: {indication}"
    )


def timeout_hint(exchange: Exchange) -> str:
    """
    What a timeout says, for this SNMP version.
    """
    where = f"UDP port {exchange.port}, {exchange.request}"
    if exchange.version == "3":
        return (
            f"no response ({where}); check address, port and v3_priv_key "
            "(many agents drop a message they cannot decrypt)"
        )
    community = "write_community" if exchange.write else "community"
    return (
        f"no response ({where}); check address and {community} "
        f"(SNMPv{exchange.version} agents silently drop a wrong community)"
    )


def status_error(status: str, exchange: Exchange) -> PowerError:
    """
    The error for a PDU's error-status (``noAccess``, ``wrongValue``, ...).
    """
    if status in _MISSING_STATUSES:
        reason = f"{status}"
        if exchange.version == "1" and exchange.write:
            reason += "; SNMPv1 also says this when write_community may not write"
        return missing_error(exchange, reason)
    if status in _ACCESS_STATUSES:
        setting = "write_community" if exchange.write else "community"
        if exchange.version == "3":
            setting = "v3_user's access"
        return PowerAuthError(
            f"{exchange.where}: the PDU refused {exchange.request} ({status}); check {setting}"
        )
    if status in _VALUE_STATUSES:
        return PDUProtocolError(
            f"{exchange.where}: the PDU refused {exchange.request} ({status}); "
            "is vendor right for this PDU?"
        )
    return PowerTransientError(f"{exchange.where}: the PDU failed {exchange.request} ({status})")


def missing_error(exchange: Exchange, reason: str) -> PowerSettingsError:
    """
    The error for an object the PDU does not have, naming the setting to fix.
    """
    hint = "check outlet and vendor" if exchange.field == "outlet" else f"set {exchange.field}"
    return PowerSettingsError(
        f"{exchange.where}: {exchange.field}: the PDU has no such object "
        f"({exchange.request}: {reason}); {hint}",
        field=exchange.field,
    )


def integer_value(value: Any, exchange: Exchange, expected: str) -> int:
    """
    ``value`` as an int, or a PDUProtocolError saying what came back.

    :param expected: what the vendor's MIB allows, for the message.
    """
    if isinstance(value, univ.Integer):
        return int(value)
    shown = value.prettyPrint() if hasattr(value, "prettyPrint") else repr(value)
    raise PDUProtocolError(
        f"{exchange.where}: {exchange.request} returned {type(value).__name__} "
        f"{shown!r}; expected an INTEGER, {expected}"
    )
