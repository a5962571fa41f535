"""
Users, roles and UI sessions: API tokens get a role (the tokens that
exist become ``admin``, as they could do everything before), and three
tables arrive: ``users`` (argon2 password hashes), ``sessions`` (the
digest of each session id, never the id) and ``login_failures`` (for
rate-limiting failed logins; the name tried is kept only as a digest).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Give tokens a role, then create the three tables."""
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("role", server_default=None, existing_type=sa.String(16), existing_nullable=False)
    _users()
    _sessions()
    _login_failures()


def _users() -> None:
    """Users: a name, an argon2 hash of the password, a role, whether disabled."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )


def _sessions() -> None:
    """UI sessions: the digest of the cookie's id, whose user, until when."""
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("digest", name="uq_sessions_digest"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])


def _login_failures() -> None:
    """Recent failed logins, by the digest of the name tried and the address."""
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("name_digest", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failures"),
    )
    for column in ("at", "name_digest", "address"):
        op.create_index(f"ix_login_failures_{column}", "login_failures", [column])


def downgrade() -> None:
    for table in ("login_failures", "sessions", "users"):
        op.drop_table(table)
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("role")
