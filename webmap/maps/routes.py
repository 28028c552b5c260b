"""Route map: one coloured line per vehicle, direction arrows along it, numbered stops, the depot.

Arrows and stop numbers are Leaflet ``DivIcon`` markers (plain Leaflet, no plugin JS),
so the map loads nothing beyond the assets every citymap map already serves.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.crs import to_wgs84
from geo.settings import Settings
from webmap.maps.base import add_boundary, add_roads, esc, finish, new_map

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
) -> folium.Map:
    """Build the route map.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    routes : GeoDataFrame
        One line per vehicle (:func:`geo.routing.route_lines`), any CRS.
    depot : GeoDataFrame
        The depot point, any CRS.
    stops : GeoDataFrame, optional
        Pickup stops with ``vehicle``, ``seq``, ``issue_id``, ``category_code``,
        ``volume_m3``, ``arrive_min``, any CRS.
    required : GeoDataFrame, optional
        Streets to sweep (lines, any CRS), drawn under the route.
    """
    m = new_map(tuple(boundary.total_bounds), settings)
    add_boundary(m, boundary)
    add_roads(m, roads)
    if required is not None and len(required):
        folium.GeoJson(
            to_wgs84(required[[required.geometry.name]]).__geo_interface__, name="需清扫街道",
            style_function=lambda _f: {"color": "#ffbf00", "weight": 8, "opacity": 0.5},
        ).add_to(m)
    names = category_names or {}
    arrows = to_wgs84(arrow_points(routes))
    wgs_routes = to_wgs84(routes[routes.geometry.notna()])
    for i, row in enumerate(wgs_routes.itertuples()):
        color = VEHICLE_COLORS[i % len(VEHICLE_COLORS)]
        layer = folium.FeatureGroup(name=f"车辆 {row.vehicle}（{row.length_m / 1000:.1f} km）").add_to(m)
        xy = shapely.get_coordinates(row.geometry)
        folium.PolyLine(xy[:, ::-1].tolist(), color=color, weight=4, opacity=0.85,
                        tooltip=esc(f"车辆 {row.vehicle}：{row.length_m:,.0f} 米")).add_to(layer)
        mine = arrows[arrows["vehicle"] == row.vehicle]
        for (x, y), angle in zip(shapely.get_coordinates(mine.geometry.values), mine["angle_deg"]):
            folium.Marker([y, x], icon=folium.DivIcon(
                html=f'<div class="route-arrow" style="color:{color};transform:rotate({angle:.0f}deg)">➤</div>',
                icon_size=(14, 14), icon_anchor=(7, 7), class_name="route-arrow-icon")).add_to(layer)
        if stops is not None and len(stops):
            wgs_stops = to_wgs84(stops[stops["vehicle"] == row.vehicle])
            for stop, (x, y) in zip(wgs_stops.itertuples(), shapely.get_coordinates(wgs_stops.geometry.values)):
                popup = (f"<b>车辆 {esc(stop.vehicle)} 第 {esc(stop.seq)} 站</b><br>问题 #{esc(stop.issue_id)} "
                         f"{esc(names.get(stop.category_code, stop.category_code))}<br>"
                         f"约 {stop.volume_m3:.1f} m³ · 预计第 {stop.arrive_min:.0f} 分钟到达")
                folium.Marker([y, x], popup=folium.Popup(popup, max_width=260), icon=folium.DivIcon(
                    html=(f'<div class="route-stop" style="background:{color};color:#fff;border-radius:9px;'
                          f'width:18px;height:18px;line-height:18px;text-align:center;font-size:11px">'
                          f'{int(stop.seq)}</div>'),
                    icon_size=(18, 18), icon_anchor=(9, 9), class_name="route-stop-icon")).add_to(layer)
    dx, dy = shapely.get_coordinates(to_wgs84(depot).geometry.values)[0]
    folium.Marker([dy, dx], tooltip="车场", icon=folium.DivIcon(
        html='<div class="route-depot" style="background:#000;color:#fff;padding:1px 3px;font-size:12px">车场</div>',
        icon_size=(30, 18), icon_anchor=(15, 9))).add_to(m)
    return finish(m)
