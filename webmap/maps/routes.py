"""Route map: one coloured line per vehicle, direction arrows along it, numbered stops, the depot.

Arrows and stop numbers are drawn by the renderer as text icons (``point="arrow"`` and
``"badge"`` layers of the map document), so the map needs no plugin.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.settings import Settings
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.issues import FOCUS_PAD_DEG

VEHICLE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
#: one direction arrow every this many metres of route
ARROW_EVERY_M = 250.0


def arrow_points(lines_metric: gpd.GeoDataFrame, *, every_m: float = ARROW_EVERY_M) -> gpd.GeoDataFrame:
    """Points every ``every_m`` metres along each route line with the driving heading.

    Returns
    -------
    geopandas.GeoDataFrame
        ``vehicle``, ``angle_deg`` (screen rotation of an east-pointing arrow, clockwise),
        points in the lines' metric CRS.
    """
    lines = lines_metric[lines_metric.geometry.notna()]
    lengths = shapely.length(lines.geometry.values)
    counts = np.maximum((lengths // every_m).astype(int), 1)
    owner = np.repeat(np.arange(len(lines)), counts)
    # distance of arrow k of a line: (k + 0.5) * spacing, spacing = length / count
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    at = (k + 0.5) * (lengths / counts)[owner]
    geoms = lines.geometry.values[owner]
    here = shapely.line_interpolate_point(geoms, at)
    ahead = shapely.line_interpolate_point(geoms, np.minimum(at + 1.0, lengths[owner]))
    d = shapely.get_coordinates(ahead) - shapely.get_coordinates(here)
    angle = -np.degrees(np.arctan2(d[:, 1], d[:, 0]))  # screen y points down
    return gpd.GeoDataFrame({"vehicle": lines["vehicle"].to_numpy()[owner], "angle_deg": angle},
                            geometry=here, crs=lines.crs)


def routes_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    routes: gpd.GeoDataFrame,
    settings: Settings,
    depot: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame | None = None,
    required: gpd.GeoDataFrame | None = None,
    category_names: dict[str, str] | None = None,
) -> MapDocument:
    """Build the route map.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    routes : GeoDataFrame
        One line per vehicle (:func:`geo.routing.output.route_lines`), any CRS.
    depot : GeoDataFrame
        The depot point, any CRS.
    stops : GeoDataFrame, optional
        Pickup stops with ``vehicle``, ``seq``, ``issue_id``, ``category_code``,
        ``volume_m3``, ``arrive_min``, any CRS.
    required : GeoDataFrame, optional
        Streets to sweep (lines, any CRS), drawn under the route.
    """
    drawn = routes[routes.geometry.notna()].reset_index(drop=True)
    # the map opens on the route (its lines, the depot and the streets to sweep), not on the whole jurisdiction
    shown = pd.concat([frame.to_crs("EPSG:4326").geometry for frame in (drawn, depot, required)
                       if frame is not None and len(frame)])
    minx, miny, maxx, maxy = shown.total_bounds
    document = new_document(boundary, settings, bounds=(minx - FOCUS_PAD_DEG, miny - FOCUS_PAD_DEG,
                                                        maxx + FOCUS_PAD_DEG, maxy + FOCUS_PAD_DEG))
    add_roads(document, roads)
    if required is not None and len(required):
        document.add_features(required, name="需清扫街道", style={"color": "#ffbf00", "weight": 8, "opacity": 0.5})
    names = category_names or {}
    colors = dict(zip(drawn["vehicle"], [VEHICLE_COLORS[i % len(VEHICLE_COLORS)] for i in range(len(drawn))]))
    arrows = arrow_points(drawn)
    for row in drawn.itertuples():  # one layer per vehicle: a handful, not per feature
        color = colors[row.vehicle]
        name = f"车辆 {row.vehicle}（{row.length_m / 1000:.1f} km）"
        line = drawn[drawn["vehicle"] == row.vehicle].assign(tip=f"车辆 {row.vehicle}：{row.length_m:,.0f} 米")
        document.add_features(line, name=name, properties=["tip"], style={"color": color, "weight": 4,
                                                                           "opacity": 0.85}, tooltip=[("", "tip")])
        document.add_features(arrows[arrows["vehicle"] == row.vehicle], name=None, properties=["angle_deg"],
                              point="arrow", angle="angle_deg", style={"color": color, "size": [14, 14]})
        if stops is not None and len(stops):
            mine = stops[stops["vehicle"] == row.vehicle]
            mine = mine.assign(
                label=mine["seq"].astype(int).astype(str),
                title="车辆 " + mine["vehicle"].astype(str) + " 第 " + mine["seq"].astype(int).astype(str) + " 站",
                issue="#" + mine["issue_id"].astype(str) + " " + mine["category_code"].map(names).fillna(""),
                href="/issues/" + mine["issue_id"].astype(str),
                load=mine["volume_m3"].map("约 {:.1f} m³".format) + " · 预计第 "
                + mine["arrive_min"].map("{:.0f}".format) + " 分钟到达",
            )
            document.add_features(mine, name=None, properties=["label", "title", "issue", "href", "load"],
                                  point="badge", label="label", style={"color": color},
                                  popup={"title": "title", "fields": [["问题", "issue"], ["", "load"]],
                                         "max_width": 260})
    document.add_features(depot.iloc[:1].assign(label="车场"), name="车场", properties=["label"], point="tag",
                          label="label", style={"color": "#000000", "size": [30, 18]})
    return document
