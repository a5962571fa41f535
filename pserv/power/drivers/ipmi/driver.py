"""
The IPMI power driver: chassis power over IPMI-over-LAN.

Two backends speak to the BMC: ``pyghmi`` (IPMI 2.0 RMCP+, the default)
and ``python-ipmi`` (IPMI 1.5 LAN sessions, for old BMCs).  Both are
synchronous libraries; their calls run on a bounded thread pool (see
:mod:`~pserv.power.drivers.ipmi.threads`), in sessions reused per BMC and
closed when idle (see :mod:`~pserv.power.drivers.ipmi.sessions`).  Each
operation sends exactly one IPMI command (after a handshake, when no
session is open) and never retries: the actions above verify and retry.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

from twisted.internet.defer import Deferred, TimeoutError, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers.ipmi.backend import ChassisControl, IPMIBackend
from pserv.power.drivers.ipmi.boot import (
    CMD_GET_SYSTEM_BOOT_OPTIONS,
    CMD_SET_SYSTEM_BOOT_OPTIONS,
    GET_BOOT_FLAGS,
    boot_flags,
    set_boot_flags,
)
from pserv.power.drivers.ipmi.errors import timed_out
from pserv.power.drivers.ipmi.pyipmi_backend import PythonIpmiBackend
from pserv.power.drivers.ipmi.pyghmi_backend import PyghmiBackend
from pserv.power.drivers.ipmi.sessions import BMCStats, SessionPool
from pserv.power.drivers.ipmi.target import BMCTarget, endpoint
from pserv.power.drivers.ipmi.threads import ThreadRunner
from pserv.power.errors import PowerError, PowerUnsupportedError
from pserv.power.states import PowerState
from pserv.power.types.ipmi import IPMI


class IPMIDriver(PowerDriver):
    """
    Chassis power over IPMI, one instance for every IPMI node of a cluster.

    :param reactor: the reactor that runs the driver (threads report there).
    :param clock: times idle sessions and calls out; the reactor if omitted.
    :param max_threads: library calls running at once, over all BMCs.
    :param per_bmc_limit: exchanges at once against one BMC.
    :param idle_timeout: seconds before an unused session is closed.
    :param timeout: seconds one call may take; the verify policy's
        ``read_timeout`` (query) or ``command_timeout`` if omitted.
    :param backends: the backends by name, to replace the real ones.
    """

    power_type = IPMI

    def __init__(
        self,
        reactor: Any = None,
        *,
        clock: IReactorTime | None = None,
        max_threads: int = 16,
        per_bmc_limit: int = 1,
        idle_timeout: float = 20.0,
        timeout: float | None = None,
        backends: Mapping[str, IPMIBackend] | None = None,
    ) -> None:
        super().__init__(reactor)
        self._clock = clock
        self._max_threads = max_threads
        self._per_bmc_limit = per_bmc_limit
        self._idle_timeout = idle_timeout
        self._timeout = timeout
        self._backends = dict(backends or default_backends())
        self._runner: ThreadRunner | None = None
        self._sessions: SessionPool | None = None

    def check(self, params: Mapping[str, Any]) -> None:
        """
        What the node's backend can honour (password length, cipher suite,
        K_g, privilege, address family), beyond what the schema checks: the
        backend's check, which for the real ones is the power type's
        (:mod:`pserv.power.types.ipmi`).

        :raises PowerSettingsError: naming the bad field.
        """
        self.target(params)

    def describe(self, params: Mapping[str, Any]) -> str:
        """``ipmi ADDRESS:PORT``; never a secret."""
        address = params.get("address")
        if not address:
            return self.name
        port = params.get("port") or 623
        return f"{self.name} {endpoint(str(address), port)}"

    def target(self, params: Mapping[str, Any]) -> BMCTarget:
        """
        The BMC a node's settings name, checked against its backend.

        :raises PowerSettingsError: naming the bad field.
        """
        target = BMCTarget.from_params(self.settings.validate(params))
        self._backends[target.backend].check(target)
        return target

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send Chassis Control "power up"."""
        return self._call(params, "power on", partial(_control, ChassisControl.POWER_UP))

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send Chassis Control "power down" (immediate)."""
        return self._call(params, "power off", partial(_control, ChassisControl.POWER_DOWN))

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send Chassis Control "soft shutdown" (0x5), an ACPI request to the OS."""
        return self._call(params, "soft off", partial(_control, ChassisControl.SOFT_SHUTDOWN))

    def query(self, params: Mapping[str, Any]) -> Deferred[PowerState]:
        """Send Get Chassis Status and read the power bit."""
        reading = self._call(params, "query", _power_is_on)
        return reading.addCallback(lambda on: PowerState.ON if on else PowerState.OFF)

    def set_boot_device(self, params: Mapping[str, Any], device: BootDevice, persistent: bool) -> Deferred[None]:
        """Send Set System Boot Options: the boot flags (parameter 5) naming ``device``."""
        setting = partial(_chassis, CMD_SET_SYSTEM_BOOT_OPTIONS, set_boot_flags(device, persistent))
        return self._call(params, "set boot device", setting).addCallback(lambda _: None)

    def get_boot_device(self, params: Mapping[str, Any]) -> Deferred[BootSetting | None]:
        """
        Send Get System Boot Options for the boot flags; ``None`` when none
        is set, or the BMC does not answer that command (it cannot say).
        """
        reading = self._call(params, "get boot device", partial(_chassis, CMD_GET_SYSTEM_BOOT_OPTIONS, GET_BOOT_FLAGS))
        reading.addCallback(boot_flags)
        return reading.addErrback(_cannot_say)

    def session_stats(self, params: Mapping[str, Any]) -> BMCStats:
        """What the session pool did with this node's BMC."""
        return self._pool().stats(self.target(params))

    def idle_sessions(self, params: Mapping[str, Any]) -> int:
        """How many open sessions wait unused for this node's settings."""
        return self._pool().idle_count(self.target(params))

    def open_sessions(self) -> int:
        """How many IPMI sessions are open now, over every BMC: the cluster's metrics."""
        return 0 if self._sessions is None else self._sessions.open_count()

    def settle(self) -> Deferred[None]:
        """
        Fire once running calls and session closes have finished.
        """
        if self._sessions is None:
            return succeed(None)
        return self._sessions.settled()

    def close(self) -> Deferred[None]:
        """
        Wait for running calls, close idle sessions, stop the threads.
        """
        runner, sessions = self._runner, self._sessions
        if runner is None or sessions is None:
            return succeed(None)
        stopping = runner.drain()
        stopping.addCallback(lambda _: sessions.close_all())
        stopping.addCallback(lambda _: runner.stop())
        return stopping

    def _call(self, params: Mapping[str, Any], what: str, operation: Any) -> Deferred[Any]:
        try:
            target = self.target(params)
        except PowerError as error:
            return fail(error)
        seconds = self._timeout_for(params, what)
        call = self._pool().call(self._backends[target.backend], target, what, operation)
        call.addTimeout(seconds, self._time())
        call.addErrback(_convert_timeout, target, what, seconds)
        return call

    def _timeout_for(self, params: Mapping[str, Any], what: str) -> float:
        if self._timeout is not None:
            return self._timeout
        policy = self.policy(params)
        return policy.read_timeout if what == "query" else policy.command_timeout

    def _time(self) -> IReactorTime:
        return self._clock if self._clock is not None else self.reactor

    def _pool(self) -> SessionPool:
        if self._sessions is None:
            self._runner = ThreadRunner(self.reactor, self._max_threads)
            self._sessions = SessionPool(
                self._runner, self._time(), self._idle_timeout, self._per_bmc_limit
            )
        return self._sessions


def default_backends() -> dict[str, IPMIBackend]:
    """A fresh instance of each real backend, by name."""
    return {"pyghmi": PyghmiBackend(), "python-ipmi": PythonIpmiBackend()}


def _power_is_on(backend: IPMIBackend, session: Any) -> bool:
    return backend.power_is_on(session)


def _control(directive: ChassisControl, backend: IPMIBackend, session: Any) -> None:
    backend.control(session, directive)


def _chassis(command: int, data: tuple[int, ...], backend: IPMIBackend, session: Any) -> bytes:
    return backend.chassis(session, command, data)


def _cannot_say(failure: Failure) -> None:
    """A BMC that refuses Get System Boot Options cannot say what it will boot."""
    failure.trap(PowerUnsupportedError)
    return None


def _convert_timeout(failure: Failure, target: BMCTarget, what: str, seconds: float) -> Failure:
    if failure.check(TimeoutError):
        raise timed_out(target.label, what, seconds)
    return failure
