"""The greening page of the priority roads (plan tasks 3, 14) and its map's document."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
from flask import current_app, render_template, request, url_for
from flask_babel import gettext

from geo import store
from geo.clock import MAX_YEAR, MIN_YEAR
from geo.errors import ValidationError
from geo.greening.progress import STATUS_NAMES, STATUS_NAMES_EN
from geo.greening.tasks import SEASONS, SEASONS_EN, load_greening_tasks, task_due_around
from geo.greening.views import GreeningView, greening_issue_roads, greening_view, section_view
from geo.taxonomy import in_language
from webmap import params
from webmap.charts import chart_spec, series
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.i18n import N_, category_names, current_language, localised
from webmap.map_views import live_route, map_route
from webmap.maps.greening import greening_issue_layer
from webmap.maps.greening import greening_map as build_greening_map
from webmap.maps.live import LiveIssues
from webmap.pages.blueprint import bp
from webmap.rows import template_rows


def _greening_request() -> tuple[GreeningView, str, pd.DataFrame]:
    """The greening view for ``year``, ``road``, ``season`` and ``as_of`` (or ``day`` of the year), and the task shown.

    Returns the view, the task code (``task``, or the one due around the day) and
    the tasks offered (those of the plan, within the season).
    """
    engine, settings = engine_of(current_app), settings_of(current_app)
    args = request.args
    year = params.whole(args, "year", lo=MIN_YEAR, hi=MAX_YEAR)
    as_of = params.day(args, "as_of")
    if as_of is None and args.get("day"):
        # The season slider counts days from 1 January of the year shown.
        day = params.whole(args, "day", lo=0, hi=365)
        if year is None:
            raise ValidationError(gettext("day=%(day)s：须同时给出 year", day=day))
        as_of = min(date(year, 1, 1) + timedelta(days=day), date(year, 12, 31))
    view = greening_view(engine, jurisdiction_code=settings.jurisdiction_code, year=year,
                         as_of=as_of, road=args.get("road") or None, season=args.get("season") or None)
    tasks = load_greening_tasks()
    offered = tasks[tasks["code"].isin(view.table["task_code"])]
    task = args.get("task") or None
    if task is not None and task not in tasks.index:
        raise ValidationError(f"task={task!r}: expected one of {', '.join(tasks.index)}")
    if task is None or task not in offered.index:
        task = task_due_around(offered if len(offered) else tasks, view.as_of, year=view.year)
    return view, task, offered


#: the greening tasks' units that are words (geo/data/greening_tasks.csv), for the catalogue; m and m² stay
UNIT_WORDS = (N_("株"), N_("处"))


def _length(metres: float) -> str:
    """A length in whole metres with thousands separators (18,125), never ``18125.0``."""
    return "—" if metres != metres else f"{metres:,.0f}"


def _road_rows(view: GreeningView, road_id: str) -> list[dict]:
    """The progress rows of one road, each value formatted and named in the page's language."""
    english = current_language() == "en"
    tasks = load_greening_tasks()
    table = view.table[view.table["road_id"] == road_id]
    statuses = STATUS_NAMES_EN if english else STATUS_NAMES
    seasons = SEASONS_EN if english else SEASONS
    return [{
        "task": localised(tasks.loc[r.task_code], "name"), "season": seasons.get(r.season, r.season),
        "due": f"{r.due_date:%Y-%m-%d}", "planned": _length(r.planned_m), "done": _length(r.done_m),
        "share": "—" if r.done_share != r.done_share else f"{100 * r.done_share:.1f}%",
        "records": int(r.n_records),
        "quantity": "" if r.quantity != r.quantity else f"{r.quantity:,.0f} {gettext(r.unit)}",
        "last": "" if pd.isna(r.last_done_on) else f"{r.last_done_on:%Y-%m-%d}",
        "status": r.status, "status_name": statuses.get(r.status, r.status),
        "days_overdue": int(r.days_overdue) or "",
    } for r in table.itertuples()]


def _road_chart(view: GreeningView, road_id: str) -> dict:
    tasks = load_greening_tasks()
    table = view.table[view.table["road_id"] == road_id]
    return chart_spec(
        "hbar", categories=[localised(tasks.loc[c], "name") for c in table["task_code"]],
        series_list=[series(gettext("完成率"), (100 * table["done_share"]).round(1), color="#1a9850")],
        title=gettext("各项作业完成率（截至 %(day)s）", day=f"{view.as_of:%Y-%m-%d}"), unit="%", max_value=100,
        height=max(180, 26 * len(table) + 70), empty=gettext("本路今年没有计划作业"))


@bp.get("/greening")
def greening():
    view, task, offered = _greening_request()
    counts = view.issue_counts.assign(category=view.issue_counts["category_code"].map(category_names()))
    roads = [{"name": name, "rows": _road_rows(view, road_id), "chart": _road_chart(view, road_id),
              "issues": template_rows(counts[counts["road_id"] == road_id]),
              "clipped": view.clipped[view.clipped["road_id"] == road_id]}
             for road_id, name in zip(view.roads_metric["road_id"], view.roads_metric["name"])]
    chosen = {"road": request.args.get("road", ""), "season": request.args.get("season", "")}
    query = {"year": view.year, "as_of": f"{view.as_of:%Y-%m-%d}", "task": task, **chosen}
    english = current_language() == "en"
    seasons = SEASONS_EN if english else SEASONS
    tasks = load_greening_tasks()
    return render_template(
        "greening.html", view=view, roads=roads, task=task,
        task_options=list(zip(offered["code"], offered[in_language("name", current_language())])),
        task_name=localised(tasks.loc[task], "name"), seasons=seasons, chosen=chosen,
        asked_day=bool(request.args.get("as_of") or request.args.get("day")),
        day=(view.as_of - pd.Timestamp(view.year, 1, 1)).days,
        map_src=url_for("pages.greening_map") + "?" + urlencode({k: v for k, v in query.items() if v != ""}),
    )


@map_route(bp, "/maps/greening", endpoint="greening_map")
def greening_map():
    """The greening map's document: the chosen task's progress section by section."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    view, task, _offered = _greening_request()
    sections, pairs = section_view(view, task_code=task)
    tasks = load_greening_tasks()
    return build_greening_map(
        boundary=jurisdiction_boundary(),
        roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
        sections=sections, section_records=pairs, issue_count=int(view.issue_counts["n_issues"].sum()),
        source=url_for("pages.greening_map_points"), task_name=localised(tasks.loc[task], "name"),
        unit=tasks.loc[task, "unit"], as_of=view.as_of, settings=settings,
    )


@live_route(bp, "/maps/greening", endpoint="greening_map")
def greening_map_points() -> LiveIssues:
    """The greening issues on the greening map's roads (its ``year``, ``as_of`` and ``road``)."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    year = params.whole(request.args, "year", lo=MIN_YEAR, hi=MAX_YEAR)
    as_of = params.day(request.args, "as_of")
    if year is None or as_of is None:
        # the map's own address names both; without them, the page's defaults
        view, _task, _offered = _greening_request()
        year, as_of = view.year, view.as_of
    where, roads, segments = greening_issue_roads(engine, jurisdiction_code=settings.jurisdiction_code, year=year,
                                                  as_of=as_of, road=request.args.get("road") or None)
    return greening_issue_layer(where, segments=segments, roads_metric=roads,
                                category_names=category_names())
