"""
Creating and upgrading the region's schema with Alembic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """
    Create the schema, or upgrade it to ``revision``; rows are kept.
    """
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """
    The revision the database is at, or ``None`` if it has no schema.
    """
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """
    The newest revision this pserv knows.
    """
    with_engine_free = Config()
    with_engine_free.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(with_engine_free).get_current_head()
    assert head is not None
    return head
