"""
Group commit: power requests that arrive together are written together.

Each request is still its own unit of work, but those queued while the
database is busy run in one transaction, each in its own SAVEPOINT, with
one thread hop and one commit for all of them.  A request the store
refuses (no such node, a bad reason) rolls back only its savepoint; a
commit that fails fails every request of the batch.  Nobody hears of a
result before the batch's commit: every 202 still follows its intent's
commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from sqlalchemy.engine import Connection
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from pserv.region.db import Database

T = TypeVar("T")

BATCH_LIMIT = 256
"""The most requests one transaction takes; the rest wait for the next."""

Item = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], Deferred]


class GroupCommit:
    """
    Queues units of work for ``database`` and runs what is queued in
    batches, ``concurrency`` batches at most at once (one for SQLite's one
    writer, a connection pool's worth for PostgreSQL).
    """

    def __init__(self, database: Database, concurrency: int, limit: int = BATCH_LIMIT) -> None:
        self.database = database
        self.concurrency = concurrency
        self.limit = limit
        self.queue: list[Item] = []
        self.running = 0
        self.batches = 0

    def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        """
        Run ``work(connection, *args, **kwargs)`` in the next batch's
        transaction; the Deferred fires once that has committed.
        """
        done: Deferred[T] = Deferred()
        self.queue.append((work, args, kwargs, done))
        self._next()
        return done

    def _next(self) -> None:
        while self.queue and self.running < self.concurrency:
            batch, self.queue = self.queue[:self.limit], self.queue[self.limit:]
            self.running += 1
            self.batches += 1
            self.database.run(run_each, [(work, args, kwargs) for work, args, kwargs, _ in batch]).addBoth(
                self._answer, batch)

    def _answer(self, results: list[tuple[bool, Any]] | Failure, batch: list[Item]) -> None:
        self.running -= 1
        for index, (_, _, _, done) in enumerate(batch):
            if isinstance(results, Failure):
                done.errback(results)
            elif results[index][0]:
                done.callback(results[index][1])
            else:
                done.errback(Failure(results[index][1]))
        self._next()


def run_each(connection: Connection, items: list[tuple[Callable[..., Any], tuple, dict]]) -> list[tuple[bool, Any]]:
    """
    Run each item in its own savepoint of ``connection``'s transaction:
    ``(True, result)``, or ``(False, exception)`` with its writes undone.
    """
    results: list[tuple[bool, Any]] = []
    for work, args, kwargs in items:
        savepoint = connection.begin_nested()
        try:
            value = work(connection, *args, **kwargs)
        except Exception as e:  # this item's refusal or fault, not its neighbours'
            savepoint.rollback()
            results.append((False, e))
        else:
            savepoint.commit()
            results.append((True, value))
    return results
