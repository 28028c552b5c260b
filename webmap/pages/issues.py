"""Issue pages: the filtered list and its map, one issue (map, timeline, photos, the steps
the user may take, the masked phone and its logged reveal), photos. The citizen's pages are
:mod:`webmap.pages.citizen`.

Registered on :data:`webmap.pages.blueprint.bp`; who
may open each is :data:`webmap.auth.ACCESS`, and which issues they see is the user's reach.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geo import io, store
from geo.clock import local_now
from geo.errors import NotFoundError
from geo.loop.timeline import issue_timeline
from geo.loop.users import acting_department, may_act_on
from geo.loop.workflow import MAX_EXTENSION_DAYS, allowed_actions, apply_transition, load_transitions
from geo.privacy import mask_phone
from webmap import params
from webmap.auth import current_user, department_reach, visible_issue
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.map_views import live_route, map_route
from webmap.maps import issues as issue_maps
from webmap.maps.live import LiveIssues
from webmap.pages.blueprint import bp
from webmap.pages.dispatch import issue_desk
from webmap.pages.names import display_names
from webmap.reports import discard_photos, photos_dir, record_photos, request_photos, save_photos
from webmap.rows import template_row, template_rows

PAGE_SIZE = 50
LIST_COLUMNS = ("id", "category_code", "description", "address", "status", "reported_at", "deadline_at",
                "deadline_provisional", "closed_at", "handled_at", "community_code", "department_code")
DETAIL_COLUMNS = ("id", "source", "external_id", "category_code", "description", "address", "status", "reported_at",
                  "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at", "deadline_at",
                  "deadline_provisional", "rework_count", "cell_code", "segment_id", "compound_code", "community_code", "grid_code",
                  "zone_code", "department_code", "merged_into")




@bp.get("/issues")
def issue_list():
    """The issue list with filters (status, category, department, community, time) and paging."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    reach = department_reach()
    where = _list_filter()
    page = params.whole(request.args, "page", default=1, lo=1, hi=params.MAX_ID // PAGE_SIZE)
    total = store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=where)
    pages = max(1, -(-total // PAGE_SIZE))
    rows = store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=where, columns=LIST_COLUMNS,
                              newest_first=True, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    now = local_now()
    rows["overdue"] = (rows["deadline_at"] < now) & rows["status"].isin(("reported", "registered", "dispatched"))
    kept = {k: request.args.get(k, "") for k in params.ISSUE_FILTER_NAMES if request.args.get(k)}
    names = display_names()
    return render_template(
        "issues.html", rows=template_rows(rows), total=total, page=page, pages=pages, chosen=kept, names=names,
        statuses=load_transitions()[["from", "to"]].stack().unique().tolist(),
        departments=[(c, n) for c, n in names["department"].items() if reach is None or c in reach],
        page_href=lambda p: url_for("pages.issue_list", **kept, page=p),
        clear_due=url_for("pages.issue_list", **{k: v for k, v in kept.items() if not k.startswith("due_")}),
        map_src=url_for("pages.issues_map") + ("?" + urlencode(kept) if kept else ""),
    )


def _list_filter():
    return params.issue_filter(request.args).within_departments(department_reach())


@map_route(bp, "/maps/issues", endpoint="issues_map")
def issues_map():
    """The map document of the issue list's filter: its issues as a live layer."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    total = store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=_list_filter())
    return issue_maps.issue_list_map(
        boundary=jurisdiction_boundary(), roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
        settings=settings, source=url_for("pages.issues_map_points"), title=f"{_('问题列表')}（{total}）", total=total)


@live_route(bp, "/maps/issues", endpoint="issues_map")
def issues_map_points() -> LiveIssues:
    """The issues of the list's filter, as the list's map shows them."""
    return issue_maps.issue_layer(_list_filter(), display_names()["category"])


def _actions(issue, *, pending: str | None = None) -> list[dict]:
    """The steps the current user may take on the issue now (its pending request's kind: ``pending``), with
    what each needs."""
    user = current_user()
    if not may_act_on(user["role"], user["department_code"], issue["department_code"]):
        return []
    table = load_transitions()
    codes = allowed_actions(issue["status"], user["role"], pending=pending)
    rows = table[table["action"].isin(codes)].drop_duplicates("action")
    return rows[["action", "name", "name_en", "needs_note", "needs_photo", "sets_department", "photos", "request",
                 "request_kind"]].to_dict("records")


def _requests(issue_id: int):
    """The issue's requests (退回, 延期), oldest first, and the kind of the pending one (None: none waits)."""
    requests = store.read_requests(engine_of(current_app), jurisdiction_code=settings_of(current_app).jurisdiction_code,
                                   issue_ids=[issue_id])
    pending = requests.loc[requests["status"] == "pending", "kind"]
    return requests, (pending.iloc[0] if len(pending) else None)


def _issue_view(issue_id: int, *, revealed: str | None = None) -> str:
    engine = engine_of(current_app)
    frame = visible_issue(issue_id, columns=DETAIL_COLUMNS)
    issue = frame.iloc[0]
    events = store.read_issue_events(engine, issue_id)
    photos = store.read_issue_photos(engine, issue_id=issue_id)
    contact = store.read_contact(engine, issue_id) or {}
    user = current_user()
    requests, pending = _requests(issue_id)
    actions = _actions(issue, pending=pending)
    names = display_names()
    return render_template(
        "issue.html", issue=template_row(issue), lon=issue.geometry.x, lat=issue.geometry.y,
        timeline=template_rows(issue_timeline(issue, events, department_names=names["department"])),
        photos=template_rows(photos[["file", "kind"]]), names=names, actions=actions,
        desk=issue_desk(frame, requests, actions), max_days=MAX_EXTENSION_DAYS,
        event_photo=lambda name: isinstance(name, str) and bool(io.PHOTO_NAME_RE.fullmatch(name)),
        masked_phone=mask_phone(contact.get("phone")), revealed=revealed,
        can_reveal=bool(contact.get("phone")) and user["role"] == "dispatcher",
        now=local_now(),
    )


@bp.get("/issues/<int:issue_id>")
def issue_page(issue_id: int):
    """One issue: its map, category, department, deadline, timeline, photos and the steps the user may take."""
    return _issue_view(issue_id)


@map_route(bp, "/maps/issues/<int:issue_id>", endpoint="issue_map")
def issue_map(issue_id: int):
    """The map document of one issue and its surroundings."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    frame = visible_issue(issue_id)
    return issue_maps.issues_map(
        boundary=jurisdiction_boundary(), roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
        issues=frame, settings=settings, category_names=display_names()["category"], title=f"#{issue_id}")


#: where a step taken from a page leads: the issue's page, the merge target's page, the crew's queue (or, when
#: the issue stays in it, the crew's page of the issue)
BACK_TO = ("issue", "master", "todo")


@bp.post("/issues/<int:issue_id>/transitions")
def issue_transition(issue_id: int):
    """Take a step of the closed loop from a page: its photos come as files ``photo_<kind>`` of the kinds
    the step takes (handling: before and after), ``days`` with an extension asked for; ``back`` says
    which page follows (:data:`BACK_TO`)."""
    user = current_user()
    visible_issue(issue_id)
    form = request.form
    action = form.get("action", "")
    merge_into = params.whole(form, "merge_into", lo=1, hi=params.MAX_ID)
    days = params.whole(form, "days", lo=1, hi=MAX_EXTENSION_DAYS)
    back = params.choice(form, "back", BACK_TO, default="issue")
    settings = settings_of(current_app)
    table = load_transitions()
    kinds = table.loc[table["action"] == action, "photos"].iloc[0] if (table["action"] == action).any() else ()
    saved: dict[str, list[tuple[str, str, int]]] = {}
    try:
        for kind in kinds:
            files = request_photos(f"photo_{kind}")[:1]
            if files:
                saved[kind] = save_photos(files, settings=settings)
        done = apply_transition(
            engine_of(current_app), issue_id, action, actor=user["name"], role=user["role"],
            department_code=acting_department(user["role"], user["department_code"], form.get("department_code") or None),
            note=form.get("note") or None, photo=saved[kinds[-1]][0][0] if kinds and kinds[-1] in saved else None,
            merge_into=merge_into, days=days)
    except Exception:
        for files in saved.values():
            discard_photos(files, settings=settings)
        raise
    for kind, files in saved.items():
        record_photos(issue_id, files, actor=user["name"], kind=kind)
    if back == "todo":
        # handled: back to the queue it left; a request asked: the issue again, with its answer to come
        return redirect(url_for("pages.crew_todo", done=issue_id) if done["to_status"] != done["from_status"]
                        else url_for("pages.crew_issue", issue_id=issue_id))
    return redirect(url_for("pages.issue_page", issue_id=merge_into if back == "master" and merge_into else issue_id))


@bp.post("/issues/<int:issue_id>/phone")
def reveal_phone(issue_id: int):
    """Show the reporter's full phone number to a dispatcher; each reveal is logged (who, when, which issue)."""
    visible_issue(issue_id)
    phone = store.reveal_phone(engine_of(current_app), issue_id, user_name=current_user()["name"], at=local_now(),
                               ip=request.remote_addr)
    if phone is None:
        raise NotFoundError(f"问题 #{issue_id} 没有联系电话 (no phone number recorded)")
    return _issue_view(issue_id, revealed=phone)


@bp.get("/photos/<name>")
def photo(name: str):
    """A stored photo, to users who may see its issue."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    record = store.read_issue_photos(engine, file=name) if io.PHOTO_NAME_RE.fullmatch(name) else None
    if record is None or record.empty:
        raise NotFoundError(f"photo {name[:80]!r} not found")
    visible_issue(int(record.iloc[0]["issue_id"]))
    path = io.photo_file(photos_dir(settings), name)
    if path is None:
        raise NotFoundError(f"photo {name[:80]!r} not found")
    return send_file(path, mimetype=record.iloc[0]["content_type"], max_age=0)
