"""A jurisdiction from its boundary: the jurisdiction row and its unit grid (万米单元网格).

``citymap grid build --boundary FILE [--communities FILE]`` calls :func:`build_grid`: the
boundary becomes the jurisdiction (the settings' code, metric CRS and a grid origin at
its south-west corner, floored to whole cells), the communities (from the file, or those
already stored) number the 100 m cells with their 15-character codes
(:func:`geo.frames.unit_grid.build_unit_grid`: district 6 + sub-district 3 + community 3
+ a sequence west→east, north→south within the community), and all of it is stored in
one transaction. Cells are laid in the metric CRS and stored in WGS84.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine

from geo import store
from geo.crs import WGS84, to_metric, to_wgs84
from geo.errors import ValidationError
from geo.frames.unit_grid import build_unit_grid, default_origin
from geo.io.ingest import taxonomy_departments
from geo.io.layer_fill import LayerOptions
from geo.io.layers import LayerBatch, layer_aliases, read_layer_file
from geo.io.tables import clean_text, match_headers
from geo.settings import Settings
from geo.taxonomy import load_taxonomy

#: the district's code is the first 6 of a sub-district's 9 characters
DISTRICT_CODE_LEN = 6


@dataclass
class Boundary:
    """A jurisdiction's boundary as read from a file: one (Multi)Polygon in WGS84, its name if the file says.

    ``in_file_crs`` is the same polygon in the file's own CRS, from which the metric one is
    made directly: a boundary drawn along grid lines in the metric CRS stays on them.
    """

    geometry: BaseGeometry
    in_file_crs: gpd.GeoSeries
    name: str | None
    guesses: list[str] = field(default_factory=list)


def read_boundary_file(path: str | Path) -> Boundary:
    """Read a jurisdiction's boundary: every polygon of the file, dissolved into one.

    Parameters
    ----------
    path : str or pathlib.Path
        GeoJSON, GeoPackage or Shapefile in any CRS, of Polygons or MultiPolygons; a ``name``
        (名称) column, if it holds one name, names the jurisdiction.

    Raises
    ------
    geo.errors.ValidationError
        Unreadable, no CRS, no polygon, or a feature that is not a valid polygon (named by its number).
    """
    name = Path(path).name
    try:
        gdf = pyogrio.read_dataframe(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{name}: not a readable GeoJSON/GeoPackage/Shapefile: {exc}") from exc
    if gdf.crs is None:
        raise ValidationError(f"{name}: has no CRS, so the boundary cannot be placed; add one (for a Shapefile, "
                              "the .prj file next to it)")
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    polygon = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms)
    valid = polygon & shapely.is_valid(geoms)
    if len(geoms) == 0 or not valid.all():
        first = int(np.flatnonzero(~valid)[0]) if len(geoms) else 0
        why = ("no feature" if not len(geoms) else
               f"row {first + 1}: " + ("not a polygon" if not polygon[first] else
                                       f"invalid polygon: {shapely.is_valid_reason(geoms[first])}"))
        raise ValidationError(f"{name}: a boundary needs valid Polygons or MultiPolygons; {why}")
    in_file_crs = gpd.GeoSeries([shapely.union_all(geoms)], crs=gdf.crs)
    guesses = [f"boundary: {len(geoms)} polygons of {name} joined into one"] if len(geoms) > 1 else []
    headers = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    found = match_headers(headers, {"name": layer_aliases("communities")["name"]})
    names = clean_text(gdf[found["name"]]).dropna().unique() if "name" in found else []
    return Boundary(geometry=to_wgs84(in_file_crs).iloc[0], in_file_crs=in_file_crs,
                    name=str(names[0]) if len(names) == 1 else None, guesses=guesses)


@dataclass
class GridReport:
    """What :func:`build_grid` stored."""

    jurisdiction: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    communities: int
    #: the communities file's batch (problems, guesses), None when the stored communities were used
    community_batch: LayerBatch | None
    guesses: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary, one line each."""
        row = self.jurisdiction.iloc[0]
        area_km2 = to_metric(self.jurisdiction, crs=row["metric_crs"]).area.iloc[0] / 1e6
        where = ("stored" if self.community_batch is None
                 else f"from {self.community_batch.file}")
        per = self.cells.groupby("community_code").size()
        lines = [f"jurisdiction {row['code']} {row['name']}: {area_km2:.2f} km², metric CRS {row['metric_crs']}, "
                 f"grid origin ({row['grid_origin_x']:.0f}, {row['grid_origin_y']:.0f})",
                 f"communities: {self.communities} {where}",
                 f"unit cells: {len(self.cells)} of {row['cell_size_m']:g} m in {len(per)} communities "
                 f"({per.min()}–{per.max()} each), codes {self.cells['code'].min()} … {self.cells['code'].max()}"]
        batch_guesses = [] if self.community_batch is None else self.community_batch.guesses
        return [*lines, *(f"  guess: {guess}" for guess in [*self.guesses, *batch_guesses])]


def build_grid(
    engine: Engine, boundary_path: str | Path, *, settings: Settings, communities_path: str | Path | None = None,
    options: LayerOptions | None = None, name: str | None = None, cell_size_m: float = 100.0, strict: bool = False,
) -> GridReport:
    """Store a jurisdiction's boundary and its unit grid (and its communities, when a file gives them).

    Parameters
    ----------
    boundary_path : str or pathlib.Path
        The boundary (:func:`read_boundary_file`).
    settings : Settings, keyword-only
        ``jurisdiction_code`` (9 digits) and ``metric_crs``, in which cells are laid.
    communities_path : str or pathlib.Path, optional, keyword-only
        Community polygons (a communities layer: :func:`geo.io.layers.read_layer_file`); default:
        the communities already stored.
    options : LayerOptions, optional, keyword-only
        How to read the communities file (``id_column`` …).
    name : str, optional, keyword-only
        The jurisdiction's name; default the boundary file's, else the name stored, else the code.
    cell_size_m : float, keyword-only
        Cell edge, metres (100 for the 万米单元网格).
    strict : bool, keyword-only
        Refuse a communities file with any bad feature.

    Raises
    ------
    geo.errors.ValidationError
        No communities, a code that is not 12 characters, a cell no community overlaps, more than
        999 cells in one community.
    """
    code, metric_crs = settings.jurisdiction_code, settings.metric_crs
    if not (isinstance(code, str) and len(code) == 9 and code.isdigit()):
        raise ValidationError(f"jurisdiction code {code!r} must be 9 digits (district 6 + sub-district 3): "
                              "set CITYMAP_JURISDICTION_CODE")
    boundary = read_boundary_file(boundary_path)
    guesses = [*boundary.guesses, *_crs_guess(boundary.geometry, metric_crs)]
    stored = store.read_layer(engine, "jurisdiction", jurisdiction_code=code)
    if name is None and boundary.name is None:
        name = str(stored["name"].iloc[0]) if not stored.empty else code
        guesses.append(f"name: the boundary file has no name; {name!r} (--name gives one)")
    name = name or boundary.name
    batch = None
    if communities_path is not None:
        batch = read_layer_file(communities_path, kind="communities",
                                options=replace(options or LayerOptions(), jurisdiction_code=code))
        communities = batch.whole() if strict else batch.frame
    else:
        communities = store.read_layer(engine, "communities", jurisdiction_code=code)
    if communities.empty:
        raise ValidationError(f"no communities for jurisdiction {code}: give --communities FILE (community polygons "
                              "number the unit cells) or import them first")
    boundary_m = to_metric(boundary.in_file_crs, crs=metric_crs).iloc[0]
    origin = default_origin(boundary_m, cell_size_m=cell_size_m)
    cells_m = build_unit_grid(boundary_m, to_metric(communities, crs=metric_crs), jurisdiction_code=code,
                              origin=origin, cell_size_m=cell_size_m)
    jurisdiction = gpd.GeoDataFrame(
        {"code": [code], "name": [name], "district_code": [code[:DISTRICT_CODE_LEN]], "metric_crs": [metric_crs],
         "cell_size_m": [float(cell_size_m)], "grid_origin_x": [origin[0]], "grid_origin_y": [origin[1]]},
        geometry=[boundary.geometry], crs=WGS84)
    cells = to_wgs84(cells_m)
    layers = {"unit_cells": cells, **({"communities": communities} if batch is not None else {})}
    store.replace_layers(engine, jurisdiction, layers, taxonomy_departments(load_taxonomy()), keep_others=True)
    return GridReport(jurisdiction=jurisdiction, cells=cells, communities=len(communities), community_batch=batch,
                      guesses=guesses)


def _crs_guess(boundary: BaseGeometry, metric_crs: str) -> list[str]:
    """A warning when the boundary lies outside the metric CRS's area of use (lengths would be distorted)."""
    area = pyproj.CRS.from_user_input(metric_crs).area_of_use
    if area is None:
        return []
    point = boundary.representative_point()
    if area.west <= point.x <= area.east and area.south <= point.y <= area.north:
        return []
    return [f"metric_crs: the boundary lies outside {metric_crs}'s area of use ({area.name}); set "
            "CITYMAP_METRIC_CRS to the CGCS2000 zone of the place, or lengths and cells are distorted"]
