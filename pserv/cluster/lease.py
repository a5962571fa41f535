"""
A member of a cluster group acts for its nodes only while its lease runs.

The region renews the lease with each heartbeat it answers, for
``cluster_lease`` seconds (``pserv-region run --cluster-lease``).  The
cluster counts them from when it *sent* the heartbeat, by its own clock, so
its lease always ends before the region's view of it does (the region counts
from when the heartbeat arrived, and waits a grace on top before it fails
the nodes over: :mod:`pserv.region.groups`).  A heartbeat answer that
arrives late, after a freeze or a partition, renews nothing that has
already ended.

When the lease ends the cluster is *fenced*: it sends no power command,
reads no BMC, stops what it had in play without reporting it, and
reconnects; the region's recovery then tells it which nodes it still
holds (:meth:`pserv.cluster.daemon.ClusterDaemon.fence`).  Every command
also checks the lease just before it goes out
(:class:`LeasedControl`), so a cluster that wakes from a freeze past its
lease sends nothing even before its timer has fired.

A call is bounded by the lease as well as by its own timeout: one still
waiting for its BMC's answer when the lease ends is given up then (as a
call that times out is), so no call of this cluster outlasts its lease
and the node's next holder, given it only after the lease and a grace,
never has a call in flight beside one of this cluster's.  And a control
serves one *term* of the lease (from a renewal after an end to the next
end): an action fenced while it waited (a soft off watching for the
shutdown) never calls its BMC again, even once the cluster's lease is
renewed, since its node may be another member's by then; what recovery
hands back runs anew, with a control of the new term.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from pserv.power.control import ControlWrapper, PowerControl
from pserv.power.errors import PowerFatalError


class LeaseEnded(PowerFatalError):
    """This cluster's lease has ended: it sends nothing until the region renews it."""


class Lease:
    """
    This cluster's lease, by its own clock.

    :param on_end: called (once per lease) when it ends unrenewed, or when a
        command finds it ended first.
    """

    def __init__(self, clock: IReactorTime, on_end: Callable[[], Any]) -> None:
        self.clock = clock
        self.on_end = on_end
        self.until: float | None = None
        self.term = 0
        """Counts the lease's ends: a control made in one term acts in no other."""
        self._timer: IDelayedCall | None = None
        self._calls: set[Deferred[Any]] = set()

    def holds(self) -> bool:
        """Whether the lease runs now."""
        return self.until is not None and self.clock.seconds() < self.until

    def renew(self, sent_at: float, seconds: float | None) -> None:
        """A heartbeat sent at ``sent_at`` was answered: the lease runs ``seconds`` from then (if that is later)."""
        if seconds is None:
            return
        until = sent_at + seconds
        if until <= self.clock.seconds() or (self.until is not None and until <= self.until):
            return
        self.until = until
        self._cancel_timer()
        self._timer = self.clock.callLater(until - self.clock.seconds(), self._ended)

    def check(self) -> bool:
        """Whether the lease runs; if it has ended unnoticed, end it now."""
        if self.holds():
            return True
        if self.until is not None:
            self._ended()
        return False

    def bound(self, call: Deferred[Any]) -> Deferred[Any]:
        """``call``, given up (cancelled) if the lease ends before it answers."""
        if not call.called:
            self._calls.add(call)
            call.addBoth(self._answered, call)
        return call

    def stop(self) -> None:
        """Forget the lease (the cluster is stopping)."""
        self._cancel_timer()
        self.until = None

    def _answered(self, result: Any, call: Deferred[Any]) -> Any:
        self._calls.discard(call)
        return result

    def _ended(self) -> None:
        self._cancel_timer()
        self.until = None
        self.term += 1
        self.on_end()
        calls, self._calls = self._calls, set()
        for call in calls:
            call.cancel()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class LeasedControl(ControlWrapper):
    """A node's power that sends a command only while the cluster's lease runs (see the module)."""

    def __init__(self, control: PowerControl, lease: Lease) -> None:
        super().__init__(control)
        self._lease = lease
        self._term = lease.term

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        if not self._lease.check() or self._lease.term != self._term:
            return fail(LeaseEnded(f"{self.description}: this cluster's lease has ended; sent nothing"))
        return self._lease.bound(call())
