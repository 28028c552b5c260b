"""The import pipeline end to end (geo.io.ingest), on SpatiaLite and PostGIS.

The file imported is a small 12345-style CSV: rows of the Jinqiao sample plus
hand-made rows (bad ones, a holiday deadline, a phone inside a description).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo import store
from geo.errors import ImportRejected
from geo.frames import assign
from geo.io import ingest
from geo.io.ingest import load_layers_from_dir
from geo.settings import load_settings
from geo.store import issues as issue_table
from geo.store import models
from geo.taxonomy import load_taxonomy

J = "120110900"
SAMPLE_ROWS = 40
PHONE = "13912345678"
CASE_NUMBER = "2025012300001"
ID_NUMBER = "120110199001011234"
#: (position among the data rows, field reported, reason fragment, changes to a sample row)
BAD = [
    (3, "category", "unknown", {"category_code": "不存在的类别"}),
    (9, "lon", "out of range", {"lon": "217.35"}),
    (15, "lon/lat", "swapped", {"lon": "39.095", "lat": "117.35"}),
    (21, "reported_at", "missing", {"reported_at": ""}),
    (27, "reported_at", "not a date-time", {"reported_at": "昨天下午"}),
    (33, "lon/lat", "outside the jurisdiction", {"lon": "117.20", "lat": "39.10"}),
]
LIFECYCLE = ("status", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at")


def _sample(repo_root) -> pd.DataFrame:
    rows = pd.read_csv(repo_root / "data" / "issues" / "jinqiao_2025_issues.csv", dtype=str, keep_default_na=False)
    return rows.iloc[:: len(rows) // SAMPLE_ROWS][:SAMPLE_ROWS].reset_index(drop=True)


def _write_csv(repo_root, path, *, prefix: str = "") -> tuple[pd.DataFrame, dict[int, tuple[str, str]]]:
    """Write the test CSV; returns its good rows and {file row number: (field, reason fragment)} of the bad ones."""
    good = _sample(repo_root)
    # Garbage reported after the 20:00 cut-off is due the next day; 5 working days from Friday
    # 24 Jan 2025 count the make-up Sunday 26 Jan and skip the Spring Festival (28 Jan – 4 Feb).
    good.loc[0, ["category_code", "reported_at"]] = ["06010", "2025-01-27 21:30:00"]
    good.loc[1, ["category_code", "reported_at"]] = ["06001", "2025-01-24 10:00:00"]
    good.loc[[0, 1], list(LIFECYCLE)] = ""
    good.loc[2, ["description", "phone"]] = [f"工单号 {CASE_NUMBER} 市民电话{PHONE}，身份证{ID_NUMBER}", ""]
    good["external_id"] = prefix + good["external_id"]
    rows = [row for _, row in good.iterrows()]
    bad_rows = {}
    for position, field, reason, change in BAD:
        row = good.iloc[position].copy()
        row["external_id"] = f"{prefix}BAD-{position}"
        for column, value in change.items():
            row[column] = value
        rows.insert(position, row)
    for position, field, reason, _change in BAD:
        bad_rows[position + 2] = (field, reason)  # the header is row 1
    pd.DataFrame(rows).to_csv(path, index=False)
    return good, bad_rows


@pytest.fixture
def settings(tmp_path):
    return load_settings({"data_dir": str(tmp_path)}, environ={})


@pytest.fixture
def engine(db_engine, repo_root):
    ingest.load_layer_dir(db_engine, repo_root / "data")
    return db_engine


def _import(engine, path, settings, **options) -> ingest.ImportReport:
    return ingest.import_issue_file(engine, path, jurisdiction_code=J, settings=settings, actor="test", **options)


def _plain(values: pd.Series, kind: type) -> list:
    """Values as plain Python ``kind``, None where missing: both back ends' NULLs (None, NaN, <NA>) compare equal."""
    return [None if pd.isna(v) else kind(v) for v in values]


def _state(engine) -> dict:
    """Everything an import could touch: the rows of its tables, every table's count, the objects of ``issues``
    (SpatiaLite's triggers and R*Tree, the indexes a bulk load drops and builds again)."""
    with engine.connect() as conn:
        state = {table: list(map(tuple, conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).fetchall()))
                 for table in ("issues", "issue_events", "imported_lifecycles", "reporter_contacts", "import_batches")}
        state["counts"] = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                           for table in models.Base.metadata.tables}
        if engine.dialect.name == "sqlite":
            state["schema"] = sorted(conn.exec_driver_sql(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'issues'").fetchall())
            state["rtree"] = conn.exec_driver_sql("SELECT count(*) FROM idx_issues_geom").scalar_one()
        else:
            state["schema"] = sorted(conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'issues'").fetchall())
    return state


def test_import_loads_good_rows_assigned_and_scheduled_and_reports_bad_ones(engine, repo_root, tmp_path, settings):
    path = tmp_path / "12345_export.csv"
    good, bad_rows = _write_csv(repo_root, path)
    report = _import(engine, path, settings)

    assert (report.rows_read, report.inserted, report.skipped) == (SAMPLE_ROWS + len(BAD), SAMPLE_ROWS, 0)
    assert {(e.file, e.row, e.field) for e in report.errors} == {(path.name, row, field)
                                                                  for row, (field, _r) in bad_rows.items()}
    for error in report.errors:
        assert bad_rows[error.row][1] in error.reason, error
    assert report.summary() == (f"{path.name}: {SAMPLE_ROWS + len(BAD)} rows read, {SAMPLE_ROWS} issues loaded, "
                                f"0 already present, {len(BAD)} rows rejected")

    columns = ("id", "external_id", "category_code", "reported_at", "deadline_at", *store.ASSIGNMENT_COLUMNS)
    got = store.query_issues(engine, jurisdiction_code=J, columns=columns).set_index("external_id")
    got = got.loc[good["external_id"]]
    lon, lat = good["lon"].astype(float).to_numpy(), good["lat"].astype(float).to_numpy()
    np.testing.assert_allclose(got.geometry.x, lon, atol=1e-9)
    np.testing.assert_allclose(got.geometry.y, lat, atol=1e-9)

    # Assignment: what geo.frames.assign says for the same points over the layer files themselves.
    taxonomy = load_taxonomy()
    expected = assign.assign_issues(
        lon, lat, assign.prepare(load_layers_from_dir(repo_root / "data")), max_dist_m=settings.snap_max_dist_m,
        lead_departments=good["category_code"].map(taxonomy.categories["lead_department"]).to_numpy())
    for column in store.ASSIGNMENT_COLUMNS:
        if column == "segment_dist_m":
            np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), atol=1e-6)
        else:
            kind = int if column == "segment_id" else str
            assert _plain(got[column], kind) == _plain(expected[column], kind), column
    assert got["cell_code"].notna().all() and got["community_code"].notna().all()
    assert got["segment_id"].notna().sum() > SAMPLE_ROWS // 2

    # Deadlines: the taxonomy's rule for every row, and the two worked by hand.
    reported = pd.to_datetime(good["reported_at"])
    wanted = taxonomy.deadlines(good["category_code"], reported, day_cutoff=settings.day_cutoff)
    assert list(got["deadline_at"]) == list(wanted)
    assert got["deadline_at"].iloc[0] == pd.Timestamp("2025-01-28 23:59:59")
    assert got["deadline_at"].iloc[1] == pd.Timestamp("2025-02-07 18:00:00")


def test_reimporting_the_same_file_inserts_nothing(engine, repo_root, tmp_path, settings):
    path = tmp_path / "12345_export.csv"
    _write_csv(repo_root, path)
    first = _import(engine, path, settings)
    before = _state(engine)
    again = _import(engine, path, settings)
    assert (again.inserted, again.skipped, len(again.errors)) == (0, first.inserted, len(first.errors))
    after = _state(engine)
    # the second load is on record (one more batch row) and changed nothing else
    assert after["counts"]["import_batches"] == before["counts"]["import_batches"] + 1
    for key in ("issues", "issue_events", "imported_lifecycles", "reporter_contacts"):
        assert after[key] == before[key], key


def test_strict_import_with_one_bad_row_writes_nothing(engine, repo_root, tmp_path, settings):
    first = tmp_path / "first.csv"
    _write_csv(repo_root, first)
    _import(engine, first, settings)
    before = _state(engine)
    path = tmp_path / "strict.csv"
    good = _sample(repo_root).assign(external_id=lambda f: "NEW-" + f["external_id"])
    good.loc[7, "category_code"] = "不存在的类别"
    good.to_csv(path, index=False)
    with pytest.raises(ImportRejected, match="1 of 40 rows are bad") as caught:
        _import(engine, path, settings, strict=True)
    assert [(e.row, e.field) for e in caught.value.errors] == [(9, "category")]
    assert _state(engine) == before


def test_import_failing_half_way_leaves_the_database_as_it_was(engine, repo_root, tmp_path, settings, monkeypatch):
    first = tmp_path / "first.csv"
    _write_csv(repo_root, first)
    loaded = _import(engine, first, settings)
    before = _state(engine)
    assert before["counts"]["issues"] == loaded.inserted

    seen = {}

    def failing_lifecycles(conn, **options):
        # the issues of this load are in (visible to its own transaction) when the failure strikes
        seen["issues"] = conn.execute(text("SELECT count(*) FROM issues")).scalar_one()
        raise RuntimeError("disk full while writing imported_lifecycles")

    monkeypatch.setattr(issue_table, "_write_imported_lifecycles", failing_lifecycles)
    second = tmp_path / "second.csv"
    _write_csv(repo_root, second, prefix="B-")
    with pytest.raises(RuntimeError, match="disk full"):
        _import(engine, second, settings)
    assert seen["issues"] == 2 * loaded.inserted
    assert _state(engine) == before
    # and the database still works: the same file loads once the failure is gone
    monkeypatch.undo()
    assert _import(engine, second, settings).inserted == loaded.inserted


def test_phones_are_kept_apart_and_masked_on_export(engine, repo_root, tmp_path, settings):
    path = tmp_path / "12345_export.csv"
    good, _bad = _write_csv(repo_root, path)
    _import(engine, path, settings)
    assert "phone" not in models.Issue.__table__.columns
    with_phone = good[good["phone"] != ""]
    with engine.connect() as conn:
        stored = dict(conn.execute(text(
            "SELECT i.external_id, c.phone FROM reporter_contacts c JOIN issues i ON i.id = c.issue_id")).fetchall())
    assert stored == dict(zip(with_phone["external_id"], with_phone["phone"]))

    out = tmp_path / "issues.geojson"
    assert ingest.export_layer(engine, "issues", out, jurisdiction_code=J) == SAMPLE_ROWS
    raw = out.read_text(encoding="utf-8")
    for phone in [*with_phone["phone"], PHONE]:
        assert phone not in raw
    features = {f["properties"]["external_id"]: f["properties"] for f in json.loads(raw)["features"]}
    assert set(features) == set(good["external_id"])
    # the phone inside a description is masked; the case and ID numbers beside it are not touched
    described = features[good.loc[2, "external_id"]]["description"]
    assert described == f"工单号 {CASE_NUMBER} 市民电话139****5678，身份证{ID_NUMBER}"
    assert all("phone" not in props for props in features.values())
    # with the assignment columns as stored
    db = store.query_issues(engine, jurisdiction_code=J).set_index("external_id")
    for column in ("cell_code", "community_code", "grid_code", "department_code"):
        assert {e: p[column] for e, p in features.items()} == db[column].to_dict(), column
