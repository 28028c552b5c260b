"""The JSON/GeoJSON REST API (RFC 7946: lon/lat, 6 decimals)."""

from __future__ import annotations

import json

import geopandas as gpd
from flask import Blueprint, Response, current_app, request

from geo import store
from geo.errors import ValidationError
from webmap.app import engine_of, settings_of

bp = Blueprint("api", __name__)

MAX_LIMIT = 10_000


def geojson_response(frame: gpd.GeoDataFrame) -> Response:
    """A FeatureCollection with coordinates rounded to 6 decimals (≈ 0.1 m)."""
    frame = frame.copy()
    for column in frame.columns:
        if column != frame.geometry.name and str(frame[column].dtype).startswith("datetime"):
            frame[column] = frame[column].dt.strftime("%Y-%m-%dT%H:%M:%S")
    body = frame.to_json(na="null", drop_id=True, to_wgs84=True, ensure_ascii=False)
    # to_json writes full precision; round through the parsed structure to keep it valid JSON
    data = json.loads(body)
    for feature in data["features"]:
        feature["geometry"] = _round(feature["geometry"])
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), mimetype="application/geo+json")


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


@bp.get("/issues")
def issues():
    """Issues as GeoJSON; ``bbox=minlon,minlat,maxlon,maxlat``, ``status``, ``category``, ``limit``, ``offset``."""
    settings = settings_of(current_app)
    bbox = request.args.get("bbox")
    frame = store.query_issues(
        engine_of(current_app),
        jurisdiction_code=settings.jurisdiction_code,
        bbox=tuple(bbox.split(",")) if bbox else None,
        status=request.args.get("status").split(",") if request.args.get("status") else None,
        category=request.args.get("category").split(",") if request.args.get("category") else None,
        limit=_int_arg("limit", 1000, lo=1, hi=MAX_LIMIT),
        offset=_int_arg("offset", 0, lo=0, hi=10**9),
    )
    return geojson_response(frame)


@bp.get("/layers/<name>")
def layer(name: str):
    """A reference layer (communities, compounds, grids, zones, unit_cells, roads, segments) as GeoJSON."""
    settings = settings_of(current_app)
    bbox = request.args.get("bbox")
    frame = store.read_layer(engine_of(current_app), name, jurisdiction_code=settings.jurisdiction_code,
                             bbox=tuple(bbox.split(",")) if bbox else None)
    return geojson_response(frame)
