"""Reference layer files (roads, grids, communities, …) and OpenStreetMap extracts.

Every feature is checked; the good ones load and each bad one is reported with file,
row and field (a strict import, or a data directory, refuses the file instead). What
a file leaves out — keys, a name, the road class, the flags, the jurisdiction — is
filled in by :mod:`geo.io.layer_fill` and said in the batch's ``guesses``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.crs import to_wgs84
from geo.errors import ImportRejected, RowError, ValidationError
from geo.io.layer_fill import (
    LayerOptions,
    LayerSource,
    completed_community_codes,
    counted,
    made_keys,
    named_flags,
    numbered_community_codes,
)
from geo.io.osm import is_osm_file, read_osm_roads
from geo.io.tables import (
    MAX_LISTED_PROBLEMS,
    clean_text,
    fold_text,
    match_headers,
    refuse_missing,
    row_problems,
)
from geo.layers import (
    BOOLEAN_COLUMNS,
    COLUMN_ALIASES,
    FLOAT_COLUMNS,
    INTEGER_COLUMNS,
    LAYERS,
    ROAD_CLASS_WORDS,
    ROAD_CLASSES,
    LayerSpec,
    layer_spec,
)
from geo.store.models import Base

_BOOLEAN_WORDS = {
    **dict.fromkeys(("true", "t", "1", "yes", "y", "是"), True),
    **dict.fromkeys(("false", "f", "0", "no", "n", "否"), False),
}
# Geofabrik's shapefiles code one-way as F (along the line), T (against it) and B (both ways).
_GEOFABRIK_ONEWAY = {"f": True, "t": True, "b": False}
# shapely type ids: 1 LineString, 3 Polygon, 5 MultiLineString, 6 MultiPolygon.
_LINE_TYPES = (1,)
_POLYGON_TYPES = (3, 6)
# the import flag that names the roads having a yes/no column (LayerOptions.priority, .oneway)
_NAMING_FLAGS = {"is_priority": "--priority", "oneway": "--oneway"}
# A value quoted in a row error is cut here: a hostile cell may be megabytes.
_SHOWN_CHARS = 60


@dataclass
class LayerBatch:
    """The outcome of reading one layer file.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The good features, EPSG:4326, the columns of ``LAYERS[kind].columns`` then ``geometry``.
    kind, file : str
        The layer, and the file's name as the row errors give it.
    features_read : int
        Features the checks saw (an extract's ways, or their pieces inside the boundary).
    rejected : int
        Features with a problem, left out of ``frame``.
    errors : list of geo.errors.RowError
        One per problem, by row; a feature with any problem is not in ``frame``.
    guesses : list of str
        Each value the file did not give and the import made up, as ``column: what was done``.
    left_out : dict
        Reason → features dropped without being wrong (ways outside the boundary, footpaths, …).
    """

    frame: gpd.GeoDataFrame
    kind: str
    file: str
    features_read: int
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    guesses: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)

    def usable(self) -> gpd.GeoDataFrame:
        """The frame, or :class:`~geo.errors.ImportRejected` when no feature is good."""
        if self.frame.empty:
            raise ImportRejected(f"{self.file}: no usable feature ({self.features_read} read); nothing was loaded",
                                 self.errors)
        return self.frame

    def whole(self) -> gpd.GeoDataFrame:
        """The frame, or :class:`~geo.errors.ImportRejected` if any feature is bad (a strict import)."""
        if not self.errors:
            return self.frame
        listed = "\n".join(str(problem) for problem in self.errors[:MAX_LISTED_PROBLEMS])
        more = len(self.errors) - MAX_LISTED_PROBLEMS
        tail = f"\n… and {more} more" if more > 0 else ""
        raise ImportRejected(f"{self.file}: {len(self.errors)} problem(s) in the {self.kind} layer; "
                             f"nothing was loaded:\n{listed}{tail}", self.errors)


def layer_aliases(kind: str, *, id_column: str | None = None) -> dict[str, tuple[str, ...]]:
    """Column → the headers that may hold it, in the order they are looked for.

    ``id_column`` replaces the key's own headers. Shapefile field names are cut to 10
    characters (jurisdiction_code → jurisdicti): the cut name is accepted where no other
    column of the layer cuts to it.
    """
    spec = layer_spec(kind)
    cut = pd.Series([column[:10] for column in spec.columns])
    unique_cut = dict(zip(spec.columns, ~cut.duplicated(keep=False)))
    aliases = {
        column: tuple(dict.fromkeys((column, *COLUMN_ALIASES.get(column, ()),
                                     *((column[:10],) if unique_cut[column] else ()))))
        for column in spec.columns
    }
    if id_column is not None:
        aliases[spec.key] = (id_column,)
    return aliases


def _fillable(spec: LayerSpec, column: str, options: LayerOptions) -> bool:
    """Whether a column the file lacks can be made up (:mod:`geo.io.layer_fill`)."""
    if column == spec.key:
        return spec.made_key_prefix is not None or (spec.name == "communities" and bool(options.jurisdiction_code))
    if column == "jurisdiction_code":
        return bool(options.jurisdiction_code)
    return column in dict(spec.defaults) or column in spec.optional or column in ("name", "road_class")


class _Problems:
    """The row errors of one file and which features they reject."""

    def __init__(self, file: str, rows: np.ndarray, unit: str):
        self.file, self.rows, self.unit = file, rows, unit
        self.errors: list[RowError] = []
        self.bad = np.zeros(len(rows), dtype=bool)

    def add(self, mask, field_name: str, reason: str | pd.Series, value: pd.Series | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        self.bad |= mask
        shown = None if value is None else value.astype("string").str.slice(0, _SHOWN_CHARS)
        self.errors += row_problems(self.file, self.rows, mask, field_name, reason, shown, unit=self.unit)


def read_layer_file(
    path: str | Path, *, kind: str, layer: str | None = None, options: LayerOptions | None = None,
    boundary: shapely.Geometry | None = None,
) -> LayerBatch:
    """Read a reference layer: its good features, the bad ones reported, what it lacks filled in.

    Parameters
    ----------
    path : str or pathlib.Path
        A GeoJSON, GeoPackage or Shapefile (with its ``.prj``) in any CRS; for roads also an
        OpenStreetMap extract (``.osm``, ``.osm.pbf``: :mod:`geo.io.osm`). Headers may be the
        column names, their 10-character Shapefile cuts or the aliases of
        :data:`geo.layers.COLUMN_ALIASES` (名称, 等级, ``class``, ``highway``, …); road classes the
        words of :data:`geo.layers.ROAD_CLASS_WORDS` (主干路, ``primary``, …).
    kind : str, keyword-only
        A layer of :data:`geo.layers.LAYERS`.
    layer : str, optional, keyword-only
        The layer of a multi-layer GeoPackage; the first by default.
    options : LayerOptions, optional, keyword-only
        The key column, the default road class, flags by name and the jurisdiction's code, for what
        the file does not say.
    boundary : shapely geometry, optional, keyword-only
        WGS84; an OpenStreetMap extract is clipped to it.

    Returns
    -------
    LayerBatch
        The good features in EPSG:4326 (LineStrings for roads, drawn in the direction of travel of a
        one-way street; Polygons or MultiPolygons otherwise; 2-D), the problems, the guesses.

    Raises
    ------
    geo.errors.ValidationError
        Unknown ``kind``, unreadable file, no CRS, a column that is missing and cannot be made up,
        an ``id_column`` the file does not have.
    """
    spec = layer_spec(kind)
    options = options or LayerOptions()
    path = Path(path)
    name = path.name
    if is_osm_file(path):
        if kind != "roads":
            raise ValidationError(f"{name}: an OpenStreetMap extract gives roads, not {kind}: use --kind roads")
        source = read_osm_roads(path, boundary=boundary)
    else:
        source = _read_source(path, name, layer)
    headers = [str(column) for column in source.table.columns]
    found = match_headers(headers, layer_aliases(kind, id_column=options.id_column))
    if options.id_column is not None and spec.key not in found:
        raise ValidationError(f"{name}: no column {options.id_column!r} (--id-column); "
                              f"headers found: {', '.join(headers) or 'none'}")
    missing = [c for c in spec.columns if c not in found and not _fillable(spec, c, options)]
    refuse_missing(name, missing, layer_aliases(kind), headers, what=f"for a {kind} layer:")

    text = {column: clean_text(source.table[header]).reset_index(drop=True) for column, header in found.items()}
    problems = _Problems(name, source.rows, source.unit)
    guesses = list(source.guesses)
    geometry = _layer_geometry(spec, source.geometry, problems)
    columns: dict[str, pd.Series] = {}
    left_out = np.zeros(len(source.rows), dtype=bool)
    for column in spec.columns:
        if column == "road_class":
            columns[column], left_out = _road_classes(text.get(column), found.get(column), options, problems, guesses)
        elif column in BOOLEAN_COLUMNS:
            columns[column], backward = _flags(spec, column, text.get(column), problems, guesses)
            geometry[backward & ~problems.bad] = shapely.reverse(geometry[backward & ~problems.bad])
        elif column in text:
            columns[column] = _typed_values(spec, column, text[column], problems)
        elif column == "jurisdiction_code":
            columns[column] = pd.Series(options.jurisdiction_code, index=range(len(geometry)), dtype="string")
            guesses.append(f"jurisdiction_code: none in the file; the settings' {options.jurisdiction_code}")
        elif column == "name":
            columns[column] = pd.Series(pd.NA, index=range(len(geometry)), dtype="string")
        elif column in spec.optional:
            columns[column] = pd.Series(pd.NA, index=range(len(geometry)), dtype="string")
            guesses.append(f"{column}: no such column; left empty")
    wgs84 = to_wgs84(gpd.GeoSeries(geometry, crs=source.geometry.crs)).to_numpy()
    _fill_names_and_keys(spec, columns, text, wgs84, options, problems, guesses)
    _named_flags(spec, columns, options, guesses)
    _check_widths(spec, columns, problems)

    no_street = left_out & ~problems.bad
    keep = ~problems.bad & ~left_out
    ordered = pd.DataFrame({column: columns[column] for column in spec.columns})
    frame = gpd.GeoDataFrame(ordered[keep].reset_index(drop=True), geometry=wgs84[keep],
                             crs="EPSG:4326")
    dropped = dict(source.left_out)
    if no_street.any():
        dropped[f"way(s) that are no street here (highway {counted(text['road_class'][no_street])})"] = int(
            no_street.sum())
    problems.errors.sort(key=lambda problem: problem.row)
    return LayerBatch(frame=frame, kind=kind, file=name, features_read=len(geometry),
                      rejected=int(problems.bad.sum()), errors=problems.errors, guesses=guesses,
                      left_out={reason: n for reason, n in dropped.items() if n})


def _read_source(path: Path, name: str, layer: str | None) -> LayerSource:
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
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return LayerSource(table=table, geometry=gdf.geometry, rows=np.arange(len(gdf)) + 1)


def _road_classes(text: pd.Series | None, header: str | None, options: LayerOptions, problems: _Problems,
                  guesses: list[str]) -> tuple[pd.Series, np.ndarray]:
    """Road classes from a class column's words (or the default), and the features that are no street."""
    n = len(problems.rows)
    if text is None:
        guesses.append(f"road_class: no class column ({'/'.join(layer_aliases('roads')['road_class'])}); "
                       f"every road taken as {options.default_class} (--default-class)")
        return pd.Series(options.default_class, index=range(n), dtype="string"), np.zeros(n, dtype=bool)
    value = fold_text(text).map(ROAD_CLASS_WORDS).astype("string")
    unknown = (text.notna() & value.isna()).to_numpy()
    left_out = np.zeros(n, dtype=bool)
    if header is not None and header.casefold() == "highway":
        # OpenStreetMap's other highway values (path, cycleway, steps, …) are no street a crew manages
        left_out, unknown = unknown, np.zeros(n, dtype=bool)
    problems.add(unknown, "road_class", f"unknown road class; accepted: {', '.join(ROAD_CLASSES)}, "
                 "主干路/次干路/支路/背街小巷 or an OpenStreetMap highway value (primary, residential, …)", text)
    blank = text.isna()
    if blank.any():
        guesses.append(f"road_class: {int(blank.sum())} feature(s) with an empty {header} taken as "
                       f"{options.default_class} (--default-class)")
    return value.fillna(options.default_class), left_out


def _flags(spec: LayerSpec, column: str, text: pd.Series | None, problems: _Problems,
           guesses: list[str]) -> tuple[pd.Series, np.ndarray]:
    """A yes/no column (``is_priority``, ``oneway``) and the lines to turn round (Geofabrik's ``T``)."""
    n = len(problems.rows)
    default = dict(spec.defaults)[column]
    backward = np.zeros(n, dtype=bool)
    if text is None:
        guesses.append(f"{column}: no such column; {'yes' if default else 'no'} for every road but those "
                       f"named by {_NAMING_FLAGS[column]}")
        return pd.Series(default, index=range(n), dtype=bool), backward
    word = fold_text(text)
    value = word.map(_BOOLEAN_WORDS)
    if column == "oneway" and word.isin(["b"]).any() and word.dropna().isin(list(_GEOFABRIK_ONEWAY)).all():
        value = word.map(_GEOFABRIK_ONEWAY)
        backward = word.eq("t").fillna(False).to_numpy()
        guesses.append("oneway: F/T/B as in Geofabrik's extracts: F one-way along the line, T against it "
                       f"({int(backward.sum())} line(s) turned round), B both ways")
    problems.add((text.notna() & value.isna()).to_numpy(), column,
                 "not a yes/no value (true/false, 1/0, 是/否)", text)
    blank = text.isna()
    if blank.any():
        guesses.append(f"{column}: {int(blank.sum())} empty cell(s) taken as {'yes' if default else 'no'}")
    return value.fillna(default).astype(bool), backward


def _typed_values(spec: LayerSpec, column: str, text: pd.Series, problems: _Problems) -> pd.Series:
    """Typed values of a column the file has (numbers, codes, names)."""
    if column in INTEGER_COLUMNS or column in FLOAT_COLUMNS:
        number = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce").astype("float64")
        problems.add(text.isna().to_numpy(), column, "missing")
        if column in INTEGER_COLUMNS:
            problems.add((text.notna() & ~(number % 1).eq(0)).to_numpy(), column, "not a whole number", text)
            return number.fillna(0).astype("int64")
        problems.add((text.notna() & number.isna()).to_numpy(), column, "not a number", text)
        return number
    if column not in spec.optional and column not in ("name", "jurisdiction_code"):
        problems.add(text.isna().to_numpy(), column, "missing")
    return text


def _fill_names_and_keys(spec: LayerSpec, columns: dict[str, pd.Series], text: dict[str, pd.Series],
                         wgs84: np.ndarray, options: LayerOptions, problems: _Problems, guesses: list[str]) -> None:
    """Names, keys and jurisdiction codes the file left out or left empty, and the key's duplicates."""
    if "name" in columns:
        unnamed = columns["name"].isna()
        if unnamed.any() and not any(guess.startswith("name:") for guess in guesses):
            where = "no name column" if "name" not in text else f"{int(unnamed.sum())} empty name(s)"
            guesses.append(f"name: {where}; stored without a name")
        columns["name"] = columns["name"].fillna("")
    if "jurisdiction_code" in text and options.jurisdiction_code:
        blank = columns["jurisdiction_code"].isna()
        if blank.any():
            guesses.append(f"jurisdiction_code: {int(blank.sum())} empty cell(s); the settings' "
                           f"{options.jurisdiction_code}")
        columns["jurisdiction_code"] = columns["jurisdiction_code"].fillna(options.jurisdiction_code)
    elif "jurisdiction_code" in text:
        problems.add(columns["jurisdiction_code"].isna().to_numpy(), "jurisdiction_code", "missing")
    key = spec.key
    names = columns.get("name", pd.Series(pd.NA, index=range(len(wgs84)), dtype="string"))
    made = key not in text
    if made and spec.made_key_prefix is not None:
        columns[key] = made_keys(wgs84, names.replace("", pd.NA), prefix=spec.made_key_prefix)
        guesses.append(f"{key}: no id column; made from each feature's geometry and name "
                       f"({spec.made_key_prefix} + 12 hex digits, the same in every import of the same feature)")
    elif made:
        columns[key] = numbered_community_codes(wgs84, jurisdiction_code=options.jurisdiction_code,
                                                index=names.index)
        guesses.append(f"{key}: no id column; placeholders {options.jurisdiction_code}001… numbered north to "
                       "south (the district's real codes replace them)")
    elif spec.name == "communities" and options.jurisdiction_code:
        columns[key], completed = completed_community_codes(columns[key], jurisdiction_code=options.jurisdiction_code)
        if completed:
            guesses.append(f"{key}: {completed} community number(s) of 1–3 digits completed with the "
                           f"jurisdiction's code {options.jurisdiction_code}")
    keys = columns[key].where(~pd.Series(problems.bad))
    repeated = (keys.notna() & keys.duplicated(keep="first")).to_numpy()
    reason = "the same geometry and name as an earlier feature" if made else "duplicate; each feature needs its own"
    problems.add(repeated, key, reason, keys)


def _named_flags(spec: LayerSpec, columns: dict[str, pd.Series], options: LayerOptions, guesses: list[str]) -> None:
    """``--priority`` / ``--oneway``: the roads they name get the flag (besides the file's own column)."""
    for column, wanted in (("is_priority", options.priority), ("oneway", options.oneway)):
        if column not in columns or not wanted:
            continue
        chosen, unknown = named_flags(columns["name"], columns[spec.key], wanted)
        columns[column] = columns[column] | chosen
        guesses.append(f"{column}: {int(chosen.sum())} road(s) named by {_NAMING_FLAGS[column]}")
        if unknown:
            guesses.append(f"{column}: {_NAMING_FLAGS[column]} names no road called {', '.join(map(repr, unknown))}")


def _check_widths(spec: LayerSpec, columns: dict[str, pd.Series], problems: _Problems) -> None:
    """Text longer than its column in the schema (:mod:`geo.store.models`) rejects its feature."""
    table = Base.metadata.tables[spec.table]
    for column, values in columns.items():
        width = getattr(table.columns[column].type, "length", None) if column in table.columns else None
        if width is None or values.dtype == bool or not pd.api.types.is_string_dtype(values):
            continue
        length = values.astype("string").str.len()
        problems.add(length.gt(width).fillna(False).to_numpy(), column,
                     "longer than " + str(width) + " characters (" + length.astype("string") + ")", values)


def _layer_geometry(spec: LayerSpec, geometry: gpd.GeoSeries, problems: _Problems) -> np.ndarray:
    """2-D geometries of a layer; a missing, mistyped or invalid one rejects its feature."""
    values = shapely.force_2d(geometry.to_numpy())
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if spec.geometry == "line":
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
    problems.add(missing, "geometry", "missing or empty geometry")
    problems.add(wrong, "geometry", "geometry is " + types + ", expected " + expected)
    problems.add(invalid, "geometry", "invalid geometry: " + reasons.fillna(""))
    if spec.geometry == "line":
        problems.add(~missing & ~wrong & ~invalid & (shapely.length(values) == 0), "geometry",
                     "a line of length 0 (all its points in one place)")
    return values
