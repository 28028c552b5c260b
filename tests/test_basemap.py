"""Basemap settings: none by default; AMap shifts what the map draws to GCJ-02, and only that."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.crs import wgs84_to_gcj02
from geo.settings import load_settings
from webmap.app import create_app
from webmap.maps.base import AMAP_TILES, add_roads, finish, new_map

ROAD = shapely.LineString([(117.35, 39.09), (117.36, 39.10), (117.37, 39.10)])
POINT = (117.355, 39.095)  # lon, lat
BOUNDS = (117.33, 39.08, 117.40, 39.12)


def test_no_basemap_is_the_default():
    assert load_settings(environ={}).basemap == "none"


def _render(basemap: str) -> str:
    settings = load_settings({"basemap": basemap}, environ={})
    m = new_map(BOUNDS, settings)
    add_roads(m, gpd.GeoDataFrame({"name": ["津北公路"], "road_class": ["arterial"], "is_priority": [True]},
                                  geometry=[ROAD], crs="EPSG:4326"))
    folium.CircleMarker([POINT[1], POINT[0]], radius=4).add_to(m)
    folium.PolyLine([[39.09, 117.35], [39.10, 117.36]]).add_to(m)
    return finish(m).get_root().render()


def _pairs(html: str, pattern: str) -> np.ndarray:
    return np.array([[float(a), float(b)] for a, b in re.findall(pattern, html)])


def test_amap_shifts_every_drawn_coordinate_to_gcj02():
    plain, amap = _render("none"), _render("amap")
    assert "autonavi" not in plain and AMAP_TILES.split("{s}")[1][:20] in amap
    # the marker ([lat, lon])
    marker = r"L\.circleMarker\(\s*\[([\d.]+),\s*([\d.]+)\]"
    [[lat, lon]] = _pairs(amap, marker)
    gcj_lon, gcj_lat = wgs84_to_gcj02([POINT[0]], [POINT[1]])
    assert (lon, lat) == pytest.approx((gcj_lon[0], gcj_lat[0]), abs=1e-9)
    assert _pairs(plain, marker).tolist() == [[POINT[1], POINT[0]]]
    # the shift around Tianjin is a few hundred metres, not a rounding error
    assert 0.004 < gcj_lon[0] - POINT[0] < 0.008 and 0.0005 < gcj_lat[0] - POINT[1] < 0.003
    # the road (GeoJSON [lon, lat])
    drawn = np.array(json.loads(re.search(r'"coordinates":\s*(\[\[.*?\]\])', amap).group(1)))
    lon_all, lat_all = wgs84_to_gcj02(np.array(ROAD.coords)[:, 0], np.array(ROAD.coords)[:, 1])
    assert drawn == pytest.approx(np.column_stack([lon_all, lat_all]), abs=1e-9)
    # the polyline and the fitted bounds ([lat, lon])
    line = _pairs(re.search(r"L\.polyline\(\s*(\[\[.*?\]\])", amap).group(1), r"\[([\d.]+),\s*([\d.]+)\]")
    assert line[:, 1] == pytest.approx(wgs84_to_gcj02([117.35, 117.36], [39.09, 39.10])[0], abs=1e-9)
    bounds = _pairs(re.search(r"fitBounds\(\s*(\[\[.*?\]\])", amap).group(1), r"\[([\d.]+),\s*([\d.]+)\]")
    assert bounds[0, 1] == pytest.approx(wgs84_to_gcj02([BOUNDS[0]], [BOUNDS[1]])[0][0], abs=1e-9)


def test_amap_overview_page_is_shifted_and_the_api_is_not(sample_db, login):
    plain = create_app(sample_db).test_client()
    amap = create_app(replace(sample_db, basemap="amap")).test_client()
    login(plain, "supervisor")
    login(amap, "supervisor")
    bounds = r"fitBounds\(\s*(\[\[.*?\]\])"
    plain_bounds = np.array(json.loads(re.search(bounds, plain.get("/maps/overview").get_data(as_text=True)).group(1)))
    amap_bounds = np.array(json.loads(re.search(bounds, amap.get("/maps/overview").get_data(as_text=True)).group(1)))
    lon, lat = wgs84_to_gcj02(plain_bounds[:, 1], plain_bounds[:, 0])
    assert amap_bounds == pytest.approx(np.column_stack([lat, lon]), abs=1e-9)
    url = "/ogcapi/collections/issues/items/42"
    assert amap.get(url).get_json()["geometry"] == plain.get(url).get_json()["geometry"]
