"""
A simulated process: a name, whether it is alive, and its own view of the
world's clock, which may be set some seconds off (skew: each machine's
clock is its own).

Everything a process schedules goes through its :class:`ProcessClock`, so a
crash cancels every timer it had and no code of a dead process ever runs
again: its LoopingCalls, retries, timeouts and pending database work all
die with it, as they would with a ``SIGKILL``.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface import implementer

PRUNE_EVERY = 512


@implementer(IReactorTime)
class ProcessClock:
    """
    One process's clock: the world's time ``offset`` seconds off, and calls
    it can all cancel.  A call is due after its delay, whatever the offset.
    """

    def __init__(self, world: IReactorTime, offset: float = 0.0) -> None:
        self.world = world
        self.offset = offset
        self.alive = True
        self._calls: list[IDelayedCall] = []

    def seconds(self) -> float:
        return self.world.seconds() + self.offset

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> IDelayedCall:
        if not self.alive:
            return _inert(self.seconds() + delay, callable, args, kw, self.seconds)
        call = self.world.callLater(delay, callable, *args, **kw)
        self._calls.append(call)
        if len(self._calls) % PRUNE_EVERY == 0:
            self._calls = [c for c in self._calls if c.active()]
        return call

    def getDelayedCalls(self) -> list[IDelayedCall]:
        return [c for c in self._calls if c.active()]

    def kill(self) -> None:
        """Cancel every pending call; from now on, schedule nothing."""
        self.alive = False
        calls, self._calls = self._calls, []
        for call in calls:
            if call.active():
                call.cancel()


def _inert(at: float, f: Callable[..., Any], args: Any, kw: Any, seconds: Callable[[], float]) -> DelayedCall:
    """A call that is never scheduled, for a process that is gone."""
    return DelayedCall(at, f, args, kw, lambda c: None, lambda c: None, seconds)


class Process:
    """
    A simulated process.

    :ivar name: unique in the world, one per incarnation (``rack-1#2``).
    :ivar ip: the address its connections come from.
    :param offset: how far its machine's clock is off the world's, in seconds.
    """

    def __init__(self, name: str, ip: str, world_clock: IReactorTime, offset: float = 0.0) -> None:
        self.name = name
        self.ip = ip
        self.clock = ProcessClock(world_clock, offset)

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.clock.alive

    def kill(self) -> None:
        """Stop at once, as with ``SIGKILL``."""
        self.clock.kill()

    def __repr__(self) -> str:
        return f"<Process {self.name}{'' if self.alive else ' (dead)'}>"
