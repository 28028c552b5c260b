"""Which tables a city spreads over machines by jurisdiction, and the keys that lets them (docs/scaling.md).

The tables of :data:`DISTRIBUTED_TABLES` are a jurisdiction's data: every primary and
unique key and every foreign key between them includes ``jurisdiction_code`` (the
primary keys are ``(id, jurisdiction_code)``, id first so that a look-up by id alone
still uses them), as a table distributed on that column (Citus) or partitioned by it
(``geo.store.partitions``) requires; a jurisdiction's rows then live on one node and
join there. :data:`REFERENCE_TABLES` are small, read by every request and written
seldom: a copy on every node. :data:`COORDINATOR_TABLES` are the web tier's own state
(logins), which only the coordinator reads. ``tests/test_jurisdiction_keys.py`` keeps
every table of :mod:`geo.store.models` in one of the three.

SQLite keeps ``id INTEGER PRIMARY KEY`` for these tables: a composite key would make
``id`` an ordinary column beside SQLite's hidden ``rowid``, and SpatiaLite's R*Tree
(whose entries are rowids), the bulk loader (which gives ids and R*Tree entries
together) and the bbox join (``t.id = r.pkid``) all rely on ``id`` being the rowid.
``id`` alone is unique in a SQLite file, so ``(id, jurisdiction_code)`` is too: the
key's promise holds. :func:`_sqlite_primary_key` and :func:`_sqlite_foreign_key` render
the models' keys so for SQLite, and migration 0014 changes them on PostgreSQL only.
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint
from sqlalchemy.ext.compiler import compiles

#: a jurisdiction's data: spread over a Citus cluster by ``jurisdiction_code``, all co-located
DISTRIBUTED_TABLES = (
    "communities", "compounds", "management_grids", "contractor_zones", "unit_cells", "roads", "road_segments",
    "layer_versions", "import_batches", "issues", "reporter_contacts", "issue_events", "imported_lifecycles",
    "issue_photos", "phone_reveals", "greening_plan", "greening_records", "frontage_units", "inspections",
    "issue_requests", "report_receipts", "webhooks", "notifications",
)
#: small, on every request, seldom written: a copy on every node
REFERENCE_TABLES = ("jurisdictions", "departments", "users", "api_keys", "calendar_days")
#: the web tier's login state, read by the coordinator alone
COORDINATOR_TABLES = ("user_sessions", "login_throttles")


def references(parent: str, column: str, *, cascade: bool = False) -> ForeignKeyConstraint:
    """The foreign key ``(column, jurisdiction_code)`` to ``parent (id, jurisdiction_code)``; with ``cascade``
    the row is deleted with its parent."""
    return ForeignKeyConstraint([column, "jurisdiction_code"], [f"{parent}.id", f"{parent}.jurisdiction_code"],
                                ondelete="CASCADE" if cascade else None)


def of_issue() -> ForeignKeyConstraint:
    """The foreign key of a row that belongs to an issue (``issue_id``), deleted with it."""
    return references("issues", "issue_id", cascade=True)


def _rowid_key(columns: list[str]) -> str | None:
    """The one column SQLite keeps of a key ``(x, jurisdiction_code)`` of a distributed table, else None."""
    return columns[0] if len(columns) == 2 and columns[1] == "jurisdiction_code" else None


@compiles(PrimaryKeyConstraint, "sqlite")
def _sqlite_primary_key(constraint, compiler, **kw) -> str:
    """``PRIMARY KEY (id)`` on SQLite for a key ``(id, jurisdiction_code)``: ``id`` stays the rowid (module notes)."""
    kept = _rowid_key([c.name for c in constraint.columns])
    return f"PRIMARY KEY ({kept})" if kept else compiler.visit_primary_key_constraint(constraint, **kw)


@compiles(ForeignKeyConstraint, "sqlite")
def _sqlite_foreign_key(constraint, compiler, **kw) -> str:
    """A foreign key to ``(id, jurisdiction_code)`` references the rowid alone on SQLite, which the parent keys."""
    kept = _rowid_key([c.name for c in constraint.columns])
    target = _rowid_key([e.column.name for e in constraint.elements])
    if not (kept and target):
        return compiler.visit_foreign_key_constraint(constraint, **kw)
    parent = constraint.elements[0].column.table.name
    on_delete = f" ON DELETE {constraint.ondelete}" if constraint.ondelete else ""
    return f"FOREIGN KEY({kept}) REFERENCES {parent} ({target}){on_delete}"
