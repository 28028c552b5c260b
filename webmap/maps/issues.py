"""Maps of a list of issues (a department's queue, a filtered list) and of one issue."""

from __future__ import annotations

import folium
import geopandas as gpd

from geo.settings import Settings
from webmap.maps.base import add_boundary, add_roads, esc, finish, new_map
from webmap.maps.overview import STATUS_LABELS

#: marker colour per status: red while waiting for handling, orange while being checked, grey when done
STATUS_COLORS = {"reported": "#b30000", "registered": "#b30000", "dispatched": "#d94801", "handled": "#e6a100",
                 "verified": "#e6a100", "closed": "#777777", "refused": "#777777", "merged": "#777777"}
#: half the side of the box (degrees, ≈ 200 m) a one-issue map shows around its issue
FOCUS_PAD_DEG = 0.002


def popup_html(issues: gpd.GeoDataFrame, category_names: dict[str, str]) -> list[str]:
    """The popup of each issue: a link to its page, category, status, time, address, description.

    Every value that came from a user goes through :func:`~webmap.maps.base.esc`; the id is an integer.
    """
    ids = issues["id"].astype("int64").astype(str)
    category = issues["category_code"].map(lambda c: esc(category_names.get(c, c)))
    status = issues["status"].map(lambda s: esc(STATUS_LABELS.get(s, s)))
    return ('<b><a href="/issues/' + ids + '" target="_top">#' + ids + "</a> " + category + "</b><br>" + status
            + " · " + issues["reported_at"].map(esc) + "<br>" + issues["address"].map(esc) + "<br>"
            + issues["description"].map(esc)).tolist()


def issues_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
    title: str,
    focus: bool = False,
) -> folium.Map:
    """Issues as circle markers coloured by status, over the roads and the boundary.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    issues : GeoDataFrame
        Points (EPSG:4326) with ``id``, ``category_code``, ``status``, ``address``,
        ``description``, ``reported_at``. The caller caps their number: a browser
        draws a few thousand canvas markers at most.
    category_names : dict
        Category code → name.
    title : str
        The marker layer's name in the layer control (escaped here).
    focus : bool, keyword-only
        Show the issues' surroundings (an issue's page) instead of the whole jurisdiction.
    """
    if focus and len(issues):
        minx, miny, maxx, maxy = issues.total_bounds
        bounds = (minx - FOCUS_PAD_DEG, miny - FOCUS_PAD_DEG, maxx + FOCUS_PAD_DEG, maxy + FOCUS_PAD_DEG)
    else:
        bounds = tuple(boundary.total_bounds)
    m = new_map(bounds, settings)
    add_boundary(m, boundary)
    add_roads(m, roads)
    data = gpd.GeoDataFrame({"status": issues["status"].astype(str), "popup": popup_html(issues, category_names)},
                            geometry=issues.geometry.values, crs=issues.crs)
    folium.GeoJson(
        data.__geo_interface__, name=esc(title),
        marker=folium.CircleMarker(radius=7 if focus else 5, fill=True, fill_opacity=0.8),
        style_function=lambda f: {"color": STATUS_COLORS.get(f["properties"]["status"], "#b30000"),
                                  "fillColor": STATUS_COLORS.get(f["properties"]["status"], "#b30000")},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
    ).add_to(m)
    return finish(m)
