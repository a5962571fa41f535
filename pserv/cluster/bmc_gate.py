"""
Per-BMC limits: every call to a BMC or PDU agent waits for its turn.

A node's ``min_command_interval`` and ``max_concurrent`` settings
(:mod:`pserv.power.types.bmc_limits`) limit its BMC, and every node naming
that BMC (the same power type and address, :func:`bmc_of`) shares one
:class:`BmcGate`: the limits in force are the strictest any of them names,
each node counted with the settings it was last seen with.  A call waits
until ``min_command_interval`` seconds have passed since the start of the
BMC's last call and fewer than ``max_concurrent`` of its calls are in
flight; turns are given in the order they were asked for.

A power action asks for its turn (:meth:`GatedControl.turn`) *before* it
makes the bounded driver call (:mod:`pserv.power.steps`): the wait is a
safe point (an action superseded meanwhile sends nothing, and its waiter
leaves the line), and it does not count against the action's
``read_timeout`` or ``command_timeout``.  The action ends its turn
(:meth:`BmcTurn.over`) when the call ends, however it ends.

A BMC none of whose nodes names a limit has no line at all: its turn is
``None``, and nothing waits.  Time is the clock given; nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from pserv.power.control import ControlWrapper, PowerControl
from pserv.power.types.bmc_limits import MAX_CONCURRENT, MIN_COMMAND_INTERVAL
from pserv.power.types.redfish import endpoint


@dataclass(frozen=True, slots=True)
class BmcLimits:
    """
    What one BMC is held to.

    :ivar interval: seconds between the starts of two calls (0: none).
    :ivar concurrent: calls in flight at once (``None``: no limit here).
    """

    interval: float = 0.0
    concurrent: int | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> BmcLimits:
        """The limits a node's validated settings name."""
        return cls(float(params.get(MIN_COMMAND_INTERVAL) or 0.0), params.get(MAX_CONCURRENT) or None)

    @property
    def unlimited(self) -> bool:
        """Whether these limits hold nothing back."""
        return self.interval <= 0 and self.concurrent is None

    def stricter(self, other: BmcLimits) -> BmcLimits:
        """The strictest of both: the larger interval, the smaller concurrency."""
        concurrent = [c for c in (self.concurrent, other.concurrent) if c is not None]
        return BmcLimits(max(self.interval, other.interval), min(concurrent) if concurrent else None)


NO_LIMITS = BmcLimits()


def _address(params: Mapping[str, Any]) -> Hashable:
    return params.get("address")


def _address_port(params: Mapping[str, Any]) -> Hashable:
    return (params.get("address"), params.get("port"))


def _redfish(params: Mapping[str, Any]) -> Hashable:
    return endpoint(params).origin


BMC_KEYS: dict[str, Callable[[Mapping[str, Any]], Hashable]] = {
    "ipmi": _address_port,
    "redfish": _redfish,
    "snmp_pdu": _address_port,
    "fake": _address,
}
"""Which of a node's settings name its BMC, by power type: the power types whose BMCs have gates."""


def bmc_of(power_type: str, params: Mapping[str, Any]) -> Hashable | None:
    """
    The BMC a node's validated settings name, as ``(power_type, ...)``; ``None``
    for a power type that talks to no BMC (Wake-on-LAN, manual).
    """
    key = BMC_KEYS.get(power_type)
    return None if key is None else (power_type, key(params))


class BmcTurn:
    """One call's turn at its BMC; :meth:`over` gives it back, once."""

    __slots__ = ("_gate",)

    def __init__(self, gate: BmcGate) -> None:
        self._gate: BmcGate | None = gate

    def over(self, result: Any = None) -> Any:
        """End the turn (the call ended); passes ``result`` through, for ``addBoth``."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._ended()
        return result


class BmcGate:
    """
    The line of calls to one BMC.

    :ivar limits: the strictest limits its nodes name.
    :ivar in_flight: calls that have had their turn and not ended it.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.limits = NO_LIMITS
        self.in_flight = 0
        self._named: dict[Hashable, BmcLimits] = {}
        self._waiting: dict[Deferred[BmcTurn], None] = {}
        self._last_start: float | None = None
        self._timer: IDelayedCall | None = None
        self._granting = False

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn."""
        return len(self._waiting)

    def name(self, node: Hashable, limits: BmcLimits) -> None:
        """``node`` names this BMC with ``limits`` (replacing what it named before)."""
        if self._named.get(node) != limits:
            self._named[node] = limits
            self._recompute()

    def forget(self, node: Hashable) -> None:
        """``node`` names this BMC no more."""
        if self._named.pop(node, None) is not None:
            self._recompute()

    def turn(self) -> Deferred[BmcTurn] | None:
        """
        Fires with the caller's turn once its call may start; ``None`` if the
        BMC has no limits (nothing to wait for).  Cancelling it leaves the line.
        """
        if self.limits.unlimited and not self._waiting:
            return None
        waiter: Deferred[BmcTurn] = Deferred(self._withdraw)
        self._waiting[waiter] = None
        self._grant()
        return waiter

    def _withdraw(self, waiter: Deferred[BmcTurn]) -> None:
        self._waiting.pop(waiter, None)

    def _ended(self) -> None:
        self.in_flight -= 1
        self._grant()

    def _recompute(self) -> None:
        limits = NO_LIMITS
        for named in self._named.values():
            limits = limits.stricter(named)
        self.limits = limits
        self._grant()

    def _grant(self) -> None:
        """Give turns, in order, while the limits allow; else wait for the interval or a call's end."""
        if self._granting:
            return  # a turn given here ended at once: the loop below goes on
        self._granting = True
        try:
            while self._waiting:
                wait = self._wait()
                if wait is None:
                    return  # a call's end grants the next
                if wait > 0:
                    self._wake_in(wait)
                    return
                waiter = next(iter(self._waiting))
                del self._waiting[waiter]
                self.in_flight += 1
                self._last_start = self.clock.seconds()
                waiter.callback(BmcTurn(self))
        finally:
            self._granting = False

    def _wait(self) -> float | None:
        """Seconds until the next turn may start; ``None`` while every slot is taken."""
        limits = self.limits
        if limits.concurrent is not None and self.in_flight >= limits.concurrent:
            return None
        if self._last_start is None or limits.interval <= 0:
            return 0.0
        return self._last_start + limits.interval - self.clock.seconds()

    def _wake_in(self, seconds: float) -> None:
        timer = self._timer
        if timer is not None and timer.active():
            if timer.getTime() <= self.clock.seconds() + seconds:
                return
            timer.cancel()
        self._timer = self.clock.callLater(seconds, self._woken)

    def _woken(self) -> None:
        self._timer = None
        self._grant()


class BmcGates:
    """The cluster's gates, one per BMC named, made on first use."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._gates: dict[Hashable, BmcGate] = {}
        self._nodes: dict[Hashable, Hashable] = {}

    def gate(self, power_type: str, params: Mapping[str, Any], node: Hashable = None) -> BmcGate | None:
        """
        The gate of the BMC a node's validated settings name, told the node's
        limits; ``None`` for a power type that talks to no BMC.

        :param node: who names these limits: a node's limits replace what it
            named before (and it leaves its old BMC's gate if it names another
            now); without one, the limits are counted for as long as the cluster runs.
        """
        bmc = bmc_of(power_type, params)
        if bmc is None:
            return None
        gate = self._gates.get(bmc)
        if gate is None:
            gate = self._gates[bmc] = BmcGate(self.clock)
        limits = BmcLimits.of(params)
        who = node if node is not None else (bmc, limits)
        before = self._nodes.get(who)
        if before is not None and before != bmc:
            self._gates[before].forget(who)
        self._nodes[who] = bmc
        gate.name(who, limits)
        return gate

    def keep(self, nodes: set[Hashable]) -> None:
        """Forget the limits of every node not in ``nodes`` (the cluster holds them no more)."""
        for who, bmc in list(self._nodes.items()):
            if who not in nodes and not isinstance(who, tuple):  # a tuple: limits named by no node
                del self._nodes[who]
                self._gates[bmc].forget(who)

    @property
    def waiting(self) -> int:
        """Calls waiting for their BMC's turn, in all."""
        return sum(gate.waiting for gate in self._gates.values())


class GatedControl(ControlWrapper):
    """A node's power whose calls take turns at its BMC's gate: it offers :meth:`turn`, and passes calls through."""

    def __init__(self, control: PowerControl, gate: BmcGate) -> None:
        super().__init__(control)
        self._gate = gate
        self.turn = gate.turn

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        return call()

