"""
Reasons, batches and node versions: a power action may say why it was
asked for (``power_actions.reason``); a bulk request is remembered as a
batch (``power_batches``, and its actions in ``power_batch_actions``, which
go with their actions when a node is deleted); and a node counts its
changes (``nodes.version``, 1 for the nodes that exist), for the API's
``ETag`` and ``If-Match``.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.add_column(sa.Column("reason", sa.Text))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    _batches()
    _batch_actions()


def _batches() -> None:
    """A bulk request: when, by whom, which kind, why, and how many actions."""
    op.create_table(
        "power_batches",
        sa.Column("id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("requested_by", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_power_batches"),
        sqlite_autoincrement=True,
    )


def _batch_actions() -> None:
    """Each batch's actions, one row per action."""
    op.create_table(
        "power_batch_actions",
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("action_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "action_id", name="pk_power_batch_actions"),
        sa.ForeignKeyConstraint(["batch_id"], ["power_batches.id"],
                                name="fk_power_batch_actions_batch_id_power_batches"),
        sa.ForeignKeyConstraint(["action_id"], ["power_actions.id"], ondelete="CASCADE",
                                name="fk_power_batch_actions_action_id_power_actions"),
    )
    op.create_index("ix_power_batch_actions_action_id", "power_batch_actions", ["action_id"])


def downgrade() -> None:
    op.drop_table("power_batch_actions")
    op.drop_table("power_batches")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("power_actions") as batch:
        batch.drop_column("reason")
