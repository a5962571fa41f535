"""
The region's database: an engine, and a thread pool sized for it.

Every piece of database work is a function ``work(connection, ...)`` that
runs in one transaction on the pool, never on the reactor thread, and
returns plain data.  SQLite (the embedded default) gets one thread, WAL and
a busy timeout; PostgreSQL gets as many threads as its connection pool,
and group commit runs :data:`POSTGRES_BATCHES` batches of them at once.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from pserv.region.group_commit import GroupCommit

T = TypeVar("T")

POSTGRES_POOL = 8
"""Connections (and threads) for PostgreSQL."""

POSTGRES_BATCHES = 2
"""Group commit's batches in flight at once on PostgreSQL.  The region's
Python, one GIL, is the limit, not the database: with a batch per
connection (8) the power requests queued meanwhile were spread over
eight batches of one or two, each paying its own checkout, ping and
commit, and its thread fought the others for the GIL; two keep one
batch in Python while the other waits for the database."""


def make_engine(url: str) -> Engine:
    """
    An engine for ``url``, tuned for the region's use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=POSTGRES_POOL, max_overflow=0, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The transactions are SQLAlchemy's, not the driver's: pysqlite would
    # begin one only before the first write, and a SAVEPOINT outside one
    # commits at its RELEASE, which group commit's savepoints cannot have.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE: take the write lock at the start, so that a transaction
    # that read never finds, at its first write, that another process
    # wrote meanwhile (SQLITE_BUSY_SNAPSHOT, which no timeout waits out).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def pool_threads(engine: Engine) -> int:
    """
    How many threads may use ``engine`` at once: one writer for SQLite.
    """
    if engine.dialect.name == "sqlite":
        return 1
    return POSTGRES_POOL


def group_batches(engine: Engine) -> int:
    """
    How many group commit batches may run on ``engine`` at once: SQLite's
    one writer, or :data:`POSTGRES_BATCHES`.
    """
    if engine.dialect.name == "sqlite":
        return 1
    return POSTGRES_BATCHES


class Database:
    """
    Runs database work off the reactor thread.

    :param reactor: what results are delivered on.
    """

    def __init__(self, engine: Engine, reactor: Any) -> None:
        self.engine = engine
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=pool_threads(engine), name="pserv-db")
        self._started = False
        self.grouped = GroupCommit(self, concurrency=group_batches(engine))
        self.on_work: Callable[[str, float], object] | None = None
        """Told, on the pool's thread, each piece of :meth:`run`'s work by name and the seconds it took
        (by the reactor's clock): the region's metrics."""

    @classmethod
    def from_url(cls, url: str, reactor: Any) -> Database:
        """
        A database for ``url``.
        """
        return cls(make_engine(url), reactor)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def backlog(self) -> int:
        """How many pieces of work wait for a thread of the pool."""
        return int(self.pool.q.qsize())

    def start(self) -> None:
        """Start the thread pool."""
        if not self._started:
            self.pool.start()
            self._started = True

    def stop(self) -> None:
        """Stop the thread pool and close every connection."""
        if self._started:
            self.pool.stop()
            self._started = False
        self.engine.dispose()

    def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        """
        Run ``work(connection, *args, **kwargs)`` in one transaction on the
        pool; the Deferred fires on the reactor with its result.
        """
        self.start()
        if self.on_work is None:
            return deferToThreadPool(self.reactor, self.pool, self.run_now, work, *args, **kwargs)
        return deferToThreadPool(self.reactor, self.pool, self._timed, work, *args, **kwargs)

    def _timed(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = self.reactor.seconds()
        try:
            return self.run_now(work, *args, **kwargs)
        finally:
            if self.on_work is not None:
                self.on_work(getattr(work, "__name__", "work"), self.reactor.seconds() - started)

    def run_grouped(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        """
        Run ``work`` as :meth:`run` does, but in one transaction with the
        others queued meanwhile (:mod:`pserv.region.group_commit`).
        """
        return self.grouped.run(work, *args, **kwargs)

    def run_now(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """
        Run ``work`` in one transaction on the calling thread: for the
        command line, where no reactor runs.
        """
        with self.engine.begin() as connection:
            return work(connection, *args, **kwargs)
