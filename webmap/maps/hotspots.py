"""Hot-spot maps for supervisors: Gi* classes, heat, clustered issues, emerging hot spots.

Every layer is bounded in size whatever the number of issues (DESIGN.md, performance):

* cells and road segments are drawn as plain GeoJSON dicts (6-decimal coordinates, no
  per-feature bbox), only the cells that have issues or a significant Gi* bin;
* the heat layer is the kernel-density raster (:mod:`geo.density`), not the issues;
* the issue clusters are built in the browser (FastMarkerCluster) from plain
  ``[lat, lon, n]`` rows: one row per issue up to :data:`MAX_POINTS` issues, beyond
  that one row per unit cell (its centre, ``n`` its issues) — the cluster bubbles add
  the ``n`` of their members, so they count issues either way.

All user text (addresses, descriptions, names) goes through :func:`esc`.
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.plugins import FastMarkerCluster, HeatMap

from geo.crs import to_metric, to_wgs84
from geo.emerging import CLASS_LABELS
from geo.hotspot_jobs import HotspotView
from geo.settings import Settings
from webmap.maps.base import (
    PRIORITY_COLOR,
    add_boundary,
    add_roads,
    esc,
    finish,
    new_map,
)

#: beyond this many issues a cluster layer carries one row per unit cell instead of one per issue
MAX_POINTS = 3000
#: Gi* bin → (fill colour, Chinese legend label)
GI_CLASSES = {
    3: ("#b2182b", "热点（99% 置信）"), 2: ("#ef8a62", "热点（95% 置信）"), 1: ("#fddbc7", "热点（90% 置信）"),
    0: ("#f7f7f7", "不显著"),
    -1: ("#d1e5f0", "冷点（90% 置信）"), -2: ("#67a9cf", "冷点（95% 置信）"), -3: ("#2166ac", "冷点（99% 置信）"),
}
#: emerging class → fill colour (hot: reds/oranges, cold: blues, as ArcGIS draws them)
EHSA_COLORS = {
    "new_hot": "#fee0d2", "consecutive_hot": "#fcbba1", "intensifying_hot": "#a50f15", "persistent_hot": "#de2d26",
    "diminishing_hot": "#fb6a4a", "sporadic_hot": "#fdae6b", "oscillating_hot": "#e6550d", "historical_hot": "#8c6d31",
    "new_cold": "#deebf7", "consecutive_cold": "#c6dbef", "intensifying_cold": "#08519c", "persistent_cold": "#3182bd",
    "diminishing_cold": "#6baed6", "sporadic_cold": "#9ecae1", "oscillating_cold": "#4292c6",
    "historical_cold": "#5e5e8c", "no_pattern": "#f7f7f7",
}
#: issues per km of a priority segment: (lower bound, colour)
PER_KM_CLASSES = ((0.0, "#fcbba1"), (20.0, "#fb6a4a"), (50.0, "#de2d26"), (100.0, "#a50f15"))

# One marker per row [lat, lon, n]; the cluster bubble shows the sum of n of its members.
_CLUSTER_CALLBACK = """function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: row[2] > 1 ? 5 + Math.min(10, Math.sqrt(row[2])) : 5, color: '#b30000', weight: 1,
         fillOpacity: 0.7, issues: row[2]});
    marker.bindTooltip(row[2] + ' 件');
    return marker;
}"""
_CLUSTER_ICON = """function (cluster) {
    var n = 0;
    cluster.getAllChildMarkers().forEach(function (m) { n += m.options.issues || 1; });
    var size = n < 100 ? 'small' : (n < 1000 ? 'medium' : 'large');
    return L.divIcon({html: '<div><span>' + n + '</span></div>', className: 'marker-cluster marker-cluster-' + size,
                      iconSize: new L.Point(40, 40)});
}"""


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict:
    """A GeoJSON dict of ``columns`` with coordinates rounded to 6 decimals (≈ 0.1 m) and no bbox.

    Features carry their position as ``id``: folium keys its per-feature styles on the
    id when there is one, and otherwise on a unique property — a whole popup each.
    """
    geometry = shapely.transform(frame.geometry.values, lambda xy: np.round(xy, 6))
    slim = gpd.GeoDataFrame(frame[columns].reset_index(drop=True), geometry=geometry, crs=frame.crs)
    return json.loads(slim.to_json(drop_id=False))


def cluster_rows(issues: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, *, max_points: int = MAX_POINTS,
                 metric_crs: str = "EPSG:4548") -> list[list]:
    """``[lat, lon, n]`` rows for a cluster layer: one per issue, or one per unit cell beyond ``max_points``."""
    if len(issues) <= max_points:
        lat, lon = issues.geometry.y.to_numpy(), issues.geometry.x.to_numpy()
        n = np.ones(len(issues), dtype=int)
    else:
        per_cell = issues["cell_code"].value_counts()
        hit = cells[cells["code"].isin(per_cell.index)]
        # centroids in the metric CRS: the cells are squares there
        centres = to_wgs84(to_metric(hit.geometry, crs=metric_crs).centroid)
        lat, lon = centres.y.to_numpy(), centres.x.to_numpy()
        n = hit["code"].map(per_cell).to_numpy(int)
    return np.column_stack([np.round(lat, 6), np.round(lon, 6), n]).tolist() if len(n) else []


def add_clusters(m: folium.Map, rows: list[list], *, name: str, show: bool = True) -> None:
    FastMarkerCluster(rows, callback=_CLUSTER_CALLBACK, icon_create_function=_CLUSTER_ICON, name=name,
                      show=show, chunkedLoading=True).add_to(m)


def add_legend(m: folium.Map, element_id: str, title: str, rows: list[tuple[str, str]]) -> None:
    """A fixed legend box (bottom right): ``rows`` of (colour, label); labels are escaped here."""
    items = "".join(f"<div><span style='background:{color}'></span>{esc(label)}</div>" for color, label in rows)
    m.get_root().html.add_child(Element(
        f"<style>#{element_id}{{position:absolute;bottom:24px;right:10px;z-index:1000;background:#fff;"
        "padding:6px 8px;font:12px sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)}"
        f"#{element_id} span{{display:inline-block;width:14px;height:10px;margin-right:6px;border:1px solid #999}}"
        f"</style><div id='{element_id}'><b>{esc(title)}</b>{items}</div>"
    ))


def _issue_lines(issues: pd.DataFrame, category_names: dict) -> pd.Series:
    """One escaped line per issue: #id category · date · address (kept short: every cell carries its lines)."""
    return ("#" + issues["id"].astype(str) + " " + issues["category_code"].map(category_names).fillna("").map(esc)
            + " · " + pd.to_datetime(issues["reported_at"]).dt.strftime("%m-%d") + " · " + issues["address"].map(esc))


#: popup rows of a cell: property → label (the labels are written once, in the popup's template)
CELL_FIELDS = {"code": "单元网格", "community": "社区", "n": "问题数", "z": "Gi* z", "p": "p 值", "cls": "类别",
               "open": "当前未结案", "top": "最新未结案问题"}


def _cell_properties(cells: gpd.GeoDataFrame, view: HotspotView) -> gpd.GeoDataFrame:
    """The cells with the escaped values of :data:`CELL_FIELDS` and their bin ``b``."""
    names = view.names
    latest = view.popup_issues
    lines = (_issue_lines(latest, names.get("categories", {})).groupby(latest["cell_code"]).agg("<br>".join)
             if len(latest) else pd.Series(dtype=str))
    return cells.assign(
        community=cells["community_code"].map(names.get("communities", {})).map(esc), n=cells["count"],
        z=cells["gi_z"].round(2), p=cells["gi_p"].map("{:.2g}".format),
        cls=cells["gi_bin"].map(lambda b: GI_CLASSES[int(b)][1]), b=cells["gi_bin"].astype(int),
        open=cells["code"].map(view.open_issues["cell_code"].value_counts()).fillna(0).astype(int),
        top=cells["code"].map(lines).fillna("无"),
    )


def hotspot_map(view: HotspotView, *, boundary: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, settings: Settings,
                major_names: dict[str, str], max_points: int = MAX_POINTS) -> folium.Map:
    """The hotspot map of a :class:`~geo.hotspot_jobs.HotspotView`.

    Layers: Gi* classes of the unit cells (choropleth with popups and a Chinese legend),
    the kernel-density heat layer, all filtered issues clustered, one cluster layer per
    major category (hidden at first), the priority roads coloured by issues per km,
    the roads and the boundary.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    major_names : dict
        Major class code (``"06"``) → Chinese name.
    max_points : int, keyword-only
        See :data:`MAX_POINTS`.
    """
    m = new_map(tuple(boundary.total_bounds), settings)
    add_boundary(m, boundary)
    add_roads(m, roads)

    cells = _cell_properties(view.cells[(view.cells["count"] > 0) | (view.cells["gi_bin"] != 0)], view)
    folium.GeoJson(
        feature_collection(cells, [*CELL_FIELDS, "b"]), name="热点分析（Gi*）",
        style_function=lambda f: {"fillColor": GI_CLASSES[f["properties"]["b"]][0], "fillOpacity": 0.65,
                                  "color": "#888888", "weight": 0.3},
        tooltip=folium.GeoJsonTooltip(fields=["n", "cls"], aliases=["问题数", "类别"]),
        popup=folium.GeoJsonPopup(fields=list(CELL_FIELDS), aliases=list(CELL_FIELDS.values()), max_width=380),
    ).add_to(m)

    if len(view.density):
        # 5 decimals (about 1 m) are plenty for the centres of 50 m pixels
        heat = np.column_stack([view.density.geometry.y.round(5), view.density.geometry.x.round(5),
                                view.density["share"].round(3)]).tolist()
        HeatMap(heat, name="问题核密度（热力）", radius=14, blur=12, min_opacity=0.3, max_zoom=17, show=False).add_to(m)

    metric_crs = settings.metric_crs
    add_clusters(m, cluster_rows(view.issues, view.cells, max_points=max_points, metric_crs=metric_crs),
                 name=f"全部问题（{len(view.issues)}）")
    major = view.issues["category_code"].astype(str).str[:2]
    for code, name in major_names.items():
        subset = view.issues[(major == code).to_numpy()]
        if len(subset):
            add_clusters(m, cluster_rows(subset, view.cells, max_points=max_points, metric_crs=metric_crs),
                         name=f"{esc(name)}（{len(subset)}）", show=False)

    priority = view.segments[view.segments["is_priority"]]
    if len(priority):
        bounds = np.array([b for b, _ in PER_KM_CLASSES])
        colour = np.array([c for _, c in PER_KM_CLASSES])[
            np.searchsorted(bounds, priority["issues_per_km"].fillna(0).to_numpy(), side="right") - 1]
        priority = priority.assign(
            color=colour,
            tip=priority["name"].map(esc) + "（" + priority["from_m"].round().astype(int).astype(str) + "–"
            + priority["to_m"].round().astype(int).astype(str) + " m）：" + priority["count"].astype(str)
            + " 件，每公里 " + priority["issues_per_km"].round(1).astype(str) + " 件")
        folium.GeoJson(
            feature_collection(priority, ["tip", "color"]), name="重点道路（每公里问题数）",
            style_function=lambda f: {"color": f["properties"]["color"], "weight": 7, "opacity": 0.9},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        ).add_to(m)

    add_legend(m, "hotspot-legend", "热点分析（Getis-Ord Gi*）",
               [GI_CLASSES[b] for b in (3, 2, 1, 0, -1, -2, -3)] + [(PRIORITY_COLOR, "重点道路")])
    return finish(m)


def emerging_map(cells: gpd.GeoDataFrame, *, boundary: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                 settings: Settings, title: str) -> folium.Map:
    """The emerging-hot-spot map: cells coloured by class (:func:`geo.emerging.emerging_hotspots`).

    Cells of no pattern are not drawn; each drawn cell has a tooltip and a popup with
    its class, counts of hot/cold bins and trend.
    """
    m = new_map(tuple(boundary.total_bounds), settings)
    add_boundary(m, boundary)
    add_roads(m, roads)
    drawn = cells[cells["ehsa_class"] != "no_pattern"]
    drawn = drawn.assign(
        fill=drawn["ehsa_class"].map(EHSA_COLORS),
        tip=drawn["code"] + " · " + drawn["ehsa_label"],
        popup="<b>单元网格 " + drawn["code"].map(esc) + "</b><br>" + drawn["ehsa_label"] + "<br>问题数："
        + drawn["count"].astype(str) + "<br>热点时段：" + drawn["hot_bins"].astype(str) + " / "
        + drawn["n_bins"].astype(str) + "，冷点时段：" + drawn["cold_bins"].astype(str)
        + "<br>趋势（Mann–Kendall）z = " + drawn["trend_z"].map("{:.2f}".format) + "，p = "
        + drawn["trend_p"].map("{:.3g}".format),
    )
    folium.GeoJson(
        feature_collection(drawn, ["tip", "popup", "fill"]), name="时空热点类型",
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.75, "color": "#777777",
                                  "weight": 0.4},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=320),
    ).add_to(m)
    present = [key for key in CLASS_LABELS if key in set(cells["ehsa_class"])]
    add_legend(m, "emerging-legend", title, [(EHSA_COLORS[k], CLASS_LABELS[k]) for k in present])
    return finish(m)
