"""
Several regions and cluster groups: a cluster names its ``group`` and the
region it is connected to (``region``), with its last heartbeat and the
end of its lease; an operator may drain it (``draining``); a node may name
a ``group`` instead of a cluster, and its ``cluster`` then says which
member holds it.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("group", sa.String(63)))
        batch.add_column(sa.Column("region", sa.String(127)))
        batch.add_column(sa.Column("last_heartbeat_at", sa.DateTime))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime))
        batch.add_column(sa.Column("draining", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("group", sa.String(63)))
    op.create_index("ix_nodes_group", "nodes", ["group"])


def downgrade() -> None:
    op.drop_index("ix_nodes_group", "nodes")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("group")
    with op.batch_alter_table("clusters") as batch:
        for column in ("draining", "lease_expires_at", "last_heartbeat_at", "region", "group"):
            batch.drop_column(column)
