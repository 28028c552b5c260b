"""Bulk loading of one table, each dialect's fastest path, for many inserts in one transaction (:func:`bulk_load`).

* SpatiaLite: ``executemany`` with point blobs built in numpy, SpatiaLite's per-row
  triggers suspended and the R*Tree filled afterwards (per-row triggers cost 6×).
* PostGIS: ``COPY`` (CSV written by :func:`copy_csv`) straight into the table.

Either way the keys already stored can be looked up first (:func:`not_yet_stored`), and
a large load drops the table's indexes and builds them again at its end.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.store.db import is_sqlite
from geo.store.sqlite_rtree import pack_rtree_cells, rtree_cells


class BulkLoad:
    """One table taking many inserts in bulk mode, inside the caller's transaction (:func:`bulk_load`)."""

    def __init__(self, conn: Connection, table: str, *, point: bool, added_points: list | None) -> None:
        self.conn, self.table, self.point = conn, table, point
        self._added_points = added_points

    def insert(self, frame: pd.DataFrame, columns: Sequence[str], *, ids: bool = False) -> pd.DataFrame:
        """Insert the rows of ``frame``: ``executemany`` on SQLite, ``COPY`` on PostGIS; returns them.

        With the table's ``point``, the frame's ``lon``/``lat`` columns become the
        ``geom`` point (SRID 4326). With ``ids`` (or ``point``) the rows get new values
        of the table's integer primary key ``id``, given here rather than read back,
        and come back with them. Columns missing from every row are left out of the
        statement: the database fills them with NULL.
        """
        if frame.empty:
            return frame.assign(id=pd.Series(dtype="int64")) if ids or self.point else frame
        conn, table, point = self.conn, self.table, self.point
        if ids or point:
            frame = frame.assign(id=_new_ids(conn, table, len(frame)))
            columns = ("id", *columns)
        columns = [c for c in columns if frame[c].notna().any()]
        names = ", ".join(columns) + (", geom" if point else "")
        if is_sqlite(conn):
            values = ", ".join("?" * (len(columns) + point))
            if point:
                lon, lat = frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)
                self._added_points.append(rtree_cells(frame["id"].to_numpy(dtype=np.int64), lon, lon, lat, lat))
            # a slice at a time: each value becomes a Python object to be bound, a whole chunk's take memory
            for start in range(0, len(frame), COPY_CHUNK_ROWS):
                part = frame.iloc[start:start + COPY_CHUNK_ROWS]
                arrays = [_sqlite_values(part[c]) for c in columns]
                if point:
                    arrays.append(spatialite_point_blobs(part["lon"].to_numpy(dtype=float),
                                                         part["lat"].to_numpy(dtype=float)).tolist())
                conn.connection.driver_connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({values})",
                                                              zip(*arrays))
            return frame
        out = frame[list(columns)]
        if point:
            out = out.assign(geom=hex_ewkb_points(frame["lon"].to_numpy(dtype=float),
                                                  frame["lat"].to_numpy(dtype=float)))
        cursor = conn.connection.driver_connection.cursor()
        # In chunks, formatted by a thread while this one sends: the server parses one chunk
        # while the next is made (two cores at work; sending waits on the socket, not the GIL).
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy, \
                ThreadPoolExecutor(1) as formatter:
            for chunk in formatter.map(lambda start: copy_csv(out.iloc[start:start + COPY_CHUNK_ROWS]),
                                       range(0, len(out), COPY_CHUNK_ROWS)):
                copy.write(chunk)
        return frame


def lock_for_load(conn: Connection, table: str) -> None:
    """Keep other writers of ``table`` out until the caller's transaction ends (reads go on).

    So that what a load checks before it writes (which keys are stored, which ids are
    free) stays true until it commits. A SQLite write transaction holds the database's
    write lock from BEGIN already; on PostGIS the table is locked ``SHARE ROW EXCLUSIVE``.
    """
    if not is_sqlite(conn):
        conn.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


@contextmanager
def bulk_load(conn: Connection, table: str, *, point: bool = False, rebuild_indexes: bool = False,
              keep_indexes: Sequence[str] = ()) -> Iterator[BulkLoad]:
    """``table`` made ready for many fast inserts in the caller's transaction, and made whole again after them.

    On SpatiaLite the table's per-row triggers are suspended and the R*Tree entries of
    the points inserted are added at the end (:func:`_spatialite_bulk_mode`). With
    ``rebuild_indexes`` the table's indexes (but ``keep_indexes``) are dropped first and
    built again at the end, one sort each instead of a random insert per row and index.
    Nothing is made whole if the block raises: the caller's transaction rolls it all back.
    """
    if is_sqlite(conn):
        with _spatialite_bulk_mode(conn, table, rebuild_indexes=rebuild_indexes, keep=keep_indexes) as added_points:
            yield BulkLoad(conn, table, point=point, added_points=added_points)
        return
    with _postgis_bulk_mode(conn, table, rebuild_indexes=rebuild_indexes, keep=keep_indexes):
        yield BulkLoad(conn, table, point=point, added_points=None)


def copy_csv(frame: pd.DataFrame) -> str:
    """A frame as the CSV PostgreSQL's ``COPY … (FORMAT csv)`` reads: no header, missing values as empty fields.

    Text is always quoted (an empty string is ``""``, which COPY keeps apart from a
    missing value), quotes inside doubled; timestamps are written to the second.
    Each column's distinct values are formatted once (hotline exports repeat their
    categories, codes and statuses on every row): ~3 s of CPU per million issues against
    ~7 s for ``DataFrame.to_csv``, on the two cores the server's parsing also needs.
    """
    fields = []
    for name in frame.columns:
        column = frame[name]
        codes, uniques = pd.factorize(column)
        if pd.api.types.is_datetime64_any_dtype(column):
            texts = np.asarray(uniques.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)
        elif pd.api.types.is_string_dtype(column) or column.dtype == object:
            texts = np.array(['"' + str(v).replace('"', '""') + '"' for v in np.asarray(uniques, dtype=object).tolist()],
                             dtype=object)
        else:
            texts = np.asarray(uniques.astype(str), dtype=object)
        # code -1 (missing) takes the empty field appended last
        fields.append(np.append(texts, "")[codes].tolist())
    return "".join(row + "\n" for row in map(",".join, zip(*fields)))


#: rows formatted and sent to a PostGIS COPY, or bound to a SQLite insert, at a time: a tenth of the load's
#: rows as Python values at once
COPY_CHUNK_ROWS = 10_000
_EWKB_POINT_4326 = np.frombuffer(bytes.fromhex("0101000020E6100000"), dtype=np.uint8)
_HEX_DIGITS = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def hex_ewkb_points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points in SRID 4326 as hex EWKB (little-endian), the text form PostGIS reads fastest.

    Built on byte arrays: a third of the time of shapely's points + set_srid + to_wkb,
    with the same bytes (no WKT parsing, no precision loss).
    """
    raw = np.empty((len(lon), 25), dtype=np.uint8)
    raw[:, :9] = _EWKB_POINT_4326
    raw[:, 9:17] = lon.astype("<f8").view(np.uint8).reshape(-1, 8)
    raw[:, 17:] = lat.astype("<f8").view(np.uint8).reshape(-1, 8)
    text = np.empty((len(lon), 50), dtype=np.uint8)
    text[:, 0::2] = _HEX_DIGITS[raw >> 4]
    text[:, 1::2] = _HEX_DIGITS[raw & 15]
    return text.view("S50").ravel().astype(str)


#: SpatiaLite's BLOB-Geometry of a point in SRID 4326, little-endian: start, byte order, SRID,
#: MBR (4 doubles), MBR end, class (1 = POINT), x, y, end
_SPATIALITE_POINT_4326 = np.frombuffer(bytes.fromhex("0001E6100000"), dtype=np.uint8)
_SPATIALITE_POINT_CLASS = np.frombuffer(bytes.fromhex("7C01000000"), dtype=np.uint8)


def spatialite_point_blobs(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points in SRID 4326 as SpatiaLite geometry blobs, the bytes ``MakePoint(lon, lat, 4326)`` returns.

    Built on byte arrays: a bulk load binds them instead of calling ``MakePoint`` once
    per row. Returns an array of 60-byte strings (``S60``; the last byte is never NUL,
    so none is lost).
    """
    xy = np.column_stack([lon, lat]).astype("<f8").view(np.uint8)
    raw = np.empty((len(lon), 60), dtype=np.uint8)
    raw[:, :6] = _SPATIALITE_POINT_4326
    raw[:, 6:22] = xy
    raw[:, 22:38] = xy
    raw[:, 38:43] = _SPATIALITE_POINT_CLASS
    raw[:, 43:59] = xy
    raw[:, 59] = 0xFE
    return raw.view("S60").ravel()


def z_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The order of points along a Z (Morton) curve over their extent: nearby points come close together.

    Parameters
    ----------
    x, y : ndarray
        Coordinates in any planar or angular unit (here degrees, EPSG:4326).

    Returns
    -------
    ndarray of int
        Indices that sort the points by their 32-bit Morton code (16 bits per axis).
    """
    def spread(v: np.ndarray) -> np.ndarray:
        """16-bit integers with a zero bit inserted before each bit."""
        v = v.astype(np.uint32)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << shift)) & mask
        return v

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    cells = []
    for v in (x, y):
        low, span = v.min(), np.ptp(v)
        cells.append(np.zeros(len(v)) if span == 0 else np.minimum((v - low) / span * 65536, 65535))
    return np.argsort(spread(cells[0]) | (spread(cells[1]) << 1), kind="stable")


def _new_ids(conn: Connection, table: str, n: int) -> np.ndarray:
    """``n`` consecutive fresh values of ``table``'s integer primary key ``id``.

    The caller keeps other writers out: a SQLite write transaction begins IMMEDIATE,
    and on PostGIS the table is locked against writes. SQLite: the numbers after the
    largest id. PostGIS: a block of the column's sequence, taken in one call.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if is_sqlite(conn):
        top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    else:
        top = conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
            (table, table, n)).scalar_one() - n
    return np.arange(top + 1, top + 1 + n, dtype=np.int64)


def not_yet_stored(conn: Connection, table: str, frame: pd.DataFrame, unique_key: Sequence[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose key (the columns of a unique index) is not in ``table`` yet.

    Checking first and then inserting straight into the table writes each row once
    (COPY into a temporary table and ``INSERT … ON CONFLICT`` wrote it twice), and
    lets a large load drop the unique index and build it again afterwards. Each
    group of the key's leading columns (jurisdiction, source) is probed first: a
    batch of a source the table does not hold yet, such as the first import of a
    year of hotline cases, needs no row-by-row check.
    """
    keys = list(unique_key)
    lead, last = keys[:-1], keys[-1]
    # the frame's keys, sent as one array parameter: PostgreSQL takes a list as text[], SQLite a JSON array
    in_keys = f"{last} = ANY(:keys)" if not is_sqlite(conn) else f"{last} IN (SELECT value FROM json_each(:keys))"
    where = " AND ".join(f"{k} = :lead_{i}" for i, k in enumerate(lead))
    key_text = frame[keys].astype(str)
    present = np.zeros(len(frame), dtype=bool)
    for group, rows in key_text.groupby(lead, sort=False).indices.items():
        params = {f"lead_{i}": value for i, value in enumerate(group if isinstance(group, tuple) else (group,))}
        if conn.execute(text(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1"), params).first() is None:
            continue
        candidates = key_text[last].iloc[rows].tolist()
        params["keys"] = candidates if not is_sqlite(conn) else json.dumps(candidates, ensure_ascii=False)
        stored = set(conn.execute(text(f"SELECT {last} FROM {table} WHERE {where} AND {in_keys}"), params).scalars().all())
        # set lookups: half the time of Series.isin for a million keys (0.35 against 0.69-0.83 s)
        present[rows] = np.fromiter((key in stored for key in candidates), dtype=bool, count=len(candidates))
    return frame[~present]


@contextmanager
def _postgis_bulk_mode(conn: Connection, table: str, *, rebuild_indexes: bool,
                       keep: Sequence[str] = ()) -> Iterator[None]:
    """For a large batch, drop the table's indexes (GiST and unique ones included, but ``keep``) and foreign keys,
    and add them after.

    A sorted GiST build of a million points takes seconds; a million GiST inserts take
    minutes. A foreign key checks each new row with a query of its own (~3 µs a row);
    added back afterwards, it checks them all in one join. The rebuild happens in the
    caller's transaction, which then holds the table's exclusive lock until it
    commits. Afterwards the table is ANALYZEd so the planner knows its new size and
    uses the spatial index.
    """
    indexes, foreign_keys = [], []
    if rebuild_indexes:
        indexes = conn.exec_driver_sql(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", (table,)
        ).fetchall()
        foreign_keys = conn.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f'", (table,)
        ).fetchall()
    indexes = [(name, definition) for name, definition in indexes if name not in keep]
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    for name, _ in foreign_keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    if indexes:
        # room to sort in memory, and to share each build with parallel workers (each needs 32 MB)
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BULK_SORT_MEMORY_MB}MB'")
    for _, definition in indexes:
        # a partitioned table's index is defined ON ONLY the parent: made again, it covers the partitions
        conn.exec_driver_sql(definition.replace(" ON ONLY ", " ON ", 1))
    for name, definition in foreign_keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    if rebuild_indexes:
        conn.exec_driver_sql(f"ANALYZE {table}")


#: SpatiaLite's per-row triggers a bulk load suspends (see _spatialite_bulk_mode)
_BULK_SUSPENDED_TRIGGERS = ("ggi", "tmi", "gii")


#: from this many rows on, a load drops the table's indexes and builds them again
#: afterwards: one sort per index instead of a million random index inserts
REBUILD_INDEXES_ROWS = 100_000

#: PostgreSQL's maintenance_work_mem (MB) while a load builds its indexes again (the server's memory, not ours)
BULK_SORT_MEMORY_MB = 256

#: SQLite page cache (KiB) while a bulk load runs: index builds sort in it before they spill to temporary files,
#: and it counts in the importing process's memory
BULK_CACHE_KIB = 16384


@contextmanager
def _spatialite_bulk_mode(conn: Connection, table: str, *, rebuild_indexes: bool = False,
                          keep: Sequence[str] = ()) -> Iterator[list]:
    """Suspend SpatiaLite's per-row triggers on ``table`` for one bulk insert.

    The geometry-constraint check (``ggi_``), the last-insert timestamp (``tmi_``)
    and the R*Tree update (``gii_``) run once per row and cut a load from ~130k to
    ~20k rows/s (measured on this machine). Our bulk path builds only valid points
    in SRID 4326, so instead the triggers are dropped, the rows inserted, the
    R*Tree entries of the new points added at the end and the triggers created
    again, all inside the caller's transaction: a failure rolls every step back.
    With ``rebuild_indexes``, the table's b-tree indexes are dropped and created again
    the same way (unique ones too: the caller has left out the rows already stored,
    and building a unique index checks it), but those named in ``keep``, and the
    R*Tree is packed anew from its entries and the new points. Indexes that back a
    table constraint cannot be dropped and stay. The file is not memory-mapped
    meanwhile: an index build reads the whole table, and mapped pages it touched
    would count as the process's resident memory.

    Yields
    ------
    list
        The caller appends the R*Tree cells (:func:`~geo.store.sqlite_rtree.rtree_cells`) of the points it
        stored: the entries are made from them, not read back from the table.
    """
    found = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall()
    suspended = [(name, sql) for name, sql in found if name.split("_", 1)[0] in _BULK_SUSPENDED_TRIGGERS]
    rtree = f"idx_{table}_geom" if any(name.startswith("gii_") for name, _ in suspended) else None
    indexes = []
    if rebuild_indexes:
        indexes = conn.exec_driver_sql(
            "SELECT m.name, m.sql FROM sqlite_master m JOIN pragma_index_list(?) l ON l.name = m.name "
            "WHERE m.type = 'index' AND l.origin = 'c'", (table,)
        ).fetchall()
        indexes = [(name, sql) for name, sql in indexes if name not in keep]
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    mapped = conn.exec_driver_sql("PRAGMA mmap_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
    conn.exec_driver_sql("PRAGMA mmap_size = 0")
    for name, _ in suspended:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    added_points: list[np.ndarray] = []
    yield added_points
    for _, sql in indexes:
        conn.exec_driver_sql(sql)
    if rtree and added_points:
        cells = np.concatenate(added_points)
        added_points.clear()
        raw = conn.connection.driver_connection
        if rebuild_indexes:
            # the entries already there are float32 boxes: made cells again, they keep their values
            old = np.array(raw.execute(f'SELECT pkid, xmin, xmax, ymin, ymax FROM "{rtree}"').fetchall(),
                           dtype=np.float64).reshape(-1, 5)
            if len(old):
                cells = np.concatenate([rtree_cells(old[:, 0].astype(np.int64), *old[:, 1:].T), cells])
            del old
            pack_rtree_cells(conn, rtree, cells)
        else:
            # a slice at a time: Python numbers for every point of a large load would take more memory than the rows
            for start in range(0, len(cells), COPY_CHUNK_ROWS):
                some = cells[start:start + COPY_CHUNK_ROWS]
                raw.executemany(f'INSERT INTO "{rtree}" (pkid, xmin, xmax, ymin, ymax) VALUES (?, ?, ?, ?, ?)',
                                zip(*(some[field].astype(np.int64 if field == "id" else np.float64).tolist()
                                      for field in ("id", "xmin", "xmax", "ymin", "ymax"))))
    for _, sql in suspended:
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")
    conn.exec_driver_sql(f"PRAGMA mmap_size = {int(mapped)}")


def _sqlite_values(column: pd.Series) -> list:
    """A column as a list of Python values SQLite takes: None for missing, text for timestamps."""
    if pd.api.types.is_datetime64_any_dtype(column):
        column = column.dt.strftime("%Y-%m-%d %H:%M:%S")
    return column.to_numpy(dtype=object, na_value=None).tolist()
