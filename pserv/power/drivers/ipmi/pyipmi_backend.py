"""
The ``python-ipmi`` backend: IPMI 1.5 LAN sessions for old BMCs.

python-ipmi's native RMCP interface (``ipmitool -I lan`` on the wire) pings
the BMC, reads its authentication capabilities, and activates a session
with the strongest type it offers: MD5, MD2, straight password or none.
IPMI 1.5 has no cipher suites and no Kg.

The interface is subclassed to name the step that failed, because IPMI 1.5
answers some failures with silence: a BMC drops an Activate Session signed
with a wrong password without a reply.  A BMC that issued a challenge for
the user and then ignores the activation is therefore reported as refusing
the password (fatal), not as a timeout.
"""

from __future__ import annotations

import socket
from contextlib import suppress
from typing import Any

import pyipmi
from pyipmi.errors import (
    CompletionCodeError,
    DecodingError,
    EncodingError,
    IpmiConnectionError,
    NotSupportedError,
    RetryError,
)
from pyipmi.interfaces.rmcp import Rmcp
from pyipmi.msgs import create_request_by_name

from pserv.power.drivers.ipmi.backend import NETFN_CHASSIS, ChassisControl
from pserv.power.drivers.ipmi.errors import (
    BMCAuthRejected,
    BMCBusy,
    BMCCompletionCode,
    BMCError,
    BMCNoAnswer,
    BMCProtocolError,
    BMCRefused,
)
from pserv.power.drivers.ipmi.target import BMCTarget
from pserv.power.types.ipmi import check_python_ipmi

BMC_IPMB_ADDRESS = 0x20

_PRIVILEGES = {"user": "user", "operator": "operator", "admin": "administrator"}
"""Each of :data:`~pserv.power.types.ipmi.PYTHON_IPMI_PRIVILEGES` as python-ipmi names it."""


class _Rmcp(Rmcp):
    """
    python-ipmi's RMCP interface, naming the session step that failed.
    """

    def _get_session_challenge(self, session: Any) -> Any:
        try:
            return super()._get_session_challenge(session)
        except CompletionCodeError as error:
            if error.cc in (0x81, 0x82):
                raise BMCAuthRejected(
                    f"user name refused at Get Session Challenge (completion code 0x{error.cc:02X})"
                ) from None
            raise

    def _activate_session(self, session: Any, challenge: bytes) -> Any:
        try:
            return super()._activate_session(session, challenge)
        except (RetryError, TimeoutError):
            raise BMCAuthRejected(
                "password refused: no answer to Activate Session after a challenge "
                "(IPMI 1.5 BMCs drop requests signed with a wrong password)"
            ) from None
        except CompletionCodeError as error:
            if error.cc in (0x81, 0x82, 0x83):
                raise BMCBusy(f"no free session slot (completion code 0x{error.cc:02X})") from None
            if error.cc == 0x86:
                raise BMCAuthRejected("privilege above the user's or channel's limit") from None
            raise

    def _set_session_privilege_level(self, level: int) -> Any:
        try:
            return super()._set_session_privilege_level(level)
        except CompletionCodeError as error:
            if error.cc in (0x80, 0x81):
                raise BMCAuthRejected(
                    f"privilege level {level} refused (completion code 0x{error.cc:02X})"
                ) from None
            raise

    def close_session(self) -> None:
        """
        Send Close Session.  Replaces the library's, which logs the session
        object, whose text includes the password.
        """
        session = self._session
        if session is None or not session.activated:
            return
        request = create_request_by_name("CloseSession")
        request.target = self.host_target
        request.session_id = session.sid
        session.activated = False
        self.send_and_receive(request)


class PythonIpmiBackend:
    """
    IPMI 1.5 over python-ipmi; see the module's documentation.

    :param exchange_timeout: seconds to wait for each reply; python-ipmi
        sends each request once.
    """

    name = "python-ipmi"

    def __init__(self, exchange_timeout: float = 2.0) -> None:
        self.exchange_timeout = exchange_timeout

    def check(self, target: BMCTarget) -> None:
        """
        Reject settings IPMI 1.5 or python-ipmi cannot honour
        (:func:`~pserv.power.types.ipmi.check_python_ipmi`).

        :raises PowerSettingsError: naming the field.
        """
        check_python_ipmi(target.settings())

    def open(self, target: BMCTarget) -> Any:
        """
        Ping the BMC and activate an IPMI 1.5 session.  Blocking.
        """
        interface = _Rmcp(keep_alive_interval=0)
        connection = pyipmi.create_connection(interface)
        connection.target = pyipmi.Target(ipmb_address=BMC_IPMB_ADDRESS)
        session = connection.session
        session.set_session_type_rmcp(target.address, port=target.port)
        session.set_auth_type_user(target.username, target.password)
        session.set_priv_level(_PRIVILEGES[target.privilege])
        interface.open()
        try:
            interface.set_timeout(self.exchange_timeout)
            session.establish()
        except Exception as error:  # noqa: BLE001 - classified below
            interface.close()
            raise classify(error) from None
        return connection

    def power_is_on(self, connection: Any) -> bool:
        """Send Get Chassis Status once.  Blocking."""
        response = _send(connection, create_request_by_name("GetChassisStatus"))
        return bool(response.current_power_state.power_on)

    def control(self, connection: Any, directive: ChassisControl) -> None:
        """Send one Chassis Control command.  Blocking."""
        request = create_request_by_name("ChassisControl")
        request.control.option = int(directive)
        _send(connection, request)

    def chassis(self, connection: Any, command: int, data: tuple[int, ...]) -> bytes:
        """Send one chassis command, raw.  Blocking."""
        try:
            answer = connection.interface.send_and_receive_raw(
                connection.target, 0, NETFN_CHASSIS, bytes([command, *data]))
        except Exception as error:  # noqa: BLE001 - classified
            raise classify(error) from None
        if not answer:
            raise BMCNoAnswer("no answer from the BMC")
        if answer[0]:
            raise BMCCompletionCode(answer[0])
        return bytes(answer[1:])

    def close(self, connection: Any) -> None:
        """Close the session and its socket; never raises.  Blocking."""
        with suppress(Exception):
            connection.session.close()
        with suppress(Exception):
            connection.interface.close()

    def usable(self, connection: Any) -> bool:
        """Whether the session is still activated."""
        return bool(connection.session.activated)


def classify(error: BaseException) -> BMCError:
    """
    Classify an exception python-ipmi raised.
    """
    if isinstance(error, BMCError):
        return error
    if isinstance(error, CompletionCodeError):
        return BMCCompletionCode(error.cc)
    if isinstance(error, IpmiConnectionError):
        if "refused" in str(error):
            return BMCRefused("connection refused: nothing listens on the port")
        return BMCNoAnswer("no answer to RMCP ping")
    if isinstance(error, (RetryError, TimeoutError, socket.timeout)):
        return BMCNoAnswer("no answer from the BMC")
    if isinstance(error, ConnectionRefusedError):
        return BMCRefused("connection refused: nothing listens on the port")
    if isinstance(error, OSError):
        return BMCRefused(f"network error: {error.strerror or type(error).__name__}")
    if isinstance(error, (DecodingError, EncodingError, NotSupportedError)):
        return BMCProtocolError(f"cannot handle the BMC's reply: {type(error).__name__}")
    return BMCProtocolError(type(error).__name__)


def _send(connection: Any, request: Any) -> Any:
    request.target = connection.target
    request.requester = connection.requester
    try:
        response = connection.interface.send_and_receive(request)
    except Exception as error:  # noqa: BLE001 - classified
        raise classify(error) from None
    if response.completion_code:
        raise BMCCompletionCode(response.completion_code)
    return response
