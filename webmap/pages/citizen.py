"""The citizen's pages: the report form and its confirmation, 我的上报, and the public status page of a report.

The form, the confirmation and 我的上报 are on :data:`webmap.pages.blueprint.bp` (endpoints
``pages.report_form``, ``pages.report_submit``, ``pages.report_done``, ``pages.my_reports``,
``pages.my_report``, ``pages.my_report_photo``; who may open each is :data:`webmap.auth.ACCESS`).
The status page a tracking link opens is on :data:`track_bp` (``/track/<token>``), which needs no
login: the unguessable token is the key. It finds the report by the token's SHA-256
(:func:`geo.store.receipt_issue`), answers a wrong token exactly like a missing one, and is
never cached, indexed or passed on as a referrer. Everything on these pages is in plain words
(:mod:`geo.loop.citizen`): no department, actor, code or staff note.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from geo import io, store
from geo.clock import local_now
from geo.errors import NotFoundError, ValidationError
from geo.loop.citizen import common_categories, my_reports as read_my_reports, report_status
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.auth import current_user
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.i18n import page_message
from webmap.pages.blueprint import bp
from webmap.reports import create_issue, photos_dir, request_photos
from webmap.rows import template_rows

#: the public status pages of tracking links (no login)
track_bp = Blueprint("track", __name__)
#: the form field of a category chosen from the full list behind 更多 (else the short list's ``category_code``)
MORE_FIELD = "category_more"
#: the report fields the form shows again after a refusal
KEPT_FIELDS = ("lon", "lat", "category_code", MORE_FIELD, "description", "address", "phone")
_NOT_FOUND = "未找到该上报，请检查链接是否完整 (report not found: check the link)"


def _form(form: dict, *, error: tuple[str, str | None] | None = None, status: int = 200):
    """The report form, with ``form``'s values (a refused report's) and ``error`` (shown, technical detail)."""
    settings = settings_of(current_app)
    categories = load_taxonomy().categories
    groups = {major: list(zip(rows.index, rows["name"])) for major, rows in categories.groupby("major_name", sort=False)}
    common = common_categories(engine_of(current_app), settings).to_dict("records")
    chosen = form.get("category_code")
    # a category from the full list is shown there again, the list opened
    more = bool(chosen) and chosen not in {c["code"] for c in common}
    bounds = jurisdiction_boundary().total_bounds
    return render_template("report.html", common=common, groups=groups, form=form, error=error, more=more,
                           bounds=",".join(f"{v:.6f}" for v in bounds), settings=settings), status


@bp.get("/report")
def report_form():
    """The report form: where (the map, or the phone's position), what (ten common problems, all behind 更多),
    a description, photos."""
    return _form({})


@bp.post("/report")
def report_submit():
    """Store the report as an issue (source ``web``) with its receipt, then show its number, deadline and
    tracking link; a refused report shows the form again with the message and what was typed."""
    user = current_user()
    fields = {k: v for k, v in request.form.to_dict().items() if k in KEPT_FIELDS}
    fields["category_code"] = (fields.get(MORE_FIELD) or fields.get("category_code") or "").strip()
    try:
        if not fields["category_code"]:
            raise ValidationError("请选择问题类别 (choose what the problem is)")
        filed = create_issue(fields, request_photos(), actor=user["name"], user_id=user["id"])
    except ValidationError as err:
        return _form(fields, error=page_message(err.message, err.status), status=err.status)
    # the token is shown once, on the confirmation; the database keeps only its digest
    session["receipt"] = {"issue": filed.issue_id, "token": filed.token}
    return redirect(url_for("pages.report_done", issue=filed.issue_id))


def _own_status(issue_id: int):
    """The status of a report the logged-in user filed (404 for any other, like a missing one)."""
    settings = settings_of(current_app)
    engine = engine_of(current_app)
    if not store.own_report_ids(engine, jurisdiction_code=settings.jurisdiction_code, user_id=current_user()["id"],
                                ids=[issue_id]):
        raise NotFoundError(_NOT_FOUND)
    return report_status(engine, settings, issue_id, now=local_now())


@bp.get("/report/done")
def report_done():
    """The confirmation of a report: its number, the deadline, and its tracking link (shown this once)."""
    issue_id = params.whole(request.args, "issue", lo=1, hi=params.MAX_ID, required=True)
    status = _own_status(issue_id)
    receipt = session.get("receipt") or {}
    tracking = (url_for("track.status", token=receipt["token"], _external=True)
                if receipt.get("issue") == issue_id else None)
    return render_template("report_done.html", status=status, tracking=tracking)


@bp.get("/my/reports")
def my_reports():
    """我的上报: the reports the logged-in user filed, newest first, each in plain words."""
    rows = read_my_reports(engine_of(current_app), settings_of(current_app), user_id=current_user()["id"],
                           now=local_now())
    return render_template("my_reports.html", rows=rows.to_dict("records"))


@bp.get("/my/reports/<int:issue_id>")
def my_report(issue_id: int):
    """One of the user's own reports, as its status page shows it."""
    return _status_page(_own_status(issue_id), public=False,
                        photo_href=lambda name: url_for("pages.my_report_photo", issue_id=issue_id, name=name))


def _status_page(found, *, public: bool, photo_href):
    return render_template("report_status.html", status=found, public=public, photo_href=photo_href,
                           timeline=template_rows(found.timeline), timeline_public=True)


@bp.get("/my/reports/<int:issue_id>/photos/<name>")
def my_report_photo(issue_id: int, name: str):
    """An after-photo of one of the user's own reports."""
    return _after_photo(_own_status(issue_id).photos, name)


def _after_photo(photos: list[str], name: str):
    path = io.photo_file(photos_dir(settings_of(current_app)), name) if name in photos else None
    if path is None:
        raise NotFoundError(f"照片不存在 (photo {name[:80]!r} not found)")
    record = store.read_issue_photos(engine_of(current_app), file=name)
    return send_file(path, mimetype=record["content_type"].iloc[0] if len(record) else None, max_age=0)


def _tracked_status(token: str):
    settings = settings_of(current_app)
    issue_id = store.receipt_issue(engine_of(current_app), token, jurisdiction_code=settings.jurisdiction_code)
    if issue_id is None:
        raise NotFoundError(_NOT_FOUND)
    return report_status(engine_of(current_app), settings, issue_id, now=local_now())


@track_bp.get("/track/<token>")
def status(token: str):
    """The public status page of a report: its state, history and deadline in plain words, the after-photos."""
    return _status_page(_tracked_status(token), public=True,
                        photo_href=lambda name: url_for("track.photo", token=token, name=name))


@track_bp.get("/track/<token>/photos/<name>")
def photo(token: str, name: str):
    """An after-photo of the report of a tracking link."""
    return _after_photo(_tracked_status(token).photos, name)


@track_bp.after_request
def _private(response: Response) -> Response:
    """A tracking link is a key: no cache keeps its pages, no search engine lists them, no link passes it on."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
