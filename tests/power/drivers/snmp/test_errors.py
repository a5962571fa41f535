"""
Unit tests of SNMP reply classification: which PowerError each failure is,
and that each message names the outlet and request and says what to check.
"""

from __future__ import annotations

import pytest
from pyasn1.type import univ
from pysnmp.proto import errind
from pysnmp.proto.rfc1902 import Integer32, OctetString
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from pserv.power.drivers.snmp.client import SNMPReply
from pserv.power.drivers.snmp.errors import (
    Exchange,
    PDUProtocolError,
    check_reply,
    integer_value,
)
from pserv.power.errors import (
    PowerAuthError,
    PowerFatalError,
    PowerSettingsError,
    PowerTransientError,
)

WHERE = "snmp_pdu 10.0.0.5 outlet 3"
GET = Exchange(WHERE, 161, "2c", "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3")
SET = Exchange(WHERE, 161, "2c", "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3", 2)


def raised(reply: SNMPReply, exchange: Exchange = GET) -> Exception:
    with pytest.raises(Exception) as caught:
        check_reply(reply, exchange)
    assert str(caught.value).startswith(WHERE + ": ")
    return caught.value


def test_a_good_reply_gives_its_value():
    """A reply with no error gives the varbind's value."""
    assert check_reply(SNMPReply(None, "", Integer32(1)), GET) == 1


@pytest.mark.parametrize(
    "version, exchange, hint",
    [
        ("2c", GET, "check address and community"),
        ("1", GET, "check address and community"),
        ("2c", SET, "check address and write_community"),
        ("3", GET, "v3_priv_key"),
    ],
)
def test_timeout_is_transient_and_says_what_to_check(version, exchange, hint):
    """No response is transient; for v1/v2c it points at the community too."""
    exchange = Exchange(exchange.where, 16100, version, exchange.oid, exchange.value)
    error = raised(SNMPReply(errind.requestTimedOut, "", None), exchange)
    assert isinstance(error, PowerTransientError)
    assert "no response" in str(error) and hint in str(error) and "16100" in str(error)


@pytest.mark.parametrize(
    "indication, hint",
    [
        (errind.unknownUserName, "v3_user"),
        (errind.wrongDigest, "v3_auth_key"),
        (errind.decryptionError, "v3_priv_key"),
        (errind.unsupportedSecurityLevel, "v3_user"),
        (errind.authenticationFailure, "v3_auth_key"),
    ],
)
def test_v3_security_reports_are_auth_errors(indication, hint):
    """USM reports (unknownUserName, wrongDigest, ...) are fatal PowerAuthErrors."""
    error = raised(SNMPReply(indication, "", None))
    assert isinstance(error, PowerAuthError) and error.fatal
    assert hint in str(error)


def test_other_engine_errors_are_transient():
    """An engine error that is not about credentials may pass: transient."""
    assert isinstance(raised(SNMPReply(errind.emptyResponse, "", None)), PowerTransientError)


@pytest.mark.parametrize("value", [NoSuchObject(""), NoSuchInstance(""), EndOfMibView(""), None])
def test_missing_object_blames_the_outlet(value):
    """noSuchObject/noSuchInstance is a PowerSettingsError naming outlet."""
    error = raised(SNMPReply(None, "", value))
    assert isinstance(error, PowerSettingsError) and error.field == "outlet"
    assert "outlet" in str(error) and GET.oid in str(error)


@pytest.mark.parametrize("status", ["noSuchName", "notWritable", "noCreation", "inconsistentName"])
def test_missing_statuses_blame_the_outlet(status):
    """Error statuses meaning no such object blame outlet."""
    error = raised(SNMPReply(None, status, None), SET)
    assert isinstance(error, PowerSettingsError) and error.field == "outlet"
    assert status in str(error)


def test_v1_no_such_name_on_a_set_mentions_the_write_community():
    """SNMPv1 says noSuchName for a read-only community too: the message says so."""
    v1 = Exchange(WHERE, 161, "1", SET.oid, 2)
    assert "write_community" in str(raised(SNMPReply(None, "noSuchName", None), v1))


def test_sys_object_id_missing_blames_vendor():
    """A missing sysObjectID blames the vendor setting, not the outlet."""
    exchange = Exchange(WHERE, 161, "2c", "1.3.6.1.2.1.1.2.0", field="vendor")
    error = raised(SNMPReply(None, "", NoSuchObject("")), exchange)
    assert isinstance(error, PowerSettingsError) and error.field == "vendor"


@pytest.mark.parametrize("status", ["noAccess", "authorizationError", "readOnly"])
def test_refused_access_is_an_auth_error(status):
    """noAccess on a SET (a read-only community) is a PowerAuthError naming write_community."""
    error = raised(SNMPReply(None, status, None), SET)
    assert isinstance(error, PowerAuthError) and "write_community" in str(error)


@pytest.mark.parametrize("status", ["wrongValue", "wrongType", "badValue", "inconsistentValue"])
def test_refused_values_are_protocol_errors(status):
    """A refused value is a fatal PDUProtocolError suggesting the vendor is wrong."""
    error = raised(SNMPReply(None, status, None), SET)
    assert isinstance(error, PDUProtocolError) and isinstance(error, PowerFatalError)
    assert "SET " + SET.oid + " = 2" in str(error) and "vendor" in str(error)


@pytest.mark.parametrize("status", ["genErr", "resourceUnavailable", "commitFailed"])
def test_agent_failures_are_transient(status):
    """genErr and friends may pass: transient."""
    assert isinstance(raised(SNMPReply(None, status, None), SET), PowerTransientError)


def test_integer_value_accepts_integers_and_explains_anything_else():
    """An INTEGER converts; a string is a PDUProtocolError saying what came back."""
    assert integer_value(Integer32(7), GET, "7 (on) or 8 (off)") == 7
    assert integer_value(univ.Integer(0), GET, "x") == 0
    with pytest.raises(PDUProtocolError) as caught:
        integer_value(OctetString("on"), GET, "7 (on) or 8 (off)")
    assert "'on'" in str(caught.value) and "7 (on) or 8 (off)" in str(caught.value)
