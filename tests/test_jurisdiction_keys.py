"""The schema ready to be spread over nodes by jurisdiction (docs/scaling.md), on SpatiaLite and PostGIS."""

from __future__ import annotations

import pytest
from conftest import migrate_to
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from geo import store
from geo.store import distribution, models
from geo.store.db import init_db, make_engine, schema_revision, write_tx

J = "120110900"


def test_every_table_is_distributed_a_reference_or_the_coordinators():
    tables = set(models.Base.metadata.tables)
    kinds = (distribution.DISTRIBUTED_TABLES, distribution.REFERENCE_TABLES, distribution.COORDINATOR_TABLES)
    assert sorted(tables) == sorted(t for kind in kinds for t in kind), "classify every new table in geo.store.models"
    for table in distribution.DISTRIBUTED_TABLES:
        assert "jurisdiction_code" in models.Base.metadata.tables[table].columns, table


def store_engine(url: str):
    """An engine on a database migrated to head."""
    engine = make_engine(url)
    init_db(engine)
    return engine


def _keys(engine, table: str) -> list[tuple[str, list[str]]]:
    """(what, columns) of every primary key, unique constraint, unique index and foreign key between distributed
    tables of ``table``."""
    found = inspect(engine)
    keys = [("primary key", found.get_pk_constraint(table)["constrained_columns"])]
    keys += [(f"unique {u['name']}", u["column_names"]) for u in found.get_unique_constraints(table)]
    keys += [(f"unique index {i['name']}", i["column_names"]) for i in found.get_indexes(table) if i["unique"]]
    # a foreign key to a reference table (a copy on every node) needs no jurisdiction
    keys += [(f"foreign key to {f['referred_table']}", f["constrained_columns"]) for f in found.get_foreign_keys(table)
             if f["referred_table"] not in distribution.REFERENCE_TABLES]
    return keys


def test_every_key_of_a_distributed_table_holds_the_jurisdiction_on_postgis(postgis_url):
    engine = store_engine(postgis_url)
    for table in distribution.DISTRIBUTED_TABLES:
        for what, columns in _keys(engine, table):
            assert "jurisdiction_code" in columns, f"{table}: {what} {columns}"
    assert inspect(engine).get_pk_constraint("issues")["constrained_columns"] == ["id", "jurisdiction_code"]
    engine.dispose()


def test_spatialite_keeps_id_as_the_rowid(spatialite_url):
    engine = store_engine(spatialite_url)
    with engine.connect() as conn:
        for table in ("issues", "issue_events", "communities"):
            key = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})") if row[5]]
            assert key == ["id"], table
        # a rowid alias takes the rowid's value: no hidden rowid beside id
        conn.exec_driver_sql("INSERT INTO import_batches (id, jurisdiction_code, file, actor, at, rows_loaded, "
                             "rows_skipped, rows_rejected) VALUES (7, ?, 'f', 'a', '2025-01-01 00:00:00', 0, 0, 0)",
                             (J,))
        assert conn.exec_driver_sql("SELECT rowid FROM import_batches WHERE id = 7").scalar_one() == 7
    engine.dispose()


def test_the_models_render_the_composite_keys_for_postgresql_and_the_rowid_for_sqlite():
    issues, contacts = (models.Base.metadata.tables[t] for t in ("issues", "reporter_contacts"))
    pg, lite = (str(CreateTable(contacts).compile(dialect=d)) for d in (postgresql.dialect(), sqlite.dialect()))
    assert "PRIMARY KEY (issue_id, jurisdiction_code)" in pg
    assert "FOREIGN KEY(issue_id, jurisdiction_code) REFERENCES issues (id, jurisdiction_code) ON DELETE CASCADE" in pg
    assert "PRIMARY KEY (issue_id)" in lite and "FOREIGN KEY(issue_id) REFERENCES issues (id) ON DELETE CASCADE" in lite
    assert "PRIMARY KEY (id)," in str(CreateTable(issues).compile(dialect=sqlite.dialect()))


def test_migration_0014_goes_both_ways_and_refuses_a_row_of_another_jurisdiction(db_engine):
    import geopandas as gpd
    import pandas as pd

    issues = gpd.GeoDataFrame({"source": "12345", "external_id": ["A", "B"], "source_system": "wgs84",
                               "category_code": "06010", "reported_at": pd.Timestamp("2025-03-01 08:00"),
                               "phone": ["13800138000", None]},
                              geometry=gpd.points_from_xy([117.35, 117.36], [39.10, 39.11]), crs="EPSG:4326")
    store.insert_issues(db_engine, issues, jurisdiction_code=J, file="a.csv", actor="test")
    postgres = db_engine.dialect.name == "postgresql"
    before = {t: store.count_rows(db_engine, t, jurisdiction_code=J) for t in ("issues", "reporter_contacts")}
    migrate_to(db_engine, "0012")
    if postgres:
        assert inspect(db_engine).get_pk_constraint("issues")["constrained_columns"] == ["id"]
        # under the old keys a contact may name another jurisdiction than its issue's …
        with write_tx(db_engine) as conn:
            conn.execute(text("UPDATE reporter_contacts SET jurisdiction_code = '120110901'"))
        with pytest.raises(IntegrityError, match="reporter_contacts_issue_id_fkey"):
            init_db(db_engine)
        assert schema_revision(db_engine) == "0012"
        # … the upgrade refused it and changed nothing; made right, it goes through
        with write_tx(db_engine) as conn:
            conn.execute(text("UPDATE reporter_contacts SET jurisdiction_code = :j"), {"j": J})
    init_db(db_engine)
    assert {t: store.count_rows(db_engine, t, jurisdiction_code=J) for t in before} == before
    if postgres:
        assert inspect(db_engine).get_pk_constraint("reporter_contacts")["constrained_columns"] == [
            "issue_id", "jurisdiction_code"]
