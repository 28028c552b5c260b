"""The greening page of the priority roads (plan tasks 3, 14) and its map's document."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
from flask import current_app, render_template, request, url_for

from geo import store
from geo.clock import MAX_YEAR, MIN_YEAR
from geo.errors import ValidationError
from geo.greening.tasks import SEASONS, load_greening_tasks, task_due_around
from geo.greening.views import (
    GreeningView,
    greening_view,
    progress_labelled,
    report_tables,
    section_view,
)
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.map_views import map_route
from webmap.maps.greening import greening_map as build_greening_map
from webmap.pages.blueprint import bp


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
            raise ValidationError(f"day={day}：须同时给出 year (year is needed with day)")
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


@bp.get("/greening")
def greening():
    view, task, offered = _greening_request()
    labelled = progress_labelled(view.table)
    issues = report_tables(view)["相关问题"]
    roads = [{"name": name, "table": labelled[(view.table["road_id"] == road_id).to_numpy()],
              "issues": issues[issues["道路"] == name], "clipped": view.clipped[view.clipped["road_id"] == road_id]}
             for road_id, name in zip(view.roads_metric["road_id"], view.roads_metric["name"])]
    chosen = {"road": request.args.get("road", ""), "season": request.args.get("season", "")}
    query = {"year": view.year, "as_of": f"{view.as_of:%Y-%m-%d}", "task": task, **chosen}
    return render_template(
        "greening.html", view=view, roads=roads, task=task, task_options=list(zip(offered["code"], offered["name"])),
        seasons=SEASONS, chosen=chosen,
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
    taxonomy = load_taxonomy()
    return build_greening_map(
        boundary=jurisdiction_boundary(),
        roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
        sections=sections, section_records=pairs, issues=view.issues,
        task_name=tasks.loc[task, "name"], unit=tasks.loc[task, "unit"], as_of=view.as_of, settings=settings,
        category_names=dict(zip(taxonomy.categories["code"], taxonomy.categories["name"])),
    )
