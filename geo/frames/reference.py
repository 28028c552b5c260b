"""The reference layers of one jurisdiction, bundled as one value.

Read from a data directory by :func:`geo.io.ingest.load_layers_from_dir`, from the
database by :func:`geo.io.ingest.read_layers`.

The frames follow the layer-frame contract of ``docs/architecture.md``: GeoDataFrames
in WGS84 lon/lat (EPSG:4326) with string codes. The jurisdiction row carries the
metric CRS and the unit grid's cell size and origin (metric coordinates), which
arithmetic cell lookup needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
from shapely.geometry.base import BaseGeometry


@dataclass
class Layers:
    """The reference frames of one jurisdiction.

    Attributes
    ----------
    jurisdiction : geopandas.GeoDataFrame
        One row: ``code``, ``name``, ``district_code``, …, the boundary polygon.
    communities, compounds, grids, zones, unit_cells : geopandas.GeoDataFrame
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
    unit_cells: gpd.GeoDataFrame
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
