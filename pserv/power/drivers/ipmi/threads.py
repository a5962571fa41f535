"""
Blocking IPMI library calls, run off the reactor on a bounded thread pool.

pyghmi's client and python-ipmi are synchronous: each exchange blocks its
caller until the BMC answers or the library gives up.  pyghmi has an
"asynchronous" mode, but it only works when the caller drives pyghmi's own
event loop (``Session.wait_for_rsp``), which cannot share the Twisted
reactor, so both backends run here instead: on a dedicated
:class:`~twisted.python.threadpool.ThreadPool` whose size bounds how many
exchanges run at once across every BMC.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, Callable, TypeVar

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")

log = Logger()


class ThreadRunner:
    """
    A bounded thread pool that starts on first use and stops cleanly.

    :param reactor: the running reactor (``IReactorThreads``), which
        receives results from the workers.
    :param max_threads: the most blocking calls running at once.
    """

    def __init__(self, reactor: Any, max_threads: int, name: str = "pserv-ipmi") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self._reactor = reactor
        self._max_threads = max_threads
        self._name = name
        self._pool: ThreadPool | None = None
        self._shutdown_trigger: Any = None
        self._in_flight: set[Deferred[Any]] = set()

    @property
    def max_threads(self) -> int:
        """The pool's bound."""
        return self._max_threads

    @property
    def in_flight(self) -> int:
        """How many calls are queued or running in the pool."""
        return len(self._in_flight)

    def run(self, function: Callable[..., T], *args: Any) -> Deferred[T]:
        """
        Call ``function(*args)`` in a worker thread.

        The Deferred fires on the reactor thread once the call really
        returns; it cannot be cancelled (wrap it with :func:`abandonable`).
        """
        done = deferToThreadPool(self._reactor, self._started(), function, *args)
        self._in_flight.add(done)
        done.addBoth(self._landed, done)
        return done

    def drain(self) -> Deferred[None]:
        """
        Fire once every call queued or running now has returned.
        """
        waiting = DeferredList(list(self._in_flight), consumeErrors=True)
        return waiting.addCallback(lambda _: None)

    def stop(self) -> Deferred[None]:
        """
        Wait for calls already running, then stop the pool's threads.

        Waiting happens on the reactor, so stopping never blocks it for
        longer than joining idle threads takes.
        """
        return self.drain().addCallback(lambda _: self._stop_pool())

    def _started(self) -> ThreadPool:
        if self._pool is None:
            # A stopped ThreadPool cannot start again: each start gets a new one.
            self._pool = ThreadPool(minthreads=0, maxthreads=self._max_threads, name=self._name)
            self._pool.start()
            self._shutdown_trigger = self._reactor.addSystemEventTrigger(
                "during", "shutdown", self._stop_pool
            )
        return self._pool

    def _stop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        trigger, self._shutdown_trigger = self._shutdown_trigger, None
        if trigger is not None:
            with suppress(ValueError, KeyError):
                self._reactor.removeSystemEventTrigger(trigger)
        pool.stop()

    def _landed(self, result: Any, done: Deferred[Any]) -> Any:
        self._in_flight.discard(done)
        return result


def abandonable(inner: Deferred[T]) -> Deferred[T]:
    """
    A Deferred that fires with ``inner``'s result, and that can be cancelled
    while ``inner`` cannot.

    Cancelling it fails it with ``CancelledError`` at once; ``inner``'s late
    result is then dropped: no callback runs and no error goes unhandled.
    """
    outer: Deferred[T] = Deferred()
    inner.addBoth(deliver, outer)
    return outer


def deliver(result: Any, outer: Deferred[Any]) -> None:
    """
    Fire ``outer`` with ``result`` unless it was cancelled; a late failure
    is logged at debug level and consumed.
    """
    if not outer.called:
        if isinstance(result, Failure):
            outer.errback(result)
        else:
            outer.callback(result)
    elif isinstance(result, Failure):
        log.debug(
            "dropped a late failure after cancel: {error}",
            error=result.getErrorMessage(),
        )
    return None
