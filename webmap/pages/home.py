"""The home page (the supervisors' dashboard and the overview map) and the overview map's document."""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for

from geo import store
from geo.clock import local_now
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.loop import views as loop_views
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy
from webmap.auth import current_user
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.dashboard import dashboard_charts
from webmap.map_views import map_route
from webmap.maps.overview import overview_map
from webmap.pages.blueprint import bp


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
    """The overview map's document: issues per unit cell, open issues, roads."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    j = settings.jurisdiction_code
    boundary = jurisdiction_boundary()
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    counts = store.count_issues_by(engine, "cell_code", jurisdiction_code=j)
    cells["count"] = cells["code"].map(counts).fillna(0).astype(int)
    communities = store.read_layer(engine, "communities", jurisdiction_code=j)
    taxonomy = load_taxonomy()
    return overview_map(
        boundary=boundary,
        roads=store.read_layer(engine, "roads", jurisdiction_code=j),
        cell_counts=cells,
        open_issues=store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(statuses=OPEN_STATUSES)),
        settings=settings,
        category_names=dict(zip(taxonomy.categories["code"], taxonomy.categories["name"])),
        community_names=dict(zip(communities["code"], communities["name"])),
    )
