"""
Databases for the region's tests: every test that takes ``engine`` runs on
real SQLite (a file, WAL) and on real PostgreSQL (a private schema in the
database named by ``PSERV_TEST_POSTGRES``, by default the local ``test``).
"""

import os
import uuid
from datetime import datetime, timedelta

import pytest
import pytest_twisted
from sqlalchemy import create_engine, text

from pserv.region import schema
from pserv.region.db import make_engine
from pserv.region.migrate import upgrade

POSTGRES = os.environ.get("PSERV_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class Moments:
    """A hand-driven clock for the store, which takes times as arguments."""

    def __init__(self):
        self.now = datetime(2026, 11, 22, 12, 0, 0)

    def __call__(self, seconds: float = 0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def moments():
    return Moments()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/region.sqlite"
        return
    name = f"pserv_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    except Exception as e:  # pragma: no cover - the message is the point
        pytest.fail(f"PostgreSQL at {POSTGRES} is needed for the store tests: {e}")
    yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated):
    yield migrated
    with migrated.begin() as connection:
        for table in reversed(schema.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def run(engine):
    """Run store work in its own transaction, as the database pool does."""

    def run(work, *args, **kwargs):
        with engine.begin() as connection:
            return work(connection, *args, **kwargs)

    return run


@pytest.fixture
def logged():
    """Everything the region logs during a test, as text."""
    from twisted.logger import globalLogPublisher

    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def cheap_passwords(monkeypatch):
    """Hash passwords cheaply in this test (argon2's parameters travel with each hash)."""
    from pserv.region import passwords
    from tests.region.served import CHEAP

    monkeypatch.setattr(passwords, "HASHER", CHEAP)
    monkeypatch.setattr(passwords, "_unknown_user_hash", [])


@pytest_twisted.async_yield_fixture
async def served(engine, cheap_passwords):
    """The region's API on loopback, on a Clock, with credentials of every role to hand."""
    from tests.region.served import Served

    region = Served(engine)
    yield region
    await region.stop()
