"""The reference layers of one jurisdiction, bundled, and reading them from files.

The frames follow the layer-frame contract of ``docs/architecture.md``: GeoDataFrames
in WGS84 lon/lat (EPSG:4326) with string codes. The jurisdiction row carries the
metric CRS and the unit grid's cell size and origin (metric coordinates), which
arithmetic cell lookup needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo.errors import NotFoundError, ValidationError
from geo.io import read_layer_file

#: Layers attribute → (file relative to the data directory, geo.io layer kind)
LAYER_FILES: dict[str, tuple[str, str]] = {
    "jurisdiction": ("grids/jurisdiction.geojson", "jurisdiction"),
    "communities": ("grids/communities.geojson", "communities"),
    "compounds": ("grids/compounds.geojson", "compounds"),
    "grids": ("grids/grids.geojson", "grids"),
    "zones": ("grids/zones.geojson", "zones"),
    "cells": ("grids/unit_cells.geojson", "unit_cells"),
    "roads": ("roads/roads.geojson", "roads"),
    "segments": ("roads/segments.geojson", "segments"),
}


@dataclass
class Layers:
    """The reference frames of one jurisdiction.

    Attributes
    ----------
    jurisdiction : geopandas.GeoDataFrame
        One row: ``code``, ``name``, ``district_code``, …, the boundary polygon.
    communities, compounds, grids, zones, cells : geopandas.GeoDataFrame
        Polygon layers, EPSG:4326, columns as in ``docs/architecture.md``.
    segments, roads : geopandas.GeoDataFrame
        Line layers, EPSG:4326.
    metric_crs : str
        The CRS in which lengths and distances are computed, e.g. ``"EPSG:4548"``.
    cell_size_m : float
        Unit-cell edge length, metres.
    grid_origin : tuple of float
        South-west corner ``(x0, y0)`` of the unit grid, metres in ``metric_crs``.
    """

    jurisdiction: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    metric_crs: str
    cell_size_m: float
    grid_origin: tuple[float, float]

    @property
    def code(self) -> str:
        """The jurisdiction's 9-digit code."""
        return str(self.jurisdiction["code"].iloc[0])

    @property
    def boundary(self) -> BaseGeometry:
        """The jurisdiction's boundary polygon, in the jurisdiction frame's CRS."""
        return self.jurisdiction.geometry.iloc[0]


def load_layers_from_dir(data_dir: Path) -> Layers:
    """Read a jurisdiction's layers from the GeoJSON files of a data directory.

    Parameters
    ----------
    data_dir : pathlib.Path
        Directory holding ``grids/`` and ``roads/`` with the files named in
        :data:`LAYER_FILES` (the repository's ``data/`` directory, for example).

    Returns
    -------
    Layers
        Frames in EPSG:4326 (reprojected if a file says otherwise), code columns as
        strings; metric CRS, cell size and grid origin from the jurisdiction row.

    Raises
    ------
    geo.errors.NotFoundError
        A file is missing.
    geo.errors.ValidationError
        A file lacks a required column, or the jurisdiction file does not hold
        exactly one row with usable grid parameters.
    """
    data_dir = Path(data_dir)
    frames = {name: _read_layer(data_dir, name) for name in LAYER_FILES}
    jur = frames["jurisdiction"]
    path = data_dir / LAYER_FILES["jurisdiction"][0]
    if len(jur) != 1:
        raise ValidationError(f"{path} must hold exactly one jurisdiction, found {len(jur)}")
    row = jur.iloc[0]
    try:
        cell_size = float(row["cell_size_m"])
        origin = (float(row["grid_origin_x"]), float(row["grid_origin_y"]))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{path}: cell_size_m / grid_origin_x / grid_origin_y must be numbers") from exc
    if not all(math.isfinite(v) for v in (cell_size, *origin)) or cell_size <= 0:
        raise ValidationError(
            f"{path}: cell_size_m {cell_size!r} must be positive and grid origin {origin!r} finite"
        )
    return Layers(**frames, metric_crs=str(row["metric_crs"]), cell_size_m=cell_size, grid_origin=origin)


def _read_layer(data_dir: Path, name: str) -> gpd.GeoDataFrame:
    relative, kind = LAYER_FILES[name]
    path = data_dir / relative
    if not path.is_file():
        raise NotFoundError(f"layer file {str(path)!r} does not exist")
    return read_layer_file(path, kind=kind)
