"""The citizen's pages: the report form and the confirmation of a report.

Registered on :data:`webmap.pages.blueprint.bp` (endpoints ``pages.report_form``,
``pages.report_submit``, ``pages.report_done``); who may open each is :data:`webmap.auth.ACCESS`.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for

from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.auth import current_user
from webmap.context import jurisdiction_boundary, settings_of
from webmap.pages.blueprint import bp
from webmap.reports import create_issue, request_photos


@bp.get("/report")
def report_form():
    """The report form: a point on the map, a category, a description, photos."""
    settings = settings_of(current_app)
    categories = load_taxonomy().categories
    bounds = jurisdiction_boundary().total_bounds
    return render_template("report.html", categories=list(zip(categories.index, categories["name"])),
                           bounds=",".join(f"{v:.6f}" for v in bounds), settings=settings, form={})


@bp.post("/report")
def report_submit():
    """Store the report as an issue (source ``web``), then show its number."""
    issue_id = create_issue(request.form.to_dict(), request_photos(), actor=current_user()["name"])
    return redirect(url_for("pages.report_done", issue=issue_id))


@bp.get("/report/done")
def report_done():
    """The confirmation of a report: its number, and a link to it for those who may see it."""
    return render_template("report_done.html",
                           issue_id=params.whole(request.args, "issue", lo=1, hi=params.MAX_ID, required=True))
