"""
An in-memory BMC for tests, simulation and the demo.

:class:`FakeBMC` is a :class:`~pserv.power.control.PowerControl` whose
calls take a configurable latency on an injected clock, can be made to fail
or hang, and are cancellable.  It records every command it received and
every change of its power, so tests can prove what was and was not done.
"""

from __future__ import annotations

from collections import defaultdict, deque
from heapq import heappop, heappush
from itertools import count
from typing import Any, Callable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import Clock

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.errors import PowerError, PowerUnsupportedError
from pserv.power.policy import DEFAULT_POLICY, VerifyPolicy
from pserv.power.states import PowerState

OPERATIONS = ("power_on", "power_off", "soft_off", "query", "set_boot_device", "get_boot_device")


class FakeBMC:
    """
    One emulated BMC.

    :param latency: seconds each call takes to answer.
    :param settle: seconds after an accepted command before power changes
        (a slow BMC: reads in between still show the old state).
    :param shutdown_time: seconds the operating system takes to shut down
        after a soft off; ``None`` for an OS that ignores it.
    :param can_query: ``False`` for the BMC of a driver that declares it
        cannot read power (like Wake-on-LAN): its reads answer unsupported.
    :ivar power: the real power state.
    :ivar commands: ``(time, operation)`` for every command the BMC accepted.
    :ivar changes: ``(time, state)`` for every change of :attr:`power`.
    :ivar reads: how many queries it answered.
    :ivar settling: the hard commands (``power_on``, ``power_off``) accepted
        whose effect has not shown yet.
    :ivar refusing_reads: whether reads answer unsupported (IPMI 0xC1, a
        Redfish 405) although the driver says it can read: :meth:`refuse_reads`.
    :param can_set_boot: ``False`` for the BMC of a driver that cannot set
        a boot device (a PDU, Wake-on-LAN).
    :ivar boot: the boot device set, if any; a one-time one is cleared by
        the next power on.
    :ivar boot_sets: ``(time, setting)`` for every boot device set.
    """

    def __init__(
        self,
        clock: IReactorTime,
        name: str = "fake",
        *,
        power: PowerState = PowerState.OFF,
        latency: float = 0.0,
        settle: float = 0.0,
        shutdown_time: float | None = 5.0,
        policy: VerifyPolicy = DEFAULT_POLICY,
        can_query: bool = True,
        can_set_boot: bool = True,
    ) -> None:
        self.clock = clock
        self.can_set_boot = can_set_boot
        self.boot: BootSetting | None = None
        self.boot_sets: list[tuple[float, BootSetting]] = []
        self.description = f"fake BMC {name}"
        self.verify_policy = policy
        self.can_query = can_query
        self.refusing_reads = not can_query
        self.power = power
        self.latency = latency
        self.settle = settle
        self.shutdown_time = shutdown_time
        self.commands: list[tuple[float, str]] = []
        self.changes: list[tuple[float, PowerState]] = []
        self.reads = 0
        self.settling: list[str] = []
        self.hanging: set[str] = set()
        self._shutdown: IDelayedCall | None = None
        self._failures: dict[str, deque[PowerError]] = defaultdict(deque)

    @property
    def shutting_down(self) -> bool:
        """Whether the operating system is shutting down after a soft off."""
        return self._shutdown is not None and self._shutdown.active()

    def fail_next(self, operation: str, error: PowerError, times: int = 1) -> None:
        """
        Make the next ``times`` calls of ``operation`` fail with ``error``.
        """
        self._failures[operation].extend([error] * times)

    def clear_failures(self) -> None:
        """
        Forget every failure queued by :meth:`fail_next`.
        """
        self._failures.clear()

    def refuse_reads(self, refuse: bool = True) -> None:
        """
        Make every read answer unsupported from now on (or, with ``False``,
        answer again), as a BMC does that refuses the read command.
        """
        self.refusing_reads = refuse or not self.can_query

    def hang(self, *operations: str) -> None:
        """
        Make ``operations`` (all of them by default) never answer.
        """
        self.hanging.update(operations or OPERATIONS)

    def unhang(self) -> None:
        """
        Answer calls again (calls already hung stay hung until cancelled).
        """
        self.hanging.clear()

    def press_power_button(self) -> None:
        """
        Someone at the machine toggled its power.
        """
        self._set(PowerState.OFF if self.power is PowerState.ON else PowerState.ON)

    def power_on(self) -> Deferred[None]:
        return self._call("power_on", lambda: self._command("power_on", PowerState.ON, self.settle))

    def power_off(self) -> Deferred[None]:
        return self._call("power_off", lambda: self._command("power_off", PowerState.OFF, self.settle))

    def soft_off(self) -> Deferred[None]:
        return self._call(
            "soft_off", lambda: self._command("soft_off", PowerState.OFF, self.shutdown_time)
        )

    def query(self) -> Deferred[PowerState]:
        return self._call("query", self._read)

    def set_boot_device(self, device: BootDevice, persistent: bool) -> Deferred[None]:
        return self._call("set_boot_device", lambda: self._set_boot(BootSetting(BootDevice(device), persistent)))

    def get_boot_device(self) -> Deferred[BootSetting | None]:
        return self._call("get_boot_device", lambda: self.boot)

    def _set_boot(self, setting: BootSetting) -> None:
        self.boot = setting
        self.boot_sets.append((self.clock.seconds(), setting))

    def _read(self) -> PowerState:
        self.reads += 1
        return self.power

    def _command(self, operation: str, target: PowerState, delay: float | None) -> None:
        self.commands.append((self.clock.seconds(), operation))
        if delay is None:
            return
        if delay == 0:
            self._set(target)
        elif operation == "soft_off":
            if self._shutdown is None or not self._shutdown.active():
                self._shutdown = self.clock.callLater(delay, self._set, target)
        else:
            self.settling.append(operation)
            self.clock.callLater(delay, self._settle, operation, target)

    def _settle(self, operation: str, target: PowerState) -> None:
        self.settling.remove(operation)
        self._set(target)

    def _set(self, target: PowerState) -> None:
        """
        Switch the power.  Any change ends the operating system that was
        running, and with it a shutdown it had under way.
        """
        if target is not self.power:
            if target is PowerState.ON and self.boot is not None and not self.boot.persistent:
                self.boot = None  # a one-time boot device is used up by this boot
            if self._shutdown is not None and self._shutdown.active():
                self._shutdown.cancel()
            self.power = target
            self.changes.append((self.clock.seconds(), target))

    def _call(self, operation: str, answer: Callable[[], Any]) -> Deferred[Any]:
        failures = self._failures.get(operation)
        if operation in self.hanging:
            return Deferred()
        refusal = self._refusal(operation) if self.refusing_reads else None
        if self.latency == 0:
            if failures:
                return fail(failures.popleft())
            return succeed(answer()) if refusal is None else fail(refusal)
        error = failures.popleft() if failures else refusal
        delayed: IDelayedCall | None = None

        def reply() -> None:
            if error is not None:
                answering.errback(error)
            else:
                answering.callback(answer())

        answering: Deferred[Any] = Deferred(lambda _: delayed.cancel() if delayed else None)
        delayed = self.clock.callLater(self.latency, reply)
        return answering

    def _refusal(self, operation: str) -> PowerError | None:
        if operation == "query" and self.refusing_reads:
            return PowerUnsupportedError(f"{self.description}: reading power is not supported")
        return None


class FakeFleet:
    """
    Emulated BMCs by address, made on first use.
    """

    def __init__(self, clock: IReactorTime, **defaults: Any) -> None:
        self.clock = clock
        self.defaults = defaults
        self.bmcs: dict[str, FakeBMC] = {}

    def bmc(self, address: str, **overrides: Any) -> FakeBMC:
        """
        The BMC at ``address``, created with the fleet's defaults if new.
        """
        bmc = self.bmcs.get(address)
        if bmc is None:
            bmc = self.bmcs[address] = FakeBMC(
                self.clock, address, **{**self.defaults, **overrides}
            )
        return bmc


def _left_in_heap(call: DelayedCall) -> None:
    """A cancelled call stays in the heap, skipped when it comes up."""


class HeapClock(Clock):
    """
    A :class:`~twisted.internet.task.Clock` whose pending calls sit in a
    heap, so scheduling, cancelling and running a call cost O(log n) instead
    of the O(n) re-sort and list removal of ``Clock``: for benchmarks and
    simulations with thousands of nodes in flight.  Same semantics otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._order = count()
        # Bound once, not per call: every pending call holds them.
        self._resetter = self._push
        self._now = self.seconds

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> IDelayedCall:
        call = DelayedCall(self.rightNow + delay, callable, args, kw, _left_in_heap, self._resetter, self._now)
        self._push(call)
        return call

    def _push(self, call: DelayedCall) -> None:
        heappush(self._heap, (call.getTime(), next(self._order), call))

    def _pending_top(self) -> DelayedCall | None:
        heap = self._heap
        while heap:
            due, _, call = heap[0]
            if call.cancelled or call.called or due != call.getTime():
                heappop(heap)
                continue
            return call
        return None

    def next_due(self) -> float | None:
        """
        When the earliest pending call is due, or ``None`` if none is.
        """
        call = self._pending_top()
        return None if call is None else call.getTime()

    def getDelayedCalls(self) -> list[IDelayedCall]:
        return [c for due, _, c in self._heap if c.active() and due == c.getTime()]

    def advance(self, amount: float) -> None:
        self.rightNow += amount
        while True:
            call = self._pending_top()
            if call is None or call.getTime() > self.rightNow:
                return
            heappop(self._heap)
            call.called = 1
            call.func(*call.args, **call.kw)


def _next_due(clock: Clock) -> float | None:
    if isinstance(clock, HeapClock):
        return clock.next_due()
    calls = clock.getDelayedCalls()
    return min(call.getTime() for call in calls) if calls else None


def advance_until_idle(clock: Clock, horizon: float = 3600.0) -> float:
    """
    Advance ``clock`` from one scheduled call to the next until none is left
    or ``horizon`` seconds have passed, so timings stay exact.

    :return: the seconds advanced.
    """
    start = clock.seconds()
    end = start + horizon
    while True:
        due = _next_due(clock)
        if due is None:
            break
        if due > end:
            clock.advance(end - clock.seconds())
            break
        clock.advance(max(0.0, due - clock.seconds()))
    return clock.seconds() - start
