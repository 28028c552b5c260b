"""Accountability pages: team coverage, the departments' league table, the plan-task board, the weekly report.

Registered on :data:`webmap.pages.blueprint.bp`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
from flask import Response, current_app, render_template, request, url_for
from flask_babel import gettext

from geo.clock import local_now, month_span
from geo.loop import views as loop_views
from geo.loop.weekly import parse_week, week_of
from geo.loop.weekly import weekly_report as build_weekly_report
from webmap import params
from webmap.charts import chart_spec, series
from webmap.figures import PAGE_FIGURES, figure_label, weekly_map_words, write_weekly_workbook
from webmap.i18n import N_, category_names, department_name, localised
from webmap.rows import template_row, template_rows
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.map_views import live_route, map_route
from webmap.maps.coverage import coverage_issues, coverage_map
from webmap.maps.live import LiveIssues
from webmap.pages.blueprint import bp
from webmap.pages.names import department_names

MAX_COVERAGE_DAYS = 92


def _month() -> tuple[datetime, datetime, bool]:
    """``?month=YYYY-MM`` → its [start, end) and False; default: the month of the latest report (True)."""
    span = params.month(request.args)
    if span is not None:
        return span[0], span[1], False
    engine, settings = engine_of(current_app), settings_of(current_app)
    start, end = month_span(loop_views.latest_data_day(engine, settings, now=local_now()))
    return start, end, True


def _previous(start: datetime) -> tuple[datetime, datetime]:
    return month_span(start - timedelta(days=1))


def _folded(table: pd.DataFrame, previous: pd.DataFrame) -> pd.Series:
    """Rows with nothing to show in either month: no case registered, due or handled, none open."""
    counts = ["registered", "due", "handled", "backlog"]
    last = previous[counts].reindex(table.index).fillna(0)
    return (table[counts].sum(axis=1) == 0) & (last.sum(axis=1) == 0)


@bp.get("/league")
def league():
    engine, settings = engine_of(current_app), settings_of(current_app)
    start, end, default = _month()
    before = _previous(start)
    now = local_now()
    table = loop_views.league(engine, settings, start=start, end=end, now=now, densities=False)
    known = department_names()
    table["name"] = [known.get(code, name) for code, name in zip(table.index, table["name"])]
    previous = loop_views.figures_by(engine, settings, by="department", start=before[0], end=before[1], now=now)
    table["on_time_rate_pct_last"] = previous["on_time_rate_pct"].reindex(table.index)
    table["due_last"] = previous["due"].reindex(table.index).fillna(0).astype(int)
    folded = _folded(table, previous)
    shown = table[~folded]
    ranked = shown[shown["due"] > 0]
    month, last = f"{start:%Y-%m}", f"{before[0]:%Y-%m}"
    chart = chart_spec(
        "hbar", categories=ranked["name"].astype(str).tolist(),
        series_list=[series(gettext("按期结案率 %(month)s", month=month), ranked["on_time_rate_pct"], color="#1f3b73"),
                     series(gettext("按期结案率 %(month)s", month=last), ranked["on_time_rate_pct_last"],
                            color="#9ecae1")],
        title=gettext("按期结案率：本月与上月（应结案数 > 0 的科室）"), unit="%", max_value=100,
        height=max(220, 40 * len(ranked) + 80), empty=gettext("本月没有应结案的案件"))
    week = week_of(min(end - timedelta(days=1), now).date())
    return render_template("league.html", rows=template_rows(shown.reset_index()),
                           folded=template_rows(table[folded].reset_index()), figures=PAGE_FIGURES,
                           labels={k: figure_label(k) for k in PAGE_FIGURES}, month=month, last_month=last,
                           default=default, now=now, week=week, chart=chart)


#: a task's colour on the board: (class, the rule, in the order they are tried)
TASK_STATES = (
    ("task-quiet", N_("本月无案件")),
    ("task-late", N_("有超期未处置的案件")),
    ("task-low", N_("按期结案率低于 80%")),
    ("task-fair", N_("按期结案率 80%–95%")),
    ("task-good", N_("按期结案率 95% 及以上")),
)


def _task_state(row) -> str:
    if not row["due"] and not row["registered"] and not row["backlog"]:
        return "task-quiet"
    if row["overdue"]:
        return "task-late"
    rate = row["on_time_rate_pct"]
    if rate != rate:  # nothing due this month: judged by what is open, none overdue
        return "task-good"
    return "task-low" if rate < 80 else ("task-fair" if rate < 95 else "task-good")


@bp.get("/plan-tasks")
def plan_tasks():
    engine, settings = engine_of(current_app), settings_of(current_app)
    start, end, default = _month()
    now = local_now()
    board = loop_views.plan_task_board(engine, settings, start=start, end=end, now=now)
    categories = category_names()
    tasks = [{
        "number": number, "title": localised(row, "title"), "lead": department_name(row["lead"]),
        "supporting": [department_name(c) for c in row["supporting"].split(";") if c],
        "categories": [f"{c} {categories.get(c, '')}" for c in row["categories"].split(";") if c],
        "state": _task_state(row), "row": template_row(row),
        "closed_pct": 100.0 * row["closed"] / row["due"] if row["due"] else None,
        "on_time_pct": 100.0 * row["closed_on_time"] / row["due"] if row["due"] else None,
    } for number, row in board.iterrows()]
    active = board[board["due"] > 0]
    chart = chart_spec(
        "stack", categories=[str(n) for n in active.index],
        series_list=[series(gettext("按期结案"), active["closed_on_time"], color="#31a354"),
                     series(gettext("逾期结案"), active["closed"] - active["closed_on_time"], color="#e6a100"),
                     series(gettext("未结案"), active["due"] - active["closed"], color="#d62728")],
        title=gettext("各任务应结案数：按期结案、逾期结案与未结案（横轴为任务编号）"), unit=gettext("件"),
        empty=gettext("本月没有应结案的案件"))
    counts = pd.Series([t["state"] for t in tasks]).value_counts()
    return render_template("plan_tasks.html", tasks=tasks, month=f"{start:%Y-%m}", default=default, now=now,
                           chart=chart, states=[(key, gettext(rule), int(counts.get(key, 0)))
                                                for key, rule in TASK_STATES])


def _team() -> str:
    return request.args.get("team", "").strip() or "sanitation_west"


def _coverage_request():
    engine, settings = engine_of(current_app), settings_of(current_app)
    args = request.args
    team = _team()
    days = params.whole(args, "days", default=settings.coverage_days, lo=1, hi=MAX_COVERAGE_DAYS)
    last_day = params.day(args, "until")
    if last_day is not None:
        until = datetime.combine(last_day, datetime.min.time()) + timedelta(days=1)
    else:
        # Up to the end of the day of the newest inspection on record (today when there is none).
        latest = loop_views.latest_inspection_end(engine, settings) or local_now()
        until = datetime(latest.year, latest.month, latest.day) + timedelta(days=1)
    return loop_views.coverage_view(engine, settings, team=team, until=until, days=days, now=local_now())


@bp.get("/coverage")
def coverage():
    engine, settings = engine_of(current_app), settings_of(current_app)
    view = _coverage_request()
    patches = loop_views.read_patches(engine, settings)
    known = department_names()
    shown_until = view.until - timedelta(days=1)
    query = {"team": view.team, "days": view.days, "until": f"{shown_until:%Y-%m-%d}"}
    r = view.result
    return render_template(
        "coverage.html", view=view, teams=[(code, known.get(code, name)) for code, name in zip(patches["code"],
                                                                                              patches["name"])],
        team_name=known.get(view.team, view.name), until=shown_until,
        since=view.until - timedelta(days=view.days), asked=bool(request.args.get("until")), today=local_now(),
        figures={"cells": f"{r.cells_visited} / {r.cells_total}", "cell_share": r.cell_share * 100,
                 "road": f"{r.road_visited_km:.1f} / {r.road_km:.1f}", "road_share": r.road_share * 100,
                 "open": view.open, "overdue": view.overdue},
        map_src=url_for("pages.coverage_map_page") + "?" + urlencode(query),
    )


@map_route(bp, "/maps/coverage", endpoint="coverage_map_page")
def coverage_map_page():
    """The coverage map's document of one team."""
    view = _coverage_request()
    return coverage_map(boundary=jurisdiction_boundary(), patch=view.patch, result=view.result, open_count=view.open,
                        overdue_count=view.overdue, settings=settings_of(current_app),
                        source=url_for("pages.coverage_map_page_points"))


@live_route(bp, "/maps/coverage", endpoint="coverage_map_page")
def coverage_map_page_points() -> LiveIssues:
    """The open issues of the coverage map's team, the overdue ones marked."""
    team = _team()
    return coverage_issues(loop_views.team_issues(team), category_names(), now=local_now())


@bp.get("/reports/weekly.xlsx")
def weekly_report():
    engine, settings = engine_of(current_app), settings_of(current_app)
    week = request.args.get("week", "").strip()
    _start, end = parse_week(week)
    report = build_weekly_report(engine, settings, week=week, now=min(end, local_now()), map_words=weekly_map_words())
    with tempfile.TemporaryDirectory() as tmp:
        data = write_weekly_workbook(report, Path(tmp) / "report.xlsx").read_bytes()
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="weekly-report-{week}.xlsx"'})
