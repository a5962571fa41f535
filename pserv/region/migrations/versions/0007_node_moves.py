"""
Nodes move between clusters by a hand-over: ``moving_from`` names the
cluster that must give the node up before its new cluster gets it, and
``epoch`` counts the hand-overs, so that an observation reported from an
earlier one is never applied.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("moving_from", sa.String(63)))
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("epoch")
        batch.drop_column("moving_from")
