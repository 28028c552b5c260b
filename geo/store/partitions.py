"""A jurisdiction's issues on another PostgreSQL server: declarative LIST partitions and ``postgres_fdw``.

What PostgreSQL offers by itself towards a city on several machines (docs/scaling.md
has the plan with Citus, which does the same with more care): :func:`partition_by_jurisdiction`
turns ``issues`` and ``issue_events`` of a freshly migrated citymap database into tables
partitioned by ``jurisdiction_code``: a partition per jurisdiction named, one for all
others (``DEFAULT``), and, for the jurisdictions given a remote database, a foreign
table on that server (another citymap database: its own ``issues`` and ``issue_events``
with their keys and indexes) as their partition. citymap's code runs unchanged on it:
reads and writes of a jurisdiction go to its partition, COPY and ``INSERT … RETURNING``
route rows to the remote server, PostGIS operators are pushed down to it (the server is
declared with ``extensions 'postgis'``).

What a partition on another server costs: PostgreSQL builds no unique index over
partitions of which one is a foreign table, so the parent tables have no primary key
and no unique index; each local partition has its own (the keys include
``jurisdiction_code``, so a key unique in its partition is unique in the table) and the
remote server keeps them on its tables. For the same reason the foreign keys that
reference ``issues`` (contacts, imported lifecycles, photos, phone reveals, events) and
the issues' own to their import batch are dropped: a deleted issue no longer takes its
rows with it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from sqlalchemy import Connection, Engine, make_url

from geo.errors import ConfigError
from geo.store.db import is_sqlite, make_engine, write_tx

#: the tables partitioned, in the order they are made so
PARTITIONED_TABLES = ("issues", "issue_events")


def partition_by_jurisdiction(engine: Engine, *, local: Sequence[str] = (),
                              remote: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Make :data:`PARTITIONED_TABLES` partitioned by jurisdiction, some partitions on other servers.

    Parameters
    ----------
    engine : Engine
        A PostGIS database migrated to head (``geo.store.db.init_db``) whose
        partitioned tables are still empty.
    local : sequence of str, keyword-only
        Jurisdiction codes that get a partition of their own here.
    remote : mapping of str to str, keyword-only
        Jurisdiction code → SQLAlchemy URL of a citymap database migrated to head on
        another PostgreSQL server (``postgresql+psycopg://user@host:port/db``, with
        PostGIS); that jurisdiction's rows live there, in its ``issues`` and
        ``issue_events``, whose foreign keys are dropped (the import batches they
        would point to are here).

    Returns
    -------
    dict
        Table → the names of its partitions.

    Raises
    ------
    geo.errors.ConfigError
        SQLite, a code given twice or not 9 digits, or tables that hold rows already.
    """
    remote = dict(remote or {})
    codes = [*local, *remote]
    if is_sqlite(engine):
        raise ConfigError("partitions by jurisdiction need PostgreSQL; SQLite holds a jurisdiction in one file")
    bad = [c for c in codes if not (isinstance(c, str) and len(c) == 9 and c.isdigit())]
    if bad or len(set(codes)) != len(codes):
        raise ConfigError(f"jurisdiction codes {codes!r}: expected distinct 9-digit codes")
    made: dict[str, list[str]] = {}
    with write_tx(engine) as conn:
        for table in PARTITIONED_TABLES:
            if conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is not None:
                raise ConfigError(f"{table} holds rows: partition a new database, then load it")
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
        servers = {code: _server(conn, code, url) for code, url in remote.items()}
        _drop_foreign_keys_to_issues(conn)
        # the remote tables hold a partition, whose import batches and layers live here
        for url in remote.values():
            node = make_engine(url)
            try:
                with write_tx(node) as node_conn:
                    _drop_foreign_keys_to_issues(node_conn)
            finally:
                node.dispose()
        for table in PARTITIONED_TABLES:
            made[table] = _partition(conn, table, local=local, servers=servers)
    return made


def _server(conn: Connection, code: str, url: str) -> str:
    """A ``postgres_fdw`` server (and the current user's mapping) for the database at ``url``; its name."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql") or not target.database:
        raise ConfigError(f"remote database of {code}: {url!r} is no postgresql://…/database URL")
    name = f"citymap_{code}"
    options = {"host": target.host or "localhost", "port": str(target.port or 5432), "dbname": target.database,
               "extensions": "postgis", "fetch_size": "10000", "batch_size": "1000"}
    conn.exec_driver_sql(f"CREATE SERVER {name} FOREIGN DATA WRAPPER postgres_fdw OPTIONS ("
                         + ", ".join(f"{k} {_literal(v)}" for k, v in options.items()) + ")")
    mapping = {"user": target.username or "postgres", **({"password": target.password} if target.password else {})}
    conn.exec_driver_sql(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS ("
                         + ", ".join(f"{k} {_literal(v)}" for k, v in mapping.items()) + ")")
    return name


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _drop_foreign_keys_to_issues(conn: Connection) -> None:
    """Every foreign key that references a partitioned table or is one's own (module notes)."""
    keys = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
        "AND (confrelid = ANY(%(t)s::regclass[]) OR conrelid = ANY(%(t)s::regclass[]))",
        {"t": list(PARTITIONED_TABLES)}).fetchall()
    for table, name in keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def _partition(conn: Connection, table: str, *, local: Sequence[str], servers: Mapping[str, str]) -> list[str]:
    """``table`` made again as a partitioned table with the partitions asked for; their names."""
    indexes = conn.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid), x.indisunique FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary", (table,)).fetchall()
    key = conn.exec_driver_sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        (table,)).scalar_one()
    sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).scalar()
    old = f"{table}_unpartitioned"
    conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _, _ in indexes:
        conn.exec_driver_sql(f'ALTER INDEX "{name}" RENAME TO "{name}_unpartitioned"')
    conn.exec_driver_sql(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                         "PARTITION BY LIST (jurisdiction_code)")
    if sequence:
        conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    names = []
    for code in local:
        names.append(f"{table}_{code}")
        conn.exec_driver_sql(f"CREATE TABLE {names[-1]} PARTITION OF {table} FOR VALUES IN ('{code}')")
    names.append(f"{table}_other")
    conn.exec_driver_sql(f"CREATE TABLE {names[-1]} PARTITION OF {table} DEFAULT")
    # a foreign partition takes no index: the parent's indexes (made here) cover the local ones, and the
    # unique ones are made on each local partition, since the parent cannot hold them
    for name, definition, unique in indexes:
        if unique:
            for partition in names:
                conn.exec_driver_sql(definition.replace(f'INDEX {name} ON public.{table} ',
                                                        f'INDEX {name}_{partition} ON public.{partition} '))
        else:
            conn.exec_driver_sql(definition)
    for partition in names:
        conn.exec_driver_sql(f"ALTER TABLE {partition} ADD CONSTRAINT {partition}_pkey {key}")
    for code, server in servers.items():
        names.append(f"{table}_{code}")
        conn.exec_driver_sql(f"CREATE FOREIGN TABLE {names[-1]} PARTITION OF {table} FOR VALUES IN ('{code}') "
                             f"SERVER {server} OPTIONS (schema_name 'public', table_name '{table}')")
    conn.exec_driver_sql(f"DROP TABLE {old}")
    return names
