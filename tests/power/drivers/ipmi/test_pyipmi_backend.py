"""
The python-ipmi backend (IPMI 1.5): classification, settings, and sessions
against OpenIPMI's ``ipmi_sim``.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
import pytest_twisted
from pyipmi.errors import (
    CompletionCodeError,
    DecodingError,
    IpmiConnectionError,
    RetryError,
)

from pserv.power.drivers.ipmi.backend import ChassisControl
from pserv.power.drivers.ipmi.errors import (
    BMCAuthRejected,
    BMCCompletionCode,
    BMCNoAnswer,
    BMCProtocolError,
    BMCRefused,
)
from pserv.power.drivers.ipmi.pyipmi_backend import PythonIpmiBackend, classify
from pserv.power.errors import PowerSettingsError
from pserv.testing.emulators.ipmi_emulators import IpmiSim
from tests.emulators.ipmi_fixtures import (  # noqa: F401 - ipmi_sims is a fixture
    PASSWORD,
    bmc_target,
    in_thread as _in_thread,
    ipmi_sims,
)


def _target(port: int = 623, **changes: Any) -> Any:
    return bmc_target("python-ipmi", port, **changes)


@pytest.mark.parametrize(
    "error, kind",
    [
        (CompletionCodeError(0xC1), BMCCompletionCode),
        (IpmiConnectionError("connection to h:1 refused, is the BMC listening?"), BMCRefused),
        (IpmiConnectionError("no response to RMCP ping from h:1"), BMCNoAnswer),
        (RetryError("Max retry"), BMCNoAnswer),
        (TimeoutError(), BMCNoAnswer),
        (ConnectionRefusedError(111, "refused"), BMCRefused),
        (socket.gaierror(-2, "Name or service not known"), BMCRefused),
        (DecodingError("short SDU"), BMCProtocolError),
        (ValueError("odd"), BMCProtocolError),
    ],
)
def test_classify(error: Exception, kind: type) -> None:
    """python-ipmi's exceptions map to the neutral BMC errors."""
    assert type(classify(error)) is kind


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cipher_suite": 17}, "cipher_suite"),
        ({"kg": "Kg-1234"}, "kg"),
        ({"privilege": "callback"}, "privilege"),
        ({"password": "p" * 17}, "password"),
        ({"username": "u" * 17}, "username"),
        ({"address": "fd00::1"}, "address"),
    ],
)
def test_check_rejects_what_ipmi_15_cannot_do(changes: dict[str, Any], field: str) -> None:
    """Cipher suites, Kg, callback privilege, long credentials and IPv6 are settings errors."""
    with pytest.raises(PowerSettingsError) as caught:
        PythonIpmiBackend().check(_target(**changes))
    assert caught.value.field == field
    assert "p" * 17 not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_session_round_trip_and_close(
    ipmi_sims: list[IpmiSim], caplog: pytest.LogCaptureFixture
) -> None:
    """A session controls power, reads it back, and closes without logging the password."""
    caplog.set_level(logging.DEBUG)
    sim = ipmi_sims[0]
    backend = PythonIpmiBackend(exchange_timeout=1.0)
    opened, closed = sim.sessions_opened, sim.sessions_closed
    connection = await _in_thread(backend.open, _target(sim.port))
    try:
        await _in_thread(backend.control, connection, ChassisControl.POWER_UP)
        assert await _in_thread(backend.power_is_on, connection) is True
        await _in_thread(backend.control, connection, ChassisControl.SOFT_SHUTDOWN)
        assert await _in_thread(backend.power_is_on, connection) is False
    finally:
        await _in_thread(backend.close, connection)
    assert not backend.usable(connection)
    assert (sim.sessions_opened - opened, sim.sessions_closed - closed) == (1, 1)
    assert PASSWORD not in caplog.text


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_named_at_activation(ipmi_sims: list[IpmiSim]) -> None:
    """A BMC silent after its challenge means the password was refused: an auth error."""
    sim = ipmi_sims[1]
    failed = sim.activations_failed
    with pytest.raises(BMCAuthRejected, match="password refused"):
        await _in_thread(PythonIpmiBackend(0.5).open, _target(sim.port, password="Wrong-pass-1"))
    assert sim.activations_failed - failed == 1


@pytest_twisted.ensureDeferred
async def test_unknown_user_is_named_at_challenge(ipmi_sims: list[IpmiSim]) -> None:
    """An unknown user is refused at Get Session Challenge: an auth error."""
    with pytest.raises(BMCAuthRejected, match="user name refused"):
        await _in_thread(PythonIpmiBackend(0.5).open, _target(ipmi_sims[1].port, username="ghost"))


@pytest_twisted.ensureDeferred
async def test_paused_bmc_gives_no_answer(ipmi_sims: list[IpmiSim]) -> None:
    """A frozen BMC does not answer the RMCP ping: no answer, not an auth failure."""
    sim = ipmi_sims[2]
    sim.pause()
    try:
        with pytest.raises(BMCNoAnswer, match="RMCP ping"):
            await _in_thread(PythonIpmiBackend(0.3).open, _target(sim.port))
    finally:
        sim.resume()


def test_a_python_ipmi_name_for_each_privilege_the_power_type_allows() -> None:
    """The backend names exactly the privileges the ipmi power type lets python-ipmi nodes have."""
    from pserv.power.drivers.ipmi.pyipmi_backend import _PRIVILEGES
    from pserv.power.types.ipmi import PYTHON_IPMI_PRIVILEGES

    assert tuple(_PRIVILEGES) == PYTHON_IPMI_PRIVILEGES
