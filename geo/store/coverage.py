"""Frontage units and inspection tracks/check-ins (the coverage of the iron feet).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.clock import local_now
from geo.store.base import _in_clause, _read_geo
from geo.store.db import write_tx
from geo.store.layers import _check_frame, _insert_frame

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
