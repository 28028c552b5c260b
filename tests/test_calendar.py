"""The working-day calendar as data: a year not known yet counts Monday–Friday and its deadlines are
provisional; `citymap calendar import` loads the year and counts them again (issue 14 item 7). On SpatiaLite
and PostGIS."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geo import workdays
from geo.errors import ImportRejected
from geo.io import ingest
from geo.settings import load_settings
from webmap.cli import main

J = "120110900"
NO_OFFICE_DAYS = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "kind": pd.Series(dtype="string")})
#: a made-up notice for 2027: 元旦 1–3 January, the make-up working day Sunday 10 January
NOTICE_2027 = "日期,类型,节日\n2027-01-01,放假,元旦\n2027-01-02,放假,元旦\n2027-01-03,放假,元旦\n2027-01-10,上班,元旦\n"


@pytest.fixture
def engine(db_engine, repo_root):
    ingest.load_layer_dir(db_engine, repo_root / "data")
    yield db_engine
    workdays.install_days(NO_OFFICE_DAYS)  # the calendar is process-wide: leave none for the next test


@pytest.fixture
def settings(tmp_path):
    return load_settings({"data_dir": str(tmp_path)}, environ={})


def _cases(repo_root, path):
    sample = pd.read_csv(repo_root / "data" / "issues" / "jinqiao_2025_issues.csv", dtype=str, keep_default_na=False)
    rows = sample.head(3).copy()
    rows[["status", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at"]] = ""
    # 06001 is due in 5 working days; 06010 (garbage) the same day, which no calendar changes
    rows["external_id"] = ["Y2027", "NEWYEAR", "GARBAGE"]
    rows["category_code"] = ["06001", "06001", "06010"]
    rows["reported_at"] = ["2027-01-05 09:00:00", "2026-12-28 09:00:00", "2027-01-05 09:00:00"]
    bad = rows.iloc[0].copy()
    bad[["external_id", "reported_at"]] = ["BAD", "2027-13-45 09:00:00"]
    pd.concat([rows, bad.to_frame().T]).to_csv(path, index=False)


def _deadlines(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, deadline_at, deadline_provisional FROM issues "
                                 "WHERE external_id IN ('Y2027', 'NEWYEAR', 'GARBAGE')")).all()
    return {e: (pd.Timestamp(d), bool(p)) for e, d, p in rows}


def test_a_year_not_known_yet_never_fails_an_import_and_loading_it_counts_again(engine, repo_root, tmp_path,
                                                                                  settings):
    assert max(workdays.known_years()) == 2026
    _cases(repo_root, tmp_path / "cases.csv")
    report = ingest.import_issue_file(engine, tmp_path / "cases.csv", jurisdiction_code=J, settings=settings,
                                      actor="test")
    assert (report.inserted, [(e.row, e.field) for e in report.errors]) == (3, [(5, "reported_at")])
    # Monday–Friday for 2027: Tue 5 Jan + 5 → Tue 12 Jan; Mon 28 Dec 2026 + 5 → Mon 4 Jan (1 Jan a weekday)
    assert _deadlines(engine) == {"Y2027": (pd.Timestamp("2027-01-12 18:00"), True),
                                  "NEWYEAR": (pd.Timestamp("2027-01-04 18:00"), True),
                                  "GARBAGE": (pd.Timestamp("2027-01-05 23:59:59"), False)}
    (tmp_path / "2027.csv").write_text(NOTICE_2027, encoding="utf-8")
    loaded = ingest.import_calendar_file(engine, tmp_path / "2027.csv", settings=settings)
    assert (loaded.years, loaded.days, loaded.recomputed) == ([2027], 4, 2)
    # with the notice: Sun 10 Jan is worked, so 6, 7, 8, 10, 11 → Mon 11 Jan; 1–3 Jan off → Tue 5 Jan
    assert _deadlines(engine) == {"Y2027": (pd.Timestamp("2027-01-11 18:00"), False),
                                  "NEWYEAR": (pd.Timestamp("2027-01-05 18:00"), False),
                                  "GARBAGE": (pd.Timestamp("2027-01-05 23:59:59"), False)}
    # another process sees the year after the version moved: its layer cache reads the calendar again
    workdays.install_days(NO_OFFICE_DAYS)
    ingest.LayerCache().get(engine, jurisdiction_code=J)
    assert 2027 in workdays.known_years()


@pytest.mark.parametrize("line, field, reason", [
    ("2027-02-30,放假,春节", "date", "not a date"),
    ("2027-01-01,放假,元旦", "date", "repeated"),
    ("2027-02-01,休假,春节", "kind", "expected holiday"),
    ("2027-02-03,上班,春节", "date", "Saturday or Sunday"),  # a Wednesday
])
def test_a_bad_notice_row_refuses_the_whole_file(engine, tmp_path, settings, line, field, reason):
    path = tmp_path / "bad.csv"
    path.write_text(NOTICE_2027 + line + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        ingest.import_calendar_file(engine, path, settings=settings)
    [error] = refused.value.errors
    assert (error.file, error.row, error.field) == ("bad.csv", 6, field) and reason in error.reason
    assert 2027 not in workdays.known_years()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM calendar_days")).scalar_one() == 0


def test_cli_calendar_import_and_show(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "init-db"]).exit_code == 0
    shown = runner.invoke(main, ["--database-url", url, "calendar", "show"])
    assert shown.exit_code == 0 and "known years: 2004–2026" in shown.output
    (tmp_path / "2027.csv").write_text(NOTICE_2027, encoding="utf-8")
    loaded = runner.invoke(main, ["--database-url", url, "calendar", "import", str(tmp_path / "2027.csv")])
    assert loaded.exit_code == 0 and "4 days of 2027 loaded; 0 provisional deadlines counted again" in loaded.output
    assert "known years: 2004–2027" in runner.invoke(main, ["--database-url", url, "calendar", "show"]).output
    (tmp_path / "bad.csv").write_text("日期,类型\n2027-02-03,上班\n", encoding="utf-8")
    bad = runner.invoke(main, ["--database-url", url, "calendar", "import", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 1 and "bad.csv: row 2: date" in bad.output and "loads only whole" in bad.output
    workdays.install_days(NO_OFFICE_DAYS)


def test_pages_and_api_say_a_deadline_is_provisional(sample_copy, login, repo_root, tmp_path):
    from webmap.app import create_app

    url = sample_copy.resolved_database_url
    _cases(repo_root, tmp_path / "cases.csv")
    result = CliRunner().invoke(main, ["--database-url", url, "import", str(tmp_path / "cases.csv")])
    assert result.exit_code == 0, result.output
    client = create_app(sample_copy).test_client()
    login(client, "supervisor")
    found = client.get("/api/issues?since=2026-12-01&limit=100").get_json()["features"]
    by_key = {f["properties"]["external_id"]: f for f in found}
    assert by_key["Y2027"]["properties"]["deadline_provisional"] is True
    assert by_key["GARBAGE"]["properties"]["deadline_provisional"] is False
    page = client.get(f"/issues/{by_key['Y2027']['properties']['id']}").get_data(as_text=True)
    assert "（暂定：该年节假日尚未发布，按周一至周五计算）" in page
    assert "暂定" not in client.get(f"/issues/{by_key['GARBAGE']['properties']['id']}").get_data(as_text=True)
    listed = client.get("/issues?since=2026-12-01").get_data(as_text=True)
    assert listed.count("（暂定）") == 2
    workdays.install_days(NO_OFFICE_DAYS)
