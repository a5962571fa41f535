"""
Authenticated IPMI sessions, reused while in use and closed when idle.

An IPMI session costs a handshake of four to six round trips; a command in
an open session costs one.  The pool keeps each session it opened, keyed by
:attr:`BMCTarget.session_key` (backend, address, port, user, privilege,
cipher suite and digests of the secrets), and hands it to the next call for
the same key.  A session idle for ``idle_timeout`` seconds on the injected
clock is closed.  A session that fails (no answer, a broken exchange) is
closed at once and the next call opens a new one; a completion code is an
answer, so its session is kept.

Each BMC, keyed by address and port, has a :class:`DeferredSemaphore`: at
most ``per_bmc_limit`` exchanges (opening, using or closing a session) run
against one BMC at a time, so a BMC with few session slots is not flooded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from twisted.internet.base import DelayedCall
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from pserv.power.drivers.ipmi.backend import IPMIBackend
from pserv.power.drivers.ipmi.errors import to_power_error
from pserv.power.drivers.ipmi.target import BMCTarget
from pserv.power.drivers.ipmi.threads import ThreadRunner, deliver

T = TypeVar("T")
Operation = Callable[[IPMIBackend, Any], T]

log = Logger()


@dataclass
class BMCStats:
    """
    What the pool did with one BMC.

    :ivar open_attempts: handshakes started.
    :ivar opened: handshakes that gave a session.
    :ivar closed: sessions closed (idle, failed or at shutdown).
    :ivar in_flight: exchanges running now.
    :ivar peak_in_flight: the most exchanges that ever ran at once.
    """

    open_attempts: int = 0
    opened: int = 0
    closed: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


@dataclass
class _BMC:
    semaphore: DeferredSemaphore
    stats: BMCStats = field(default_factory=BMCStats)


@dataclass
class _Idle:
    backend: IPMIBackend
    target: BMCTarget
    session: Any
    timer: DelayedCall | None = None


@dataclass
class _Outcome:
    session: Any
    value: Any = None
    error: BaseException | None = None
    opened: bool = False
    closed: bool = False


class SessionPool:
    """
    Sessions per key, exchanges per BMC, all run through one thread pool.

    :param runner: where blocking library calls run.
    :param clock: times idle sessions out.
    :param idle_timeout: seconds an unused session stays open; keep it
        below the BMC's own session timeout (60 s by default in IPMI).
    :param per_bmc_limit: exchanges allowed at once against one BMC.
    """

    def __init__(
        self,
        runner: ThreadRunner,
        clock: IReactorTime,
        idle_timeout: float = 20.0,
        per_bmc_limit: int = 1,
    ) -> None:
        if per_bmc_limit < 1:
            raise ValueError("per_bmc_limit must be at least 1")
        self._runner = runner
        self._clock: Any = clock
        self._idle_timeout = idle_timeout
        self._limit = per_bmc_limit
        self._bmcs: dict[tuple[str, int], _BMC] = {}
        self._idle: dict[tuple[Any, ...], list[_Idle]] = {}
        self._closing: set[Deferred[None]] = set()

    def call(
        self, backend: IPMIBackend, target: BMCTarget, what: str, operation: Operation[T]
    ) -> Deferred[T]:
        """
        Run ``operation(backend, session)`` in a session for ``target``.

        Cancelling the result stops the wait at once: a call still queued for
        its BMC leaves the queue; a running exchange is abandoned to finish
        in its thread, its result dropped, and still holds its BMC's slot
        until it does.

        :raises PowerError: classified, naming ``what``.
        """
        bmc = self._bmc(target)
        acquiring = bmc.semaphore.acquire()

        def cancel(_: Deferred[T]) -> None:
            if not acquiring.called:
                acquiring.cancel()

        result: Deferred[T] = Deferred(cancel)
        acquiring.addCallbacks(
            self._acquired,
            lambda failure: None,
            callbackArgs=(result, bmc, backend, target, what, operation),
        )
        return result

    def idle_count(self, target: BMCTarget) -> int:
        """How many open sessions wait unused for ``target``'s key."""
        return len(self._idle.get(target.session_key, ()))

    def open_count(self) -> int:
        """How many sessions are open now, over every BMC (in use or idle)."""
        return sum(bmc.stats.opened - bmc.stats.closed for bmc in self._bmcs.values())

    def stats(self, target: BMCTarget) -> BMCStats:
        """A copy of the counters of ``target``'s BMC."""
        found = self._bmcs.get(target.bmc_key)
        return BMCStats(**vars(found.stats)) if found else BMCStats()

    def close_all(self) -> Deferred[None]:
        """
        Close every idle session and wait for closes already under way.
        """
        for entries in list(self._idle.values()):
            for entry in list(entries):
                self._expire(entry)
        return self.settled()

    def settled(self) -> Deferred[None]:
        """
        Fire once the closes under way and the running exchanges are done.
        """
        closing = DeferredList(list(self._closing), consumeErrors=True)
        settled: Deferred[None] = closing.addCallback(lambda _: self._runner.drain())
        return settled

    def _bmc(self, target: BMCTarget) -> _BMC:
        found = self._bmcs.get(target.bmc_key)
        if found is None:
            found = self._bmcs[target.bmc_key] = _BMC(DeferredSemaphore(self._limit))
        return found

    def _acquired(
        self,
        _: object,
        result: Deferred[T],
        bmc: _BMC,
        backend: IPMIBackend,
        target: BMCTarget,
        what: str,
        operation: Operation[T],
    ) -> None:
        if result.called:
            bmc.semaphore.release()
            return
        stats = bmc.stats
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        session = self._checkout(target)
        if session is None:
            stats.open_attempts += 1
        exchange = self._runner.run(_exchange, backend, target, session, operation)
        exchange.addCallback(self._settle, bmc, backend, target, what)
        exchange.addBoth(deliver, result)

    def _settle(
        self, outcome: _Outcome, bmc: _BMC, backend: IPMIBackend, target: BMCTarget, what: str
    ) -> Any:
        stats = bmc.stats
        stats.in_flight -= 1
        stats.opened += outcome.opened and outcome.session is not None
        stats.closed += outcome.closed
        if outcome.session is not None and not outcome.closed:
            self._checkin(_Idle(backend, target, outcome.session))
        # Check in before releasing: release() may start the next call at
        # once, and it should find this session.
        bmc.semaphore.release()
        if outcome.error is not None:
            error = to_power_error(target.label, what, outcome.error, target.secrets)
            log.debug(
                "{message} (session dropped: {dropped})", message=str(error), dropped=outcome.closed
            )
            raise error
        return outcome.value

    def _checkout(self, target: BMCTarget) -> Any:
        entries = self._idle.get(target.session_key)
        while entries:
            entry = entries.pop()
            if entry.timer is not None and entry.timer.active():
                entry.timer.cancel()
            if entry.backend.usable(entry.session):
                return entry.session
            self._close(entry)
        return None

    def _checkin(self, entry: _Idle) -> None:
        entry.timer = self._clock.callLater(self._idle_timeout, self._expire, entry)
        self._idle.setdefault(entry.target.session_key, []).append(entry)

    def _expire(self, entry: _Idle) -> None:
        log.debug("{label}: closing an idle session", label=entry.target.label)
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entries = self._idle.get(entry.target.session_key, [])
        if entry in entries:
            entries.remove(entry)
        if not entries:
            self._idle.pop(entry.target.session_key, None)
        self._close(entry)

    def _close(self, entry: _Idle) -> None:
        bmc = self._bmc(entry.target)
        closing = bmc.semaphore.run(self._runner.run, entry.backend.close, entry.session)
        self._closing.add(closing)

        def closed(result: object) -> None:
            self._closing.discard(closing)
            bmc.stats.closed += 1

        closing.addBoth(closed)


def _exchange(
    backend: IPMIBackend, target: BMCTarget, session: Any, operation: Operation[Any]
) -> _Outcome:
    """
    In a worker thread: open a session if none was reused, then operate.

    Never raises: the outcome carries the session and any error, so the
    pool can keep or drop the session on the reactor.
    """
    outcome = _Outcome(session, opened=session is None)
    try:
        if outcome.session is None:
            outcome.session = backend.open(target)
        outcome.value = operation(backend, outcome.session)
    except Exception as error:  # noqa: BLE001 - classified on the reactor
        outcome.error = error
        if outcome.session is not None and not getattr(error, "keeps_session", False):
            backend.close(outcome.session)
            outcome.closed = True
    return outcome
