"""citizens' receipts (a tracking token per report) and the notification outbox with its webhooks

Revision ID: 0011
Revises: 0009

* ``report_receipts``: one row per report a citizen (a user, or an API key) filed: the
  SHA-256 of the report's tracking token (the token itself is never stored), who filed
  it (for 我的上报 and for reading one's own Open311 request) and when.
* ``webhooks``: where to POST notifications, for a department or for one report.
* ``notifications``: the outbox; one row per (webhook, event), delivered with retries.
* ``issue_events.department_code``: the issue's department after the step (whom a
  dispatch sent it to), and an index on the events' time for the notifier's scan.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable, no constraint: plain ADD COLUMN on SQLite too
    op.add_column("issue_events", sa.Column("department_code", sa.String(length=60), nullable=True))
    op.create_index("ix_issue_events_at", "issue_events", ["jurisdiction_code", "at"])
    op.create_table(
        "report_receipts",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL", name="fk_report_receipts_user"),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="SET NULL",
                                name="fk_report_receipts_api_key"),
        sa.PrimaryKeyConstraint("issue_id"),
        sa.UniqueConstraint("token_sha256", name="uq_report_receipt_token"),
    )
    op.create_index("ix_report_receipts_user", "report_receipts", ["user_id", "created_at"])
    op.create_index("ix_report_receipts_api_key", "report_receipts", ["api_key_id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("department_code", sa.String(length=60), nullable=True),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("jurisdiction_code", "department_code", name="uq_webhook_department"),
        sa.UniqueConstraint("issue_id", name="uq_webhook_issue"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id", "event_key", name="uq_notification_event"),
    )
    op.create_index("ix_notifications_pending", "notifications", ["delivered_at", "next_at"])
    op.create_index("ix_notifications_created", "notifications", ["jurisdiction_code", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_created", table_name="notifications")
    op.drop_index("ix_notifications_pending", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("webhooks")
    op.drop_index("ix_report_receipts_api_key", table_name="report_receipts")
    op.drop_index("ix_report_receipts_user", table_name="report_receipts")
    op.drop_table("report_receipts")
    op.drop_index("ix_issue_events_at", table_name="issue_events")
    op.drop_column("issue_events", "department_code")
