"""A department's day, read from the database: its queue (我的待办) and its contractor zones.

The use case the crew's phone page calls (like :mod:`geo.loop.views`): the issues sent to the
department and not yet handled, earliest deadline first (so the overdue and the due-soon come
first), with how urgent each is, where to navigate to (WGS84 and AMap's GCJ-02) and how far it
lies from the depot of its zone. Times are naive local (Beijing) time; distances in metres,
measured in the jurisdiction's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.crs import to_metric, wgs84_to_gcj02
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.settings import Settings

#: the state of the issues waiting for the department's handling
QUEUE_STATUSES = ("dispatched",)
#: how urgent a queued issue is: past its deadline, due within ``due_soon_h``, later, without a deadline
URGENCIES = ("overdue", "soon", "later", "none")
QUEUE_COLUMNS = ("id", "category_code", "description", "address", "status", "deadline_at", "deadline_provisional",
                 "dispatched_at", "rework_count", "zone_code", "department_code")


def department_zones(zones: gpd.GeoDataFrame, departments: list[str] | tuple[str, ...] | None) -> gpd.GeoDataFrame:
    """The contractor zones (``contractor_zones`` rows) whose ``department_code`` is one of ``departments``
    (a user's reach: its department and its children); None keeps every zone."""
    return zones if departments is None else zones[zones["department_code"].isin(list(departments))]


@dataclass(frozen=True)
class Queue:
    """One page of a department's queue.

    ``issues``: :data:`QUEUE_COLUMNS` plus ``urgency`` (:data:`URGENCIES`), ``hours_left``
    (negative when overdue), ``lon``/``lat`` (WGS84) and ``gcj_lon``/``gcj_lat`` (GCJ-02, for
    AMap), ``depot_dist_m`` (straight line from the depot of the issue's zone, or of the
    department's first zone; NaN without one), ``depot_name``, ``pending`` (the kind of a
    request waiting for an answer, or None) and ``urged`` (how often 督办 was logged).
    ``total``, ``overdue`` and ``soon`` count the whole queue, in SQL.
    """

    issues: gpd.GeoDataFrame
    total: int
    overdue: int
    soon: int


def crew_queue(engine: Engine, settings: Settings, *, departments: list[str], now: datetime, limit: int = 30,
               offset: int = 0) -> Queue:
    """The issues sent to ``departments`` (a department user's reach) that wait for handling, earliest deadline
    first; one page of ``limit`` from ``offset``."""
    if not isinstance(now, datetime):
        raise ValidationError(f"now {now!r} is not a date and time")
    j = settings.jurisdiction_code
    mine = IssueFilter(statuses=QUEUE_STATUSES, departments=tuple(departments))
    soon_until = now + timedelta(hours=float(settings.due_soon_h))
    counts = {name: store.count_issues(engine, jurisdiction_code=j, where=where) for name, where in (
        ("total", mine), ("overdue", mine.narrowed(due_until=now)),
        ("soon", mine.narrowed(due_since=now, due_until=soon_until)))}
    issues = store.query_issues(engine, jurisdiction_code=j, where=mine, columns=QUEUE_COLUMNS, due_first=True,
                                limit=limit, offset=offset)
    deadline = issues["deadline_at"]
    issues["hours_left"] = (deadline - pd.Timestamp(now)) / pd.Timedelta(hours=1)
    issues["urgency"] = np.select([deadline.isna().to_numpy(), (deadline < now).to_numpy(),
                                   (deadline < soon_until).to_numpy()], ["none", "overdue", "soon"], default="later")
    issues["lon"], issues["lat"] = issues.geometry.x, issues.geometry.y
    issues["gcj_lon"], issues["gcj_lat"] = wgs84_to_gcj02(issues["lon"].to_numpy(), issues["lat"].to_numpy())
    zones = department_zones(store.read_layer(engine, "zones", jurisdiction_code=j), departments)
    issues = _depot_distances(issues, zones, metric_crs=settings.metric_crs)
    ids = issues["id"].astype(int).tolist()
    pending = store.read_requests(engine, jurisdiction_code=j, issue_ids=ids, pending_only=True)
    issues["pending"] = issues["id"].map(pending.set_index("issue_id")["kind"]).astype(object)
    issues["pending"] = issues["pending"].where(issues["pending"].notna(), None)
    issues["urged"] = issues["id"].map(store.count_issue_events(engine, ids, action="urge")).fillna(0).astype(int)
    return Queue(issues=issues, **counts)


def _depot_distances(issues: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, metric_crs: str) -> gpd.GeoDataFrame:
    """``depot_dist_m`` and ``depot_name`` of each issue: the depot of its own zone when that zone is one of
    ``zones``, else of the first of ``zones``; NaN and None without any."""
    if zones.empty or issues.empty:
        return issues.assign(depot_dist_m=np.nan, depot_name=None)
    depots = gpd.GeoDataFrame({"code": zones["code"].to_numpy(), "name": zones["name"].to_numpy()},
                              geometry=gpd.points_from_xy(zones["depot_lon"], zones["depot_lat"]), crs="EPSG:4326")
    which = issues["zone_code"].where(issues["zone_code"].isin(depots["code"]), depots["code"].iloc[0])
    position = pd.Series(np.arange(len(depots)), index=depots["code"]).loc[which].to_numpy()
    here = to_metric(issues, crs=metric_crs).geometry.values
    there = to_metric(depots, crs=metric_crs).geometry.values[position]
    return issues.assign(depot_dist_m=here.distance(there), depot_name=depots["name"].to_numpy()[position])
