"""OGC API – Features (Part 1: Core) under ``/ogcapi/``, so QGIS and OWSLib load our layers directly.

Read-only. The reference layers are public within the intranet: no login, as GIS
staff load them from QGIS. The features of ``issues`` are
read by a logged-in user or with an API key (``X-API-Key`` header, or the ``api_key``
query parameter, which every resource accepts; :func:`webmap.auth.api_caller`) and
hold only the issues that user's role reads (:func:`webmap.auth.department_reach`): an
issue of another department is not found, a ``public`` key reads none, no key at all
is a 401. Collections are the issues (points, with a
temporal extent on ``reported_at``) and the reference layers of ``geo.store``;
features are GeoJSON in CRS84 (lon/lat, 6 decimals). Issue features carry the
attributes of :data:`geo.store.ISSUE_READ_COLUMNS` with phone numbers masked in
the free text; the reporter's contact is never read.

Answers are JSON unless ``f=html`` or the Accept header prefers ``text/html``;
items are ``application/geo+json``. ``limit`` is 1–10000 (default 10; more is served
as 10000), paging follows ``next``/``prev`` links (``offset``, and ``api_key`` when the
request had it), ``datetime`` is an instant, a date or an interval with open ends
(``..``), and any other query parameter is a 400.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import geopandas as gpd
from flask import Blueprint, Response, current_app, render_template, request, url_for

from geo import store
from geo.clock import JURISDICTION_TZ, local_now
from geo.errors import AuthenticationError, CitymapError, NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.layers import LAYERS, reference_layers
from geo.privacy import mask_phones
from webmap import params
from webmap.auth import API_KEY_SECURITY, api_department_reach
from webmap.context import engine_of, settings_of
from webmap.geojson import collection_utf8, feature_texts
from webmap.openapi import OPENAPI_MEDIA_TYPE, components, operation
from webmap.timefmt import to_rfc3339

bp = Blueprint("ogcapi", __name__)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}" for c in ("core", "geojson", "oas30",
                                                                                       "html")]
#: collection id → (title, description)
COLLECTIONS = {
    "issues": ("城市管理问题", "上报的问题点位：类别、状态、时间、所属单元网格、路段、小区、社区、网格与责任部门"),
    **{spec.name: (spec.title, spec.description) for spec in reference_layers()},
}
CID = "<any(" + ", ".join(COLLECTIONS) + "):cid>"
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
_JSON, _GEOJSON, _HTML = "application/json", "application/geo+json", "text/html"
# Far beyond any collection, and within the 64-bit integers both databases take for OFFSET.
MAX_OFFSET = 10**9
_ITEM_PARAMETERS = {"f", "bbox", "limit", "offset", "datetime"}
#: every resource takes an API key (needed for the issues only), as QGIS and OWSLib may send it on every URL
_KEY_PARAMETER = "api_key"
#: a key or a login reads the issues; the other collections need none
_SECURITY = [*API_KEY_SECURITY, {}]


# --------------------------------------------------------------------------- OpenAPI description

components(
    parameters={
        "ogcapi.f": {"name": "f", "in": "query", "required": False, "description": "json (default) or html",
                     "schema": {"type": "string", "enum": ["json", "html"]}},
        "ogcapi.bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
                        "description": "minlon,minlat,maxlon,maxlat (CRS84)",
                        "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
        "ogcapi.limit": {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                    "default": DEFAULT_LIMIT}},
        "ogcapi.offset": {"name": "offset", "in": "query", "required": False,
                          "description": "features to skip (the next and prev links carry it)",
                          "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
        "ogcapi.datetime": {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                            "description": "an instant, a date or start/end with .. for an open end",
                            "schema": {"type": "string"}},
    },
    schemas={
        "OgcLink": {"type": "object", "required": ["href", "rel"], "properties": {
            "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
            "title": {"type": "string"}}},
        "OgcLanding": {"type": "object", "required": ["links"], "properties": {
            "title": {"type": "string"}, "description": {"type": "string"},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/OgcLink"}}}},
        "OgcConformance": {"type": "object", "required": ["conformsTo"], "properties": {
            "conformsTo": {"type": "array", "items": {"type": "string"}}}},
        "OgcCollection": {"type": "object", "required": ["id", "links"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "itemType": {"type": "string"},
            "extent": {"type": "object"},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/OgcLink"}}}},
        "OgcCollections": {"type": "object", "required": ["collections", "links"], "properties": {
            "collections": {"type": "array", "items": {"$ref": "#/components/schemas/OgcCollection"}},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/OgcLink"}}}},
        "OgcFeature": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"oneOf": [{"type": "string"},
                                                                              {"type": "integer"}]},
            "geometry": {"type": "object", "nullable": True}, "properties": {"type": "object", "nullable": True},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/OgcLink"}}}},
        "OgcFeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/OgcFeature"}},
            "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string"},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/OgcLink"}}}},
        "OgcException": {"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string"}, "description": {"type": "string"}}},
    },
)
_ERRORS = {_JSON: "OgcException", _HTML: None}


def _answers(schema: str, media: str = _JSON, *, not_found: bool = False, issues: bool = False) -> dict:
    """200 and 400; 404 with ``not_found``; 401 (no key) and 403 (a wrong key) where ``issues`` are read."""
    out = {"200": {media: schema, _HTML: None}, "400": _ERRORS}
    if issues:
        out.update({"401": _ERRORS, "403": _ERRORS})
    return {**out, "404": _ERRORS} if not_found else out


# --------------------------------------------------------------------------- request and response helpers

@bp.errorhandler(CitymapError)
def render_error(err: CitymapError):
    """OGC API exceptions: ``{"code": "NotFound", "description": "…"}`` (an HTML page when HTML is asked for)."""
    code = {400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(
        err.status, "ServerError")
    if _wants_html(strict=False):
        response = Response(render_template("error.html", message=err.message, status=err.status),
                            status=err.status, mimetype=_HTML)
    else:
        response = Response(json.dumps({"code": code, "description": err.message}, ensure_ascii=False),
                            status=err.status, mimetype=_JSON)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'ApiKey realm="citymap", header="X-API-Key", query="api_key"'
    return response


def _wants_html(*, strict: bool = True) -> bool:
    """``f=html``, or no ``f`` and an Accept header preferring HTML over JSON (no header: JSON)."""
    f = request.args.get("f")
    if f is not None:
        if f not in ("json", "html") and strict:
            raise ValidationError(f"f={f!r}: expected json or html")
        return f == "html"
    return request.accept_mimetypes.best_match([_JSON, _GEOJSON, _HTML], default=_JSON) == _HTML


def _check_parameters(allowed: set[str]) -> None:
    # lang: the HTML pages' language switch (webmap.i18n reads it before any view)
    allowed = allowed | {_KEY_PARAMETER, "lang"}
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ValidationError(f"unknown query parameter(s) {', '.join(map(repr, unknown))}; "
                              f"this resource takes {', '.join(sorted(allowed))}")


def _json(data: dict, media: str = _JSON) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), mimetype=media)


def _link(endpoint: str, rel: str, media: str, title: str, **values) -> dict:
    return {"href": url_for(endpoint, _external=True, **values), "rel": rel, "type": media, "title": title}


def _self_links(endpoint: str, media: str = _JSON, **values) -> list[dict]:
    """``self`` and ``alternate`` links of a resource in JSON and HTML."""
    html = _wants_html()
    json_link = _link(endpoint, "alternate" if html else "self", media, "JSON", **values, f="json")
    html_link = _link(endpoint, "self" if html else "alternate", _HTML, "HTML", **values, f="html")
    return [html_link, json_link] if html else [json_link, html_link]


def _page(data: dict, *, title: str, rows: list[dict] | None = None) -> Response:
    return Response(render_template("ogcapi.html", data=data, title=title, rows=rows), mimetype=_HTML)


def _jurisdiction() -> str:
    return settings_of(current_app).jurisdiction_code


# --------------------------------------------------------------------------- landing, conformance, collections

@bp.get("/")
@operation(summary="OGC API – Features landing page", tags=["ogcapi"], parameters=["ogcapi.f"],
           responses=_answers("OgcLanding"), security=_SECURITY)
def landing():
    """Links to the API description, the conformance classes and the collections."""
    _check_parameters({"f"})
    data = {
        "title": "citymap OGC API – Features",
        "description": "城市管理问题与道路、网格图层（WGS84 经纬度）",
        "links": [*_self_links("ogcapi.landing"),
                  {"href": url_for("openapi.openapi_json", _external=True), "rel": "service-desc",
                   "type": OPENAPI_MEDIA_TYPE, "title": "OpenAPI 3"},
                  _link("ogcapi.conformance", "conformance", _JSON, "Conformance"),
                  _link("ogcapi.collections", "data", _JSON, "Collections")],
    }
    return _page(data, title=data["title"]) if _wants_html() else _json(data)


@bp.get("/conformance")
@operation(summary="OGC API conformance classes", tags=["ogcapi"], parameters=["ogcapi.f"],
           responses=_answers("OgcConformance"), security=_SECURITY)
def conformance():
    """The conformance classes this API implements."""
    _check_parameters({"f"})
    data = {"conformsTo": CONFORMANCE}
    return _page(data, title="Conformance", rows=[{"class": c} for c in CONFORMANCE]) if _wants_html() else _json(data)


def _collection(cid: str) -> dict:
    engine, j = engine_of(current_app), _jurisdiction()
    title, description = COLLECTIONS[cid]
    extent = {}
    bbox = store.extent(engine, cid, jurisdiction_code=j)
    if bbox is not None:
        extent["spatial"] = {"bbox": [[round(v, 6) for v in bbox]], "crs": CRS84}
    if cid == "issues":
        span = store.issue_time_range(engine, jurisdiction_code=j)
        if span is not None:
            extent["temporal"] = {"interval": [[f"{t:%Y-%m-%dT%H:%M:%S}+08:00" for t in span]], "trs": GREGORIAN}
    return {
        "id": cid, "title": title, "description": description, "itemType": "feature", "extent": extent,
        "crs": [CRS84],
        "links": [_link("ogcapi.collection", "self", _JSON, title, cid=cid),
                  _link("ogcapi.items", "items", _GEOJSON, f"{title} (GeoJSON)", cid=cid),
                  _link("ogcapi.items", "items", _HTML, f"{title} (HTML)", cid=cid, f="html")],
    }


@bp.get("/collections")
@operation(summary="The feature collections", tags=["ogcapi"], parameters=["ogcapi.f"],
           responses=_answers("OgcCollections"), security=_SECURITY)
def collections():
    """Every collection with its extent."""
    _check_parameters({"f"})
    data = {"collections": [_collection(cid) for cid in COLLECTIONS], "links": _self_links("ogcapi.collections")}
    if _wants_html():
        return _page(data, title="Collections", rows=[
            {"id": c["id"], "title": c["title"], "description": c["description"],
             "items": url_for("ogcapi.items", cid=c["id"], f="html")} for c in data["collections"]])
    return _json(data)


@bp.get(f"/collections/{CID}")
@operation(summary="One feature collection", tags=["ogcapi"], parameters=["ogcapi.f"],
           responses=_answers("OgcCollection"), security=_SECURITY)
def collection(cid: str):
    """A collection's description, extent and items links."""
    _check_parameters({"f"})
    data = _collection(cid)
    data["links"] = [*_self_links("ogcapi.collection", cid=cid), *data["links"][1:]]
    return _page(data, title=data["title"]) if _wants_html() else _json(data)


# --------------------------------------------------------------------------- items

def _limit_offset() -> tuple[int, int]:
    # A limit past the server's maximum is clamped, as OGC API - Features asks; an offset past it is refused.
    limit = params.whole(request.args, "limit", default=DEFAULT_LIMIT, lo=1, hi=params.MAX_ID)
    return min(limit, MAX_LIMIT), params.whole(request.args, "offset", default=0, lo=0, hi=MAX_OFFSET)


def _datetime() -> tuple[datetime | None, datetime | None]:
    """[since, until) on ``reported_at`` for ``datetime``: closed intervals, dates as whole days."""
    raw = request.args.get("datetime")
    if raw is None:
        return None, None
    ends = raw.split("/")
    if len(ends) > 2 or ends == ["..", ".."] or (len(ends) == 1 and ends[0] in ("", "..")):
        raise ValidationError(f"datetime={raw!r}: expected an instant, a date or start/end (.. for an open end)")
    if len(ends) == 1:
        ends = [ends[0], ends[0]]
    since = until = None
    if ends[0] not in ("", ".."):
        since = params.instant(ends[0], name="datetime")[0]
    if ends[1] not in ("", ".."):
        until, whole_day = params.instant(ends[1], name="datetime")
        until += timedelta(days=1) if whole_day else timedelta(microseconds=1)
    if since is not None and until is not None and until <= since:
        raise ValidationError(f"datetime={raw!r}: the interval ends before it starts")
    return since, until


def _issue_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Issues as features: text masked, timestamps in RFC 3339, the id as feature id only."""
    frame = frame.assign(description=mask_phones(frame["description"]), address=mask_phones(frame["address"]),
                         segment_id=frame["segment_id"].astype("Int64"))
    for column in ("reported_at", "closed_at", "deadline_at"):
        frame[column] = to_rfc3339(frame[column])
    return frame


def _issue_reach(cid: str) -> list[str] | None:
    """The departments whose issues the caller reads (None: every one; also for the other collections).

    A 401 for the issues when nobody is logged in and no API key is sent.
    """
    if cid != "issues":
        return None
    return api_department_reach(nobody=AuthenticationError(
        "读取问题要素需要登录或 API key (log in or send an X-API-Key header to read issues)"))


def _read(cid: str, *, reach: list[str] | None, html: bool, bbox=None, since=None, until=None,
          limit: int | None = None, offset: int = 0, fid=None):
    """A collection page, or one feature with ``fid``: (feature ids, their GeoJSON Feature texts, the frame an
    HTML page shows, ``numberMatched`` when known without a count).

    The texts are None for HTML, the frame None for the issues' JSON, which the database
    writes (:func:`geo.store.issue_features`, no frame: the page most clients ask for).
    ``reach``: the departments whose issues may be read (:func:`_issue_reach`), never left out.
    """
    engine, j = engine_of(current_app), _jurisdiction()
    if cid == "issues":
        where = IssueFilter(bbox=bbox, since=since, until=until, ids=None if fid is None else [fid], departments=reach)
        if not html:
            page = store.issue_features(engine, jurisdiction_code=j, where=where, limit=limit, offset=offset,
                                        count=fid is None)
            return page.ids, page.features, None, page.matched
        frame = store.query_issues(engine, jurisdiction_code=j, where=where, limit=limit, offset=offset)
        ids = frame.pop("id").astype(int).tolist()
        frame = _issue_frame(frame)
    else:
        keys = None if fid is None else [fid]
        frame = store.read_layer(engine, cid, jurisdiction_code=j, bbox=bbox, keys=keys, limit=limit, offset=offset)
        key = frame[LAYERS[cid].key]
        ids = (key.astype(int) if cid == "segments" else key.astype(str)).tolist()
    features = None if html else feature_texts(frame, ids=ids)
    return ids, features, frame, store.known_total(offset=offset, returned=len(ids), limit=limit)


@bp.get(f"/collections/{CID}/items")
@operation(summary="Features of a collection (bbox, datetime, limit, paging)", tags=["ogcapi"],
           parameters=["ogcapi.f", "ogcapi.bbox", "ogcapi.limit", "ogcapi.offset", "ogcapi.datetime"],
           responses=_answers("OgcFeatureCollection", _GEOJSON, issues=True), security=_SECURITY)
def items(cid: str):
    """A page of features with ``numberMatched``, ``numberReturned`` and next/prev links."""
    _check_parameters(_ITEM_PARAMETERS)
    reach = _issue_reach(cid)
    html = _wants_html()
    limit, offset = _limit_offset()
    bbox = params.bbox(request.args, heights=True)
    since, until = _datetime()
    if cid != "issues":
        since = until = None  # reference layers have no time: the parameter does not restrict them
    ids, features, frame, matched = _read(cid, reach=reach, html=html, bbox=bbox, since=since, until=until,
                                          limit=limit, offset=offset)
    if matched is None and cid == "issues":
        matched = store.count_issues(engine_of(current_app), jurisdiction_code=_jurisdiction(),
                                     where=IssueFilter(bbox=bbox, since=since, until=until, departments=reach))
    elif matched is None:
        matched = store.count_layer(engine_of(current_app), cid, jurisdiction_code=_jurisdiction(), bbox=bbox)
    kept = {k: v for k, v in request.args.items() if k in ("bbox", "datetime", _KEY_PARAMETER)}
    links = _self_links("ogcapi.items", _GEOJSON, cid=cid, limit=limit, offset=offset, **kept)
    fmt = "html" if html else "json"
    media = _HTML if html else _GEOJSON
    if offset + len(ids) < matched:
        links.append(_link("ogcapi.items", "next", media, "下一页", cid=cid, limit=limit, offset=offset + limit,
                           f=fmt, **kept))
    if offset > 0:
        links.append(_link("ogcapi.items", "prev", media, "上一页", cid=cid, limit=limit,
                           offset=max(0, offset - limit), f=fmt, **kept))
    links.append(_link("ogcapi.collection", "collection", _JSON, COLLECTIONS[cid][0], cid=cid))
    envelope = {"type": "FeatureCollection", "numberMatched": int(matched), "numberReturned": len(ids),
                "timeStamp": local_now().replace(tzinfo=JURISDICTION_TZ).isoformat(), "links": links}
    if html:
        rows = [{"id": fid, **record} for fid, record in
                zip(ids, frame.drop(columns=frame.geometry.name).astype(object)
                    .where(frame.drop(columns=frame.geometry.name).notna(), None).to_dict("records"))]
        return _page({**envelope, "title": COLLECTIONS[cid][0]}, title=COLLECTIONS[cid][0], rows=rows)
    members = {k: v for k, v in envelope.items() if k != "type"}
    return Response(collection_utf8(features, members=members), mimetype=_GEOJSON)


@bp.get(f"/collections/{CID}/items/<fid>")
@operation(summary="One feature", tags=["ogcapi"], parameters=["ogcapi.f"],
           responses=_answers("OgcFeature", _GEOJSON, not_found=True, issues=True), security=_SECURITY)
def item(cid: str, fid: str):
    """One feature by its id (issue id, segment id, road id or code); an issue the caller may not read is not found."""
    _check_parameters({"f"})
    reach = _issue_reach(cid)
    numeric = cid in ("issues", "segments")
    html = _wants_html()
    ids = []
    if not numeric or (fid.isdigit() and len(fid) < 12):
        ids, features, frame, _ = _read(cid, reach=reach, html=html, limit=1, fid=int(fid) if numeric else fid)
    if not ids:
        raise NotFoundError(f"{COLLECTIONS[cid][0]} 中没有要素 {fid!r}")
    links = [*_self_links("ogcapi.item", _GEOJSON, cid=cid, fid=fid),
             _link("ogcapi.collection", "collection", _JSON, COLLECTIONS[cid][0], cid=cid)]
    if html:
        row = frame.drop(columns=frame.geometry.name).astype(object).iloc[0].to_dict()
        return _page({"title": f"{COLLECTIONS[cid][0]} {fid}", "links": links}, title=f"{COLLECTIONS[cid][0]} {fid}",
                     rows=[{"field": k, "value": v} for k, v in {"id": ids[0], **row}.items()])
    return Response(features[0][:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}", mimetype=_GEOJSON)
