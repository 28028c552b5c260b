"""Greening progress map: priority roads section by section, coloured by the share done."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from flask_babel import gettext

from geo.crs import to_metric
from geo.greening.progress import chainage_label, greening_issues
from geo.greening.tasks import SIDES, SIDES_EN
from geo.io import PHOTO_NAME_RE
from geo.issue_filter import IssueFilter
from geo.settings import Settings
from webmap.i18n import N_, current_language, status_labels
from webmap.maps.base import add_roads, new_document
from webmap.maps.document import MapDocument
from webmap.maps.live import LiveIssues

#: (upper bound of the share done, colour, legend label); NaN (nothing planned) is grey
SHARE_CLASSES = (
    (0.0, "#d73027", N_("未开始")),
    (0.5, "#fc8d59", N_("不足一半")),
    (0.999, "#fee08b", N_("过半")),
    (np.inf, "#1a9850", N_("完成")),
)
NOT_PLANNED = ("#9e9e9e", N_("未列入计划"))
#: records listed in one section's popup; the rest are counted
POPUP_RECORDS = 12
ISSUE_COLOR = "#6a3d9a"


def share_colors(share: pd.Series) -> pd.Series:
    """Colour of each section by its share done (see :data:`SHARE_CLASSES`)."""
    bounds = np.array([b for b, _, _ in SHARE_CLASSES])
    colors = np.array([c for _, c, _ in SHARE_CLASSES])
    values = share.to_numpy(dtype=float)
    picked = colors[np.searchsorted(bounds, np.nan_to_num(values, nan=0.0), side="left").clip(0, len(bounds) - 1)]
    return pd.Series(np.where(np.isnan(values), NOT_PLANNED[0], picked), index=share.index)


def stored_photo_path(ref: object) -> str | None:
    """A record's photo as a link target: only a photo citymap stored (``/photos/<random name>``), else None."""
    text = "" if ref is None or (isinstance(ref, float) and np.isnan(ref)) else str(ref)
    name = text.removeprefix("/photos/")
    return f"/photos/{name}" if PHOTO_NAME_RE.fullmatch(name) else None


def _record_lines(pairs: pd.DataFrame, unit: str) -> tuple[pd.Series, pd.Series]:
    """The records meeting each section as plain-text lines, and their photo paths.

    Returns two Series indexed by (road_id, section_no): lists of lines (at most
    :data:`POPUP_RECORDS`, then a count of the rest) and lists of photo paths.
    """
    if pairs.empty:
        return pd.Series(dtype=object), pd.Series(dtype=object)
    quantity = pairs["quantity"].map(lambda q: "" if pd.isna(q) else f" · {q:g} {unit}")
    note = pairs["note"].map(lambda n: "" if pd.isna(n) or not str(n) else f" · {n}")
    photos = pairs["photo"].map(stored_photo_path)
    # a reference that is not a photo of this server stays a text (a file name from a field app)
    elsewhere = pairs["photo"].where(photos.isna() & pairs["photo"].notna() & (pairs["photo"].astype(str) != ""))
    photo_text = elsewhere.map(lambda ref: "" if pd.isna(ref) else " · " + gettext("照片 %(ref)s", ref=ref))
    line = (pairs["done_on"].dt.strftime("%Y-%m-%d") + " " + pairs["team"].fillna("").astype(str) + " · "
            + pairs["side"].map(SIDES_EN if current_language() == "en" else SIDES).fillna("") + " " + chainage_label(pairs["from_m"]).to_numpy() + "–"
            + chainage_label(pairs["to_m"]).to_numpy() + quantity + photo_text + note)
    key = [pairs["road_id"], pairs["section_no"]]
    rank = pairs.groupby(["road_id", "section_no"]).cumcount()
    shown = line[rank < POPUP_RECORDS].groupby([k[rank < POPUP_RECORDS] for k in key]).agg(list)
    more = (rank >= POPUP_RECORDS).groupby(key).sum()
    lines = shown.combine(more.reindex(shown.index).fillna(0),
                          lambda listed, n: listed + ([gettext("…另有 %(n)s 条", n=int(n))] if n else []))
    photo_lists = photos[photos.notna()].groupby([k[photos.notna()] for k in key]).agg(list)
    return lines, photo_lists


def greening_issue_layer(where: IssueFilter, *, segments: gpd.GeoDataFrame, roads_metric: gpd.GeoDataFrame,
                         category_names: dict[str, str]) -> LiveIssues:
    """The live layer of the greening issues of ``where`` (:func:`geo.greening.views.greening_issue_roads`),
    each titled and placed by its chainage along its road (``roads_metric``)."""
    def describe(issues: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        on_roads = greening_issues(issues, segments, roads_metric, codes=tuple(where.categories or ()))
        return on_roads.assign(
            title="#" + on_roads["id"].astype(str) + " " + on_roads["category_code"].map(category_names).fillna(""),
            href="/issues/" + on_roads["id"].astype(str),
            state=on_roads["reported_at"].dt.strftime("%Y-%m-%d") + " · "
            + on_roads["status"].map(status_labels()).fillna(on_roads["status"]) + " · "
            + chainage_label(on_roads["chainage_m"]).to_numpy(),
        )

    return LiveIssues(where=where, columns=("id", "category_code", "status", "reported_at", "address", "segment_id"),
                      describe=describe, properties=("title", "href", "state", "address"))


def greening_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    sections: gpd.GeoDataFrame,
    section_records: pd.DataFrame,
    issue_count: int,
    source: str,
    task_name: str,
    unit: str,
    as_of: pd.Timestamp,
    settings: Settings,
) -> MapDocument:
    """Build the greening progress map of one task as of one day.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction (all roads, drawn underneath).
    sections : GeoDataFrame
        EPSG:4326 sections with ``road_id``, ``name``, ``section_no``,
        ``section_name``, ``planned_m``, ``done_m``, ``done_share``, ``n_records``
        (:func:`geo.greening.views.section_view`).
    section_records : DataFrame
        (section, record) pairs: ``road_id``, ``section_no``, ``done_on``, ``team``,
        ``side``, ``from_m``, ``to_m``, ``quantity``, ``photo``, ``note``.
    issue_count : int
        How many greening issues lie on the roads (the live layer's name says it).
    source : str
        The path of their live layer (:func:`greening_issue_layer`).
    task_name, unit : str
        The task shown and the unit its quantity is counted in.
    """
    document = new_document(boundary, settings)
    # Context roads in their class greys: red is the colour of work not started here.
    add_roads(document, roads, mark_priority=False)

    lines, photos = _record_lines(section_records, unit)
    key = pd.MultiIndex.from_frame(sections[["road_id", "section_no"]])
    share = sections["done_share"]
    share_text = (share * 100).round(0).map(lambda p: gettext(NOT_PLANNED[1]) if pd.isna(p) else f"{p:.0f}%")
    drawn = sections.assign(
        title=sections["name"].astype(str) + " " + sections["section_name"].astype(str),
        progress=[gettext("%(share)s（%(done)s / %(planned)s m，各侧合计）", share=s, done=f"{d:,.0f}",
                          planned=f"{p:,.0f}")
                  for s, d, p in zip(share_text, sections["done_m"], sections["planned_m"])],
        records=sections["n_records"].map(lambda n: gettext("截至 %(day)s，作业记录 %(n)s 条",
                                                            day=f"{as_of:%Y-%m-%d}", n=n)),
        lines=pd.Series(lines.reindex(key).to_numpy(), index=sections.index),
        photos=pd.Series(photos.reindex(key).to_numpy(), index=sections.index),
        color=share_colors(share),
    )
    drawn["label"] = drawn["title"] + " " + share_text
    document.add_features(
        drawn, name=gettext("%(task)s进度（按路段）", task=task_name),
        properties=["title", "progress", "records", "lines", "photos", "color", "label"],
        style={"weight": 7, "opacity": 0.9}, style_props={"color": "color"}, tooltip=[("", "label")],
        popup={"title": "title", "fields": [[task_name, "progress"], ["", "records"]], "items": "lines",
               "photos": "photos", "max_width": 420},
    )
    # the road names on the map, once per road (the sections' tooltips say more)
    named = roads[roads["road_id"].isin(sections["road_id"])]
    # spread along the roads (0.15 … 0.85 of their lengths), so crossing roads' names do not meet at the crossing
    at = 0.15 + 0.7 * np.arange(len(named)) / max(len(named) - 1, 1)
    metric = to_metric(named, crs=settings.metric_crs)
    middles = gpd.GeoDataFrame({"label": named["name"].astype(str).to_numpy()},
                               geometry=metric.geometry.interpolate(at, normalized=True).to_numpy(), crs=metric.crs)
    document.add_features(middles, name=N_("道路名称"), properties=["label"], point="tag", label="label",
                          style={"color": "#1f3b73", "size": [80, 18]})
    # their own layer, off at first: on top of the sections they hid the progress colours
    document.add_live(
        name=gettext("绿化相关问题（%(n)s）", n=issue_count), source=source, show=False,
        style={"radius": 4, "color": ISSUE_COLOR, "weight": 1, "fill": True, "fillOpacity": 0.8},
        popup={"title": "title", "href": "href", "fields": [["", "state"], [N_("地址"), "address"]]},
    )
    document.set_legend(gettext("%(task)s完成率", task=task_name), [(c, label) for _, c, label in SHARE_CLASSES]
                        + [NOT_PLANNED, (ISSUE_COLOR, N_("绿化相关问题（图层默认关闭）"), "dot")])
    return document
