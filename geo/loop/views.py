"""Accountability views read from the database: the league table, coverage, the plan-task board, the weekly report.

The glue the CLI and the web pages share (like ``geo.routing.views``): it reads issues,
layers and inspections through ``geo.store``, hands them to the analysis modules
(``geo.loop.metrics``, ``geo.loop.coverage``) and, for the weekly report, writes the workbook
through ``geo.io``. Times are naive local (Beijing) time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import MAX_YEAR, MIN_YEAR
from geo.errors import NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import coverage as cov
from geo.loop import metrics
from geo.settings import Settings
from geo.taxonomy import load_taxonomy

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
#: Chinese headers of the figure columns, for tables shown to people
FIGURE_LABELS = {
    "registered": "立案数", "due": "应结案数", "closed": "结案数", "closed_on_time": "按期结案数",
    "close_rate_pct": "结案率(%)", "on_time_rate_pct": "按期结案率(%)", "handled": "处置数", "rework": "返工数",
    "rework_rate_pct": "返工率(%)", "handle_h_median": "处置用时中位数(小时)", "handle_h_p90": "处置用时P90(小时)",
    "backlog": "积压(当前)", "overdue": "超期(当前)", "registered_per_km2": "每平方公里立案数",
    "registered_per_road_km": "每公里道路立案数",
}


def parse_week(text: str) -> tuple[datetime, datetime]:
    """``"2025-W50"`` (ISO 8601 week) → (Monday 00:00, the next Monday 00:00)."""
    match = _WEEK_RE.fullmatch(str(text).strip())
    if not match or not MIN_YEAR <= int(match[1]) <= MAX_YEAR:
        raise ValidationError(f"week={text!r}：应为 {MIN_YEAR}…{MAX_YEAR} 年的 ISO 周 YYYY-Www，如 2025-W50 "
                              f"(expected an ISO week YYYY-Www of {MIN_YEAR}…{MAX_YEAR} such as 2025-W50)")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise ValidationError(f"week {text!r} does not exist ({exc})") from exc
    start = datetime.combine(monday, datetime.min.time())
    return start, start + timedelta(days=7)


def read_issues(engine: Engine, settings: Settings) -> gpd.GeoDataFrame:
    """All issues of the jurisdiction with :data:`geo.loop.metrics.METRIC_COLUMNS` (points, EPSG:4326)."""
    return store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, columns=metrics.METRIC_COLUMNS)


def read_patches(engine: Engine, settings: Settings) -> gpd.GeoDataFrame:
    """Every team's patch (:func:`geo.loop.coverage.team_patches`) from the stored layers."""
    j = settings.jurisdiction_code
    return cov.team_patches(jurisdiction=store.read_layer(engine, "jurisdiction", jurisdiction_code=j),
                            communities=store.read_layer(engine, "communities", jurisdiction_code=j),
                            zones=store.read_layer(engine, "zones", jurisdiction_code=j))


def league(engine: Engine, settings: Settings, *, start: datetime, end: datetime, now: datetime,
           issues: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """The departments' league table: :func:`geo.loop.metrics.accountability` by department with names and densities.

    Rows are the departments that have a patch or issues, best 按期结案率 first (ties: 结案率);
    ``name`` is the department's (or community team's) Chinese name.
    """
    issues = read_issues(engine, settings) if issues is None else issues
    patches = read_patches(engine, settings)
    segments = store.read_layer(engine, "segments", jurisdiction_code=settings.jurisdiction_code)
    extents = metrics.group_extents(patches, segments, metric_crs=settings.metric_crs)
    table = metrics.accountability(issues, by="department", start=start, end=end, now=now, extents=extents)
    names = patches.set_index("code")["name"]
    table.insert(0, "name", names.reindex(table.index).fillna(pd.Series(table.index, index=table.index)))
    return table.sort_values(["on_time_rate_pct", "close_rate_pct"], ascending=False, na_position="last")


def area_tables(engine: Engine, settings: Settings, *, start: datetime, end: datetime, now: datetime,
                issues: gpd.GeoDataFrame) -> dict[str, pd.DataFrame]:
    """:func:`geo.loop.metrics.accountability` per community, management grid and contractor zone, with names."""
    j = settings.jurisdiction_code
    segments = store.read_layer(engine, "segments", jurisdiction_code=j)
    out = {}
    for by, layer in (("community", "communities"), ("grid", "grids"), ("zone", "zones")):
        polys = store.read_layer(engine, layer, jurisdiction_code=j)
        extents = metrics.group_extents(polys, segments, metric_crs=settings.metric_crs)
        table = metrics.accountability(issues, by=by, start=start, end=end, now=now, extents=extents)
        table.insert(0, "name", polys.set_index("code")["name"].reindex(table.index))
        out[by] = table
    return out


@dataclass
class CoverageView:
    """One team's coverage page: its patch, coverage, and the issues in its charge."""

    team: str
    name: str
    patch: gpd.GeoDataFrame
    result: cov.Coverage
    issues: gpd.GeoDataFrame
    until: datetime
    days: int


def latest_inspection_end(engine: Engine, settings: Settings) -> datetime | None:
    """When the newest stored inspection ended (None without any)."""
    tracks = store.read_inspections(engine, jurisdiction_code=settings.jurisdiction_code)
    return None if tracks.empty else tracks["ended_at"].max().to_pydatetime()


def coverage_view(engine: Engine, settings: Settings, *, team: str, until: datetime, days: int,
                  now: datetime) -> CoverageView:
    """Coverage of ``team``'s patch by ``team``'s inspections in the ``days`` days before ``until``.

    ``issues`` holds the team's issues (its ``department_code``, or a child's) still
    open at ``now``, with ``overdue`` (bool).
    """
    j = settings.jurisdiction_code
    patches = read_patches(engine, settings)
    row = patches[patches["code"] == team]
    if row.empty:
        raise NotFoundError(f"team {team!r} has no patch; known: {', '.join(patches['code'])}")
    tracks = store.read_inspections(engine, jurisdiction_code=j, teams=[team],
                                    since=until - timedelta(days=days), until=until)
    result = cov.coverage(tracks, patch=row.geometry.iloc[0],
                          cells=store.read_layer(engine, "unit_cells", jurisdiction_code=j),
                          segments=store.read_layer(engine, "segments", jurisdiction_code=j),
                          until=until, days=days, tolerance_m=settings.coverage_tolerance_m,
                          metric_crs=settings.metric_crs)
    departments = load_taxonomy().departments
    children = departments.index[departments["parent"] == team].tolist()
    mine = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(statuses=metrics.OPEN_STATUSES),
                              columns=(*metrics.METRIC_COLUMNS, "address", "description"))
    mine = mine[mine["department_code"].isin([team, *children])].copy()
    mine["overdue"] = metrics.overdue_mask(mine, now=now)
    return CoverageView(team=team, name=str(row["name"].iloc[0]), patch=row, result=result, issues=mine,
                        until=until, days=days)


def render_map_png(engine: Engine, settings: Settings, *, issues: gpd.GeoDataFrame, now: datetime) -> bytes:
    """A PNG map (matplotlib, no browser) of the contractor zones, roads, open issues and the overdue ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
    j, crs = settings.jurisdiction_code, settings.metric_crs
    boundary = store.read_layer(engine, "jurisdiction", jurisdiction_code=j).to_crs(crs)
    zones = store.read_layer(engine, "zones", jurisdiction_code=j).to_crs(crs)
    roads = store.read_layer(engine, "roads", jurisdiction_code=j).to_crs(crs)
    open_ = issues[issues["status"].isin(metrics.OPEN_STATUSES)].to_crs(crs)
    late = metrics.overdue_mask(open_, now=now)
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    zones.plot(ax=ax, column="name", cmap="Pastel1", alpha=0.6, edgecolor="grey")
    boundary.boundary.plot(ax=ax, color="black", linewidth=1.2)
    roads.plot(ax=ax, color="dimgrey", linewidth=0.6)
    if len(open_):
        open_[~late].plot(ax=ax, color="royalblue", markersize=6, label=f"未结案 {int((~late).sum())}")
        if late.any():
            open_[late].plot(ax=ax, color="red", markersize=14, marker="x", label=f"超期 {int(late.sum())}")
        ax.legend(loc="lower right")
    ax.set_axis_off()
    ax.set_title(f"未结案与超期问题（截至 {now:%Y-%m-%d %H:%M}）")
    buffer = BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _labelled(table: pd.DataFrame, key: str) -> pd.DataFrame:
    out = table.reset_index().rename(columns={table.index.name or "index": key, "name": "名称", **FIGURE_LABELS})
    rates = [c for c in out.columns if "(%)" in c or "小时" in c or "每" in c]
    out[rates] = out[rates].astype(float).round(2)
    return out


def weekly_report(engine: Engine, settings: Settings, *, week: str, now: datetime) -> tuple[dict, bytes]:
    """The leadership group's weekly tables and map: (sheet name → table, PNG bytes).

    Sheets: 概况 (the whole jurisdiction's figures of the week), 责任科室 (league
    table), 社区, 网格, 片区 (contractor zones), 专项任务 (the plan's 24 tasks).
    ``now`` judges backlog and overdue (normally the end of the week or the present).
    """
    start, end = parse_week(week)
    issues = read_issues(engine, settings)
    overall = metrics.period_figures(issues, start=start, end=end, now=now)
    summary = pd.DataFrame({"指标": ["周次", "起", "止（不含）", *(FIGURE_LABELS[k] for k in overall)],
                            "数值": [week, f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}",
                                   *(round(v, 2) if isinstance(v, float) else v for v in overall.values())]})
    areas = area_tables(engine, settings, start=start, end=end, now=now, issues=issues)
    tasks = metrics.plan_task_figures(issues, start=start, end=end, now=now).rename(
        columns={"title": "任务", "lead": "牵头科室", "supporting": "配合科室", "categories": "事项代码"})
    sheets = {
        "概况": summary,
        "责任科室": _labelled(league(engine, settings, start=start, end=end, now=now, issues=issues), "科室代码"),
        "社区": _labelled(areas["community"], "社区代码"),
        "网格": _labelled(areas["grid"], "网格代码"),
        "片区": _labelled(areas["zone"], "片区代码"),
        "专项任务": _labelled(tasks, "任务编号"),
    }
    return sheets, render_map_png(engine, settings, issues=issues, now=now)


def write_weekly_report(engine: Engine, settings: Settings, *, week: str, path: str | Path,
                        now: datetime) -> Path:
    """Write :func:`weekly_report` as an Excel workbook, the map on a sheet of its own (地图)."""
    from geo.io import write_xlsx_with_images

    sheets, png = weekly_report(engine, settings, week=week, now=now)
    return write_xlsx_with_images(sheets, path, images={"地图": png})


def department_names(engine: Engine, settings: Settings) -> dict[str, str]:
    """Department code → the name people know it by: the taxonomy's departments and each community's own team
    (``community:<code>`` → ``<community name>（社区）``)."""
    communities = store.read_layer(engine, "communities", jurisdiction_code=settings.jurisdiction_code)
    names = dict(load_taxonomy().departments["name"])
    names.update({f"community:{c}": f"{n}（社区）" for c, n in zip(communities["code"], communities["name"])})
    return names
