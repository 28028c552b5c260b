"""The dispatcher's desk: the inbox (待立案, 待派遣, 待核查, 即将超期, 超期 and the departments' requests,
each count opening its list), and what the issue page adds for the dispatcher: whom to send the issue
to, its possible duplicates with a one-click merge, and the request waiting for an answer.

Registered on :data:`webmap.pages.blueprint.bp`; who may open it is :data:`webmap.auth.ACCESS`.
"""

from __future__ import annotations

from urllib.parse import urlencode

import geopandas as gpd
import pandas as pd
from flask import current_app, render_template, url_for

from geo import store
from geo.clock import local_now
from geo.loop import triage
from geo.loop.workflow import extended_deadline
from geo.statuses import OPEN_STATUSES
from webmap import params
from webmap.auth import current_user, department_reach
from webmap.context import engine_of, settings_of
from webmap.pages.blueprint import bp
from webmap.pages.names import display_names
from webmap.rows import template_row, template_rows


@bp.get("/dispatch")
def dispatch_inbox():
    """The inbox: how many issues wait in each box (counted in SQL), each a link to its list, and the requests."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    filters, counts = triage.inbox_counts(engine, settings, now=local_now(), reach=department_reach())
    links = {key: url_for("pages.issue_list") + "?" + urlencode(params.filter_query(where))
             for key, where in filters.items()}
    asked = triage.pending_requests(engine, settings)
    return render_template("dispatch.html", boxes=triage.INBOX_BOXES, counts=counts, links=links,
                           requests=template_rows(asked), names=display_names(), due_soon_h=settings.due_soon_h)


def issue_desk(issue: gpd.GeoDataFrame, requests: pd.DataFrame, actions: list[dict]) -> dict:
    """What the issue page shows besides the issue: the suggestion (when the user may dispatch it), duplicate
    candidates (when the user may merge), the issues merged into it, the pending request and, for a granted
    extension, the deadline it would give."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    row = issue.iloc[0]
    steps = {a["action"] for a in actions}
    # shown from the report on, so the dispatcher registering it already sees where it would go
    suggestion = triage.dispatch_suggestion(engine, settings, issue) \
        if any(a["sets_department"] for a in actions) or "register" in steps else None
    may_merge = "merge" in steps or (current_user()["role"] == "dispatcher" and row["status"] in OPEN_STATUSES)
    duplicates = triage.duplicate_candidates(engine, settings, issue) if may_merge else None
    pending = requests[requests["status"] == "pending"]
    pending = template_row(pending.iloc[0]) if len(pending) else None
    extended = None
    if pending is not None and pending.kind == "extension" and row["deadline_at"] is not None and \
            not pd.isna(row["deadline_at"]):
        extended, _provisional = extended_deadline(pd.Timestamp(row["deadline_at"]).to_pydatetime(), int(pending.days))
    return {"suggestion": suggestion, "duplicates": None if duplicates is None else template_rows(duplicates),
            "merged": template_rows(store.read_merged_into(engine, int(row["id"]))), "pending": pending,
            "requests": template_rows(requests), "extended": extended, "radius_m": settings.duplicate_radius_m,
            "window_h": settings.duplicate_window_h}
