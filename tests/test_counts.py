"""Issue counts per unit cell and per segment, and the issue filters, on tiny hand-made frames."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, box

from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.loop.counts import cell_counts, segment_counts


@pytest.fixture
def issues():
    return gpd.GeoDataFrame({
        "id": [1, 2, 3, 4, 5, 6],
        "category_code": ["06010", "06011", "07001", "06010", "09006", "06010"],
        "source": ["12345", "inspection", "12345", "citizen", "12345", "inspection"],
        "status": ["closed", "registered", "dispatched", "closed", "reported", "handled"],
        "reported_at": pd.to_datetime(["2025-03-01 08:00", "2025-03-05 23:59", "2025-03-06 00:00", "2025-03-10 00:00",
                                       "2025-02-28 23:00", "2025-03-06 00:00"]),
        "cell_code": ["C1", "C1", "C2", None, "C3", "C1"],
        "segment_id": pd.array([10, 10, 11, None, 10, pd.NA], dtype="Int64"),
        "community_code": ["M1", "M1", "M2", "M2", "M3", "M1"],
        "department_code": ["sanitation", "sanitation", "enforcement", "sanitation", "enforcement", "community:M1"],
    }, geometry=[Point(0, 0)] * 6, crs="EPSG:4326")


def filter_issues(issues, **criteria):
    return IssueFilter(**criteria).apply(issues)


def test_filters_combine_and_keep_order(issues):
    assert filter_issues(issues)["id"].tolist() == [1, 2, 3, 4, 5, 6]
    assert filter_issues(issues, categories="06")["id"].tolist() == [1, 2, 4, 6]
    assert filter_issues(issues, categories=["06010", "07"])["id"].tolist() == [1, 3, 4, 6]
    # since inclusive, until exclusive
    assert filter_issues(issues, since="2025-03-01", until="2025-03-06")["id"].tolist() == [1, 2]
    assert filter_issues(issues, sources=["12345"], statuses=["dispatched", "reported"])["id"].tolist() == [3, 5]
    assert filter_issues(issues, departments="sanitation", communities=["M2"])["id"].tolist() == [4]
    assert filter_issues(issues, ids=[6, 2], bbox=(-1, -1, 1, 1))["id"].tolist() == [2, 6]
    assert filter_issues(issues, bbox=(1, 1, 2, 2)).empty
    # an empty list selects nothing (a user who owns no department), None selects all
    assert filter_issues(issues, sources=[]).empty
    assert isinstance(filter_issues(issues, categories="09"), gpd.GeoDataFrame)


def test_reach_keeps_a_filter_to_its_departments():
    asked = IssueFilter(departments=["sanitation", "enforcement"])
    assert asked.within_departments(None) == asked
    assert asked.within_departments(["sanitation", "greening"]).departments == ("sanitation",)
    assert IssueFilter().within_departments(["greening"]).departments == ("greening",)
    assert IssueFilter(departments=["enforcement"]).within_departments(["greening"]).departments == ()


@pytest.mark.parametrize("options, message", [
    ({"categories": "6010"}, "'6010'"),
    ({"categories": ["06010", "99"]}, "'99'"),
    ({"since": "yesterday"}, "since='yesterday'"),
    ({"since": "3000-01-01"}, "since='3000-01-01'"),
    ({"since": "2025-03-02", "until": "2025-03-01"}, "since must come before until"),
    ({"statuses": ["open"]}, "'open'"),
    ({"sources": [""]}, "sources"),
    ({"ids": [1, -2]}, "-2"),
    ({"bbox": (0, 0, 1)}, "bbox"),
    ({"bbox": (0, 95, 1, 96)}, "bbox"),
])
def test_bad_filters_are_refused(issues, options, message):
    with pytest.raises(ValidationError, match=message):
        filter_issues(issues, **options)


def test_a_period_may_end_just_after_the_last_day_allowed(issues):
    assert filter_issues(issues, until="2200-01-01")["id"].tolist() == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValidationError, match="until='2200-01-01 00:00:01'"):
        filter_issues(issues, until="2200-01-01 00:00:01")
    with pytest.raises(ValidationError, match="since='2200-01-01'"):
        filter_issues(issues, since="2200-01-01")


def test_cell_counts(issues):
    cells = gpd.GeoDataFrame({"code": ["C3", "C1", "C2", "C9"]},
                             geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs="EPSG:4326", index=[7, 8, 9, 10])
    expected = cells.assign(count=np.array([1, 3, 1, 0], dtype="int64"))
    assert_geodataframe_equal(cell_counts(issues, cells), expected)
    expected_06 = cells.assign(count=np.array([0, 3, 0, 0], dtype="int64"))
    assert_geodataframe_equal(cell_counts(filter_issues(issues, categories="06"), cells), expected_06)


def test_segment_counts_per_km(issues):
    segments = gpd.GeoDataFrame({"segment_id": [10, 11, 12], "length_m": [200.0, 50.0, 0.0]},
                                geometry=[LineString([(0, 0), (1, 1)])] * 3, crs="EPSG:4326")
    expected = segments.assign(count=np.array([3, 1, 0], dtype="int64"), issues_per_km=[15.0, 20.0, np.nan])
    assert_geodataframe_equal(segment_counts(issues, segments), expected)
    with pytest.raises(ValidationError, match="length_m"):
        segment_counts(issues, segments.drop(columns="length_m"))
