"""The first map a supervisor sees: issues per unit cell, open issues, roads, the boundary."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from flask_babel import gettext

from geo.settings import Settings
from webmap.i18n import N_
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.issues import ISSUE_POPUP, ISSUE_POPUP_PROPERTIES, issue_popup_columns

#: colours of the count classes (light → dark)
COUNT_COLORS = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")


def count_classes(counts: np.ndarray, *, n_classes: int = len(COUNT_COLORS)) -> np.ndarray:
    """Class 0…n-1 of each positive count by quantile breaks (ties share a class)."""
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0:
        return np.zeros(0, dtype=int)
    breaks = np.unique(np.quantile(counts, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return np.searchsorted(breaks, counts, side="right").clip(0, n_classes - 1)


def class_legend(counts: np.ndarray, *, n_classes: int = len(COUNT_COLORS)) -> list[tuple[str, str]]:
    """Legend rows (colour, "a–b 件") of the classes :func:`count_classes` gives ``counts``."""
    counts = np.asarray(counts, dtype=int)
    if counts.size == 0:
        return []
    classes = count_classes(counts, n_classes=n_classes)
    rows = []
    for cls in np.unique(classes):
        members = counts[classes == cls]
        low, high = int(members.min()), int(members.max())
        rows.append((COUNT_COLORS[cls], gettext("%(n)s 件", n=low) if low == high
                     else gettext("%(low)s–%(high)s 件", low=low, high=high)))
    return rows


def overview_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    cell_counts: gpd.GeoDataFrame,
    open_issues: gpd.GeoDataFrame,
    settings: Settings,
    category_names: dict[str, str],
    community_names: dict[str, str],
) -> MapDocument:
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
    category_names, community_names : dict
        Category code → name, community code → name (a cell is named by its community).
    """
    document = new_document(boundary, settings)
    drawn = cell_counts[cell_counts["count"] > 0]
    drawn = drawn.assign(place=drawn["community_code"].map(community_names).fillna(""))
    counts = drawn["count"].to_numpy()
    drawn = drawn.assign(fill=np.asarray(COUNT_COLORS)[count_classes(counts)] if len(drawn) else [])
    document.add_features(
        drawn, name=N_("单元网格问题数"), properties=["place", "code", "count", "fill"],
        style={"fillOpacity": 0.6, "color": "#999999", "weight": 0.3}, style_props={"fillColor": "fill"},
        tooltip=[(N_("位置"), "place"), (N_("问题数"), "count"), (N_("单元网格编号"), "code")],
    )
    add_roads(document, roads)
    document.add_features(
        issue_popup_columns(open_issues, category_names), name=gettext("未结案问题（%(n)s）", n=len(open_issues)), kind="cluster",
        properties=list(ISSUE_POPUP_PROPERTIES), style={"radius": 5, "color": "#b30000", "fill": True,
                                                         "fillOpacity": 0.8},
        popup=ISSUE_POPUP,
    )
    document.set_legend(N_("单元网格问题数"),
                        class_legend(counts) + [("#d62728", N_("重点道路")), ("#b30000", N_("未结案问题"), "dot")])
    return document

