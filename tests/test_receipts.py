"""Report receipts (the tracking token kept as its digest only, who filed a report) and migration 0011, on
SpatiaLite and PostGIS."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point
from sqlalchemy import inspect, text

from geo import store
from geo.store.db import head_revision, init_db, schema_revision, write_tx

J = "120110900"
NOW = datetime(2026, 12, 6, 9, 0)


def _issues(engine, n: int) -> list[int]:
    frame = gpd.GeoDataFrame({"source": "web", "external_id": [f"r{i}" for i in range(n)], "source_system": "wgs84",
                              "category_code": "06010", "status": "reported",
                              "reported_at": pd.Timestamp(NOW)}, geometry=[Point(117.35, 39.10)] * n, crs="EPSG:4326")
    store.insert_issues(engine, frame, jurisdiction_code=J, file="test", actor="test")
    return store.query_issues(engine, jurisdiction_code=J, columns=("id",))["id"].sort_values().tolist()


def _user(engine, name: str) -> int:
    return store.create_user(engine, name=name, password_hash="x", role="public", department_code=None,
                             jurisdiction_code=J, now=NOW)


def test_a_token_finds_its_report_and_only_its_digest_is_stored(db_engine):
    first, second, third = _issues(db_engine, 3)
    alice, bob = _user(db_engine, "alice"), _user(db_engine, "bob")
    key = store.create_api_key(db_engine, "app", jurisdiction_code=J, user="bob")
    key_id = store.api_key_user(db_engine, key, jurisdiction_code=J)["key_id"]
    tokens = [store.create_receipt(db_engine, first, jurisdiction_code=J, user_id=alice, api_key_id=None, now=NOW),
              store.create_receipt(db_engine, second, jurisdiction_code=J, user_id=bob, api_key_id=key_id,
                                   now=NOW.replace(hour=10)),
              store.create_receipt(db_engine, third, jurisdiction_code=J, user_id=None, api_key_id=key_id,
                                   now=NOW.replace(hour=11))]
    assert len(set(tokens)) == 3 and all(store.TOKEN_RE.fullmatch(t) and len(t) >= 43 for t in tokens)
    assert [store.receipt_issue(db_engine, t, jurisdiction_code=J) for t in tokens] == [first, second, third]
    with db_engine.connect() as conn:
        stored = conn.execute(text("SELECT token_sha256 FROM report_receipts ORDER BY issue_id")).scalars().all()
        whole = " ".join(str(v) for row in conn.execute(text("SELECT * FROM report_receipts")) for v in row)
    assert stored == [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    assert not any(t in whole for t in tokens)
    # a wrong, malformed or other jurisdiction's token finds nothing
    for wrong in (tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B"), "", "x" * 500, "../../etc", "' OR 1=1 --",
                  tokens[0] + "\x00"):
        assert store.receipt_issue(db_engine, wrong, jurisdiction_code=J) is None
    assert store.receipt_issue(db_engine, tokens[0], jurisdiction_code="120110901") is None

    # who filed what: by user, by key, newest first; among ids; within a period
    assert store.own_report_ids(db_engine, jurisdiction_code=J, user_id=alice) == [first]
    assert store.own_report_ids(db_engine, jurisdiction_code=J, api_key_id=key_id) == [third, second]
    assert store.own_report_ids(db_engine, jurisdiction_code=J, user_id=alice, api_key_id=key_id) == [third, second,
                                                                                                      first]
    assert store.own_report_ids(db_engine, jurisdiction_code=J, api_key_id=key_id, ids=[first, second]) == [second]
    assert store.own_report_ids(db_engine, jurisdiction_code=J, api_key_id=key_id, ids=[]) == []
    assert store.own_report_ids(db_engine, jurisdiction_code=J, api_key_id=key_id,
                                since=NOW.replace(hour=10, minute=30)) == [third]
    assert store.own_report_ids(db_engine, jurisdiction_code=J) == []
    # a deleted user leaves its reports, unowned
    with write_tx(db_engine) as conn:
        conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": alice})
    assert store.receipt_issue(db_engine, tokens[0], jurisdiction_code=J) == first


def test_migration_0011_goes_both_ways(db_engine):
    from conftest import migrate_to, schema_differences

    # the model and the migrations agree on the tables 0011 makes or changes (SpatiaLite's own tables aside)
    ours = re.compile(r"(?<!\w)(report_receipts|webhooks|notifications|issue_events)(?!\w)")
    with db_engine.connect() as conn:
        diff = schema_differences(conn)
    assert [d for d in diff if ours.search(str(d))] == []
    [issue] = _issues(db_engine, 1)
    store.create_receipt(db_engine, issue, jurisdiction_code=J, user_id=None, api_key_id=None, now=NOW)
    migrate_to(db_engine, "0009")
    assert schema_revision(db_engine) == "0009"
    tables = set(inspect(db_engine).get_table_names())
    assert not tables & {"report_receipts", "webhooks", "notifications"}
    assert "department_code" not in {c["name"] for c in inspect(db_engine).get_columns("issue_events")}
    assert store.count_rows(db_engine, "issues", jurisdiction_code=J) == 1
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision()
    assert store.own_report_ids(db_engine, jurisdiction_code=J, api_key_id=1) == []
