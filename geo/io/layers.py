"""Reference layer files (roads, grids, communities, …): a layer with any bad feature is refused.

A half-loaded road network is worse than none.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.crs import to_wgs84
from geo.errors import ImportRejected, RowError, ValidationError
from geo.io.tables import (
    MAX_LISTED_PROBLEMS,
    clean_text,
    fold_text,
    match_headers,
    row_problems,
)
from geo.layers import (
    BOOLEAN_COLUMNS,
    COLUMN_ALIASES,
    FLOAT_COLUMNS,
    INTEGER_COLUMNS,
    LAYERS,
    ROAD_CLASSES,
    layer_spec,
)

_BOOLEAN_WORDS = {
    **dict.fromkeys(("true", "t", "1", "yes", "y", "是"), True),
    **dict.fromkeys(("false", "f", "0", "no", "n", "否"), False),
}
_ROAD_CLASS_WORDS = {
    **{road_class: road_class for road_class in ROAD_CLASSES},
    "主干路": "arterial", "次干路": "secondary", "支路": "branch",
    "背街小巷": "alley", "背街里巷": "alley", "小巷": "alley",
}
# shapely type ids: 1 LineString, 3 Polygon, 5 MultiLineString, 6 MultiPolygon.
_LINE_TYPES = (1,)
_POLYGON_TYPES = (3, 6)


def _layer_aliases(kind: str) -> dict[str, tuple[str, ...]]:
    columns = LAYERS[kind].columns
    # Shapefile field names are cut to 10 characters (jurisdiction_code ->
    # jurisdicti); accept the cut name where it is not ambiguous within the layer.
    cut = pd.Series([column[:10] for column in columns])
    unique_cut = dict(zip(columns, ~cut.duplicated(keep=False)))
    return {
        column: (column, *COLUMN_ALIASES.get(column, ()), *((column[:10],) if unique_cut[column] else ()))
        for column in columns
    }


def _layer_values(
    kind: str, column: str, text: pd.Series, rows: np.ndarray, name: str
) -> tuple[pd.Series, list[RowError]]:
    """Typed values of one layer column and its problems (vectorised over features)."""
    if column in BOOLEAN_COLUMNS:
        value = fold_text(text).map(_BOOLEAN_WORDS)
        bad = text.notna() & value.isna()
        problems = row_problems(name, rows, bad, column, "not a yes/no value (true/false, 1/0, 是/否)", text)
        return value.fillna(dict(LAYERS[kind].defaults)[column]).astype(bool), problems
    if column in INTEGER_COLUMNS or column in FLOAT_COLUMNS:
        number = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce").astype("float64")
        problems = row_problems(name, rows, text.isna(), column, "missing", None)
        if column in INTEGER_COLUMNS:
            bad = text.notna() & ~(number % 1).eq(0)
            problems += row_problems(name, rows, bad, column, "not a whole number", text)
            return number.fillna(0).astype("int64"), problems
        problems += row_problems(name, rows, text.notna() & number.isna(), column, "not a number", text)
        return number, problems
    if column == "road_class":
        value = fold_text(text).map(_ROAD_CLASS_WORDS).astype("string")
        problems = row_problems(name, rows, text.isna(), column, "missing", None)
        problems += row_problems(
            name,
            rows,
            text.notna() & value.isna(),
            column,
            f"unknown road class; accepted: {', '.join(ROAD_CLASSES)} or 主干路/次干路/支路/背街小巷",
            text,
        )
        return value.astype("str"), problems
    problems = []
    if column not in LAYERS[kind].optional:
        problems = row_problems(name, rows, text.isna(), column, "missing", None)
    return text.astype("str"), problems


def _layer_geometry(
    kind: str, geometry: gpd.GeoSeries, rows: np.ndarray, name: str
) -> tuple[np.ndarray, list[RowError]]:
    """2-D geometries of a layer, with one problem per missing, mistyped or invalid feature."""
    values = shapely.force_2d(geometry.to_numpy())
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if LAYERS[kind].geometry == "line":
        # A road digitised in pieces that touch end to end is still one line.
        multi = shapely.get_type_id(values) == 5
        values[multi] = shapely.line_merge(values[multi])
        allowed, expected = _LINE_TYPES, "LineString (a MultiLineString must join into one line)"
    else:
        allowed, expected = _POLYGON_TYPES, "Polygon or MultiPolygon"
    types = pd.Series(np.asarray(gpd.GeoSeries(values).geom_type, dtype=object)).astype("string")
    wrong = ~missing & ~np.isin(shapely.get_type_id(values), allowed)
    invalid = ~missing & ~wrong & ~shapely.is_valid(values)
    reasons = pd.Series(shapely.is_valid_reason(values)).astype("string")
    problems = row_problems(name, rows, missing, "geometry", "missing or empty geometry", None)
    problems += row_problems(name, rows, wrong, "geometry", "geometry is " + types + ", expected " + expected, None)
    problems += row_problems(name, rows, invalid, "geometry", "invalid geometry: " + reasons.fillna(""), None)
    return values, problems


def read_layer_file(path: str | Path, *, kind: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a reference layer, refusing it whole if any feature is bad.

    Parameters
    ----------
    path : str or pathlib.Path
        A GeoJSON, GeoPackage or Shapefile (with its ``.prj``), in any CRS.
    kind : str, keyword-only
        A layer of :data:`geo.layers.LAYERS`: ``roads``, ``communities``, ``compounds``,
        ``grids``, ``zones``, ``unit_cells``, ``jurisdiction``. Headers may be the
        column names, their 10-character Shapefile cuts, or Chinese aliases (名称,
        等级/道路等级, 编码, 道路编号, …); road classes may be 主干路, 次干路, 支路,
        背街小巷. Roads without ``is_priority``/``oneway`` columns get ``False``.
    layer : str, optional, keyword-only
        The layer of a multi-layer GeoPackage; the first by default.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; the columns of ``LAYERS[kind].columns`` then ``geometry``
        (LineStrings for roads, Polygons or MultiPolygons otherwise, 2-D).

    Raises
    ------
    geo.errors.ValidationError
        Unknown ``kind``, unreadable file, no CRS, or missing columns.
    geo.errors.ImportRejected
        Bad features (missing/mistyped/invalid geometry with the reason from
        ``shapely.is_valid_reason``, bad values, duplicate keys); ``errors`` holds
        one RowError per problem, with the 1-based feature number.
    """
    spec = layer_spec(kind)
    path = Path(path)
    name = path.name
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{name}: not a readable GeoJSON/GeoPackage/Shapefile: {exc}") from exc
    if gdf.crs is None:
        raise ValidationError(
            f"{name}: has no CRS, so its coordinates cannot be placed; "
            "add one (for a Shapefile, the .prj file next to it)"
        )
    gdf = gdf.reset_index(drop=True)
    headers = [str(column) for column in gdf.columns if column != gdf.geometry.name]
    found = match_headers(headers, _layer_aliases(kind))
    defaults = dict(LAYERS[kind].defaults)
    missing = [column for column in spec.columns if column not in found and column not in defaults]
    if missing:
        aliases = _layer_aliases(kind)
        wanted = "; ".join(f"{column} ({'/'.join(aliases[column])})" for column in missing)
        raise ValidationError(
            f"{name}: missing column(s) for a {kind} layer: {wanted}; headers found: {', '.join(headers) or 'none'}"
        )

    rows = np.arange(len(gdf)) + 1
    problems: list[RowError] = []
    columns: dict[str, pd.Series] = {}
    for column in spec.columns:
        if column not in found:
            columns[column] = pd.Series(defaults[column], index=gdf.index, dtype=bool)
            continue
        columns[column], column_problems = _layer_values(kind, column, clean_text(gdf[found[column]]), rows, name)
        problems += column_problems
    key = LAYERS[kind].key
    keys = clean_text(gdf[found[key]])
    repeated = keys.notna() & keys.duplicated(keep="first")
    problems += row_problems(name, rows, repeated, key, "duplicate; each feature needs its own", keys)
    geometry, geometry_problems = _layer_geometry(kind, gdf.geometry, rows, name)
    problems += geometry_problems

    if problems:
        problems.sort(key=lambda problem: problem.row)
        listed = "\n".join(str(problem) for problem in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        tail = f"\n… and {more} more" if more > 0 else ""
        raise ImportRejected(
            f"{name}: {len(problems)} problem(s) in the {kind} layer; nothing was loaded:\n{listed}{tail}", problems
        )
    frame = gpd.GeoDataFrame(pd.DataFrame(columns), geometry=geometry, crs=gdf.crs)
    return to_wgs84(frame)
