"""
The first tables: clusters, nodes, power actions, events, tokens.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the five tables, each with its indexes."""
    _clusters()
    _nodes()
    _power_actions()
    _events()
    _tokens()


def _clusters() -> None:
    """The clusters that have connected, by name."""
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_clusters"),
        sa.UniqueConstraint("name", name="uq_clusters_name"),
    )


def _nodes() -> None:
    """Each node: its power settings, desired and observed state, generation."""
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("cluster", sa.String(63)),
        sa.Column("power_type", sa.String(32), nullable=False),
        sa.Column("power_parameters", sa.JSON, nullable=False),
        sa.Column("power_secrets", sa.JSON, nullable=False),
        sa.Column("desired_power_state", sa.String(16), nullable=False),
        sa.Column("power_state", sa.String(16), nullable=False),
        sa.Column("power_state_observed_at", sa.DateTime),
        sa.Column("power_error", sa.Text),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("lifecycle", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_nodes"),
        sa.UniqueConstraint("name", name="uq_nodes_name"),
    )
    op.create_index("ix_nodes_cluster", "nodes", ["cluster"])


def _power_actions() -> None:
    """Each power action of a node, with its status and outcome."""
    op.create_table(
        "power_actions",
        sa.Column("id", sa.Integer),
        sa.Column("node_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(63), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("superseded_by", sa.Integer),
        sa.Column("power_state", sa.String(16)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("progress", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_power_actions"),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name="fk_power_actions_node_id_nodes"),
    )
    op.create_index("ix_power_actions_node_id_status", "power_actions", ["node_id", "status"])
    op.create_index("ix_power_actions_status_requested_at", "power_actions", ["status", "requested_at"])


def _events() -> None:
    """What happened, for operators."""
    op.create_table(
        "events",
        sa.Column("id", sa.Integer),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("node_id", sa.Integer),
        sa.Column("node_name", sa.String(63)),
        sa.Column("action_id", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_node_id", "events", ["node_id"])


def _tokens() -> None:
    """API tokens: a name and a digest, never the token."""
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("name", name="uq_tokens_name"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
    )


def downgrade() -> None:
    for table in ("tokens", "events", "power_actions", "nodes", "clusters"):
        op.drop_table(table)
