"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``.

This module owns the protocol and its mapping to citymap's model:

* services are the event categories of ``geo.taxonomy`` (service_code = the 5-digit
  GB/T 47678.5 code; group = the major class); none has extra attributes
  (``metadata`` false), so a service definition has an empty attribute list;
* a service request is an issue; ``status`` is ``open`` while the issue is in the
  closed loop (上报 … 核查) and ``closed`` once it is closed, refused or merged, with
  the precise stage in ``status_notes``; ``agency_responsible`` is the assigned
  department; ``expected_datetime`` is the deadline;
* POST creates an issue (source ``open311``) through the same assignment and
  deadline rules as every import, in one transaction; the reporter's phone
  (normalised; one that is not a phone number is refused), e-mail and name go to
  ``reporter_contacts`` and are never output. Requests are created at
  once, so the answer carries the ``service_request_id``; its ``token`` (the issue's
  external id) also resolves through ``tokens/{token}``.

Every endpoint answers in ``.json`` (bare arrays, as in the spec) or ``.xml``;
errors are arrays of ``code`` + ``description`` with status 400, 403 or 404.
``jurisdiction_id`` is optional and, when given, must be the configured
sub-district code. Discovery and services are open to all. Reading requests
(``requests``, ``requests/{id}``, ``tokens/{id}``) depends on the setting
``open311_public_read``:

* off (the default): it needs a login or an API key (``api_key`` parameter or
  ``X-API-Key`` header; :func:`webmap.auth.api_caller`) and answers the issues its
  user's role reads (:func:`webmap.auth.department_reach`) plus the requests filed with
  that key or by that user (``report_receipts``): a request of another department is
  answered like a missing one, a ``public`` key reads its own only, no key at all is a 403;
* on: every request is read without a key, as the spec has it, with public fields only —
  the contacts never appear anyway and phone-shaped text is masked for every caller;
  ``token`` is shown only to a caller who may read the request in full as above.

Creating needs an API key (any valid one; a login does not do, as Open311 forms carry
no CSRF token): ``citymap api-key create NAME --user USER``; the answer's
``service_notice`` carries the request's tracking link (the citizen's status page).
Timestamps are W3C date-times with the +08:00 offset.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from flask import Blueprint, Response, current_app, request, url_for

from geo import store
from geo.clock import local_now
from geo.errors import CitymapError, ForbiddenError, NotFoundError, ValidationError
from geo.io import ingest
from geo.issue_filter import IssueFilter
from geo.privacy import mask_phones, normalise_phone
from geo.statuses import OPEN_STATUSES, STATUS_LABELS
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.auth import API_KEY_SECURITY, api_caller, api_key_user, department_reach
from webmap.context import engine_of, layers_of, settings_of
from webmap.openapi import components, operation
from webmap.timefmt import to_rfc3339

bp = Blueprint("open311", __name__)

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
#: when this API's behaviour last changed (discovery's ``changeset``)
CHANGESET = "2026-11-28T00:00:00+08:00"
FORMATS = {"json": "application/json", "xml": "text/xml"}
FMT = "<any(json, xml):fmt>"
SOURCE = "open311"
#: the spec's default and largest window of ``GET requests``
WINDOW = timedelta(days=90)
#: the most requests one ``GET requests`` returns, newest first
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
#: our statuses that Open311 calls closed; the rest of the loop is open
CLOSED_STATUSES = ("closed", "refused", "merged")
#: XML element name of the items of a list-valued field
_XML_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
_REQUEST_COLUMNS = (*store.ISSUE_READ_COLUMNS, "registered_at", "dispatched_at", "handled_at", "verified_at")


# --------------------------------------------------------------------------- OpenAPI description

ERRORS = "Open311Errors"
_TEXT, _NULLABLE_TEXT = {"type": "string"}, {"type": "string", "nullable": True}
_QUERY = {
    "jurisdiction_id": "the sub-district code; optional, this endpoint serves one",
    "service_request_id": "comma-separated ids; overrides the other filters",
    "service_code": "comma-separated service codes",
    "start_date": "earliest requested_datetime (W3C date-time)",
    "end_date": "latest requested_datetime (W3C date-time); at most 90 days after start_date",
    "status": "open, closed or open,closed",
}
components(
    parameters={f"open311.{name}": {"name": name, "in": "query", "required": False,
                                    "description": description, "schema": _TEXT}
                for name, description in _QUERY.items()},
    schemas={
        ERRORS: {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
            "code": {"type": "integer"}, "description": _TEXT}}},
        "Open311Discovery": {"type": "object", "required": ["changeset", "endpoints"], "properties": {
            "changeset": _TEXT, "contact": _TEXT, "key_service": _TEXT, "endpoints": {"type": "array", "items": {
                "type": "object", "required": ["specification", "url", "formats"], "properties": {
                    "specification": _TEXT, "url": _TEXT, "changeset": _TEXT, "type": _TEXT,
                    "formats": {"type": "array", "items": _TEXT}}}}}},
        "Open311Services": {"type": "array", "items": {
            "type": "object", "required": ["service_code", "service_name", "metadata", "type"], "properties": {
                "service_code": _TEXT, "service_name": _TEXT, "description": _TEXT, "metadata": {"type": "boolean"},
                "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]}, "keywords": _TEXT,
                "group": _TEXT}}},
        "Open311ServiceDefinition": {"type": "object", "required": ["service_code", "attributes"], "properties": {
            "service_code": _TEXT, "attributes": {"type": "array", "items": {"type": "object"}}}},
        "Open311Requests": {"type": "array", "items": {
            "type": "object", "required": ["service_request_id", "status", "service_code", "lat", "long"],
            "properties": {
                "service_request_id": {"type": "integer"}, "token": _NULLABLE_TEXT,
                "status": {"type": "string", "enum": ["open", "closed"]}, "status_notes": _NULLABLE_TEXT,
                "service_name": _NULLABLE_TEXT, "service_code": _TEXT, "description": _NULLABLE_TEXT,
                "agency_responsible": _NULLABLE_TEXT, "service_notice": _NULLABLE_TEXT,
                "requested_datetime": _TEXT, "updated_datetime": _NULLABLE_TEXT,
                "expected_datetime": _NULLABLE_TEXT, "address": _NULLABLE_TEXT, "address_id": _NULLABLE_TEXT,
                "zipcode": _NULLABLE_TEXT, "lat": {"type": "number"}, "long": {"type": "number"},
                "media_url": _NULLABLE_TEXT}}},
        "Open311Tokens": {"type": "array", "items": {"type": "object", "required": ["service_request_id", "token"],
                                                     "properties": {"service_request_id": {"type": "integer"},
                                                                    "token": _TEXT}}},
        "Open311Created": {"type": "array", "items": {
            "type": "object", "required": ["service_request_id"], "properties": {
                "service_request_id": {"type": "integer"}, "token": _TEXT, "service_notice": _NULLABLE_TEXT,
                "account_id": _NULLABLE_TEXT}}},
        "Open311CreateForm": {"type": "object", "required": ["api_key", "service_code"], "properties": {
            "api_key": _TEXT, "jurisdiction_id": _TEXT, "service_code": _TEXT,
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            **{name: _TEXT for name in ("address_string", "description", "email", "phone", "first_name",
                                        "last_name", "device_id", "account_id", "media_url")}}},
    },
)


def _params(*names: str) -> list[str]:
    return [f"open311.{name}" for name in names]


def _answers(by_status: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Every answer comes as JSON (described by the schema) or as XML."""
    return {status: {FORMATS["json"]: schema, FORMATS["xml"]: None} for status, schema in by_status.items()}


# --------------------------------------------------------------------------- wire formats

def _xml_fill(parent: ET.Element, record: dict) -> None:
    for key, value in record.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            for item in value:
                element = ET.SubElement(child, _XML_ITEMS[key])
                if isinstance(item, dict):
                    _xml_fill(element, item)
                else:
                    element.text = str(item)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def _respond(data: list[dict] | dict | pd.DataFrame, fmt: str, *, root: str, item: str | None = None,
             status: int = 200) -> Response:
    """The spec's shape: a bare JSON array (or object), or ``<root><item>…</item></root>`` XML.

    A DataFrame is a list of records; its JSON is written by pandas in one call (a
    thousand requests: ~2 ms instead of ~12 ms through dicts).
    """
    if isinstance(data, pd.DataFrame):
        if fmt != "xml":
            return Response(data.to_json(orient="records", force_ascii=False, double_precision=15), status=status,
                            mimetype=FORMATS[fmt])
        data = data.astype(object).where(data.notna(), None).to_dict("records")
    if fmt == "xml":
        element = ET.Element(root)
        if item is None:
            _xml_fill(element, data)
        else:
            for record in data:
                _xml_fill(ET.SubElement(element, item), record)
        body = '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="unicode")
    else:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype=FORMATS[fmt])


@bp.errorhandler(CitymapError)
def render_error(err: CitymapError):
    """Errors as the spec gives them: ``[{"code": 404, "description": "…"}]``, in the format asked for."""
    fmt = (request.view_args or {}).get("fmt") or ("xml" if request.path.endswith(".xml") else "json")
    return _respond([{"code": err.status, "description": err.message}], fmt, root="errors", item="error",
                    status=err.status)


def _check_jurisdiction() -> str:
    code = settings_of(current_app).jurisdiction_code
    given = request.values.get("jurisdiction_id")
    if given not in (None, "", code):
        raise NotFoundError(f"jurisdiction_id {given!r} not found; this endpoint serves {code}")
    return code


# --------------------------------------------------------------------------- discovery and services

@bp.get(f"/discovery.{FMT}")
@operation(summary="Open311 discovery: where the endpoint is, its formats", tags=["open311"],
           responses=_answers({"200": "Open311Discovery"}))
def discovery(fmt: str):
    """The spec's service discovery document."""
    jurisdiction = store.read_layer(engine_of(current_app), "jurisdiction",
                                    jurisdiction_code=settings_of(current_app).jurisdiction_code)
    name = jurisdiction["name"].iloc[0] if len(jurisdiction) else ""
    data = {
        "changeset": CHANGESET,
        "contact": f"{name}网格中心",
        "key_service": "API key 由系统管理员发放（citymap api-key create 名称 --user 用户名）",
        "endpoints": [{"specification": SPEC_URL, "url": url_for("open311.discovery", fmt=fmt, _external=True)
                       .rsplit("/", 1)[0], "changeset": CHANGESET, "type": "production",
                       "formats": list(FORMATS.values())}],
    }
    return _respond(data, fmt, root="discovery")


def _services() -> pd.DataFrame:
    taxonomy = load_taxonomy()
    categories = taxonomy.categories
    keywords = taxonomy.synonyms.groupby("code")["text"].agg(",".join)
    leads = categories["lead_department"].map(taxonomy.departments["name"])
    return pd.DataFrame({
        "service_code": categories["code"],
        "service_name": categories["name"],
        "description": categories["major_name"] + "：" + categories["name"] + "（牵头：" + leads + "）",
        "metadata": False,
        "type": "realtime",
        "keywords": categories["code"].map(keywords).fillna(""),
        "group": categories["major_name"],
    })


@bp.get(f"/services.{FMT}")
@operation(summary="Open311 service list: our event categories", tags=["open311"],
           parameters=_params("jurisdiction_id"), responses=_answers({"200": "Open311Services", "404": ERRORS}))
def services(fmt: str):
    """Every event category as an Open311 service."""
    _check_jurisdiction()
    return _respond(_services().to_dict("records"), fmt, root="services", item="service")


@bp.get(f"/services/<code>.{FMT}")
@operation(summary="Open311 service definition (no extra attributes)", tags=["open311"],
           parameters=_params("jurisdiction_id"),
           responses=_answers({"200": "Open311ServiceDefinition", "404": ERRORS}))
def service_definition(code: str, fmt: str):
    """A service's definition: its code and (none of) its attributes."""
    _check_jurisdiction()
    if code not in load_taxonomy().categories.index:
        raise NotFoundError(f"service_code {code!r} not found")
    return _respond({"service_code": code, "attributes": []}, fmt, root="service_definition")


# --------------------------------------------------------------------------- requests

def _requests(frame: gpd.GeoDataFrame, full: pd.Series) -> pd.DataFrame:
    """Issues (with :data:`_REQUEST_COLUMNS`) → Open311 service requests; free text masked, the ``token`` only
    where ``full`` (the caller reads the request in full, not only its public fields)."""
    taxonomy = load_taxonomy()
    departments = taxonomy.departments["name"]
    department = frame["department_code"].astype("string")
    # "community:<code>" is a community's own team (geo.frames.assign): the communities' department, naming the community.
    community = department.str.startswith("community:", na=False)
    agency = department.map(departments).mask(
        community, departments.get("communities", "") + "（" + department.str.removeprefix("community:") + "）")
    updated = frame[["reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at",
                     "closed_at"]].max(axis=1)
    out = pd.DataFrame({
        "service_request_id": frame["id"].astype(int),
        "token": frame["external_id"].where((frame["source"] == SOURCE) & full.to_numpy()),
        "status": np.where(frame["status"].isin(CLOSED_STATUSES), "closed", "open"),
        "status_notes": frame["status"].map(STATUS_LABELS),
        "service_name": frame["category_code"].map(taxonomy.categories["name"]),
        "service_code": frame["category_code"],
        "description": mask_phones(frame["description"]),
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": to_rfc3339(frame["reported_at"]),
        "updated_datetime": to_rfc3339(updated),
        "expected_datetime": to_rfc3339(frame["deadline_at"]),
        "address": mask_phones(frame["address"]),
        "address_id": None,
        "zipcode": None,
        "lat": np.round(frame.geometry.y.to_numpy(), 6),
        "long": np.round(frame.geometry.x.to_numpy(), 6),
        "media_url": None,
    })
    return out


def _window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """[since, until) of ``GET requests``: the spec's 90-day default and limit."""
    since = params.instant(start, name="start_date")[0] if start else None
    until = None
    if end:
        until, whole_day = params.instant(end, name="end_date")
        until += timedelta(days=1) if whole_day else timedelta(seconds=1)
    if since is None and until is None:
        until = local_now() + timedelta(seconds=1)
    since = until - WINDOW if since is None else since
    until = since + WINDOW if until is None else until
    if until <= since:
        raise ValidationError(f"end_date {end!r} is before start_date {start!r}")
    if until - since > WINDOW + timedelta(days=1):
        raise ValidationError(f"start_date {start!r} to end_date {end!r} spans more than 90 days")
    return since, until


@dataclass(frozen=True)
class _Reader:
    """Who reads service requests: the departments it reads in full (None: all), the user and key it files
    requests as, and whether every request is public (``open311_public_read``)."""

    reach: list[str] | None
    user_id: int | None
    key_id: int | None
    public: bool

    def own(self, where: IssueFilter) -> list[int]:
        """Its own requests (filed with its key or by its user) that ``where`` may select, newest first."""
        # a receipt is written right after its issue: a day either side of the period holds them all
        slack = timedelta(days=1)
        return store.own_report_ids(
            engine_of(current_app), jurisdiction_code=settings_of(current_app).jurisdiction_code,
            user_id=self.user_id, api_key_id=self.key_id, ids=where.ids, limit=MAX_REQUESTS,
            since=None if where.since is None else where.since - slack,
            until=None if where.until is None else where.until + slack)


def _reader() -> _Reader:
    """The caller of a read; without a login or key, a 403 unless every request is public."""
    public = settings_of(current_app).open311_public_read
    user = api_caller()
    if user is None:
        if not public:
            raise ForbiddenError("读取服务请求需要 api_key 或登录 (an api_key is needed to read service requests)")
        return _Reader(reach=[], user_id=None, key_id=None, public=True)
    return _Reader(reach=department_reach(user), user_id=user.get("id"), key_id=user.get("key_id"), public=public)


def _read(where: IssueFilter, reader: _Reader) -> pd.DataFrame:
    """The service requests ``where`` selects that ``reader`` may read, newest first (at most MAX_REQUESTS)."""
    engine, code = engine_of(current_app), settings_of(current_app).jurisdiction_code

    def query(chosen: IssueFilter) -> gpd.GeoDataFrame:
        return store.query_issues(engine, jurisdiction_code=code, where=chosen, columns=_REQUEST_COLUMNS,
                                  newest_first=True, limit=MAX_REQUESTS)

    if reader.public or reader.reach is None:
        frame = query(where)
    else:
        own = reader.own(where)
        frames = [query(replace(where, departments=reader.reach)), *([query(replace(where, ids=own))] if own else [])]
        frame = pd.concat(frames).drop_duplicates("id").astype({"id": "int64"})
        frame = frame.sort_values(["reported_at", "id"], ascending=False).head(MAX_REQUESTS)
    ids = [int(i) for i in frame["id"]]
    full = pd.Series(True, index=frame.index) if reader.reach is None else (
        frame["department_code"].isin(reader.reach) | frame["id"].isin(reader.own(IssueFilter(ids=ids))))
    return _requests(frame, full)


def _split(name: str) -> list[str] | None:
    raw = request.args.get(name)
    return [part.strip() for part in raw.split(",") if part.strip()] if raw else None


@bp.get(f"/requests.{FMT}")
@operation(summary="Open311 service requests, newest first (at most 1000, within 90 days)", tags=["open311"],
           parameters=_params("jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status"),
           responses=_answers({"200": "Open311Requests", "400": ERRORS, "403": ERRORS, "404": ERRORS}),
           security=API_KEY_SECURITY)
def requests_list(fmt: str):
    """Service requests filtered as the spec says; ``service_request_id`` overrides the other filters."""
    _check_jurisdiction()
    reader = _reader()
    ids = _split("service_request_id")
    if ids is not None:
        if not all(i.isdigit() for i in ids):
            raise ValidationError(f"service_request_id={request.args['service_request_id']!r}: expected ids such as 12,15")
        return _respond(_read(IssueFilter(ids=[int(i) for i in ids if len(i) < 12]), reader), fmt,
                        root="service_requests", item="request")
    codes = _split("service_code")
    known = load_taxonomy().categories.index
    unknown = [c for c in codes or [] if c not in known]
    if unknown:
        raise ValidationError(f"service_code {', '.join(unknown)!r} not found")
    statuses = _split("status")
    if statuses is not None and not set(statuses) <= {"open", "closed"}:
        raise ValidationError(f"status={request.args['status']!r}: expected open, closed or both")
    ours = None if statuses is None else [
        *(OPEN_STATUSES if "open" in statuses else ()), *(CLOSED_STATUSES if "closed" in statuses else ())]
    since, until = _window(request.args.get("start_date"), request.args.get("end_date"))
    return _respond(_read(IssueFilter(categories=codes, statuses=ours, since=since, until=until), reader), fmt,
                    root="service_requests", item="request")


@bp.get(f"/requests/<request_id>.{FMT}")
@operation(summary="One Open311 service request", tags=["open311"], parameters=_params("jurisdiction_id"),
           responses=_answers({"200": "Open311Requests", "403": ERRORS, "404": ERRORS}), security=API_KEY_SECURITY)
def request_one(request_id: str, fmt: str):
    """One service request, as a one-element array (one the caller may not read is not found)."""
    _check_jurisdiction()
    reader = _reader()
    found = _read(IssueFilter(ids=[int(request_id)]), reader) if request_id.isdigit() and len(request_id) < 12 else None
    if found is None or found.empty:
        raise NotFoundError(f"service_request_id {request_id!r} not found")
    return _respond(found, fmt, root="service_requests", item="request")


@bp.get(f"/tokens/<token>.{FMT}")
@operation(summary="The service request id of a token", tags=["open311"], parameters=_params("jurisdiction_id"),
           responses=_answers({"200": "Open311Tokens", "403": ERRORS, "404": ERRORS}), security=API_KEY_SECURITY)
def token(token: str, fmt: str):
    """``[{"service_request_id": …, "token": …}]`` for a token a POST returned (of a request the caller reads)."""
    code = _check_jurisdiction()
    reader = _reader()
    issue_id = store.issue_id_of(engine_of(current_app), jurisdiction_code=code, source=SOURCE, external_id=token)
    if issue_id is None or _read(IssueFilter(ids=[issue_id]), reader).empty:
        raise NotFoundError(f"token {token!r} not found")
    return _respond([{"service_request_id": int(issue_id), "token": token}], fmt, root="service_requests",
                    item="request")


def _location(layers) -> tuple[float, float, str | None]:
    """(lon, lat, address) of the request: lat/long, or a place name of the jurisdiction."""
    lat = params.number(request.form, "lat", lo=-90, hi=90, unit="° (WGS84)")
    lon = params.number(request.form, "long", lo=-180, hi=180, unit="° (WGS84)")
    address = request.form.get("address_string", "").strip() or None
    if lat is None or lon is None:
        if address is None:
            raise ValidationError("lat and long (WGS84) or address_string is required")
        places = ingest.gazetteer(layers).set_index("name")
        if address not in places.index:
            raise ValidationError(f"address_string {address!r} is not a road, compound or community name we know; "
                                  "send lat and long")
        lon, lat = float(places.loc[address, "lon"]), float(places.loc[address, "lat"])
    return lon, lat, address


def _form_text(name: str, limit: int) -> str | None:
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        raise ValidationError(f"{name}: at most {limit} characters, got {len(value)}")
    return value or None


@bp.post(f"/requests.{FMT}")
@operation(summary="Create an Open311 service request (needs api_key)", tags=["open311"],
           form="Open311CreateForm",
           responses=_answers({"201": "Open311Created", "400": ERRORS, "403": ERRORS, "404": ERRORS}))
def request_create(fmt: str):
    """Create an issue from a service request; answers its id (and token) at once."""
    _check_jurisdiction()
    engine, settings = engine_of(current_app), settings_of(current_app)
    user = api_key_user()
    if user is None:
        raise ValidationError("api_key is required to create a service request")
    service_code = request.form.get("service_code", "").strip()
    if not service_code:
        raise ValidationError("service_code is required")
    if service_code not in load_taxonomy().categories.index:
        raise NotFoundError(f"service_code {service_code!r} not found")
    description = _form_text("description", MAX_DESCRIPTION)
    contact = {"phone": normalise_phone(_form_text("phone", 40)), "email": _form_text("email", 200),
               "reporter_name": " ".join(filter(None, (_form_text("first_name", 50), _form_text("last_name", 50))))
               or None}
    ready = layers_of(current_app)
    lon, lat, address = _location(ready.layers)
    token_value = uuid.uuid4().hex
    # the key's user, or the key's name for a key without one; actor columns hold 100 characters
    issue_id = ingest.report_issue(
        engine, ready, settings=settings, source=SOURCE, external_id=token_value, category_code=service_code,
        lon=lon, lat=lat, description=description, address=address, contact=contact,
        actor=f"{SOURCE}:{user['name']}"[:100], file=SOURCE)
    tracking = store.create_receipt(engine, issue_id, jurisdiction_code=settings.jurisdiction_code,
                                    user_id=user["id"], api_key_id=user.get("key_id"), now=local_now())
    notice = f"已受理，将派遣至责任部门处置。查询进度：{url_for('track.status', token=tracking, _external=True)}"
    return _respond([{"service_request_id": int(issue_id), "token": token_value, "service_notice": notice,
                      "account_id": None}], fmt, root="service_requests", item="request", status=201)
