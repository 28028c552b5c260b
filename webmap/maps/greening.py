"""Greening progress map: priority roads section by section, coloured by the share done."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element

from geo.greening import chainage_label
from geo.greening_tasks import SIDES
from geo.settings import Settings
from webmap.maps.base import add_boundary, add_roads, esc, finish, new_map
from webmap.maps.overview import STATUS_LABELS

#: (upper bound of the share done, colour, legend label); NaN (nothing planned) is grey
SHARE_CLASSES = (
    (0.0, "#d73027", "未开始"),
    (0.5, "#fc8d59", "不足一半"),
    (0.999, "#fee08b", "过半"),
    (np.inf, "#1a9850", "完成"),
)
NOT_PLANNED = ("#9e9e9e", "未列入计划")
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


def _photo(ref: object) -> str:
    """A photo reference: a link when it is a web address or a path on this server, else plain text."""
    text = esc(ref)
    if not text:
        return ""
    if str(ref).startswith(("http://", "https://", "/")):
        return f' · <a href="{text}" target="_blank" rel="noopener">照片</a>'
    return f" · 照片 {text}"


def _record_lines(pairs: pd.DataFrame, unit: str) -> pd.Series:
    """Popup lines of the records meeting each section, indexed by (road_id, section_no)."""
    if pairs.empty:
        return pd.Series(dtype=object)
    quantity = pairs["quantity"].map(lambda q: "" if pd.isna(q) else f" · {q:g} {esc(unit)}")
    line = (
        "<li>"
        + pairs["done_on"].dt.strftime("%Y-%m-%d")
        + " "
        + pairs["team"].map(esc)
        + " · "
        + pairs["side"].map(SIDES).fillna("")
        + " "
        + chainage_label(pairs["from_m"]).to_numpy()
        + "–"
        + chainage_label(pairs["to_m"]).to_numpy()
        + quantity
        + pairs["photo"].map(_photo)
        + pairs["note"].map(lambda n: f" · {esc(n)}" if esc(n) else "")
        + "</li>"
    )
    rank = pairs.groupby(["road_id", "section_no"]).cumcount()
    shown = line[rank < POPUP_RECORDS].groupby([pairs["road_id"], pairs["section_no"]]).agg("".join)
    more = (rank >= POPUP_RECORDS).groupby([pairs["road_id"], pairs["section_no"]]).sum()
    return shown + more.map(lambda n: f"<li>…另有 {n} 条</li>" if n else "")


def greening_map(
    *,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    sections: gpd.GeoDataFrame,
    section_records: pd.DataFrame,
    issues: gpd.GeoDataFrame,
    task_name: str,
    unit: str,
    as_of: pd.Timestamp,
    settings: Settings,
    category_names: dict[str, str],
) -> folium.Map:
    """Build the greening progress map of one task as of one day.

    Parameters
    ----------
    boundary, roads : GeoDataFrame
        EPSG:4326 layers of the jurisdiction (all roads, drawn underneath).
    sections : GeoDataFrame
        EPSG:4326 sections with ``road_id``, ``name``, ``section_no``,
        ``section_name``, ``planned_m``, ``done_m``, ``done_share``, ``n_records``
        (:func:`geo.greening_pipeline.section_view`).
    section_records : DataFrame
        (section, record) pairs: ``road_id``, ``section_no``, ``done_on``, ``team``,
        ``side``, ``from_m``, ``to_m``, ``quantity``, ``photo``, ``note``.
    issues : GeoDataFrame
        Greening issues on the roads (points, EPSG:4326) with ``id``,
        ``category_code``, ``status``, ``reported_at``, ``address``, ``chainage_m``.
    task_name, unit : str
        The task shown and the unit its quantity is counted in.
    category_names : dict
        Category code → Chinese name.
    """
    m = new_map(tuple(boundary.total_bounds), settings)
    add_boundary(m, boundary)
    # Context roads in their class greys: red is the colour of work not started here.
    add_roads(m, roads.assign(is_priority=False))

    lines = _record_lines(section_records, unit)
    key = pd.MultiIndex.from_frame(sections[["road_id", "section_no"]])
    listed = pd.Series(lines.reindex(key).to_numpy(), index=sections.index).fillna("")
    share = sections["done_share"]
    share_text = (share * 100).round(0).map(lambda p: "未列入计划" if pd.isna(p) else f"{p:.0f}%")
    popup = (
        "<b>"
        + sections["name"].map(esc)
        + " "
        + sections["section_name"].map(esc)
        + "</b><br>"
        + esc(task_name)
        + "：完成 "
        + share_text
        + "（"
        + sections["done_m"].round(0).astype(int).astype(str)
        + " / "
        + sections["planned_m"].round(0).astype(int).astype(str)
        + " m，各侧合计）<br>"
        + "截至 "
        + as_of.strftime("%Y-%m-%d")
        + "，作业记录 "
        + sections["n_records"].astype(str)
        + " 条"
        + np.where(listed != "", "<ul class='records'>" + listed + "</ul>", "")
    )
    data = gpd.GeoDataFrame(
        {
            "popup": popup,
            "color": share_colors(share),
            "label": sections["name"].map(esc) + " " + sections["section_name"].map(esc) + " " + share_text,
        },
        geometry=sections.geometry.values,
        crs=sections.crs,
    )
    folium.GeoJson(
        data.__geo_interface__,
        name=f"{esc(task_name)}进度（按路段）",
        style_function=lambda f: {"color": f["properties"]["color"], "weight": 7, "opacity": 0.9},
        highlight_function=lambda _f: {"weight": 11},
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
    ).add_to(m)

    if len(issues):
        text = (
            "<b>#"
            + issues["id"].astype(str)
            + " "
            + issues["category_code"].map(category_names).fillna("").map(esc)
            + "</b><br>"
            + issues["reported_at"].dt.strftime("%Y-%m-%d")
            + " · "
            + issues["status"].map(lambda v: esc(STATUS_LABELS.get(v, v)))
            + " · "
            + chainage_label(issues["chainage_m"]).to_numpy()
            + "<br>"
            + issues["address"].map(esc)
        )
        points = gpd.GeoDataFrame({"popup": text}, geometry=issues.geometry.values, crs=issues.crs)
        folium.GeoJson(
            points.__geo_interface__,
            name=f"绿化相关问题（{len(issues)}）",
            marker=folium.CircleMarker(radius=5, color=ISSUE_COLOR, fill=True, fill_opacity=0.8),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=320),
        ).add_to(m)

    legend = "".join(f"<div><span style='background:{c}'></span>{label}</div>" for _, c, label in SHARE_CLASSES)
    legend += f"<div><span style='background:{NOT_PLANNED[0]}'></span>{NOT_PLANNED[1]}</div>"
    legend += f"<div><span style='background:{ISSUE_COLOR};border-radius:50%'></span>绿化相关问题</div>"
    m.get_root().html.add_child(
        Element(
            "<style>#greening-legend{position:absolute;bottom:24px;right:10px;z-index:1000;background:#fff;"
            "padding:6px 8px;font:12px sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3)}"
            "#greening-legend span{display:inline-block;width:14px;height:8px;margin-right:6px}"
            ".records{margin:4px 0 0 0;padding-left:16px;max-height:180px;overflow:auto}</style>"
            f"<div id='greening-legend'><b>{esc(task_name)}完成率</b>{legend}</div>"
        )
    )
    return finish(m)
