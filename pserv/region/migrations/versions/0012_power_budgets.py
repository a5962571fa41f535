"""
Power budgets: a budget (``budgets``) bounds the power-ons started per
``per_seconds`` (``starts``) and, optionally, those in flight at once
(``in_flight``) for the nodes that name it (``nodes.budget``), or whose
cluster names it as the default for its nodes with none
(``clusters.budget``).  The region hands out each start
(``budget_starts``, one row a start) to the actions that ask for one, in
the order of the line they wait in (``budget_waits``).

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}
"""On SQLite, adding a column with an index recreates ``nodes``: it keeps
``AUTOINCREMENT`` (migration 0003), so that ids are never reused."""


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("starts", sa.Integer, nullable=False),
        sa.Column("per_seconds", sa.Float, nullable=False),
        sa.Column("in_flight", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_budgets_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "budget_waits",
        sa.Column("action_id", sa.Integer, sa.ForeignKey(
            "power_actions.id", ondelete="CASCADE", name="fk_budget_waits_action_id_power_actions"), primary_key=True),
        sa.Column("budget", sa.String(63), nullable=False),
        sa.Column("asked_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_budget_waits_budget_action_id", "budget_waits", ["budget", "action_id"])
    op.create_table(
        "budget_starts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("budget", sa.String(63), nullable=False),
        sa.Column("action_id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_budget_starts_budget_at", "budget_starts", ["budget", "at"])
    with op.batch_alter_table("nodes", table_kwargs=KEEP_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("budget", sa.String(63)))
        batch.create_index("ix_nodes_budget", ["budget"])
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("budget", sa.String(63)))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("budget")
    with op.batch_alter_table("nodes", table_kwargs=KEEP_AUTOINCREMENT) as batch:
        batch.drop_index("ix_nodes_budget")
        batch.drop_column("budget")
    op.drop_index("ix_budget_starts_budget_at", "budget_starts")
    op.drop_table("budget_starts")
    op.drop_index("ix_budget_waits_budget_action_id", "budget_waits")
    op.drop_table("budget_waits")
    op.drop_table("budgets")
