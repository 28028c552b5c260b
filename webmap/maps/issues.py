"""Maps of a list of issues (a department's queue, a filtered list) and of one issue."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo.settings import Settings
from webmap.i18n import N_, status_labels
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument

#: marker colour per status: red while waiting for handling, orange while being checked, grey when done
STATUS_COLORS = {"reported": "#b30000", "registered": "#b30000", "dispatched": "#d94801", "handled": "#e6a100",
                 "verified": "#e6a100", "closed": "#777777", "refused": "#777777", "merged": "#777777"}
#: half the side of the box (degrees, ≈ 200 m) a one-issue map shows around its issue
FOCUS_PAD_DEG = 0.002
#: an issue's popup: a link to its page, then status and time, address, description
ISSUE_POPUP = {"title": "title", "href": "href",
               "fields": [["", "status_label"], [N_("上报"), "reported"], [N_("地址"), "address"], [N_("描述"), "description"]],
               "max_width": 300}
ISSUE_POPUP_PROPERTIES = ("title", "href", "status_label", "reported", "address", "description")


def issue_popup_columns(issues: gpd.GeoDataFrame, category_names: dict[str, str]) -> gpd.GeoDataFrame:
    """``issues`` with the plain-text columns of :data:`ISSUE_POPUP` (``title``, ``href``, ``status_label`` …).

    Parameters
    ----------
    issues : GeoDataFrame
        Points with ``id``, ``category_code``, ``status``, ``reported_at``, ``address``, ``description``.
    category_names : dict
        Category code → name (an unknown code is shown as it is).
    """
    ids = issues["id"].astype("int64").astype(str)
    category = issues["category_code"].astype("string")
    return issues.assign(
        title="#" + ids + " " + category.map(category_names).fillna(category).fillna(""),
        href="/issues/" + ids,
        status_label=issues["status"].map(status_labels()).fillna(issues["status"]),
        reported=pd.to_datetime(issues["reported_at"]),
    )


def issues_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
    title: str,
    focus: bool = False,
) -> MapDocument:
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
        The marker layer's name in the layer control.
    focus : bool, keyword-only
        Show the issues' surroundings (an issue's page) instead of the whole jurisdiction.
    """
    bounds = None
    if focus and len(issues):
        minx, miny, maxx, maxy = issues.total_bounds
        bounds = (minx - FOCUS_PAD_DEG, miny - FOCUS_PAD_DEG, maxx + FOCUS_PAD_DEG, maxy + FOCUS_PAD_DEG)
    document = new_document(boundary, settings, bounds=bounds)
    add_roads(document, roads)
    marked = issue_popup_columns(issues, category_names)
    marked = marked.assign(color=marked["status"].map(STATUS_COLORS).fillna("#b30000"))
    document.add_features(
        marked, name=title, properties=[*ISSUE_POPUP_PROPERTIES, "color"],
        style={"radius": 7 if focus else 5, "fill": True, "fillOpacity": 0.8},
        style_props={"color": "color", "fillColor": "color"}, popup=ISSUE_POPUP,
    )
    document.set_legend(N_("问题状态"), [(STATUS_COLORS["registered"], N_("待处置"), "dot"),
                                      (STATUS_COLORS["dispatched"], N_("处置中"), "dot"),
                                      (STATUS_COLORS["handled"], N_("待核查"), "dot"),
                                      (STATUS_COLORS["closed"], N_("已结束"), "dot")])
    if issues.empty:
        document.message = N_("所选条件下没有问题")
    return document
