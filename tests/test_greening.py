"""Greening of the priority roads: chainage both ways, sections, progress, overdue rules, related issues."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point
from shapely.ops import substring

from geo.errors import ValidationError
from geo.frames.linref import line_substrings
from geo.frames.segments import chainage_of, point_at
from geo.greening import progress as greening
from geo.greening.tasks import (
    greening_issue_codes,
    load_greening_tasks,
    task_due_around,
)
from geo.taxonomy import load_taxonomy

CRS = "EPSG:4548"
X0, Y0 = 532_000.0, 4_331_000.0
TASKS = load_greening_tasks()

# A bent road: legs of 50 m (3-4-5 triangle), 100 m north, 100 m north-east (6-8-10): 250 m in all.
BENT = LineString([(X0, Y0), (X0 + 30, Y0 + 40), (X0 + 30, Y0 + 140), (X0 + 90, Y0 + 220)])
# A quarter circle of radius 100 m drawn with 90 chords of 1°: each chord is 200·sin(0.5°) m.
ARC = LineString([(X0 + 100 * math.cos(math.radians(a)), Y0 + 100 * math.sin(math.radians(a))) for a in range(91)])
CHORD = 200 * math.sin(math.radians(0.5))


def roads_frame(**lines) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"road_id": list(lines), "name": [f"{r}路" for r in lines]}, geometry=list(lines.values()), crs=CRS
    )


# ------------------------------------------------------------------ chainage ↔ point


@pytest.mark.parametrize(
    "m, xy", [(0.0, (0, 0)), (25.0, (15, 20)), (100.0, (30, 90)), (200.0, (60, 180)), (250.0, (90, 220))]
)
def test_point_at_on_a_bent_road_matches_the_hand_computation(m, xy):
    (p,) = point_at(BENT, [m])
    assert p.x == pytest.approx(X0 + xy[0], abs=1e-9) and p.y == pytest.approx(Y0 + xy[1], abs=1e-9)


def test_chainage_of_projects_onto_the_bent_road():
    # 5 m east of the northbound leg at (30, 90); 10 m off the last leg at its midpoint (60, 180),
    # along its left normal (-0.8, 0.6).
    points = [Point(X0 + 35, Y0 + 90), Point(X0 + 60 - 8, Y0 + 180 + 6), Point(X0 - 3, Y0 - 4)]
    np.testing.assert_allclose(chainage_of(points, BENT), [100.0, 200.0, 0.0], atol=1e-9)


def test_chainage_and_point_round_trip_on_a_circular_arc():
    assert ARC.length == pytest.approx(90 * CHORD, rel=1e-12)
    (mid,) = point_at(ARC, [45 * CHORD])
    assert (mid.x, mid.y) == pytest.approx((X0 + 100 * math.sqrt(0.5), Y0 + 100 * math.sqrt(0.5)), abs=1e-9)
    m = np.linspace(0, ARC.length, 37)
    np.testing.assert_allclose(chainage_of(point_at(ARC, m), ARC), m, atol=1e-8)
    # A point 20 m outside the arc at 30° projects onto it at chainage 30 chords.
    out = Point(X0 + 120 * math.cos(math.radians(30)), Y0 + 120 * math.sin(math.radians(30)))
    assert chainage_of([out], ARC)[0] == pytest.approx(30 * CHORD, abs=1e-8)


def test_line_substrings_follow_the_bends():
    (piece,) = line_substrings([BENT], [0], [40.0], [160.0])
    expected = [(X0 + 24, Y0 + 32), (X0 + 30, Y0 + 40), (X0 + 30, Y0 + 140), (X0 + 36, Y0 + 148)]
    np.testing.assert_allclose(shapely.get_coordinates(piece), expected, atol=1e-9)
    assert piece.length == pytest.approx(120.0)


def test_line_substrings_equal_shapely_substring_on_many_stretches():
    rng = np.random.default_rng(3)
    lines = np.array([BENT, ARC], dtype=object)
    which = rng.integers(0, 2, 300)
    length = shapely.length(lines)[which]
    a = rng.uniform(0, 1, 300) * length
    b = a + rng.uniform(0, 1, 300) * (length - a)
    b[:5], a[5:10], b[10:15] = a[:5], 0.0, length[10:15]
    got = line_substrings(lines, which, a, b)
    for g, i, lo, hi in zip(got, which, a, b):
        want = substring(lines[i], lo, hi)
        assert g.geom_type == want.geom_type
        assert g.equals_exact(want, 1e-9)


def test_line_substrings_refuse_stretches_off_the_line():
    with pytest.raises(ValidationError, match="not within line 0"):
        line_substrings([BENT], [0], [10.0], [260.0])
    with pytest.raises(ValidationError, match="ends before it starts"):
        line_substrings([BENT], [0], [100.0], [50.0])


# ------------------------------------------------------------------ sections


def test_sections_every_200_m_with_a_short_last_one():
    roads = roads_frame(A=LineString([(X0, Y0), (X0 + 1030, Y0)]), B=BENT)
    sections = greening.road_sections(roads)
    a = sections[sections["road_id"] == "A"]
    assert a["from_m"].tolist() == [0, 200, 400, 600, 800, 1000]
    assert a["to_m"].tolist() == pytest.approx([200, 400, 600, 800, 1000, 1030])
    assert a["section_name"].tolist()[-1] == "K1+000–K1+030"
    assert sections.geometry.length.to_numpy() == pytest.approx(sections["length_m"].to_numpy())
    b = sections[sections["road_id"] == "B"]
    assert b["section_no"].tolist() == [1, 2] and b["to_m"].tolist() == pytest.approx([200, 250])


def test_named_sections_replace_the_regular_ones_on_their_road():
    roads = roads_frame(A=LineString([(X0, Y0), (X0 + 1000, Y0)]), B=BENT)
    named = pd.DataFrame(
        {"road_id": ["A", "A"], "section_name": ["西段", "东段"], "from_m": [0, 600], "to_m": [600, 1000]}
    )
    sections = greening.road_sections(roads, named=named)
    assert sections.loc[sections["road_id"] == "A", "section_name"].tolist() == ["西段", "东段"]
    assert (sections["road_id"] == "B").sum() == 2
    with pytest.raises(ValidationError, match="not within road"):
        greening.road_sections(roads, named=named.assign(to_m=[600, 1200]))


# ------------------------------------------------------------------ progress

ROAD = roads_frame(A=LineString([(X0, Y0), (X0 + 500, Y0), (X0 + 500, Y0 + 500)]))  # 1000 m, one bend
DUE = pd.Timestamp("2025-04-30")


def plan(*rows) -> pd.DataFrame:
    """Rows of (task, side, from, to, due)."""
    return pd.DataFrame(
        [("A", t, s, f, e, pd.Timestamp(d)) for t, s, f, e, d in rows],
        columns=["road_id", "task_code", "side", "from_m", "to_m", "due_date"],
    )


def records(*rows) -> pd.DataFrame:
    """Rows of (task, side, from, to, done_on)."""
    frame = pd.DataFrame(
        [("A", t, s, f, e, pd.Timestamp(d)) for t, s, f, e, d in rows],
        columns=["road_id", "task_code", "side", "from_m", "to_m", "done_on"],
    )
    return frame.assign(id=np.arange(1, len(frame) + 1), quantity=10.0)


def test_overlapping_records_count_once_and_out_of_range_ones_are_clipped_and_reported():
    p = plan(("pruning", "left", 0, 1000, DUE), ("pruning", "right", 0, 1000, DUE))
    r = records(
        ("pruning", "left", 0, 300, "2025-04-01"),
        ("pruning", "left", 200, 500, "2025-04-02"),  # overlaps the first by 100 m
        ("pruning", "left", 250, 260, "2025-04-03"),  # inside both
        ("pruning", "left", -40, 100, "2025-04-04"),  # starts before the road
        ("pruning", "right", 900, 1100, "2025-04-05"),  # runs 100 m past its end
        ("pruning", "right", 1200, 1300, "2025-04-06"),  # wholly past the end
        ("pruning", "median", 0, 1000, "2025-04-07"),  # nothing planned on the median
        ("pruning", "right", 600, 600, "2025-04-08"),  # one spot: no length
    )
    result = greening.progress(p, r, roads_metric=ROAD, tasks=TASKS, as_of="2025-05-01")
    row = result.table.iloc[0]
    assert row["planned_m"] == pytest.approx(2000.0)
    assert row["done_m"] == pytest.approx(500.0 + 100.0)
    assert row["done_share"] == pytest.approx(0.3)
    assert row["n_records"] == 7 and row["quantity"] == pytest.approx(70.0)
    clipped = result.clipped.set_index("id")
    assert sorted(clipped.index) == [4, 5, 6]
    assert (clipped.loc[4, "kept_from_m"], clipped.loc[4, "kept_to_m"]) == (0.0, 100.0)
    assert clipped.loc[5, "kept_to_m"] == pytest.approx(1000.0)
    assert clipped.loc[5, "reason"].startswith("clipped to the road (0–1000.0 m)")
    assert np.isnan(clipped.loc[6, "kept_from_m"]) and "entirely outside" in clipped.loc[6, "reason"]


def test_union_of_intervals_merges_touching_and_nested_ones():
    frame = pd.DataFrame({"k": ["a"] * 5 + ["b"], "from_m": [0, 10, 3, 30, 40, 0], "to_m": [10, 20, 5, 40, 40, 1]})
    merged = greening.union_intervals(frame, ["k"])
    assert merged.values.tolist() == [["a", 0, 20], ["a", 30, 40], ["b", 0, 1]]


@pytest.mark.parametrize(
    "done, as_of, status, overdue_days",
    [
        ([("2025-04-10", 0, 1000)], "2025-04-20", "done", 0),  # complete before due
        ([("2025-04-10", 0, 999.7)], "2025-05-10", "done", 0),  # 0.3 m left: within 0.5 m
        ([("2025-04-10", 0, 600), ("2025-05-05", 600, 1000)], "2025-05-10", "done_late", 0),  # finished after due
        ([("2025-04-10", 0, 600)], "2025-05-10", "overdue", 10),  # past due, 40 % left
        ([("2025-04-10", 0, 999)], "2025-05-01", "overdue", 1),  # 1 m left counts
        ([("2025-04-10", 0, 600)], "2025-04-30", "in_progress", 0),  # due today: not yet late
        ([("2025-05-02", 0, 1000)], "2025-04-30", "not_started", 0),  # work after as_of
        ([("2024-04-10", 0, 1000)], "2025-04-20", "not_started", 0),  # last year's work
    ],
)
def test_overdue_rules(done, as_of, status, overdue_days):
    p = plan(("pruning", "left", 0, 1000, DUE))
    r = records(*[("pruning", "left", f, t, d) for d, f, t in done])
    row = greening.progress(p, r, roads_metric=ROAD, tasks=TASKS, as_of=as_of).table.iloc[0]
    assert row["status"] == status
    assert row["status_name"] == greening.STATUS_NAMES[status]
    assert row["days_overdue"] == overdue_days


def test_due_date_of_a_road_task_is_the_latest_of_its_rows_and_tasks_keep_the_table_order():
    p = plan(
        ("replanting", "left", 0, 500, "2025-05-10"),
        ("replanting", "left", 500, 1000, "2025-05-20"),
        ("pruning", "right", 0, 1000, DUE),
    )
    table = greening.progress(p, records(), roads_metric=ROAD, tasks=TASKS, as_of="2025-05-15").table
    assert table["task_code"].tolist() == ["pruning", "replanting"]
    assert table["status"].tolist() == ["overdue", "not_started"]
    assert table.loc[1, "due_date"] == pd.Timestamp("2025-05-20")
    summary = greening.season_summary(table)
    assert summary[["season", "planned_m", "n_overdue"]].values.tolist() == [["spring", 2000.0, 1]]


def test_section_progress_adds_the_sides_and_counts_records_meeting_each_section():
    p = plan(("pruning", "left", 0, 1000, DUE), ("pruning", "right", 0, 400, DUE))
    r = records(
        ("pruning", "left", 100, 300, "2025-04-01"),
        ("pruning", "right", 150, 250, "2025-04-02"),
        ("pruning", "left", 400, 400, "2025-04-03"),
        ("pest_control", "left", 0, 1000, "2025-04-03"),
    )
    sections = greening.road_sections(ROAD)
    shown = greening.section_progress(sections, p, r, task_code="pruning", as_of="2025-05-01")
    assert shown["planned_m"].tolist() == [400, 400, 200, 200, 200]
    assert shown["done_m"].tolist() == [150, 150, 0, 0, 0]
    assert shown["done_share"].tolist() == pytest.approx([0.375, 0.375, 0, 0, 0])
    # The spot at 400 m lies on the boundary of sections 2 and 3.
    assert shown["n_records"].tolist() == [2, 3, 1, 0, 0]


def test_progress_refuses_bad_input():
    with pytest.raises(ValidationError, match="side 'up'"):
        greening.progress(
            plan(("pruning", "up", 0, 10, DUE)), records(), roads_metric=ROAD, tasks=TASKS, as_of="2025-05-01"
        )
    with pytest.raises(ValidationError, match="unknown task 'mowing'"):
        greening.progress(
            plan(("mowing", "left", 0, 10, DUE)), records(), roads_metric=ROAD, tasks=TASKS, as_of="2025-05-01"
        )
    with pytest.raises(ValidationError, match="metric"):
        greening.progress(plan(), records(), roads_metric=ROAD.to_crs(4326), tasks=TASKS, as_of="2025-05-01")


# ------------------------------------------------------------------ tasks and issues


def test_task_table_and_the_task_shown_on_a_day():
    assert list(TASKS["name"]) == [
        "返青水",
        "防寒围挡拆除",
        "树挂清理",
        "修剪",
        "补植补种",
        "病虫害防治",
        "夏季修剪",
        "秋季除草",
        "冬季防寒",
    ]
    assert task_due_around(TASKS, "2025-03-05", year=2025) == "spring_watering"
    assert task_due_around(TASKS, "2025-08-15", year=2025) == "pest_control"
    assert task_due_around(TASKS, "2025-12-20", year=2025) == "winter_protection"
    assert task_due_around(TASKS, "2025-01-10", year=2025) == "spring_watering"


def test_greening_issue_codes_come_from_the_taxonomy():
    assert greening_issue_codes(load_taxonomy()) == ("06017", "06018", "06021", "06022", "06045")


def test_greening_issues_are_those_on_segments_of_the_road_with_their_chainage():
    roads = roads_frame(A=BENT)
    segments = pd.DataFrame({"segment_id": [1, 2, 3], "road_id": ["A", "A", "Z"]})
    points = [Point(X0 + 35, Y0 + 90), Point(X0 + 52, Y0 + 186), Point(X0 + 35, Y0 + 90), Point(X0, Y0)]
    issues = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4],
            "category_code": ["06021", "06045", "06010", "06017"],
            "segment_id": pd.array([1, 2, 1, 3], dtype="Int64"),
        },
        geometry=points,
        crs=CRS,
    )
    hit = greening.greening_issues(issues.to_crs(4326), segments, roads, codes=("06017", "06021", "06045"))
    assert hit["id"].tolist() == [1, 2]
    assert hit["road_name"].tolist() == ["A路", "A路"]
    np.testing.assert_allclose(hit["chainage_m"], [100.0, 200.0], atol=0.01)
