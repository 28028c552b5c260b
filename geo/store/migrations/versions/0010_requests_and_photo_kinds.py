"""departments' requests (退回, 延期), photo kinds, the index of merged duplicates

Revision ID: 0010
Revises: 0009

``issue_requests`` holds a department's request on an issue it was sent (``return``: not its
own; ``extension``: more working days) and the dispatcher's answer; a partial unique index
admits one pending request per issue. ``issue_photos.kind`` says what a photo shows
(``report``, ``before``, ``after``, ``verify``; NULL for the photos stored before). The index on
``issues.merged_into`` lists an issue's merged duplicates without reading every issue.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "issue_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("department_code", sa.String(length=60), nullable=True),
        sa.Column("asked_by", sa.String(length=100), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("ask_event_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answer_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issue_requests_issue", "issue_requests", ["issue_id"])
    op.create_index("ix_issue_requests_status", "issue_requests", ["jurisdiction_code", "status"])
    op.create_index("uq_issue_requests_pending", "issue_requests", ["issue_id"], unique=True,
                    sqlite_where=_PENDING, postgresql_where=_PENDING)
    # A nullable column without constraints: plain ADD COLUMN works on SQLite too (no batch copy).
    op.add_column("issue_photos", sa.Column("kind", sa.String(length=20), nullable=True))
    op.create_index("ix_issues_merged_into", "issues", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_issues_merged_into", table_name="issues")
    op.drop_column("issue_photos", "kind")
    op.drop_index("uq_issue_requests_pending", table_name="issue_requests")
    op.drop_index("ix_issue_requests_status", table_name="issue_requests")
    op.drop_index("ix_issue_requests_issue", table_name="issue_requests")
    op.drop_table("issue_requests")
