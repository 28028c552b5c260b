"""an imported issue's lifecycle is one row (imported_lifecycles) instead of an issue_events row a step

Revision ID: 0012
Revises: 0015

A 12345 export of a million closed cases wrote five million audit events; the same
history is now one row an issue, read back as events. Events imported before stay in
``issue_events`` (they are read the same way); a downgrade turns the rows back into
events, so that nothing of an issue's history is lost either way.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None

#: (time column, action, status entered): the loop's steps after the report
_STEPS = (("registered_at", "register", "registered"), ("dispatched_at", "dispatch", "dispatched"),
          ("handled_at", "handle", "handled"), ("verified_at", "verify", "verified"),
          ("closed_at", "close", "closed"))


def upgrade() -> None:
    op.create_table(
        "imported_lifecycles",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=9), nullable=False),
        *(sa.Column(column, sa.DateTime(), nullable=True) for column, _, _ in _STEPS),
        sa.Column("ended", sa.String(length=20), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issue_id"),
    )


def downgrade() -> None:
    # each imported step becomes the event it stood for, as imports wrote them before
    events = "INSERT INTO issue_events (jurisdiction_code, issue_id, at, actor, action, from_status, to_status) "
    source = ("FROM imported_lifecycles l JOIN issues i ON i.id = l.issue_id "
              "JOIN import_batches b ON b.id = i.import_batch_id")
    previous = "reported"
    for column, action, status in _STEPS:
        op.execute(f"{events} SELECT l.jurisdiction_code, l.issue_id, l.{column}, b.actor, '{action}', '{previous}', "
                   f"'{status}' {source} WHERE l.{column} IS NOT NULL")
        previous = status
    op.execute(f"{events} SELECT l.jurisdiction_code, l.issue_id, l.ended_at, b.actor, "
               f"CASE l.ended WHEN 'refused' THEN 'refuse' ELSE 'merge' END, 'reported', l.ended {source} "
               "WHERE l.ended IS NOT NULL")
    op.drop_table("imported_lifecycles")
