"""API keys belong to a user; a counter of each jurisdiction's reference-layer replacements

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A foreign key cannot be added by ALTER TABLE on SQLite: batch mode copies the table there.
    # Keys made before this revision keep no user and act as the public role (submit only).
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_api_keys_user", "users", ["user_id"], ["id"], ondelete="CASCADE")
    op.create_table(
        "layer_versions",
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jurisdiction_code"),
    )


def downgrade() -> None:
    op.drop_table("layer_versions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_keys_user", type_="foreignkey")
        batch_op.drop_column("user_id")
