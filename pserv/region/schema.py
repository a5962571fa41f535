"""
The region's tables, as SQLAlchemy Core metadata.

The migrations under ``migrations/versions`` build exactly this; a test
compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime),
    Column("group", String(63)),
    Column("region", String(127)),
    Column("last_heartbeat_at", DateTime),
    Column("lease_expires_at", DateTime),
    Column("draining", Boolean, nullable=False, server_default=false()),
    Column("budget", String(63)),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("cluster", String(63), index=True),
    Column("power_type", String(32), nullable=False),
    Column("power_parameters", JSON, nullable=False),
    Column("power_secrets", JSON, nullable=False),
    Column("desired_power_state", String(16), nullable=False),
    Column("power_state", String(16), nullable=False),
    Column("power_state_observed_at", DateTime),
    Column("power_error", Text),
    Column("generation", Integer, nullable=False),
    Column("lifecycle", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("drift_policy", String(16), nullable=False, server_default="observe"),
    Column("moving_from", String(63)),
    Column("epoch", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("group", String(63), index=True),
    Column("locked", Boolean, nullable=False, server_default=false()),
    Column("locked_by", String(63)),
    Column("lock_reason", Text),
    Column("locked_at", DateTime),
    Column("budget", String(63), index=True),
    sqlite_autoincrement=True,
)

power_actions = Table(
    "power_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("node_id", Integer, ForeignKey("nodes.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(63), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("error", Text),
    Column("superseded_by", Integer),
    Column("power_state", String(16)),
    Column("cancel_requested", Boolean, nullable=False),
    Column("progress", String(32)),
    Column("desired_before", String(16)),
    Column("escalate_after", Float),
    Column("reason", Text),
    Column("boot_device", String(8)),
    Column("boot_persistent", Boolean, nullable=False, server_default=false()),
    Column("not_before", DateTime),
    Index("ix_power_actions_node_id_status", "node_id", "status"),
    Index("ix_power_actions_status_requested_at", "status", "requested_at"),
    sqlite_autoincrement=True,
)

power_batches = Table(
    "power_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("requested_by", String(63), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text),
    Column("size", Integer, nullable=False),
    sqlite_autoincrement=True,
)

power_batch_actions = Table(
    "power_batch_actions",
    metadata,
    Column("batch_id", Integer, ForeignKey("power_batches.id"), primary_key=True),
    Column("action_id", Integer, ForeignKey("power_actions.id", ondelete="CASCADE"), primary_key=True, index=True),
)

budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("starts", Integer, nullable=False),
    Column("per_seconds", Float, nullable=False),
    Column("in_flight", Integer),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

budget_waits = Table(
    "budget_waits",
    metadata,
    Column("action_id", Integer, ForeignKey("power_actions.id", ondelete="CASCADE"), primary_key=True),
    Column("budget", String(63), nullable=False),
    Column("asked_at", DateTime, nullable=False),
    Index("ix_budget_waits_budget_action_id", "budget", "action_id"),
)

budget_starts = Table(
    "budget_starts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("budget", String(63), nullable=False),
    Column("action_id", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_budget_starts_budget_at", "budget", "at"),
    sqlite_autoincrement=True,
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("node_id", Integer, index=True),
    Column("node_name", String(63)),
    Column("action_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("role", String(16), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("name_digest", String(64), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
)
