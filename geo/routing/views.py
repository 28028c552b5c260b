"""Route plans for a contractor zone, read from the database: what the CLI and the web
page both ask for. Reading goes through :mod:`geo.store`; planning through
:mod:`geo.routing.vrp` and :mod:`geo.routing.postman`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import local_today
from geo.errors import NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.routing.postman import SweepPlan, plan_sweep
from geo.routing.road_graph import RoadGraph, build_road_graph
from geo.routing.vrp import (
    ISSUE_SETS,
    MAX_STOPS,
    PENDING_STATUSES,
    PickupPlan,
    pickup_volumes,
    plan_pickups,
    select_issues,
)
from geo.settings import Settings

STREET_SETS = ("alleys", "hotspots")
#: hot-spot segments: those among the top share of issue counts in the look-back window
HOTSPOT_SHARE = 0.1
HOTSPOT_DAYS = 30


def zone_row(engine: Engine, settings: Settings, zone_code: str) -> pd.Series:
    """The contractor zone ``zone_code`` (with its depot), or a NotFoundError naming the known ones."""
    zones = store.read_layer(engine, "zones", jurisdiction_code=settings.jurisdiction_code)
    hit = zones[zones["code"] == zone_code]
    if hit.empty:
        raise NotFoundError(f"没有作业片区 {zone_code!r}；已有：{', '.join(zones['code']) or '无'}")
    return hit.iloc[0]


def road_graph(engine: Engine, settings: Settings) -> RoadGraph:
    """The jurisdiction's road graph from its stored segments."""
    segments = store.read_layer(engine, "segments", jurisdiction_code=settings.jurisdiction_code)
    if segments.empty:
        raise NotFoundError("数据库中没有道路路段：请先导入道路")
    return build_road_graph(segments, crs=settings.metric_crs)


#: what a pickup plan reads of each issue
PICKUP_COLUMNS = ("id", "category_code", "status", "reported_at", "deadline_at", "zone_code", "address")


def pickup_filter(zone_code: str, *, issue_set: str, on_date: date | None = None, chosen: list[int] | None = None,
                  departments: list[str] | tuple[str, ...] | None = None) -> IssueFilter:
    """The issues :func:`geo.routing.vrp.select_issues` picks for a zone (``chosen``: any of those ids), as a filter.

    ``today``, ``open`` and ``overdue`` are the pending pickup issues of the zone reported on
    ``on_date`` (today by default), up to its end, or due before its end.
    """
    if issue_set not in ISSUE_SETS:
        raise ValidationError(f"issue set {issue_set!r} is not one of {', '.join(ISSUE_SETS)}")
    common = {"categories": list(pickup_volumes().index), "departments": departments, "zones": [zone_code]}
    if issue_set == "chosen":
        return IssueFilter(ids=chosen or [], **common)
    day_end = datetime.combine(on_date or local_today(), datetime.min.time()) + timedelta(days=1)
    return IssueFilter(statuses=PENDING_STATUSES, until=day_end,
                       since=day_end - timedelta(days=1) if issue_set == "today" else None,
                       due_until=day_end if issue_set == "overdue" else None, **common)


def zone_pickups(
    engine: Engine,
    settings: Settings,
    zone_code: str,
    *,
    issue_set: str = "today",
    on_date: date | None = None,
    chosen: list[int] | None = None,
    departments: list[str] | tuple[str, ...] | None = None,
    max_stops: int = MAX_STOPS,
    **options,
) -> PickupPlan:
    """Plan the pickups of a zone; ``options`` go to :func:`geo.routing.vrp.plan_pickups`.

    ``departments`` keeps the stops to the issues of those departments (a crew plans its own
    issues only); None takes every department's. The stops are counted in SQL first
    (:func:`pickup_filter`): more than ``max_stops`` is a ValidationError saying how many
    there are, before anything is read.
    """
    zone = zone_row(engine, settings, zone_code)
    where = pickup_filter(zone_code, issue_set=issue_set, on_date=on_date, chosen=chosen, departments=departments)
    j = settings.jurisdiction_code
    n = store.count_issues(engine, jurisdiction_code=j, where=where)
    if n == 0:
        # the day's pickups are often none (the default set on a quiet day): say what to choose instead
        raise ValidationError("所选问题集没有待清运的垃圾或渣土问题：可选“全部未清运”或换一天规划 "
                              "(no stops to plan: the chosen issue set holds no open garbage or debris issue)")
    if n > max_stops:
        raise ValidationError(f"所选问题集有 {n} 处清运，超过一次规划的上限 {max_stops} 处：请选“今日上报”“已超时”、"
                              f"指定问题或换一天规划 ({n} stops exceed the cap of {max_stops} per plan)")
    issues = store.query_issues(engine, jurisdiction_code=j, where=where, columns=PICKUP_COLUMNS)
    stops = select_issues(issues, zone_code=zone_code, issue_set=issue_set, on_date=on_date, chosen=chosen)
    return plan_pickups(road_graph(engine, settings), stops, (zone["depot_lon"], zone["depot_lat"]), **options)


def zone_sweep(
    engine: Engine,
    settings: Settings,
    zone_code: str,
    *,
    street_set: str = "alleys",
    on_date: date | None = None,
    respect_oneway: bool = True,
    speed_kmh: float = 10.0,
) -> tuple[SweepPlan, RoadGraph]:
    """Plan the sweep of a zone's back streets or of its hot-spot segments.

    ``alleys``: every back street (``road_class == "alley"``) whose middle lies in
    the zone. ``hotspots``: the zone's segments among the top
    :data:`HOTSPOT_SHARE` by issues reported in the :data:`HOTSPOT_DAYS` days up to
    ``on_date``.
    """
    if street_set not in STREET_SETS:
        raise ValidationError(f"street set {street_set!r} is not one of {', '.join(STREET_SETS)}")
    zone = zone_row(engine, settings, zone_code)
    graph = road_graph(engine, settings)
    zones = store.read_layer(engine, "zones", jurisdiction_code=settings.jurisdiction_code)
    area = zones[zones["code"] == zone_code].to_crs(graph.crs).geometry.iloc[0]
    middles = graph.edges.geometry.interpolate(0.5, normalized=True)
    inside = middles.within(area).to_numpy()
    if street_set == "alleys":
        required = inside & (graph.edges["road_class"] == "alley").to_numpy()
    else:
        day_end = pd.Timestamp(on_date or local_today()) + pd.Timedelta(days=1)
        counts = store.count_issues_by(
            engine, "segment_id", jurisdiction_code=settings.jurisdiction_code,
            where=IssueFilter(since=(day_end - timedelta(days=HOTSPOT_DAYS)).to_pydatetime(), until=day_end.to_pydatetime()))
        per_edge = graph.edges["segment_id"].map(counts).fillna(0).to_numpy()
        in_zone = per_edge[inside]
        threshold = np.quantile(in_zone, 1 - HOTSPOT_SHARE) if in_zone.size else np.inf
        required = inside & (per_edge >= max(threshold, 1))
    if not required.any():
        raise ValidationError(f"片区 {zone_code} 中没有符合“{street_set}”的街道")
    plan = plan_sweep(graph, required, (zone["depot_lon"], zone["depot_lat"]),
                      respect_oneway=respect_oneway, speed_kmh=speed_kmh)
    return plan, graph
