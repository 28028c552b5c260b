"""The reference layers' tables: replacing a jurisdiction's layers, reading them back, extents.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo.clock import local_now
from geo.crs import WGS84
from geo.errors import ValidationError
from geo.layers import LAYERS, layer_spec, reference_layers
from geo.store.base import (
    _count,
    _geom_from_wkb,
    _in_clause,
    _read_geo,
    _records,
    _with_conn,
)
from geo.store.db import is_sqlite, write_tx


def replace_layers(
    engine: Engine,
    jurisdiction: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    departments: pd.DataFrame,
    *,
    keep_others: bool = False,
) -> dict[str, int]:
    """Replace a jurisdiction, all its reference layers and departments in one transaction.

    Parameters
    ----------
    jurisdiction : GeoDataFrame
        One row with the columns of ``LAYERS["jurisdiction"]`` (:mod:`geo.layers`) and the boundary polygon.
    layers : dict
        Layer name (:func:`geo.layers.reference_layers`) → GeoDataFrame in EPSG:4326;
        layers not given are emptied.
    departments : DataFrame
        ``code``, ``name``, ``name_en``, ``kind``, ``parent``.
    keep_others : bool, keyword-only
        Keep the layers not given as they are (a new boundary and unit grid under roads already imported).

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
        for spec in reference_layers():
            if spec.name in layers or not keep_others:
                counts[spec.name] = _replace_layer(conn, spec.name, layers.get(spec.name), code)
        conn.execute(text("DELETE FROM departments WHERE jurisdiction_code = :j"), {"j": code})
        conn.execute(text("DELETE FROM jurisdictions WHERE code = :j"), {"j": code})
        columns = LAYERS["jurisdiction"].columns
        _insert_frame(conn, "jurisdictions", _check_frame(jurisdiction, columns, "jurisdiction"), columns)
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
    spec = layer_spec(name)
    if spec.name == "jurisdiction":
        raise ValidationError("the jurisdiction is replaced with its layers (replace_layers), not as one of them")
    table, columns = spec.table, spec.stored_columns
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

    ``name`` is a layer of :data:`geo.layers.LAYERS`. ``keys`` keeps
    the features whose key column (``LayerSpec.key``) is one of them; ``limit`` and
    ``offset`` page through the rows in storage order.
    """
    table, columns, key = _layer_source(name)
    params = {"j": jurisdiction_code}
    clauses = [f"t.{key} = :j", *_in_clause(f"t.{layer_spec(name).key}", keys, params, "k")]
    frame = _read_geo(bind, table, columns, where=" AND ".join(clauses), params=params, bbox=bbox,
                      limit=limit, offset=offset)
    # SQLite hands booleans back as 0/1: make both back ends answer True/False
    for column in ("is_priority", "oneway"):
        if column in frame:
            frame[column] = frame[column].astype(bool)
    return frame


def _layer_source(name: str) -> tuple[str, tuple[str, ...], str]:
    """(table, columns, jurisdiction column) of a layer name."""
    spec = layer_spec(name)
    return spec.table, spec.stored_columns, "code" if spec.name == "jurisdiction" else "jurisdiction_code"


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
