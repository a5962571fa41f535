"""
Locks and schedules: a node may be locked (``locked``, by ``locked_by``,
for ``lock_reason``, since ``locked_at``) against being switched off; a
power action may wait until ``not_before`` to be handed to its cluster.

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}
"""On SQLite, adding a boolean with a default recreates ``nodes``: it keeps
``AUTOINCREMENT`` (migration 0003), so that ids are never reused."""


def upgrade() -> None:
    with op.batch_alter_table("nodes", table_kwargs=KEEP_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("locked_by", sa.String(63)))
        batch.add_column(sa.Column("lock_reason", sa.Text))
        batch.add_column(sa.Column("locked_at", sa.DateTime))
    with op.batch_alter_table("power_actions") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.drop_column("not_before")
    with op.batch_alter_table("nodes", table_kwargs=KEEP_AUTOINCREMENT) as batch:
        for column in ("locked_at", "lock_reason", "locked_by", "locked"):
            batch.drop_column(column)
