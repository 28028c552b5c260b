"""Accountability views read from the database: the home dashboard, the league table, coverage, the plan-task board.

The glue the CLI and the web pages share (like ``geo.routing.views``): figures are counted
in SQL (:mod:`geo.store.figures`: no view reads every issue), layers and inspections are
read through ``geo.store`` and handed to the analysis modules (``geo.loop.metrics``,
``geo.loop.coverage``). The weekly report is :mod:`geo.loop.weekly`. Times are naive local
(Beijing) time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import month_span
from geo.errors import NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import coverage as cov
from geo.loop import metrics
from geo.settings import Settings
from geo.statuses import UNHANDLED_STATUSES
from geo.taxonomy import load_taxonomy

def read_issues(engine: Engine, settings: Settings) -> gpd.GeoDataFrame:
    """All issues of the jurisdiction with :data:`geo.loop.metrics.METRIC_COLUMNS` (points, EPSG:4326).

    The pandas reference of the figures (:mod:`geo.loop.metrics`) for tests and analyses; pages count in SQL.
    """
    return store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, columns=metrics.METRIC_COLUMNS)


def read_patches(engine: Engine, settings: Settings) -> gpd.GeoDataFrame:
    """Every team's patch (:func:`geo.loop.coverage.team_patches`) from the stored layers."""
    j = settings.jurisdiction_code
    return cov.team_patches(jurisdiction=store.read_layer(engine, "jurisdiction", jurisdiction_code=j),
                            communities=store.read_layer(engine, "communities", jurisdiction_code=j),
                            zones=store.read_layer(engine, "zones", jurisdiction_code=j))


def figures_by(engine: Engine, settings: Settings, *, by: str | None, start: datetime, end: datetime,
               now: datetime) -> pd.DataFrame:
    """The figures of :mod:`geo.loop.metrics` per group (``by``: a key of :data:`metrics.GROUPINGS`, or None
    for one row of the whole jurisdiction), counted in SQL (:func:`geo.store.period_counts`): the cost is the
    period's issues, never the table's.

    Returns
    -------
    pandas.DataFrame
        Indexed by group code, the counts and :func:`geo.loop.metrics.figure_table`'s rates and hours.
    """
    column = None if by is None else metrics.GROUPINGS[by]
    common = {"jurisdiction_code": settings.jurisdiction_code, "start": start, "end": end, "by": column}
    counts = store.period_counts(engine, now=now, **common)
    hours = store.handling_hours(engine, **common)
    return metrics.figure_table(counts, hours.set_index("group")["hours"]).rename_axis(by)


def figures_and_total(engine: Engine, settings: Settings, *, by: str, start: datetime, end: datetime,
                      now: datetime) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`figures_by` ``by`` and :func:`figures_by` of the whole jurisdiction, from the same counts (the
    groups of one count add up to the whole, issues without a group included): the home page reads the
    month's issues once for its total and its departments."""
    common = {"jurisdiction_code": settings.jurisdiction_code, "start": start, "end": end,
              "by": metrics.GROUPINGS[by]}
    counts = store.period_counts(engine, now=now, with_nulls=True, **common)
    hours = store.handling_hours(engine, **common).set_index("group")["hours"]
    total = metrics.figure_table(counts.sum().to_frame(None).T, hours.set_axis([None] * len(hours))).iloc[0]
    grouped = counts.index != ""
    table = metrics.figure_table(counts[grouped], hours[hours.index.notna()]).rename_axis(by)
    return table, total


def league(engine: Engine, settings: Settings, *, start: datetime, end: datetime, now: datetime,
           densities: bool = True, figures: pd.DataFrame | None = None) -> pd.DataFrame:
    """The departments' league table: :func:`figures_by` department with names and densities.

    Rows are the departments that have a patch or issues, best 按期结案率 first (ties: 结案率,
    then most cases due); ``name`` is the department's (or community team's) Chinese name.
    Without ``densities`` (the patches' areas and road lengths take longer than the counts)
    those two columns are NaN. ``figures``: the departments' figures of the period already
    counted (:func:`figures_and_total`).
    """
    patches = read_patches(engine, settings)
    if densities:
        segments = store.read_layer(engine, "segments", jurisdiction_code=settings.jurisdiction_code)
        extents = metrics.group_extents(patches, segments, metric_crs=settings.metric_crs)
    else:
        extents = pd.DataFrame({"area_km2": float("nan"), "road_km": float("nan")},
                               index=patches["code"].drop_duplicates())
    if figures is None:
        figures = figures_by(engine, settings, by="department", start=start, end=end, now=now)
    table = metrics.with_densities(figures, extents).rename_axis("department")
    names = patches.drop_duplicates("code").set_index("code")["name"]
    table.insert(0, "name", names.reindex(table.index).fillna(pd.Series(table.index, index=table.index)))
    return table.sort_values(["on_time_rate_pct", "close_rate_pct", "due"], ascending=False, na_position="last")


def area_tables(engine: Engine, settings: Settings, *, start: datetime, end: datetime,
                now: datetime) -> dict[str, pd.DataFrame]:
    """:func:`figures_by` community, management grid and contractor zone, with names and densities."""
    j = settings.jurisdiction_code
    segments = store.read_layer(engine, "segments", jurisdiction_code=j)
    out = {}
    for by, layer in (("community", "communities"), ("grid", "grids"), ("zone", "zones")):
        polys = store.read_layer(engine, layer, jurisdiction_code=j)
        extents = metrics.group_extents(polys, segments, metric_crs=settings.metric_crs)
        table = metrics.with_densities(figures_by(engine, settings, by=by, start=start, end=end, now=now),
                                       extents).rename_axis(by)
        table.insert(0, "name", polys.set_index("code")["name"].reindex(table.index))
        out[by] = table
    return out


def plan_task_board(engine: Engine, settings: Settings, *, start: datetime, end: datetime,
                    now: datetime) -> pd.DataFrame:
    """:func:`geo.loop.metrics.plan_task_figures` counted in SQL: per category, then per task it serves."""
    common = {"jurisdiction_code": settings.jurisdiction_code, "start": start, "end": end, "by": "category_code"}
    counts = store.period_counts(engine, now=now, **common)
    hours = store.handling_hours(engine, **common).set_index("group")["hours"]
    return metrics.tasks_of_categories(counts, hours)


@dataclass
class CoverageView:
    """One team's coverage page: its patch, coverage, and the issues in its charge.

    ``issues`` is the filter of the team's issues open now (its department or a child's);
    ``open`` counts them and ``overdue`` those of them not handled by their deadline.
    """

    team: str
    name: str
    patch: gpd.GeoDataFrame
    result: cov.Coverage
    issues: IssueFilter
    open: int
    overdue: int
    until: datetime
    days: int


def latest_inspection_end(engine: Engine, settings: Settings) -> datetime | None:
    """When the newest stored inspection ended (None without any)."""
    tracks = store.read_inspections(engine, jurisdiction_code=settings.jurisdiction_code)
    return None if tracks.empty else tracks["ended_at"].max().to_pydatetime()


def team_issues(team: str) -> IssueFilter:
    """The issues in ``team``'s charge open now: its department's or a child department's."""
    departments = load_taxonomy().departments
    children = departments.index[departments["parent"] == team].tolist()
    return IssueFilter(statuses=metrics.OPEN_STATUSES, departments=[team, *children])


def coverage_view(engine: Engine, settings: Settings, *, team: str, until: datetime, days: int,
                  now: datetime) -> CoverageView:
    """Coverage of ``team``'s patch by ``team``'s inspections in the ``days`` days before ``until``.

    The team's issues (its ``department_code``, or a child's) open at ``now`` are counted in
    SQL, and those of them overdue (:func:`geo.loop.metrics.overdue_mask`: unhandled, past
    the deadline).
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
    mine = team_issues(team)
    late = mine.narrowed(statuses=UNHANDLED_STATUSES, due_until=now)
    return CoverageView(team=team, name=str(row["name"].iloc[0]), patch=row, result=result, issues=mine,
                        open=store.count_issues(engine, jurisdiction_code=j, where=mine),
                        overdue=store.count_issues(engine, jurisdiction_code=j, where=late), until=until, days=days)


# --------------------------------------------------------------------------- the home dashboard

#: days in the home page's daily chart and weeks in its weekly one
DASHBOARD_DAYS = 60
DASHBOARD_WEEKS = 26


@dataclass
class Trend:
    """A figure of the dashboard and its sums over the last 7 and 30 days against the 7 and 30 before."""

    value: int | float | None
    last7: int
    prev7: int
    last30: int
    prev30: int


@dataclass
class Dashboard:
    """What the home page shows, as of ``day``: the latest day with a report, never after today.

    Attributes
    ----------
    day, today : datetime.date
        The day the figures are as of, and today (they differ when the data stop earlier).
    month : (datetime, datetime)
        ``[start, end)`` of ``day``'s month; ``previous_month`` the one before.
    tiles : dict of str to Trend
        ``new`` (reported on ``day``), ``closed`` (closed on ``day``), ``overdue`` (overdue now;
        its trend: cases fallen overdue per day), ``open`` (open now; its trend: reported minus
        closed, the change of the backlog).
    daily, weekly : pandas.DataFrame
        :data:`geo.store.DAILY_COLUMNS` per day (last :data:`DASHBOARD_DAYS` days to ``day``) and per
        ISO week (``week`` start, last :data:`DASHBOARD_WEEKS` weeks, the last one up to ``day``).
    month_figures, previous_month_figures : pandas.Series
        :func:`figures_by` for the whole jurisdiction over the two months.
    departments : pandas.DataFrame
        :func:`league` of ``day``'s month.
    """

    day: date
    today: date
    month: tuple[datetime, datetime]
    previous_month: tuple[datetime, datetime]
    tiles: dict[str, Trend]
    daily: pd.DataFrame
    weekly: pd.DataFrame
    month_figures: pd.Series
    previous_month_figures: pd.Series
    departments: pd.DataFrame


def latest_data_day(engine: Engine, settings: Settings, *, now: datetime) -> date:
    """The day of the latest report, or today when the data reach it (or there are none): the default of every period."""
    span = store.issue_time_range(engine, jurisdiction_code=settings.jurisdiction_code)
    return min(span[1], now).date() if span else now.date()


def dashboard(engine: Engine, settings: Settings, *, now: datetime) -> Dashboard:
    """The home dashboard as of the latest day with data (:func:`latest_data_day`), all counted in SQL."""
    day = latest_data_day(engine, settings, now=now)
    first_monday = day - timedelta(days=day.weekday() + 7 * (DASHBOARD_WEEKS - 1))
    since = min(first_monday, day - timedelta(days=DASHBOARD_DAYS - 1), day - timedelta(days=59))
    days = store.daily_counts(engine, jurisdiction_code=settings.jurisdiction_code, since=since,
                              until=day + timedelta(days=1), now=now)

    def sums(column: pd.Series, back: int, span: int) -> int:
        end = pd.Timestamp(day) - pd.Timedelta(days=back)
        return int(column[(column.index > end - pd.Timedelta(days=span)) & (column.index <= end)].sum())

    def trend(column: pd.Series, value) -> Trend:
        return Trend(value=value, last7=sums(column, 0, 7), prev7=sums(column, 7, 7), last30=sums(column, 0, 30),
                     prev30=sums(column, 30, 30))

    month = month_span(day)
    previous = month_span(month[0].date() - timedelta(days=1))
    per_department, this_month = figures_and_total(engine, settings, by="department", start=month[0], end=month[1],
                                                   now=now)
    at_day = days.loc[pd.Timestamp(day)]
    weekly = days[days.index >= pd.Timestamp(first_monday)].resample("W-MON", label="left", closed="left").sum()
    return Dashboard(
        day=day, today=now.date(), month=month, previous_month=previous,
        tiles={"new": trend(days["new"], int(at_day["new"])), "closed": trend(days["closed"], int(at_day["closed"])),
               "overdue": trend(days["overdue"], int(this_month["overdue"])),
               "open": trend(days["new"] - days["closed"], int(this_month["backlog"]))},
        daily=days.iloc[-DASHBOARD_DAYS:], weekly=weekly.rename_axis("week"),
        month_figures=this_month,
        previous_month_figures=figures_by(engine, settings, by=None, start=previous[0], end=previous[1],
                                          now=now).iloc[0],
        departments=league(engine, settings, start=month[0], end=month[1], now=now, densities=False,
                           figures=per_department),
    )


#: the overview map counts per unit cell the issues reported in this many days up to the latest day with data
OVERVIEW_DAYS = 365


@dataclass
class CellCounts:
    """The unit cells (EPSG:4326) with ``count``: the issues reported in ``[since, until)``."""

    cells: gpd.GeoDataFrame
    since: datetime
    until: datetime


def overview_cells(engine: Engine, settings: Settings, *, now: datetime, days: int = OVERVIEW_DAYS) -> CellCounts:
    """Every unit cell with the issues reported in the ``days`` days up to the latest day with data
    (:func:`latest_data_day`), counted in SQL from the index of report times."""
    day = latest_data_day(engine, settings, now=now)
    until = datetime.combine(day, datetime.min.time()) + timedelta(days=1)
    since = until - timedelta(days=days)
    j = settings.jurisdiction_code
    counts = store.count_issues_by(engine, "cell_code", jurisdiction_code=j, where=IssueFilter(since=since, until=until))
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    return CellCounts(cells=cells.assign(count=cells["code"].map(counts).fillna(0).astype("int64")), since=since,
                      until=until)


def department_names(engine: Engine, settings: Settings) -> dict[str, str]:
    """Department code → the name people know it by: the taxonomy's departments and each community's own team
    (``community:<code>`` → ``<community name>（社区）``)."""
    communities = store.read_layer(engine, "communities", jurisdiction_code=settings.jurisdiction_code)
    names = dict(load_taxonomy().departments["name"])
    names.update({f"community:{c}": f"{n}（社区）" for c, n in zip(communities["code"], communities["name"])})
    return names
