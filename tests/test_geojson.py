"""The GeoJSON writer of the REST and OGC API answers, on tiny hand-made frames."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from webmap.geojson import feature_collection, feature_texts


def test_points_and_properties_are_written_as_rfc_7946_features():
    frame = gpd.GeoDataFrame({
        "n": pd.array([397, None], dtype="Int64"),
        "text": ['路口 "东" a/b\n<script>', None],
        "dist_m": [12.5, np.nan],
        "open": [True, False],
    }, geometry=[Point(117.3512345678, 39.0912345678), Point(117.36, 39.1)], crs="EPSG:4326")
    data = json.loads(feature_collection(frame, ids=[np.int64(7), 8], members={"numberMatched": 2}))
    assert data["type"] == "FeatureCollection" and data["numberMatched"] == 2
    first, second = data["features"]
    assert first == {"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [117.351235, 39.091235]},
                     "properties": {"n": 397, "text": '路口 "东" a/b\n<script>', "dist_m": 12.5, "open": True}}
    assert second["id"] == 8 and second["properties"] == {"n": None, "text": None, "dist_m": None, "open": False}


def test_other_geometries_text_ids_and_a_projected_frame():
    frame = gpd.GeoDataFrame({"name": ["津北公路", "无"]},
                             geometry=[LineString([(528500.0, 4327400.0), (528600.0, 4327400.0)]), None],
                             crs="EPSG:4548")
    texts = feature_texts(frame, ids=["R1", 'R"2'])
    line, empty = (json.loads(t) for t in texts)
    assert line["id"] == "R1" and empty["id"] == 'R"2' and empty["geometry"] is None
    expected = frame.to_crs(4326).geometry.iloc[0].coords
    np.testing.assert_allclose(line["geometry"]["coordinates"], np.round(np.array(expected), 6))
    assert all(len(repr(c).split(".")[1]) <= 6 for xy in line["geometry"]["coordinates"] for c in xy)
    assert "id" not in json.loads(feature_texts(frame)[0])


def test_an_empty_frame_and_mismatched_ids():
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(1, 1)], crs="EPSG:4326")
    assert json.loads(feature_collection(frame.iloc[:0])) == {"type": "FeatureCollection", "features": []}
    with pytest.raises(ValueError, match="2 ids for 1 features"):
        feature_texts(frame, ids=[1, 2])
