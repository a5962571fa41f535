"""
Node and action ids are never reused on SQLite.

Without ``AUTOINCREMENT``, SQLite gives a new row the largest id in use
plus one, so deleting a node (and its actions) handed its ids to the next
node and action: an operator holding action 25 would later read someone
else's action 25, and a late report for the old action could land on the
new one.  The simulation found it.  PostgreSQL's sequences never reuse
ids, so this changes nothing there.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("nodes", "power_actions")


def upgrade() -> None:
    _recreate(autoincrement=True)


def downgrade() -> None:
    _recreate(autoincrement=False)


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
