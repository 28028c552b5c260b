"""failed logins slow down instead of locking: one counter per client address and per user name

Revision ID: 0009
Revises: 0008

``login_failures`` (one row per failed login of a name from an address, which locked
that pair) gives way to ``login_throttles``: per ``scope`` (``ip`` or ``name``) and
``key``, the failures counted and when the next attempt may start. The old rows are
not carried over: they only ever held a 15-minute window.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index("ix_login_throttles_next_at", "login_throttles", ["next_at"])
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["name", "ip", "at"])
    op.drop_index("ix_login_throttles_next_at", table_name="login_throttles")
    op.drop_table("login_throttles")
