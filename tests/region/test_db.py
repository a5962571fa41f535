"""
Tests for pserv.region.db.
"""

import threading

import pytest_twisted
from sqlalchemy import text
from twisted.internet import reactor

from pserv.region.db import Database, group_batches, make_engine, pool_threads


def test_sqlite_gets_one_writer_and_wal(tmp_path):
    """SQLite runs on one thread, in WAL mode with a busy timeout."""
    engine = make_engine(f"sqlite:///{tmp_path}/x.sqlite")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    assert pool_threads(engine) == 1


def test_postgres_gets_a_thread_per_connection(database_url):
    """PostgreSQL gets as many threads as pooled connections; SQLite one."""
    engine = make_engine(database_url)
    assert pool_threads(engine) == (1 if engine.dialect.name == "sqlite" else 8)


def test_group_commit_runs_one_batch_on_sqlite_and_two_on_postgres(database_url):
    """Group commit's batches in flight: SQLite's one writer; two of PostgreSQL's eight connections."""
    database = Database(make_engine(database_url), reactor)
    expected = 1 if database.backend == "sqlite" else 2
    assert group_batches(database.engine) == database.grouped.concurrency == expected
    database.engine.dispose()


@pytest_twisted.ensureDeferred
async def test_work_runs_off_the_reactor_thread(tmp_path):
    """Database work runs on the pool, not the reactor thread, in a transaction."""
    database = Database.from_url(f"sqlite:///{tmp_path}/x.sqlite", reactor)
    reactor_thread = threading.get_ident()

    def work(connection, value):
        return threading.get_ident(), connection.execute(text("SELECT :v"), {"v": value}).scalar()

    try:
        thread, value = await database.run(work, 41)
    finally:
        database.stop()
    assert thread != reactor_thread and value == 41


@pytest_twisted.ensureDeferred
async def test_failed_work_rolls_back(tmp_path):
    """Work that raises rolls back its transaction and fails the Deferred."""
    database = Database.from_url(f"sqlite:///{tmp_path}/x.sqlite", reactor)
    database.run_now(lambda c: c.execute(text("CREATE TABLE t (x INTEGER)")))

    def work(connection):
        connection.execute(text("INSERT INTO t VALUES (1)"))
        raise ValueError("no")

    try:
        try:
            await database.run(work)
        except ValueError:
            pass
        count = await database.run(lambda c: c.execute(text("SELECT count(*) FROM t")).scalar())
    finally:
        database.stop()
    assert count == 0


@pytest_twisted.ensureDeferred
async def test_each_piece_of_work_is_told_with_its_name_and_seconds_even_when_it_fails(tmp_path):
    """on_work hears, on the pool's thread, each work function's name and the seconds it took, failed or not."""
    database = Database.from_url(f"sqlite:///{tmp_path}/x.sqlite", reactor)
    told = []
    database.on_work = lambda name, seconds: told.append((name, seconds >= 0, threading.get_ident()))

    def counting(connection):
        return connection.execute(text("SELECT 1")).scalar()

    def failing(connection):
        raise ValueError("no")

    try:
        assert await database.run(counting) == 1
        try:
            await database.run(failing)
        except ValueError:
            pass
    finally:
        database.stop()
    assert [(name, ok) for name, ok, _ in told] == [("counting", True), ("failing", True)]
    assert threading.get_ident() not in {thread for _, _, thread in told}
    assert database.backlog() == 0


def test_a_released_savepoint_is_undone_with_its_transaction(database_url):
    """A savepoint released inside a transaction that then fails leaves nothing (pysqlite's own transactions are off)."""
    database = Database(make_engine(database_url), reactor=None)
    database.run_now(lambda c: c.execute(text("CREATE TABLE s (x INTEGER)")))

    def work(connection):
        connection.execute(text("SELECT 1"))
        with connection.begin_nested():
            connection.execute(text("INSERT INTO s VALUES (1)"))
        raise ValueError("after the savepoint")

    try:
        database.run_now(work)
    except ValueError:
        pass
    try:
        assert database.run_now(lambda c: c.execute(text("SELECT count(*) FROM s")).scalar()) == 0
    finally:
        database.run_now(lambda c: c.execute(text("DROP TABLE s")))
        database.engine.dispose()
