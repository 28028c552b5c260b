"""The first map a supervisor sees: issues per unit cell, open issues, roads, the boundary."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
from folium.plugins import MarkerCluster

from geo.settings import Settings
from webmap.maps.base import add_boundary, add_roads, esc, finish, new_map

#: colours of the count classes (light → dark)
COUNT_COLORS = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
STATUS_LABELS = {
    "reported": "已上报", "registered": "已立案", "dispatched": "已派遣", "handled": "已处置",
    "verified": "已核查", "closed": "已结案", "refused": "不予立案", "merged": "已合并",
}


def count_classes(counts: np.ndarray, *, n_classes: int = len(COUNT_COLORS)) -> np.ndarray:
    """Class 0…n-1 of each positive count by quantile breaks (ties share a class)."""
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0:
        return np.zeros(0, dtype=int)
    breaks = np.unique(np.quantile(counts, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return np.searchsorted(breaks, counts, side="right").clip(0, n_classes - 1)


def overview_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    cell_counts: gpd.GeoDataFrame,
    open_issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
) -> folium.Map:
    """Build the overview map.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    cell_counts : GeoDataFrame
        Unit cells with ``code`` and ``count`` (issues in the chosen period), EPSG:4326;
        only cells with a positive count are drawn.
    open_issues : GeoDataFrame
        Open issues (points, EPSG:4326) with ``id``, ``category_code``, ``status``,
        ``address``, ``description``, ``reported_at``.
    category_names : dict
        Category code → Chinese name.
    """
    m = new_map(tuple(boundary.total_bounds), settings)
    add_boundary(m, boundary)

    drawn = cell_counts[cell_counts["count"] > 0]
    drawn = drawn.assign(cls=count_classes(drawn["count"].to_numpy()))
    folium.GeoJson(
        drawn[["code", "count", "cls", drawn.geometry.name]].__geo_interface__,
        name="单元网格问题数",
        style_function=lambda f: {"fillColor": COUNT_COLORS[f["properties"]["cls"]], "fillOpacity": 0.6,
                                  "color": "#999999", "weight": 0.3},
        tooltip=folium.GeoJsonTooltip(fields=["code", "count"], aliases=["单元网格", "问题数"]),
    ).add_to(m)
    add_roads(m, roads)

    cluster = MarkerCluster(name=f"未结案问题（{len(open_issues)}）").add_to(m)
    for row in open_issues.itertuples():
        popup = (f"<b>#{row.id} {esc(category_names.get(row.category_code, row.category_code))}</b><br>"
                 f"{esc(STATUS_LABELS.get(row.status, row.status))} · {esc(row.reported_at)}<br>"
                 f"{esc(row.address)}<br>{esc(row.description)}")
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x], radius=5, color="#b30000", fill=True, fill_opacity=0.8,
            popup=folium.Popup(popup, max_width=300),
        ).add_to(cluster)
    return finish(m)
