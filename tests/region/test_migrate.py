"""
Tests for pserv.region.migrate, on SQLite and PostgreSQL.
"""

from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pserv.region.migrate import current_revision, head_revision, upgrade
from pserv.region.schema import metadata
from pserv.region.store.nodes import create_node, get_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_migrations_build_the_schema(engine):
    """The migrated database matches the tables the code declares, column for column."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert current_revision(engine) == head_revision() == "0004"


def test_upgrade_again_keeps_rows(engine, run, moments):
    """Running the upgrade on an up-to-date database changes nothing and loses no row."""
    node = run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
               moments(), power_types=POWER_TYPES_WITH_FAKE)
    upgrade(engine)
    assert run(get_node, node["id"]) == node


def test_upgrade_from_0001_keeps_every_node(database_url):
    """A database at revision 0001 upgraded to the newest keeps its nodes, with drift_policy observe."""
    import uuid

    from sqlalchemy import text

    from pserv.region.db import make_engine

    if database_url.startswith("sqlite"):
        url = database_url.replace("region.sqlite", f"old-{uuid.uuid4().hex[:6]}.sqlite")
    else:
        url = database_url
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        schema_name = f"old_{uuid.uuid4().hex[:10]}"
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema_name}"))
        engine.dispose()
        engine = make_engine(url.split("?")[0] + f"?options=-csearch_path%3D{schema_name}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO nodes (name, power_type, power_parameters, power_secrets, desired_power_state, "
            "power_state, generation, lifecycle, created_at, updated_at) VALUES "
            "('old', 'fake', '{\"address\": \"a\"}', '{}', 'on', 'off', 3, 'ready', '2026-01-01', '2026-01-01')"
        ))
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT name, generation, drift_policy FROM nodes")).one()
    assert tuple(row) == ("old", 3, "observe")
    if not url.startswith("sqlite"):
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
    engine.dispose()


def _old_engine(database_url):
    """An engine on a database of its own (a new SQLite file, or a new PostgreSQL schema) and its cleanup."""
    import uuid

    from sqlalchemy import text

    from pserv.region.db import make_engine

    if database_url.startswith("sqlite"):
        engine = make_engine(database_url.replace("region.sqlite", f"old-{uuid.uuid4().hex[:6]}.sqlite"))
        return engine, engine.dispose
    schema_name = f"old_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema_name}"))
    engine = make_engine(database_url.split("?")[0] + f"?options=-csearch_path%3D{schema_name}")

    def cleanup():
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
        admin.dispose()

    return engine, cleanup


def test_upgrade_from_0003_makes_every_token_admin(database_url):
    """Tokens that existed before roles become admin, still valid; a token row without a role is refused after."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from pserv.region.store.tokens import digest, token_credential

    engine, cleanup = _old_engine(database_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO tokens (name, digest, created_at) VALUES "
                                    f"('old', '{digest('pserv_old')}', '2026-01-01')"))
        upgrade(engine)
        with engine.connect() as connection:
            assert tuple(connection.execute(text("SELECT name, role FROM tokens")).one()) == ("old", "admin")
            assert token_credential(connection, "pserv_old") == ("old", "admin")
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("INSERT INTO tokens (name, digest, created_at) VALUES ('new', 'd', '2026-01-02')"))
    finally:
        cleanup()


def test_downgrade_from_0004_keeps_the_tokens(database_url):
    """Going back to 0003 drops users and sessions and the tokens' role, and keeps the tokens."""
    from alembic import command
    from sqlalchemy import inspect, text

    from pserv.region.migrate import _config
    from pserv.region.store.tokens import create_token

    engine, cleanup = _old_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            create_token(connection, "kept", datetime(2026, 1, 1))
            command.downgrade(_config(connection), "0003")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM tokens")).scalars().all() == ["kept"]
        tables = set(inspect(engine).get_table_names())
        assert not {"users", "sessions", "login_failures"} & tables
    finally:
        cleanup()
