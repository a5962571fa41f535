"""
pytest fixtures for the IPMI driver's tests: emulated BMCs and drivers.

Import the fixtures a test module needs from here.  The emulators are
module-scoped (started once per test module, on free loopback ports); the
``nodes`` fixture hands a test the BMCs of one backend, reset afterwards.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator

import pytest
import pytest_twisted
from twisted.internet import threads
from twisted.internet.defer import Deferred, gatherResults

from pserv.power.drivers.ipmi.driver import IPMIDriver
from pserv.power.drivers.ipmi.pyipmi_backend import PythonIpmiBackend
from pserv.power.drivers.ipmi.pyghmi_backend import PyghmiBackend
from pserv.power.drivers.ipmi.target import BMCTarget
from pserv.testing.emulators.ipmi_emulators import IpmiSim, PyghmiBMCs
from pserv.testing.emulators.udp_relay import CountingRelay

USERNAME = "pserv"
PASSWORD = "Sekrit-pserv-42"
"""Short enough for IPMI 1.5 (16 bytes); tests assert it never leaks."""

PYGHMI_BMC_COUNT = 4
IPMI_SIM_COUNT = 3
BACKEND_NAMES = ("pyghmi", "python-ipmi")


def bmc_target(backend: str, port: int = 623, **changes: Any) -> BMCTarget:
    """The settings of an emulated BMC for ``backend``, with ``changes``."""
    values: dict[str, Any] = dict(
        address="127.0.0.1", port=port, username=USERNAME, password=PASSWORD,
        privilege="admin", cipher_suite=3, kg=None, backend=backend,
    )
    values.update(changes)
    return BMCTarget(**values)


def in_thread(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """Run a backend's blocking call on a thread, as the driver's pool would."""
    return threads.deferToThread(function, *args)


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


async def failure_of(deferred: Deferred[Any]) -> BaseException:
    """What ``deferred`` failed with; an AssertionError if it succeeded."""
    try:
        await deferred
    except BaseException as error:  # noqa: BLE001 - returned for asserts
        return error
    raise AssertionError("expected a failure")


def node_label(node: Any) -> str:
    """How the driver names an emulated node's BMC in its errors."""
    return f"ipmi 127.0.0.1:{node.port}"


class PyghmiNode:
    """A BMC in the pyghmi emulator process, for the ``pyghmi`` backend."""

    backend = "pyghmi"

    def __init__(self, bmcs: PyghmiBMCs, port: int) -> None:
        self.bmcs = bmcs
        self.port = port
        self.params = _params(port, self.backend)

    async def power(self) -> str:
        """The emulator's chassis power."""
        return str((await self.bmcs.stats(self.port))["power"])

    async def set_power(self, state: str) -> None:
        """Set the chassis power behind the driver's back."""
        await self.bmcs.set(self.port, "power", state)

    async def handshakes(self) -> int:
        """Sessions the BMC established."""
        return int((await self.bmcs.stats(self.port))["established"])

    async def attempts(self) -> int:
        """Authentication attempts the BMC saw (RAKP message 1)."""
        return int((await self.bmcs.stats(self.port))["rakp1"])

    async def pause(self) -> None:
        """Make the BMC drop every packet."""
        await self.bmcs.set(self.port, "muted", True)

    async def resume(self) -> None:
        """Make the BMC answer again."""
        await self.bmcs.set(self.port, "muted", False)

    async def reset(self) -> None:
        """Undo what a test changed."""
        for name, value in (("muted", False), ("cipher_query", True), ("soft_supported", True),
                            ("query_supported", True)):
            await self.bmcs.set(self.port, name, value)
        await self.bmcs.set(self.port, "max_sessions", None)
        await self.set_power("off")


class SimNode:
    """An ``ipmi_sim`` BMC, for the ``python-ipmi`` backend."""

    backend = "python-ipmi"

    def __init__(self, sim: IpmiSim) -> None:
        self.sim = sim
        self.port = sim.port
        self.params = _params(sim.port, self.backend)

    async def power(self) -> str:
        """The chassis power the simulator's script holds."""
        return self.sim.power

    async def set_power(self, state: str) -> None:
        """Set the chassis power behind the driver's back."""
        self.sim.set_power(state)

    async def handshakes(self) -> int:
        """Sessions the simulator activated."""
        return self.sim.sessions_opened

    async def attempts(self) -> int:
        """Activate Session requests the simulator saw, accepted or not."""
        return self.sim.sessions_opened + self.sim.activations_failed

    async def pause(self) -> None:
        """Freeze the simulator process."""
        self.sim.pause()

    async def resume(self) -> None:
        """Thaw the simulator process."""
        self.sim.resume()

    async def reset(self) -> None:
        """Undo what a test changed."""
        if self.sim.paused:
            self.sim.resume()
        self.sim.set_power("off")


def _params(port: int, backend: str) -> dict[str, Any]:
    return {
        "address": "127.0.0.1",
        "port": port,
        "username": USERNAME,
        "password": PASSWORD,
        "backend": backend,
    }


def _started(*coroutines: Any) -> Deferred[Any]:
    return gatherResults([Deferred.fromCoroutine(c) for c in coroutines], consumeErrors=True)


@pytest_twisted.async_yield_fixture(scope="module")
async def pyghmi_bmcs() -> AsyncIterator[PyghmiBMCs]:
    """One emulator process with several IPMI 2.0 BMCs."""
    bmcs = PyghmiBMCs(_reactor(), PYGHMI_BMC_COUNT, USERNAME, PASSWORD)
    await bmcs.start()
    yield bmcs
    await bmcs.stop()


@pytest_twisted.async_yield_fixture(scope="module")
async def ipmi_sims(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[IpmiSim]]:
    """Several ``ipmi_sim`` BMCs speaking IPMI 1.5."""
    sims = [
        IpmiSim(_reactor(), tmp_path_factory.mktemp(f"ipmi-sim-{i}"), USERNAME, PASSWORD)
        for i in range(IPMI_SIM_COUNT)
    ]
    await _started(*(sim.start() for sim in sims))
    yield sims
    await _started(*(sim.stop() for sim in sims))


@pytest_twisted.async_yield_fixture(params=BACKEND_NAMES)
async def nodes(
    request: pytest.FixtureRequest, pyghmi_bmcs: PyghmiBMCs, ipmi_sims: list[IpmiSim]
) -> AsyncIterator[list[Any]]:
    """The emulated BMCs of one backend, reset after the test."""
    if request.param == "pyghmi":
        found: list[Any] = [PyghmiNode(pyghmi_bmcs, port) for port in pyghmi_bmcs.ports]
    else:
        found = [SimNode(sim) for sim in ipmi_sims]
    yield found
    for node in found:
        await node.reset()


def emulator_backends(exchange_timeout: float = 1.0) -> dict[str, Any]:
    """Real backends, python-ipmi waiting ``exchange_timeout`` per reply."""
    return {"pyghmi": PyghmiBackend(), "python-ipmi": PythonIpmiBackend(exchange_timeout)}


@pytest_twisted.async_yield_fixture
async def make_driver() -> AsyncIterator[Callable[..., IPMIDriver]]:
    """Builds drivers on the running reactor; stops them all afterwards."""
    made: list[IPMIDriver] = []

    def make(**options: Any) -> IPMIDriver:
        settings: dict[str, Any] = {
            "max_threads": 8,
            "timeout": 5.0,
            "backends": emulator_backends(),
        }
        settings.update(options)
        driver = IPMIDriver(_reactor(), **settings)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.close()


@pytest.fixture
def ipmi_relay() -> Iterator[Callable[[int], CountingRelay]]:
    """Puts a relay that keeps every request in front of a BMC's port; closes them all afterwards."""
    made: list[CountingRelay] = []

    def relay(port: int) -> CountingRelay:
        started = CountingRelay(_reactor(), ("127.0.0.1", port))
        started.start()
        made.append(started)
        return started

    yield relay
    for started in made:
        started.stop()
