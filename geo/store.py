"""Reading and writing the database: bulk loads, spatial-index queries, GeoDataFrames out.

The same functions run on SpatiaLite and PostGIS; where the two differ (bulk insert,
the spatial-index query) this module picks the dialect's fastest path:

* SpatiaLite: ``executemany`` with ``MakePoint``; for large batches the R*Tree is
  dropped and rebuilt once after the load (per-row index triggers cost 3×), and a
  bbox query reads the R*Tree table ``idx_<table>_geom`` directly, because
  ``ST_Within``/``MbrWithin`` alone scan the whole table.
* PostGIS: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT``;
  a bbox query uses ``&&`` on the GiST index.

Geometries go in and out as WKB and are WGS84 lon/lat (SRID 4326).
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo import models
from geo.db import is_sqlite, write_tx
from geo.errors import NotFoundError, ValidationError

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
JURISDICTION_COLUMNS = ("code", "name", "district_code", "metric_crs", "cell_size_m", "grid_origin_x", "grid_origin_y")

#: columns of ``issues`` an import writes (besides geometry and the batch id)
ISSUE_COLUMNS = (
    "jurisdiction_code", "source", "external_id", "source_system", "category_code", "description", "address",
    "status", "reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at",
    "deadline_at", "rework_count", "cell_code", "segment_id", "segment_dist_m", "compound_code",
    "community_code", "grid_code", "zone_code", "department_code",
)
TIMESTAMP_COLUMNS = ("reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at", "deadline_at")

#: lifecycle column → (event action, status the issue entered); order is the loop's order
LIFECYCLE_EVENTS = (
    ("reported_at", "report", "reported"),
    ("registered_at", "register", "registered"),
    ("dispatched_at", "dispatch", "dispatched"),
    ("handled_at", "handle", "handled"),
    ("verified_at", "verify", "verified"),
    ("closed_at", "close", "closed"),
)

#: above this many rows a SpatiaLite load rebuilds the R*Tree once instead of per row
REBUILD_INDEX_ROWS = 50_000


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
    return {name: n for name, n in counts.items() if name in layers or name == "departments"}


def replace_some_layers(engine: Engine, frames: dict[str, gpd.GeoDataFrame], *, jurisdiction_code: str) -> dict[str, int]:
    """Replace the given reference layers of a jurisdiction in one transaction; layer → rows written."""
    with write_tx(engine) as conn:
        return {name: _replace_layer(conn, name, frame, jurisdiction_code) for name, frame in frames.items()}


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
) -> gpd.GeoDataFrame:
    """A reference layer as a GeoDataFrame (EPSG:4326), optionally only what meets ``bbox``.

    ``name`` is a key of :data:`LAYER_TABLES` or ``"jurisdiction"``.
    """
    if name == "jurisdiction":
        table, columns, key = "jurisdictions", JURISDICTION_COLUMNS, "code"
    elif name in LAYER_TABLES:
        (table, columns), key = LAYER_TABLES[name], "jurisdiction_code"
    else:
        raise ValidationError(f"unknown layer {name!r}; known: jurisdiction, {', '.join(LAYER_TABLES)}")
    return _read_geo(bind, table, columns, where=f"t.{key} = :j", params={"j": jurisdiction_code}, bbox=bbox)


def _bbox_clause(conn: Connection, table: str, bbox: Sequence[float]) -> str:
    minx, miny, maxx, maxy = _check_bbox(bbox)
    if is_sqlite(conn):
        # The R*Tree stores MBRs as 32-bit floats rounded outwards: it yields candidates,
        # and the exact test on the few candidates keeps the answer identical to PostGIS's.
        return (f"t.id IN (SELECT pkid FROM idx_{table}_geom WHERE xmin <= {maxx!r} AND xmax >= {minx!r} "
                f"AND ymin <= {maxy!r} AND ymax >= {miny!r}) "
                f"AND ST_Intersects(t.geom, BuildMbr({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326))")
    return f"ST_Intersects(t.geom, ST_MakeEnvelope({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326))"


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
    order_by: str = "t.id",
    limit: int | None = None,
    offset: int = 0,
) -> gpd.GeoDataFrame:
    def run(conn: Connection) -> gpd.GeoDataFrame:
        clauses = [where] + ([_bbox_clause(conn, table, bbox)] if bbox is not None else [])
        sql = (f"SELECT {', '.join('t.' + c for c in columns)}, {_as_binary(conn)}(t.geom) AS wkb FROM {table} t "
               f"WHERE {' AND '.join(clauses)} ORDER BY {order_by}")
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        result = conn.execute(text(sql), params)
        frame = pd.DataFrame(result.fetchall(), columns=[*columns, "wkb"])
        geometry = shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy()) if len(frame) else []
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84)

    if isinstance(bind, Connection):
        return run(bind)
    with bind.connect() as conn:
        return run(conn)


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
        (missing optional ones are stored as NULL), plus ``phone`` (stored apart in
        ``reporter_contacts``). An issue whose source and external id are already
        stored is left as it is and counted as skipped.
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
    frame = pd.DataFrame(issues.drop(columns=issues.geometry.name))
    frame["jurisdiction_code"] = jurisdiction_code
    for column in ISSUE_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["rework_count"] = pd.to_numeric(frame["rework_count"], errors="coerce").fillna(0).astype(int)
    for column in TIMESTAMP_COLUMNS:
        frame[column] = pd.to_datetime(frame[column])
    frame["lon"] = issues.geometry.x.to_numpy()
    frame["lat"] = issues.geometry.y.to_numpy()
    with write_tx(engine) as conn:
        batch_id = conn.execute(
            text("INSERT INTO import_batches (jurisdiction_code, file, actor, at, rows_loaded, rows_skipped, rows_rejected) "
                 "VALUES (:j, :f, :a, :at, 0, 0, :r) RETURNING id"),
            {"j": jurisdiction_code, "f": file, "a": actor, "at": datetime.now().replace(microsecond=0), "r": rows_rejected},
        ).scalar_one()
        frame["import_batch_id"] = batch_id
        if is_sqlite(conn):
            _insert_issues_sqlite(conn, frame)
        else:
            _insert_issues_postgis(conn, frame)
        ids = pd.DataFrame(
            conn.execute(text("SELECT id, source, external_id FROM issues WHERE import_batch_id = :b"), {"b": batch_id}).fetchall(),
            columns=["issue_id", "source", "external_id"],
        )
        new = frame.merge(ids, on=["source", "external_id"], how="inner")
        _insert_contacts(conn, new)
        _insert_lifecycle_events(conn, new, actor=actor)
        conn.execute(text("UPDATE import_batches SET rows_loaded = :n, rows_skipped = :s WHERE id = :b"),
                     {"n": len(new), "s": len(frame) - len(new), "b": batch_id})
    return LoadResult(batch_id=batch_id, inserted=len(new), skipped=len(frame) - len(new))


def _issue_rows(frame: pd.DataFrame) -> list[tuple]:
    cols = [*ISSUE_COLUMNS, "import_batch_id", "lon", "lat"]
    sub = frame[cols].astype(object)
    sub = sub.where(frame[cols].notna(), None)
    for column in TIMESTAMP_COLUMNS:
        sub[column] = [None if v is None else v.to_pydatetime().isoformat(sep=" ") for v in sub[column]]
    return list(sub.itertuples(index=False, name=None))


def _insert_issues_sqlite(conn: Connection, frame: pd.DataFrame) -> None:
    columns = [*ISSUE_COLUMNS, "import_batch_id"]
    rebuild = len(frame) >= REBUILD_INDEX_ROWS
    if rebuild:
        conn.exec_driver_sql("SELECT DisableSpatialIndex('issues', 'geom')")
        conn.exec_driver_sql("DROP TABLE IF EXISTS idx_issues_geom")
    sql = (f"INSERT INTO issues ({', '.join(columns)}, geom) VALUES ({', '.join('?' * len(columns))}, "
           f"MakePoint(?, ?, 4326)) ON CONFLICT DO NOTHING")
    conn.connection.driver_connection.executemany(sql, _issue_rows(frame))
    if rebuild:
        conn.exec_driver_sql("SELECT CreateSpatialIndex('issues', 'geom')")


def _insert_issues_postgis(conn: Connection, frame: pd.DataFrame) -> None:
    columns = [*ISSUE_COLUMNS, "import_batch_id"]
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE issues_load (LIKE issues INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    out = frame[columns].copy()
    points = shapely.set_srid(shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy()), 4326)
    # Hex EWKB is PostGIS's own text form of a geometry: no parsing of WKT, no precision loss.
    out["geom"] = shapely.to_wkb(points, hex=True, include_srid=True)
    buffer = _io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY issues_load ({', '.join(columns)}, geom) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buffer.getvalue())
    conn.exec_driver_sql(
        f"INSERT INTO issues ({', '.join(columns)}, geom) SELECT {', '.join(columns)}, geom FROM issues_load "
        "ON CONFLICT ON CONSTRAINT uq_issue_source_external_id DO NOTHING"
    )


def _insert_contacts(conn: Connection, new: pd.DataFrame) -> None:
    if "phone" not in new:
        return
    has = new["phone"].notna() & (new["phone"].astype(str).str.strip() != "")
    rows = new.loc[has, ["issue_id", "jurisdiction_code", "phone"]]
    if len(rows):
        conn.execute(text("INSERT INTO reporter_contacts (issue_id, jurisdiction_code, phone) VALUES (:issue_id, :jurisdiction_code, :phone)"),
                     _records(rows.astype({"phone": str})))


def lifecycle_events(issues: pd.DataFrame, *, actor: str) -> pd.DataFrame:
    """One audit event per lifecycle timestamp an issue carries (imported history).

    Returns a frame with ``issue_id``, ``jurisdiction_code``, ``at``, ``actor``,
    ``action``, ``from_status``, ``to_status``; refusals and merges end the chain
    with their own action.
    """
    parts = []
    previous = None
    for column, action, status in LIFECYCLE_EVENTS:
        at = pd.to_datetime(issues[column])
        part = pd.DataFrame({"issue_id": issues["issue_id"], "jurisdiction_code": issues["jurisdiction_code"],
                             "at": at, "action": action, "from_status": previous, "to_status": status})
        parts.append(part[at.notna()])
        previous = status
    events = pd.concat(parts, ignore_index=True)
    ended = issues[issues["status"].isin(["refused", "merged"])]
    if len(ended):
        events = pd.concat([events, pd.DataFrame({
            "issue_id": ended["issue_id"], "jurisdiction_code": ended["jurisdiction_code"],
            "at": pd.to_datetime(ended[["reported_at", "registered_at"]].max(axis=1)),
            "action": ended["status"].map({"refused": "refuse", "merged": "merge"}),
            "from_status": "reported", "to_status": ended["status"],
        })], ignore_index=True)
    events["actor"] = actor
    return events.sort_values(["issue_id", "at"], kind="stable").reset_index(drop=True)


def _insert_lifecycle_events(conn: Connection, new: pd.DataFrame, *, actor: str) -> None:
    events = lifecycle_events(new, actor=actor)
    if not len(events):
        return
    events["at"] = events["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    cols = ("issue_id", "jurisdiction_code", "at", "actor", "action", "from_status", "to_status")
    sql = f"INSERT INTO issue_events ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    conn.execute(text(sql), _records(events[list(cols)]))


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
                      "reported_at", "closed_at", "deadline_at", "cell_code", "segment_id", "compound_code",
                      "community_code", "grid_code", "zone_code", "department_code")


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
) -> gpd.GeoDataFrame:
    """Issues of a jurisdiction as points (EPSG:4326), filtered; bbox uses the spatial index."""
    clauses, params = ["t.jurisdiction_code = :j"], {"j": jurisdiction_code}
    for name, values in (("status", status), ("category_code", category)):
        if values is not None:
            values = list(values)
            keys = [f"{name}{i}" for i in range(len(values))]
            clauses.append(f"t.{name} IN ({', '.join(':' + k for k in keys)})" if keys else "1 = 0")
            params.update(zip(keys, values))
    if since is not None:
        clauses.append("t.reported_at >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("t.reported_at < :until")
        params["until"] = until
    frame = _read_geo(bind, "issues", ISSUE_READ_COLUMNS, where=" AND ".join(clauses), params=params, bbox=bbox,
                      limit=limit, offset=offset)
    for column in ("reported_at", "closed_at", "deadline_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


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
    if isinstance(bind, Connection):
        rows = bind.execute(sql, params).fetchall()
    else:
        with bind.connect() as conn:
            rows = conn.execute(sql, params).fetchall()
    return pd.Series({key: n for key, n in rows}, name="count", dtype="int64").rename_axis(column)


def count_rows(bind: Engine | Connection, table: str, *, jurisdiction_code: str) -> int:
    """Rows of ``table`` (a schema table name) that belong to the jurisdiction."""
    if table not in models.Base.metadata.tables:
        raise NotFoundError(f"no table {table!r}")
    key = "code" if table == "jurisdictions" else "jurisdiction_code"
    sql = text(f"SELECT count(*) FROM {table} WHERE {key} = :j")
    if isinstance(bind, Connection):
        return bind.execute(sql, {"j": jurisdiction_code}).scalar_one()
    with bind.connect() as conn:
        return conn.execute(sql, {"j": jurisdiction_code}).scalar_one()
