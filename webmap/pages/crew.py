"""The crew's phone pages: 我的待办 (its issues waiting for handling as cards, the overdue and due-soon
first, with deadline, category, address, distance and navigation links) and one issue to handle (before
and after photos, a note; or asking for more time or to send it back).

Registered on :data:`webmap.pages.blueprint.bp`; :data:`webmap.auth.ACCESS` opens them to department
users, who see only their own issues (:func:`webmap.auth.department_reach`).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import current_app, render_template, request

from geo import store
from geo.clock import local_now
from geo.crs import wgs84_to_gcj02
from geo.loop import crew
from geo.loop.workflow import MAX_EXTENSION_DAYS
from webmap import params
from webmap.auth import department_reach, visible_issue
from webmap.context import engine_of, settings_of
from webmap.pages.blueprint import bp
from webmap.pages.issues import _actions, _requests
from webmap.pages.names import display_names
from webmap.rows import template_row, template_rows

#: cards on one page of the queue
PAGE_SIZE = 30


def navigation_links(*, lon: float, lat: float, gcj_lon: float, gcj_lat: float, label: str) -> dict[str, str]:
    """Where a phone's map app takes the crew: a ``geo:`` URI (RFC 5870, WGS84) and AMap's navigation URI
    (GCJ-02 coordinates, ``coordinate=gaode``); ``label`` names the destination."""
    amap = urlencode({"to": f"{gcj_lon:.6f},{gcj_lat:.6f},{label}", "mode": "car", "coordinate": "gaode",
                      "callnative": "1", "src": "citymap"}, quote_via=quote)
    return {"geo": f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(label)})",
            "amap": f"https://uri.amap.com/navigation?{amap}"}


def _zones(reach: list[str] | None):
    settings = settings_of(current_app)
    zones = store.read_layer(engine_of(current_app), "zones", jurisdiction_code=settings.jurisdiction_code)
    return crew.department_zones(zones, reach)


@bp.get("/todo")
def crew_todo():
    """我的待办: the department's issues waiting for handling, earliest deadline first, a page of cards."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    reach = department_reach()
    page = params.whole(request.args, "page", default=1, lo=1, hi=params.MAX_ID // PAGE_SIZE)
    done = params.whole(request.args, "done", lo=1, hi=params.MAX_ID)
    queue = crew.crew_queue(engine, settings, departments=reach, now=local_now(), limit=PAGE_SIZE,
                            offset=(page - 1) * PAGE_SIZE)
    names = display_names()
    cards = template_rows(queue.issues.drop(columns="geometry"))
    for card in cards:
        card.links = navigation_links(lon=card.lon, lat=card.lat, gcj_lon=card.gcj_lon, gcj_lat=card.gcj_lat,
                                      label=f"#{card.id} {names['category'].get(card.category_code, '')}")
    zones = _zones(reach)
    return render_template("todo.html", queue=queue, cards=cards, names=names, page=page,
                           pages=max(1, -(-queue.total // PAGE_SIZE)), done=done,
                           zones=list(zip(zones["code"], zones["name"])), due_soon_h=settings.due_soon_h)


@bp.get("/todo/<int:issue_id>")
def crew_issue(issue_id: int):
    """One issue on the crew's phone: what and where, how to get there, and the forms to handle it, ask for
    more time or send it back."""
    issue = visible_issue(issue_id, columns=crew.QUEUE_COLUMNS).iloc[0]
    requests, pending = _requests(issue_id)
    names = display_names()
    photos = store.read_issue_photos(engine_of(current_app), issue_id=issue_id)
    events = store.read_issue_events(engine_of(current_app), issue_id)
    gcj_lon, gcj_lat = wgs84_to_gcj02([issue.geometry.x], [issue.geometry.y])
    links = navigation_links(lon=issue.geometry.x, lat=issue.geometry.y, gcj_lon=float(gcj_lon[0]),
                             gcj_lat=float(gcj_lat[0]), label=f"#{issue_id} {names['category'].get(issue['category_code'], '')}")
    return render_template("todo_issue.html", issue=template_row(issue), names=names, links=links,
                           actions=_actions(issue, pending=pending), requests=template_rows(requests),
                           photos=template_rows(photos[["file", "kind"]]), now=local_now(),
                           urged=template_rows(events[events["action"] == "urge"]),
                           max_days=MAX_EXTENSION_DAYS)
