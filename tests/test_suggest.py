"""Whom to dispatch to and which open issue a report may duplicate: the dispatcher's suggestions."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.loop import suggest
from geo.taxonomy import load_taxonomy


def test_suggest_department_prefers_frontage_then_place_rules():
    issues = gpd.GeoDataFrame({
        "category_code": ["06010", "06010", "06010", "07001", "06010"],
        "department_code": ["sanitation_west", "community:120110900001", "sanitation_west", "enforcement", None],
    }, geometry=[Point(117.351, 39.101), Point(117.36, 39.11), Point(117.37, 39.10), Point(117.351, 39.101),
                 Point(117.39, 39.09)], crs="EPSG:4326")
    units = gpd.GeoDataFrame({"code": ["F2", "F1"]},
                             geometry=[box(117.350, 39.100, 117.352, 39.102), box(117.3505, 39.1005, 117.36, 39.11)],
                             crs="EPSG:4326")
    out = suggest.suggest_department(issues, frontage_units=units)
    assert out["department_code"].tolist() == [
        "frontage:F1", "frontage:F1", "sanitation_west", "enforcement", "sanitation"]
    assert out["reason"].tolist() == ["frontage", "frontage", "zone", "lead", "lead"]
    assert out["frontage_code"].tolist() == ["F1", "F1", None, None, None]
    plain = suggest.suggest_department(issues)
    assert plain["reason"].tolist() == ["zone", "community", "zone", "lead", "lead"]


def test_suggest_duplicates_same_category_near_and_recent():
    # 10 m east ≈ 0.000116° at 39.1 °N.
    deg_per_m = 1 / (111_320 * 0.7760)
    base = pd.Timestamp("2025-03-03 09:00")
    issues = gpd.GeoDataFrame({
        "id": [1, 2, 3, 4, 5, 6],
        "category_code": ["06010", "06010", "06010", "07001", "06010", "06010"],
        "status": ["dispatched", "reported", "reported", "reported", "reported", "closed"],
        "reported_at": [base, base + pd.Timedelta(hours=2), base + pd.Timedelta(hours=30), base,
                        base + pd.Timedelta(hours=1), base],
    }, geometry=[Point(117.35, 39.1), Point(117.35 + 10 * deg_per_m, 39.1), Point(117.35, 39.1),
                 Point(117.35, 39.1), Point(117.35 + 25 * deg_per_m, 39.1), Point(117.35, 39.1)], crs="EPSG:4326")
    pairs = suggest.suggest_duplicates(issues, radius_m=20, window_h=24)
    # 2 is 10 m from 1 and 15 m from 5, both open and earlier; 3 is 28–30 h late; 4 is another category;
    # 5 is 25 m from 1; 6 came in the same second as 1 and has the higher id; closed 6 is no candidate.
    assert pairs[["issue_id", "duplicate_of"]].values.tolist() == [[2, 1], [2, 5], [6, 1]]
    assert pairs["dist_m"].tolist() == pytest.approx([10.0, 15.0, 0.0], abs=0.05)
    assert pairs["hours_apart"].tolist() == pytest.approx([2.0, 1.0, 0.0])
    assert suggest.suggest_duplicates(issues, radius_m=5, window_h=24)["issue_id"].tolist() == [6]


def test_related_categories_count_as_duplicates_and_say_so():
    deg_per_m = 1 / (111_320 * 0.7760)
    base = pd.Timestamp("2025-03-03 09:00")
    # 06010 暴露垃圾 and 06042 垃圾站满溢 are of one group; 07001 非法小广告 of another
    issues = gpd.GeoDataFrame({
        "id": [1, 2, 3, 4],
        "category_code": ["06010", "06042", "07001", "06010"],
        "status": ["reported"] * 4,
        "reported_at": [base, base + pd.Timedelta(minutes=1), base + pd.Timedelta(minutes=2),
                        base + pd.Timedelta(minutes=3)],
    }, geometry=[Point(117.35 + k * 3 * deg_per_m, 39.1) for k in range(4)], crs="EPSG:4326")
    related = load_taxonomy().categories["related_group"]
    assert related["06010"] == related["06042"] == "garbage" and related["07001"] == "small_ads"
    pairs = suggest.suggest_duplicates(issues, radius_m=20, window_h=24, related=related)
    # nearest first: 4 lies 6 m from 2 and 9 m from 1
    assert pairs[["issue_id", "duplicate_of", "same_category"]].values.tolist() == [
        [2, 1, False], [4, 2, False], [4, 1, True]]
    plain = suggest.suggest_duplicates(issues, radius_m=20, window_h=24)
    assert plain[["issue_id", "duplicate_of"]].values.tolist() == [[4, 1]]
