"""
Tests for pserv.region.migrate, on SQLite and PostgreSQL.
"""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pserv.region.migrate import current_revision, head_revision, upgrade
from pserv.region.schema import metadata
from pserv.region.store.nodes import create_node, get_node


def test_migrations_build_the_schema(engine):
    """The migrated database matches the tables the code declares, column for column."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert current_revision(engine) == head_revision() == "0001"


def test_upgrade_again_keeps_rows(engine, run, moments):
    """Running the upgrade on an up-to-date database changes nothing and loses no row."""
    node = run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}}, moments())
    upgrade(engine)
    assert run(get_node, node["id"]) == node
