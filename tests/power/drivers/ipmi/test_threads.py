"""
ThreadRunner and abandonable: blocking calls off the reactor, cancellable.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from pserv.power.drivers.ipmi.threads import ThreadRunner, abandonable


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class Gate:
    """Blocking work that reports its start to the reactor and waits to be let go."""

    def __init__(self, count: int) -> None:
        self.release = threading.Event()
        self.started = [defer.Deferred() for _ in range(count)]
        self._lock = threading.Lock()
        self._next = 0
        self.running = 0
        self.peak = 0

    def work(self, value: Any) -> Any:
        with self._lock:
            started = self.started[self._next]
            self._next += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        _reactor().callFromThread(started.callback, None)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        if isinstance(value, Exception):
            raise value
        return value


@pytest_twisted.ensureDeferred
async def test_runs_off_the_reactor_thread() -> None:
    """The function runs in a worker thread; its result arrives on the reactor thread."""
    runner = ThreadRunner(_reactor(), max_threads=2)
    reactor_thread = threading.get_ident()
    seen: list[int] = []
    worker_thread = await runner.run(threading.get_ident).addCallback(
        lambda ident: seen.append(threading.get_ident()) or ident
    )
    assert worker_thread != reactor_thread and seen == [reactor_thread]
    await runner.stop()


@pytest_twisted.ensureDeferred
async def test_failures_arrive_as_failures() -> None:
    """An exception in the worker fails the Deferred with that exception."""
    runner = ThreadRunner(_reactor(), max_threads=1)
    with pytest.raises(ZeroDivisionError):
        await runner.run(lambda: 1 / 0)
    await runner.stop()


@pytest_twisted.ensureDeferred
async def test_pool_is_bounded() -> None:
    """No more than max_threads calls run at once; the rest queue."""
    runner = ThreadRunner(_reactor(), max_threads=2)
    gate = Gate(4)
    calls = [runner.run(gate.work, n) for n in range(4)]
    await defer.gatherResults(gate.started[:2])
    assert runner.in_flight == 4 and not any(d.called for d in gate.started[2:])
    gate.release.set()
    assert await defer.gatherResults(calls) == [0, 1, 2, 3]
    assert gate.peak == 2 and runner.max_threads == 2
    await runner.stop()


@pytest_twisted.ensureDeferred
async def test_cancel_drops_late_result() -> None:
    """A cancelled call fails at once; its late result fires nothing and logs no error."""
    runner = ThreadRunner(_reactor(), max_threads=2)
    gate = Gate(2)
    errors: list[Any] = []
    observer = lambda e: errors.append(e) if e.get("isError") else None  # noqa: E731
    globalLogPublisher.addObserver(observer)
    try:
        good = abandonable(runner.run(gate.work, "late value"))
        bad = abandonable(runner.run(gate.work, RuntimeError("late failure")))
        outcomes: list[Any] = []
        for call in (good, bad):
            call.addBoth(outcomes.append)
        await defer.gatherResults(gate.started)
        good.cancel()
        bad.cancel()
        assert [o.check(defer.CancelledError) for o in outcomes] == [defer.CancelledError] * 2
        gate.release.set()
        await runner.drain()
    finally:
        globalLogPublisher.removeObserver(observer)
    assert len(outcomes) == 2 and errors == []
    await runner.stop()


@pytest_twisted.ensureDeferred
async def test_uncancelled_abandonable_passes_result() -> None:
    """Without a cancel, abandonable fires with the worker's result or failure."""
    runner = ThreadRunner(_reactor(), max_threads=1)
    assert await abandonable(runner.run(lambda: 42)) == 42
    with pytest.raises(KeyError):
        await abandonable(runner.run(lambda: {}["missing"]))
    await runner.stop()


@pytest_twisted.ensureDeferred
async def test_stop_waits_for_running_calls() -> None:
    """stop() fires only after calls already running return, then ends the threads."""
    runner = ThreadRunner(_reactor(), max_threads=1)
    gate = Gate(1)
    call = runner.run(gate.work, "done")
    await gate.started[0]
    stopping = runner.stop()
    assert not stopping.called
    gate.release.set()
    await stopping
    assert call.called and runner.in_flight == 0


@pytest_twisted.ensureDeferred
async def test_runs_again_after_stop() -> None:
    """A stopped runner starts a fresh pool on the next call."""
    runner = ThreadRunner(_reactor(), max_threads=1)
    assert await runner.run(lambda: 1) == 1
    await runner.stop()
    assert await runner.run(lambda: 2) == 2
    await runner.stop()


def test_needs_a_thread() -> None:
    """A pool of zero threads is refused."""
    with pytest.raises(ValueError):
        ThreadRunner(object(), max_threads=0)
