"""indexes on the lifecycle times that the dashboards count by: registered, handled, closed, deadline

Revision ID: 0015
Revises: 0009

The home page, the league table and the plan-task board count issues in SQL per day,
department or category within a period (``geo.store.figures``): each count reads the
rows of one lifecycle time in the period through an index on (jurisdiction, that
time), so it costs the period's issues, not the table's. ``reported_at`` already has
one (``ix_issues_reported_at``).
"""
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None

#: index name → the lifecycle time it orders
_INDEXES = {
    "ix_issues_registered_at": "registered_at",
    "ix_issues_handled_at": "handled_at",
    "ix_issues_closed_at": "closed_at",
    "ix_issues_deadline_at": "deadline_at",
}


def upgrade() -> None:
    for name, column in _INDEXES.items():
        op.create_index(name, "issues", ["jurisdiction_code", column])


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="issues")
