"""
An ``on`` or ``cycle`` action may name the boot device its cluster sets
before the power command (``boot_device``: ``pxe``, ``disk``, ``cdrom``,
``bios``; ``NULL``: none, as before), and whether for every boot
(``boot_persistent``; false: the next boot only).

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


KEEP_IDS = {"sqlite_autoincrement": True}
"""SQLite's batch mode may copy the table: it keeps ``AUTOINCREMENT`` (ids never reused, 0003)."""


def upgrade() -> None:
    with op.batch_alter_table("power_actions", table_kwargs=KEEP_IDS) as batch:
        batch.add_column(sa.Column("boot_device", sa.String(8)))
        batch.add_column(sa.Column("boot_persistent", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("power_actions", table_kwargs=KEEP_IDS) as batch:
        batch.drop_column("boot_persistent")
        batch.drop_column("boot_device")
