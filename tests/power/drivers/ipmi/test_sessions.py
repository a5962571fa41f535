"""
SessionPool: reuse, idle expiry, discarding failed sessions, per-BMC limits.

These run real worker threads against an in-memory backend, with a
``Clock`` for the idle timers; the driver's tests cover real BMCs.
"""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.task import Clock

from pserv.power.drivers.ipmi.errors import (
    BMCAuthRejected,
    BMCCompletionCode,
    BMCNoAnswer,
    IPMIStateError,
)
from pserv.power.drivers.ipmi.sessions import SessionPool
from pserv.power.drivers.ipmi.target import BMCTarget
from pserv.power.drivers.ipmi.threads import ThreadRunner
from pserv.power.errors import PowerAuthError, PowerTransientError

IDLE = 20.0


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def _target(port: int = 623, password: str = "pw") -> BMCTarget:
    return BMCTarget("10.9.8.7", port, "admin", password, "admin", 3, None, "fake")


class FakeSession:
    def __init__(self, number: int) -> None:
        self.number = number
        self.broken = False
        self.closed = False


class FakeBackend:
    """Sessions in memory; failures and blocking on demand."""

    name = "fake"

    def __init__(self) -> None:
        self.opened: list[FakeSession] = []
        self.closed: list[FakeSession] = []
        self.open_error: Exception | None = None
        self.op_error: Exception | None = None
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()

    def check(self, target: BMCTarget) -> None:
        pass

    def open(self, target: BMCTarget) -> FakeSession:
        if self.open_error is not None:
            raise self.open_error
        with self._lock:
            session = FakeSession(len(self.opened))
            self.opened.append(session)
        return session

    def power_is_on(self, session: FakeSession) -> int:
        if self.gate is not None:
            self.gate.wait(10)
        if self.op_error is not None:
            raise self.op_error
        return session.number

    def control(self, session: FakeSession, directive: int) -> None:
        self.power_is_on(session)

    def close(self, session: FakeSession) -> None:
        session.closed = True
        with self._lock:
            self.closed.append(session)

    def usable(self, session: FakeSession) -> bool:
        return not session.broken


def _query(backend: FakeBackend, session: FakeSession) -> int:
    return backend.power_is_on(session)


class Rig:
    def __init__(self, limit: int = 1) -> None:
        self.clock = Clock()
        self.runner = ThreadRunner(_reactor(), max_threads=4)
        self.pool = SessionPool(self.runner, self.clock, IDLE, limit)
        self.backend = FakeBackend()

    def query(self, target: BMCTarget | None = None) -> defer.Deferred[int]:
        return self.pool.call(self.backend, target or _target(), "query", _query)


@pytest_twisted.async_yield_fixture
async def rig() -> AsyncIterator[Rig]:
    """A pool on real threads and a fake clock; stopped afterwards."""
    made = Rig()
    yield made
    if made.backend.gate is not None:
        made.backend.gate.set()
    await made.pool.close_all()
    await made.runner.stop()


@pytest_twisted.ensureDeferred
async def test_reuses_one_session(rig: Rig) -> None:
    """Calls for one key share one session; one handshake in total."""
    assert [await rig.query() for _ in range(3)] == [0, 0, 0]
    assert len(rig.backend.opened) == 1 and rig.pool.idle_count(_target()) == 1
    stats = rig.pool.stats(_target())
    assert (stats.open_attempts, stats.opened, stats.closed) == (1, 1, 0)


@pytest_twisted.ensureDeferred
async def test_different_credentials_get_their_own_session(rig: Rig) -> None:
    """Another password for the same BMC opens another session."""
    await rig.query(_target(password="a"))
    await rig.query(_target(password="b"))
    assert len(rig.backend.opened) == 2


@pytest_twisted.ensureDeferred
async def test_idle_session_expires_and_closes(rig: Rig) -> None:
    """After idle_timeout on the clock the session is closed; the next call opens anew."""
    await rig.query()
    rig.clock.advance(IDLE - 1)
    assert rig.pool.idle_count(_target()) == 1
    rig.clock.advance(1)
    await rig.pool.settled()
    assert rig.pool.idle_count(_target()) == 0 and rig.backend.closed == rig.backend.opened
    assert await rig.query() == 1
    assert rig.pool.stats(_target()).closed == 1


@pytest_twisted.ensureDeferred
async def test_open_count_is_every_session_open_in_use_or_idle(rig: Rig) -> None:
    """open_count counts the sessions opened and not yet closed, over every key; an expired one no more."""
    assert rig.pool.open_count() == 0
    await rig.query(_target(password="a"))
    await rig.query(_target(password="b"))
    assert rig.pool.open_count() == 2
    rig.clock.advance(IDLE)
    await rig.pool.settled()
    assert rig.pool.open_count() == 0


@pytest_twisted.ensureDeferred
async def test_use_restarts_the_idle_timer(rig: Rig) -> None:
    """Each use restarts the idle countdown."""
    await rig.query()
    rig.clock.advance(IDLE - 5)
    await rig.query()
    rig.clock.advance(IDLE - 5)
    assert rig.pool.idle_count(_target()) == 1 and rig.backend.closed == []
    rig.clock.advance(5)
    await rig.pool.settled()
    assert rig.pool.idle_count(_target()) == 0


@pytest_twisted.ensureDeferred
async def test_failed_session_is_discarded(rig: Rig) -> None:
    """A session whose exchange fails is closed at once; the next call opens a new one."""
    await rig.query()
    rig.backend.op_error = BMCNoAnswer("no answer from the BMC")
    with pytest.raises(PowerTransientError, match="ipmi 10.9.8.7:623: query timed out"):
        await rig.query()
    assert rig.backend.closed == rig.backend.opened and rig.pool.idle_count(_target()) == 0
    rig.backend.op_error = None
    assert await rig.query() == 1


@pytest_twisted.ensureDeferred
async def test_completion_code_keeps_session(rig: Rig) -> None:
    """A completion code is an answer: the error is raised and the session kept."""
    rig.backend.op_error = BMCCompletionCode(0xD5)
    with pytest.raises(IPMIStateError):
        await rig.query()
    assert rig.backend.closed == [] and rig.pool.idle_count(_target()) == 1


@pytest_twisted.ensureDeferred
async def test_failed_open_is_tried_once(rig: Rig) -> None:
    """A refused handshake fails the call once, with nothing kept."""
    rig.backend.open_error = BMCAuthRejected("Incorrect password provided")
    with pytest.raises(PowerAuthError):
        await rig.query()
    stats = rig.pool.stats(_target())
    assert (stats.open_attempts, stats.opened) == (1, 0) and rig.pool.idle_count(_target()) == 0


@pytest_twisted.ensureDeferred
async def test_unusable_idle_session_is_replaced(rig: Rig) -> None:
    """An idle session the backend no longer trusts is closed, not used."""
    await rig.query()
    rig.backend.opened[0].broken = True
    assert await rig.query() == 1
    await rig.pool.settled()
    assert rig.backend.closed == [rig.backend.opened[0]]


@pytest_twisted.ensureDeferred
async def test_limit_serializes_calls_to_one_bmc(rig: Rig) -> None:
    """per_bmc_limit=1: one exchange per BMC at a time; other BMCs are not held up."""
    rig.backend.gate = threading.Event()
    same = [rig.query() for _ in range(3)]
    other = rig.query(_target(port=624))
    assert rig.pool.stats(_target()).in_flight == 1
    assert rig.pool.stats(_target(port=624)).in_flight == 1
    rig.backend.gate.set()
    await defer.gatherResults(same + [other])
    assert rig.pool.stats(_target()).peak_in_flight == 1
    assert len(rig.backend.opened) == 2


@pytest_twisted.ensureDeferred
async def test_cancel_queued_call(rig: Rig) -> None:
    """Cancelling a call queued behind its BMC's limit removes it; it never runs."""
    rig.backend.gate = threading.Event()
    first = rig.query()
    second = rig.query()
    second.cancel()
    with pytest.raises(defer.CancelledError):
        await second
    rig.backend.gate.set()
    assert await first == 0
    await rig.pool.settled()
    assert rig.pool.stats(_target()).open_attempts == 1


@pytest_twisted.ensureDeferred
async def test_cancel_running_call_keeps_its_session(rig: Rig) -> None:
    """A cancelled exchange finishes in its thread; a sound session is still kept."""
    rig.backend.gate = threading.Event()
    call = rig.query()
    call.cancel()
    with pytest.raises(defer.CancelledError):
        await call
    rig.backend.gate.set()
    await rig.pool.settled()
    assert rig.pool.idle_count(_target()) == 1 and rig.pool.stats(_target()).in_flight == 0


@pytest_twisted.ensureDeferred
async def test_close_all_closes_idle_sessions(rig: Rig) -> None:
    """close_all closes every idle session."""
    await rig.query()
    await rig.query(_target(port=700))
    await rig.pool.close_all()
    assert len(rig.backend.closed) == 2 and rig.pool.idle_count(_target()) == 0


def test_limit_must_be_positive() -> None:
    """A per-BMC limit below one is refused."""
    with pytest.raises(ValueError):
        SessionPool(ThreadRunner(object(), 1), Clock(), IDLE, 0)
