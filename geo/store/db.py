"""Engines and schema set-up for SpatiaLite (embedded) and PostGIS.

SQLite rules: WAL journal, a busy timeout, and write
transactions that begin IMMEDIATE. With WAL + busy_timeout alone, concurrent
read-modify-write transactions that start as readers fail to upgrade their lock and
are lost; taking the write lock at BEGIN makes them queue instead.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text

from geo.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SPATIALITE_MODULE = "mod_spatialite"

_IMMEDIATE = "citymap_begin_immediate"


def _sqlite_dbapi():
    """The sqlite3 module to use: one that can load extensions.

    Debian's Python can; some builds (pyenv's default) cannot, and then
    ``pysqlite3`` (the ``pysqlite3-binary`` wheel) is used if installed.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import pysqlite3.dbapi2 as dbapi  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(
            "this Python's sqlite3 cannot load extensions, so SpatiaLite cannot be used; "
            "run with Debian's /usr/bin/python3 (the Makefile's venv does) or install pysqlite3-binary"
        ) from exc
    return dbapi


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


#: page size of a new SQLite file. 16 KiB instead of 4: a million-issue load ~10 % faster (fewer pages
#: to write and scan for the index builds), bbox reads of ~1,000 issues the same within this machine's
#: drift (scripts/bench_store.py --sqlite-page-bytes 4096 compares); no further gain at 32 or 64 KiB.
SQLITE_PAGE_BYTES = 16384

#: address space SQLite may map per connection (its read path; the file is not loaded into memory)
SQLITE_MMAP_BYTES = 1 << 30


def make_engine(url: str, *, busy_timeout_ms: int = 30000, postgis_parallel_workers: int = 0) -> Engine:
    """Create an engine for a SpatiaLite file or a PostGIS database.

    Parameters
    ----------
    url : str
        ``sqlite:///path/file.sqlite`` or ``postgresql+psycopg://user@host/db``.
    busy_timeout_ms : int, keyword-only
        How long a SQLite writer waits for the lock before failing, in milliseconds.
    postgis_parallel_workers : int, keyword-only
        PostgreSQL's ``max_parallel_workers_per_gather`` for citymap's sessions. The
        default 0 keeps the planner from starting workers for the small bbox queries
        the maps and APIs send, which it does on default settings for want of
        knowing that an import is stored along a Z curve (1M issues: p90 of a
        1,000-issue query 23.6 → 7.5 ms, median 6.3 → 5.8 ms).
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, module=_sqlite_dbapi(), connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Autocommit at the driver so that BEGIN is ours to emit (see _on_begin).
            dbapi_conn.isolation_level = None
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension(SPATIALITE_MODULE)
            dbapi_conn.enable_load_extension(False)
            dbapi_conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Takes effect only on a new, empty file, before WAL is on; an existing file keeps its own.
            dbapi_conn.execute(f"PRAGMA page_size = {SQLITE_PAGE_BYTES}")
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")
            dbapi_conn.execute("PRAGMA foreign_keys = ON")
            # Pages read straight from the mapped file instead of copied in by read(): a bbox
            # query fetches ~1,000 rows scattered over the table, 2.5 → 1.5 ms for 1M issues.
            dbapi_conn.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        if postgis_parallel_workers < 0:
            raise ConfigError(f"postgis_parallel_workers={postgis_parallel_workers!r}: expected 0 or more")
        return create_engine(url, pool_pre_ping=True, connect_args={
            "options": f"-c max_parallel_workers_per_gather={int(postgis_parallel_workers)}"})
    raise ConfigError(f"database URL {url!r}: only sqlite:/// (SpatiaLite) and postgresql:// (PostGIS) are supported")


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, READ COMMITTED on PostGIS.

    Commits when the block ends, rolls back if it raises.

    What it guarantees for a read-modify-write (read a value, write one computed
    from it): on SQLite, writers run one at a time from ``BEGIN``, so what the block
    reads stays current until it commits. On PostgreSQL, blocks run side by side and
    a plain ``SELECT`` may read a value another block is about to change, losing its
    update; read what you will write back with :func:`geo.store.lock_row`
    (``SELECT … FOR UPDATE``), or write it in one statement (``SET n = n + 1``, or
    ``UPDATE … WHERE status = :expected`` and check the row count). SERIALIZABLE was
    not chosen: its serialization failures need the whole block re-run, which a
    ``with`` block cannot do, and they would also strike the bulk loads.
    """
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def _alembic_config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def init_db(engine: Engine) -> None:
    """Create the spatial metadata (SpatiaLite) or extension (PostGIS) and migrate to head."""
    if is_sqlite(engine):
        raw = engine.raw_connection()
        try:
            has_meta = raw.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'spatial_ref_sys'"
            ).fetchone()[0]
            if not has_meta:
                # 'WGS84' loads only the WGS84-based SRIDs: we store 4326 and nothing else.
                raw.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
        finally:
            raw.close()
    else:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    with migration_tx(engine) as conn:
        command.upgrade(_alembic_config(conn), "head")


@contextmanager
def migration_tx(engine: Engine) -> Iterator[Connection]:
    """The write transaction migrations run in; on SQLite, with foreign keys off until it ends.

    A migration that changes what SQLite's ALTER TABLE cannot rebuilds the table
    (copy, drop, rename); with foreign keys on, dropping a referenced table deletes
    the referencing rows by cascade. SQLite ignores the pragma inside a transaction,
    so it is set before BEGIN, and the keys are checked before the commit instead.
    """
    with engine.connect() as conn:
        if not is_sqlite(conn):
            with conn.begin():
                yield conn
            return
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.execution_options(**{_IMMEDIATE: True}).begin():
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise ConfigError(f"schema migration left {len(broken)} rows with a dangling foreign key, "
                                      f"for example {tuple(broken[0])} (table, rowid, parent, key); nothing was changed")
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def head_revision() -> str:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None if it was never migrated."""
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
