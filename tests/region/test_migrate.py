"""
Tests for pserv.region.migrate, on SQLite and PostgreSQL.
"""

import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from pserv.region.db import make_engine
from pserv.region.migrate import _config, current_revision, head_revision, upgrade
from pserv.region.schema import metadata
from pserv.region.store.nodes import create_node, get_node
from pserv.region.store.tokens import create_token, digest, token_credential
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def test_migrations_build_the_schema(engine):
    """The migrated database matches the tables the code declares, column for column."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert current_revision(engine) == head_revision() == "0012"


def test_upgrade_again_keeps_rows(engine, run, moments):
    """Running the upgrade on an up-to-date database changes nothing and loses no row."""
    node = run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
               moments(), power_types=POWER_TYPES_WITH_FAKE)
    upgrade(engine)
    assert run(get_node, node["id"]) == node


@contextmanager
def database_at(database_url, revision):
    """A new, empty database (SQLite) or schema (PostgreSQL) migrated to ``revision``: its engine."""
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
    upgrade(engine, revision)
    try:
        yield engine
    finally:
        if not url.startswith("sqlite"):
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
        engine.dispose()


OLD_NODE = (
    "INSERT INTO nodes (name, power_type, power_parameters, power_secrets, desired_power_state, "
    "power_state, generation, lifecycle, created_at, updated_at) VALUES "
    "('old', 'fake', '{\"address\": \"a\"}', '{}', 'on', 'off', 3, 'ready', '2026-01-01', '2026-01-01')"
)
OLD_ACTION = (
    "INSERT INTO power_actions (node_id, kind, generation, status, requested_by, requested_at, cancel_requested) "
    "SELECT id, 'on', 3, 'pending', 'ops', '2026-01-01', false FROM nodes"
)


def test_upgrade_from_0001_keeps_every_node(database_url):
    """A database at revision 0001 upgraded to the newest keeps its nodes: drift_policy observe, not moving, epoch 0."""
    with database_at(database_url, "0001") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT name, generation, drift_policy, moving_from, epoch FROM nodes")).one()
        assert tuple(row) == ("old", 3, "observe", None, 0)


def test_upgrade_from_0003_keeps_every_action_with_no_desired_before(database_url):
    """A database at 0003 upgraded keeps its actions; they record no desired state before them (NULL)."""
    with database_at(database_url, "0003") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT kind, status, desired_before FROM power_actions")).one()
        assert tuple(row) == ("on", "pending", None)


def test_upgrade_from_0004_keeps_every_action_never_escalating(database_url):
    """A database at 0004 upgraded keeps its actions; they have no escalate_after (NULL: never escalate)."""
    with database_at(database_url, "0004") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION.replace("'on'", "'soft_off'")))
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT kind, escalate_after FROM power_actions")).one()
        assert tuple(row) == ("soft_off", None)


def test_upgrade_from_0005_makes_every_token_admin(database_url):
    """Tokens that existed before roles become admin, still valid; a token row without a role is refused after."""
    with database_at(database_url, "0005") as engine:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO tokens (name, digest, created_at) VALUES "
                                    f"('old', '{digest('pserv_old')}', '2026-01-01')"))
        upgrade(engine)
        with engine.connect() as connection:
            assert tuple(connection.execute(text("SELECT name, role FROM tokens")).one()) == ("old", "admin")
            assert token_credential(connection, "pserv_old") == ("old", "admin")
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("INSERT INTO tokens (name, digest, created_at) VALUES ('new', 'd', '2026-01-02')"))


def test_downgrade_from_0006_keeps_the_tokens(database_url):
    """Going back to 0005 drops users and sessions and the tokens' role, and keeps the tokens."""
    with database_at(database_url, "head") as engine:
        with engine.begin() as connection:
            create_token(connection, "kept", datetime(2026, 1, 1))
            command.downgrade(_config(connection), "0005")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM tokens")).scalars().all() == ["kept"]
        tables = set(inspect(engine).get_table_names())
        assert not {"users", "sessions", "login_failures"} & tables


def test_upgrade_from_0007_gives_nodes_version_1_and_actions_no_reason(database_url):
    """A database at 0007 upgraded keeps its nodes (at version 1) and actions (no reason), and has the batch tables."""
    with database_at(database_url, "0007") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
        upgrade(engine)
        with engine.connect() as connection:
            assert tuple(connection.execute(text("SELECT name, version FROM nodes")).one()) == ("old", 1)
            assert tuple(connection.execute(text("SELECT kind, reason FROM power_actions")).one()) == ("on", None)
        assert {"power_batches", "power_batch_actions"} <= set(inspect(engine).get_table_names())


def test_downgrade_from_0008_keeps_nodes_and_actions(database_url):
    """Going back to 0007 drops the batches, the reasons and the versions, and keeps the nodes and their actions."""
    with database_at(database_url, "head") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
            command.downgrade(_config(connection), "0007")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM nodes")).scalars().all() == ["old"]
            assert connection.execute(text("SELECT kind FROM power_actions")).scalars().all() == ["on"]
        tables = set(inspect(engine).get_table_names())
        assert not {"power_batches", "power_batch_actions"} & tables
        assert "version" not in {c["name"] for c in inspect(engine).get_columns("nodes")}


def test_upgrade_from_0009_keeps_every_action_with_no_boot_device(database_url):
    """A database at 0009 upgraded keeps its actions; they name no boot device and are not persistent."""
    with database_at(database_url, "0009") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
        upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT kind, boot_device, boot_persistent FROM power_actions")).one()
        assert (row[0], row[1], bool(row[2])) == ("on", None, False)


def test_downgrade_to_0009_keeps_the_actions(database_url):
    """Going back to 0009 drops the boot columns (and the locks) and keeps the actions."""
    with database_at(database_url, "head") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
            command.downgrade(_config(connection), "0009")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT kind FROM power_actions")).scalars().all() == ["on"]
        assert "boot_device" not in {c["name"] for c in inspect(engine).get_columns("power_actions")}


def test_upgrade_from_0009_still_never_reuses_an_action_id(database_url):
    """After 0010, an action deleted with its node leaves its id unused (SQLite keeps AUTOINCREMENT through the copy)."""
    with database_at(database_url, "0009") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
        upgrade(engine)
        with engine.begin() as connection:
            [old] = connection.execute(text("SELECT id FROM power_actions")).scalars().all()
            connection.execute(text("DELETE FROM power_actions"))
            connection.execute(text(OLD_ACTION))
            [new] = connection.execute(text("SELECT id FROM power_actions")).scalars().all()
        assert new > old


def test_upgrade_from_0010_leaves_nodes_unlocked_and_actions_unscheduled(database_url):
    """A database at 0010 upgraded keeps its nodes, unlocked, and its actions, for now (no not_before)."""
    with database_at(database_url, "0010") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
        upgrade(engine)
        with engine.connect() as connection:
            assert tuple(connection.execute(text("SELECT name, locked, locked_by FROM nodes")).one()) == (
                "old", False, None)
            assert tuple(connection.execute(text("SELECT kind, not_before FROM power_actions")).one()) == ("on", None)
            if engine.dialect.name == "sqlite":  # nodes is recreated there: its ids still never reused (0003)
                created = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'nodes'")).scalar()
                assert "AUTOINCREMENT" in created


def test_downgrade_from_0011_keeps_nodes_and_actions(database_url):
    """Going back to 0010 drops the locks and the schedules, and keeps the nodes, their actions and the boot columns."""
    with database_at(database_url, "head") as engine:
        with engine.begin() as connection:
            connection.execute(text(OLD_NODE))
            connection.execute(text(OLD_ACTION))
            command.downgrade(_config(connection), "0010")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM nodes")).scalars().all() == ["old"]
            assert connection.execute(text("SELECT kind FROM power_actions")).scalars().all() == ["on"]
        assert "locked" not in {c["name"] for c in inspect(engine).get_columns("nodes")}
        columns = {c["name"] for c in inspect(engine).get_columns("power_actions")}
        assert "not_before" not in columns and "boot_device" in columns
