"""The greening plan and work records of the priority roads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo.clock import local_now
from geo.crs import WGS84
from geo.errors import ValidationError
from geo.store.base import (
    _geom_from_wkb,
    _in_clause,
    _iso_dates,
    _masked_text,
    _read_geo,
    _read_plain,
    _records,
)
from geo.store.db import write_tx

#: columns of ``greening_plan`` besides ``id`` and ``jurisdiction_code``
GREENING_PLAN_COLUMNS = ("year", "road_id", "task_code", "side", "from_m", "to_m", "due_date", "section_name", "team")
#: columns of ``greening_records`` a load writes (besides geometry, jurisdiction and ``created_at``)
GREENING_RECORD_COLUMNS = ("external_id", "road_id", "task_code", "side", "from_m", "to_m", "done_on", "team",
                           "quantity", "photo", "note", "source")


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
