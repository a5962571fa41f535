"""
The simulated region's database: real SQLite in memory, with the region's
schema, and a :class:`~pserv.region.db.Database` whose work runs on the
simulated clock.

Work runs one transaction at a time in the order it was asked for, as on
the region's single SQLite writer thread, each taking a drawn duration.
A region that dies loses the work not yet run (its transaction never
committed) and every answer not yet delivered; the database keeps what
was committed.
"""

from __future__ import annotations

import sqlite3
from random import Random
from typing import Any, Callable, TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from twisted.internet.defer import Deferred

from pserv.region.db import Database
from pserv.region.migrate import upgrade
from pserv.sim.process import ProcessClock

T = TypeVar("T")

_template: sqlite3.Connection | None = None


def _schema_template() -> sqlite3.Connection:
    """An empty database at the schema's head, made once per process."""
    global _template
    if _template is None:
        engine = _memory_engine(sqlite3.connect(":memory:", check_same_thread=False))
        upgrade(engine)
        _template = engine.raw_connection().driver_connection
    return _template


def _memory_engine(connection: sqlite3.Connection) -> Engine:
    return create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)


def fresh_engine() -> Engine:
    """A new in-memory SQLite database holding the region's schema."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    _schema_template().backup(connection)
    return _memory_engine(connection)


class SimDatabase(Database):
    """
    :class:`~pserv.region.db.Database` on a simulated clock.

    :param clock: the region process's clock.
    :param duration: each transaction's time, drawn per transaction.
    """

    def __init__(self, engine: Engine, clock: ProcessClock, rng: Random,
                 duration: tuple[float, float] = (0.0002, 0.003)) -> None:
        super().__init__(engine, reactor=clock)
        self.clock = clock
        self.rng = rng
        self.duration = duration
        self._free_at = 0.0

    def start(self) -> None:
        """No thread pool: work runs on the simulated clock."""

    def stop(self) -> None:
        """Nothing to stop; the engine outlives the region."""

    def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        now = self.clock.seconds()
        self._free_at = max(self._free_at, now) + self.rng.uniform(*self.duration)
        result: Deferred[T] = Deferred()
        self.clock.callLater(self._free_at - now, self._transact, result, work, args, kwargs)
        return result

    def _transact(self, result: Deferred[T], work: Callable[..., T], args: Any, kwargs: Any) -> None:
        try:
            value = self.run_now(work, *args, **kwargs)
        except BaseException as e:
            result.errback(e)
        else:
            result.callback(value)
