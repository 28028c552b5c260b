"""citymap's storage tests on PostGIS with issues and events partitioned by jurisdiction, a partition on a second cluster.

``db_url`` here is a citymap database whose ``issues`` and ``issue_events`` are LIST
partitions by ``jurisdiction_code`` (``geo.store.partitions``): one jurisdiction's rows
on a second throwaway PostgreSQL cluster through ``postgres_fdw``, another's in a local
partition, the rest in the default one. Each test runs twice: with the jurisdiction the
tests write (``120110900``) on the other cluster, and with it local and ``120110901``
(which some tests read as "another jurisdiction") on the other cluster. The tests are
those of the storage, import and concurrency modules, collected again here; left out
are the migration tests (a partitioned database is made at head and not migrated down)
and the query plan of the spatial index, which a foreign partition replaces by the
remote query checked below.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import new_postgis_database
from sqlalchemy import create_engine
from test_concurrency import context, test_concurrent_imports_keep_every_row_once  # noqa: F401
from test_ingest import (  # noqa: F401
    engine,
    settings,
    test_import_failing_half_way_leaves_the_database_as_it_was,
    test_import_loads_good_rows_assigned_and_scheduled_and_reports_bad_ones,
    test_phones_are_kept_apart_and_masked_on_export,
    test_reimporting_the_same_file_inserts_nothing,
    test_strict_import_with_one_bad_row_writes_nothing,
)
from test_store import (  # noqa: F401
    _bbox_statement,
    test_a_case_repeated_in_a_file_keeps_its_first_row,
    test_a_large_load_rebuilds_the_indexes_and_keeps_each_contact_with_its_issue,
    test_api_keys_act_as_their_user,
    test_bbox_query_is_exact_at_the_edges,
    test_bbox_query_matches_a_plain_filter,
    test_bulk_loads_keep_the_spatial_index_and_its_triggers,
    test_failed_load_leaves_nothing_behind,
    test_issue_load_is_idempotent_and_keeps_phones_apart,
    test_issues_without_a_lifecycle_start_as_reported,
    test_layer_in_wrong_crs_is_refused,
    test_layer_version_counts_each_replacement,
    test_layers_round_trip,
    test_schema_is_at_head_and_migrating_again_is_a_no_op,
    test_text_and_missing_values_load_unchanged,
)
from test_workflow import test_racing_transitions_from_two_processes  # noqa: F401

from geo import store
from geo.issue_filter import IssueFilter
from geo.store.db import init_db, make_engine
from geo.store.partitions import partition_by_jurisdiction

J = "120110900"
OTHER = "120110901"


@pytest.fixture(scope="module", params=["remote", "local"])
def placement(request) -> str:
    """Where the tests' jurisdiction ``J`` lives: on the second cluster, or here (and ``OTHER`` there)."""
    return request.param


@pytest.fixture
def db_url(placement, postgis_server, postgis_second_server) -> str:
    """A partitioned citymap database (and its node on the second cluster), both fresh."""
    main, node = new_postgis_database(postgis_server), new_postgis_database(postgis_second_server)
    for url in (main, node):
        engine = make_engine(url)
        init_db(engine)
        engine.dispose()
    away, here = (J, OTHER) if placement == "remote" else (OTHER, J)
    engine = make_engine(main)
    partition_by_jurisdiction(engine, local=[here], remote={away: node})
    engine.dispose()
    return main


def _node_url(engine) -> str:
    """The URL of the database the foreign partition reads (its server's options)."""
    with engine.connect() as conn:
        options = dict(o.split("=", 1) for o in conn.exec_driver_sql(
            "SELECT unnest(srvoptions) FROM pg_foreign_server").scalars())
    return engine.url.set(host=options["host"], port=int(options["port"]), database=options["dbname"]).render_as_string(
        hide_password=False)


def _issues(n: int, *, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame({
        "source": "12345", "external_id": [f"P{i:05d}" for i in range(n)], "source_system": "wgs84",
        "category_code": "06010", "reported_at": pd.Timestamp("2025-03-01 08:00"),
        "registered_at": pd.Timestamp("2025-03-01 09:00"), "phone": "13800138000",
    }, geometry=gpd.points_from_xy(rng.uniform(117.33, 117.40, n), rng.uniform(39.08, 39.12, n)), crs="EPSG:4326")


def test_each_jurisdiction_is_stored_in_its_partition_and_the_remote_one_on_the_other_cluster(db_engine, placement):
    for code, n in ((J, 300), (OTHER, 200), ("120110902", 100)):
        store.insert_issues(db_engine, _issues(n, seed=n), jurisdiction_code=code, file=f"{code}.csv", actor="test")
    away = J if placement == "remote" else OTHER
    with db_engine.connect() as conn:
        where = dict(conn.exec_driver_sql("SELECT jurisdiction_code, tableoid::regclass::text FROM issues "
                                          "GROUP BY 1, 2").fetchall())
    assert where == {J: f"issues_{J}", OTHER: f"issues_{OTHER}", "120110902": "issues_other"}
    node = create_engine(_node_url(db_engine))
    with node.connect() as conn:
        assert conn.exec_driver_sql("SELECT jurisdiction_code, count(*) FROM issues GROUP BY 1").fetchall() == [
            (away, 300 if away == J else 200)]
    node.dispose()
    for code, n in ((J, 300), (OTHER, 200), ("120110902", 100)):
        assert store.count_issues(db_engine, jurisdiction_code=code) == n
        # the issue's trail reads the same wherever its row is
        first = store.issue_id_of(db_engine, jurisdiction_code=code, source="12345", external_id="P00000")
        assert store.read_issue_events(db_engine, first)["action"].tolist() == ["register"]


def test_a_bbox_query_of_the_remote_jurisdiction_runs_on_its_cluster(db_engine, placement):
    away = J if placement == "remote" else OTHER
    store.insert_issues(db_engine, _issues(2000, seed=3), jurisdiction_code=away, file="a.csv", actor="test")
    bbox = (117.35, 39.09, 117.36, 39.10)
    got = store.query_issues(db_engine, jurisdiction_code=away, where=IssueFilter(bbox=bbox))
    expected = _issues(2000, seed=3).cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
    assert sorted(got["external_id"]) == sorted(expected["external_id"]) and len(got) > 0
    statement, parameters = _bbox_statement(db_engine, bbox, jurisdiction_code=away)
    with db_engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql("EXPLAIN VERBOSE " + statement, parameters).scalars())
    # only the remote partition is read, and the box and the jurisdiction are tested there
    assert "Foreign Scan" in plan and f"issues_{away}" in plan and "Seq Scan" not in plan, plan
    remote = next(line for line in plan.splitlines() if "Remote SQL" in line)
    assert "&&" in remote and "jurisdiction_code" in remote, remote
