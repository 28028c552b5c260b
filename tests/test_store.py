"""Storage on SpatiaLite and PostGIS: schema, layers, issue loads, bbox queries."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import migrate_to
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, box
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from geo import store
from geo.errors import ConfigError, ConflictError, NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.store.db import (
    SQLITE_PAGE_BYTES,
    head_revision,
    init_db,
    make_engine,
    schema_revision,
    write_tx,
)

J = "120110900"


def _jurisdiction() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [J], "name": ["金桥街道"], "district_code": ["120110"], "metric_crs": ["EPSG:4548"],
         "cell_size_m": [100.0], "grid_origin_x": [528500.0], "grid_origin_y": [4327400.0]},
        geometry=[box(117.33, 39.08, 117.40, 39.12)], crs="EPSG:4326",
    )


def _layers() -> dict[str, gpd.GeoDataFrame]:
    communities = gpd.GeoDataFrame({"code": [J + "001", J + "002"], "name": ["甲社区", "乙社区"]},
                                   geometry=[box(117.33, 39.08, 117.365, 39.12), box(117.365, 39.08, 117.40, 39.12)],
                                   crs="EPSG:4326")
    roads = gpd.GeoDataFrame({"road_id": ["R1"], "name": ["津北公路"], "road_class": ["arterial"],
                              "is_priority": [True], "oneway": [False]},
                             geometry=[LineString([(117.33, 39.10), (117.40, 39.10)])], crs="EPSG:4326")
    return {"communities": communities, "roads": roads}


def _departments() -> pd.DataFrame:
    return pd.DataFrame({"code": ["sanitation"], "name": ["公共管理办（市容环卫）"], "name_en": ["Sanitation"],
                         "kind": ["office"], "parent": [None]})


def _issues(n: int, *, seed: int = 1, source: str = "12345") -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(117.33, 117.40, n)
    lat = rng.uniform(39.08, 39.12, n)
    return gpd.GeoDataFrame({
        "source": source,
        "external_id": [f"E{i:07d}" for i in range(n)],
        "source_system": "wgs84",
        "category_code": "06010",
        "description": "路边有垃圾",
        "status": "registered",
        "reported_at": pd.Timestamp("2025-03-01 08:00") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
        "registered_at": pd.Timestamp("2025-04-01 08:00"),
        "phone": np.where(np.arange(n) % 2 == 0, "13800138000", None),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def test_schema_is_at_head_and_migrating_again_is_a_no_op(db_engine):
    assert schema_revision(db_engine) == head_revision()
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision()


def _user(engine, name: str, role: str, department: str | None = None) -> int:
    return store.create_user(engine, name=name, password_hash="x", role=role, department_code=department,
                             jurisdiction_code=J, now=datetime(2025, 1, 1))


def test_api_keys_act_as_their_user(db_engine):
    crew = _user(db_engine, "环卫一队", "department", "sanitation")
    by_name = store.create_api_key(db_engine, "环卫APP", jurisdiction_code=J, user="环卫一队")
    by_id = store.create_api_key(db_engine, "环卫平板", jurisdiction_code=J, user=crew)
    keyless = store.create_api_key(db_engine, "12345", jurisdiction_code=J)
    for key, key_name in ((by_name, "环卫APP"), (by_id, "环卫平板")):
        user = store.api_key_user(db_engine, key, jurisdiction_code=J)
        assert {k: user[k] for k in ("id", "name", "role", "department_code", "key_name")} == {
            "id": crew, "name": "环卫一队", "role": "department", "department_code": "sanitation", "key_name": key_name}
    assert {k: v for k, v in store.api_key_user(db_engine, keyless, jurisdiction_code=J).items()
            if k in ("id", "name", "role", "department_code")} == {
        "id": None, "name": "12345", "role": "public", "department_code": None}
    assert store.api_key_user(db_engine, "not-a-key", jurisdiction_code=J) is None
    assert store.api_key_user(db_engine, by_name, jurisdiction_code="120110901") is None
    with pytest.raises(NotFoundError, match="user 'nobody' not found"):
        store.create_api_key(db_engine, "无主", jurisdiction_code=J, user="nobody")
    with pytest.raises(ConflictError, match="'环卫APP' already exists"):
        store.create_api_key(db_engine, "环卫APP", jurisdiction_code=J)
    assert store.count_rows(db_engine, "api_keys", jurisdiction_code=J) == 3
    # a deactivated user's keys stop working, and no key can be made for one
    with write_tx(db_engine) as conn:
        conn.execute(text("UPDATE users SET active = :no WHERE id = :id"), {"no": False, "id": crew})
    assert store.api_key_user(db_engine, by_id, jurisdiction_code=J) is None
    with pytest.raises(NotFoundError):
        store.create_api_key(db_engine, "又一个", jurisdiction_code=J, user=crew)


def test_a_key_made_before_keys_had_users_migrates_to_one_without_a_user(db_engine):
    migrate_to(db_engine, "0005")
    assert schema_revision(db_engine) == "0005"
    old_key = "a key of revision 0005"
    with write_tx(db_engine) as conn:
        conn.execute(text("INSERT INTO api_keys (jurisdiction_code, name, key_sha256, created_at) "
                          "VALUES (:j, '老接口', :h, :at)"),
                     {"j": J, "h": hashlib.sha256(old_key.encode()).hexdigest(), "at": datetime(2025, 1, 1)})
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision()
    user = store.api_key_user(db_engine, old_key, jurisdiction_code=J)
    assert (user["id"], user["name"], user["role"]) == (None, "老接口", "public")


def test_issues_stored_under_the_key_constraint_keep_everything_through_the_migration(db_engine):
    """0007 rebuilds the SQLite table: ids, events, contacts, R*Tree and triggers must all come through."""
    issues = _issues(300, seed=31)
    store.insert_issues(db_engine, issues, jurisdiction_code=J, file="old.csv", actor="test")
    migrate_to(db_engine, "0006")
    bbox = (117.34, 39.09, 117.37, 39.11)

    def state():
        ids = store.query_issues(db_engine, jurisdiction_code=J, columns=("id", "external_id"))
        inside = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(bbox=bbox),
                                    columns=("external_id",))
        # the audit trails are the same whether a step is an event row (0006) or an imported lifecycle (0012)
        trails = [_trail(db_engine, i) for i in ids["id"].iloc[::50]]
        return (sorted(zip(ids["id"], ids["external_id"])), sorted(inside["external_id"]),
                store.count_rows(db_engine, "reporter_contacts", jurisdiction_code=J), trails)

    before = state()
    assert before[2] == 150 and len(before[1]) > 0
    assert before[3][0] == [{"at": pd.Timestamp("2025-04-01 08:00"), "actor": "test", "action": "register",
                             "from_status": "reported", "to_status": "registered"}]
    for step in ("upgrade", "downgrade", "upgrade"):
        if step == "upgrade":
            init_db(db_engine)
        else:
            migrate_to(db_engine, "0006")
        assert state() == before, step
    assert schema_revision(db_engine) == head_revision()
    assert {name: sql for name, sql in _issue_schema(db_engine) if name == "uq_issue_source_external_id"}
    with pytest.raises(IntegrityError), write_tx(db_engine) as conn:
        conn.execute(text("INSERT INTO issues (jurisdiction_code, source, external_id, source_system, category_code, "
                          "status, reported_at, rework_count, geom) SELECT jurisdiction_code, source, external_id, "
                          "source_system, category_code, status, reported_at, 0, geom FROM issues LIMIT 1"))
    # the spatial triggers were made again: a new issue reaches the spatial index
    store.insert_issues(db_engine, _issues(1, seed=32, source="web").set_geometry(
        gpd.points_from_xy([117.35], [39.10], crs="EPSG:4326")), jurisdiction_code=J, file="new.csv", actor="test")
    found = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(bbox=bbox), columns=("source",))
    assert found["source"].tolist().count("web") == 1


def _trail(engine, issue_id: int) -> list[dict]:
    """An issue's audit trail without event ids: read by the store at head, from the event rows before 0012."""
    columns = ["at", "actor", "action", "from_status", "to_status"]
    if schema_revision(engine) == head_revision():
        return store.read_issue_events(engine, issue_id)[columns].to_dict("records")
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM issue_events WHERE issue_id = :i ORDER BY at, id"),
                            {"i": issue_id}).fetchall()
    return [dict(zip(columns, (pd.Timestamp(row[0]), *row[1:]))) for row in rows]


def test_layer_version_counts_each_replacement(db_engine):
    assert store.layer_version(db_engine, jurisdiction_code=J) == 0
    store.replace_layers(db_engine, _jurisdiction(), _layers(), _departments())
    assert store.layer_version(db_engine, jurisdiction_code=J) == 1
    store.replace_some_layers(db_engine, {"roads": _layers()["roads"]}, jurisdiction_code=J)
    assert store.layer_version(db_engine, jurisdiction_code=J) == 2
    assert store.layer_version(db_engine, jurisdiction_code="120110901") == 0
    # a refused replacement leaves the count as it was
    with pytest.raises(ValidationError):
        store.replace_some_layers(db_engine, {"roads": _layers()["roads"].to_crs(4548)}, jurisdiction_code=J)
    assert store.layer_version(db_engine, jurisdiction_code=J) == 2


def test_layers_round_trip(db_engine):
    counts = store.replace_layers(db_engine, _jurisdiction(), _layers(), _departments())
    assert counts == {"communities": 2, "roads": 1, "departments": 1}
    # loading again replaces rather than duplicates
    store.replace_layers(db_engine, _jurisdiction(), _layers(), _departments())
    got = store.read_layer(db_engine, "communities", jurisdiction_code=J)
    assert_geodataframe_equal(got, _layers()["communities"], check_like=True, check_dtype=False)
    roads = store.read_layer(db_engine, "roads", jurisdiction_code=J)
    assert roads.loc[0, "name"] == "津北公路" and bool(roads.loc[0, "is_priority"]) is True
    juris = store.read_layer(db_engine, "jurisdiction", jurisdiction_code=J)
    assert juris.loc[0, "grid_origin_x"] == 528500.0


def test_layer_in_wrong_crs_is_refused(db_engine):
    layers = _layers()
    layers["roads"] = layers["roads"].to_crs(4548)
    with pytest.raises(ValidationError, match="roads: expected EPSG:4326"):
        store.replace_layers(db_engine, _jurisdiction(), layers, _departments())
    assert store.count_rows(db_engine, "jurisdictions", jurisdiction_code=J) == 0


def test_issue_load_is_idempotent_and_keeps_phones_apart(db_engine):
    issues = _issues(200)
    first = store.insert_issues(db_engine, issues, jurisdiction_code=J, file="a.csv", actor="test")
    assert (first.inserted, first.skipped) == (200, 0)
    again = store.insert_issues(db_engine, issues.iloc[:150], jurisdiction_code=J, file="a.csv", actor="test")
    assert (again.inserted, again.skipped) == (0, 150)
    assert store.count_rows(db_engine, "issues", jurisdiction_code=J) == 200
    assert store.count_rows(db_engine, "reporter_contacts", jurisdiction_code=J) == 100
    # one imported lifecycle per issue, read as one event: registered (the report is the issue row and its batch)
    assert store.count_rows(db_engine, "imported_lifecycles", jurisdiction_code=J) == 200
    assert store.count_rows(db_engine, "issue_events", jurisdiction_code=J) == 0
    got = store.query_issues(db_engine, jurisdiction_code=J)
    assert "phone" not in got.columns
    np.testing.assert_allclose(np.sort(got.geometry.x), np.sort(issues.geometry.x), atol=1e-12)


def test_a_case_repeated_in_a_file_keeps_its_first_row(db_engine):
    issues = _issues(6, seed=13)
    issues.loc[4, "external_id"] = issues.loc[1, "external_id"]  # a repeat, at another point
    result = store.insert_issues(db_engine, issues, jurisdiction_code=J, file="a.csv", actor="test")
    assert (result.inserted, result.skipped) == (5, 1)
    got = store.query_issues(db_engine, jurisdiction_code=J)
    repeated = got[got["external_id"] == issues.loc[1, "external_id"]]
    assert len(repeated) == 1
    assert (repeated.geometry.x.iloc[0], repeated.geometry.y.iloc[0]) == (issues.geometry.x[1], issues.geometry.y[1])


def test_bbox_query_matches_a_plain_filter(db_engine):
    issues = _issues(3000, seed=7)
    store.insert_issues(db_engine, issues, jurisdiction_code=J, file="a.csv", actor="test")
    bbox = (117.35, 39.09, 117.36, 39.10)
    got = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(bbox=bbox))
    expected = issues.cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
    assert sorted(got["external_id"]) == sorted(expected["external_id"])
    assert len(got) > 0


@pytest.mark.parametrize("bbox", [(117.351234567, 39.091234567, 117.358765432, 39.098765432),
                                  # narrower than twice the 32-bit slack (base.FLOAT4_SLACK_DEG): no inner box
                                  (117.351234567, 39.091234567, 117.351334567, 39.091334567)])
def test_bbox_query_is_exact_at_the_edges(db_engine, bbox):
    """Points a hair inside, on and outside each edge, and about the slack inside it: the 32-bit boxes of the
    R*Tree and of the GiST index must not decide alone."""
    minx, miny, maxx, maxy = bbox
    slack = 1e-4 if maxx - minx > 2e-4 else 0.0
    offsets = np.array([-1e-6, -1e-7, -1e-9, 0.0, 1e-9, 1e-7, 1e-6])
    if slack:
        offsets = np.concatenate([offsets, [1.5e-5, 3e-5, slack - 1e-9, slack, slack + 1e-9, -1.5e-5]])
        offsets = np.concatenate([offsets, -offsets[7:]])
    mid_x, mid_y = (minx + maxx) / 2, (miny + maxy) / 2
    n = 2 * len(offsets)
    xs = np.concatenate([minx + offsets, maxx + offsets, np.full(n, mid_x)])
    ys = np.concatenate([np.full(n, mid_y), miny + offsets, maxy + offsets])
    issues = _issues(len(xs), seed=12).set_geometry(gpd.points_from_xy(xs, ys, crs="EPSG:4326"))
    store.insert_issues(db_engine, issues, jurisdiction_code=J, file="edges.csv", actor="test")
    where = IssueFilter(bbox=bbox)
    got = store.query_issues(db_engine, jurisdiction_code=J, where=where)
    inside = (xs >= minx) & (xs <= maxx) & (ys >= miny) & (ys <= maxy)
    assert sorted(got["external_id"]) == sorted(issues.loc[inside, "external_id"])
    assert store.count_issues(db_engine, jurisdiction_code=J, where=where) == inside.sum() == (40 if slack else 16)
    page = store.issue_features(db_engine, jurisdiction_code=J, where=where, count=True)
    assert page.ids == sorted(got["id"]) and page.matched == inside.sum()


def _issue_triggers(engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'issues'")}


def test_bulk_loads_keep_the_spatial_index_and_its_triggers(db_engine):
    sqlite = db_engine.dialect.name == "sqlite"
    triggers = _issue_triggers(db_engine) if sqlite else set()
    first = _issues(300, seed=2, source="grid_worker")
    second = _issues(500, seed=3)
    for n, batch in enumerate((first, second)):
        store.insert_issues(db_engine, batch, jurisdiction_code=J, file=f"{n}.csv", actor="test")
    bbox = (117.33, 39.08, 117.37, 39.10)
    got = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(bbox=bbox))
    expected = pd.concat([first, second]).cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
    assert sorted(zip(got["source"], got["external_id"])) == sorted(zip(expected["source"], expected["external_id"]))
    assert len(got) > 0
    if sqlite:
        assert _issue_triggers(db_engine) == triggers and any(t.startswith("gii_") for t in triggers)
        # a plain INSERT (not the bulk path) reaches the R*Tree through the restored trigger
        with write_tx(db_engine) as conn:
            conn.exec_driver_sql(
                "INSERT INTO issues (jurisdiction_code, source, external_id, source_system, category_code, status, "
                "reported_at, rework_count, geom) VALUES (?, 'web', 'W1', 'wgs84', '06010', 'reported', "
                "'2025-05-01 10:00:00', 0, MakePoint(117.331, 39.081, 4326))", (J,))
        found = store.query_issues(db_engine, jurisdiction_code=J,
                                   where=IssueFilter(bbox=(117.3305, 39.0805, 117.3315, 39.0815)))
        assert "W1" in set(found["external_id"])


def _issue_schema(engine) -> set[tuple[str, str]]:
    """The indexes, triggers and foreign keys of the issues table, as (name, definition)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return set(conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'issues' AND type IN ('index', 'trigger')"))
        return set(conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'issues' UNION ALL "
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'issues'::regclass"))


def test_a_large_load_rebuilds_the_indexes_and_keeps_each_contact_with_its_issue(db_engine, monkeypatch):
    # the path a million-row import takes (indexes dropped, R*Tree packed afterwards), on a small batch
    monkeypatch.setattr("geo.store.bulk.REBUILD_INDEXES_ROWS", 100)
    schema_before = _issue_schema(db_engine)
    first = _issues(150, seed=4, source="grid_worker")
    second = _issues(400, seed=5)
    second["phone"] = [f"139{i:08d}" for i in range(len(second))]
    _, second_batch = (
        store.insert_issues(db_engine, batch, jurisdiction_code=J, file=f"{n}.csv", actor="test").batch_id
        for n, batch in enumerate((first, second)))
    again = store.insert_issues(db_engine, second, jurisdiction_code=J, file="again.csv", actor="test")
    assert (again.inserted, again.skipped) == (0, 400)
    # stored keys are left out before the unique index is dropped; the new ones load
    third = pd.concat([second.iloc[:200], _issues(100, seed=6).assign(external_id=lambda f: "N" + f["external_id"])],
                      ignore_index=True)
    mixed = store.insert_issues(db_engine, third, jurisdiction_code=J, file="mixed.csv", actor="test")
    assert (mixed.inserted, mixed.skipped) == (100, 200)
    both = pd.concat([first, second, third.iloc[200:]])
    for bbox in ((117.33, 39.08, 117.37, 39.10), (117.36, 39.09, 117.40, 39.12)):
        got = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(bbox=bbox))
        expected = both.cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
        assert sorted(zip(got["source"], got["external_id"])) == sorted(zip(expected["source"], expected["external_id"]))
    assert _issue_schema(db_engine) == schema_before
    if db_engine.dialect.name == "sqlite":
        with db_engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT rtreecheck('idx_issues_geom')").scalar_one() == "ok"
            assert conn.exec_driver_sql("SELECT count(*) FROM idx_issues_geom").scalar_one() == 650
    for i in (0, 7, 399):
        issue_id = store.issue_id_of(db_engine, jurisdiction_code=J, source="12345", external_id=f"E{i:07d}")
        assert store.read_contact(db_engine, issue_id)["phone"] == f"139{i:08d}"
    # a batch is numbered along a Z curve, and stored in that order (PostGIS's heap; SQLite's rowid is the id)
    with db_engine.connect() as conn:
        physical = "ctid" if db_engine.dialect.name == "postgresql" else "id"
        stored = conn.exec_driver_sql(
            f"SELECT external_id FROM issues WHERE import_batch_id = {second_batch} ORDER BY {physical}").scalars().all()
        assert stored == conn.exec_driver_sql(
            f"SELECT external_id FROM issues WHERE import_batch_id = {second_batch} ORDER BY id").scalars().all()
    assert stored == second["external_id"].iloc[store.z_order(second.geometry.x, second.geometry.y)].tolist()


def test_text_and_missing_values_load_unchanged(db_engine, monkeypatch):
    """What the bulk paths write (SQLite parameters, PostGIS CSV) must read back as it was given."""
    texts = ['引号"里"有,逗号', "两行\n文字\r\n", "", "\\N", "\\.", "  前后空格 ", "tab\there", None]
    issues = _issues(len(texts), seed=21)
    issues["description"] = texts
    issues["address"] = texts[::-1]
    issues["segment_dist_m"] = [0.1, np.nan, 29.999999999999996, 1e-7, 3.0, np.nan, 12.5, 0.0]
    for rows in (1_000, len(texts)):  # a small load, and the large-load path
        monkeypatch.setattr("geo.store.bulk.REBUILD_INDEXES_ROWS", rows)
        batch = issues.assign(external_id=issues["external_id"] + f"-{rows}")
        assert store.insert_issues(db_engine, batch, jurisdiction_code=J, file="t.csv", actor="test").inserted == 8
        got = store.query_issues(db_engine, jurisdiction_code=J, columns=("external_id", "description", "address",
                                                                          "segment_dist_m"))
        got = got[got["external_id"].str.endswith(f"-{rows}")].set_index("external_id").loc[batch["external_id"]]
        assert got["description"].tolist()[:-1] == texts[:-1] and pd.isna(got["description"].iloc[-1])
        assert got["address"].tolist()[1:] == texts[::-1][1:] and pd.isna(got["address"].iloc[0])
        np.testing.assert_array_equal(got["segment_dist_m"].to_numpy(float), batch["segment_dist_m"].to_numpy())


def test_copy_csv_writes_missing_values_as_empty_fields_and_quotes_all_text():
    frame = pd.DataFrame({"id": pd.array([1, None], dtype="Int64"), "text": ['a"b,c', None],
                          "at": pd.to_datetime(["2025-01-02 03:04:05.9", None]), "m": [0.5, np.nan]})
    assert store.copy_csv(frame) == '1,"a""b,c",2025-01-02 03:04:05,0.5\n,,,\n'
    assert store.copy_csv(frame.iloc[:0]) == ""


def test_a_new_spatialite_file_gets_large_pages_and_an_old_one_keeps_its_own(tmp_path):
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:  # a file made before the page size was set
        conn.execute("CREATE TABLE t (x)")
    for path, expected in ((tmp_path / "new.sqlite", SQLITE_PAGE_BYTES), (old, 4096)):
        engine = make_engine(f"sqlite:///{path}")
        init_db(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == expected
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        engine.dispose()


def test_spatialite_point_blobs_are_what_makepoint_returns(spatialite_url):
    lon = np.array([117.35, -180.0, 0.0, 179.999999999, 1e-300])
    lat = np.array([-39.1, 90.0, -0.0, 5.5, 0.0])
    engine = make_engine(spatialite_url)
    with engine.connect() as conn:
        expected = [bytes(conn.exec_driver_sql("SELECT MakePoint(?, ?, 4326)", (x, y)).scalar_one())
                    for x, y in zip(lon.tolist(), lat.tolist())]
    engine.dispose()
    assert store.spatialite_point_blobs(lon, lat).tolist() == expected


def test_z_order_visits_a_grid_quadrant_by_quadrant():
    x, y = np.meshgrid(np.arange(4.0), np.arange(4.0))
    order = store.z_order(x.ravel(), y.ravel())
    cells = list(zip(x.ravel()[order].astype(int), y.ravel()[order].astype(int)))
    assert cells == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0), (2, 1), (3, 1),
                     (0, 2), (1, 2), (0, 3), (1, 3), (2, 2), (3, 2), (2, 3), (3, 3)]
    assert store.z_order(np.array([5.0, 5.0]), np.array([1.0, 0.0])).tolist() == [1, 0]
    assert len(store.z_order(np.empty(0), np.empty(0))) == 0


def test_failed_load_leaves_nothing_behind(db_engine):
    issues = _issues(50)
    issues.loc[25, "reported_at"] = pd.NaT  # NOT NULL column: the database refuses the batch
    with pytest.raises(Exception):
        store.insert_issues(db_engine, issues, jurisdiction_code=J, file="bad.csv", actor="test")
    for table in ("issues", "import_batches", "imported_lifecycles", "reporter_contacts"):
        assert store.count_rows(db_engine, table, jurisdiction_code=J) == 0, table


def test_issues_without_a_lifecycle_start_as_reported(db_engine):
    issues = _issues(3).drop(columns=["status", "registered_at"])
    store.insert_issues(db_engine, issues, jurisdiction_code=J, file="12345.csv", actor="test")
    got = store.query_issues(db_engine, jurisdiction_code=J)
    assert list(got["status"]) == ["reported"] * 3
    for table in ("issue_events", "imported_lifecycles"):
        assert store.count_rows(db_engine, table, jurisdiction_code=J) == 0
    assert store.read_issue_events(db_engine, int(got["id"].iloc[0])).empty


def _bbox_statement(engine, bbox, *, jurisdiction_code: str = J) -> tuple[str, object]:
    """The SQL (and parameters) store.query_issues sends for a bbox query."""
    sent = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        got = store.query_issues(engine, jurisdiction_code=jurisdiction_code, where=IssueFilter(bbox=bbox))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(got) > 0
    (statement, parameters), = [s for s in sent if "FROM" in s[0] and "issues" in s[0]]
    return statement, parameters


def test_bbox_query_goes_through_the_spatial_index(db_engine):
    store.insert_issues(db_engine, _issues(20_000, seed=11), jurisdiction_code=J, file="big.csv", actor="test")
    # about 1 % of the issues
    statement, parameters = _bbox_statement(db_engine, (117.35, 39.09, 117.357, 39.094))
    with db_engine.connect() as conn:
        if db_engine.dialect.name == "sqlite":
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            # the R*Tree is read first, with its coordinate constraints (INDEX n:<constraints>), and each
            # candidate fetched by rowid; the issues table is never scanned
            assert "idx_issues_geom r" in statement
            assert re.fullmatch(r"SCAN r VIRTUAL TABLE INDEX \d+:\w+", plan[0]), plan
            assert any(step.startswith("SEARCH t USING INTEGER PRIMARY KEY") for step in plan), plan
            assert not any(step.startswith("SCAN t") for step in plan), plan
        else:
            conn.exec_driver_sql("ANALYZE issues")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "idx_issues_geom" in plan and "Seq Scan" not in plan, plan


def test_postgis_sessions_plan_without_parallel_workers_unless_set(postgis_url):
    for options, expected in (({}, "0"), ({"postgis_parallel_workers": 2}, "2")):
        engine = make_engine(postgis_url, **options)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one() == expected
        engine.dispose()
    with pytest.raises(ConfigError, match="postgis_parallel_workers=-1"):
        make_engine(postgis_url, postgis_parallel_workers=-1)
