"""
One queue per PDU: a PDU's requests run one at a time, in arrival order.

Many PDUs drop or garble a SET that arrives while another is being applied,
so every request to one PDU (keyed by address and port) waits for the one
before it to finish; different PDUs never wait for each other.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, TypeVar

from twisted.internet.defer import Deferred, DeferredLock

T = TypeVar("T")


class PDUQueues:
    """
    A :class:`DeferredLock` per key, dropped once nobody holds or awaits it.

    Cancelling a call that is still waiting takes it out of the queue;
    cancelling a running call cancels the Deferred its work returned, and
    the next call starts once that one has finished.
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, DeferredLock] = {}

    def run(self, key: Hashable, work: Callable[[], Deferred[T]]) -> Deferred[T]:
        """
        Run ``work`` once every earlier call for ``key`` has finished.

        :param key: identifies the PDU, e.g. ``(address, port)``.
        :param work: starts the request and returns its Deferred.
        :returns: a Deferred firing with ``work``'s result.
        """
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = DeferredLock()
        done: Deferred[T] = lock.run(work)
        done.addBoth(self._forget_if_idle, key, lock)
        return done

    def busy(self, key: Hashable) -> bool:
        """Whether a call for ``key`` is running or waiting."""
        return key in self._locks

    def _forget_if_idle(self, result: Any, key: Hashable, lock: DeferredLock) -> Any:
        if not lock.locked and not lock.waiting and self._locks.get(key) is lock:
            del self._locks[key]
        return result
