"""Issues on a map at any scale: each issue while the view holds few, squares of counts otherwise, counted in SQL.

A map of issues (the overview's open issues, an issue list's, a team's, a hot-spot period's)
asks for the issues of its filter within the view it shows at its zoom (:func:`map_points`).
The answer never holds more than ``cap`` features, whatever the number of issues:

* the filter's issues are counted per unit cell in SQL (:func:`geo.store.count_issues_by`,
  read from an index), those outside every unit cell per square of a fine grid;
* when the cells meeting the view hold at most ``cap`` issues, those issues are read
  (through the spatial index, or through the filter's own index when the filter matches
  fewer issues than ``SPATIAL_FIRST`` times ``cap``) and answered one by one;
* otherwise the cell counts inside the view are summed per square of about
  :data:`CLUSTER_PX` screen pixels at the zoom (Web Mercator), each square placed at the
  mean point of its issues; the squares grow until there are at most ``cap``.

Coordinates are EPSG:4326; a zoom is a Web Mercator zoom level (tiles of 256 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from geo import store
from geo.crs import WGS84
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.settings import Settings

#: a cluster square is about this many screen pixels wide
CLUSTER_PX = 80
#: the grid (degrees, ≈ 100 m) that issues outside every unit cell are counted on
OFF_GRID_DEG = 0.001
#: the issues of a view are read through the spatial index when the filter alone matches more than this many
#: times the cap (SQLite; PostgreSQL's planner chooses by itself)
SPATIAL_FIRST = 20
#: the deepest zoom a map asks for (Leaflet's maxZoom of the map pages)
MAX_ZOOM = 22
_EARTH_M = 6378137.0


@dataclass(frozen=True)
class MapPoints:
    """What a view of a map shows of a filter's issues.

    Attributes
    ----------
    clustered : bool
        ``points`` are squares of counts, not issues.
    points : GeoDataFrame
        EPSG:4326 points: the issues (the columns asked for), or the squares with ``n``
        (issues in it, int64).
    total : int
        The filter's issues in the view (the sum of ``n`` when clustered).
    """

    clustered: bool
    points: gpd.GeoDataFrame
    total: int


def _mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.clip(lat, -85.05, 85.05)
    return _EARTH_M * np.radians(lon), _EARTH_M * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def cluster_squares(lon: np.ndarray, lat: np.ndarray, n: np.ndarray, *, zoom: int, cap: int,
                    pixels: int = CLUSTER_PX) -> pd.DataFrame:
    """Counts at points summed per square of ``pixels`` screen pixels at ``zoom``, at most ``cap`` squares.

    Parameters
    ----------
    lon, lat : array of float
        Where the counts are (EPSG:4326 degrees).
    n : array of int
        The count at each point.
    zoom : int
        Web Mercator zoom level, 0…:data:`MAX_ZOOM`.
    cap : int
        At most this many squares: the side doubles until they fit.

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat`` (the count-weighted mean of the square's points) and ``n``
        (int64), one row per square holding a count, in no set order.
    """
    lon, lat, n = (np.asarray(v, dtype=float) for v in (lon, lat, n))
    if cap < 1:
        raise ValidationError(f"cap={cap!r}: expected at least one feature")
    keep = n > 0
    lon, lat, n = lon[keep], lat[keep], n[keep]
    mx, my = _mercator(lon, lat)
    side = pixels * 2 * np.pi * _EARTH_M / (256 * 2.0 ** zoom)
    while True:
        keys = np.stack([np.floor(mx / side), np.floor(my / side)], axis=1)
        squares, which = np.unique(keys, axis=0, return_inverse=True) if len(n) else (keys, np.zeros(0, int))
        if len(squares) <= cap:
            break
        side *= 2
    which = np.asarray(which).ravel()
    total = np.bincount(which, weights=n, minlength=len(squares))
    return pd.DataFrame({"lon": np.bincount(which, weights=n * lon, minlength=len(squares)) / np.maximum(total, 1),
                         "lat": np.bincount(which, weights=n * lat, minlength=len(squares)) / np.maximum(total, 1),
                         "n": total.astype("int64")})


def _intersect(a: tuple[float, ...] | None, b: tuple[float, ...]) -> tuple[float, float, float, float] | None:
    if a is None:
        return tuple(b)
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] <= box[2] and box[1] <= box[3] else None


def count_units(engine: Engine, settings: Settings, where: IssueFilter) -> pd.DataFrame:
    """The filter's issues counted per unit cell (at its centre) and, outside every cell, per square of
    :data:`OFF_GRID_DEG`: ``lon``, ``lat`` (EPSG:4326), ``n`` (int64), ``minx`` … ``maxy`` (the unit's extent)."""
    j = settings.jurisdiction_code
    per_cell = store.count_issues_by(engine, "cell_code", jurisdiction_code=j, where=where)
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    cells = cells[cells["code"].isin(per_cell.index)]
    centres = shapely.centroid(cells.geometry.values)
    bounds = shapely.bounds(cells.geometry.values).reshape(-1, 4)
    units = [pd.DataFrame({"lon": shapely.get_x(centres), "lat": shapely.get_y(centres),
                           "n": cells["code"].map(per_cell).to_numpy("int64"),
                           "minx": bounds[:, 0], "miny": bounds[:, 1], "maxx": bounds[:, 2], "maxy": bounds[:, 3]})]
    off = store.count_issues_by(engine, ("gx", "gy"), jurisdiction_code=j, where=where, grid_deg=OFF_GRID_DEG,
                                unassigned="cell_code")
    if len(off):
        gx = off.index.get_level_values("gx").to_numpy(float)
        gy = off.index.get_level_values("gy").to_numpy(float)
        units.append(pd.DataFrame({"lon": (gx + 0.5) * OFF_GRID_DEG - 180, "lat": (gy + 0.5) * OFF_GRID_DEG - 90,
                                   "n": off.to_numpy("int64"), "minx": gx * OFF_GRID_DEG - 180,
                                   "miny": gy * OFF_GRID_DEG - 90, "maxx": (gx + 1) * OFF_GRID_DEG - 180,
                                   "maxy": (gy + 1) * OFF_GRID_DEG - 90}))
    return pd.concat(units, ignore_index=True)


def map_points(
    engine: Engine,
    settings: Settings,
    where: IssueFilter,
    *,
    view: Sequence[float],
    zoom: int,
    cap: int,
    columns: Sequence[str] = ("id",),
) -> MapPoints:
    """The issues of ``where`` in ``view`` at ``zoom``: each issue, or squares of counts (module docstring).

    Parameters
    ----------
    where : IssueFilter
        Which issues (its bbox, if any, narrows the view).
    view : (minlon, minlat, maxlon, maxlat)
        The map's view, EPSG:4326.
    zoom : int
        The map's zoom, 0…:data:`MAX_ZOOM`.
    cap : int
        The most features the answer holds (≥ 1).
    columns : sequence of str
        The issue columns read for each issue shown (``id`` always).
    """
    if not isinstance(zoom, (int, np.integer)) or not 0 <= zoom <= MAX_ZOOM:
        raise ValidationError(f"zoom={zoom!r}: expected a whole number 0…{MAX_ZOOM}")
    if not isinstance(cap, (int, np.integer)) or cap < 1:
        raise ValidationError(f"cap={cap!r}: expected at least one feature")
    box = _intersect(where.bbox, tuple(float(v) for v in view))
    empty = gpd.GeoDataFrame({"n": pd.Series(dtype="int64")}, geometry=gpd.GeoSeries([], crs=WGS84))
    if box is None:
        return MapPoints(clustered=True, points=empty, total=0)
    units = count_units(engine, settings, where)
    minx, miny, maxx, maxy = box
    meets = ((units["minx"] <= maxx) & (units["maxx"] >= minx) & (units["miny"] <= maxy)
             & (units["maxy"] >= miny)).to_numpy()
    if int(units.loc[meets, "n"].sum()) <= cap:
        issues = store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code,
                                    where=where.narrowed(bbox=box), columns=list(dict.fromkeys(["id", *columns])),
                                    limit=cap, spatial_index=int(units["n"].sum()) > SPATIAL_FIRST * cap)
        return MapPoints(clustered=False, points=issues, total=len(issues))
    inside = ((units["lon"] >= minx) & (units["lon"] <= maxx) & (units["lat"] >= miny)
              & (units["lat"] <= maxy)).to_numpy()
    squares = cluster_squares(units.loc[inside, "lon"], units.loc[inside, "lat"], units.loc[inside, "n"],
                              zoom=int(zoom), cap=int(cap))
    points = gpd.GeoDataFrame({"n": squares["n"]}, geometry=gpd.points_from_xy(squares["lon"], squares["lat"]),
                              crs=WGS84)
    return MapPoints(clustered=True, points=points, total=int(squares["n"].sum()))
