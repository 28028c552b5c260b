"""Ranked hot cells and segments with their context, on tiny hand-made frames."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from geo.errors import ValidationError
from geo.hotspots.top_hotspots import latest_by, top_cells, top_segments

NAMES = {"compounds": {"K1": "明德园"}, "communities": {"M1": "栖霞社区", "M2": "丰年社区"},
         "categories": {"06010": "暴露垃圾", "07001": "非法小广告"}, "departments": {"sanitation": "公共管理办（市容环卫）",
                                                                           "enforcement": "综合执法大队"}}


@pytest.fixture
def issues():
    return pd.DataFrame({
        "id": [1, 2, 3, 4, 5],
        "category_code": ["06010", "07001", "07001", "06010", "06010"],
        "reported_at": pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05"]),
        "cell_code": ["A", "A", "A", "B", "B"],
        "segment_id": pd.array([10, 10, 11, 11, 11], dtype="Int64"),
        "compound_code": ["K1", "K1", None, None, None],
        "community_code": ["M1", "M1", "M1", "M2", "M2"],
        "department_code": ["sanitation", "enforcement", "enforcement", "sanitation", "sanitation"],
    })


def test_top_cells_rank_and_context(issues):
    cells = gpd.GeoDataFrame({"code": ["A", "B", "C"], "community_code": ["M1", "M2", "M2"], "count": [3, 2, 0],
                              "gi_z": [1.0, 2.5, 3.0], "gi_p": [0.3, 0.01, 0.002], "gi_bin": [0, 3, 3]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs="EPSG:4326")
    open_issues = issues[issues["id"].isin([2, 3, 5])]
    top = top_cells(cells, issues, open_issues, segment_names={10: "津北公路", 11: "先锋东路"}, names=NAMES)
    # C has no issue: not ranked; B has the higher z
    assert top["code"].tolist() == ["B", "A"] and top["rank"].tolist() == [1, 2]
    b, a = top.iloc[0], top.iloc[1]
    assert (b["road_name"], b["dominant_category"], b["department_code"], b["open_now"]) == ("先锋东路", "06010",
                                                                                            "sanitation", 1)
    assert pd.isna(b["compound_code"]) and b["community_name"] == "丰年社区"
    # A: a tie of road segments (10 twice, 11 once) → 10; 07001 twice beats 06010 once; departments tie 2:1
    assert (a["road_name"], a["dominant_category_name"], a["department_name"], a["compound_name"], a["open_now"]) == (
        "津北公路", "非法小广告", "综合执法大队", "明德园", 2)
    assert top.crs == cells.crs and top.geometry.iloc[0].equals(box(1, 0, 2, 1))
    with pytest.raises(ValidationError, match="gi_z"):
        top_cells(cells.drop(columns="gi_z"), issues, open_issues, segment_names={}, names=NAMES)


def test_top_segments_skip_short_stubs(issues):
    segments = gpd.GeoDataFrame({"segment_id": [10, 11, 12], "name": ["津北公路", "先锋东路", "短支路"],
                                 "length_m": [100.0, 300.0, 10.0], "count": [2, 3, 1],
                                 "issues_per_km": [20.0, 10.0, 100.0]},
                                geometry=[LineString([(0, 0), (1, 0)])] * 3, crs="EPSG:4326")
    top = top_segments(segments, issues, issues.iloc[:0], names=NAMES, n=5)
    assert top["segment_id"].tolist() == [10, 11]  # 12 is shorter than 50 m
    assert top.loc[1, "community_name"] == "丰年社区" and top.loc[1, "dominant_category"] == "06010"
    assert top["open_now"].tolist() == [0, 0]


def test_latest_by_keeps_the_newest(issues):
    latest = latest_by(issues, "cell_code", per=2)
    assert sorted(latest["id"].tolist()) == [2, 3, 4, 5]
