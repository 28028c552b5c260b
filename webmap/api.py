"""The JSON/GeoJSON REST API (RFC 7946: lon/lat, 6 decimals; times RFC 3339 with +08:00).

Every route needs a login (``POST /login`` with JSON answers the CSRF token that
writes send as ``X-CSRF-Token``); who may use which route is
:data:`webmap.auth.ACCESS`, and a department user reads and changes only its own
department's issues — another's answer 404 like a missing one. Errors are
``{"error": message, "status": code}`` (``webmap.app``): 400 bad input or a missing
CSRF token, 401 no login, 403 a role the route is not for, 404 no such issue (or
another department's), 409 a transition that another one beat. Each route's
parameters, bodies and answers are declared for ``/openapi.json`` below.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from geo import io, store
from geo.clock import MAX_YEAR, MIN_YEAR, local_now
from geo.errors import ValidationError
from geo.greening.tasks import SEASONS
from geo.greening.views import greening_view
from geo.layers import LAYERS
from geo.loop import views as loop_views
from geo.loop.users import acting_department, role_names
from geo.loop.workflow import MAX_EXTENSION_DAYS, PHOTO_KINDS, apply_transition, load_transitions
from geo.privacy import mask_phone
from geo.statuses import ISSUE_STATUSES
from geo.taxonomy import load_taxonomy
from webmap import params, reports
from webmap.auth import csrf_token, current_user, department_reach, visible_issue
from webmap.context import engine_of, settings_of
from webmap.geojson import collection_utf8, feature_collection, feature_texts
from webmap.openapi import components, operation
from webmap.timefmt import to_rfc3339

bp = Blueprint("api", __name__)

MAX_LIMIT, DEFAULT_LIMIT = 10_000, 1000
# far beyond any jurisdiction's issues, and within the 64-bit integers both databases take for OFFSET
MAX_OFFSET = 10**9
#: the issue columns the API returns
ISSUE_API_COLUMNS = ("id", "source", "external_id", "category_code", "description", "address", "status",
                     "reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at",
                     "deadline_at", "deadline_provisional", "rework_count", "cell_code", "segment_id", "compound_code",
                     "community_code",
                     "grid_code", "zone_code", "department_code", "merged_into")
#: issue and event columns that are whole numbers (the store hands nullable ones back as floats)
_INTEGER_COLUMNS = ("id", "segment_id", "rework_count", "merged_into")


def _jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as RFC 3339 text with the +08:00 offset (the database holds naive local time), and the
    id and count columns as integers (``segment_id`` 397, not 397.0, beside a missing one)."""
    frame = frame.copy()
    for column in frame.columns:
        if str(frame[column].dtype).startswith("datetime"):
            frame[column] = to_rfc3339(frame[column])
        elif column in _INTEGER_COLUMNS:
            frame[column] = frame[column].astype("Int64")
    return frame


def geojson_response(frame: gpd.GeoDataFrame, *, members: dict | None = None, status: int = 200) -> Response:
    """A FeatureCollection (coordinates with 6 decimals, ≈ 0.1 m) with foreign ``members``."""
    return Response(feature_collection(_jsonable(frame), members=members), status=status,
                    mimetype="application/geo+json")


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("send a JSON object with Content-Type: application/json")
    return data


# --------------------------------------------------------------------------- OpenAPI description

_JSON, _GEOJSON = "application/json", "application/geo+json"
#: a login (the session cookie) reads; a write also sends the session's CSRF token
_READ = [{"sessionCookie": []}]
_WRITE = [{"sessionCookie": [], "csrfHeader": []}]
_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": "string", "nullable": True}
_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
_NULLABLE_ID = {"type": "integer", "minimum": 1, "nullable": True}
_LON = {"type": "number", "minimum": -180, "maximum": 180}
_LAT = {"type": "number", "minimum": -90, "maximum": 90}
_STATUS = {"type": "string", "enum": list(ISSUE_STATUSES)}
_CATEGORY = {"type": "string", "enum": list(load_taxonomy().categories.index)}
_ACTIONS = list(dict.fromkeys(load_transitions()["action"]))


def _schema(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _listed(name: str, description: str, items: dict, *, count: int | None = None) -> dict:
    """A query parameter of comma-separated values (exactly ``count`` of them if given)."""
    schema = {"type": "array", "minItems": count or 1, "items": items}
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
            "description": description, "schema": schema if count is None else {**schema, "maxItems": count}}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


components(
    security_schemes={"csrfHeader": {
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "the session's CSRF token (GET /api/me or a JSON POST /login answers it); POSTs send it"}},
    parameters={
        "api.bbox": _listed("bbox", "minlon,minlat,maxlon,maxlat (WGS84 degrees, min <= max)", _LON, count=4),
        "api.status": _listed("status", "statuses, or open for every open one",
                             {"type": "string", "enum": ["open", *ISSUE_STATUSES]}),
        "api.category": _listed("category", "event category codes", _CATEGORY),
        "api.department": _listed("department", "responsible department codes (a department user: of its own)",
                                 {"type": "string", "minLength": 1, "maxLength": 60}),
        "api.community": _listed("community", "12-digit community codes", {"type": "string", "pattern": "^[0-9]{12}$"}),
        "api.since": _query("since", "reported at or after: a date (2025-03-01) or an RFC 3339 date-time", _TEXT),
        "api.until": _query("until", "reported before: an RFC 3339 date-time, or a date (that whole day included)",
                            _TEXT),
        "api.limit": _query("limit", "issues per page", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                                          "default": DEFAULT_LIMIT}),
        "api.offset": _query("offset", "issues to skip", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                                          "default": 0}),
        "api.layer": {"name": "name", "in": "path", "required": True, "description": "the reference layer",
                      "schema": {"type": "string", "enum": list(LAYERS)}},
        "api.month": _query("month", f"YYYY-MM of {MIN_YEAR}…{MAX_YEAR} (default: this month)",
                            {"type": "string", "pattern": "^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"}),
        "api.year": _query("year", "the plan year (default: the latest with a plan)",
                           {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR}),
        "api.as_of": _query("as_of", "progress as of this date (default: today, or 31 December of a past year)",
                            {"type": "string", "format": "date"}),
        "api.road": _query("road", "a road's name or id (default: every road with a plan)", _TEXT),
        "api.season": _query("season", "only this season's tasks", {"type": "string", "enum": list(SEASONS)}),
    },
    schemas={
        "ApiError": {"type": "object", "required": ["error", "status"], "additionalProperties": False, "properties": {
            "error": {"type": "string", "description": "Chinese, with the English in parentheses"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599}}},
        "ApiMe": {"type": "object", "required": ["name", "role", "department_code", "csrf_token"], "properties": {
            "name": _TEXT, "role": {"type": "string", "enum": list(role_names())},
            "department_code": _NULLABLE_TEXT, "csrf_token": _TEXT}},
        "ApiPoint": {"type": "object", "required": ["type", "coordinates"], "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "minItems": 2, "maxItems": 2, "items": _LON,
                            "description": "[lon, lat], WGS84, 6 decimals"}}},
        "ApiGeometry": {"type": "object", "required": ["type"], "nullable": True, "properties": {
            "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                                                "MultiPolygon", "GeometryCollection"]},
            "coordinates": {"type": "array", "description": "lon/lat positions, WGS84, 6 decimals"},
            "geometries": {"type": "array", "items": _schema("ApiGeometry")}}},
        "ApiIssueProperties": {"type": "object", "required": ["id", "category_code", "status", "reported_at"],
                               "properties": {
            "id": {"type": "integer", "minimum": 1}, "source": _TEXT, "external_id": _NULLABLE_TEXT,
            "category_code": _CATEGORY, "description": _NULLABLE_TEXT, "address": _NULLABLE_TEXT, "status": _STATUS,
            "reported_at": {"type": "string", "format": "date-time"},
            **{f"{step}_at": _NULLABLE_TIME for step in ("registered", "dispatched", "handled", "verified", "closed",
                                                         "deadline")},
            "rework_count": {"type": "integer", "minimum": 0}, "cell_code": _NULLABLE_TEXT,
            "segment_id": {"type": "integer", "minimum": 0, "nullable": True},
            **{f"{layer}_code": _NULLABLE_TEXT for layer in ("compound", "community", "grid", "zone", "department")},
            "merged_into": _NULLABLE_ID,
            "phone": {"type": "string", "nullable": True, "description": "masked: 138****1234"},
            "photos": {"type": "array", "items": _TEXT, "description": "photo URLs"}}},
        "ApiIssue": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer", "minimum": 1},
            "geometry": _schema("ApiPoint"), "properties": _schema("ApiIssueProperties")}},
        "ApiIssues": {"type": "object", "required": ["type", "features", "numberMatched", "numberReturned"],
                      "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _schema("ApiIssue")},
            "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0}}},
        "ApiIssueId": {"type": "object", "required": ["id", "tracking_url"], "additionalProperties": False,
                       "properties": {"id": {"type": "integer", "minimum": 1},
                                      "tracking_url": {"type": "string", "format": "uri",
                                                       "description": "the report's public status page"}}},
        "ApiIssueNew": {"type": "object", "required": ["lon", "lat", "category_code", "description"], "properties": {
            "lon": _LON, "lat": _LAT, "category_code": _CATEGORY,
            "description": {"type": "string", "minLength": 1, "maxLength": reports.MAX_DESCRIPTION},
            "address": {"type": "string", "maxLength": reports.MAX_ADDRESS},
            "phone": {"type": "string", "maxLength": reports.MAX_PHONE, "description": "kept apart, never shown"}}},
        "ApiEvent": {"type": "object", "required": ["id", "at", "actor", "action", "to_status"], "properties": {
            "id": {"type": "integer", "minimum": 1, "nullable": True,
                   "description": "null for a step the issue had taken when it was imported"},
            "at": {"type": "string", "format": "date-time"},
            "actor": _TEXT, "action": {"type": "string", "enum": _ACTIONS}, "from_status": _NULLABLE_TEXT,
            "to_status": _STATUS, "note": _NULLABLE_TEXT, "photo": _NULLABLE_TEXT,
            "lon": {**_LON, "nullable": True}, "lat": {**_LAT, "nullable": True}}},
        "ApiEvents": {"type": "array", "items": _schema("ApiEvent")},
        "ApiTransition": {"type": "object", "required": ["action"], "properties": {
            "action": {"type": "string", "enum": _ACTIONS}, "note": _TEXT,
            "photo": {"type": "string", "description": "a name POST …/photos answered"},
            "department_code": {"type": "string", "description": "dispatch / reassign: where to"},
            "merge_into": {"type": "integer", "minimum": 1, "description": "merge: the issue this one duplicates"},
            "days": {"type": "integer", "minimum": 1, "maximum": MAX_EXTENSION_DAYS,
                     "description": "ask_extension: the working days asked"},
            "lon": _LON, "lat": _LAT}},
        "ApiTransitionDone": {"type": "object", "required": ["issue_id", "event_id", "action", "from_status",
                                                             "to_status", "at", "actor"], "properties": {
            "issue_id": {"type": "integer", "minimum": 1}, "event_id": {"type": "integer", "minimum": 1},
            "action": {"type": "string", "enum": _ACTIONS}, "from_status": _STATUS, "to_status": _STATUS,
            "at": {"type": "string", "format": "date-time"}, "actor": _TEXT, "department_code": _NULLABLE_TEXT,
            "deadline_at": {"type": "string", "format": "date-time", "nullable": True},
            "request_id": {"type": "integer", "nullable": True, "description": "the request asked or answered"}}},
        "ApiPhotoUpload": {"type": "object", "required": ["photo"], "properties": {
            "photo": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP"},
            "kind": {"type": "string", "enum": list(PHOTO_KINDS),
                     "description": "what it shows: the report, before or after handling, the verification"}}},
        "ApiPhoto": {"type": "object", "required": ["photo", "url"], "properties": {"photo": _TEXT, "url": _TEXT}},
        "ApiLayer": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object", "required": ["type", "geometry", "properties"],
                                                    "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                                                   "geometry": _schema("ApiGeometry"),
                                                                   "properties": {"type": "object"}}}}}},
        "ApiLeague": {"type": "object", "required": ["month", "rows"], "properties": {
            "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "rows": {"type": "array", "items": {
                "type": "object", "required": ["department_code", "name"],
                "properties": {"department_code": _TEXT, "name": _TEXT},
                "additionalProperties": {"type": "number", "nullable": True,
                                         "description": "counts, rates (%), hours and densities"}}}}},
        "ApiGreening": {"type": "object", "required": ["year", "as_of", "rows"], "properties": {
            "year": {"type": "integer"}, "as_of": {"type": "string", "format": "date"},
            "rows": {"type": "array", "items": {
                "type": "object", "required": ["road_id", "task_code", "status", "planned_m", "done_m"],
                "properties": {"road_id": _TEXT, "road_name": _TEXT, "task_code": _TEXT, "task_name": _TEXT,
                               "season": {"type": "string", "enum": list(SEASONS)}, "status": _TEXT,
                               "status_name": _TEXT, "unit": _NULLABLE_TEXT,
                               "due_date": _NULLABLE_TIME, "last_done_on": _NULLABLE_TIME,
                               **{name: {"type": "number", "nullable": True}
                                  for name in ("planned_m", "done_m", "done_by_due_m", "done_share", "quantity",
                                               "days_overdue", "n_records")}}}}}},
    },
)


def _answers(ok: str, body: dict, *errors: int) -> dict:
    """The answer ``ok`` (media type → schema) and the error statuses (401, no login, on every route)."""
    return {ok: body, **{str(status): {_JSON: "ApiError"} for status in sorted({401, *errors})}}


@bp.get("/me")
@operation(summary="The logged-in user and its CSRF token", tags=["rest"], security=_READ,
           responses=_answers("200", {_JSON: "ApiMe"}))
def me():
    """The logged-in user and the CSRF token its writes carry (``X-CSRF-Token``)."""
    user = current_user()
    return jsonify({"name": user["name"], "role": user["role"], "department_code": user["department_code"],
                    "csrf_token": csrf_token()})


@bp.get("/issues")
@operation(summary="Issues as a GeoJSON FeatureCollection, filtered and paged, newest first", tags=["rest"],
           parameters=["api.bbox", "api.status", "api.category", "api.department", "api.community", "api.since",
                       "api.until", "api.limit", "api.offset"],
           security=_READ, responses=_answers("200", {_GEOJSON: "ApiIssues"}, 400, 403))
def issues():
    """Issues as GeoJSON: ``bbox``, ``status``, ``category``, ``department``, ``community``, ``since``, ``until``,
    ``limit`` (1–10000, default 1000) and ``offset``; newest first; ``numberMatched`` counts every match."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    where = params.issue_filter(request.args).within_departments(department_reach())
    limit = params.whole(request.args, "limit", default=DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT)
    offset = params.whole(request.args, "offset", default=0, lo=0, hi=MAX_OFFSET)
    # the database writes the features (geo.store.issue_features): no frame for a page of up to 10,000
    page = store.issue_features(engine, jurisdiction_code=settings.jurisdiction_code, where=where,
                                properties=ISSUE_API_COLUMNS, feature_id=False, limit=limit, offset=offset,
                                newest_first=True, count=True)
    return Response(collection_utf8(page.features, members={"numberMatched": page.matched,
                                                            "numberReturned": len(page.ids)}),
                    mimetype="application/geo+json")


def _issue_feature(issue_id: int) -> dict:
    engine = engine_of(current_app)
    frame = visible_issue(issue_id, columns=ISSUE_API_COLUMNS)
    feature = json.loads(feature_texts(_jsonable(frame))[0])
    contact = store.read_contact(engine, issue_id) or {}
    photos = store.read_issue_photos(engine, issue_id=issue_id)["file"]
    feature["properties"].update(
        phone=mask_phone(contact.get("phone")),
        photos=[url_for("pages.photo", name=name) for name in photos],
    )
    feature["id"] = int(issue_id)
    return feature


@bp.get("/issues/<int:issue_id>")
@operation(summary="One issue as a GeoJSON Feature", tags=["rest"], security=_READ,
           responses=_answers("200", {_GEOJSON: "ApiIssue"}, 403, 404))
def issue(issue_id: int):
    """One issue as a GeoJSON Feature (the reporter's phone masked, photo URLs)."""
    return Response(json.dumps(_issue_feature(issue_id), ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/issues/<int:issue_id>/events")
@operation(summary="The audit trail of one issue", tags=["rest"], security=_READ,
           responses=_answers("200", {_JSON: "ApiEvents"}, 403, 404))
def issue_events(issue_id: int):
    """The audit trail of one issue, oldest first."""
    visible_issue(issue_id)
    events = _jsonable(store.read_issue_events(engine_of(current_app), issue_id))
    events = events.astype(object).where(events.notna(), None)
    return jsonify(events.to_dict("records"))


@bp.post("/issues")
@operation(summary="Report an issue", tags=["rest"], body={_JSON: "ApiIssueNew"}, security=_WRITE,
           responses=_answers("201", {_GEOJSON: "ApiIssue", _JSON: "ApiIssueId"}, 400, 413),
           headers={"201": {"Location": "the new issue's URL, /api/issues/{issue_id}"}})
def create_issue():
    """Report an issue (JSON: ``lon``, ``lat``, ``category_code``, ``description``, optional ``address``, ``phone``)."""
    user = current_user()
    filed = reports.create_issue(_json_body(), [], actor=user["name"], user_id=user["id"])
    issue_id = filed.issue_id
    # the public submits only: it learns the new id and its tracking link, not the stored issue
    feature = user["role"] != "public"
    answer = Response(json.dumps(_issue_feature(issue_id) if feature else {
        "id": issue_id, "tracking_url": url_for("track.status", token=filed.token, _external=True)},
        ensure_ascii=False), status=201, mimetype="application/geo+json" if feature else "application/json")
    answer.headers["Location"] = url_for("api.issue", issue_id=issue_id)
    return answer


@bp.post("/issues/<int:issue_id>/photos")
@operation(summary="Upload a photo for an issue", tags=["rest"], body={"multipart/form-data": "ApiPhotoUpload"},
           security=_WRITE, responses=_answers("201", {_JSON: "ApiPhoto"}, 400, 403, 404, 413))
def upload_photo(issue_id: int):
    """Upload one photo (multipart field ``photo``, optionally ``kind``) for an issue; answers its name for a
    transition's ``photo``."""
    visible_issue(issue_id)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ValidationError("send the photo as the multipart field 'photo'")
    kind = params.choice(request.form, "kind", PHOTO_KINDS, default="") or None
    saved = reports.save_photos([reports.Photo(label=upload.filename, data=upload.read())],
                                 settings=settings_of(current_app))
    reports.record_photos(issue_id, saved, actor=current_user()["name"], kind=kind)
    return jsonify({"photo": saved[0][0], "url": url_for("pages.photo", name=saved[0][0])}), 201


@bp.post("/issues/<int:issue_id>/transitions")
@operation(summary="Take a step of the closed loop", tags=["rest"], body={_JSON: "ApiTransition"}, security=_WRITE,
           responses=_answers("200", {_JSON: "ApiTransitionDone"}, 400, 403, 404, 409, 413))
def transition(issue_id: int):
    """Take a step of the closed loop: JSON ``action`` and, as the step needs, ``note``, ``photo`` (a name from
    ``POST …/photos``), ``department_code`` (dispatch), ``merge_into``, ``days`` (asking an extension), ``lon``/``lat``.
    409 if another step won, or the pending request does not fit the step."""
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
        department_code=acting_department(user["role"], user["department_code"], body.get("department_code")),
        note=body.get("note"), photo=photo, lon=body.get("lon"), lat=body.get("lat"), merge_into=body.get("merge_into"),
        days=body.get("days"),
    )
    for stamp in ("at", "deadline_at"):
        result[stamp] = None if result[stamp] is None else to_rfc3339(pd.Series([result[stamp]])).iloc[0]
    return jsonify(result)


@bp.get("/layers/<name>")
@operation(summary="A reference layer as a GeoJSON FeatureCollection", tags=["rest"],
           parameters=["api.layer", "api.bbox"], security=_READ, responses=_answers("200", {_GEOJSON: "ApiLayer"}, 400))
def layer(name: str):
    """A reference layer (jurisdiction, communities, compounds, grids, zones, unit_cells, roads, segments) as GeoJSON."""
    settings = settings_of(current_app)
    frame = store.read_layer(engine_of(current_app), name, jurisdiction_code=settings.jurisdiction_code,
                             bbox=params.bbox(request.args))
    return geojson_response(frame)


@bp.get("/analysis/league")
@operation(summary="The departments' accountability figures of a month", tags=["rest"], parameters=["api.month"],
           security=_READ, responses=_answers("200", {_JSON: "ApiLeague"}, 400, 403))
def accountability():
    """The departments' figures of a month (``month=YYYY-MM``, default this month): 立案数 … 按期结案率 …"""
    now = local_now()
    start, end = params.month(request.args) or params.month_span(now)
    table = loop_views.league(engine_of(current_app), settings_of(current_app), start=start, end=end, now=now)
    table = table.rename_axis("department_code").reset_index()
    return jsonify({"month": f"{start:%Y-%m}", "rows": json.loads(table.to_json(orient="records", force_ascii=False))})


@bp.get("/analysis/greening")
@operation(summary="Greening progress of the priority roads", tags=["rest"],
           parameters=["api.year", "api.as_of", "api.road", "api.season"], security=_READ,
           responses=_answers("200", {_JSON: "ApiGreening"}, 400, 403, 404))
def greening_progress():
    """Greening progress of the priority roads (``year``, ``as_of``, ``road``, ``season``) per planned stretch."""
    args = request.args
    view = greening_view(engine_of(current_app), jurisdiction_code=settings_of(current_app).jurisdiction_code,
                         year=params.whole(args, "year", lo=MIN_YEAR, hi=MAX_YEAR), as_of=params.day(args, "as_of"),
                         road=args.get("road") or None, season=args.get("season") or None)
    table = _jsonable(pd.DataFrame(view.table))
    return jsonify({"year": view.year, "as_of": view.as_of.date().isoformat(),
                    "rows": json.loads(table.to_json(orient="records", force_ascii=False, date_format="iso"))})
