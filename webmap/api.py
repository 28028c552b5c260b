"""The JSON/GeoJSON REST API (RFC 7946: lon/lat, 6 decimals; times RFC 3339 with +08:00).

Every route needs a login (``POST /login`` with JSON answers the CSRF token that
writes send as ``X-CSRF-Token``); who may use which route is
:data:`webmap.auth.ACCESS`, and a department user reads and changes only its own
department's issues — another's answer 404 like a missing one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from geo import accountability_jobs, io, store
from geo.errors import ValidationError
from geo.greening_pipeline import greening_view
from geo.privacy import mask_phone
from geo.workflow import apply_transition, local_now
from webmap.app import engine_of, settings_of
from webmap.auth import csrf_token, current_user, visible_issue
from webmap.issue_filters import issue_query
from webmap import reports
from webmap.timefmt import to_rfc3339

bp = Blueprint("api", __name__)

MAX_LIMIT = 10_000
#: the issue columns the API returns
ISSUE_API_COLUMNS = ("id", "source", "external_id", "category_code", "description", "address", "status",
                     "reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at",
                     "deadline_at", "rework_count", "cell_code", "segment_id", "compound_code", "community_code",
                     "grid_code", "zone_code", "department_code", "merged_into")
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def _jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as RFC 3339 text with the +08:00 offset (the database holds naive local time)."""
    frame = frame.copy()
    for column in frame.columns:
        if str(frame[column].dtype).startswith("datetime"):
            frame[column] = to_rfc3339(frame[column])
    return frame


def geojson_response(frame: gpd.GeoDataFrame, *, members: dict | None = None, status: int = 200) -> Response:
    """A FeatureCollection with coordinates rounded to 6 decimals (≈ 0.1 m), plus foreign ``members``."""
    body = _jsonable(frame).to_json(na="null", drop_id=True, to_wgs84=True, ensure_ascii=False)
    # to_json writes full precision; round through the parsed structure to keep it valid JSON
    data = json.loads(body)
    for feature in data["features"]:
        feature["geometry"] = _round(feature["geometry"])
    data.update(members or {})
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/geo+json")


def _round(geometry: dict | None) -> dict | None:
    if geometry is None:
        return None

    def walk(c):
        return round(c, 6) if isinstance(c, float) else [walk(v) for v in c]

    return {**geometry, "coordinates": walk(geometry["coordinates"])}


def _int_arg(name: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(f"{name}={raw!r}: expected a whole number") from exc
    if not lo <= value <= hi:
        raise ValidationError(f"{name}={value}: expected {lo}…{hi}")
    return value


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("send a JSON object with Content-Type: application/json")
    return data


@bp.get("/me")
def me():
    """The logged-in user and the CSRF token its writes carry (``X-CSRF-Token``)."""
    user = current_user()
    return jsonify({"name": user["name"], "role": user["role"], "department_code": user["department_code"],
                    "csrf_token": csrf_token()})


@bp.get("/issues")
def issues():
    """Issues as GeoJSON: ``bbox``, ``status``, ``category``, ``department``, ``community``, ``since``, ``until``,
    ``limit`` (1–10000, default 1000) and ``offset``; newest first; ``numberMatched`` counts every match."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    query = issue_query(request.args)
    limit = _int_arg("limit", 1000, lo=1, hi=MAX_LIMIT)
    offset = _int_arg("offset", 0, lo=0, hi=10**9)
    frame = store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, limit=limit, offset=offset,
                               newest_first=True, **query)
    matched = store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code, **query)
    return geojson_response(frame, members={"numberMatched": matched, "numberReturned": len(frame)})


def _issue_feature(issue_id: int) -> dict:
    engine = engine_of(current_app)
    frame = visible_issue(issue_id, columns=ISSUE_API_COLUMNS)
    feature = json.loads(geojson_response(frame).get_data())["features"][0]
    contact = store.read_contact(engine, issue_id) or {}
    photos = store.read_issue_photos(engine, issue_id=issue_id)["file"]
    feature["properties"].update(
        phone=mask_phone(contact.get("phone")),
        photos=[url_for("pages.photo", name=name) for name in photos],
    )
    feature["id"] = int(issue_id)
    return feature


@bp.get("/issues/<int:issue_id>")
def issue(issue_id: int):
    """One issue as a GeoJSON Feature (the reporter's phone masked, photo URLs)."""
    return Response(json.dumps(_issue_feature(issue_id), ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/issues/<int:issue_id>/events")
def issue_events(issue_id: int):
    """The audit trail of one issue, oldest first."""
    visible_issue(issue_id)
    events = _jsonable(store.read_issue_events(engine_of(current_app), issue_id))
    events = events.astype(object).where(events.notna(), None)
    return jsonify(events.to_dict("records"))


@bp.post("/issues")
def create_issue():
    """Report an issue (JSON: ``lon``, ``lat``, ``category_code``, ``description``, optional ``address``, ``phone``)."""
    issue_id = reports.create_issue(_json_body(), [], actor=current_user()["name"])
    answer = Response(json.dumps(_issue_feature(issue_id), ensure_ascii=False) if current_user()["role"] != "public"
                      else json.dumps({"id": issue_id}), status=201, mimetype="application/json")
    answer.headers["Location"] = url_for("api.issue", issue_id=issue_id)
    return answer


@bp.post("/issues/<int:issue_id>/photos")
def upload_photo(issue_id: int):
    """Upload one photo (multipart field ``photo``) for an issue; answers its name for a transition's ``photo``."""
    visible_issue(issue_id)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ValidationError("send the photo as the multipart field 'photo'")
    saved = reports.save_photos([reports.Photo(label=upload.filename, data=upload.read())],
                                 settings=settings_of(current_app))
    reports.record_photos(issue_id, saved, actor=current_user()["name"])
    return jsonify({"photo": saved[0][0], "url": url_for("pages.photo", name=saved[0][0])}), 201


@bp.post("/issues/<int:issue_id>/transitions")
def transition(issue_id: int):
    """Take a step of the closed loop: JSON ``action`` and, as the step needs, ``note``, ``photo`` (a name from
    ``POST …/photos``), ``department_code`` (dispatch), ``merge_into``, ``lon``/``lat``. 409 if another step won."""
    user = current_user()
    visible_issue(issue_id)
    body = _json_body()
    photo = body.get("photo")
    if photo is not None:
        record = store.read_issue_photos(engine_of(current_app), file=photo) if isinstance(photo, str) and \
            io.PHOTO_NAME_RE.fullmatch(photo) else None
        if record is None or record.empty or int(record.iloc[0]["issue_id"]) != issue_id:
            raise ValidationError(f"photo {str(photo)[:80]!r} is not a photo uploaded for issue {issue_id}")
    result = apply_transition(
        engine_of(current_app), issue_id, str(body.get("action", "")), actor=user["name"], role=user["role"],
        department_code=user["department_code"] if user["role"] == "department" else body.get("department_code"),
        note=body.get("note"), photo=photo, lon=body.get("lon"), lat=body.get("lat"), merge_into=body.get("merge_into"),
    )
    result["at"] = to_rfc3339(pd.Series([result["at"]])).iloc[0]
    return jsonify(result)


@bp.get("/layers/<name>")
def layer(name: str):
    """A reference layer (jurisdiction, communities, compounds, grids, zones, unit_cells, roads, segments) as GeoJSON."""
    settings = settings_of(current_app)
    bbox = request.args.get("bbox")
    frame = store.read_layer(engine_of(current_app), name, jurisdiction_code=settings.jurisdiction_code,
                             bbox=tuple(bbox.split(",")) if bbox else None)
    return geojson_response(frame)


@bp.get("/analysis/league")
def accountability():
    """The departments' figures of a month (``month=YYYY-MM``, default this month): 立案数 … 按期结案率 …"""
    raw = request.args.get("month", "").strip()
    now = local_now()
    match = _MONTH_RE.fullmatch(raw) if raw else None
    if raw and (match is None or not 1 <= int(match[2]) <= 12):
        raise ValidationError(f"month={raw!r}: expected YYYY-MM, e.g. 2025-12")
    start = datetime(int(match[1]), int(match[2]), 1) if match else datetime(now.year, now.month, 1)
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    table = accountability_jobs.league(engine_of(current_app), settings_of(current_app), start=start, end=end, now=now)
    table = table.rename_axis("department_code").reset_index()
    return jsonify({"month": f"{start:%Y-%m}", "rows": json.loads(table.to_json(orient="records", force_ascii=False))})


@bp.get("/analysis/greening")
def greening_progress():
    """Greening progress of the priority roads (``year``, ``as_of``, ``road``, ``season``) per planned stretch."""
    args = request.args
    year = args.get("year", "").strip()
    if year and not year.isdigit():
        raise ValidationError(f"year={year!r}: expected a year such as 2025")
    view = greening_view(engine_of(current_app), jurisdiction_code=settings_of(current_app).jurisdiction_code,
                         year=int(year) if year else None, as_of=args.get("as_of") or None,
                         road=args.get("road") or None, season=args.get("season") or None)
    table = _jsonable(pd.DataFrame(view.table))
    return jsonify({"year": view.year, "as_of": f"{view.as_of:%Y-%m-%d}",
                    "rows": json.loads(table.to_json(orient="records", force_ascii=False, date_format="iso"))})
