"""Issues as GeoJSON Feature texts written by the database (geo.store.issue_features), on SpatiaLite and PostGIS.

The features must be what the frame path gives (geo.store.query_issues, whose text is masked, then
webmap.geojson's writer): the same ids, order, coordinates and properties, for hostile text, missing
values and every way a phone number is written; and numberMatched must be the count of the matches.
"""

from __future__ import annotations

import json
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo import store
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.privacy import mask_phone
from test_privacy import LEFT_ALONE, MASKED_IN_TEXT

J = "120110900"
#: text that must stay data: quotes, backslashes, control characters, line and paragraph separators, markup
HOSTILE = ['{{7*7}}', '</script><script>alert(1)</script>', 'a "quoted" \\ back\\slash', "tab\there\nnew line",
           "\u2028\u2029 separators", "\x01\x1f control", "emoji 🚯 and RTL \u202e override", "", "  ",
           "′″‘’“” 全角：，。", "'; DROP TABLE issues; --", "x" * 3000]


def _issues(texts: list[str | None], *, addresses: list[str | None] | None = None) -> gpd.GeoDataFrame:
    n = len(texts)
    rng = np.random.default_rng(5)
    microseconds = pd.to_timedelta(rng.integers(0, 10**6, n), unit="us")
    return gpd.GeoDataFrame({
        "source": np.where(np.arange(n) % 3 == 0, "12345", "inspection"),
        "external_id": [f'GD2025"{i:05d}\\' for i in range(n)],
        "source_system": "wgs84",
        "category_code": np.where(np.arange(n) % 2 == 0, "06010", "06021"),
        "description": texts,
        "address": addresses if addresses is not None else [None if i % 4 == 1 else f"先锋东路{i}号 电话13800138{i % 10}00"
                                                            for i in range(n)],
        "status": np.where(np.arange(n) % 2 == 0, "closed", "dispatched"),
        "reported_at": pd.Timestamp("2025-03-01 08:00") + pd.to_timedelta(np.arange(n) * 3601, unit="s") + microseconds,
        "closed_at": [pd.Timestamp("2025-04-01 23:59:59.999999") if i % 2 == 0 else pd.NaT for i in range(n)],
        "deadline_at": [pd.Timestamp("2025-03-05 18:00") if i % 5 else pd.NaT for i in range(n)],
        "deadline_provisional": np.arange(n) % 3 == 1,
        "segment_id": pd.array([None if i % 2 else i + 7 for i in range(n)], dtype="Int64"),
        "cell_code": [f"{J}00{i:04d}" for i in range(n)],
        "department_code": np.where(np.arange(n) % 2 == 0, "sanitation", "construction"),
        "community_code": [None] * n,
    }, geometry=gpd.points_from_xy(117.33 + rng.uniform(0, 0.07, n), 39.08 + rng.uniform(0, 0.04, n)),
        crs="EPSG:4326")


def _load(engine, issues: gpd.GeoDataFrame) -> None:
    store.insert_issues(engine, issues, jurisdiction_code=J, file="features.csv", actor="test")


def _expected(engine, *, columns=store.FEATURE_PROPERTIES, feature_id=True, **query) -> list[dict]:
    """The features of the frame path: query_issues (masked text) with times in RFC 3339 and whole numbers."""
    frame = store.query_issues(engine, jurisdiction_code=J, columns=tuple(dict.fromkeys(("id", *columns))), **query)
    out = []
    for row in frame.itertuples(index=False):
        record = row._asdict()
        properties = {}
        for column in columns:
            value = record[column]
            if isinstance(value, pd.Timestamp):
                value = f"{value:%Y-%m-%dT%H:%M:%S}+08:00"
            elif value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
                value = None
            elif isinstance(value, (np.integer, float, np.floating)) and column != "deadline_provisional":
                value = int(value)
            elif isinstance(value, np.bool_):
                value = bool(value)
            properties[column] = value
        feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [record["geometry"].x,
                                                                                     record["geometry"].y]},
                   "properties": properties}
        if feature_id:
            feature["id"] = int(record["id"])
        out.append(feature)
    return out


def _parsed(page: store.FeaturePage) -> list[dict]:
    return [json.loads(text) for text in page.features]


def _assert_same(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected):
        assert a["type"] == "Feature" and a.get("id") == b.get("id") and a.keys() == b.keys()
        assert a["geometry"]["type"] == "Point"
        assert a["geometry"]["coordinates"] == pytest.approx(b["geometry"]["coordinates"], abs=5e-7)
        assert a["properties"] == b["properties"]
        assert list(a["properties"]) == list(b["properties"])  # in the order asked for


def test_features_are_the_frame_paths_features(db_engine):
    texts = [*HOSTILE, None, *(text for text, _ in MASKED_IN_TEXT), *LEFT_ALONE]
    _load(db_engine, _issues(texts))
    page = store.issue_features(db_engine, jurisdiction_code=J, count=True)
    got = _parsed(page)
    _assert_same(got, _expected(db_engine))
    assert page.ids == [f["id"] for f in got] == sorted(page.ids)
    assert page.matched == len(texts)
    # hostile text is data, written back exactly as stored (rows by their input order: ids follow a Z curve)
    row = {f["properties"]["external_id"]: f["properties"] for f in got}
    row = [row[f'GD2025"{i:05d}\\'] for i in range(len(texts))]
    assert [r["description"] for r in row[:len(HOSTILE)]] == HOSTILE
    assert row[0]["deadline_provisional"] is False and row[1]["deadline_provisional"] is True
    assert row[0]["segment_id"] == 7 and row[1]["segment_id"] is None
    assert row[0]["closed_at"] == "2025-04-01T23:59:59+08:00"  # to the second, never rounded up
    assert row[1]["closed_at"] is None and row[1]["address"] is None


@pytest.mark.parametrize("where", ["description", "address"])
def test_every_phone_shape_is_masked_and_every_other_number_kept(db_engine, where):
    cases = [*MASKED_IN_TEXT, *((text, text) for text in LEFT_ALONE)]
    texts = [text for text, _ in cases]
    issues = _issues(texts) if where == "description" else _issues([None] * len(texts), addresses=texts)
    _load(db_engine, issues)
    got = sorted(_parsed(store.issue_features(db_engine, jurisdiction_code=J)),
                 key=lambda f: f["properties"]["external_id"])  # the input's order
    assert [f["properties"][where] for f in got] == [expected for _, expected in cases]
    assert [f["properties"][where] for f in got] == [mask_phone(text) for text in texts]


def test_rest_style_features_newest_first_with_the_id_as_a_property(db_engine):
    _load(db_engine, _issues([f"第{i}件 13912345678" for i in range(30)]))
    columns = ("id", "source", "description", "reported_at", "registered_at", "rework_count", "segment_id",
               "merged_into", "deadline_provisional", "address")
    page = store.issue_features(db_engine, jurisdiction_code=J, properties=columns, feature_id=False, limit=12,
                                offset=5, newest_first=True, count=True)
    _assert_same(_parsed(page), _expected(db_engine, columns=columns, feature_id=False, limit=12, offset=5,
                                          newest_first=True))
    assert page.matched == 30
    assert all("139****5678" in f["properties"]["description"] for f in _parsed(page))


def test_pages_filters_and_counts(db_engine):
    _load(db_engine, _issues([f"问题{i}" for i in range(40)]))
    everything = store.count_issues(db_engine, jurisdiction_code=J)
    bbox = (117.33, 39.08, 117.37, 39.10)
    where = IssueFilter(bbox=bbox, departments=["sanitation"], since=datetime(2025, 3, 1, 12))
    matching = store.count_issues(db_engine, jurisdiction_code=J, where=where)
    assert 0 < matching < everything
    for limit, offset in ((3, 0), (3, 3), (1000, 0), (2, matching - 1), (5, matching), (5, matching + 50)):
        page = store.issue_features(db_engine, jurisdiction_code=J, where=where, limit=limit, offset=offset,
                                    count=True)
        assert page.matched == matching, (limit, offset)
        expected = _expected(db_engine, where=where, limit=limit, offset=offset)
        if expected:
            _assert_same(_parsed(page), expected)
        else:
            assert page.ids == page.features == []
        for feature in _parsed(page):
            x, y = feature["geometry"]["coordinates"]
            assert bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]
            assert feature["properties"]["department_code"] == "sanitation"
    assert store.issue_features(db_engine, jurisdiction_code=J, where=where, limit=3).matched is None
    assert store.issue_features(db_engine, jurisdiction_code=J, where=IssueFilter(departments=[]), count=True) \
        == store.FeaturePage(ids=[], features=[], matched=0)
    assert store.issue_features(db_engine, jurisdiction_code="120110901", count=True).matched == 0


def test_one_feature_by_id(db_engine):
    _load(db_engine, _issues(["唯一 022-2437 1234"] * 3))
    [issue_id] = store.query_issues(db_engine, jurisdiction_code=J, limit=1, offset=1)["id"]
    page = store.issue_features(db_engine, jurisdiction_code=J, where=IssueFilter(ids=[int(issue_id)]), limit=1)
    [feature] = _parsed(page)
    assert page.ids == [feature["id"]] == [issue_id]
    assert feature["properties"]["description"] == "唯一 022-****1234"


def test_columns_that_are_no_property_are_refused(db_engine):
    with pytest.raises(ValidationError, match="no column"):
        store.issue_features(db_engine, jurisdiction_code=J, properties=("source", "phone"))
    with pytest.raises(ValidationError, match="segment_dist_m"):
        store.issue_features(db_engine, jurisdiction_code=J, properties=("segment_dist_m",))
    with pytest.raises(ValidationError, match="no column"):
        store.issue_features(db_engine, jurisdiction_code=J, properties=("geom",))
