"""The home page (the supervisors' dashboard and the overview map) and the overview map's document."""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for

from geo import store
from geo.clock import local_now
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.loop import views as loop_views
from geo.statuses import OPEN_STATUSES
from webmap.auth import current_user
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.dashboard import dashboard_charts
from webmap.i18n import category_names
from webmap.map_views import live_route, map_route
from webmap.maps.issues import issue_layer
from webmap.maps.live import LiveIssues
from webmap.maps.overview import overview_map
from webmap.pages.blueprint import bp

OPEN_ISSUES = IssueFilter(statuses=OPEN_STATUSES)


@bp.get("/")
def index():
    """Home: today's figures and the map of open issues; department users go to their queue (我的待办), the public
    to the form."""
    role = current_user()["role"]
    if role == "public":
        return redirect(url_for("pages.report_form"))
    if users.scope(role) != "all":
        return redirect(url_for("pages.crew_todo"))
    engine, settings = engine_of(current_app), settings_of(current_app)
    boundary = jurisdiction_boundary()
    view = loop_views.dashboard(engine, settings, now=local_now())
    return render_template("index.html", view=view, jurisdiction=boundary.loc[0, "name"],
                           total=store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code),
                           **dashboard_charts(view))


@map_route(bp, "/maps/overview", endpoint="overview")
def overview():
    """The overview map's document: issues per unit cell over the last year with data, the open issues (a live
    layer), roads."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    j = settings.jurisdiction_code
    counted = loop_views.overview_cells(engine, settings, now=local_now())
    communities = store.read_layer(engine, "communities", jurisdiction_code=j)
    return overview_map(
        boundary=jurisdiction_boundary(), roads=store.read_layer(engine, "roads", jurisdiction_code=j), counted=counted,
        open_count=store.count_issues(engine, jurisdiction_code=j, where=OPEN_ISSUES), settings=settings,
        community_names=dict(zip(communities["code"], communities["name"])), source=url_for("pages.overview_points"))


@live_route(bp, "/maps/overview", endpoint="overview")
def overview_points() -> LiveIssues:
    """The overview map's open issues."""
    return issue_layer(OPEN_ISSUES, category_names())
