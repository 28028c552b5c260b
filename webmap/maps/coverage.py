"""The coverage map of one team: its patch, unvisited unit cells, road coverage, its open issues (overdue marked)."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
from flask_babel import gettext

from geo.issue_filter import IssueFilter
from geo.loop.coverage import Coverage
from geo.loop.metrics import overdue_mask
from geo.settings import Settings
from webmap.i18n import N_
from webmap.maps.base import new_document
from webmap.maps.document import MapDocument
from webmap.maps.issues import ISSUE_POPUP, ISSUE_POPUP_COLUMNS, ISSUE_POPUP_PROPERTIES, issue_popup_columns
from webmap.maps.live import LiveIssues

UNVISITED_COLOR = "#e6550d"
VISITED_COLOR = "#31a354"
OVERDUE_COLOR = "#b30000"
OPEN_COLOR = "#3182bd"


def coverage_issues(where: IssueFilter, category_names: dict[str, str], *, now: datetime) -> LiveIssues:
    """The live layer of a team's open issues (``where``), the overdue ones marked (at ``now``)."""
    def describe(issues: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        marked = issue_popup_columns(issues, category_names)
        overdue = overdue_mask(issues, now=now)
        return marked.assign(
            status_label=overdue.map({True: gettext("已超期") + " · ", False: ""}) + marked["status_label"].astype(str),
            deadline=marked["deadline_at"], color=overdue.map({True: OVERDUE_COLOR, False: OPEN_COLOR}),
            radius=overdue.map({True: 7, False: 5}),
        )

    return LiveIssues(where=where, columns=(*ISSUE_POPUP_COLUMNS, "deadline_at"), describe=describe,
                      properties=(*ISSUE_POPUP_PROPERTIES, "deadline", "color", "radius"))


def coverage_map(
    *,
    boundary: gpd.GeoDataFrame,
    patch: gpd.GeoDataFrame,
    result: Coverage,
    open_count: int,
    overdue_count: int,
    settings: Settings,
    source: str,
) -> MapDocument:
    """Build the coverage map.

    Parameters
    ----------
    boundary, patch : GeoDataFrame
        The jurisdiction and the team's patch (EPSG:4326).
    result : geo.loop.coverage.Coverage
        Cells (``visited``), clipped roads (``length_m``, ``visited_m``) and the
        visited area. Raw tracks are not drawn: who walked where and when is
        personal information; the visited area is what supervisors need.
    open_count, overdue_count : int
        The team's open issues, and how many of them are overdue (the layer's name).
    source : str
        The path of the team's open issues' live layer (:func:`coverage_issues`).
    """
    document = new_document(boundary, settings, bounds=tuple(patch.total_bounds))
    document.add_features(patch, name=N_("责任区域"), style={"color": "#1f3b73", "weight": 3, "fill": False})
    unvisited = result.cells[~result.cells["visited"]]
    document.add_features(
        unvisited, name=gettext("未巡查单元网格（%(n)s）", n=len(unvisited)), properties=["code"],
        style={"fillColor": UNVISITED_COLOR, "fillOpacity": 0.35, "color": UNVISITED_COLOR, "weight": 0.4},
        tooltip=[(N_("未巡查单元网格"), "code")],
    )
    document.add_features(result.visited, name=N_("已巡查范围"),
                          style={"fillColor": VISITED_COLOR, "fillOpacity": 0.3, "weight": 0})
    roads = result.roads[result.roads["length_m"] > 0]
    share = (100 * roads["visited_m"] / roads["length_m"]).round(0)
    roads = roads.assign(share=share, color=share.map(lambda v: VISITED_COLOR if v >= 50 else "#777777"))
    document.add_features(roads, name=N_("道路巡查覆盖"), properties=["name", "share", "color"],
                          style={"weight": 3}, style_props={"color": "color"},
                          tooltip=[(N_("道路"), "name"), (N_("已巡查 %"), "share")])
    document.add_live(
        name=gettext("未结案问题（%(n)s，超期 %(late)s）", n=open_count, late=overdue_count), source=source,
        style={"fill": True, "fillOpacity": 0.85}, style_props={"color": "color", "radius": "radius"},
        popup={**ISSUE_POPUP, "fields": [*ISSUE_POPUP["fields"], [N_("期限"), "deadline"]]},
    )
    document.set_legend(N_("巡查覆盖"), [(UNVISITED_COLOR, N_("未巡查单元网格")),
                                      (VISITED_COLOR, N_("已巡查范围、道路（≥ 50%）")),
                                      (OVERDUE_COLOR, N_("超期问题"), "dot"), (OPEN_COLOR, N_("未结案问题"), "dot")])
    return document
