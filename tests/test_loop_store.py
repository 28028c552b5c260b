"""Storage of the dispatcher's and the crews' day, on SpatiaLite and PostGIS: the deadline filter and
order, photo kinds, merged duplicates, and migration 0010 both ways."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import pytest
from conftest import migrate_to
from sqlalchemy import inspect

from geo import store
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import workflow
from geo.store.db import head_revision, init_db, schema_revision

J = "120110900"


def _issues(deadlines: list[str | None], statuses: list[str] | None = None) -> gpd.GeoDataFrame:
    n = len(deadlines)
    return gpd.GeoDataFrame({
        "source": "inspection", "external_id": [f"d{i}" for i in range(n)], "source_system": "wgs84",
        "category_code": "06010", "status": statuses or "dispatched", "department_code": "sanitation_west",
        "reported_at": pd.Timestamp("2025-03-03 08:00"), "registered_at": pd.Timestamp("2025-03-03 08:30"),
        "dispatched_at": pd.Timestamp("2025-03-03 09:00"),
        "deadline_at": pd.to_datetime(pd.Series(deadlines, dtype=object), format="ISO8601"),
    }, geometry=gpd.points_from_xy([117.35 + i * 0.001 for i in range(n)], [39.1] * n), crs="EPSG:4326")


def _ids(engine) -> dict[str, int]:
    frame = store.query_issues(engine, jurisdiction_code=J, columns=("id", "external_id"))
    return dict(zip(frame["external_id"], frame["id"].astype(int)))


def test_deadline_filter_and_order_agree_with_the_frame_filter(db_engine):
    deadlines = ["2025-03-05 18:00", None, "2025-03-03 23:59:59", "2025-03-04 12:00", "2025-03-04 12:00"]
    store.insert_issues(db_engine, _issues(deadlines), jurisdiction_code=J, file="t", actor="t")
    ids = _ids(db_engine)
    soon = IssueFilter(due_since=datetime(2025, 3, 4), due_until=datetime(2025, 3, 5, 18))
    got = store.query_issues(db_engine, jurisdiction_code=J, where=soon, columns=("id", "external_id", "deadline_at"),
                             due_first=True)
    assert got["external_id"].tolist() == ["d3", "d4"]
    assert store.count_issues(db_engine, jurisdiction_code=J, where=soon) == 2
    every = store.query_issues(db_engine, jurisdiction_code=J, columns=("id", "external_id", "deadline_at",
                                                                        "reported_at", "status"), due_first=True)
    # earliest deadline first, ties by id, no deadline last
    assert every["external_id"].tolist() == ["d2", *sorted(["d3", "d4"], key=ids.get), "d0", "d1"]
    assert every[soon.mask(every)]["external_id"].tolist() == got["external_id"].tolist()
    overdue = IssueFilter(due_until=datetime(2025, 3, 4, 12))
    assert store.query_issues(db_engine, jurisdiction_code=J, where=overdue,
                              columns=("external_id",))["external_id"].tolist() == ["d2"]
    with pytest.raises(ValidationError, match="due_since 2025-03-05 00:00 晚于 due_until"):
        IssueFilter(due_since=datetime(2025, 3, 5), due_until=datetime(2025, 3, 4))
    with pytest.raises(ValidationError, match="choose one order"):
        store.query_issues(db_engine, jurisdiction_code=J, newest_first=True, due_first=True)


def test_photo_kinds_and_merged_duplicates(db_engine):
    store.insert_issues(db_engine, _issues(["2025-03-05 18:00"] * 3, ["dispatched", "reported", "reported"]),
                        jurisdiction_code=J, file="t", actor="t")
    ids = _ids(db_engine)
    master, first, second = ids["d0"], ids["d1"], ids["d2"]
    at = pd.Timestamp("2025-03-03 10:00")
    store.insert_issue_photos(db_engine, pd.DataFrame({
        "issue_id": master, "file": ["a.jpg", "b.jpg", "c.jpg"], "content_type": "image/jpeg", "size_bytes": 10,
        "uploaded_by": "西片", "at": at, "kind": ["before", "after", None]}), jurisdiction_code=J)
    # a frame without kinds (photos of a report made before kinds existed) is stored too
    store.insert_issue_photos(db_engine, pd.DataFrame({
        "issue_id": [master], "file": ["d.jpg"], "content_type": "image/jpeg", "size_bytes": 10,
        "uploaded_by": "市民", "at": at}), jurisdiction_code=J)
    photos = store.read_issue_photos(db_engine, issue_id=master)
    assert photos["kind"].tolist()[:2] == ["before", "after"] and photos["kind"].isna().tolist()[2:] == [True, True]
    for duplicate in (second, first):
        workflow.apply_transition(db_engine, duplicate, "merge", actor="调度", role="dispatcher", merge_into=master)
    merged = store.read_merged_into(db_engine, master)
    assert sorted(merged["id"].tolist()) == sorted([first, second])
    assert merged["category_code"].tolist() == ["06010", "06010"]
    assert store.read_merged_into(db_engine, first).empty


def test_migration_0010_goes_both_ways(db_engine):
    from conftest import schema_differences

    with db_engine.connect() as conn:  # the model and the migration agree on what 0010 adds
        diff = schema_differences(conn)
    assert [d for d in diff if any(w in str(d) for w in ("issue_requests", "kind", "merged_into"))] == []
    store.insert_issues(db_engine, _issues(["2025-03-05 18:00"]), jurisdiction_code=J, file="t", actor="t")
    (issue_id,) = _ids(db_engine).values()
    workflow.apply_transition(db_engine, issue_id, "ask_extension", actor="西片", role="department",
                              department_code="sanitation_west", note="需要吊车", days=2)
    migrate_to(db_engine, "0009")
    assert schema_revision(db_engine) == "0009"
    schema = inspect(db_engine)
    assert "issue_requests" not in schema.get_table_names()
    assert "kind" not in {c["name"] for c in schema.get_columns("issue_photos")}
    assert "ix_issues_merged_into" not in {i["name"] for i in schema.get_indexes("issues")}
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision()
    schema = inspect(db_engine)
    assert "kind" in {c["name"] for c in schema.get_columns("issue_photos")}
    assert "ix_issues_merged_into" in {i["name"] for i in schema.get_indexes("issues")}
    # the table is back, empty, and works
    assert store.count_pending_requests(db_engine, jurisdiction_code=J) == 0
    workflow.apply_transition(db_engine, issue_id, "ask_extension", actor="西片", role="department",
                              department_code="sanitation_west", note="需要吊车", days=2)
    assert store.count_pending_requests(db_engine, jurisdiction_code=J) == 1
