"""Basemap settings: none by default; AMap shifts what the map draws to GCJ-02, and only that."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.crs import wgs84_to_gcj02
from geo.settings import load_settings
from webmap.app import create_app
from webmap.maps.base import add_roads, new_document
from webmap.maps.shell import AMAP_TILES, map_page

ROAD = shapely.LineString([(117.35, 39.09), (117.36, 39.10), (117.37, 39.10)])
POINT = (117.355, 39.095)  # lon, lat
BOUNDS = (117.33, 39.08, 117.40, 39.12)
BOUNDARY = gpd.GeoDataFrame(geometry=[shapely.box(*BOUNDS)], crs="EPSG:4326")


def test_no_basemap_is_the_default():
    assert load_settings(environ={}).basemap == "none"


def _document(basemap: str) -> dict:
    settings = load_settings({"basemap": basemap}, environ={})
    document = new_document(BOUNDARY, settings)
    add_roads(document, gpd.GeoDataFrame({"name": ["津北公路"], "road_class": ["arterial"], "is_priority": [True]},
                                         geometry=[ROAD], crs="EPSG:4326"))
    # a point given in the metric CRS: reprojected, then shifted
    document.add_features(gpd.GeoDataFrame(geometry=[shapely.Point(POINT)], crs="EPSG:4326").to_crs(4548),
                          name="问题")
    document.add_heat([POINT[0]], [POINT[1]], [1.0], name="热力")
    return document.as_dict()


def test_amap_shifts_every_drawn_coordinate_to_gcj02():
    plain, amap = _document("none"), _document("amap")
    settings = load_settings({"basemap": "amap"}, environ={})
    assert AMAP_TILES.split("{s}")[1][:20] in map_page(settings, "/maps/overview/data").html
    assert "autonavi" not in map_page(load_settings(environ={}), "/maps/overview/data").html
    gcj_lon, gcj_lat = wgs84_to_gcj02([POINT[0]], [POINT[1]])
    # the shift around Tianjin is a few hundred metres, not a rounding error
    assert 0.004 < gcj_lon[0] - POINT[0] < 0.008 and 0.0005 < gcj_lat[0] - POINT[1] < 0.003
    # the point ([lon, lat] in GeoJSON), rounded to 6 decimals
    [point] = amap["layers"][2]["data"]["features"]
    assert point["geometry"]["coordinates"] == pytest.approx([gcj_lon[0], gcj_lat[0]], abs=1e-6)
    assert plain["layers"][2]["data"]["features"][0]["geometry"]["coordinates"] == pytest.approx(list(POINT), abs=1e-6)
    # the road, every vertex
    drawn = np.array(amap["layers"][1]["data"]["features"][0]["geometry"]["coordinates"])
    lon_all, lat_all = wgs84_to_gcj02(np.array(ROAD.coords)[:, 0], np.array(ROAD.coords)[:, 1])
    assert drawn == pytest.approx(np.column_stack([lon_all, lat_all]), abs=1e-6)
    # the heat point and the bounds ([lat, lon])
    assert amap["layers"][3]["rows"][0][:2] == pytest.approx([gcj_lat[0], gcj_lon[0]], abs=1e-6)
    west, south = wgs84_to_gcj02([BOUNDS[0]], [BOUNDS[1]])
    assert amap["bounds"][0] == pytest.approx([south[0], west[0]], abs=1e-6)
    assert plain["bounds"] == [[BOUNDS[1], BOUNDS[0]], [BOUNDS[3], BOUNDS[2]]]


def test_amap_overview_page_is_shifted_and_the_api_is_not(sample_db, login):
    plain = create_app(sample_db).test_client()
    amap = create_app(replace(sample_db, basemap="amap")).test_client()
    login(plain, "supervisor")
    login(amap, "supervisor")
    plain_bounds = np.array(plain.get("/maps/overview/data").get_json()["bounds"])
    amap_bounds = np.array(amap.get("/maps/overview/data").get_json()["bounds"])
    lon, lat = wgs84_to_gcj02(plain_bounds[:, 1], plain_bounds[:, 0])
    assert amap_bounds == pytest.approx(np.column_stack([lat, lon]), abs=2e-6)
    url = "/ogcapi/collections/issues/items/42"
    assert amap.get(url).get_json()["geometry"] == plain.get(url).get_json()["geometry"]
