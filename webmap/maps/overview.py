"""The first map a supervisor sees: issues per unit cell over the last year, open issues, roads, the boundary."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
from flask_babel import gettext

from geo.loop.views import CellCounts
from geo.settings import Settings
from webmap.i18n import N_
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.issues import ISSUE_POPUP

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
    counted: CellCounts,
    open_count: int,
    settings: Settings,
    community_names: dict[str, str],
    source: str,
) -> MapDocument:
    """Build the overview map: issues per unit cell over a period, the open issues, roads, the boundary.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    counted : geo.loop.views.CellCounts
        Unit cells with ``code``, ``community_code`` and ``count`` (issues reported in its
        period), EPSG:4326; only cells with a positive count are drawn.
    open_count : int
        How many issues are open (the live layer's name says it).
    community_names : dict
        Community code → name (a cell is named by its community).
    source : str
        The path of the open issues' live layer (:mod:`webmap.maps.live`).
    """
    document = new_document(boundary, settings)
    cells = counted.cells
    drawn = cells[cells["count"] > 0]
    drawn = drawn.assign(place=drawn["community_code"].map(community_names).fillna(""))
    counts = drawn["count"].to_numpy()
    drawn = drawn.assign(fill=np.asarray(COUNT_COLORS)[count_classes(counts)] if len(drawn) else [])
    document.add_features(
        drawn, name=N_("单元网格问题数"), properties=["place", "code", "count", "fill"],
        style={"fillOpacity": 0.6, "color": "#999999", "weight": 0.3}, style_props={"fillColor": "fill"},
        tooltip=[(N_("位置"), "place"), (N_("问题数"), "count"), (N_("单元网格编号"), "code")],
    )
    add_roads(document, roads)
    document.add_live(
        name=gettext("未结案问题（%(n)s）", n=open_count), source=source,
        style={"radius": 5, "color": "#b30000", "fill": True, "fillOpacity": 0.8}, popup=ISSUE_POPUP,
    )
    period = gettext("%(since)s 至 %(until)s 上报", since=f"{counted.since:%Y-%m-%d}",
                     until=f"{counted.until - timedelta(days=1):%Y-%m-%d}")
    document.set_legend(gettext("单元网格问题数（%(period)s）", period=period),
                        class_legend(counts) + [("#d62728", N_("重点道路")), ("#b30000", N_("未结案问题"), "dot")])
    return document
