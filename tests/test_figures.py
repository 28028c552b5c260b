"""The dashboards' figures counted in SQL (geo.store.figures) equal the pandas reference (geo.loop.metrics).

On hand-made cases on SpatiaLite and PostGIS (every definition's edge: refused, merged, no
deadline, handled late, closed without handling time, reworked, open and overdue), and on
the whole Jinqiao sample for the league, the areas and the plan-task board.
"""

from __future__ import annotations

from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from geo import store
from geo.loop import metrics
from geo.loop import views as loop_views
from geo.store.db import make_engine

J = "120110900"
NOW = datetime(2025, 4, 2, 9, 0)
MARCH = {"start": datetime(2025, 3, 1), "end": datetime(2025, 4, 1)}


def _cases() -> gpd.GeoDataFrame:
    rows = [
        # on time after a rework, department A
        dict(status="closed", reported_at="2025-03-02 08:00", registered_at="2025-03-02 09:00",
             deadline_at="2025-03-05 18:00", handled_at="2025-03-04 08:00", closed_at="2025-03-04 12:00",
             rework_count=1, department_code="A", category_code="06010"),
        # registered in February, due in March, handled late
        dict(status="closed", reported_at="2025-02-27 10:00", registered_at="2025-02-27 11:00",
             deadline_at="2025-03-03 18:00", handled_at="2025-03-06 10:00", closed_at="2025-03-07 10:00",
             department_code="A", category_code="06010"),
        # registered in March, due in April, still dispatched (overdue at NOW)
        dict(status="dispatched", reported_at="2025-03-31 10:00", registered_at="2025-03-31 11:00",
             deadline_at="2025-04-01 18:00", department_code="B", category_code="07001"),
        # due in March, never handled: overdue
        dict(status="registered", reported_at="2025-03-10 10:00", registered_at="2025-03-10 11:00",
             deadline_at="2025-03-12 18:00", department_code="B", category_code="06017"),
        # closed without a handling time, by the deadline
        dict(status="closed", reported_at="2025-03-20 10:00", registered_at="2025-03-20 11:00",
             deadline_at="2025-03-21 18:00", closed_at="2025-03-21 12:00", department_code="A",
             category_code="06017"),
        # handled in March, closed in April: due in March, not closed in March
        dict(status="closed", reported_at="2025-03-25 10:00", registered_at="2025-03-25 11:00",
             deadline_at="2025-03-28 18:00", handled_at="2025-03-27 10:00", closed_at="2025-04-01 09:00",
             rework_count=2, department_code=None, category_code="06010"),
        # refused and merged: never cases, the merged one still counts nowhere
        dict(status="refused", reported_at="2025-03-03 10:00", registered_at="2025-03-03 11:00",
             deadline_at="2025-03-05 18:00", department_code="A", category_code="06010"),
        dict(status="merged", reported_at="2025-03-04 10:00", registered_at="2025-03-04 11:00",
             deadline_at="2025-03-06 18:00", handled_at="2025-03-05 10:00", department_code="A",
             category_code="06010"),
        # reported, not registered: backlog only
        dict(status="reported", reported_at="2025-03-30 10:00", department_code="B", category_code="06010"),
        # handled, waiting for verification: open, not overdue
        dict(status="handled", reported_at="2025-03-15 10:00", registered_at="2025-03-15 11:00",
             deadline_at="2025-03-16 18:00", handled_at="2025-03-16 20:00", department_code="B",
             category_code="07001"),
    ]
    frame = pd.DataFrame(rows)
    for column in ("reported_at", "registered_at", "handled_at", "closed_at", "deadline_at"):
        frame[column] = pd.to_datetime(frame.get(column), format="mixed")
    frame["rework_count"] = frame["rework_count"].fillna(0).astype(int)
    n = len(frame)
    return gpd.GeoDataFrame(frame.assign(source="12345", external_id=[f"F{i}" for i in range(n)],
                                         source_system="wgs84", description="测试"),
                            geometry=gpd.points_from_xy(np.linspace(117.34, 117.39, n), np.full(n, 39.1)),
                            crs="EPSG:4326")


@pytest.fixture
def stored(db_engine):
    from test_store import _departments, _jurisdiction, _layers

    store.replace_layers(db_engine, _jurisdiction(), _layers(), _departments())
    store.insert_issues(db_engine, _cases(), jurisdiction_code=J, file="cases.csv", actor="test")
    issues = store.query_issues(db_engine, jurisdiction_code=J, columns=metrics.METRIC_COLUMNS)
    return db_engine, issues


def _hours(engine, by):
    hours = store.handling_hours(engine, jurisdiction_code=J, by=by, **MARCH)
    return hours.set_index("group")["hours"]


def test_counts_per_department_equal_the_pandas_figures(stored):
    engine, issues = stored
    reference = metrics.accountability(issues, by="department", now=NOW, **MARCH)
    counts = store.period_counts(engine, jurisdiction_code=J, by="department_code", now=NOW, **MARCH)
    sql = metrics.figure_table(counts, _hours(engine, "department_code"))
    assert sql.index.tolist() == ["A", "B"]
    assert_frame_equal(sql[reference.columns[:-2]], reference.drop(columns=["registered_per_km2",
                                                                             "registered_per_road_km"]),
                       check_names=False)
    # the values themselves, by hand: A has 3 cases due in March (one late), B one never handled
    assert counts.loc["A", ["due", "closed", "closed_on_time", "handled", "rework"]].tolist() == [3, 3, 2, 3, 1]
    assert counts.loc["B", ["registered", "due", "backlog", "overdue"]].tolist() == [3, 2, 4, 2]


def test_counts_of_all_issues_and_per_category_tasks(stored):
    engine, issues = stored
    whole = store.period_counts(engine, jurisdiction_code=J, now=NOW, **MARCH)
    reference = metrics.period_figures(issues, now=NOW, **MARCH)
    assert len(whole) == 1
    assert {c: int(whole[c].iloc[0]) for c in store.COUNT_COLUMNS} == {c: reference[c] for c in store.COUNT_COLUMNS}
    hours = _hours(engine, None)
    assert hours.median() == pytest.approx(reference["handle_h_median"])
    counts = store.period_counts(engine, jurisdiction_code=J, by="category_code", now=NOW, **MARCH)
    tasks = metrics.tasks_of_categories(counts, _hours(engine, "category_code"))
    assert_frame_equal(tasks, metrics.plan_task_figures(issues, now=NOW, **MARCH))


def test_the_groups_and_the_whole_from_one_count(stored):
    from geo.settings import load_settings

    engine, issues = stored
    settings = load_settings({"jurisdiction_code": J}, environ={})
    with_nulls = store.period_counts(engine, jurisdiction_code=J, by="department_code", now=NOW, with_nulls=True,
                                     **MARCH)
    assert with_nulls.index.tolist() == ["", "A", "B"]  # the case without a department forms the group ""
    table, total = loop_views.figures_and_total(engine, settings, by="department", now=NOW, **MARCH)
    assert_frame_equal(table, loop_views.figures_by(engine, settings, by="department", now=NOW, **MARCH))
    whole = loop_views.figures_by(engine, settings, by=None, now=NOW, **MARCH).iloc[0]
    assert_series_equal(total, whole, check_names=False)
    assert total["handled"] > table["handled"].sum()


def test_daily_counts_equal_the_days_of_the_frame(stored):
    engine, issues = stored
    days = store.daily_counts(engine, jurisdiction_code=J, since=date(2025, 2, 25), until=date(2025, 4, 3), now=NOW)
    assert len(days) == 37 and days.index[0] == pd.Timestamp("2025-02-25")
    assert_series_equal(days["new"][days["new"] > 0],
                        issues["reported_at"].dt.normalize().value_counts().sort_index().rename("new"),
                        check_names=False, check_index_type=False, check_freq=False)
    assert days["closed"].sum() == issues["closed_at"].notna().sum()
    # deadlines passed without handling by then: the late one (3 Mar), the never-handled one (12 Mar),
    # the one handled after its deadline (16 Mar) and the dispatched one due 1 Apr; not the refused one
    assert days.index[days["overdue"] > 0].strftime("%m-%d").tolist() == ["03-03", "03-12", "03-16", "04-01"]


def test_bad_groupings_and_periods_are_refused(stored):
    engine, _ = stored
    with pytest.raises(Exception, match="description"):
        store.period_counts(engine, jurisdiction_code=J, by="description", now=NOW, **MARCH)
    with pytest.raises(Exception, match="not after"):
        store.period_counts(engine, jurisdiction_code=J, start=MARCH["end"], end=MARCH["start"], now=NOW)


# --------------------------------------------------------------------------- the whole sample

@pytest.fixture(scope="module")
def sample(sample_db):
    engine = make_engine(sample_db.resolved_database_url)
    yield engine, sample_db, loop_views.read_issues(engine, sample_db)
    engine.dispose()


@pytest.mark.parametrize("month", [(2025, 3), (2025, 12)])
def test_sample_league_and_areas_equal_the_pandas_reference(sample, month):
    engine, settings, issues = sample
    start = datetime(*month, 1)
    end = datetime(month[0] + month[1] // 12, month[1] % 12 + 1, 1)
    now = datetime(2026, 1, 1)
    patches = loop_views.read_patches(engine, settings)
    segments = store.read_layer(engine, "segments", jurisdiction_code=settings.jurisdiction_code)
    extents = metrics.group_extents(patches, segments, metric_crs=settings.metric_crs)
    reference = metrics.accountability(issues, by="department", start=start, end=end, now=now, extents=extents)
    league = loop_views.league(engine, settings, start=start, end=end, now=now)
    assert league["due"].sum() > 100
    assert_frame_equal(league.drop(columns="name").sort_index(), reference, check_names=False)
    areas = loop_views.area_tables(engine, settings, start=start, end=end, now=now)
    for by in ("community", "grid", "zone"):
        expected = metrics.accountability(issues, by=by, start=start, end=end, now=now)
        got = areas[by].drop(columns=["name", "registered_per_km2", "registered_per_road_km"])
        got = got[got.index.isin(expected.index)]
        assert_frame_equal(got, expected.drop(columns=["registered_per_km2", "registered_per_road_km"]),
                           check_names=False)
    board = loop_views.plan_task_board(engine, settings, start=start, end=end, now=now)
    assert_frame_equal(board, metrics.plan_task_figures(issues, start=start, end=end, now=now))


def test_migration_0015_adds_the_time_indexes_and_goes_back(db_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from conftest import migrate_to
    from sqlalchemy import inspect

    from geo.store.db import head_revision, init_db, schema_revision
    from geo.store.models import Base

    added = {"ix_issues_registered_at", "ix_issues_handled_at", "ix_issues_closed_at", "ix_issues_deadline_at"}

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(db_engine).get_indexes("issues")} & added

    with db_engine.connect() as conn:  # the model and the migration agree
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "ix_issues" in str(d)] == []
    assert indexes() == added
    migrate_to(db_engine, "0009")
    assert schema_revision(db_engine) == "0009" and indexes() == set()
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision() and indexes() == added
