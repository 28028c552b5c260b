"""Reading and writing the database: bulk loads, spatial-index queries, GeoDataFrames out.

The same functions run on SpatiaLite and PostGIS; where the two differ (bulk insert,
the spatial-index query) this module picks the dialect's fastest path:

* SpatiaLite: ``executemany`` with point blobs built in numpy, SpatiaLite's per-row
  triggers suspended and the R*Tree filled afterwards (per-row triggers cost 6×); a
  bbox query reads the R*Tree table ``idx_<table>_geom`` directly, because
  ``ST_Within``/``MbrWithin`` alone scan the whole table.
* PostGIS: the keys already stored are looked up first, then ``COPY`` (CSV written by
  :func:`copy_csv`) straight into the table; a bbox query uses ``ST_Intersects`` with
  the GiST index.

Geometries go in and out as WKB and are WGS84 lon/lat (SRID 4326).

Free text people typed (issue descriptions and addresses, event notes, greening
record notes and teams) is read back with the phone numbers in it masked
(:func:`geo.privacy.mask_phones`): every page, map, API and export reads through
here, so none can show one. The reporter's contact (:func:`read_contact`,
:func:`reveal_phone`) is the one deliberate exception; its callers mask it. The
contact phone is stored normalised (:func:`geo.privacy.normalise_phones`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, Iterator, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, DateTime, Engine, Integer, text

from geo import models
from geo.clock import local_now
from geo.db import is_sqlite, write_tx
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.privacy import PHONE_REFUSED, mask_phone, mask_phones, normalise_phones
from geo.sqlite_rtree import pack_rtree

WGS84 = "EPSG:4326"

#: layer name → (table, its columns besides ``jurisdiction_code`` and ``geom``)
LAYER_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "communities": ("communities", ("code", "name")),
    "compounds": ("compounds", ("code", "name", "community_code")),
    "grids": ("management_grids", ("code", "name", "community_code", "worker", "department_code")),
    "zones": ("contractor_zones", ("code", "name", "department_code", "depot_lon", "depot_lat")),
    "unit_cells": ("unit_cells", ("code", "community_code", "col", "row")),
    "roads": ("roads", ("road_id", "name", "road_class", "is_priority", "oneway")),
    "segments": ("road_segments", (
        "segment_id", "road_id", "name", "road_class", "is_priority", "oneway", "seq", "from_m", "to_m", "length_m",
    )),
}
#: layer name → the column that identifies a feature of it (an OGC API feature id)
LAYER_KEYS = {"communities": "code", "compounds": "code", "grids": "code", "zones": "code", "unit_cells": "code",
              "roads": "road_id", "segments": "segment_id"}
JURISDICTION_COLUMNS = ("code", "name", "district_code", "metric_crs", "cell_size_m", "grid_origin_x", "grid_origin_y")

#: columns of ``issues`` an import writes (besides geometry and the batch id)
ISSUE_COLUMNS = (
    "jurisdiction_code", "source", "external_id", "source_system", "category_code", "description", "address",
    "status", "reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at",
    "deadline_at", "deadline_provisional", "rework_count", "cell_code", "segment_id", "segment_dist_m", "compound_code",
    "community_code", "grid_code", "zone_code", "department_code",
)
#: issue-frame column → ``reporter_contacts`` column: the contact is kept apart from the issue
CONTACT_COLUMNS = {"phone": "phone", "email": "email", "reporter_name": "name"}
#: NOT NULL boolean columns of the tables read as frames
BOOLEAN_COLUMNS = ("deadline_provisional",)
#: the free-text columns of issues, events and greening records: read back with phone numbers masked
MASKED_TEXT_COLUMNS = ("description", "address", "note", "team")
TIMESTAMP_COLUMNS = ("reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at", "deadline_at")

#: lifecycle column → (event action, status the issue entered); order is the loop's order. The
#: report itself is not an event: the issue row (reported_at) and its import batch record it.
LIFECYCLE_EVENTS = (
    ("registered_at", "register", "registered"),
    ("dispatched_at", "dispatch", "dispatched"),
    ("handled_at", "handle", "handled"),
    ("verified_at", "verify", "verified"),
    ("closed_at", "close", "closed"),
)


def _as_binary(conn: Connection) -> str:
    return "AsBinary" if is_sqlite(conn) else "ST_AsBinary"


def _geom_from_wkb(conn: Connection, param: str) -> str:
    return f"GeomFromWKB(:{param}, 4326)" if is_sqlite(conn) else f"ST_GeomFromWKB(:{param}, 4326)"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN/NaT/<NA> turned into None and numpy scalars into Python ones."""
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


# --------------------------------------------------------------------------- layers

def replace_layers(
    engine: Engine,
    jurisdiction: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    departments: pd.DataFrame,
) -> dict[str, int]:
    """Replace a jurisdiction, all its reference layers and departments in one transaction.

    Parameters
    ----------
    jurisdiction : GeoDataFrame
        One row with :data:`JURISDICTION_COLUMNS` and the boundary polygon.
    layers : dict
        Layer name (keys of :data:`LAYER_TABLES`) → GeoDataFrame in EPSG:4326;
        layers not given are emptied.
    departments : DataFrame
        ``code``, ``name``, ``name_en``, ``kind``, ``parent``.

    Returns
    -------
    dict
        Layer name → rows written.
    """
    if len(jurisdiction) != 1:
        raise ValidationError(f"expected one jurisdiction row, got {len(jurisdiction)}")
    code = str(jurisdiction["code"].iloc[0])
    counts: dict[str, int] = {}
    with write_tx(engine) as conn:
        for name in LAYER_TABLES:
            counts[name] = _replace_layer(conn, name, layers.get(name), code)
        conn.execute(text("DELETE FROM departments WHERE jurisdiction_code = :j"), {"j": code})
        conn.execute(text("DELETE FROM jurisdictions WHERE code = :j"), {"j": code})
        _insert_frame(conn, "jurisdictions", _check_frame(jurisdiction, JURISDICTION_COLUMNS, "jurisdiction"),
                      JURISDICTION_COLUMNS)
        deps = departments.assign(jurisdiction_code=code)
        dep_cols = ("code", "name", "name_en", "kind", "parent", "jurisdiction_code")
        conn.execute(
            text(f"INSERT INTO departments ({', '.join(dep_cols)}) VALUES ({', '.join(':' + c for c in dep_cols)})"),
            _records(deps[list(dep_cols)]),
        )
        counts["departments"] = len(deps)
        _bump_layer_version(conn, code)
    return {name: n for name, n in counts.items() if name in layers or name == "departments"}


def replace_some_layers(engine: Engine, frames: dict[str, gpd.GeoDataFrame], *, jurisdiction_code: str) -> dict[str, int]:
    """Replace the given reference layers of a jurisdiction in one transaction; layer → rows written."""
    with write_tx(engine) as conn:
        counts = {name: _replace_layer(conn, name, frame, jurisdiction_code) for name, frame in frames.items()}
        _bump_layer_version(conn, jurisdiction_code)
    return counts


def _bump_layer_version(conn: Connection, jurisdiction_code: str) -> None:
    # One statement, so that two imports at once each count (both back ends take ON CONFLICT).
    conn.execute(text("INSERT INTO layer_versions (jurisdiction_code, version, changed_at) VALUES (:j, 1, :at) "
                      "ON CONFLICT (jurisdiction_code) DO UPDATE SET version = layer_versions.version + 1, "
                      "changed_at = excluded.changed_at"),
                 {"j": jurisdiction_code, "at": local_now()})


def layer_version(bind: Engine | Connection, *, jurisdiction_code: str) -> int:
    """How many times the jurisdiction's reference layers were replaced (0: never since this was counted).

    A process that keeps layers in memory compares this number to know they are stale.
    """
    return _with_conn(bind, lambda conn: conn.execute(
        text("SELECT version FROM layer_versions WHERE jurisdiction_code = :j"),
        {"j": jurisdiction_code}).scalar_one_or_none()) or 0


def _replace_layer(conn: Connection, name: str, frame: gpd.GeoDataFrame | None, jurisdiction_code: str) -> int:
    if name not in LAYER_TABLES:
        raise ValidationError(f"unknown layer {name!r}; known: {sorted(LAYER_TABLES)}")
    table, columns = LAYER_TABLES[name]
    conn.execute(text(f"DELETE FROM {table} WHERE jurisdiction_code = :j"), {"j": jurisdiction_code})
    if frame is None:
        return 0
    frame = _check_frame(frame, columns, name).assign(jurisdiction_code=jurisdiction_code)
    _insert_frame(conn, table, frame, (*columns, "jurisdiction_code"))
    return len(frame)


def _check_frame(frame: gpd.GeoDataFrame, columns: Sequence[str], name: str) -> gpd.GeoDataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"layer {name}: missing column(s) {missing}; it has {list(frame.columns)}")
    if frame.crs is None or not frame.crs.equals(WGS84):
        raise ValidationError(f"layer {name}: expected EPSG:4326, got {frame.crs}")
    return frame


def _insert_frame(conn: Connection, table: str, frame: gpd.GeoDataFrame, columns: Sequence[str]) -> None:
    rows = _records(pd.DataFrame(frame[list(columns)]))
    for row, wkb in zip(rows, shapely.to_wkb(frame.geometry.values)):
        row["wkb"] = wkb
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    conn.execute(text(f"INSERT INTO {table} ({names}, geom) VALUES ({values}, {_geom_from_wkb(conn, 'wkb')})"), rows)


def read_layer(
    bind: Engine | Connection,
    name: str,
    *,
    jurisdiction_code: str,
    bbox: tuple[float, float, float, float] | None = None,
    keys: Iterable | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> gpd.GeoDataFrame:
    """A reference layer as a GeoDataFrame (EPSG:4326), optionally only what meets ``bbox``.

    ``name`` is a key of :data:`LAYER_TABLES` or ``"jurisdiction"``. ``keys`` keeps
    the features whose :data:`LAYER_KEYS` column is one of them; ``limit`` and
    ``offset`` page through the rows in storage order.
    """
    table, columns, key = _layer_source(name)
    params = {"j": jurisdiction_code}
    clauses = [f"t.{key} = :j", *_in_clause(f"t.{LAYER_KEYS.get(name, 'code')}", keys, params, "k")]
    frame = _read_geo(bind, table, columns, where=" AND ".join(clauses), params=params, bbox=bbox,
                      limit=limit, offset=offset)
    # SQLite hands booleans back as 0/1: make both back ends answer True/False
    for column in ("is_priority", "oneway"):
        if column in frame:
            frame[column] = frame[column].astype(bool)
    return frame


def _layer_source(name: str) -> tuple[str, tuple[str, ...], str]:
    """(table, columns, jurisdiction column) of a layer name."""
    if name == "jurisdiction":
        return "jurisdictions", JURISDICTION_COLUMNS, "code"
    if name in LAYER_TABLES:
        return (*LAYER_TABLES[name], "jurisdiction_code")
    raise ValidationError(f"unknown layer {name!r}; known: jurisdiction, {', '.join(LAYER_TABLES)}")


def count_layer(
    bind: Engine | Connection,
    name: str,
    *,
    jurisdiction_code: str,
    bbox: tuple[float, float, float, float] | None = None,
) -> int:
    """How many features of a reference layer :func:`read_layer` returns with the same filters (no paging)."""
    table, _columns, key = _layer_source(name)
    return _with_conn(bind, lambda conn: _count(conn, table, where=f"t.{key} = :j", params={"j": jurisdiction_code},
                                                 bbox=bbox))


def extent(bind: Engine | Connection, name: str, *, jurisdiction_code: str) -> tuple[float, float, float, float] | None:
    """(minlon, minlat, maxlon, maxlat) of a layer or of ``"issues"``, degrees; None when it has no feature."""
    table, _columns, key = ("issues", (), "jurisdiction_code") if name == "issues" else _layer_source(name)

    def run(conn: Connection):
        parts = (("MbrMinX", "MbrMinY", "MbrMaxX", "MbrMaxY") if is_sqlite(conn)
                 else ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax"))
        aggregates = ", ".join(f"{agg}({fn}(t.geom))" for agg, fn in zip(("min", "min", "max", "max"), parts))
        return conn.execute(text(f"SELECT {aggregates} FROM {table} t WHERE t.{key} = :j"),
                            {"j": jurisdiction_code}).one()

    row = _with_conn(bind, run)
    return None if row[0] is None else tuple(float(v) for v in row)


def _masked_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the phone numbers in its :data:`MASKED_TEXT_COLUMNS` masked (missing text stays None)."""
    for column in MASKED_TEXT_COLUMNS:
        if column in frame:
            values = frame[column]
            frame[column] = mask_phones(values).astype(object).where(values.notna(), None)
    return frame


def _with_conn(bind: Engine | Connection, run):
    """``run(connection)`` on ``bind`` itself or on a read connection opened for the call.

    On PostGIS the connection opened here reads in autocommit: a read needs no
    transaction, and BEGIN and ROLLBACK are two round trips of the ~5 ms a 1,000-issue
    bbox read takes.
    """
    if isinstance(bind, Connection):
        return run(bind)
    with bind.connect() as conn:
        if not is_sqlite(conn):
            conn.execution_options(isolation_level="AUTOCOMMIT")
        return run(conn)


def _count(conn: Connection, table: str, *, where: str, params: dict, bbox: Sequence[float] | None = None,
           points: bool = False) -> int:
    source, condition = _source_where(conn, table, where, bbox, points=points)
    return int(conn.execute(text(f"SELECT count(*) FROM {source} WHERE {condition}"), params).scalar_one())


def _source_where(conn: Connection, table: str, where: str, bbox: Sequence[float] | None, *,
                  points: bool) -> tuple[str, str]:
    """(FROM, WHERE) of a query on ``table`` with an attribute condition and an optional bbox."""
    if bbox is None:
        return f"{table} t", where
    source, spatial = _bbox_filter(conn, table, bbox, points=points)
    return source, f"{where} AND {spatial}"


def _bbox_filter(conn: Connection, table: str, bbox: Sequence[float], *, points: bool = False) -> tuple[str, str]:
    """(FROM clause, WHERE clause) that select the rows of ``table`` meeting ``bbox`` through its spatial index.

    ``points`` says the table holds points, whose MBR is exact: SpatiaLite then
    compares MBRs instead of building a polygon per candidate, and PostGIS compares
    coordinates instead of calling ``ST_Intersects``.
    """
    minx, miny, maxx, maxy = _check_bbox(bbox)
    if is_sqlite(conn):
        # Read the R*Tree first (CROSS JOIN fixes the join order in SQLite; left to itself the
        # planner prefers the jurisdiction index and scans every issue). The R*Tree stores MBRs
        # as 32-bit floats rounded outwards, so it yields candidates: one whose stored box lies
        # inside the bbox is an answer for sure, and only the few along the edges go through
        # the exact SpatiaLite test (which builds the bbox geometry again for every row it
        # sees: it was half the time of a 1,000-row query). The answer stays PostGIS's.
        exact = "MbrIntersects" if points else "ST_Intersects"
        return (f"idx_{table}_geom r CROSS JOIN {table} t ON t.id = r.pkid",
                f"r.xmin <= {maxx!r} AND r.xmax >= {minx!r} AND r.ymin <= {maxy!r} AND r.ymax >= {miny!r} "
                f"AND (r.xmin >= {minx!r} AND r.xmax <= {maxx!r} AND r.ymin >= {miny!r} AND r.ymax <= {maxy!r} "
                f"OR {exact}(t.geom, BuildMbr({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326)))")
    envelope = f"ST_MakeEnvelope({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326)"
    if points:
        # The GiST index (&&) compares 32-bit boxes rounded outwards: ~2 % of a 1,000-issue box's
        # candidates lie just outside it. A point's coordinates settle them exactly, in a quarter
        # less server time than ST_Intersects (0.52 against 0.68 ms).
        return f"{table} t", (f"t.geom && {envelope} AND ST_X(t.geom) BETWEEN {minx!r} AND {maxx!r} "
                              f"AND ST_Y(t.geom) BETWEEN {miny!r} AND {maxy!r}")
    return f"{table} t", f"ST_Intersects(t.geom, {envelope})"


def _check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"bbox {bbox!r}: expected four numbers minlon,minlat,maxlon,maxlat") from exc
    if not (minx <= maxx and miny <= maxy and -180 <= minx <= 180 and -90 <= miny <= 90 and maxx <= 180 and maxy <= 90):
        raise ValidationError(f"bbox {bbox!r}: expected minlon,minlat,maxlon,maxlat in degrees with min <= max")
    return minx, miny, maxx, maxy


def _read_geo(
    bind: Engine | Connection,
    table: str,
    columns: Sequence[str],
    *,
    where: str,
    params: dict,
    bbox: Sequence[float] | None = None,
    points: bool = False,
    order_by: str = "t.id",
    limit: int | None = None,
    offset: int = 0,
    timestamps: Sequence[str] = (),
) -> gpd.GeoDataFrame:
    """Rows of ``table`` as a GeoDataFrame; ``points`` reads x/y instead of WKB (faster).

    The ``timestamps`` among ``columns`` come back as datetime64[us] (NaT for NULL).
    """
    def run(conn: Connection) -> gpd.GeoDataFrame:
        source, condition = _source_where(conn, table, where, bbox, points=points)
        geometry_sql = "ST_X(t.geom), ST_Y(t.geom)" if points else f"{_as_binary(conn)}(t.geom)"
        sql = (f"SELECT {', '.join('t.' + c for c in columns)}, {geometry_sql} FROM {source} "
               f"WHERE {condition} ORDER BY {order_by}")
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = conn.execute(text(sql), params).fetchall()
        # Column by column: pandas' from_records probes every row, which for a 1,000-row bbox
        # read cost more than the query. Timestamps come as ISO text (SQLite) or datetimes (psycopg).
        values = list(zip(*rows)) or [()] * (len(columns) + (2 if points else 1))
        frame = pd.DataFrame({
            name: pd.to_datetime(column, format="ISO8601").as_unit("us") if name in timestamps
            # SQLite hands booleans back as 0 / 1
            else np.asarray(column, dtype=bool) if name in BOOLEAN_COLUMNS else column
            for name, column in zip(columns, values)})
        if points:
            geometry = shapely.points(np.array(values[-2], dtype=float), np.array(values[-1], dtype=float))
        else:
            geometry = shapely.from_wkb([bytes(b) for b in values[-1]])
        # the CRS set on the geometry array: passed to GeoDataFrame it cost 0.15 ms more a read
        return gpd.GeoDataFrame(frame.assign(geometry=gpd.array.from_shapely(geometry, crs=WGS84)),
                                geometry="geometry")

    return _with_conn(bind, run)


# --------------------------------------------------------------------------- issues

@dataclass(frozen=True)
class LoadResult:
    """What an issue load did: rows inserted, rows already present (same source + id)."""

    batch_id: int
    inserted: int
    skipped: int


def insert_issues(
    engine: Engine,
    issues: gpd.GeoDataFrame,
    *,
    jurisdiction_code: str,
    file: str,
    actor: str,
    rows_rejected: int = 0,
) -> LoadResult:
    """Insert validated, assigned issues in one transaction; idempotent on (source, external_id).

    Parameters
    ----------
    issues : GeoDataFrame
        Points in EPSG:4326 with the columns of :data:`ISSUE_COLUMNS` that apply
        (missing optional ones are stored as NULL), plus the reporter's contact
        (:data:`CONTACT_COLUMNS`: ``phone``, ``email``, ``reporter_name``), stored apart
        in ``reporter_contacts``; the phone normalised (a value that is not a phone
        number refuses the load). An issue whose source and external id are already
        stored, or repeat an earlier row, is left as it is and counted as skipped.
        The new issues are numbered along a Z curve of their points (:func:`z_order`),
        not in row order.
    file, actor : str
        Recorded on the import batch row (the audit of the load).
    rows_rejected : int
        How many rows validation refused, for the batch record.

    Returns
    -------
    LoadResult
    """
    if issues.crs is None or not issues.crs.equals(WGS84):
        raise ValidationError(f"issues must be EPSG:4326, got {issues.crs}")
    if (issues.geom_type != "Point").any() or shapely.is_empty(issues.geometry.values).any():
        raise ValidationError("issues must be non-empty points")
    frame = pd.DataFrame(issues.drop(columns=issues.geometry.name)).reset_index(drop=True)
    frame["jurisdiction_code"] = jurisdiction_code
    for column in ISSUE_COLUMNS:
        if column not in frame:
            frame[column] = None
    if "phone" in frame:
        # the importers refuse a bad phone row by row; this is the last guard of what is stored
        phone, invalid = normalise_phones(frame["phone"])
        if invalid.any():
            bad = frame.loc[invalid, ["external_id", "phone"]].iloc[0]
            raise ValidationError(f"issue {bad['external_id']!r}: phone {mask_phone(str(bad['phone'])[:60])!r} "
                                  f"{PHONE_REFUSED}")
        frame["phone"] = phone
    frame["rework_count"] = pd.to_numeric(frame["rework_count"], errors="coerce").fillna(0).astype(int)
    frame["deadline_provisional"] = frame["deadline_provisional"].astype("boolean").fillna(False).astype(bool)
    # a report with no lifecycle yet (a 12345 export, a web form) starts the loop at 上报
    frame["status"] = frame["status"].astype(object).where(frame["status"].notna(), "reported")
    for column in TIMESTAMP_COLUMNS:
        frame[column] = pd.to_datetime(frame[column])
    frame["lon"] = issues.geometry.x.to_numpy()
    frame["lat"] = issues.geometry.y.to_numpy()
    # A file's repeated case keeps its first row; then the batch is numbered and stored along a
    # Z curve, so that issues near each other on the map sit on neighbouring pages: a bbox
    # query of 1,000 issues out of 1M reads a few dozen pages instead of ~1,000.
    rows_given = len(frame)
    frame = frame[~frame.duplicated(["source", "external_id"])]
    frame = frame.iloc[z_order(frame["lon"], frame["lat"])].reset_index(drop=True)
    with write_tx(engine) as conn:
        batch_id = conn.execute(
            text("INSERT INTO import_batches (jurisdiction_code, file, actor, at, rows_loaded, rows_skipped, rows_rejected) "
                 "VALUES (:j, :f, :a, :at, 0, 0, :r) RETURNING id"),
            {"j": jurisdiction_code, "f": file, "a": actor, "at": local_now(), "r": rows_rejected},
        ).scalar_one()
        frame["import_batch_id"] = batch_id
        new = _bulk_insert(conn, "issues", frame, (*ISSUE_COLUMNS, "import_batch_id"), point=True,
                           unique_key=("jurisdiction_code", "source", "external_id"))
        new = new.rename(columns={"id": "issue_id"})
        given = {column: CONTACT_COLUMNS[column] for column in CONTACT_COLUMNS if column in new}
        if given:
            values = pd.DataFrame({stored: new[column].astype("string").str.strip() for column, stored in given.items()})
            keep = (values.fillna("") != "").any(axis=1)
            contacts = new.loc[keep, ["issue_id", "jurisdiction_code"]].assign(**values[keep])
            _bulk_insert(conn, "reporter_contacts", contacts, ("issue_id", "jurisdiction_code", *given.values()))
        events = lifecycle_events(new, actor=actor)
        _bulk_insert(conn, "issue_events", events,
                     ("issue_id", "jurisdiction_code", "at", "actor", "action", "from_status", "to_status"))
        conn.execute(text("UPDATE import_batches SET rows_loaded = :n, rows_skipped = :s WHERE id = :b"),
                     {"n": len(new), "s": rows_given - len(new), "b": batch_id})
    return LoadResult(batch_id=batch_id, inserted=len(new), skipped=rows_given - len(new))


def _bulk_insert(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    point: bool = False,
    unique_key: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Insert many rows fast: ``executemany`` on SQLite, ``COPY`` on PostGIS; returns the rows inserted.

    With ``point``, the frame's ``lon``/``lat`` columns become the ``geom`` point
    (SRID 4326). With ``unique_key`` (the columns of a unique index), rows whose
    key is already stored are skipped (the caller gives each key once: it decides which
    of a file's repeated rows counts), and the rows inserted come back with their new
    ``id`` (the table's integer primary key, given here rather than read back; point
    rows get one too). Columns missing from every row are left out of the statement:
    the database fills them with NULL.
    """
    if unique_key and not frame.empty:
        if not is_sqlite(conn):
            # Keeps other writers of the table out until commit (reads go on), so that the
            # check of stored keys stays true and the ids below are ours alone. (A SQLite
            # write transaction holds the database's write lock from BEGIN.)
            conn.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        frame = _not_yet_stored(conn, table, frame, unique_key)
    if frame.empty:
        return frame.assign(id=pd.Series(dtype="int64")) if unique_key else frame
    if unique_key or point:
        frame = frame.assign(id=_new_ids(conn, table, len(frame)))
        columns = ("id", *columns)
    columns = [c for c in columns if frame[c].notna().any()]
    names = ", ".join(columns) + (", geom" if point else "")
    rebuild = len(frame) >= REBUILD_INDEXES_ROWS
    if is_sqlite(conn):
        values = ", ".join("?" * (len(columns) + point))
        arrays = [_sqlite_values(frame[c]) for c in columns]
        if point:
            arrays.append(spatialite_point_blobs(frame["lon"].to_numpy(dtype=float),
                                                 frame["lat"].to_numpy(dtype=float)).tolist())
        with _spatialite_bulk_mode(conn, table, rebuild_indexes=rebuild) as added_points:
            conn.connection.driver_connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({values})",
                                                          zip(*arrays))
            if point:
                added_points.append((frame["id"].to_numpy(dtype=np.int64), frame["lon"].to_numpy(dtype=float),
                                     frame["lat"].to_numpy(dtype=float)))
        return frame
    out = frame[list(columns)]
    if point:
        out = out.assign(geom=hex_ewkb_points(frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)))
    cursor = conn.connection.driver_connection.cursor()
    with _postgis_bulk_mode(conn, table, rebuild_indexes=rebuild):
        # In chunks, formatted by a thread while this one sends: the server parses one chunk
        # while the next is made (two cores at work; sending waits on the socket, not the GIL).
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy, \
                ThreadPoolExecutor(1) as formatter:
            for chunk in formatter.map(lambda start: copy_csv(out.iloc[start:start + COPY_CHUNK_ROWS]),
                                       range(0, len(out), COPY_CHUNK_ROWS)):
                copy.write(chunk)
    return frame


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


#: rows formatted and sent to a PostGIS COPY at a time
COPY_CHUNK_ROWS = 50_000
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


def _not_yet_stored(conn: Connection, table: str, frame: pd.DataFrame, unique_key: Sequence[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose key is not in ``table`` yet.

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
def _postgis_bulk_mode(conn: Connection, table: str, *, rebuild_indexes: bool) -> Iterator[None]:
    """For a large batch, drop the table's indexes (GiST and unique ones included) and foreign keys, and add them after.

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
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    for name, _ in foreign_keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    for _, definition in indexes:
        conn.exec_driver_sql(definition)
    for name, definition in foreign_keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    if rebuild_indexes:
        conn.exec_driver_sql(f"ANALYZE {table}")


#: SpatiaLite's per-row triggers a bulk load suspends (see _spatialite_bulk_mode)
_BULK_SUSPENDED_TRIGGERS = ("ggi", "tmi", "gii")


#: from this many rows on, a load drops the table's indexes and builds them again
#: afterwards: one sort per index instead of a million random index inserts
REBUILD_INDEXES_ROWS = 100_000

#: SQLite page cache (KiB) while a bulk load runs
BULK_CACHE_KIB = 262_144


@contextmanager
def _spatialite_bulk_mode(conn: Connection, table: str, *, rebuild_indexes: bool = False) -> Iterator[list]:
    """Suspend SpatiaLite's per-row triggers on ``table`` for one bulk insert.

    The geometry-constraint check (``ggi_``), the last-insert timestamp (``tmi_``)
    and the R*Tree update (``gii_``) run once per row and cut a load from ~130k to
    ~20k rows/s (measured on this machine). Our bulk path builds only valid points
    in SRID 4326, so instead the triggers are dropped, the rows inserted, the
    R*Tree entries of the new points added at the end and the triggers created
    again, all inside the caller's transaction: a failure rolls every step back.
    With ``rebuild_indexes``, the table's b-tree indexes are dropped and created again
    the same way (unique ones too: the caller has left out the rows already stored,
    and building a unique index checks it), and the R*Tree is packed anew from its
    entries and the new points. Indexes that back a table constraint cannot be
    dropped and stay.

    Yields
    ------
    list
        The caller appends ``(ids, lon, lat)`` arrays of the points it stored: the
        R*Tree entries are made from them, not read back from the table.
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
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
    for name, _ in suspended:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    added_points: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    yield added_points
    for _, sql in indexes:
        conn.exec_driver_sql(sql)
    if rtree and added_points:
        ids, lon, lat = (np.concatenate(parts) for parts in zip(*added_points))
        raw = conn.connection.driver_connection
        if rebuild_indexes:
            # the entries already there are float32 boxes, which packing stores unchanged
            old = np.array(raw.execute(f'SELECT pkid, xmin, xmax, ymin, ymax FROM "{rtree}"').fetchall(),
                           dtype=np.float64).reshape(-1, 5)
            pack_rtree(conn, rtree, (np.concatenate([old[:, 0].astype(np.int64), ids]),
                                     np.concatenate([old[:, 1], lon]), np.concatenate([old[:, 2], lon]),
                                     np.concatenate([old[:, 3], lat]), np.concatenate([old[:, 4], lat])))
        else:
            raw.executemany(f'INSERT INTO "{rtree}" (pkid, xmin, xmax, ymin, ymax) VALUES (?, ?, ?, ?, ?)',
                            zip(ids.tolist(), lon.tolist(), lon.tolist(), lat.tolist(), lat.tolist()))
    for _, sql in suspended:
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")


def _sqlite_values(column: pd.Series) -> list:
    """A column as a list of Python values SQLite takes: None for missing, text for timestamps."""
    if pd.api.types.is_datetime64_any_dtype(column):
        column = column.dt.strftime("%Y-%m-%d %H:%M:%S")
    return column.to_numpy(dtype=object, na_value=None).tolist()


def lifecycle_events(issues: pd.DataFrame, *, actor: str) -> pd.DataFrame:
    """One audit event per lifecycle timestamp after the report that an issue carries (imported history).

    Returns a frame with ``issue_id``, ``jurisdiction_code``, ``at``, ``actor``,
    ``action``, ``from_status``, ``to_status``; refusals and merges end the chain
    with their own action.
    """
    parts = []
    previous = "reported"
    for column, action, status in LIFECYCLE_EVENTS:
        at = pd.to_datetime(issues[column])
        part = pd.DataFrame({"issue_id": issues["issue_id"], "jurisdiction_code": issues["jurisdiction_code"],
                             "at": at, "action": action, "from_status": previous, "to_status": status})
        parts.append(part[at.notna()])
        previous = status
    ended = issues[issues["status"].isin(["refused", "merged"])]
    parts.append(pd.DataFrame({
        "issue_id": ended["issue_id"], "jurisdiction_code": ended["jurisdiction_code"],
        "at": pd.to_datetime(ended[["reported_at", "registered_at"]].max(axis=1)),
        "action": ended["status"].map({"refused": "refuse", "merged": "merge"}),
        "from_status": "reported", "to_status": ended["status"],
    }))
    events = pd.concat(parts, ignore_index=True)
    events["actor"] = actor
    return events.sort_values(["issue_id", "at"], kind="stable").reset_index(drop=True)


ASSIGNMENT_COLUMNS = ("cell_code", "segment_id", "segment_dist_m", "compound_code", "community_code", "grid_code",
                      "zone_code", "department_code")


def update_assignment(engine: Engine, assignment: pd.DataFrame) -> int:
    """Overwrite the assignment columns of existing issues in one transaction.

    ``assignment`` has ``id`` (issue id) and :data:`ASSIGNMENT_COLUMNS`.
    """
    missing = [c for c in ("id", *ASSIGNMENT_COLUMNS) if c not in assignment]
    if missing:
        raise ValidationError(f"assignment lacks column(s) {missing}")
    sets = ", ".join(f"{c} = :{c}" for c in ASSIGNMENT_COLUMNS)
    with write_tx(engine) as conn:
        conn.execute(text(f"UPDATE issues SET {sets} WHERE id = :id"),
                     _records(assignment[["id", *ASSIGNMENT_COLUMNS]]))
    return len(assignment)


ISSUE_READ_COLUMNS = ("id", "source", "external_id", "category_code", "description", "address", "status",
                      "reported_at", "closed_at", "deadline_at", "deadline_provisional", "cell_code", "segment_id",
                      "compound_code", "community_code", "grid_code", "zone_code", "department_code")


def query_issues(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    bbox: tuple[float, float, float, float] | None = None,
    status: Iterable[str] | None = None,
    category: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
    ids: Iterable[int] | None = None,
    columns: Sequence[str] = ISSUE_READ_COLUMNS,
    newest_first: bool = False,
    department: Iterable[str] | None = None,
    community: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Issues of a jurisdiction as points (EPSG:4326), filtered; bbox uses the spatial index.

    ``since`` is inclusive and ``until`` exclusive (on ``reported_at``); ``ids`` keeps
    only those issues, ``department`` and ``community`` those of these department /
    community codes. ``columns`` are the ``issues`` columns returned (default
    :data:`ISSUE_READ_COLUMNS`); timestamps come back as datetime64, phone numbers
    in ``description`` and ``address`` masked. Rows are in id order, or newest report
    first with ``newest_first``.
    """
    unknown = [c for c in columns if c not in models.Issue.__table__.columns or c == "geom"]
    if unknown:
        raise ValidationError(f"issues have no column(s) {unknown}")
    where, params = _issue_where(jurisdiction_code, status=status, category=category, since=since, until=until,
                                 ids=ids, department=department, community=community)
    return _masked_text(_read_geo(
        bind, "issues", columns, where=where, params=params, bbox=bbox, points=True, limit=limit, offset=offset,
        order_by="t.reported_at DESC, t.id DESC" if newest_first else "t.id", timestamps=TIMESTAMP_COLUMNS))


def count_issues(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    bbox: tuple[float, float, float, float] | None = None,
    status: Iterable[str] | None = None,
    category: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Iterable[int] | None = None,
    department: Iterable[str] | None = None,
    community: Iterable[str] | None = None,
) -> int:
    """How many issues :func:`query_issues` returns with the same filters (no paging), counted in SQL."""
    where, params = _issue_where(jurisdiction_code, status=status, category=category, since=since, until=until,
                                 ids=ids, department=department, community=community)
    return _with_conn(bind, lambda conn: _count(conn, "issues", where=where, params=params, bbox=bbox, points=True))


def _issue_where(jurisdiction_code: str, *, status, category, since, until, ids, department=None,
                 community=None) -> tuple[str, dict]:
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["t.jurisdiction_code = :j", *_in_clause("t.status", status, params, "status"),
               *_in_clause("t.category_code", category, params, "category_code"),
               *_in_clause("t.department_code", department, params, "department_code"),
               *_in_clause("t.community_code", community, params, "community_code"),
               *_in_clause("t.id", None if ids is None else [int(i) for i in ids], params, "id")]
    if since is not None:
        clauses.append("t.reported_at >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("t.reported_at < :until")
        params["until"] = until
    return " AND ".join(clauses), params


def issue_time_range(bind: Engine | Connection, *, jurisdiction_code: str) -> tuple[datetime, datetime] | None:
    """The first and last ``reported_at`` of a jurisdiction's issues (naive local time), None when none."""
    row = _with_conn(bind, lambda conn: conn.execute(
        text("SELECT min(reported_at), max(reported_at) FROM issues WHERE jurisdiction_code = :j"),
        {"j": jurisdiction_code}).one())
    return None if row[0] is None else (pd.Timestamp(row[0]).to_pydatetime(), pd.Timestamp(row[1]).to_pydatetime())


def count_issues_by(
    bind: Engine | Connection,
    column: str,
    *,
    jurisdiction_code: str,
    status: Iterable[str] | None = None,
) -> pd.Series:
    """Issue counts grouped by an assignment or attribute column (e.g. ``cell_code``), in SQL."""
    groupable = {"cell_code", "segment_id", "compound_code", "community_code", "grid_code", "zone_code",
                 "department_code", "category_code", "status", "source"}
    if column not in groupable:
        raise ValidationError(f"cannot count issues by {column!r}; choose one of {sorted(groupable)}")
    params: dict[str, object] = {"j": jurisdiction_code}
    where = "jurisdiction_code = :j AND " + column + " IS NOT NULL"
    if status is not None:
        keys = [f"s{i}" for i, _ in enumerate(status)]
        params.update(zip(keys, status))
        where += f" AND status IN ({', '.join(':' + k for k in keys)})" if keys else " AND 1 = 0"
    sql = text(f"SELECT {column}, count(*) FROM issues WHERE {where} GROUP BY {column}")
    rows = _with_conn(bind, lambda conn: conn.execute(sql, params).fetchall())
    return pd.Series({key: n for key, n in rows}, name="count", dtype="int64").rename_axis(column)


def count_rows(bind: Engine | Connection, table: str, *, jurisdiction_code: str) -> int:
    """Rows of ``table`` (a schema table name) that belong to the jurisdiction."""
    if table not in models.Base.metadata.tables:
        raise NotFoundError(f"no table {table!r}")
    key = "code" if table == "jurisdictions" else "jurisdiction_code"
    sql = text(f"SELECT count(*) FROM {table} WHERE {key} = :j")
    return _with_conn(bind, lambda conn: conn.execute(sql, {"j": jurisdiction_code}).scalar_one())


# --------------------------------------------------------------------------- greening

#: columns of ``greening_plan`` besides ``id`` and ``jurisdiction_code``
GREENING_PLAN_COLUMNS = ("year", "road_id", "task_code", "side", "from_m", "to_m", "due_date", "section_name", "team")
#: columns of ``greening_records`` a load writes (besides geometry, jurisdiction and ``created_at``)
GREENING_RECORD_COLUMNS = ("external_id", "road_id", "task_code", "side", "from_m", "to_m", "done_on", "team",
                           "quantity", "photo", "note", "source")


def _iso_dates(values: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text, which both SQLite and PostgreSQL take for a DATE."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def _read_plain(bind: Engine | Connection, sql: str, params: dict, columns: Sequence[str]) -> pd.DataFrame:
    rows = _with_conn(bind, lambda conn: conn.execute(text(sql), params).fetchall())
    return pd.DataFrame(rows, columns=list(columns))


def _in_clause(column: str, values: Iterable[str] | None, params: dict, prefix: str) -> list[str]:
    if values is None:
        return []
    values = list(values)
    keys = [f"{prefix}{i}" for i in range(len(values))]
    params.update(zip(keys, values))
    return [f"{column} IN ({', '.join(':' + k for k in keys)})" if keys else "1 = 0"]


def replace_greening_plan(engine: Engine, plan: pd.DataFrame, *, jurisdiction_code: str, year: int) -> int:
    """Replace a jurisdiction's greening plan of one year, in one transaction; rows written.

    ``plan`` has :data:`GREENING_PLAN_COLUMNS` (``section_name`` and ``team`` may be
    missing); every row must be of ``year``.
    """
    frame = pd.DataFrame(plan).copy()
    for column in ("section_name", "team"):
        if column not in frame:
            frame[column] = None
    if "year" not in frame:
        frame["year"] = year
    missing = [c for c in GREENING_PLAN_COLUMNS if c not in frame]
    if missing:
        raise ValidationError(f"greening plan lacks column(s) {missing}")
    other = frame.loc[frame["year"] != year, "year"]
    if len(other):
        raise ValidationError(f"greening plan row of year {other.iloc[0]!r} in a plan for {year}")
    frame["due_date"] = _iso_dates(frame["due_date"])
    frame["jurisdiction_code"] = jurisdiction_code
    columns = (*GREENING_PLAN_COLUMNS, "jurisdiction_code")
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM greening_plan WHERE jurisdiction_code = :j AND year = :y"),
                     {"j": jurisdiction_code, "y": int(year)})
        if len(frame):
            conn.execute(text(f"INSERT INTO greening_plan ({', '.join(columns)}) "
                              f"VALUES ({', '.join(':' + c for c in columns)})"), _records(frame[list(columns)]))
    return len(frame)


def read_greening_plan(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    year: int | None = None,
    road_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The greening plan rows (:data:`GREENING_PLAN_COLUMNS` and ``id``), ``due_date`` as datetime64."""
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["jurisdiction_code = :j", *_in_clause("road_id", road_ids, params, "r")]
    if year is not None:
        clauses.append("year = :y")
        params["y"] = int(year)
    columns = ("id", *GREENING_PLAN_COLUMNS)
    frame = _read_plain(bind, f"SELECT {', '.join(columns)} FROM greening_plan WHERE {' AND '.join(clauses)} "
                              "ORDER BY road_id, task_code, side, from_m, id", params, columns)
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    return frame.astype({"id": "int64", "year": "int64", "from_m": "float64", "to_m": "float64"})


@dataclass(frozen=True)
class GreeningLoad:
    """What a greening-record load did: rows inserted, rows already present (same external id)."""

    inserted: int
    skipped: int


def insert_greening_records(engine: Engine, records: gpd.GeoDataFrame, *, jurisdiction_code: str) -> GreeningLoad:
    """Insert greening work records in one transaction; idempotent on ``external_id``.

    Parameters
    ----------
    records : GeoDataFrame
        EPSG:4326, the stretch (LineString) or spot (Point) each record covers, with
        :data:`GREENING_RECORD_COLUMNS` (optional text columns may be missing). A
        record whose ``external_id`` is already stored for the jurisdiction is
        skipped; records without one are always inserted.
    """
    if records.crs is None or not records.crs.equals(WGS84):
        raise ValidationError(f"greening records must be EPSG:4326, got {records.crs}")
    if shapely.is_empty(records.geometry.values).any() or not records.geom_type.isin(["Point", "LineString"]).all():
        raise ValidationError("greening records must be non-empty points or lines")
    frame = pd.DataFrame(records.drop(columns=records.geometry.name)).reset_index(drop=True)
    for column in GREENING_RECORD_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["done_on"] = _iso_dates(frame["done_on"])
    frame["jurisdiction_code"] = jurisdiction_code
    frame["created_at"] = local_now().strftime("%Y-%m-%d %H:%M:%S")
    columns = (*GREENING_RECORD_COLUMNS, "jurisdiction_code", "created_at")
    rows = _records(frame[list(columns)])
    for row, wkb in zip(rows, shapely.to_wkb(records.geometry.values)):
        row["wkb"] = wkb
    count = text("SELECT count(*) FROM greening_records WHERE jurisdiction_code = :j")
    with write_tx(engine) as conn:
        before = conn.execute(count, {"j": jurisdiction_code}).scalar_one()
        if rows:
            conn.execute(text(f"INSERT INTO greening_records ({', '.join(columns)}, geom) "
                              f"VALUES ({', '.join(':' + c for c in columns)}, {_geom_from_wkb(conn, 'wkb')}) "
                              "ON CONFLICT DO NOTHING"), rows)
        inserted = conn.execute(count, {"j": jurisdiction_code}).scalar_one() - before
    return GreeningLoad(inserted=inserted, skipped=len(rows) - inserted)


def read_greening_records(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    road_ids: Iterable[str] | None = None,
    since=None,
    until=None,
) -> gpd.GeoDataFrame:
    """Greening records (EPSG:4326) with ``id`` and :data:`GREENING_RECORD_COLUMNS`, ``done_on`` as datetime64,
    phone numbers in ``note`` and ``team`` masked.

    ``since`` / ``until`` (date-like, inclusive) filter on ``done_on``.
    """
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["t.jurisdiction_code = :j", *_in_clause("t.road_id", road_ids, params, "r")]
    for name, value, op in (("since", since, ">="), ("until", until, "<=")):
        if value is not None:
            clauses.append(f"t.done_on {op} :{name}")
            params[name] = pd.Timestamp(value).strftime("%Y-%m-%d")
    frame = _read_geo(bind, "greening_records", ("id", *GREENING_RECORD_COLUMNS), where=" AND ".join(clauses),
                      params=params, order_by="t.done_on, t.id")
    frame["done_on"] = pd.to_datetime(frame["done_on"])
    frame = frame.astype({"id": "int64", "from_m": "float64", "to_m": "float64", "quantity": "float64"})
    # Missing text is None on both back ends (psycopg hands NULLs of an all-NULL column as NaN otherwise).
    for column in ("external_id", "team", "photo", "note"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return _masked_text(frame)


# --------------------------------------------------------------------------- API keys of the standard APIs

#: the role of an API key that has no user (made before keys had users): it submits and reads no issue
KEY_WITHOUT_USER_ROLE = "public"


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(engine: Engine, name: str, *, jurisdiction_code: str, user: str | int | None = None) -> str:
    """Create an API key named ``name`` acting as ``user``; returns the key, which only this call ever sees.

    Parameters
    ----------
    name : str
        What the key is for (1–100 characters), unique in the jurisdiction.
    user : str or int, optional, keyword-only
        The active user of the jurisdiction the key acts as: its name (str) or id
        (int). Without one the key acts as the ``public`` role.

    The database keeps the key's SHA-256. A name already in use is a
    :class:`~geo.errors.ConflictError`; an unknown user a :class:`~geo.errors.NotFoundError`.
    """
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(f"API key name {name!r}: expected 1–100 characters")
    key = secrets.token_urlsafe(32)
    with write_tx(engine) as conn:
        user_id = None
        if user is not None:
            by = "id" if isinstance(user, int) else "name"
            user_id = conn.execute(text(f"SELECT id FROM users WHERE jurisdiction_code = :j AND {by} = :u AND active"),
                                   {"j": jurisdiction_code, "u": user}).scalar_one_or_none()
            if user_id is None:
                raise NotFoundError(f"user {user!r} not found among the active users of {jurisdiction_code}; "
                                    "create it first (citymap user create)")
        taken = conn.execute(text("SELECT 1 FROM api_keys WHERE jurisdiction_code = :j AND name = :n"),
                             {"j": jurisdiction_code, "n": name}).first()
        if taken:
            raise ConflictError(f"an API key named {name!r} already exists")
        conn.execute(text("INSERT INTO api_keys (jurisdiction_code, name, key_sha256, created_at, user_id) "
                          "VALUES (:j, :n, :h, :at, :u)"),
                     {"j": jurisdiction_code, "n": name, "h": _key_digest(key),
                      "at": local_now(), "u": user_id})
    return key


def api_key_user(bind: Engine | Connection, key: str, *, jurisdiction_code: str) -> dict | None:
    """Who the API key ``key`` acts as, or None if it is no key of the jurisdiction.

    Returns
    -------
    dict or None
        The key's user as :func:`session_user` gives it (:data:`USER_COLUMNS`) plus
        ``key_name``. A key without a user gives ``id`` None, ``name`` the key's
        name and role :data:`KEY_WITHOUT_USER_ROLE`. A key of a deactivated user
        gives None, like a wrong key.
    """
    if not key:
        return None
    row = _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT k.name AS key_name, k.user_id AS key_user_id, {', '.join(f'u.{c}' for c in USER_COLUMNS)} "
        "FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.key_sha256 = :h AND k.jurisdiction_code = :j"),
        {"h": _key_digest(key), "j": jurisdiction_code})))
    if row is None:
        return None
    key_name = row.pop("key_name")
    if row.pop("key_user_id") is None:
        return {"id": None, "jurisdiction_code": jurisdiction_code, "name": key_name, "role": KEY_WITHOUT_USER_ROLE,
                "department_code": None, "active": True, "created_at": None, "key_name": key_name}
    return {**row, "key_name": key_name} if row["active"] else None


def issue_id_of(bind: Engine | Connection, *, jurisdiction_code: str, source: str, external_id: str) -> int | None:
    """The id of the issue a source knows by ``external_id`` (an Open311 token, a 12345 case number), or None."""
    return _with_conn(bind, lambda conn: conn.execute(
        text("SELECT id FROM issues WHERE jurisdiction_code = :j AND source = :s AND external_id = :e"),
        {"j": jurisdiction_code, "s": source, "e": external_id}).scalar_one_or_none())


# --------------------------------------------------------------------------- closed loop (geo.workflow)

#: issue columns geo.workflow reads before a transition
ISSUE_STATE_COLUMNS = ("id", "jurisdiction_code", "status", "department_code", "category_code", "merged_into")


def issue_state(conn: Connection, issue_id: int) -> dict | None:
    """The workflow columns of one issue (:data:`ISSUE_STATE_COLUMNS`), or None if there is no such issue."""
    row = conn.execute(text(f"SELECT {', '.join(ISSUE_STATE_COLUMNS)} FROM issues WHERE id = :id"),
                       {"id": int(issue_id)}).mappings().first()
    return None if row is None else dict(row)


def lock_row(conn: Connection, table: str, row_id: int, columns: Sequence[str]) -> dict | None:
    """Read ``columns`` of the row ``id = row_id`` of ``table`` and hold it until the transaction ends.

    For a read-modify-write inside :func:`geo.db.write_tx`: on PostgreSQL this is
    ``SELECT … FOR UPDATE``, so a second transaction locking the same row waits here
    until the first commits and then reads the committed value (a plain ``SELECT``
    would read the old one and its update would overwrite the other's); on SQLite,
    where ``write_tx`` already admits one writer at a time, a plain ``SELECT``.
    Returns the values by column name, or None when there is no such row.
    """
    if table not in models.Base.metadata.tables:
        raise ValidationError(f"no table {table!r}")
    known = models.Base.metadata.tables[table].columns
    unknown = [c for c in columns if c not in known or c == "geom"]
    if unknown or "id" not in known or not columns:
        raise ValidationError(f"cannot lock columns {list(columns)!r} of {table}: it has {[c.name for c in known]}")
    lock = "" if is_sqlite(conn) else " FOR UPDATE"
    row = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table} WHERE id = :id{lock}"),
                       {"id": int(row_id)}).mappings().first()
    return None if row is None else dict(row)


def update_issue_if_status(conn: Connection, issue_id: int, *, expected_status: str, values: dict,
                           increment_rework: bool = False) -> int:
    """``UPDATE issues SET … WHERE id = :id AND status = :expected``; returns the rowcount (0: lost a race).

    ``values`` maps issue columns to new values (None clears); ``increment_rework`` adds 1 to ``rework_count``.
    """
    unknown = [c for c in values if c not in models.Issue.__table__.columns or c in ("id", "geom")]
    if unknown:
        raise ValidationError(f"issues have no updatable column(s) {unknown}")
    sets = [f"{c} = :v_{c}" for c in values] + (["rework_count = rework_count + 1"] if increment_rework else [])
    params = {f"v_{c}": v for c, v in values.items()} | {"id": int(issue_id), "expected": expected_status}
    return conn.execute(text(f"UPDATE issues SET {', '.join(sets)} WHERE id = :id AND status = :expected"),
                        params).rowcount


def insert_issue_event(conn: Connection, event: dict, *, lon: float | None = None, lat: float | None = None) -> int:
    """Write one audit event (``issue_events``) and return its id; the position is optional (both or neither)."""
    columns = ("jurisdiction_code", "issue_id", "at", "actor", "action", "from_status", "to_status", "note", "photo")
    params = {c: event.get(c) for c in columns}
    if lon is None:
        geom = "NULL"
    else:
        params["wkb"] = shapely.to_wkb(shapely.points(float(lon), float(lat)))
        geom = _geom_from_wkb(conn, "wkb")
    return conn.execute(text(f"INSERT INTO issue_events ({', '.join(columns)}, geom) "
                             f"VALUES ({', '.join(':' + c for c in columns)}, {geom}) RETURNING id"),
                        params).scalar_one()


def read_issue_events(bind: Engine | Connection, issue_id: int) -> pd.DataFrame:
    """The audit trail of one issue, oldest first: ``id``, ``at``, ``actor``, ``action``, ``from_status``,
    ``to_status``, ``note`` (phone numbers masked), ``photo``, ``lon``, ``lat`` (NaN without a position)."""
    def run(conn: Connection) -> pd.DataFrame:
        rows = conn.execute(text(
            "SELECT id, at, actor, action, from_status, to_status, note, photo, ST_X(geom), ST_Y(geom) "
            "FROM issue_events WHERE issue_id = :i ORDER BY at, id"), {"i": int(issue_id)}).fetchall()
        frame = pd.DataFrame(list(map(tuple, rows)), columns=["id", "at", "actor", "action", "from_status",
                                                              "to_status", "note", "photo", "lon", "lat"])
        frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
        return _masked_text(frame.astype({"lon": "float64", "lat": "float64"}))

    return _with_conn(bind, run)


# --------------------------------------------------------------------------- frontage units and inspections (geo.coverage)

#: columns of ``frontage_units`` besides ``id``, ``jurisdiction_code`` and ``geom``
FRONTAGE_COLUMNS = ("code", "name", "kind", "road_id", "from_m", "to_m")
#: columns of ``inspections`` a load writes besides ``jurisdiction_code``, ``created_at`` and ``geom``
INSPECTION_COLUMNS = ("team", "actor", "kind", "started_at", "ended_at", "source")


def replace_frontage_units(engine: Engine, units: gpd.GeoDataFrame, *, jurisdiction_code: str) -> int:
    """Replace a jurisdiction's 门前三包 frontage units (EPSG:4326 polygons, :data:`FRONTAGE_COLUMNS`) in one
    transaction; returns the rows written."""
    frame = _check_frame(units, ("code", "name", "kind"), "frontage_units").copy()
    for column in ("road_id", "from_m", "to_m"):
        if column not in frame:
            frame[column] = None
    frame["jurisdiction_code"] = jurisdiction_code
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM frontage_units WHERE jurisdiction_code = :j"), {"j": jurisdiction_code})
        if len(frame):
            _insert_frame(conn, "frontage_units", frame, ("jurisdiction_code", *FRONTAGE_COLUMNS))
    return len(frame)


def read_frontage_units(bind: Engine | Connection, *, jurisdiction_code: str) -> gpd.GeoDataFrame:
    """A jurisdiction's frontage units (EPSG:4326) with :data:`FRONTAGE_COLUMNS`, by code."""
    frame = _read_geo(bind, "frontage_units", FRONTAGE_COLUMNS, where="t.jurisdiction_code = :j",
                      params={"j": jurisdiction_code}, order_by="t.code")
    return frame.astype({"from_m": "float64", "to_m": "float64"})


def insert_inspections(engine: Engine, inspections: gpd.GeoDataFrame, *, jurisdiction_code: str) -> int:
    """Store inspection tracks (LineString) and check-ins (Point), EPSG:4326, with :data:`INSPECTION_COLUMNS`,
    in one transaction; returns the rows written."""
    frame = _check_frame(inspections, INSPECTION_COLUMNS, "inspections").copy()
    frame["jurisdiction_code"] = jurisdiction_code
    # Text, as the greening loads do: sqlite3 cannot bind pandas Timestamps, and both back ends read it.
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d %H:%M:%S")
    frame["created_at"] = local_now().strftime("%Y-%m-%d %H:%M:%S")
    if len(frame):
        with write_tx(engine) as conn:
            _insert_frame(conn, "inspections", frame, ("jurisdiction_code", *INSPECTION_COLUMNS, "created_at"))
    return len(frame)


def read_inspections(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    teams: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> gpd.GeoDataFrame:
    """Inspections (EPSG:4326) with ``id`` and :data:`INSPECTION_COLUMNS`, oldest first.

    ``since`` (inclusive, on ``ended_at``) and ``until`` (exclusive, on ``started_at``) keep the
    inspections that overlap ``[since, until)``; ``teams`` keeps those teams.
    """
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["t.jurisdiction_code = :j", *_in_clause("t.team", teams, params, "team")]
    if since is not None:
        clauses.append("t.ended_at >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("t.started_at < :until")
        params["until"] = until
    return _read_geo(bind, "inspections", ("id", *INSPECTION_COLUMNS), where=" AND ".join(clauses),
                     params=params, order_by="t.started_at, t.id", timestamps=("started_at", "ended_at"))


def purge_inspections(engine: Engine, *, before: datetime, jurisdiction_code: str | None = None,
                      source: str | None = None) -> int:
    """Delete inspections that ended before ``before`` (the retention limit), optionally of one jurisdiction
    and source; returns how many went."""
    params: dict[str, object] = {"b": before}
    where = "ended_at < :b"
    for column, value in (("jurisdiction_code", jurisdiction_code), ("source", source)):
        if value is not None:
            where += f" AND {column} = :{column}"
            params[column] = value
    with write_tx(engine) as conn:
        return conn.execute(text(f"DELETE FROM inspections WHERE {where}"), params).rowcount


# --------------------------------------------------------------------------- users, sessions, phone reveals, photos (webmap.auth)

#: columns of ``users`` read back (never the password hash, except by :func:`read_login`)
USER_COLUMNS = ("id", "jurisdiction_code", "name", "role", "department_code", "active", "created_at")


def create_user(engine: Engine, *, name: str, password_hash: str, role: str, department_code: str | None,
                jurisdiction_code: str, now: datetime) -> int:
    """Insert a user (checked by :func:`geo.users.check_account`); a name in use is a ConflictError."""
    with write_tx(engine) as conn:
        taken = conn.execute(text("SELECT 1 FROM users WHERE jurisdiction_code = :j AND name = :n"),
                             {"j": jurisdiction_code, "n": name}).first()
        if taken:
            raise ConflictError(f"a user named {name!r} already exists")
        return conn.execute(text(
            "INSERT INTO users (jurisdiction_code, name, password_hash, role, department_code, active, created_at) "
            "VALUES (:j, :n, :h, :r, :d, :a, :at) RETURNING id"),
            {"j": jurisdiction_code, "n": name, "h": password_hash, "r": role, "d": department_code, "a": True,
             "at": now}).scalar_one()


def read_login(bind: Engine | Connection, name: str, *, jurisdiction_code: str) -> dict | None:
    """The active user called ``name`` with its password hash (for logging in), or None."""
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT {', '.join(USER_COLUMNS)}, password_hash FROM users "
        "WHERE jurisdiction_code = :j AND name = :n AND active"), {"j": jurisdiction_code, "n": name})))


def set_password(engine: Engine, name: str, *, password_hash: str, jurisdiction_code: str) -> int:
    """Give the user called ``name`` a new password hash and end its logins; returns how many ended.

    Raises
    ------
    geo.errors.NotFoundError
        No user of that name in the jurisdiction.
    """
    with write_tx(engine) as conn:
        user_id = conn.execute(text("UPDATE users SET password_hash = :h WHERE jurisdiction_code = :j AND name = :n "
                                    "RETURNING id"), {"h": password_hash, "j": jurisdiction_code, "n": name}).scalar()
        if user_id is None:
            raise NotFoundError(f"user {name!r} not found in {jurisdiction_code}; create it first (citymap user create)")
        # whoever knew the old password and logged in with it is logged out
        return conn.execute(text("DELETE FROM user_sessions WHERE user_id = :u"), {"u": user_id}).rowcount


def read_users(bind: Engine | Connection, *, jurisdiction_code: str) -> pd.DataFrame:
    """The users of a jurisdiction (:data:`USER_COLUMNS`, no password hashes), by name."""
    return _read_plain(bind, f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE jurisdiction_code = :j ORDER BY name",
                       {"j": jurisdiction_code}, USER_COLUMNS)


def _one(result) -> dict | None:
    row = result.mappings().first()
    return None if row is None else dict(row)


def create_session(engine: Engine, *, token_sha256: str, user_id: int, now: datetime, expires_at: datetime,
                   ip: str | None) -> None:
    """Store a login (keyed by the SHA-256 of the cookie's token); expired logins are deleted on the way."""
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM user_sessions WHERE expires_at <= :now"), {"now": now})
        conn.execute(text("INSERT INTO user_sessions (token_sha256, user_id, created_at, expires_at, ip) "
                          "VALUES (:t, :u, :now, :e, :ip)"),
                     {"t": token_sha256, "u": user_id, "now": now, "e": expires_at, "ip": ip})


def session_user(bind: Engine | Connection, token_sha256: str, *, now: datetime) -> dict | None:
    """The active user of an unexpired login (:data:`USER_COLUMNS`), or None."""
    columns = ", ".join(f"u.{c}" for c in USER_COLUMNS)
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT {columns} FROM user_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_sha256 = :t AND s.expires_at > :now AND u.active"), {"t": token_sha256, "now": now})))


def delete_session(engine: Engine, token_sha256: str) -> int:
    """End a login (logout); returns 1 if it existed."""
    with write_tx(engine) as conn:
        return conn.execute(text("DELETE FROM user_sessions WHERE token_sha256 = :t"), {"t": token_sha256}).rowcount


#: the login throttle's counters: the client's address and the typed user name, locked in this order
LOGIN_SCOPES = ("ip", "name")


@dataclass(frozen=True)
class LoginAttempt:
    """What :func:`reserve_login_attempt` decided.

    ``wait_s`` > 0 refuses the attempt (nothing was counted): that many seconds until
    every counter lets one through. Otherwise the attempt was counted as a failure of
    each key, holding it until ``held[scope]``; :func:`login_succeeded` takes that back.
    """

    keys: dict[str, str]
    now: datetime
    wait_s: float
    held: dict[str, datetime]


def reserve_login_attempt(engine: Engine, *, ip: str, name: str, now: datetime,
                          delay_s: Callable[[str, int], float], forget_before: datetime) -> LoginAttempt:
    """Let one login attempt go ahead, or say how long to wait; atomic across threads and processes.

    In one write transaction: counters whose wait ended before ``forget_before`` are
    forgotten (deleted); the rows of ``ip`` and ``name`` are made or locked (an upsert,
    so two first attempts cannot both insert, and no attempt reads a row another one
    is changing); if either row's ``next_at`` is after ``now`` nothing changes and the
    attempt must wait. Otherwise the attempt counts as a failure of both at once —
    ``failures + 1``, ``next_at = now + delay_s(scope, failures)`` — before its password
    is checked, so of many concurrent guesses only as many pass as the delays let
    through, and an attempt that never finishes stays counted.

    Parameters
    ----------
    ip, name : str
        The keys (cut to the columns' 45 and 60 characters); ``name`` as typed, known or not,
        so that an unknown name behaves like a real one.
    delay_s : callable
        ``(scope, failures) -> seconds`` after the ``failures``-th failure of a key of ``scope``.
    """
    keys = {"ip": ip[:45], "name": name[:60]}
    found: dict[str, tuple[int, datetime]] = {}
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM login_throttles WHERE next_at < :old"), {"old": forget_before})
        # always in LOGIN_SCOPES order: two attempts that share a key never wait on each other in a circle
        for scope in LOGIN_SCOPES:
            row = conn.execute(text(
                "INSERT INTO login_throttles (scope, key, failures, next_at) VALUES (:s, :k, 0, :now) "
                "ON CONFLICT (scope, key) DO UPDATE SET failures = login_throttles.failures "
                "RETURNING failures, next_at").columns(failures=Integer, next_at=DateTime),
                {"s": scope, "k": keys[scope], "now": now}).one()
            found[scope] = (row.failures, row.next_at)
        # never longer than the delay its failures set: a clock set back (or a row written by a clock
        # that ran ahead) must not hold an address or a name for years
        wait = max(min((next_at - now).total_seconds(), delay_s(scope, failures))
                   for scope, (failures, next_at) in found.items())
        if wait > 0:
            return LoginAttempt(keys=keys, now=now, wait_s=wait, held={})
        held = {scope: now + timedelta(seconds=delay_s(scope, failures + 1)) for scope, (failures, _) in found.items()}
        for scope, (failures, _) in found.items():
            conn.execute(text("UPDATE login_throttles SET failures = :f, next_at = :until WHERE scope = :s AND key = :k"),
                         {"f": failures + 1, "until": held[scope], "s": scope, "k": keys[scope]})
    return LoginAttempt(keys=keys, now=now, wait_s=0.0, held=held)


def login_succeeded(engine: Engine, attempt: LoginAttempt) -> None:
    """Take back a passed attempt (:func:`reserve_login_attempt`) whose password was right.

    The name's counter starts again with no wait: whatever anybody tried against the
    account, its user is not slowed down afterwards. The address gets back the failure
    the attempt counted, and its wait unless another attempt took a later one since —
    an address is not cleared by a good login, which a guesser could make with an
    account of its own.
    """
    if attempt.wait_s > 0:
        raise ValidationError(f"a refused login attempt (wait {attempt.wait_s:g} s) cannot succeed")
    with write_tx(engine) as conn:
        conn.execute(text(
            "UPDATE login_throttles SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, "
            "next_at = CASE WHEN next_at = :held THEN :now ELSE next_at END WHERE scope = 'ip' AND key = :k"),
            {"held": attempt.held["ip"], "now": attempt.now, "k": attempt.keys["ip"]})
        conn.execute(text("UPDATE login_throttles SET failures = 0, next_at = :now WHERE scope = 'name' AND key = :k"),
                     {"now": attempt.now, "k": attempt.keys["name"]})


def read_contact(bind: Engine | Connection, issue_id: int) -> dict | None:
    """The reporter's contact of an issue (``phone``, ``name``, ``email``), unmasked — callers mask it — or None."""
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        "SELECT phone, name, email FROM reporter_contacts WHERE issue_id = :i"), {"i": int(issue_id)})))


def reveal_phone(engine: Engine, issue_id: int, *, user_name: str, at: datetime, ip: str | None) -> str | None:
    """The unmasked phone number of an issue's reporter, logged in ``phone_reveals`` in the same transaction.

    Nothing is logged (and None returned) when the issue has no phone number.
    """
    with write_tx(engine) as conn:
        row = conn.execute(text("SELECT c.phone, i.jurisdiction_code FROM reporter_contacts c "
                                "JOIN issues i ON i.id = c.issue_id WHERE c.issue_id = :i"),
                           {"i": int(issue_id)}).first()
        if row is None or not row[0]:
            return None
        conn.execute(text("INSERT INTO phone_reveals (jurisdiction_code, issue_id, user_name, at, ip) "
                          "VALUES (:j, :i, :u, :at, :ip)"),
                     {"j": row[1], "i": int(issue_id), "u": user_name, "at": at, "ip": ip})
        return row[0]


def read_phone_reveals(bind: Engine | Connection, *, jurisdiction_code: str, issue_id: int | None = None) -> pd.DataFrame:
    """The phone-reveal log (``issue_id``, ``user_name``, ``at``, ``ip``), oldest first."""
    params: dict[str, object] = {"j": jurisdiction_code}
    where = "jurisdiction_code = :j"
    if issue_id is not None:
        where += " AND issue_id = :i"
        params["i"] = int(issue_id)
    frame = _read_plain(bind, f"SELECT issue_id, user_name, at, ip FROM phone_reveals WHERE {where} ORDER BY at, id",
                        params, ("issue_id", "user_name", "at", "ip"))
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return frame


PHOTO_COLUMNS = ("issue_id", "file", "content_type", "size_bytes", "uploaded_by", "at")


def insert_issue_photos(engine: Engine, photos: pd.DataFrame, *, jurisdiction_code: str) -> int:
    """Record stored photo files (:data:`PHOTO_COLUMNS`) of issues; returns how many."""
    missing = [c for c in PHOTO_COLUMNS if c not in photos]
    if missing:
        raise ValidationError(f"photos lack column(s) {missing}")
    if photos.empty:
        return 0
    frame = photos[list(PHOTO_COLUMNS)].assign(jurisdiction_code=jurisdiction_code)
    # the drivers take Python datetimes, not pandas Timestamps
    frame["at"] = pd.Series(pd.to_datetime(frame["at"]).dt.to_pydatetime(), index=frame.index, dtype=object)
    rows = _records(frame)
    with write_tx(engine) as conn:
        conn.execute(text(f"INSERT INTO issue_photos (jurisdiction_code, {', '.join(PHOTO_COLUMNS)}) "
                          f"VALUES (:jurisdiction_code, {', '.join(':' + c for c in PHOTO_COLUMNS)})"), rows)
    return len(rows)


def read_issue_photos(bind: Engine | Connection, *, issue_id: int | None = None, file: str | None = None) -> pd.DataFrame:
    """Photos of one issue, or the record of one photo file (:data:`PHOTO_COLUMNS`), oldest first."""
    if (issue_id is None) == (file is None):
        raise ValidationError("give either issue_id or file")
    where, params = ("issue_id = :v", {"v": int(issue_id)}) if file is None else ("file = :v", {"v": file})
    frame = _read_plain(bind, f"SELECT {', '.join(PHOTO_COLUMNS)} FROM issue_photos WHERE {where} ORDER BY at, id",
                        params, PHOTO_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return frame


# --------------------------------------------------------------------------- the working-day calendar

def read_calendar_days(bind: Engine | Connection) -> pd.DataFrame:
    """The holidays and make-up working days an office loaded: ``date`` (datetime64), ``kind``, ``name``."""
    rows = _with_conn(bind, lambda conn: conn.execute(
        text("SELECT day, kind, name FROM calendar_days ORDER BY day")).all())
    frame = pd.DataFrame(rows, columns=["date", "kind", "name"])
    return frame.assign(date=pd.to_datetime(frame["date"]), kind=frame["kind"].astype("string"))


def replace_calendar_years(conn: Connection, days: pd.DataFrame) -> list[int]:
    """Replace the loaded calendar of the years ``days`` covers (in the caller's transaction); the years.

    Every jurisdiction's layer version moves, so that long-running processes read
    the calendar again with their layers (:class:`geo.ingest.LayerCache`).
    """
    when = pd.to_datetime(days["date"])
    years = sorted({int(y) for y in when.dt.year})
    for year in years:
        conn.execute(text("DELETE FROM calendar_days WHERE day >= :a AND day <= :b"),
                     {"a": date(year, 1, 1), "b": date(year, 12, 31)})
    at = local_now()
    conn.execute(text("INSERT INTO calendar_days (day, kind, name, loaded_at) VALUES (:d, :k, :n, :at)"),
                 [{"d": d.date(), "k": str(k), "n": None if pd.isna(n) else str(n), "at": at}
                  for d, k, n in zip(when, days["kind"], days.get("name", pd.Series(pd.NA, index=days.index)))])
    conn.execute(text("UPDATE layer_versions SET version = version + 1, changed_at = :at"), {"at": at})
    return years


def read_provisional_deadlines(bind: Engine | Connection) -> pd.DataFrame:
    """Issues (every jurisdiction) whose deadline is provisional: ``id``, ``category_code``, ``reported_at``."""
    rows = _with_conn(bind, lambda conn: conn.execute(text(
        "SELECT id, category_code, reported_at FROM issues WHERE deadline_provisional ORDER BY id")).all())
    frame = pd.DataFrame(rows, columns=["id", "category_code", "reported_at"])
    return frame.assign(reported_at=pd.to_datetime(frame["reported_at"]))


def update_deadlines(conn: Connection, deadlines: pd.DataFrame) -> int:
    """Set ``deadline_at`` and ``deadline_provisional`` of issues by ``id`` (in the caller's transaction)."""
    if deadlines.empty:
        return 0
    conn.execute(text("UPDATE issues SET deadline_at = :due, deadline_provisional = :p WHERE id = :id"),
                 [{"id": int(i), "due": None if pd.isna(d) else pd.Timestamp(d).to_pydatetime(), "p": bool(p)}
                  for i, d, p in zip(deadlines["id"], deadlines["deadline_at"], deadlines["deadline_provisional"])])
    return len(deadlines)
