"""
The pyghmi backend: its error classification and its sessions, against
pyghmi's BMC server in a child process.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from pyghmi.ipmi.private import session as pyghmi_session

from pserv.power.drivers.ipmi.backend import ChassisControl
from pserv.power.drivers.ipmi.errors import (
    BMCAuthRejected,
    BMCBusy,
    BMCCompletionCode,
    BMCNoAnswer,
    BMCProtocolError,
    BMCRefused,
    BMCUnsupported,
)
from pserv.power.drivers.ipmi.pyghmi_backend import PyghmiBackend, cap_io_waits, classify_message
from pserv.power.errors import PowerSettingsError
from tests.emulators.ipmi_fixtures import (  # noqa: F401 - pyghmi_bmcs is a fixture
    bmc_target,
    in_thread as _in_thread,
    pyghmi_bmcs,
)


def _target(port: int = 623, **changes: Any) -> Any:
    return bmc_target("pyghmi", port, **changes)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Incorrect password provided", BMCAuthRejected),
        ("Unauthorized name in RAKP2", BMCAuthRejected),
        ("Invalid RAKP4 integrity code (wrong Kg?)", BMCAuthRejected),
        ("Unauthorized role or privilege level requested in RAKP2", BMCAuthRejected),
        (
            "Insufficient privilege level while requesting privelege level 4 for b'x'",
            BMCAuthRejected,
        ),
        (
            "Insufficient resources to create new session (wait for existing sessions to timeout)",
            BMCBusy,
        ),
        ("No Cipher suite match with proposed security algorithms", BMCUnsupported),
        ("MD5 required but not enabled/available on target BMC", BMCUnsupported),
        ("", BMCNoAnswer),
        ("None", BMCNoAnswer),
        ("timeout", BMCNoAnswer),
        ("Session no longer connected", BMCNoAnswer),
        ("Unable to transmit to specified address", BMCRefused),
        ("something new", BMCProtocolError),
    ],
)
def test_classify_message(text: str, kind: type) -> None:
    """pyghmi's exception texts map to the neutral BMC errors."""
    assert type(classify_message(text)) is kind


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cipher_suite": 1}, "cipher_suite"),
        ({"cipher_suite": 0}, "cipher_suite"),
        ({"password": "x" * 21}, "password"),
        ({"username": "u" * 17}, "username"),
    ],
)
def test_check_rejects_what_pyghmi_cannot_do(changes: dict[str, Any], field: str) -> None:
    """Cipher suites other than 3 and 17, and overlong credentials, are settings errors."""
    with pytest.raises(PowerSettingsError) as caught:
        PyghmiBackend().check(_target(**changes))
    assert caught.value.field == field


def test_check_accepts_suites_3_and_17_and_kg() -> None:
    """Suites 3 and 17 and a Kg are accepted."""
    for suite in (3, 17):
        PyghmiBackend().check(_target(cipher_suite=suite, kg="Kg-1234"))


def test_receive_never_blocks_on_a_blocking_socket() -> None:
    """pyghmi's I/O thread receive returns at once even if a sender left the socket blocking."""
    PyghmiBackend()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as idle:
        idle.bind(("127.0.0.1", 0))
        idle.setblocking(True)
        assert pyghmi_session._io_recvfrom(idle, 3000) is None
        idle.sendto(b"ping", idle.getsockname())
        data, _ = pyghmi_session._io_recvfrom(idle, 3000)
    assert data == b"ping"


def test_io_wait_cap_is_installed_once() -> None:
    """The lost-wakeup cap wraps pyghmi's wait once, however many backends exist."""
    PyghmiBackend()
    first = pyghmi_session._io_wait
    cap_io_waits()
    PyghmiBackend()
    assert pyghmi_session._io_wait is first and getattr(first, "pserv_capped", False)


@pytest_twisted.ensureDeferred
async def test_sessions_are_not_shared(pyghmi_bmcs: Any) -> None:
    """Two opens with the same credentials give two sessions, each working on its own."""
    backend = PyghmiBackend()
    port = pyghmi_bmcs.ports[0]
    before = (await pyghmi_bmcs.stats(port))["established"]
    first = await _in_thread(backend.open, _target(port))
    second = await _in_thread(backend.open, _target(port))
    assert first is not second
    assert (await pyghmi_bmcs.stats(port))["established"] - before == 2
    await _in_thread(backend.close, first)
    assert not backend.usable(first) and backend.usable(second)
    assert await _in_thread(backend.power_is_on, second) is False
    await _in_thread(backend.close, second)


@pytest_twisted.ensureDeferred
async def test_control_and_completion_codes(pyghmi_bmcs: Any) -> None:
    """Chassis Control reaches the BMC; a refusal surfaces as its completion code."""
    backend = PyghmiBackend()
    port = pyghmi_bmcs.ports[1]
    session = await _in_thread(backend.open, _target(port))
    try:
        await _in_thread(backend.control, session, ChassisControl.POWER_UP)
        assert await _in_thread(backend.power_is_on, session) is True
        await _in_thread(backend.control, session, ChassisControl.POWER_DOWN)
        with pytest.raises(BMCCompletionCode) as caught:
            await _in_thread(backend.control, session, ChassisControl.HARD_RESET)
        assert caught.value.code == 0xD5 and backend.usable(session)
    finally:
        await _in_thread(backend.close, session)


@pytest_twisted.ensureDeferred
async def test_wrong_kg_is_an_auth_failure(pyghmi_bmcs: Any) -> None:
    """A Kg the BMC does not share fails the handshake as an authentication error."""
    with pytest.raises(BMCAuthRejected, match="Kg"):
        await _in_thread(PyghmiBackend().open, _target(pyghmi_bmcs.ports[2], kg="Not-the-kg"))


@pytest_twisted.ensureDeferred
async def test_suite_17_against_sha1_only_bmc_is_unsupported(pyghmi_bmcs: Any) -> None:
    """Suite 17 against a BMC that only signs with SHA-1 fails fast, naming the suite."""
    with pytest.raises(BMCUnsupported, match="cipher suite 17, try 3"):
        await _in_thread(PyghmiBackend().open, _target(pyghmi_bmcs.ports[2], cipher_suite=17))


def test_a_session_class_for_each_suite_the_power_type_allows() -> None:
    """The backend can propose exactly the cipher suites the ipmi power type lets pyghmi nodes have."""
    from pserv.power.drivers.ipmi.pyghmi_backend import SESSION_CLASSES
    from pserv.power.types.ipmi import PYGHMI_CIPHER_SUITES

    assert tuple(SESSION_CLASSES) == PYGHMI_CIPHER_SUITES
