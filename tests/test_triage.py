"""The dispatcher's and the crews' use cases on SpatiaLite and PostGIS, on the sample's layers and a few
hand-made issues: inbox counts and their filters, dispatch suggestions, duplicate candidates both ways,
a department's queue with its distances and navigation points."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo import store
from geo.crs import to_metric, wgs84_to_gcj02
from geo.io import ingest
from geo.issue_filter import IssueFilter
from geo.loop import crew, triage, workflow
from geo.settings import load_settings
from webmap import params

J = "120110900"
NOW = datetime(2026, 12, 7, 10, 0)
#: a point on a road of the west contractor zone, and how far one metre east is in degrees there
WEST = (117.33797, 39.08977)
DEG_PER_M = 1 / (111_320 * np.cos(np.radians(WEST[1])))


@pytest.fixture
def settings(tmp_path):
    return load_settings({"data_dir": str(tmp_path)}, environ={})


@pytest.fixture
def layered(db_engine, settings):
    """An empty database with the sample's reference layers."""
    ingest.load_layer_dir(db_engine, settings.sample_dir)
    return db_engine


def _add(engine, settings, rows: list[dict]) -> list[int]:
    """Issues assigned and scheduled like a report; each row: tag, category, east_m (from WEST), minutes (before
    NOW) and optionally status, deadline and department (else the one assignment gives)."""
    frame = gpd.GeoDataFrame({
        "source": "web", "external_id": [r["tag"] for r in rows], "source_system": "wgs84",
        "category_code": [r["category"] for r in rows], "description": "测试", "status": None,
        "reported_at": [NOW - timedelta(minutes=r.get("minutes", 0)) for r in rows],
    }, geometry=[Point(WEST[0] + r.get("east_m", 0) * DEG_PER_M, WEST[1]) for r in rows], crs="EPSG:4326")
    issues = ingest.assign_and_schedule(frame, ingest.read_layers(engine, jurisdiction_code=J), settings=settings)
    issues["status"] = [r.get("status", "reported") for r in rows]
    for i, r in enumerate(rows):
        if "department" in r:
            issues.loc[i, "department_code"] = r["department"]
        if "deadline" in r:
            issues.loc[i, "deadline_at"] = r["deadline"]
        if r.get("status", "reported") != "reported":
            issues.loc[i, "registered_at"] = NOW - timedelta(hours=1)
        if r.get("status") in ("dispatched", "handled", "closed"):
            issues.loc[i, "dispatched_at"] = NOW - timedelta(minutes=50)
    store.insert_issues(engine, issues, jurisdiction_code=J, file="t", actor="t")
    return [store.issue_id_of(engine, jurisdiction_code=J, source="web", external_id=r["tag"]) for r in rows]


def _one(engine, issue_id: int) -> gpd.GeoDataFrame:
    return store.query_issues(engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]), columns=(
        "id", "category_code", "status", "reported_at", "department_code", "zone_code", "community_code"))


def test_inbox_filters_survive_a_link_and_count_in_sql(layered, settings):
    due = {"overdue": NOW - timedelta(hours=2), "soon": NOW + timedelta(hours=5), "later": NOW + timedelta(days=3)}
    _add(layered, settings, [
        {"tag": "r1", "category": "06010"}, {"tag": "r2", "category": "07001", "east_m": 300},
        {"tag": "g1", "category": "06010", "status": "registered", "deadline": due["overdue"], "east_m": 600},
        {"tag": "d1", "category": "06010", "status": "dispatched", "deadline": due["soon"], "east_m": 900},
        {"tag": "d2", "category": "06010", "status": "dispatched", "deadline": due["later"], "east_m": 1200},
        {"tag": "h1", "category": "06010", "status": "handled", "deadline": due["overdue"], "east_m": 1500},
        {"tag": "c1", "category": "06010", "status": "closed", "deadline": due["overdue"], "east_m": 1800},
    ])
    filters, counts = triage.inbox_counts(layered, settings, now=NOW + timedelta(microseconds=700))
    # r1, garbage, is due today at 23:59:59 (same day): due soon like d1; r2, small ads, tomorrow at 18:00
    assert counts == {"reported": 2, "registered": 1, "handled": 1, "due_soon": 2, "overdue": 1, "requests": 0}
    for key, where in filters.items():
        again = params.issue_filter(params.filter_query(where))
        assert again == where, key
        assert store.count_issues(layered, jurisdiction_code=J, where=again) == counts[key]
    # a department's inbox holds its own only
    _, theirs = triage.inbox_counts(layered, settings, now=NOW, reach=["construction"])
    assert set(theirs.values()) == {0}


def test_duplicates_are_offered_both_ways_with_who_merges_into_whom(layered, settings):
    first, second, related, other, far, old, closed = _add(layered, settings, [
        {"tag": "first", "category": "06010", "minutes": 30},
        {"tag": "second", "category": "06010", "minutes": 29},
        {"tag": "related", "category": "06042", "east_m": 10, "minutes": 20},
        {"tag": "other", "category": "07001", "minutes": 25},
        {"tag": "far", "category": "06010", "east_m": 30, "minutes": 25},
        {"tag": "old", "category": "06010", "minutes": 60 * 25},
        {"tag": "closed", "category": "06010", "minutes": 28, "status": "closed"},
    ])
    seen = triage.duplicate_candidates(layered, settings, _one(layered, second))
    assert seen[["id", "merge_id", "master_id", "same_category", "mergeable"]].values.tolist() == [
        [first, second, first, True, True], [related, related, second, False, True]]
    assert seen["minutes_apart"].tolist() == pytest.approx([-1.0, 9.0])
    assert seen["dist_m"].tolist() == pytest.approx([0.0, 10.0], abs=0.05)
    # from the first report: both later ones would be merged into it
    seen = triage.duplicate_candidates(layered, settings, _one(layered, first))
    assert seen[["id", "merge_id", "master_id"]].values.tolist() == [
        [second, second, first], [related, related, first]]
    # a later report already dispatched cannot be merged any more: shown, not offered
    workflow.apply_transition(layered, second, "register", actor="d", role="dispatcher")
    workflow.apply_transition(layered, second, "dispatch", actor="d", role="dispatcher")
    seen = triage.duplicate_candidates(layered, settings, _one(layered, first))
    assert seen.set_index("id").loc[second, "mergeable"] == np.False_
    assert triage.duplicate_candidates(layered, settings, _one(layered, other)).empty
    wider = replace(settings, duplicate_radius_m=40.0)
    assert far in triage.duplicate_candidates(layered, wider, _one(layered, first))["id"].tolist()
    assert old not in triage.duplicate_candidates(layered, wider, _one(layered, first))["id"].tolist()
    assert closed not in triage.duplicate_candidates(layered, wider, _one(layered, first))["id"].tolist()


def test_suggestion_names_lead_contractor_supporting_and_skips_who_sent_it_back(layered, settings):
    pile, wall = _add(layered, settings, [{"tag": "pile", "category": "06010"},
                                          {"tag": "wall", "category": "06004", "east_m": 200}])
    s = triage.dispatch_suggestion(layered, settings, _one(layered, pile))
    community = _one(layered, pile)["community_code"].iloc[0]
    assert (s.department_code, s.reason, s.lead, s.zone_contractor) == (
        "sanitation_west", "zone", "sanitation", "sanitation_west")
    assert s.supporting == (f"community:{community}",) and s.preselect == "sanitation_west"
    # 06004 (facades) is construction's with enforcement: sanitation takes no part, so no zone contractor
    s = triage.dispatch_suggestion(layered, settings, _one(layered, wall))
    assert (s.department_code, s.zone_contractor, s.supporting) == ("construction", None, ("enforcement",))
    # a frontage unit around the pile takes the suggestion
    store.replace_frontage_units(layered, gpd.GeoDataFrame(
        {"code": ["F1"], "name": ["某超市"], "kind": ["shop"]},
        geometry=[box(WEST[0] - 0.0002, WEST[1] - 0.0002, WEST[0] + 0.0002, WEST[1] + 0.0002)], crs="EPSG:4326"),
        jurisdiction_code=J)
    assert triage.dispatch_suggestion(layered, settings, _one(layered, pile)).department_code == "frontage:F1"
    store.replace_frontage_units(layered, gpd.GeoDataFrame({"code": [], "name": [], "kind": []}, geometry=[],
                                                           crs="EPSG:4326"), jurisdiction_code=J)
    # the west contractor sends it back: the suggestion moves on to the category's lead
    for action, extra in (("register", {}), ("dispatch", {})):
        workflow.apply_transition(layered, pile, action, actor="d", role="dispatcher", **extra)
    workflow.apply_transition(layered, pile, "ask_return", actor="w", role="department",
                              department_code="sanitation_west", note="不在我片区")
    workflow.apply_transition(layered, pile, "grant_return", actor="d", role="dispatcher")
    s = triage.dispatch_suggestion(layered, settings, _one(layered, pile))
    assert s.returned == ("sanitation_west",) and s.preselect == "sanitation"


def test_a_department_queue_comes_due_first_with_distances_and_navigation_points(layered, settings):
    ids = _add(layered, settings, [
        {"tag": "later", "category": "06010", "status": "dispatched", "deadline": NOW + timedelta(days=2),
         "east_m": 400, "department": "sanitation_west"},
        {"tag": "late", "category": "06036", "status": "dispatched", "deadline": NOW - timedelta(hours=30)},
        {"tag": "soon", "category": "06010", "status": "dispatched", "deadline": NOW + timedelta(hours=3),
         "east_m": 800, "department": "sanitation_west"},
        {"tag": "theirs", "category": "06004", "status": "dispatched", "deadline": NOW - timedelta(days=9)},
        {"tag": "done", "category": "06010", "status": "handled", "deadline": NOW - timedelta(days=9)},
    ])
    later, late, soon = ids[:3]
    workflow.apply_transition(layered, late, "urge", actor="d", role="dispatcher", note="快")
    workflow.apply_transition(layered, soon, "ask_extension", actor="w", role="department",
                              department_code="sanitation_west", note="车不够", days=1)
    reach = ["sanitation", "sanitation_west", "sanitation_east"]
    queue = crew.crew_queue(layered, settings, departments=reach, now=NOW)
    issues = queue.issues
    assert issues["id"].tolist() == [late, soon, later]
    assert issues["urgency"].tolist() == ["overdue", "soon", "later"]
    assert issues["hours_left"].tolist() == pytest.approx([-30.0, 3.0, 48.0])
    assert (queue.total, queue.overdue, queue.soon) == (3, 1, 1)
    assert issues["urged"].tolist() == [1, 0, 0] and issues["pending"].tolist() == [None, "extension", None]
    zones = store.read_layer(layered, "zones", jurisdiction_code=J).set_index("code")
    depot = gpd.GeoSeries([Point(zones.loc["sanitation_west", "depot_lon"], zones.loc["sanitation_west", "depot_lat"])],
                          crs="EPSG:4326")
    expected = to_metric(issues, crs=settings.metric_crs).distance(to_metric(depot, crs=settings.metric_crs).iloc[0])
    assert issues["depot_dist_m"].tolist() == pytest.approx(expected.tolist())
    assert set(issues["depot_name"]) == {zones.loc["sanitation_west", "name"]}
    gcj_lon, gcj_lat = wgs84_to_gcj02(issues.geometry.x, issues.geometry.y)
    assert issues["gcj_lon"].tolist() == pytest.approx(gcj_lon.tolist())
    assert issues["gcj_lat"].tolist() == pytest.approx(gcj_lat.tolist())
    # paging, and a department with no zone: no depot to measure from
    assert crew.crew_queue(layered, settings, departments=reach, now=NOW, limit=1, offset=1).issues["id"].tolist() == [
        soon]
    theirs = crew.crew_queue(layered, settings, departments=["construction"], now=NOW)
    assert theirs.total == 1 and np.isnan(theirs.issues["depot_dist_m"].iloc[0])
    assert crew.department_zones(zones.reset_index(), ["sanitation_east"])["code"].tolist() == ["sanitation_east"]
    assert len(crew.department_zones(zones.reset_index(), None)) == len(zones)
    with pytest.raises(Exception, match="is not a date and time"):
        crew.crew_queue(layered, settings, departments=reach, now="today")
    assert isinstance(issues["deadline_at"].iloc[0], pd.Timestamp)
