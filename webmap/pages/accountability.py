"""Accountability pages: team coverage, the departments' league table, the plan-task board, the weekly report.

Registered on :data:`webmap.pages.blueprint.bp`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import Response, current_app, render_template, request, url_for

from geo import store
from geo.clock import local_now
from geo.loop import metrics
from geo.loop import views as loop_views
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.map_views import map_route
from webmap.maps.coverage import coverage_map
from webmap.pages.blueprint import bp

MAX_COVERAGE_DAYS = 92


def _month() -> tuple[datetime, datetime, str]:
    """``?month=YYYY-MM`` → its [start, end); default: the month of the latest report, or this month."""
    span = params.month(request.args)
    if span is None:
        engine, settings = engine_of(current_app), settings_of(current_app)
        reported = store.issue_time_range(engine, jurisdiction_code=settings.jurisdiction_code)
        span = params.month_span(min(reported[1], local_now()) if reported else local_now())
    return span[0], span[1], f"{span[0]:%Y-%m}"


def _labelled(table):
    out = table.rename(columns=loop_views.FIGURE_LABELS)
    return out.round(2)


@bp.get("/league")
def league():
    engine, settings = engine_of(current_app), settings_of(current_app)
    start, end, month = _month()
    now = local_now()
    table = loop_views.league(engine, settings, start=start, end=end, now=now)
    start_d = start.date()
    week = f"{start_d.isocalendar().year}-W{start_d.isocalendar().week:02d}"
    return render_template("league.html", table=_labelled(table), month=month, now=now, week=week)


@bp.get("/plan-tasks")
def plan_tasks():
    engine, settings = engine_of(current_app), settings_of(current_app)
    start, end, month = _month()
    now = local_now()
    issues = loop_views.read_issues(engine, settings)
    board = metrics.plan_task_figures(issues, start=start, end=end, now=now)
    departments = load_taxonomy().departments["name"]
    categories = load_taxonomy().categories["name"]
    tasks = [{
        "number": number, "title": row["title"], "lead": departments.get(row["lead"], row["lead"]),
        "supporting": [departments.get(c, c) for c in row["supporting"].split(";") if c],
        "categories": [f"{c} {categories.get(c, '')}" for c in row["categories"].split(";") if c],
        "figures": {loop_views.FIGURE_LABELS[k]: row[k] for k in ("registered", "due", "closed", "closed_on_time",
                                                             "close_rate_pct", "on_time_rate_pct", "backlog",
                                                             "overdue")},
    } for number, row in board.iterrows()]
    return render_template("plan_tasks.html", tasks=tasks, month=month, now=now)


def _coverage_request():
    engine, settings = engine_of(current_app), settings_of(current_app)
    args = request.args
    team = args.get("team", "").strip() or "sanitation_west"
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
    shown_until = view.until - timedelta(days=1)
    query = {"team": view.team, "days": view.days, "until": f"{shown_until:%Y-%m-%d}"}
    r = view.result
    return render_template(
        "coverage.html", view=view, teams=list(zip(patches["code"], patches["name"])), until=shown_until,
        figures={"cells": f"{r.cells_visited} / {r.cells_total}", "cell_share": r.cell_share * 100,
                 "road": f"{r.road_visited_km:.1f} / {r.road_km:.1f}", "road_share": r.road_share * 100,
                 "open": len(view.issues), "overdue": int(view.issues["overdue"].sum())},
        map_src=url_for("pages.coverage_map_page") + "?" + urlencode(query),
    )


@map_route(bp, "/maps/coverage", endpoint="coverage_map_page")
def coverage_map_page():
    """The coverage map's document of one team."""
    settings = settings_of(current_app)
    view = _coverage_request()
    taxonomy = load_taxonomy()
    return coverage_map(boundary=jurisdiction_boundary(), patch=view.patch, result=view.result, issues=view.issues,
                        settings=settings,
                        category_names=dict(zip(taxonomy.categories["code"], taxonomy.categories["name"])))


@bp.get("/reports/weekly.xlsx")
def weekly_report():
    engine, settings = engine_of(current_app), settings_of(current_app)
    week = request.args.get("week", "").strip()
    _start, end = loop_views.parse_week(week)
    with tempfile.TemporaryDirectory() as tmp:
        path = loop_views.write_weekly_report(engine, settings, week=week, path=Path(tmp) / "report.xlsx",
                                        now=min(end, local_now()))
        data = path.read_bytes()
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="weekly-report-{week}.xlsx"'})
