"""Greening work on the priority roads, end to end: files → checks → database → progress.

This module joins :mod:`geo.io` (reading plan and record files), :mod:`geo.store`
(the ``greening_plan`` and ``greening_records`` tables) and :mod:`geo.greening.progress`
(the analysis) for the CLI and the web app; it holds no rule of its own beyond the
order of the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import local_today
from geo.crs import to_metric, to_wgs84
from geo.errors import ImportRejected, NotFoundError, ValidationError
from geo.greening import files
from geo.greening import progress as greening
from geo.greening.tasks import SEASONS, greening_issue_codes, load_greening_tasks
from geo.io.ingest import ImportReport
from geo.issue_filter import IssueFilter
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy


def roads_metric(engine: Engine, *, jurisdiction_code: str) -> gpd.GeoDataFrame:
    """The jurisdiction's roads in its metric CRS (the jurisdiction's setting), with ``length_m``."""
    roads = store.read_layer(engine, "roads", jurisdiction_code=jurisdiction_code)
    jurisdiction = store.read_layer(engine, "jurisdiction", jurisdiction_code=jurisdiction_code)
    if roads.empty or jurisdiction.empty:
        raise NotFoundError(
            f"jurisdiction {jurisdiction_code!r} has no roads: run `citymap load-sample` or import its roads"
        )
    metric = to_metric(roads, crs=str(jurisdiction["metric_crs"].iloc[0]))
    return metric.assign(length_m=metric.length)


def with_geometry(records: pd.DataFrame, roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Records (road_id, from_m, to_m, …) as a GeoDataFrame in EPSG:4326: the stretch or spot each covers."""
    geoms = greening.record_geometries(records, roads)
    return to_wgs84(gpd.GeoDataFrame(records.drop(columns=["row"], errors="ignore"), geometry=geoms))


def import_greening_records(
    engine: Engine,
    path: Path,
    *,
    jurisdiction_code: str,
    strict: bool = False,
    source: str = "import",
) -> ImportReport:
    """Import a CSV/XLSX of greening work records: good rows in one transaction, bad rows reported.

    With ``strict``, any bad row refuses the whole file (:class:`ImportRejected`) and
    nothing is written; a file with no usable row is refused too.
    """
    roads = roads_metric(engine, jurisdiction_code=jurisdiction_code)
    batch = files.read_greening_records(path, roads=roads, tasks=load_greening_tasks())
    bad_rows = len({e.row for e in batch.errors})
    rows_read = len(batch.frame) + bad_rows
    if batch.errors and strict:
        raise ImportRejected(
            f"{batch.file}: {bad_rows} of {rows_read} rows are bad; --strict loads nothing", batch.errors
        )
    if batch.frame.empty:
        raise ImportRejected(f"{batch.file}: no usable row ({rows_read} read)", batch.errors)
    records = with_geometry(batch.frame.assign(source=source), roads)
    result = store.insert_greening_records(engine, records, jurisdiction_code=jurisdiction_code)
    return ImportReport(file=batch.file, rows_read=rows_read, inserted=result.inserted, skipped=result.skipped,
                        errors=batch.errors, what="greening records")


def import_greening_plan(engine: Engine, path: Path, *, jurisdiction_code: str, year: int) -> int:
    """Replace the plan of ``year`` with a plan file (all rows good, or nothing); rows written."""
    roads = roads_metric(engine, jurisdiction_code=jurisdiction_code)
    plan = files.read_greening_plan(path, roads=roads, tasks=load_greening_tasks(), year=year)
    return store.replace_greening_plan(engine, plan, jurisdiction_code=jurisdiction_code, year=year)


# ------------------------------------------------------------------ the progress view


@dataclass
class GreeningView:
    """Everything the progress table, the map and the CLI show, for one year and date.

    Frames in EPSG:4326 unless named ``*_metric``.
    """

    year: int
    as_of: pd.Timestamp
    roads_metric: gpd.GeoDataFrame
    table: pd.DataFrame
    summary: pd.DataFrame
    clipped: pd.DataFrame
    plan: pd.DataFrame
    records: gpd.GeoDataFrame
    issues: IssueFilter  # the greening issues on the roads shown (:func:`greening_issue_filter`)
    issue_counts: pd.DataFrame  # road_id, category_code, n_issues, n_open: those issues counted in SQL
    plan_roads: list[str]  # names of every road with a plan in the year, whichever are shown


def _pick_roads(roads: gpd.GeoDataFrame, plan: pd.DataFrame, road: str | None) -> gpd.GeoDataFrame:
    chosen = roads[roads["road_id"].isin(plan["road_id"])]
    if road is not None:
        named = chosen[(chosen["road_id"] == road) | (chosen["name"] == road)]
        if named.empty:
            known = "、".join(chosen["name"]) or "none"
            raise NotFoundError(f"road {road!r} has no greening plan this year; roads with one: {known}")
        chosen = named
    return chosen.reset_index(drop=True)


def greening_issue_filter(segments: gpd.GeoDataFrame, *, road_ids: list[str], year: int, as_of) -> IssueFilter:
    """The greening issues (:func:`geo.greening.tasks.greening_issue_codes`) reported from 1 January of ``year``
    to the end of ``as_of`` whose segment (of ``segments``: ``segment_id``, ``road_id``) belongs to one of
    ``road_ids`` — the issues :func:`geo.greening.progress.greening_issues` keeps."""
    on_roads = segments.loc[segments["road_id"].isin(road_ids), "segment_id"].astype(int).tolist()
    return IssueFilter(categories=greening_issue_codes(load_taxonomy()), segments=on_roads,
                       since=datetime(year, 1, 1), until=(pd.Timestamp(as_of).normalize()
                                                          + pd.Timedelta(days=1)).to_pydatetime())


def greening_issue_roads(engine: Engine, *, jurisdiction_code: str, year: int, as_of,
                         road: str | None = None) -> tuple[IssueFilter, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """What a map needs to show the greening issues of :func:`greening_view` one by one, without its progress.

    Returns the issues' filter (:func:`greening_issue_filter`) for the roads with a plan in
    ``year`` (or the one ``road`` names) up to ``as_of``, those roads in their metric CRS and
    the segment layer (the issues' chainage is measured along the roads).
    """
    plan = store.read_greening_plan(engine, jurisdiction_code=jurisdiction_code, year=year)
    roads = _pick_roads(roads_metric(engine, jurisdiction_code=jurisdiction_code), plan, road)
    segments = store.read_layer(engine, "segments", jurisdiction_code=jurisdiction_code)
    return greening_issue_filter(segments, road_ids=list(roads["road_id"]), year=year, as_of=as_of), roads, segments


def greening_view(
    engine: Engine,
    *,
    jurisdiction_code: str,
    year: int | None = None,
    as_of=None,
    road: str | None = None,
    season: str | None = None,
) -> GreeningView:
    """Read the plan, records and issues of ``year`` and compute progress as of a date.

    Parameters
    ----------
    year : int, optional
        The plan year; default: the latest year with a plan.
    as_of : date-like, optional
        Default: the day of the year's latest record (never after today); without one, today,
        or 31 December for a past year.
    road : str, optional
        A road name or id; default: every road with a plan in ``year``.
    season : str, optional
        One of :data:`geo.greening.tasks.SEASONS`: only that season's tasks.
    """
    if season is not None and season not in SEASONS:
        raise ValidationError(f"season {season!r} is not one of {', '.join(SEASONS)}")
    tasks = load_greening_tasks()
    plan = store.read_greening_plan(engine, jurisdiction_code=jurisdiction_code, year=year)
    if plan.empty:
        raise NotFoundError(
            f"no greening plan for {year or 'any year'}: import one "
            "(`citymap greening import-plan`) or run `citymap load-sample`"
        )
    year = int(plan["year"].max()) if year is None else year
    plan = plan[plan["year"] == year]
    every_road = roads_metric(engine, jurisdiction_code=jurisdiction_code)
    plan_roads = every_road.loc[every_road["road_id"].isin(plan["road_id"]), "name"].tolist()
    roads = _pick_roads(every_road, plan, road)
    ids = list(roads["road_id"])
    plan = plan[plan["road_id"].isin(ids)]
    if season is not None:
        plan = plan[plan["task_code"].map(tasks["season"]) == season]
    records = store.read_greening_records(
        engine,
        jurisdiction_code=jurisdiction_code,
        road_ids=ids,
        since=pd.Timestamp(year, 1, 1),
        until=pd.Timestamp(year, 12, 31),
    )
    if as_of is None:
        # the latest day with data: the newest record (never after today), else today or the year's end
        end = min(pd.Timestamp(local_today()), pd.Timestamp(year, 12, 31))
        as_of = min(records["done_on"].max(), end) if len(records) else end
    try:
        as_of = pd.Timestamp(as_of).normalize()
    except ValueError as exc:
        raise ValidationError(f"as-of date {as_of!r} is not a date such as 2025-04-30") from exc
    result = greening.progress(plan, records, roads_metric=roads, tasks=tasks, as_of=as_of)

    segments = store.read_layer(engine, "segments", jurisdiction_code=jurisdiction_code)
    issues = greening_issue_filter(segments, road_ids=ids, year=year, as_of=as_of)
    counted = store.count_issues_by(engine, ("segment_id", "category_code", "status"),
                                    jurisdiction_code=jurisdiction_code, where=issues).rename("n").reset_index()
    counted = counted.assign(road_id=counted["segment_id"].map(segments.set_index("segment_id")["road_id"]),
                             open=counted["n"].where(counted["status"].isin(OPEN_STATUSES), 0))
    counts = (counted.groupby(["road_id", "category_code"]).agg(n_issues=("n", "sum"), n_open=("open", "sum"))
              .astype("int64").reset_index())
    return GreeningView(
        year=year,
        as_of=as_of,
        roads_metric=roads,
        table=result.table,
        summary=greening.season_summary(result.table),
        clipped=result.clipped,
        plan=plan,
        records=records,
        issues=issues,
        issue_counts=counts,
        plan_roads=plan_roads,
    )


#: progress-table column → Chinese header, for printing and export
PROGRESS_LABELS = {
    "road_name": "道路",
    "task_name": "作业",
    "season_name": "季节",
    "due_date": "截止日期",
    "planned_m": "计划长度(m)",
    "done_m": "完成长度(m)",
    "done_pct": "完成率(%)",
    "n_records": "记录数",
    "quantity": "数量",
    "unit": "单位",
    "last_done_on": "最近作业",
    "status_name": "状态",
    "days_overdue": "逾期天数",
}


def progress_labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The progress table with Chinese headers, lengths to the metre and the share in percent."""
    out = table.assign(
        season_name=table["season"].map(SEASONS),
        done_pct=(table["done_share"] * 100).round(1),
        planned_m=table["planned_m"].round(0),
        done_m=table["done_m"].round(0),
        due_date=table["due_date"].dt.strftime("%Y-%m-%d"),
        last_done_on=table["last_done_on"].dt.strftime("%Y-%m-%d").fillna(""),
    )
    return out[list(PROGRESS_LABELS)].rename(columns=PROGRESS_LABELS)


def report_tables(view: GreeningView) -> dict[str, pd.DataFrame]:
    """The view as named tables (sheet name → table) for the CLI and the XLSX export."""
    summary = view.summary.assign(
        season=view.summary["season"].map(SEASONS), done_share=(view.summary["done_share"] * 100).round(1)
    )
    summary = summary.drop(columns="road_id").rename(
        columns={
            "road_name": "道路",
            "season": "季节",
            "planned_m": "计划长度(m)",
            "done_m": "完成长度(m)",
            "done_share": "完成率(%)",
            "n_tasks": "作业数",
            "n_overdue": "逾期作业数",
        }
    )
    clipped = view.clipped.rename(
        columns={
            "id": "记录ID",
            "road_id": "道路编号",
            "from_m": "起点桩号",
            "to_m": "终点桩号",
            "length_m": "道路长度(m)",
            "kept_from_m": "保留起点",
            "kept_to_m": "保留终点",
            "reason": "原因",
        }
    )
    names = load_taxonomy().categories["name"]
    issues = view.issue_counts.assign(
        road=view.issue_counts["road_id"].map(dict(zip(view.roads_metric["road_id"], view.roads_metric["name"]))),
        category=view.issue_counts["category_code"].map(names),
    )
    issues = issues[["road", "category_code", "category", "n_issues", "n_open"]].rename(
        columns={
            "road": "道路",
            "category_code": "事件代码",
            "category": "问题类别",
            "n_issues": "问题数",
            "n_open": "未结案",
        }
    )
    return {"进度": progress_labelled(view.table), "季节汇总": summary, "超出范围": clipped, "相关问题": issues}


def section_view(view: GreeningView, *, task_code: str, step_m: float = 200.0) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Progress of one task per section of the view's roads, and the records meeting each section.

    Returns
    -------
    (GeoDataFrame, DataFrame)
        Sections (EPSG:4326) with the columns of :func:`geo.greening.progress.section_progress`;
        the (section, record) pairs of :func:`geo.greening.progress.section_records` for the
        task's records counted as of the view's date.
    """
    tasks = load_greening_tasks()
    if task_code not in tasks.index:
        raise ValidationError(f"task {task_code!r} is not one of {', '.join(tasks.index)}")
    sections = greening.road_sections(view.roads_metric, step_m=step_m)
    lengths = view.roads_metric.set_index("road_id")["length_m"]
    records, _ = greening.clip_to_roads(pd.DataFrame(view.records.drop(columns="geometry")), lengths)
    shown = greening.section_progress(sections, view.plan, records, task_code=task_code, as_of=view.as_of)
    counted = records[(records["task_code"] == task_code) & (records["done_on"] <= view.as_of)]
    return to_wgs84(shown), greening.section_records(sections, counted)
