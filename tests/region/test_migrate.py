"""
Tests for pserv.region.migrate, on SQLite and PostgreSQL.
"""

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
    """A database at revision 0001 upgraded to the newest keeps its nodes: drift_policy observe, not moving, epoch 0."""
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
        row = connection.execute(text("SELECT name, generation, drift_policy, moving_from, epoch FROM nodes")).one()
    assert tuple(row) == ("old", 3, "observe", None, 0)
    if not url.startswith("sqlite"):
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
    engine.dispose()
