"""every primary, unique and foreign key of a jurisdiction's table includes jurisdiction_code (PostgreSQL)

Revision ID: 0014
Revises: 0012

What a table distributed on ``jurisdiction_code`` (Citus) or partitioned by it
(PostgreSQL's declarative partitioning) requires: primary keys become
``(id, jurisdiction_code)`` (id first: a look-up by id alone still uses the index),
the foreign keys between these tables carry the jurisdiction, and a photo's file name,
a receipt's token, an issue's webhook, a notification of an event and an issue's pending
request are unique within their jurisdiction. SQLite is left as it is (see ``geo.store.models``):
``id INTEGER PRIMARY KEY`` is its rowid, which SpatiaLite's R*Tree and the bulk loads
depend on, and is unique in the whole file, so the wider keys hold there already. A
row whose jurisdiction differs from its parent's makes the upgrade fail, naming the key.
"""
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

#: table → the column its primary key starts with (then jurisdiction_code)
_KEYS = {
    **{table: "id" for table in (
        "communities", "compounds", "management_grids", "contractor_zones", "unit_cells", "roads", "road_segments",
        "import_batches", "issues", "issue_events", "issue_photos", "phone_reveals", "greening_plan",
        "greening_records", "frontage_units", "inspections", "issue_requests", "webhooks", "notifications")},
    "reporter_contacts": "issue_id",
    "imported_lifecycles": "issue_id",
    "report_receipts": "issue_id",
}
#: (table, constraint, column, parent table, ON DELETE)
_FOREIGN_KEYS = (
    ("issues", "issues_import_batch_id_fkey", "import_batch_id", "import_batches", None),
    *((table, f"{table}_issue_id_fkey", "issue_id", "issues", "CASCADE")
      for table in ("reporter_contacts", "issue_events", "imported_lifecycles", "phone_reveals", "issue_photos",
                    "issue_requests", "report_receipts", "webhooks")),
    ("notifications", "notifications_webhook_id_fkey", "webhook_id", "webhooks", "CASCADE"),
)
#: (table, unique constraint, its columns before and after, a partial unique index's condition or None)
_UNIQUE = (
    ("issue_photos", "issue_photos_file_key", "uq_issue_photo_file", "file", None),
    ("report_receipts", "uq_report_receipt_token", "uq_report_receipt_token", "token_sha256", None),
    ("webhooks", "uq_webhook_issue", "uq_webhook_issue", "issue_id", None),
    ("notifications", "uq_notification_event", "uq_notification_event", "webhook_id, event_key", None),
    ("issue_requests", "uq_issue_requests_pending", "uq_issue_requests_pending", "issue_id", "status = 'pending'"),
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    for table, name, _, _, _ in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, column in _KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                   f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({column}, jurisdiction_code)")
    for table, name, column, parent, on_delete in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}, jurisdiction_code) "
                   f"REFERENCES {parent} (id, jurisdiction_code)" + (f" ON DELETE {on_delete}" if on_delete else ""))
    for table, old, new, columns, where in _UNIQUE:
        _unique(table, old, new, f"{columns}, jurisdiction_code", where)


def _unique(table: str, old: str, new: str, columns: str, where: str | None) -> None:
    """Replace a unique constraint (or a partial unique index, with ``where``) by one on ``columns``."""
    if where:
        op.execute(f"DROP INDEX {old}")
        op.execute(f"CREATE UNIQUE INDEX {new} ON {table} ({columns}) WHERE {where}")
    else:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {old}, ADD CONSTRAINT {new} UNIQUE ({columns})")


def downgrade() -> None:
    if not _postgres():
        return
    for table, old, new, columns, where in _UNIQUE:
        _unique(table, new, old, columns, where)
    for table, name, _, _, _ in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, column in _KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                   f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({column})")
    for table, name, column, parent, on_delete in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {parent} (id)"
                   + (f" ON DELETE {on_delete}" if on_delete else ""))
