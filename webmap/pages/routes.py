"""The route page: choose a zone, a day, an issue set or a street set and vehicles; see
the routes on a map with a turn list; download GPX. Registered on
:data:`webmap.pages.blueprint.bp`.

A department user (a crew) plans for the contractor zones of its own department only
(``contractor_zones.department_code`` within its reach) and picks up only its own issues;
the other roles plan for every zone."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from urllib.parse import urlencode

import geopandas as gpd
from flask import Response, current_app, render_template, request, url_for
from flask_babel import gettext as _

from geo import store
from geo.clock import local_today
from geo.errors import CitymapError, NotFoundError
from geo.loop.crew import department_zones
from geo.routing.output import routes_gpx, turn_list
from geo.routing.views import STREET_SETS, zone_pickups, zone_sweep
from geo.routing.vrp import ISSUE_SETS, MAX_CAPACITY_M3, MAX_SHIFT_H, MAX_VEHICLES
from webmap import params
from webmap.auth import current_user, department_reach
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.i18n import category_names, page_message
from webmap.map_views import map_route
from webmap.maps.routes import routes_map
from webmap.pages.blueprint import bp
from webmap.rows import template_rows

#: the page answers within a second: PyVRP's budget per plan (the same plan then serves the page, its map and
#: its GPX) and the most stops a plan of the page takes — beyond, the page says how many there are and offers
#: the day's or the overdue ones (`citymap route pickup` plans up to geo.routing.vrp.MAX_STOPS)
WEB_TIME_LIMIT_S = 0.5
WEB_MAX_STOPS = 150
#: and stops sooner once this many of PyVRP's iterations found nothing better (a dozen stops: ~0.1 s)
WEB_STALL_ITERATIONS = 500
#: a plan is reused for the page, its map and its GPX for at most this long (seconds)
PLAN_FRESH_S = 300
JOBS = ("pickup", "sweep")
#: the parameters a crew seldom changes: the form folds them away unless one is given
ADVANCED = ("set", "issues", "streets", "vehicles", "capacity_m3", "shift_h", "speed_kmh", "oneway")


def job_names() -> dict[str, str]:
    """The jobs, the pickup issue sets and the street sets of a sweep as the page calls them."""
    return {"pickup": _("垃圾渣土清运"), "sweep": _("街道清扫")}


def issue_set_names() -> dict[str, str]:
    return {"today": _("当日上报未清运"), "open": _("全部未清运"), "overdue": _("已超时"), "chosen": _("指定问题")}


def street_set_names() -> dict[str, str]:
    return {"alleys": _("片区全部背街小巷"), "hotspots": _("问题高发路段")}


@dataclass(frozen=True)
class RouteQuery:
    """The parsed route form; hashable so plans can be cached per query."""

    job: str
    zone: str
    day: date
    issue_set: str
    issues: tuple[int, ...]
    street_set: str
    vehicles: int
    capacity_m3: float
    shift_h: float
    speed_kmh: float
    oneway: bool

    def params(self) -> dict[str, str]:
        return {"job": self.job, "zone": self.zone, "date": self.day.isoformat(), "set": self.issue_set,
                "issues": ",".join(map(str, self.issues)), "streets": self.street_set,
                "vehicles": str(self.vehicles), "capacity_m3": f"{self.capacity_m3:g}", "shift_h": f"{self.shift_h:g}",
                "speed_kmh": f"{self.speed_kmh:g}", "oneway": "1" if self.oneway else "0"}


def _query(zone_codes: list[str]) -> RouteQuery:
    args = request.args
    job = params.choice(args, "job", JOBS, default="pickup")
    if department_reach() is None:
        zone = args.get("zone") or (zone_codes[0] if zone_codes else "")
    elif not zone_codes:
        raise NotFoundError(f"本单位没有作业片区，无法规划路线 (department {current_user()['department_code']!r} has no "
                            "contractor zone)")
    else:
        zone = params.choice(args, "zone", zone_codes, default=zone_codes[0])
    return RouteQuery(
        job=job, zone=zone, day=params.day(args, "date", default=local_today()),
        issue_set=params.choice(args, "set", ISSUE_SETS, default="today"), issues=params.ids(args, "issues"),
        street_set=params.choice(args, "streets", STREET_SETS, default="alleys"),
        vehicles=params.whole(args, "vehicles", default=3, lo=1, hi=MAX_VEHICLES),
        capacity_m3=params.number(args, "capacity_m3", default=10.0, lo=0.1, hi=MAX_CAPACITY_M3, unit="m³"),
        shift_h=params.number(args, "shift_h", default=8.0, lo=0.1, hi=MAX_SHIFT_H, unit="h"),
        speed_kmh=params.number(args, "speed_kmh", default=15.0 if job == "pickup" else 10.0, lo=1, hi=120,
                                unit="km/h"),
        oneway=args.get("oneway", "1") != "0",
    )


@lru_cache(maxsize=16)
def _cached_plan(database_url: str, jurisdiction: str, query: RouteQuery, departments: tuple[str, ...] | None,
                 _period: int):
    # The page, its map and the GPX download ask for the same plan: solve it once per
    # PLAN_FRESH_S period, so piles reported since are picked up on the next period.
    engine, settings = engine_of(current_app), settings_of(current_app)
    if query.job == "pickup":
        plan = zone_pickups(engine, settings, query.zone, departments=departments, issue_set=query.issue_set,
                            on_date=query.day, max_stops=WEB_MAX_STOPS,
                            chosen=list(query.issues), vehicles=query.vehicles, capacity_m3=query.capacity_m3,
                            shift_h=query.shift_h, speed_kmh=query.speed_kmh, seed=0, time_limit_s=WEB_TIME_LIMIT_S,
                            stall_iterations=WEB_STALL_ITERATIONS)
        return plan.routes, plan.steps, plan.stops, plan.depot, None, None
    plan, graph = zone_sweep(engine, settings, query.zone, street_set=query.street_set, on_date=query.day,
                             respect_oneway=query.oneway, speed_kmh=query.speed_kmh)
    required = graph.edges[graph.edges["edge"].isin(plan.steps.loc[plan.steps["work"], "edge"])]
    x, y = graph.node_xy[plan.depot_node]
    depot = gpd.GeoDataFrame({"name": ["车场"]}, geometry=gpd.points_from_xy([x], [y]), crs=graph.crs)
    return plan.routes, plan.steps, None, depot, required, plan


def _plan(query: RouteQuery):
    settings = settings_of(current_app)
    reach = department_reach()
    return _cached_plan(settings.resolved_database_url, settings.jurisdiction_code, query,
                        None if reach is None else tuple(reach), int(time.time() // PLAN_FRESH_S))


def _zones():
    """The zones the user plans for: every one, or a department's own."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    zones = store.read_layer(engine, "zones", jurisdiction_code=settings.jurisdiction_code)
    return department_zones(zones, department_reach())


def _turns(steps: gpd.GeoDataFrame, stops: gpd.GeoDataFrame | None, *, speed_kmh: float) -> list[dict]:
    """Per vehicle: its distance and minutes, the roads in driving order and its stops, for the page to word."""
    turns = turn_list(steps, speed_kmh=speed_kmh, unnamed=_("无名道路"))
    return [{"vehicle": vehicle, "length_m": float(group["length_m"].sum()), "minutes": float(group["minutes"].sum()),
             "roads": template_rows(group),
             "stops": [] if stops is None else template_rows(stops.loc[stops["vehicle"] == vehicle,
                                                                       ["seq", "issue_id"]])}
            for vehicle, group in turns.groupby("vehicle", sort=True)]


@bp.get("/routes")
def routes():
    zones = _zones()
    query = _query(zones["code"].tolist())
    error, summary, turns, sweep = None, None, [], None
    try:
        lines, steps, stops, _depot, _required, sweep = _plan(query)
        summary = lines.drop(columns=lines.geometry.name)
        turns = _turns(steps, stops, speed_kmh=query.speed_kmh)
    except CitymapError as err:
        error = page_message(err.message, err.status)
    encoded = urlencode(query.params())
    return render_template(
        "routes.html", q=query, zones=list(zip(zones["code"], zones["name"])), jobs=job_names(),
        issue_sets=issue_set_names(), street_sets=street_set_names(), error=error, summary=summary, turns=turns,
        open_options=department_reach() is None or any(request.args.get(name) for name in ADVANCED),
        sweep=sweep, map_src=f"{url_for('pages.routes_map_page')}?{encoded}",
        gpx_href=f"{url_for('pages.routes_gpx_download')}?{encoded}",
    )


@map_route(bp, "/maps/routes", endpoint="routes_map_page")
def routes_map_page():
    """The route map's document of the plan of the query string."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    query = _query(_zones()["code"].tolist())
    lines, _steps, stops, depot, required, _sweep = _plan(query)
    return routes_map(
        boundary=jurisdiction_boundary(), roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
        routes=lines, settings=settings, depot=depot, stops=stops, required=required, category_names=category_names(),
    )


@bp.get("/routes.gpx")
def routes_gpx_download():
    query = _query(_zones()["code"].tolist())
    lines, _steps, stops, _depot, _required, _sweep = _plan(query)
    filename = f"route-{query.job}-{query.zone}-{query.day.isoformat()}.gpx"
    return Response(routes_gpx(lines, stops=stops, name=f"{job_names()[query.job]} {query.zone} {query.day}"),
                    mimetype="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
