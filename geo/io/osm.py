"""OpenStreetMap extracts (``.osm`` XML, ``.osm.pbf``) as a road layer.

Read with GDAL's OSM driver (the one bundled with pyogrio), configured by
``geo/data/osmconf.ini`` to give each way its ``highway``, ``name``, ``name:zh``,
``oneway`` and ``junction`` tags. What comes out is a :class:`~geo.io.layer_fill.LayerSource`
with the columns of a road file — ``road_id`` (``osm-w<way id>``), ``name``
(``name:zh``, else ``name``), ``highway`` (mapped to road classes by
:data:`geo.layers.OSM_HIGHWAY_CLASSES` when the layer is checked) and ``oneway``
(``yes``/``no``, each way drawn in its direction of travel) — so that an extract goes
through the same checks and the same splitting into segments as any road file.

Coordinates are WGS84 (EPSG:4326), as OpenStreetMap's are. Where two ways cross
without a shared node (a bridge over a street) they are still cut there by
:func:`geo.frames.segments.split_roads`, which sees geometry, not nodes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import WGS84
from geo.errors import ValidationError
from geo.io.layer_fill import LayerSource, counted
from geo.io.tables import clean_text, fold_text

#: GDAL's OSM driver configuration: which tags become columns
OSM_CONFIG = Path(__file__).resolve().parents[1] / "data" / "osmconf.ini"
#: file names an extract may have
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf")
_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0"})
# OpenStreetMap's conventions: these are one-way without an oneway tag
_IMPLIED_ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})
_IMPLIED_ONEWAY_HIGHWAYS = frozenset({"motorway", "motorway_link"})
# A piece of a way this short (degrees, about a metre) left inside the boundary is where the way grazes it.
_MIN_PIECE_DEG = 1e-5


def is_osm_file(path: Path) -> bool:
    """Whether a file is an OpenStreetMap extract, by its name."""
    return Path(path).name.lower().endswith(OSM_SUFFIXES)


def read_osm_roads(path: Path, *, boundary: BaseGeometry | None = None) -> LayerSource:
    """The streets of an OpenStreetMap extract, as the raw content of a road file.

    Parameters
    ----------
    path : pathlib.Path
        An ``.osm`` or ``.osm.pbf`` file.
    boundary : shapely.Polygon or shapely.MultiPolygon, optional, keyword-only
        WGS84. Ways are clipped to it (a way leaving and entering again becomes one road per
        piece, ``osm-w<id>-1``, ``-2``, … along the way); ways outside are left out. None: every way.

    Returns
    -------
    LayerSource
        Columns ``road_id``, ``name``, ``highway``, ``oneway``; LineStrings in EPSG:4326; ``rows`` are
        the way ids (``unit`` ``"way"``); ``guesses`` say where names and one-way came from and what
        clipping did.

    Raises
    ------
    geo.errors.ValidationError
        The file is not an extract GDAL can read.
    """
    name = Path(path).name
    try:
        # The bounding box and the filter keep a city's extract from being read whole.
        frame = pyogrio.read_dataframe(path, layer="lines", where="highway IS NOT NULL",
                                       bbox=None if boundary is None else boundary.bounds,
                                       CONFIG_FILE=str(OSM_CONFIG))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
        raise ValidationError(f"{name}: not a readable OpenStreetMap extract (.osm, .osm.pbf): {exc}") from exc
    frame = frame.reset_index(drop=True)
    way = pd.to_numeric(frame["osm_id"], errors="coerce").fillna(0).astype("int64").to_numpy()
    tags = {tag: clean_text(frame[tag]) if tag in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
            for tag in ("highway", "name", "name_zh", "oneway", "junction")}
    guesses = [_name_guess(tags["name_zh"], tags["name"])]
    oneway, backward, oneway_guess = _oneway(tags["oneway"], tags["junction"], tags["highway"])
    guesses.append(oneway_guess)
    lines = shapely.force_2d(frame.geometry.to_numpy())
    lines[backward] = shapely.reverse(lines[backward])
    table = pd.DataFrame({"road_id": "osm-w" + pd.Series(way).astype("string"),
                          "name": tags["name_zh"].fillna(tags["name"]), "highway": tags["highway"],
                          "oneway": oneway})
    left_out: dict[str, int] = {}
    if boundary is not None:
        table, lines, way, clip_guess, left_out = _clip(table, lines, way, boundary)
        guesses.append(clip_guess)
    return LayerSource(table=table.reset_index(drop=True), geometry=gpd.GeoSeries(lines, crs=WGS84),
                       rows=way, unit="way", guesses=guesses, left_out=left_out)


def _name_guess(name_zh: pd.Series, name: pd.Series) -> str:
    from_zh, from_name = int(name_zh.notna().sum()), int((name_zh.isna() & name.notna()).sum())
    unnamed = int((name_zh.isna() & name.isna()).sum())
    return (f"name: {from_zh} way(s) named by name:zh, {from_name} by name, "
            f"{unnamed} without either (stored without a name)")


def _oneway(oneway: pd.Series, junction: pd.Series, highway: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    """``yes``/``no`` per way, the ways drawn against their direction of travel, and the guess said."""
    word = fold_text(oneway)
    forward = word.isin(_FORWARD).to_numpy()
    backward = word.isin(_BACKWARD).to_numpy()
    two_way = word.isin(_TWO_WAY).to_numpy()
    implied = (word.isna() & (fold_text(junction).isin(_IMPLIED_ONEWAY_JUNCTIONS)
                              | fold_text(highway).isin(_IMPLIED_ONEWAY_HIGHWAYS))).to_numpy()
    odd = (word.notna() & ~(forward | backward | two_way)).to_numpy()
    text = (f"oneway: {int(forward.sum())} way(s) one-way by oneway=yes, {int(backward.sum())} by oneway=-1 "
            f"(turned round to run the way traffic does), {int(implied.sum())} by OpenStreetMap's rule for "
            "roundabouts and motorways; the others two-way")
    if odd.any():
        text += f", {int(odd.sum())} of them with an oneway value taken as two-way ({counted(oneway[odd])})"
    is_oneway = forward | backward | implied
    return pd.Series(np.where(is_oneway, "yes", "no"), dtype="string"), backward, text


def _clip(table: pd.DataFrame, lines: np.ndarray, way: np.ndarray, boundary: BaseGeometry):
    """The ways clipped to the boundary: one row per piece inside, numbered along its way."""
    shapely.prepare(boundary)
    inside = shapely.covers(boundary, lines)
    crossing = ~inside & shapely.intersects(boundary, lines)
    cut = np.flatnonzero(crossing)
    pieces = shapely.intersection(lines[cut], boundary)
    parts, owner = shapely.get_parts(pieces, return_index=True)
    keep = shapely.get_type_id(parts) == 1  # the points where a way only touches the boundary go
    parts, owner = parts[keep], owner[keep]
    if parts.size:
        # Pieces of one way that join end to end are one piece; directed, so one-way ways keep their sense.
        # multilinestrings numbers its output by the index values, so positions in `cut` stay what they were.
        joined = shapely.line_merge(shapely.multilinestrings(parts, indices=owner), directed=True)
        parts, owner = shapely.get_parts(joined, return_index=True)
    owner_of = cut[owner]
    long_enough = shapely.length(parts) >= _MIN_PIECE_DEG
    grazing = int((~long_enough).sum())
    parts, owner_of = parts[long_enough], owner_of[long_enough]
    along = shapely.line_locate_point(lines[owner_of], shapely.get_point(parts, 0))
    order = np.lexsort((along, owner_of))
    parts, owner_of = parts[order], owner_of[order]
    number = pd.Series(owner_of).groupby(owner_of).cumcount().to_numpy() + 1
    several = np.bincount(owner_of, minlength=len(lines))[owner_of] > 1

    kept = np.flatnonzero(inside)
    pieces_table = table.iloc[owner_of].reset_index(drop=True)
    pieces_table["road_id"] = pieces_table["road_id"].where(
        ~several, pieces_table["road_id"] + "-" + pd.Series(number).astype("string"))
    out_table = pd.concat([table.iloc[kept].reset_index(drop=True), pieces_table], ignore_index=True)
    out_lines = np.concatenate([lines[kept], parts])
    out_way = np.concatenate([way[kept], way[owner_of]])
    outside = int((~inside & ~crossing).sum())
    guess = (f"boundary: {len(kept)} way(s) inside the jurisdiction, {len(cut)} cut at its boundary into "
             f"{len(parts)} road(s); the ways outside left out")
    left_out = {"way(s) outside the boundary, within its bounding box": outside}
    if grazing:
        guess += f"; {grazing} piece(s) shorter than about a metre where a way grazes the boundary left out"
        left_out["piece(s) grazing the boundary"] = grazing
    return out_table, out_lines, out_way, guess, left_out
