"""Hot-spot maps for supervisors: Gi* classes, heat, clustered issues, emerging hot spots.

Every layer is bounded in size whatever the number of issues:

* cells and road segments are drawn as plain GeoJSON dicts (6-decimal coordinates, no
  per-feature bbox), only the cells that have issues or a significant Gi* bin;
* the heat layer is the kernel-density raster (:mod:`geo.hotspots.density`), not the issues;
* the issues are live layers (:mod:`webmap.maps.live`): the map asks for those of its view,
  each one while the view holds few, squares of counts beyond; one layer per major
  category, hidden at first. A standalone file (``citymap hotspots --map``), which has no
  server to ask, carries them as one point per unit cell with its count ``n``, which the
  browser's cluster bubbles add up.

Every value is plain text in a map document (:mod:`webmap.maps.document`).
"""

from __future__ import annotations

from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
from flask_babel import gettext

from geo.crs import to_metric, to_wgs84
from geo.hotspots.emerging import CLASS_LABELS
from geo.hotspots.views import MIN_GI_ISSUES, HotspotView
from geo.settings import Settings
from webmap.i18n import N_
from webmap.maps.base import PRIORITY_COLOR, add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.issues import ISSUE_POPUP
from webmap.maps.overview import COUNT_COLORS, class_legend, count_classes

#: Gi* bin → (fill colour, Chinese legend label)
GI_CLASSES = {
    3: ("#b2182b", N_("热点（99% 置信）")), 2: ("#ef8a62", N_("热点（95% 置信）")), 1: ("#fddbc7", N_("热点（90% 置信）")),
    0: ("#f7f7f7", N_("不显著")),
    -1: ("#d1e5f0", N_("冷点（90% 置信）")), -2: ("#67a9cf", N_("冷点（95% 置信）")), -3: ("#2166ac", N_("冷点（99% 置信）")),
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



def cluster_points(per_cell: pd.Series, cells: gpd.GeoDataFrame, *, metric_crs: str = "EPSG:4548") -> gpd.GeoDataFrame:
    """One point per unit cell with issues (its centre) with ``n``, its issues, and the hover text ``tip``.

    Parameters
    ----------
    per_cell : Series
        Issues per cell code (:func:`geo.store.count_issues_by`).
    cells : GeoDataFrame
        Unit cells with ``code``.
    """
    hit = cells[cells["code"].isin(per_cell.index[per_cell > 0])]
    # centroids in the metric CRS: the cells are squares there
    centres = to_wgs84(to_metric(hit.geometry, crs=metric_crs).centroid)
    points = gpd.GeoDataFrame({"n": hit["code"].map(per_cell).to_numpy("int64")}, geometry=centres.values,
                              crs=centres.crs)
    return points.assign(tip=[gettext("%(n)s 件", n=int(n)) for n in points["n"]])


def add_clusters(document: MapDocument, points: gpd.GeoDataFrame, *, name: str, show: bool = True) -> None:
    document.add_features(points, name=name, kind="cluster", properties=["n", "tip"], count="n",
                          style={"radius": 5, "color": "#b30000", "weight": 1, "fillOpacity": 0.7},
                          tooltip=[("", "tip")], show=show)


def _issue_lines(issues: pd.DataFrame, category_names: dict) -> pd.Series:
    """One line per issue: #id category · date · address (kept short: every cell carries its lines)."""
    return ("#" + issues["id"].astype(str) + " " + issues["category_code"].map(category_names).fillna("")
            + " · " + pd.to_datetime(issues["reported_at"]).dt.strftime("%m-%d") + " · "
            + issues["address"].fillna("").astype(str))


#: popup lines of a cell: (label, property)
CELL_FIELDS = ((N_("社区"), "community"), (N_("问题数"), "n"), ("Gi* z", "z"), (N_("p 值"), "p"),
               (N_("类别"), "cls"), (N_("当前未结案"), "open"))


def _cell_properties(cells: gpd.GeoDataFrame, view: HotspotView) -> gpd.GeoDataFrame:
    """The cells with the values of :data:`CELL_FIELDS`, their newest open issues ``top`` and colour ``fill``."""
    names = view.names
    latest = view.popup_issues
    lines = (_issue_lines(latest, names.get("categories", {})).groupby(latest["cell_code"]).agg(list)
             if len(latest) else pd.Series(dtype=object))
    # the words once per class, not once per cell
    labels = {b: gettext(label) for b, (_colour, label) in GI_CLASSES.items()}
    return cells.assign(
        title=[gettext("单元网格 %(code)s", code=code) for code in cells["code"]],
        community=cells["community_code"].map(names.get("communities", {})), n=cells["count"],
        z=cells["gi_z"].round(2), p=[f"{p:.2g}" for p in cells["gi_p"]],
        cls=gettext("未判定：问题太少") if view.gi_withheld else cells["gi_bin"].astype(int).map(labels),
        fill=(np.asarray(COUNT_COLORS)[count_classes(cells["count"].to_numpy())] if view.gi_withheld
              else cells["gi_bin"].astype(int).map({b: colour for b, (colour, _label) in GI_CLASSES.items()})),
        open=cells["open_count"],
        top=cells["code"].map(lines),
    )


def hotspot_map(view: HotspotView, *, boundary: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, settings: Settings,
                major_names: dict[str, str], source: str | None = None) -> MapDocument:
    """The hotspot map of a :class:`~geo.hotspots.views.HotspotView`.

    Layers: Gi* classes of the unit cells (choropleth with popups and a Chinese legend),
    the kernel-density heat layer, all filtered issues, one layer of them per major
    category (hidden at first), the priority roads coloured by issues per km, the roads
    and the boundary.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction.
    major_names : dict
        Major class code (``"06"``) → Chinese name.
    source : str, optional, keyword-only
        The path of the issues' live layers (``major`` names a layer's class); without one
        (a standalone file) the issues are one point per cell, from the view's
        ``cell_majors``.
    """
    document = new_document(boundary, settings)
    add_roads(document, roads)

    cells = _cell_properties(view.cells[(view.cells["count"] > 0) | (view.cells["gi_bin"] != 0)], view)
    document.add_features(
        cells, name=N_("单元网格问题数") if view.gi_withheld else N_("热点分析（Gi*）"),
        properties=["title", *(p for _, p in CELL_FIELDS), "top", "fill"],
        style={"fillOpacity": 0.65, "color": "#888888", "weight": 0.3}, style_props={"fillColor": "fill"},
        tooltip=[(N_("问题数"), "n"), (N_("类别"), "cls")],
        popup={"title": "title", "fields": [list(f) for f in CELL_FIELDS], "items": "top", "max_width": 380},
    )

    if len(view.density):
        document.add_heat(view.density.geometry.x, view.density.geometry.y, view.density["share"],
                          name=N_("问题核密度（热力）"),
                          options={"radius": 14, "blur": 12, "minOpacity": 0.3, "maxZoom": 17})

    layers = [(gettext("全部问题（%(n)s）", n=view.n_issues), None, True)]
    layers += [(f"{name}（{int(view.majors[code])}）", code, False) for code, name in major_names.items()
               if view.majors.get(code, 0) > 0]
    for name, major, show in layers:
        if source is not None:
            document.add_live(name=name, source=source, params={"major": major} if major else None, show=show,
                              style={"radius": 5, "color": "#b30000", "weight": 1, "fillOpacity": 0.7},
                              popup=ISSUE_POPUP)
        elif view.cell_majors is not None:
            per_cell = view.cell_majors.groupby(level="cell_code").sum() if major is None else (
                view.cell_majors.xs(major, level="major"))
            add_clusters(document, cluster_points(per_cell, view.cells, metric_crs=settings.metric_crs), name=name,
                         show=show)

    priority = view.segments[view.segments["is_priority"]]
    if len(priority):
        bounds = np.array([b for b, _ in PER_KM_CLASSES])
        colour = np.array([c for _, c in PER_KM_CLASSES])[
            np.searchsorted(bounds, priority["issues_per_km"].fillna(0).to_numpy(), side="right") - 1]
        priority = priority.assign(
            color=colour,
            tip=[gettext("%(road)s（%(a)s–%(b)s m）：%(n)s 件，每公里 %(per_km)s 件", road=road, a=round(a), b=round(b),
                         n=n, per_km=f"{per_km:.1f}")
                 for road, a, b, n, per_km in zip(priority["name"].fillna(""), priority["from_m"], priority["to_m"],
                                                  priority["count"], priority["issues_per_km"].fillna(0))])
        document.add_features(priority, name=N_("重点道路（每公里问题数）"), properties=["tip", "color"],
                              style={"weight": 7, "opacity": 0.9}, style_props={"color": "color"},
                              tooltip=[("", "tip")])

    if view.gi_withheld:
        document.set_legend(N_("单元网格问题数（未做 Gi* 判定）"),
                            class_legend(cells["count"][cells["count"] > 0].to_numpy())
                            + [(PRIORITY_COLOR, N_("重点道路"))])
        document.message = gettext("所选时段只有 %(n)s 件问题（少于 %(min)s 件），不判定冷热点", n=view.n_issues,
                                   min=MIN_GI_ISSUES)
    else:
        document.set_legend(N_("热点分析（Getis-Ord Gi*）"),
                            [GI_CLASSES[b] for b in (3, 2, 1, 0, -1, -2, -3)] + [(PRIORITY_COLOR, N_("重点道路"))])
    if view.n_issues == 0:
        document.message = N_("所选时段和条件下没有问题")
    return document


def emerging_map(cells: gpd.GeoDataFrame, *, boundary: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                 settings: Settings, title: str, page_query: str = "",
                 class_names: dict[str, str] | None = None) -> MapDocument:
    """The emerging-hot-spot map: cells coloured by class (:func:`geo.hotspots.emerging.emerging_hotspots`).

    Cells of no pattern are not drawn; each drawn cell has a tooltip and a popup with
    its class, counts of hot/cold bins and trend, and a link to its series on the emerging
    page (``/emerging?<page_query>&cell=<code>``). ``class_names``: class key → name (default
    :data:`geo.hotspots.emerging.CLASS_LABELS`).
    """
    class_names = class_names or CLASS_LABELS
    document = new_document(boundary, settings)
    add_roads(document, roads)
    drawn = cells[cells["ehsa_class"] != "no_pattern"]
    if drawn.empty:
        # e.g. a filter that matches no issue: the map says so instead of drawing nothing
        document.message = N_("所选时段和条件下没有时空热点")
        return document
    drawn = drawn.assign(
        fill=drawn["ehsa_class"].map(EHSA_COLORS),
        title=drawn["code"].map(lambda code: gettext("单元网格 %(code)s：时间序列与分类依据", code=code)),
        href=drawn["code"].map(lambda code: "/emerging?" + "&".join(p for p in (page_query, urlencode({"cell": code}))
                                                                    if p) + "#cell"),
        tip=drawn["code"].astype(str) + " · " + drawn["ehsa_label"].astype(str),
        bins=[gettext("热点 %(hot)s / %(n)s，冷点 %(cold)s", hot=h, n=n, cold=c)
              for h, n, c in zip(drawn["hot_bins"], drawn["n_bins"], drawn["cold_bins"])],
        trend="z = " + drawn["trend_z"].map("{:.2f}".format) + "，p = " + drawn["trend_p"].map("{:.3g}".format),
    )
    document.add_features(
        drawn, name=N_("时空热点类型"),
        properties=["title", "href", "tip", "ehsa_label", "count", "bins", "trend", "fill"],
        style={"fillOpacity": 0.75, "color": "#777777", "weight": 0.4}, style_props={"fillColor": "fill"},
        tooltip=[("", "tip")],
        popup={"title": "title", "href": "href", "fields": [["", "ehsa_label"], [N_("问题数"), "count"],
                                                            [N_("时段"), "bins"], [N_("趋势（Mann–Kendall）"), "trend"]],
               "max_width": 320},
    )
    present = [key for key in CLASS_LABELS if key in set(cells["ehsa_class"])]
    document.set_legend(title, [(EHSA_COLORS[k], class_names[k]) for k in present])
    return document
