"""Inspection coverage: which unit cells and how much road of a team's patch a team visited.

Inspections are GPS tracks (LineStrings) and check-ins (Points) of grid workers and
crews (``geo.store.read_inspections``). A track's fixes wander by a few metres, so
each inspection is buffered by a tolerance (``coverage_tolerance_m``) in the metric
CRS (EPSG:4548) before it is compared with the map:

* a **unit cell is visited** when the buffered inspections of the window intersect
  it (a worker walking along a cell's edge sees into it);
* the **visited road length** is the length of the patch's road centre-lines that
  lies inside the buffered inspections.

No I/O: frames in (EPSG:4326), frames out. Tracks are personal information (PIPL):
callers show them to supervisors only, and ``geo.store.purge_inspections`` drops
them after ``track_retention_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.errors import ValidationError
from geo.taxonomy import load_taxonomy

WGS84 = "EPSG:4326"


def team_patches(
    *,
    jurisdiction: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The patch (area of responsibility) of every team that can be dispatched to.

    Parameters
    ----------
    jurisdiction, communities, zones : geopandas.GeoDataFrame, keyword-only
        The reference layers (EPSG:4326); zones carry ``department_code``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code`` (the department code an issue's ``department_code`` uses),
        ``name``, ``kind`` (``office``, ``contractor``, ``community``), polygon
        (EPSG:4326): a contractor's zone(s), a community team
        (``community:<code>``) its community, every other department the whole
        jurisdiction.
    """
    departments = load_taxonomy().departments
    boundary = jurisdiction.to_crs(WGS84).geometry.union_all()
    zone_shapes = zones.to_crs(WGS84).dissolve(by="department_code").geometry
    comm = communities.to_crs(WGS84)
    rows = pd.DataFrame({"code": departments["code"].to_numpy(), "name": departments["name"].to_numpy(),
                         "kind": departments["kind"].to_numpy()})
    shapes = rows["code"].map(zone_shapes).where(rows["code"].isin(zone_shapes.index), boundary)
    teams = gpd.GeoDataFrame(rows, geometry=list(shapes), crs=WGS84)
    community_teams = gpd.GeoDataFrame({"code": "community:" + comm["code"].astype(str),
                                        "name": comm["name"].astype(str), "kind": "community"},
                                       geometry=comm.geometry.values, crs=WGS84)
    return pd.concat([teams, community_teams], ignore_index=True)


@dataclass
class Coverage:
    """What :func:`coverage` found for one patch and window.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        The patch's unit cells (EPSG:4326) with ``code`` and ``visited`` (bool).
    roads : geopandas.GeoDataFrame
        The patch's road segments clipped to it (EPSG:4326) with ``segment_id``,
        ``name``, ``length_m`` and ``visited_m`` (metres inside the buffered
        inspections).
    visited : geopandas.GeoDataFrame
        The buffered inspections, dissolved (EPSG:4326), for drawing.
    cells_total, cells_visited : int
    cell_share, road_share : float
        Visited share in [0, 1] (NaN for an empty patch).
    road_km, road_visited_km : float
    """

    cells: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    visited: gpd.GeoDataFrame
    cells_total: int
    cells_visited: int
    cell_share: float
    road_km: float
    road_visited_km: float
    road_share: float


def coverage(
    inspections: gpd.GeoDataFrame,
    *,
    patch: shapely.Geometry,
    cells: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    until: datetime,
    days: int,
    tolerance_m: float,
    metric_crs: str = "EPSG:4548",
) -> Coverage:
    """Share of a patch's unit cells and road length visited in the ``days`` days up to ``until``.

    Parameters
    ----------
    inspections : geopandas.GeoDataFrame
        Tracks and check-ins (EPSG:4326) with ``started_at`` and ``ended_at``
        (naive local time); those overlapping ``[until - days, until)`` count,
        whichever team made them (filter by team before calling to judge one team).
    patch : shapely.Geometry, keyword-only
        The area judged (EPSG:4326), e.g. a row of :func:`team_patches`.
    cells : geopandas.GeoDataFrame, keyword-only
        Unit cells (EPSG:4326) with ``code``; those whose centre lies in the patch
        are judged.
    segments : geopandas.GeoDataFrame, keyword-only
        Road segments (EPSG:4326) with ``segment_id`` and ``name``; they are
        clipped to the patch.
    until : datetime.datetime, keyword-only
        End of the window (exclusive), naive local time.
    days : int, keyword-only
        Window length in days (> 0).
    tolerance_m : float, keyword-only
        Buffer around each inspection, metres (>= 0).
    metric_crs : str, keyword-only
        CRS in metres for buffers, lengths and areas.

    Returns
    -------
    Coverage
    """
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise ValidationError(f"days {days!r} must be a positive whole number")
    if not isinstance(tolerance_m, (int, float)) or not np.isfinite(tolerance_m) or tolerance_m < 0:
        raise ValidationError(f"tolerance_m {tolerance_m!r} must be a non-negative number of metres")
    if not isinstance(until, datetime):
        raise ValidationError(f"until {until!r} is not a date and time")
    for name, frame in (("inspections", inspections), ("cells", cells), ("segments", segments)):
        if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
            raise ValidationError(f"{name} must be a GeoDataFrame with a CRS")
    since = pd.Timestamp(until) - timedelta(days=days)
    window = inspections[(pd.to_datetime(inspections["ended_at"]) >= since)
                         & (pd.to_datetime(inspections["started_at"]) < pd.Timestamp(until))]
    patch_m = to_metric(gpd.GeoSeries([patch], crs=WGS84), crs=metric_crs).iloc[0]
    # Thinning the fixes to a tenth of the tolerance first changes the buffer by at most that much and
    # makes the union several times cheaper (a track has a fix every few metres).
    lines = shapely.simplify(to_metric(window.geometry, crs=metric_crs).values, tolerance_m / 10)
    seen = shapely.union_all(shapely.buffer(lines, tolerance_m, quad_segs=4)) if len(window) else shapely.Polygon()

    cells_m = to_metric(cells[["code", "geometry"]], crs=metric_crs)
    cells_m = cells_m[shapely.contains_xy(patch_m, *shapely.get_coordinates(
        shapely.centroid(cells_m.geometry.values)).T)].copy()
    shapely.prepare(seen)
    cells_m["visited"] = shapely.intersects(seen, cells_m.geometry.values) if len(cells_m) else np.array([], bool)

    seg_m = to_metric(segments[["segment_id", "name", "geometry"]], crs=metric_crs)
    seg_m = seg_m[shapely.intersects(patch_m, seg_m.geometry.values)].copy()
    seg_m["geometry"] = shapely.intersection(seg_m.geometry.values, patch_m)
    seg_m["length_m"] = shapely.length(seg_m.geometry.values)
    seg_m["visited_m"] = shapely.length(shapely.intersection(seg_m.geometry.values, seen))

    n_cells, n_seen = len(cells_m), int(cells_m["visited"].sum())
    road_m, road_seen = float(seg_m["length_m"].sum()), float(seg_m["visited_m"].sum())
    return Coverage(
        cells=cells_m.to_crs(WGS84),
        roads=seg_m.to_crs(WGS84),
        visited=gpd.GeoDataFrame(geometry=[seen], crs=metric_crs).to_crs(WGS84),
        cells_total=n_cells,
        cells_visited=n_seen,
        cell_share=n_seen / n_cells if n_cells else float("nan"),
        road_km=road_m / 1e3,
        road_visited_km=road_seen / 1e3,
        road_share=road_seen / road_m if road_m else float("nan"),
    )
