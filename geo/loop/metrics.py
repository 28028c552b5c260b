"""Accountability figures of the closed loop (综合评价), as published in monthly reports.

No I/O: every function takes an issues frame (read it with
``geo.store.query_issues(..., columns=geo.loop.metrics.METRIC_COLUMNS)``) and returns
numbers or frames. Times are naive local wall-clock times (Beijing time); a
period is the half-open interval ``[start, end)``.

Definitions
-----------
An issue is *registered* (立案) when it has a ``registered_at`` and was neither
refused (不予立案) nor merged as a duplicate; refused and merged reports are never
cases and count nowhere below.

立案数 ``registered``
    Cases whose ``registered_at`` falls in the period.
应结案数 ``due``
    Cases whose ``deadline_at`` falls in the period, whenever they were
    registered. This is our documented choice: a case registered on the 30th and
    due on the 2nd counts in the month of its deadline, so every case is due in
    exactly one period and a month's figures never wait on a later month.
结案数 ``closed``
    Of the due cases, those closed (结案/销号, ``closed_at``) before the period ends.
按期结案数 ``closed_on_time``
    Of the closed due cases, those handled (处置) by their deadline:
    ``handled_at <= deadline_at``. The deadline is a handling deadline (overdue =
    past the deadline and not handled, :func:`overdue_mask`); verification and
    closing are the grid centre's work and do not make a department late. An
    imported closed case without ``handled_at`` is judged by ``closed_at``.
结案率 ``close_rate_pct`` = 结案数 / 应结案数 × 100
按期结案率 ``on_time_rate_pct`` = 按期结案数 / 应结案数 × 100
    Both undefined (NaN / None) when 应结案数 is 0.
处置数 ``handled``
    Handling reports submitted for cases whose (latest) ``handled_at`` falls in
    the period: each such case counts ``rework_count + 1`` reports — every rework
    (返工) sent one report back, and the latest one stands.
返工数 ``rework``
    The reports of those cases that verification sent back: ``rework_count``.
返工率 ``rework_rate_pct`` = 返工数 / 处置数 × 100 (NaN when 处置数 is 0)
Time to handle ``handle_h_median``, ``handle_h_p90``
    ``handled_at - reported_at`` in hours over the cases handled in the period
    (the citizen's wait, rework included); median and 90th percentile (linear
    interpolation).
Backlog ``backlog`` and overdue ``overdue`` (now)
    Open cases at ``now`` (status reported … verified), and those of them that are
    overdue (:func:`overdue_mask`), whatever the period.
Density ``registered_per_km2``, ``registered_per_road_km``
    立案数 divided by the group's area in km² and by the road length in its patch
    in km (:func:`group_extents`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.errors import ValidationError
from geo.statuses import OPEN_STATUSES, UNHANDLED_STATUSES

#: issue columns the figures need; pass them to ``geo.store.query_issues(columns=...)``
METRIC_COLUMNS = ("id", "category_code", "status", "reported_at", "registered_at", "handled_at", "closed_at",
                 "deadline_at", "rework_count", "community_code", "grid_code", "zone_code", "department_code")
#: groupings of :func:`accountability` → the issue column that names the group
GROUPINGS = {"department": "department_code", "community": "community_code", "grid": "grid_code",
             "zone": "zone_code"}
FIGURE_COLUMNS = ("registered", "due", "closed", "closed_on_time", "close_rate_pct", "on_time_rate_pct",
                  "handled", "rework", "rework_rate_pct", "handle_h_median", "handle_h_p90", "backlog", "overdue",
                  "registered_per_km2", "registered_per_road_km")

_TIMES = ("reported_at", "registered_at", "handled_at", "closed_at", "deadline_at")


def _check(issues: pd.DataFrame, columns: tuple[str, ...]) -> None:
    if not isinstance(issues, pd.DataFrame):
        raise ValidationError(f"expected a DataFrame of issues, got {type(issues).__name__}")
    missing = [c for c in columns if c not in issues.columns]
    if missing:
        raise ValidationError(f"issues lack column(s) {', '.join(missing)} (read them with geo.loop.metrics.METRIC_COLUMNS)")


def _when(value: datetime, name: str) -> pd.Timestamp:
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} {value!r} is not a date and time")
    return pd.Timestamp(value)


def _times(issues: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(issues[column])


def _in(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return (times >= start) & (times < end)


def overdue_mask(issues: pd.DataFrame, *, now: datetime) -> pd.Series:
    """Which issues are overdue at ``now``: past their deadline and not yet handled.

    Parameters
    ----------
    issues : pandas.DataFrame
        With ``status`` and ``deadline_at`` (naive local time).
    now : datetime.datetime, keyword-only
        The moment of judgement, naive local time.

    Returns
    -------
    pandas.Series
        Boolean on ``issues``' index: status is reported, registered or
        dispatched (a reworked issue is dispatched again, so it can fall overdue
        again) and ``deadline_at < now``. No deadline → not overdue.
    """
    _check(issues, ("status", "deadline_at"))
    at = _when(now, "now")
    return issues["status"].isin(UNHANDLED_STATUSES) & (_times(issues, "deadline_at") < at).fillna(False)


def _cases(issues: pd.DataFrame) -> pd.Series:
    return _times(issues, "registered_at").notna() & ~issues["status"].isin(("refused", "merged"))


def _flags(issues: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp) -> pd.DataFrame:
    """Per issue, what it adds to each figure (see the module docstring); sums of these are the counts."""
    case = _cases(issues)
    deadline, closed_at = _times(issues, "deadline_at"), _times(issues, "closed_at")
    handled_at = _times(issues, "handled_at")
    due = case & _in(deadline, start, end)
    closed = due & (closed_at < end).fillna(False)
    handled = case & _in(handled_at, start, end)
    reworks = pd.to_numeric(issues["rework_count"]).fillna(0).astype("int64")
    hours = (handled_at - _times(issues, "reported_at")).dt.total_seconds() / 3600.0
    return pd.DataFrame({
        "registered": case & _in(_times(issues, "registered_at"), start, end),
        "due": due,
        "closed": closed,
        "closed_on_time": closed & (handled_at.fillna(closed_at) <= deadline).fillna(False),
        "handled": (reworks + 1).where(handled, 0),
        "rework": reworks.where(handled, 0),
        "handle_h": hours.where(handled),
        "backlog": issues["status"].isin(OPEN_STATUSES),
        "overdue": overdue_mask(issues, now=now.to_pydatetime()),
    }, index=issues.index)


_COUNTS = ("registered", "due", "closed", "closed_on_time", "handled", "rework", "backlog", "overdue")


def _rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Add the rates (percent, NaN on a zero denominator) to a frame of counts."""
    def pct(num: str, den: str) -> pd.Series:
        return (counts[num] / counts[den].where(counts[den] > 0)) * 100.0

    return counts.assign(close_rate_pct=pct("closed", "due"), on_time_rate_pct=pct("closed_on_time", "due"),
                         rework_rate_pct=pct("rework", "handled"))


def period_figures(issues: pd.DataFrame, *, start: datetime, end: datetime, now: datetime) -> dict[str, float]:
    """The accountability figures of a set of issues over ``[start, end)``.

    Parameters
    ----------
    issues : pandas.DataFrame
        With the columns of :data:`METRIC_COLUMNS` (grouping columns optional).
    start, end : datetime.datetime, keyword-only
        The period, naive local time, ``end`` exclusive.
    now : datetime.datetime, keyword-only
        When backlog and overdue are judged.

    Returns
    -------
    dict
        ``registered``, ``due``, ``closed``, ``closed_on_time``, ``close_rate_pct``,
        ``on_time_rate_pct``, ``handled``, ``rework``, ``rework_rate_pct`` (percent,
        NaN when the denominator is 0), ``handle_h_median``, ``handle_h_p90``
        (hours), ``backlog``, ``overdue`` — defined in the module docstring.
    """
    _check(issues, tuple(c for c in METRIC_COLUMNS if c not in GROUPINGS.values()))
    s, e = _period(start, end)
    flags = _flags(issues, s, e, _when(now, "now"))
    counts = _rates(flags[list(_COUNTS)].sum().astype("int64").to_frame().T).iloc[0]
    out = {c: (int(counts[c]) if c in _COUNTS else float(counts[c])) for c in counts.index}
    out["handle_h_median"] = float(flags["handle_h"].median())
    out["handle_h_p90"] = float(flags["handle_h"].quantile(0.9))
    return out


def _period(start: datetime, end: datetime) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = _when(start, "start"), _when(end, "end")
    if e <= s:
        raise ValidationError(f"period end {end!r} is not after its start {start!r}")
    return s, e


def accountability(
    issues: pd.DataFrame,
    *,
    by: str,
    start: datetime,
    end: datetime,
    now: datetime,
    extents: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The figures of the module docstring per department, community, management grid or contractor zone.

    Parameters
    ----------
    issues : pandas.DataFrame
        With :data:`METRIC_COLUMNS`.
    by : {"department", "community", "grid", "zone"}, keyword-only
        The grouping (:data:`GROUPINGS`); issues without a group are left out.
    start, end : datetime.datetime, keyword-only
        The period ``[start, end)``, naive local time.
    now : datetime.datetime, keyword-only
        When backlog and overdue are judged.
    extents : pandas.DataFrame, optional, keyword-only
        Indexed by group code with ``area_km2`` and ``road_km``
        (:func:`group_extents`); the densities are NaN without it. Groups that
        have an extent but no issue get a row of zeros.

    Returns
    -------
    pandas.DataFrame
        Indexed by group code (sorted), columns :data:`FIGURE_COLUMNS`; counts
        int64, rates in percent and hours as float (NaN when undefined).
    """
    if by not in GROUPINGS:
        raise ValidationError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    _check(issues, (*(c for c in METRIC_COLUMNS if c not in GROUPINGS.values()), GROUPINGS[by]))
    s, e = _period(start, end)
    key = issues[GROUPINGS[by]].astype(object).where(issues[GROUPINGS[by]].notna(), None)
    table = _grouped(_flags(issues, s, e, _when(now, "now")), key.rename(by))
    return with_densities(table, extents).rename_axis(by)


def with_densities(table: pd.DataFrame, extents: pd.DataFrame | None) -> pd.DataFrame:
    """A table of :func:`figure_table` with the densities per km² and per road km, in :data:`FIGURE_COLUMNS` order.

    Groups that have an extent but no figure get a row of zeros; without ``extents``
    (indexed by group, ``area_km2`` and ``road_km``: :func:`group_extents`) the
    densities are NaN. Rows sorted by group.
    """
    table = table.copy()
    if extents is not None:
        missing = [c for c in ("area_km2", "road_km") if c not in extents]
        if missing:
            raise ValidationError(f"extents lack column(s) {', '.join(missing)}")
        table = table.reindex(table.index.union(extents.index))
        table[list(_COUNTS)] = table[list(_COUNTS)].fillna(0).astype("int64")
        area = extents["area_km2"].reindex(table.index)
        road = extents["road_km"].reindex(table.index)
        table["registered_per_km2"] = table["registered"] / area.where(area > 0)
        table["registered_per_road_km"] = table["registered"] / road.where(road > 0)
    else:
        table["registered_per_km2"] = np.nan
        table["registered_per_road_km"] = np.nan
    return table[list(FIGURE_COLUMNS)].sort_index()


def _grouped(flags: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Counts, rates and handling hours of the flags per value of ``key`` (same index; None left out)."""
    counts = flags.groupby(key, dropna=True)[list(_COUNTS)].sum().astype("int64")
    hours = flags["handle_h"].set_axis(key.to_numpy())
    return figure_table(counts, hours[hours.notna() & key.notna().to_numpy()])


def figure_table(counts: pd.DataFrame, hours: pd.Series) -> pd.DataFrame:
    """Counts per group with their rates and handling hours added.

    Parameters
    ----------
    counts : pandas.DataFrame
        Indexed by group, the counts ``registered`` … ``overdue`` (as
        :func:`geo.store.period_counts` gives them).
    hours : pandas.Series
        Hours from report to handling of each case handled in the period, indexed by
        its group (:func:`geo.store.handling_hours`).

    Returns
    -------
    pandas.DataFrame
        ``counts`` with ``close_rate_pct``, ``on_time_rate_pct``, ``rework_rate_pct``
        (percent, NaN on a zero denominator), ``handle_h_median`` and ``handle_h_p90``
        (NaN for a group that handled nothing).
    """
    by_group = hours.astype(float).groupby(level=0, dropna=False)
    return _rates(counts).assign(handle_h_median=by_group.median(), handle_h_p90=by_group.quantile(0.9))


def plan_task_figures(issues: pd.DataFrame, *, start: datetime, end: datetime, now: datetime) -> pd.DataFrame:
    """The figures of :func:`accountability` per task of the plan (24 tasks).

    An issue counts under every task its category serves (``plan_tasks`` in
    ``geo/data/category_rules.csv``), so the rows do not add up to the total.

    Returns
    -------
    pandas.DataFrame
        Indexed by task number (all tasks of the plan, zeros where no issue),
        ``title``, ``lead``, ``supporting`` (department codes, ``;``-joined),
        ``categories`` (the event codes serving it, ``;``-joined), then the
        figures of :data:`FIGURE_COLUMNS` without the densities.
    """
    _check(issues, tuple(c for c in METRIC_COLUMNS if c not in GROUPINGS.values()))
    s, e = _period(start, end)
    serves = task_serving()
    flags = _flags(issues, s, e, _when(now, "now"))
    # One row per (issue, task it serves): the explode is over categories, a join does the rest.
    pairs = issues[["category_code"]].reset_index(names="_row").merge(
        serves.rename("task").rename_axis("category_code").reset_index(), on="category_code")
    table = _grouped(flags.loc[pairs["_row"]].set_axis(pairs.index), pairs["task"].rename("task"))
    return task_board(table)


def task_serving() -> pd.Series:
    """Which plan tasks each category serves: task numbers indexed by event code (a code repeats per task)."""
    from geo.taxonomy import load_taxonomy

    return load_taxonomy().categories["plan_tasks"].explode().dropna().astype("int64")


def tasks_of_categories(counts: pd.DataFrame, hours: pd.Series) -> pd.DataFrame:
    """Per plan task, the figures of the categories serving it (a category counts under each task it serves).

    ``counts`` is indexed by event code (:func:`geo.store.period_counts` by
    ``category_code``), ``hours`` the handling hours indexed by event code; the answer
    is :func:`plan_task_figures`'.
    """
    serves = task_serving()
    pairs = serves.rename("task").rename_axis("category_code").reset_index()
    per_task = counts.reindex(pairs["category_code"]).fillna(0).set_axis(pairs["task"]).groupby(level=0).sum()
    hour_pairs = pairs.merge(hours.rename("hours").rename_axis("category_code").reset_index(), on="category_code")
    table = figure_table(per_task.astype("int64"), hour_pairs.set_index("task")["hours"])
    return task_board(table)


def task_board(table: pd.DataFrame) -> pd.DataFrame:
    """Figures per task number → every task of the plan with its title, departments and categories."""
    from geo.taxonomy import load_taxonomy

    serves = task_serving()
    tasks = load_taxonomy().plan_tasks
    table = table.reindex(tasks.index)
    table[list(_COUNTS)] = table[list(_COUNTS)].fillna(0).astype("int64")
    categories = pd.Series(serves.index, index=serves.to_numpy()).groupby(level=0).agg(";".join)
    info = pd.DataFrame({"title": tasks["title"], "lead": tasks["lead"],
                         "supporting": tasks["supporting"].map(";".join),
                         "categories": categories.reindex(tasks.index).fillna("")})
    columns = [c for c in FIGURE_COLUMNS if not c.startswith("registered_per")]
    return info.join(table[columns]).rename_axis("task")


def group_extents(areas: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, *, metric_crs: str = "EPSG:4548") -> pd.DataFrame:
    """Area and road length of each group's patch, for the densities of :func:`accountability`.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Polygons with ``code`` (the group code: a community, grid, zone or a
        department's patch from :func:`geo.loop.coverage.team_patches`); a code may
        appear more than once (its parts are added).
    segments : geopandas.GeoDataFrame
        Road centre-lines or segments.
    metric_crs : str, keyword-only
        CRS in metres.

    Returns
    -------
    pandas.DataFrame
        Indexed by code: ``area_km2`` and ``road_km`` (the length of road inside
        the patch).
    """
    if "code" not in areas:
        raise ValidationError("areas need a 'code' column")
    polys = to_metric(areas, crs=metric_crs).geometry.values
    lines = to_metric(segments, crs=metric_crs).geometry.values
    pi, li = shapely.STRtree(lines).query(polys, predicate="intersects")
    inside = shapely.length(shapely.intersection(polys[pi], lines[li]))
    codes = areas["code"].to_numpy()
    road = pd.Series(inside, index=codes[pi]).groupby(level=0).sum()
    area = pd.Series(shapely.area(polys), index=codes).groupby(level=0).sum()
    return pd.DataFrame({"area_km2": area / 1e6, "road_km": road.reindex(area.index).fillna(0.0) / 1e3})


def home_figures(issues: pd.DataFrame, *, now: datetime) -> dict[str, float | int | None]:
    """The figures of the home page: today so far and this month so far.

    Parameters
    ----------
    issues : pandas.DataFrame
        With ``status``, ``reported_at``, ``registered_at``, ``handled_at``,
        ``closed_at``, ``deadline_at`` and ``rework_count`` (:data:`METRIC_COLUMNS`).
    now : datetime.datetime, keyword-only
        The current local time (naive).

    Returns
    -------
    dict
        ``new_today`` (reported since midnight), ``open`` (status reported …
        verified), ``overdue`` (:func:`overdue_mask`), ``closed_today`` (closed
        since midnight); ``month_due``, ``month_closed``, ``month_closed_on_time``
        and ``month_close_rate_pct`` (结案率), ``month_on_time_rate_pct`` (按期结案率)
        over ``[first of the month, now)`` — the cases due so far this month (see
        the module docstring); the rates are None when nothing was due yet.
    """
    _check(issues, ("status", *_TIMES, "rework_count"))
    at = _when(now, "now")
    today = at.normalize()
    month = today.replace(day=1)
    until = at + timedelta(microseconds=1)
    fig = period_figures(issues, start=month, end=until, now=at)
    due = fig["due"]
    return {
        "new_today": int(_in(_times(issues, "reported_at"), today, until).sum()),
        "open": int(issues["status"].isin(OPEN_STATUSES).sum()),
        "overdue": fig["overdue"],
        "closed_today": int(_in(_times(issues, "closed_at"), today, until).sum()),
        "month_due": due,
        "month_closed": fig["closed"],
        "month_closed_on_time": fig["closed_on_time"],
        "month_close_rate_pct": fig["close_rate_pct"] if due else None,
        "month_on_time_rate_pct": fig["on_time_rate_pct"] if due else None,
    }
