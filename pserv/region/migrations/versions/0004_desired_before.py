"""
Each power action records the desired state its request replaced.

Cancelling a request withdraws it: once the cancelled action ends without
being done, the node's desired state goes back to what it was before that
request, so neither recovery nor drift enforcement carries out a request
the operator withdrew.  Actions from before this revision have no record
(``NULL``): cancelling one leaves the desired state as it is, as before.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.add_column(sa.Column("desired_before", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("power_actions") as batch:
        batch.drop_column("desired_before")
