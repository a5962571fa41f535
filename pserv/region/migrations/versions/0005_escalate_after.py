"""
A soft_off action may escalate: the seconds it waits for a graceful
shutdown before a hard off (``NULL``: it never escalates, as before).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.add_column(sa.Column("escalate_after", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.drop_column("escalate_after")
