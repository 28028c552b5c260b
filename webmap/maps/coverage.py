"""The coverage map of one team: its patch, unvisited unit cells, road coverage, its open issues (overdue marked)."""

from __future__ import annotations

import folium
import geopandas as gpd
from folium.plugins import MarkerCluster

from geo.coverage import Coverage
from geo.settings import Settings
from webmap.maps.base import add_boundary, esc, finish, new_map
from webmap.maps.overview import STATUS_LABELS

UNVISITED_COLOR = "#e6550d"
VISITED_COLOR = "#31a354"
OVERDUE_COLOR = "#b30000"
OPEN_COLOR = "#3182bd"


def coverage_map(
    *,
    boundary: gpd.GeoDataFrame,
    patch: gpd.GeoDataFrame,
    result: Coverage,
    issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
) -> folium.Map:
    """Build the coverage map.

    Parameters
    ----------
    boundary, patch : GeoDataFrame
        The jurisdiction and the team's patch (EPSG:4326).
    result : geo.coverage.Coverage
        Cells (``visited``), clipped roads (``length_m``, ``visited_m``) and the
        visited area. Raw tracks are not drawn: who walked where and when is
        personal information; the visited area is what supervisors need.
    issues : GeoDataFrame
        The team's open issues with ``id``, ``category_code``, ``status``,
        ``reported_at``, ``deadline_at``, ``description`` and ``overdue`` (bool).
    category_names : dict
        Category code → Chinese name.
    """
    m = new_map(tuple(patch.total_bounds), settings)
    add_boundary(m, boundary)
    folium.GeoJson(patch[[patch.geometry.name]].__geo_interface__, name="责任区域",
                   style_function=lambda _f: {"color": "#1f3b73", "weight": 3, "fill": False}).add_to(m)
    unvisited = result.cells[~result.cells["visited"]]
    folium.GeoJson(
        unvisited[["code", unvisited.geometry.name]].__geo_interface__, name=f"未巡查单元网格（{len(unvisited)}）",
        style_function=lambda _f: {"fillColor": UNVISITED_COLOR, "fillOpacity": 0.35, "color": UNVISITED_COLOR,
                                   "weight": 0.4},
        tooltip=folium.GeoJsonTooltip(fields=["code"], aliases=["未巡查单元网格"]),
    ).add_to(m)
    if not result.visited.geometry.iloc[0].is_empty:
        folium.GeoJson(result.visited.__geo_interface__, name="已巡查范围",
                       style_function=lambda _f: {"fillColor": VISITED_COLOR, "fillOpacity": 0.3, "weight": 0}
                       ).add_to(m)
    roads = result.roads[result.roads["length_m"] > 0]
    roads = roads.assign(name=roads["name"].map(esc), share=(100 * roads["visited_m"] / roads["length_m"]).round(0))
    folium.GeoJson(
        roads[["name", "share", roads.geometry.name]].__geo_interface__, name="道路巡查覆盖",
        style_function=lambda f: {"color": VISITED_COLOR if f["properties"]["share"] >= 50 else "#777777",
                                  "weight": 3},
        tooltip=folium.GeoJsonTooltip(fields=["name", "share"], aliases=["道路", "已巡查 %"]),
    ).add_to(m)
    cluster = MarkerCluster(name=f"未结案问题（{len(issues)}，超期 {int(issues['overdue'].sum())}）").add_to(m)
    for row in issues.itertuples():
        late = "<b style='color:#b30000'>已超期</b> · " if row.overdue else ""
        popup = (f"<b>#{row.id} {esc(category_names.get(row.category_code, row.category_code))}</b><br>"
                 f"{late}{esc(STATUS_LABELS.get(row.status, row.status))} · 上报 {esc(row.reported_at)}<br>"
                 f"期限 {esc(row.deadline_at)}<br>{esc(row.description)}")
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x], radius=7 if row.overdue else 5,
            color=OVERDUE_COLOR if row.overdue else OPEN_COLOR, fill=True, fill_opacity=0.85,
            popup=folium.Popup(popup, max_width=300),
        ).add_to(cluster)
    return finish(m)
