"""The issues' unique key becomes a unique index, which a bulk load can drop and build again

Revision ID: 0007
Revises: 0006

A bulk load that inserts a million issues along a Z curve adds their keys to the
unique b-tree in random order (3.5 s on SQLite); built afterwards from a sort it
takes 1.5 s. An index can be dropped inside the load's transaction; a table
constraint cannot, on SQLite at all.
"""
import re

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NAME = "uq_issue_source_external_id"
_KEY = ["jurisdiction_code", "source", "external_id"]
_CONSTRAINT_SQL = re.compile(rf",\s*CONSTRAINT {_NAME} UNIQUE \(jurisdiction_code, source, external_id\)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_issues(lambda sql: _CONSTRAINT_SQL.subn("", sql))
    else:
        op.drop_constraint(_NAME, "issues", type_="unique")
    op.create_index(_NAME, "issues", _KEY, unique=True)


def downgrade() -> None:
    op.drop_index(_NAME, "issues")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_issues(lambda sql: re.subn(r"\)\s*$", f", CONSTRAINT {_NAME} UNIQUE ({', '.join(_KEY)})\n)", sql))
    else:
        op.create_unique_constraint(_NAME, "issues", _KEY)


def _rebuild_sqlite_issues(edit) -> None:
    """Give ``issues`` a new CREATE TABLE statement, the way SQLite documents for changes ALTER TABLE cannot make.

    A copy with the edited definition takes the rows (ids kept, so SpatiaLite's
    R*Tree of the points stays true); the old table is dropped and the copy renamed;
    the table's indexes and SpatiaLite's triggers are created again from their stored
    SQL. ``geo.store.db.init_db`` runs migrations with foreign keys off: dropping the old
    table would otherwise delete every issue's events and contacts by cascade. Alembic's
    batch mode is not used: it re-creates the spatial index and triggers under its
    temporary table's name.
    """
    conn = op.get_bind()
    table_sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'issues'").scalar_one()
    new_sql, edits = edit(table_sql)
    if edits != 1:
        raise RuntimeError(f"migration 0007: unexpected definition of table issues: {table_sql}")
    dependents = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'issues' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).scalars().all()
    conn.exec_driver_sql(re.sub(r'^CREATE TABLE "?issues"?', "CREATE TABLE issues_rebuilt", new_sql))
    conn.exec_driver_sql("INSERT INTO issues_rebuilt SELECT * FROM issues")
    conn.exec_driver_sql("DROP TABLE issues")
    conn.exec_driver_sql("ALTER TABLE issues_rebuilt RENAME TO issues")
    for sql in dependents:
        conn.exec_driver_sql(sql)
