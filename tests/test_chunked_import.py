"""Files read and imported a chunk at a time: the same rows, problems and stored state as read whole.

The file is the import test's CSV (tests/test_ingest.py: 40 sample rows, 6 bad ones spread
through it) with case numbers repeated across chunks, read and imported in chunks of 7
rows, on SpatiaLite and PostGIS, also as XLSX, GeoJSON and GeoPackage.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import text
from test_ingest import BAD, J, SAMPLE_ROWS, _import, _state, _write_csv, engine, settings  # noqa: F401

from geo.errors import ValidationError
from geo.io import iter_issue_file, read_issue_file
from geo.store import issues as issue_table

CHUNK = 7


def _with_repeats(repo_root, path) -> dict[int, int]:
    """The test CSV with two case numbers repeated in later chunks; {repeating row: first row}."""
    _write_csv(repo_root, path)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows.loc[30, "external_id"] = rows.loc[1, "external_id"]    # file row 32 repeats row 3 (chunk 1 → 5)
    rows.loc[44, "external_id"] = rows.loc[20, "external_id"]   # file row 46 repeats row 22
    rows.to_csv(path, index=False)
    return {32: 3, 46: 22}


def _as(path, suffix: str):
    """The CSV at ``path`` written as an XLSX (a title row above the header), GeoJSON or GeoPackage file."""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = path.with_suffix(f".{suffix}")
    if suffix == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["12345 热线工单导出"])
        sheet.append(list(rows.columns))
        for values in rows.itertuples(index=False):
            sheet.append([v if v != "" else None for v in values])
        book.save(out)
        return out
    import geopandas as gpd

    lon, lat = (pd.to_numeric(rows[c], errors="coerce") for c in ("lon", "lat"))
    frame = gpd.GeoDataFrame(rows.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(lon, lat), crs=4326)
    frame.to_file(out)
    return out


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "geojson", "gpkg"])
def test_a_file_read_in_chunks_gives_the_rows_and_problems_of_a_whole_read(repo_root, tmp_path, suffix):
    repeats = _with_repeats(repo_root, tmp_path / "export.csv")
    path = tmp_path / "export.csv" if suffix == "csv" else _as(tmp_path / "export.csv", suffix)
    whole = read_issue_file(path)
    chunks = list(iter_issue_file(path, chunk_rows=CHUNK))
    assert len(chunks) >= (SAMPLE_ROWS + len(BAD)) // CHUNK
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(pd.DataFrame(frame), pd.DataFrame(whole.frame))
    errors = [e for c in chunks for e in c.errors]
    assert errors == whole.errors
    # a repeat in a later chunk still names the first row, wherever that was read
    first = 1 if suffix in ("geojson", "gpkg") else 0    # feature numbers start at 1, the CSV's header is row 1
    shift = {"xlsx": 1}.get(suffix, 0) - first            # the XLSX has a title row above its header
    repeated = {e.row: e.reason for e in errors if e.field == "external_id"}
    assert repeated == {row + shift: f"duplicate of row {earlier + shift}" for row, earlier in repeats.items()}
    assert {e.file for e in errors} == {path.name}


def test_an_import_in_chunks_stores_what_one_piece_does_and_reports_every_chunks_rows(engine, repo_root, tmp_path,
                                                                                     settings, monkeypatch):
    path = tmp_path / "export.csv"
    _with_repeats(repo_root, path)
    whole = _import(engine, path, settings, chunk_rows=None)
    expected, expected_rows = _state(engine), _stored(engine)
    # the same file again in chunks into an empty database, on the path of a large load (indexes built anew)
    with engine.begin() as conn:
        for table in ("reporter_contacts", "imported_lifecycles", "issue_events", "issues", "import_batches"):
            conn.execute(text(f"DELETE FROM {table}"))
    monkeypatch.setattr("geo.store.bulk.REBUILD_INDEXES_ROWS", 10)
    chunked = _import(engine, path, settings, chunk_rows=CHUNK)
    assert (chunked.rows_read, chunked.inserted, chunked.skipped) == (whole.rows_read, whole.inserted, 0)
    assert chunked.errors == whole.errors and chunked.rows_rejected == len(BAD) + 2
    # the same rows (numbered anew: each chunk along its own Z curve), contacts and lifecycles; indexes built again
    assert _stored(engine) == expected_rows and len(expected_rows[0]) == whole.inserted
    assert _state(engine)["schema"] == expected["schema"]


def _stored(engine) -> tuple[list, ...]:
    """Every stored value of the import but the ids and batch it gave, by case number."""
    with engine.connect() as conn:
        issues = conn.execute(text(
            "SELECT i.external_id, i.source, i.status, i.reported_at, i.closed_at, i.deadline_at, i.category_code, "
            "i.description, i.cell_code, i.segment_id, i.department_code, ST_X(i.geom), ST_Y(i.geom) "
            "FROM issues i ORDER BY i.external_id")).fetchall()
        contacts = conn.execute(text("SELECT i.external_id, c.phone FROM reporter_contacts c JOIN issues i "
                                     "ON i.id = c.issue_id ORDER BY 1")).fetchall()
        lifecycles = conn.execute(text("SELECT i.external_id, l.registered_at, l.closed_at, l.ended FROM "
                                       "imported_lifecycles l JOIN issues i ON i.id = l.issue_id ORDER BY 1")).fetchall()
    return [tuple(r) for r in issues], [tuple(r) for r in contacts], [tuple(r) for r in lifecycles]


def test_a_failure_in_a_later_chunk_leaves_nothing_of_the_import(engine, repo_root, tmp_path, settings, monkeypatch):
    path = tmp_path / "export.csv"
    _with_repeats(repo_root, path)
    before = _state(engine)
    calls = []
    real = issue_table._write_imported_lifecycles

    def third_fails(conn, **options):
        calls.append(options)
        if len(calls) == 3:
            raise RuntimeError("disk full in the third chunk")
        return real(conn, **options)

    monkeypatch.setattr(issue_table, "_write_imported_lifecycles", third_fails)
    with pytest.raises(RuntimeError, match="third chunk"):
        _import(engine, path, settings, chunk_rows=CHUNK)
    assert _state(engine) == before


def test_a_line_that_cannot_be_parsed_part_way_refuses_the_file_and_leaves_nothing(engine, repo_root, tmp_path,
                                                                                 settings):
    path = tmp_path / "export.csv"
    _write_csv(repo_root, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[30] += ",an,extra,cell"    # chunk 5 has a row with more cells than the header
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _state(engine)
    with pytest.raises(ValidationError, match="export.csv: not a readable CSV file"):
        _import(engine, path, settings, chunk_rows=CHUNK)
    assert _state(engine) == before
