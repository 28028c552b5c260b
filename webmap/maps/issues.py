"""Maps of a list of issues (a department's queue, a filtered list) and of one issue."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo.issue_filter import IssueFilter
from geo.settings import Settings
from webmap.i18n import N_, status_labels
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.live import LiveIssues

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
#: the issue columns :func:`issue_popup_columns` reads
ISSUE_POPUP_COLUMNS = ("id", "category_code", "status", "reported_at", "address", "description")


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


def issue_layer(where: IssueFilter, category_names: dict[str, str]) -> LiveIssues:
    """A live layer of the issues of ``where``, each with the properties of :data:`ISSUE_POPUP` and
    ``color`` (:data:`STATUS_COLORS`)."""
    def describe(issues: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        marked = issue_popup_columns(issues, category_names)
        return marked.assign(color=marked["status"].map(STATUS_COLORS).fillna("#b30000"))

    return LiveIssues(where=where, columns=ISSUE_POPUP_COLUMNS, describe=describe,
                      properties=(*ISSUE_POPUP_PROPERTIES, "color"))


def issues_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
    title: str,
) -> MapDocument:
    """A few issues (one issue's page) as circle markers coloured by status, over the roads, showing their
    surroundings.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    issues : GeoDataFrame
        Points (EPSG:4326) with ``id``, ``category_code``, ``status``, ``address``,
        ``description``, ``reported_at``; a handful (a list's many issues are
        :func:`issue_list_map`).
    category_names : dict
        Category code → name.
    title : str
        The marker layer's name in the layer control.
    """
    bounds = None
    if len(issues):
        minx, miny, maxx, maxy = issues.total_bounds
        bounds = (minx - FOCUS_PAD_DEG, miny - FOCUS_PAD_DEG, maxx + FOCUS_PAD_DEG, maxy + FOCUS_PAD_DEG)
    document = new_document(boundary, settings, bounds=bounds)
    add_roads(document, roads)
    marked = issue_popup_columns(issues, category_names)
    marked = marked.assign(color=marked["status"].map(STATUS_COLORS).fillna("#b30000"))
    document.add_features(
        marked, name=title, properties=[*ISSUE_POPUP_PROPERTIES, "color"],
        style={"radius": 7, "fill": True, "fillOpacity": 0.8},
        style_props={"color": "color", "fillColor": "color"}, popup=ISSUE_POPUP,
    )
    _status_legend(document)
    if issues.empty:
        document.message = N_("所选条件下没有问题")
    return document


def issue_list_map(*, boundary: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, settings: Settings, source: str,
                   title: str, total: int) -> MapDocument:
    """An issue list's map: its issues as a live layer (:mod:`webmap.maps.live`) over the roads and the boundary.

    Parameters
    ----------
    source : str
        The path of the live layer (:func:`issue_layer` of the list's filter).
    title : str
        The layer's name in the layer control.
    total : int
        How many issues the list holds (none: the map says so).
    """
    document = new_document(boundary, settings)
    add_roads(document, roads)
    document.add_live(name=title, source=source, style={"radius": 5, "fill": True, "fillOpacity": 0.8},
                      style_props={"color": "color", "fillColor": "color"}, popup=ISSUE_POPUP)
    _status_legend(document)
    if total == 0:
        document.message = N_("所选条件下没有问题")
    return document


def _status_legend(document: MapDocument) -> None:
    document.set_legend(N_("问题状态"), [(STATUS_COLORS["registered"], N_("待处置"), "dot"),
                                      (STATUS_COLORS["dispatched"], N_("处置中"), "dot"),
                                      (STATUS_COLORS["handled"], N_("待核查"), "dot"),
                                      (STATUS_COLORS["closed"], N_("已结束"), "dot")])
