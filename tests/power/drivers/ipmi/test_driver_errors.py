"""
How the IPMI driver's failures surface, against real BMC emulators on
loopback: credentials refused, BMCs paused or absent, commands refused or
unsupported, no free session slot, bad settings; never a password.

The emulators are those of :mod:`tests.power.drivers.ipmi.test_driver`.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from pserv.power.actions import OnAction
from pserv.power.drivers.ipmi.errors import IPMIStateError
from pserv.power.errors import (
    PowerAuthError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)
from pserv.power.states import PowerState
from pserv.testing.emulators.ipmi_emulators import IpmiSim, free_udp_port
from tests.emulators.ipmi_fixtures import (  # noqa: F401 - fixtures
    PASSWORD,
    USERNAME,
    failure_of,
    ipmi_sims,
    make_driver,
    node_label,
    nodes,
    pyghmi_bmcs,
)


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_fatal_and_tried_once(nodes: list[Any], make_driver: Any) -> None:
    """A wrong password fails with PowerAuthError after one handshake attempt."""
    driver = make_driver()
    node = nodes[0]
    params = dict(node.params, password="Wrong-pass-1")
    before = await node.attempts()
    error = await failure_of(driver.query(params))
    assert isinstance(error, PowerAuthError) and error.fatal
    assert node_label(node) in str(error) and "query" in str(error)
    assert await node.attempts() - before == 1
    assert driver.session_stats(params).open_attempts == 1


@pytest_twisted.ensureDeferred
async def test_wrong_username_is_fatal(make_driver: Any, ipmi_sims: list[IpmiSim]) -> None:
    """An unknown user (the BMC says so at Get Session Challenge) is PowerAuthError."""
    sim = ipmi_sims[0]
    params = {
        "address": "127.0.0.1",
        "port": sim.port,
        "username": "nobody",
        "password": PASSWORD,
        "backend": "python-ipmi",
    }
    error = await failure_of(make_driver().query(params))
    assert isinstance(error, PowerAuthError)
    assert "user name refused" in str(error)


@pytest_twisted.ensureDeferred
async def test_paused_bmc_times_out_within_bound(nodes: list[Any], make_driver: Any) -> None:
    """A BMC that stops answering gives PowerTransientError "timed out" when the driver's clock reaches the call's timeout."""
    node = nodes[2]
    clock = Clock()
    driver = make_driver(timeout=1.0, clock=clock)
    await node.pause()
    try:
        call = driver.query(node.params)
        clock.advance(0.999)
        assert not call.called
        clock.advance(0.001)
        assert call.called
        error = await failure_of(call)
    finally:
        await node.resume()
    assert isinstance(error, PowerTransientError) and not error.fatal
    assert "timed out" in str(error) and node_label(node) in str(error)


@pytest_twisted.ensureDeferred
async def test_nothing_listening_is_transient_and_bounded(
    nodes: list[Any], make_driver: Any
) -> None:
    """A port with nothing behind it has failed transiently once the driver's clock reaches the call's timeout."""
    params = dict(nodes[0].params, port=free_udp_port())
    clock = Clock()
    call = make_driver(timeout=1.0, clock=clock).query(params)
    clock.advance(1.0)
    assert call.called
    error = await failure_of(call)
    assert isinstance(error, PowerTransientError)
    assert f"ipmi 127.0.0.1:{params['port']}: query" in str(error)


@pytest_twisted.ensureDeferred
async def test_password_never_in_errors_or_logs(
    nodes: list[Any], make_driver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No error message or log line (Twisted or stdlib, at debug) contains the password."""
    caplog.set_level(logging.DEBUG)
    events: list[str] = []
    observer = lambda event: events.append(repr(event))  # noqa: E731
    globalLogPublisher.addObserver(observer)
    node = nodes[0]
    driver = make_driver(timeout=1.0)
    messages: list[str] = []
    try:
        await driver.power_on(node.params)
        await driver.query(node.params)
        wrong = dict(node.params, password="Other-secret-99")
        messages.append(str(await failure_of(driver.query(wrong))))
        await node.pause()
        messages.append(str(await failure_of(driver.query(node.params))))
        await node.resume()
        await driver.close()
    finally:
        globalLogPublisher.removeObserver(observer)
    for text in messages + events + [caplog.text, repr(driver.target(node.params))]:
        assert PASSWORD not in text and "Other-secret-99" not in text


@pytest_twisted.ensureDeferred
async def test_refused_in_present_state_is_clear(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """Completion code 0xD5 (soft off while off) is a fatal IPMIStateError naming the code."""
    port = pyghmi_bmcs.ports[3]
    await pyghmi_bmcs.set(port, "power", "off")
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    driver = make_driver()
    error = await failure_of(driver.soft_off(params))
    assert isinstance(error, IPMIStateError) and error.fatal and error.completion_code == 0xD5
    assert f"ipmi 127.0.0.1:{port}: soft off refused" in str(error) and "0xD5" in str(error)
    assert await driver.query(params) == PowerState.OFF  # the session survived


@pytest_twisted.ensureDeferred
async def test_unsupported_soft_off_pyghmi(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """A BMC that rejects the soft directive (0xCC) gives PowerUnsupportedError."""
    port = pyghmi_bmcs.ports[3]
    await pyghmi_bmcs.set(port, "soft_supported", False)
    await pyghmi_bmcs.set(port, "power", "on")
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    try:
        error = await failure_of(make_driver().soft_off(params))
    finally:
        await pyghmi_bmcs.set(port, "soft_supported", True)
        await pyghmi_bmcs.set(port, "power", "off")
    assert isinstance(error, PowerUnsupportedError) and "0xCC" in str(error)


@pytest_twisted.ensureDeferred
async def test_on_of_a_bmc_refusing_reads_sends_nothing(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """An on whose read the BMC refuses (0xC1) fails fatally, naming the refusal, and sends no chassis control."""
    port = pyghmi_bmcs.ports[3]
    await pyghmi_bmcs.set(port, "power", "on")
    await pyghmi_bmcs.set(port, "query_supported", False)
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    before = len((await pyghmi_bmcs.stats(port))["controls"])
    try:
        action = OnAction(make_driver().bind(params), reactor)
        await action.start()
        controls = (await pyghmi_bmcs.stats(port))["controls"][before:]
    finally:
        await pyghmi_bmcs.set(port, "query_supported", True)
        await pyghmi_bmcs.set(port, "power", "off")
    assert controls == [] and action.commands == []
    assert isinstance(action.error, PowerUnsupportedError) and "0xC1" in str(action.error)
    assert "the BMC refused to read power, so nothing was sent" in str(action.error)


@pytest_twisted.ensureDeferred
async def test_unsupported_power_control_python_ipmi(make_driver: Any, tmp_path: Any) -> None:
    """An ipmi_sim without chassis control refuses power on: PowerUnsupportedError."""
    sim = IpmiSim(reactor, tmp_path, USERNAME, PASSWORD, power_control=False)
    await sim.start()
    params = {
        "address": "127.0.0.1",
        "port": sim.port,
        "username": USERNAME,
        "password": PASSWORD,
        "backend": "python-ipmi",
    }
    try:
        driver = make_driver()
        error = await failure_of(driver.power_on(params))
        assert await driver.query(params) == PowerState.OFF
        await driver.close()
    finally:
        await sim.stop()
    assert isinstance(error, PowerUnsupportedError) and "power on refused" in str(error)


@pytest_twisted.ensureDeferred
async def test_bmc_out_of_session_slots(make_driver: Any, pyghmi_bmcs: Any) -> None:
    """A BMC with no free session slot gives a quick transient error, then recovers."""
    port = pyghmi_bmcs.ports[1]
    await pyghmi_bmcs.set(port, "max_sessions", 1)
    params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
    holder, other = make_driver(), make_driver()
    try:
        await holder.query(params)
        error = await failure_of(other.query(params))
        assert isinstance(error, PowerTransientError) and "no free session slot" in str(error)
        assert f"ipmi 127.0.0.1:{port}: query failed" in str(error)
    finally:
        await pyghmi_bmcs.set(port, "max_sessions", None)
    assert await other.query(params) == PowerState.OFF


@pytest_twisted.ensureDeferred
async def test_bad_settings_fail_the_call(make_driver: Any) -> None:
    """An operation given bad settings fails with PowerSettingsError, sending nothing."""
    error = await failure_of(make_driver().query({"address": "10.0.0.5", "port": -1}))
    assert isinstance(error, PowerSettingsError) and error.field == "port"
