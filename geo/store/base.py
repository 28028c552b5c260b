"""What the table modules share: the issue columns, dialect helpers, masked reads, bbox filters.

Geometries go in and out as WKB, WGS84 lon/lat (SRID 4326). Free text people typed is read back
with the phone numbers in it masked (:func:`geo.privacy.mask_phones`).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo.crs import WGS84
from geo.errors import ValidationError
from geo.privacy import mask_phones
from geo.store.db import is_sqlite

#: columns of ``issues`` an import writes (besides geometry and the batch id)
STORED_ISSUE_COLUMNS = (
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

#: more than PostGIS's rounding of a box to 32-bit floats, in degrees (one step is at most 2**-16 below 256°)
FLOAT4_SLACK_DEG = 1e-4

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


def known_total(*, offset: int, returned: int, limit: int | None) -> int | None:
    """How many rows match a query, if a page of it tells (None: count them).

    A page that is not full (or not limited) ends the matches, unless it is empty past
    the start (``offset`` may lie beyond the last match).
    """
    if (limit is None or returned < limit) and (returned > 0 or offset == 0):
        return offset + returned
    return None


def _count(conn: Connection, table: str, *, where: str, params: dict, bbox: Sequence[float] | None = None,
           points: bool = False, index: str | None = None) -> int:
    source, condition = _source_where(conn, table, where, bbox, points=points, index=index)
    return int(conn.execute(text(f"SELECT count(*) FROM {source} WHERE {condition}"), params).scalar_one())


def _source_where(conn: Connection, table: str, where: str, bbox: Sequence[float] | None, *,
                  points: bool, index: str | None = None) -> tuple[str, str]:
    """(FROM, WHERE) of a query on ``table`` with an attribute condition and an optional bbox.

    ``index``: on SQLite, read the rows through this index (``INDEXED BY``) and test each
    one against the bbox, instead of reading the R*Tree first; better when the condition
    alone matches fewer rows than the bbox holds. PostgreSQL's planner chooses by itself.
    """
    sqlite = is_sqlite(conn)
    source = f"{table} t INDEXED BY {index}" if index is not None and sqlite else f"{table} t"
    if bbox is None:
        return source, where
    if index is not None and sqlite:
        minx, miny, maxx, maxy = _check_bbox(bbox)
        test = "MbrIntersects" if points else "ST_Intersects"
        return source, f"{where} AND {test}(t.geom, BuildMbr({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326))"
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
        exact = f"ST_X(t.geom) BETWEEN {minx!r} AND {maxx!r} AND ST_Y(t.geom) BETWEEN {miny!r} AND {maxy!r}"
        e = FLOAT4_SLACK_DEG
        if maxx - minx > 2 * e and maxy - miny > 2 * e:
            # As on SpatiaLite: a point whose 32-bit box lies inside the bbox shrunk by more than that
            # rounding is inside for sure (one box test); only those along the edges have their
            # coordinates read (four calls). 1M issues, 500 m boxes of ~11,000: a count 6.2 -> 4.4 ms.
            inner = f"ST_MakeEnvelope({minx + e!r}, {miny + e!r}, {maxx - e!r}, {maxy - e!r}, 4326)"
            exact = f"(t.geom @ {inner} OR {exact})"
        return f"{table} t", f"t.geom && {envelope} AND {exact}"
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
    index: str | None = None,
) -> gpd.GeoDataFrame:
    """Rows of ``table`` as a GeoDataFrame; ``points`` reads x/y instead of WKB (faster).

    The ``timestamps`` among ``columns`` come back as datetime64[us] (NaT for NULL);
    ``index`` as for :func:`_source_where`.
    """
    def run(conn: Connection) -> gpd.GeoDataFrame:
        source, condition = _source_where(conn, table, where, bbox, points=points, index=index)
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


def _one(result) -> dict | None:
    row = result.mappings().first()
    return None if row is None else dict(row)
