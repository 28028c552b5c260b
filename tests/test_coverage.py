"""Coverage on a hand-made track, GPX/GeoJSON import, inspections in the store, the weekly report workbook."""

from __future__ import annotations

import json
from datetime import datetime

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geo import store
from geo.crs import to_wgs84
from geo.errors import ValidationError
from geo.io import read_inspection_file
from geo.loop import coverage

J = "120110900"
CRS = "EPSG:4548"
X0, Y0 = 530000.0, 4330000.0


def metric(geoms) -> gpd.GeoSeries:
    return to_wgs84(gpd.GeoSeries(geoms, crs=CRS))


def cells_3x3() -> gpd.GeoDataFrame:
    """Nine 100 m cells, codes C<col><row>, rows counted northwards from Y0."""
    cols, rows = np.meshgrid(range(3), range(3))
    geoms = [box(X0 + c * 100, Y0 + r * 100, X0 + c * 100 + 100, Y0 + r * 100 + 100)
             for c, r in zip(cols.ravel(), rows.ravel())]
    codes = [f"C{c}{r}" for c, r in zip(cols.ravel(), rows.ravel())]
    return gpd.GeoDataFrame({"code": codes}, geometry=metric(geoms).values, crs="EPSG:4326")


def test_coverage_of_a_hand_made_track():
    cells = cells_3x3()
    # A road along the middle row (y = Y0 + 150), 300 m, and one along the west column (x = X0 + 50), 300 m.
    segments = gpd.GeoDataFrame({"segment_id": [1, 2], "name": ["东西路", "南北路"]}, geometry=metric([
        LineString([(X0, Y0 + 150), (X0 + 300, Y0 + 150)]),
        LineString([(X0 + 50, Y0), (X0 + 50, Y0 + 300)])]).values, crs="EPSG:4326")
    # Walked 10 m north of the east–west road, from x = 0 to x = 200, on 2025-03-03; an old walk on 2-01.
    tracks = gpd.GeoDataFrame({
        "started_at": pd.to_datetime(["2025-03-03 09:00", "2025-02-01 09:00"]),
        "ended_at": pd.to_datetime(["2025-03-03 09:30", "2025-02-01 09:30"]),
    }, geometry=metric([LineString([(X0, Y0 + 160), (X0 + 200, Y0 + 160)]),
                        LineString([(X0 + 250, Y0 + 20), (X0 + 250, Y0 + 280)])]).values, crs="EPSG:4326")
    patch = metric([box(X0, Y0, X0 + 300, Y0 + 300)]).iloc[0]
    result = coverage.coverage(tracks, patch=patch, cells=cells, segments=segments, until=datetime(2025, 3, 4),
                               days=7, tolerance_m=15.0)
    # The buffered walk (y 145–175, x −15…215) touches the middle row's cells C01, C11, C21 (C21 from x 200 on).
    assert result.cells_total == 9 and result.cells_visited == 3
    assert sorted(result.cells.loc[result.cells["visited"], "code"]) == ["C01", "C11", "C21"]
    assert result.cell_share == pytest.approx(3 / 9)
    # East–west road (10 m south of the walk): x 0…200, plus the round cap at the east end reaching
    # sqrt(15² − 10²) m further; the patch clips the west end at x = 0. North–south road: y 145…175 → 30 m.
    east_west = 200 + np.sqrt(15**2 - 10**2)
    visited = result.roads.set_index("segment_id")["visited_m"]
    assert visited[1] == pytest.approx(east_west, abs=0.2)
    assert visited[2] == pytest.approx(30.0, abs=0.05)
    assert result.road_km == pytest.approx(0.6, abs=1e-3)
    assert result.road_share == pytest.approx((east_west + 30) / 600, abs=1e-3)
    # Widening the window to February brings in the old walk along x = 250: the east column too.
    wider = coverage.coverage(tracks, patch=patch, cells=cells, segments=segments, until=datetime(2025, 3, 4),
                              days=40, tolerance_m=15.0)
    assert wider.cells_visited == 5
    # No track in the window: nothing visited, and an empty patch is undefined rather than 0 %.
    none = coverage.coverage(tracks.iloc[:0], patch=patch, cells=cells, segments=segments,
                             until=datetime(2025, 3, 4), days=7, tolerance_m=15.0)
    assert none.cells_visited == 0 and none.road_visited_km == 0.0
    with pytest.raises(ValidationError, match="days 0"):
        coverage.coverage(tracks, patch=patch, cells=cells, segments=segments, until=datetime(2025, 3, 4),
                          days=0, tolerance_m=15.0)


GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="39.1000" lon="117.3500"><time>2025-03-03T01:30:00Z</time></wpt>
  <trk><trkseg>
    <trkpt lat="39.1000" lon="117.3500"><time>2025-03-03T01:00:00Z</time></trkpt>
    <trkpt lat="39.1000" lon="117.3510"><time>2025-03-03T01:05:00Z</time></trkpt>
    <trkpt lat="39.1010" lon="117.3510"><time>2025-03-03T01:10:00Z</time></trkpt>
  </trkseg><trkseg>
    <trkpt lat="39.1010" lon="117.3510"><time>2025-03-03T01:20:00Z</time></trkpt>
  </trkseg></trk>
</gpx>"""


def test_gpx_and_geojson_tracks_are_read_in_local_time(tmp_path):
    path = tmp_path / "walk.gpx"
    path.write_text(GPX, encoding="utf-8")
    frame = read_inspection_file(path, team="grid_center", actor="网格员A")
    # The one-fix segment is no track; times are UTC in GPX, local (UTC+8) here.
    assert frame["kind"].tolist() == ["track", "checkin"]
    assert frame["started_at"].tolist() == [pd.Timestamp("2025-03-03 09:00"), pd.Timestamp("2025-03-03 09:30")]
    assert frame["ended_at"].iloc[0] == pd.Timestamp("2025-03-03 09:10")
    assert list(frame.geometry.iloc[0].coords) == [(117.35, 39.1), (117.351, 39.1), (117.351, 39.101)]
    assert (frame["team"] == "grid_center").all() and (frame["source"] == "gpx").all()

    geojson = tmp_path / "walk.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"started_at": "2025-03-03 09:00", "ended_at": "2025-03-03 09:40",
                                           "actor": "乙"},
         "geometry": {"type": "LineString", "coordinates": [[117.35, 39.1], [117.36, 39.1]]}},
        {"type": "Feature", "properties": {"time": "2025-03-03T10:00:00+08:00"},
         "geometry": {"type": "Point", "coordinates": [117.35, 39.1]}}]}), encoding="utf-8")
    frame = read_inspection_file(geojson, team="sanitation_west", actor="甲")
    assert frame["kind"].tolist() == ["track", "checkin"] and frame["actor"].tolist() == ["乙", "甲"]
    assert frame["started_at"].iloc[1] == pd.Timestamp("2025-03-03 10:00")

    bad = tmp_path / "bad.gpx"
    bad.write_text(GPX.replace("<time>2025-03-03T01:30:00Z</time>", ""), encoding="utf-8")
    with pytest.raises(ValidationError, match="inspection 2 has no readable time"):
        read_inspection_file(bad, team="grid_center", actor="a")
    with pytest.raises(ValidationError, match=".gpx or .geojson"):
        read_inspection_file(tmp_path / "walk.csv", team="grid_center", actor="a")


def test_inspections_are_stored_filtered_and_purged(db_engine):
    frame = gpd.GeoDataFrame({
        "team": ["sanitation_west", "sanitation_west", "grid_center"], "actor": ["a", "a", "b"],
        "kind": ["track", "checkin", "track"],
        "started_at": pd.to_datetime(["2025-01-01 08:00", "2025-03-01 08:00", "2025-03-02 08:00"]),
        "ended_at": pd.to_datetime(["2025-01-01 09:00", "2025-03-01 08:00", "2025-03-02 09:00"]),
        "source": "gpx",
    }, geometry=[LineString([(117.35, 39.1), (117.36, 39.1)]), Point(117.35, 39.1),
                 LineString([(117.35, 39.1), (117.35, 39.11)])], crs="EPSG:4326")
    assert store.insert_inspections(db_engine, frame, jurisdiction_code=J) == 3
    west = store.read_inspections(db_engine, jurisdiction_code=J, teams=["sanitation_west"])
    assert west["kind"].tolist() == ["track", "checkin"]
    assert west["started_at"].tolist() == [pd.Timestamp("2025-01-01 08:00"), pd.Timestamp("2025-03-01 08:00")]
    assert west.geometry.iloc[0].equals(frame.geometry.iloc[0])
    recent = store.read_inspections(db_engine, jurisdiction_code=J, since=datetime(2025, 2, 1))
    assert recent["actor"].tolist() == ["a", "b"]
    # Retention: everything that ended before 1 February goes, the rest stays.
    assert store.purge_inspections(db_engine, before=datetime(2025, 2, 1), jurisdiction_code=J) == 1
    assert len(store.read_inspections(db_engine, jurisdiction_code=J)) == 2


def test_team_patches_cover_every_department_and_community():
    from geo.io.ingest import load_layers_from_dir
    from geo.taxonomy import load_taxonomy

    layers = load_layers_from_dir(__import__("pathlib").Path(__file__).resolve().parents[1] / "data")
    patches = coverage.team_patches(jurisdiction=layers.jurisdiction, communities=layers.communities,
                                    zones=layers.zones)
    departments = load_taxonomy().departments.index
    assert set(departments) <= set(patches["code"])
    assert len(patches) == len(departments) + len(layers.communities)
    west = patches.set_index("code").loc["sanitation_west"].geometry
    assert west.equals(layers.zones.set_index("code").loc["sanitation_west"].geometry)
    office = patches.set_index("code").loc["construction"].geometry
    assert office.equals(layers.jurisdiction.geometry.iloc[0])


def test_weekly_report_workbook_holds_the_figures(sample_db, tmp_path):
    from geo.loop import metrics
    from geo.loop.views import read_issues
    from geo.loop.weekly import parse_week, weekly_report
    from geo.store.db import make_engine
    from webmap.figures import write_weekly_workbook

    engine = make_engine(sample_db.resolved_database_url)
    start, end = parse_week("2025-W50")
    assert (start, end) == (datetime(2025, 12, 8), datetime(2025, 12, 15))
    now = datetime(2025, 12, 15)
    path = write_weekly_workbook(weekly_report(engine, sample_db, week="2025-W50", now=now), tmp_path / "r.xlsx")
    issues = read_issues(engine, sample_db)
    expected = metrics.period_figures(issues, start=start, end=end, now=now)
    before = metrics.period_figures(issues, start=datetime(2025, 12, 1), end=start, now=now)
    engine.dispose()
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["概况", "本周与上周", "每日", "责任科室", "社区", "网格", "片区", "专项任务", "地图"]
    summary = {row[0]: row[1:] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["周次"] == ("2025-W50", "2025-W49", None)
    assert summary["应结案数"] == (expected["due"], before["due"], expected["due"] - before["due"])
    assert expected["due"] > 0
