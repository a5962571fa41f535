"""
The ``pyghmi`` backend: IPMI 2.0 RMCP+ sessions (``lanplus``) via pyghmi.

pyghmi's client :class:`~pyghmi.ipmi.private.session.Session` is used
directly, below its ``Command`` class, with two changes made by subclassing:

* it proposes exactly the cipher suite the node's ``cipher_suite`` setting
  names.  Stock pyghmi offers suite 17 (SHA-256) first and falls back to 3
  (SHA-1) only if the BMC answers the proposal with an error; BMCs that
  accept the proposal but then sign with SHA-1 (pyghmi's own BMC server is
  one) break the handshake.  No "Get Channel Cipher Suites" discovery is
  sent, so BMCs that never answer it cost nothing.
* it never silently shares a session.  Stock pyghmi returns an existing
  session for the same address and credentials; the driver's session pool
  does the sharing itself, so each session it opens is its own.

pyghmi 1.6's shared I/O thread has two races when several threads use it,
both worked around once per process by :func:`fix_pyghmi_io`:

* a lost wakeup: a reply the I/O thread reads just before the requesting
  thread registers to wait stays queued until that wait times out (the
  retry timer, 0.5 to 1 s; about 4 % of exchanges with three threads busy).
  :func:`cap_io_waits` bounds every wait, so a stalled waiter looks at its
  queue again within ``WAIT_SLICE`` seconds;
* a blocked reader: every send switches its socket to blocking mode and
  every receive back to non-blocking, so a send from one thread between the
  I/O thread's switch and its ``recvfrom`` leaves the I/O thread blocked on
  that socket, and every pyghmi call in the process hangs until a packet
  happens to arrive there (for a dead BMC: never).
  :func:`nonblocking_receives` receives with ``MSG_DONTWAIT`` instead.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any

from pyghmi import exceptions as pyghmi_exceptions
from pyghmi.ipmi.private import session as pyghmi_session

from pserv.power.drivers.ipmi.backend import (
    CMD_CHASSIS_CONTROL,
    CMD_GET_CHASSIS_STATUS,
    NETFN_CHASSIS,
    ChassisControl,
)
from pserv.power.drivers.ipmi.errors import (
    BMCAuthRejected,
    BMCBusy,
    BMCCompletionCode,
    BMCError,
    BMCNoAnswer,
    BMCProtocolError,
    BMCRefused,
    BMCUnsupported,
)
from pserv.power.drivers.ipmi.target import BMCTarget
from pserv.power.types.ipmi import check_pyghmi

WAIT_SLICE = 0.01
"""The longest one wait in pyghmi's I/O loop lasts before a re-check."""

NO_ANSWER_CODE = 0xFFFF
"""What pyghmi puts in a response's ``code`` when the BMC never answered."""

_AUTH_MARKERS = (
    "Incorrect password",
    "Unauthorized name",
    "Invalid username length",
    "wrong Kg",
    "Unauthorized role",
    "Invalid role",
    "privelege level",  # pyghmi's spelling, in "while requesting ..."
    "Insufficient privilege",
)
_BUSY_MARKERS = ("Insufficient resources",)
_UNSUPPORTED_MARKERS = (
    "Invalid authentication algorithm",
    "Invalid integrity algorithm",
    "Invalid confidentiality algorithm",
    "No matching integrity",
    "No Cipher suite match",
    "MD5 required",
)
_NO_ANSWER_TEXTS = ("", "None", "timeout", "Session no longer connected")


class _OwnSession(pyghmi_session.Session):
    """
    A pyghmi client session that is never shared and offers one algorithm.

    :cvar hash_algorithm: pyghmi's ``attemptedhash``: 1 offers SHA-1
        (cipher suite 3) only; 256 offers SHA-256 (suite 17) first.
    """

    hash_algorithm = 1

    def __new__(cls, bmc: str, userid: str, password: str, port: int = 623, **_: Any) -> Any:
        self = object.__new__(cls)
        # Sessions to one BMC must not share a local socket: pyghmi routes
        # replies by (BMC address, local port).
        self.forbidsock = _sockets_towards(bmc, port)
        return self

    def _initsession(self) -> None:
        super()._initsession()
        self.attemptedhash = self.hash_algorithm


class _Suite3Session(_OwnSession):
    hash_algorithm = 1


class _Suite17Session(_OwnSession):
    hash_algorithm = 256


SESSION_CLASSES: dict[int, type[_OwnSession]] = {3: _Suite3Session, 17: _Suite17Session}
"""The session class for each of :data:`~pserv.power.types.ipmi.PYGHMI_CIPHER_SUITES`."""


class PyghmiBackend:
    """
    IPMI 2.0 over pyghmi; see the module's documentation.
    """

    name = "pyghmi"

    def __init__(self) -> None:
        fix_pyghmi_io()
        self._locks_lock = threading.Lock()
        self._open_locks: dict[tuple[str, int], threading.Lock] = {}

    def check(self, target: BMCTarget) -> None:
        """
        Reject settings pyghmi cannot honour (:func:`~pserv.power.types.ipmi.check_pyghmi`).

        :raises PowerSettingsError: naming the field.
        """
        check_pyghmi(target.settings())

    def open(self, target: BMCTarget) -> Any:
        """
        Run the RMCP+ handshake and return the session.  Blocking.
        """
        # Two handshakes to one BMC at once could pick the same local socket
        # before either is registered; one at a time per BMC avoids that.
        with self._open_lock(target):
            return self._open(target)

    def _open(self, target: BMCTarget) -> Any:
        session_class = SESSION_CLASSES[target.cipher_suite]
        try:
            return session_class(
                target.address,
                target.username,
                target.password,
                port=target.port,
                kg=target.kg,
                privlevel=target.privilege_level,
                keepalive=False,
            )
        except pyghmi_exceptions.IpmiException as error:
            raise classify_message(_text(error)) from None
        except OSError as error:
            raise BMCRefused(f"network error: {error.strerror or type(error).__name__}") from None
        except Exception as error:  # noqa: BLE001 - malformed replies
            raise _handshake_failure(target, error) from None

    def _open_lock(self, target: BMCTarget) -> threading.Lock:
        with self._locks_lock:
            return self._open_locks.setdefault(target.bmc_key, threading.Lock())

    def power_is_on(self, session: Any) -> bool:
        """Send Get Chassis Status once.  Blocking."""
        data = _command(session, CMD_GET_CHASSIS_STATUS, ())
        if not data:
            raise BMCProtocolError("empty Get Chassis Status response")
        return bool(data[0] & 0x01)

    def control(self, session: Any, directive: ChassisControl) -> None:
        """Send one Chassis Control command.  Blocking."""
        _command(session, CMD_CHASSIS_CONTROL, (int(directive),))

    def chassis(self, session: Any, command: int, data: tuple[int, ...]) -> bytes:
        """Send one chassis command.  Blocking."""
        return _command(session, command, data)

    def close(self, session: Any) -> None:
        """Send Close Session without waiting; never raises.  Blocking."""
        with suppress(Exception):
            session.logout()

    def usable(self, session: Any) -> bool:
        """Whether pyghmi still counts the session as logged in."""
        return bool(session.logged) and not session.broken


def fix_pyghmi_io(wait_slice: float = WAIT_SLICE) -> None:
    """
    Work around pyghmi's I/O races (see the module's documentation).

    :param wait_slice: the longest single wait; the first caller's wins.
    """
    cap_io_waits(wait_slice)
    nonblocking_receives()


def nonblocking_receives() -> None:
    """
    Make pyghmi's I/O thread receive without blocking whatever mode another
    thread left the socket in.  Installed once per process; idempotent.
    """
    if getattr(pyghmi_session._io_recvfrom, "pserv_nonblocking", False):
        return

    def receive(mysocket: Any, size: int) -> Any:
        try:
            return mysocket.recvfrom(size, socket.MSG_DONTWAIT)
        except OSError:
            return None

    receive.pserv_nonblocking = True  # type: ignore[attr-defined]
    pyghmi_session._io_recvfrom = receive


def cap_io_waits(slice_seconds: float = WAIT_SLICE) -> None:
    """
    Make pyghmi's waits for I/O last at most ``slice_seconds`` each.

    Every caller of pyghmi's ``_io_wait`` loops and re-checks its deadline,
    so a shorter wait changes no outcome, only how soon a queued reply is
    noticed.  Installed once per process; idempotent.
    """
    current = pyghmi_session._io_wait
    if getattr(current, "pserv_capped", False):
        return

    def capped(timeout: float, myaddr: Any = None, evq: Any = None) -> Any:
        return current(min(timeout, slice_seconds), myaddr, evq)

    capped.pserv_capped = True  # type: ignore[attr-defined]
    pyghmi_session._io_wait = capped


def classify_message(text: str) -> BMCError:
    """
    Classify the text of a pyghmi ``IpmiException``.
    """
    if text in _NO_ANSWER_TEXTS or "no longer connected" in text:
        return BMCNoAnswer("no answer from the BMC")
    if any(marker in text for marker in _AUTH_MARKERS):
        return BMCAuthRejected(text)
    if any(marker in text for marker in _BUSY_MARKERS):
        return BMCBusy(f"no free session slot: {text}")
    if any(marker in text for marker in _UNSUPPORTED_MARKERS):
        return BMCUnsupported(f"session setup refused: {text}")
    if "Unable to transmit" in text:
        return BMCRefused("cannot resolve or reach the address")
    return BMCProtocolError(text)


def _handshake_failure(target: BMCTarget, error: Exception) -> BMCError:
    reason = f"handshake failed: {type(error).__name__}"
    if target.cipher_suite == 17:
        # A BMC that accepts the SHA-256 proposal but signs with SHA-1
        # leaves pyghmi with a reply of the wrong length.
        return BMCUnsupported(f"{reason}; the BMC may not do cipher suite 17, try 3")
    return BMCProtocolError(reason)


def _command(session: Any, command: int, data: tuple[int, ...]) -> bytes:
    try:
        response = session.raw_command(netfn=NETFN_CHASSIS, command=command, data=data)
    except pyghmi_exceptions.IpmiException as error:
        raise classify_message(_text(error)) from None
    if not response:
        raise BMCNoAnswer("no answer from the BMC")
    code = response.get("code", NO_ANSWER_CODE)
    if code == NO_ANSWER_CODE:
        raise BMCNoAnswer("no answer from the BMC")
    if code:
        raise BMCCompletionCode(code)
    return bytes(response.get("data", b""))


def _text(error: BaseException) -> str:
    return str(error.args[0]) if error.args and error.args[0] is not None else ""


def _sockets_towards(bmc: str, port: int) -> list[Any]:
    sockets: list[Any] = []
    try:
        infos = socket.getaddrinfo(bmc, port, 0, socket.SOCK_DGRAM)
    except OSError:
        return sockets
    for info in infos:
        for sockaddr in _pyghmi_sockaddrs(info):
            for other in list(pyghmi_session.Session.bmc_handlers.get(sockaddr, {}).values()):
                sockets.append(other.socket)
    return sockets


def _pyghmi_sockaddrs(info: tuple[Any, ...]) -> list[Any]:
    sockaddr = info[4]
    if info[0] == socket.AF_INET:
        return [sockaddr, ("::ffff:" + sockaddr[0], sockaddr[1], 0, 0)]
    return [sockaddr]
