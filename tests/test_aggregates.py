"""Issues counted in SQL (geo.store.aggregates) equal pandas' counts of the same issues read one by one.

On hand-made issues on SpatiaLite and PostGIS (NULL assignments, points outside every cell,
every filter, time bins, grid squares), and on the whole Jinqiao sample for what the pages
count: the hot-spot view (cells, segments, open issues, rankings, density, popups), the
emerging hot spots and the overview's cells. Also: migration 0016 both ways, the partial
index of the late cases read by the dashboards' overdue count, and the index SQLite is told
to read through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sqlalchemy import text

from geo import store
from geo.hotspots import views as hotspot_views
from geo.hotspots.density import kernel_density
from geo.hotspots.emerging import emerging_hotspots, emerging_series
from geo.hotspots.top_hotspots import latest_by, top_cells, top_segments
from geo.issue_filter import IssueFilter
from geo.loop import views as loop_views
from geo.loop.counts import cell_counts, segment_counts
from geo.statuses import ISSUE_STATUSES, OPEN_STATUSES
from geo.store.db import make_engine

J = "120110900"
CATEGORIES = ("06010", "06017", "06021", "07001", "12003")
START = datetime(2025, 3, 1)


def _issues(n: int = 400, *, seed: int = 3) -> gpd.GeoDataFrame:
    """Issues with every assignment column sometimes missing, a few outside the grid, over 60 days."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(117.33, 117.40, n), rng.uniform(39.08, 39.12, n)

    def some(values, missing: float = 0.2):
        picked = rng.choice(np.asarray(values, dtype=object), n)
        return np.where(rng.random(n) < missing, None, picked)

    return gpd.GeoDataFrame({
        "source": rng.choice(["12345", "grid_worker", "citizen"], n), "external_id": [f"A{i:05d}" for i in range(n)],
        "source_system": "wgs84", "category_code": rng.choice(CATEGORIES, n), "description": "x", "address": "y",
        "status": rng.choice(ISSUE_STATUSES, n),
        "reported_at": pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, 86400 * 60, n), unit="s"),
        "cell_code": some([f"{J}{i:06d}" for i in range(12)], 0.1),
        "segment_id": pd.array(some(list(range(1, 9)), 0.3), dtype="Int64"),
        "compound_code": some(["C1", "C2", "C3"], 0.5), "community_code": some([J + "001", J + "002"], 0.1),
        "zone_code": some(["east", "west"]), "department_code": some(["sanitation", "construction", "community:x"]),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


@pytest.fixture
def stored(db_engine):
    store.insert_issues(db_engine, _issues(), jurisdiction_code=J, file="a.csv", actor="test")
    columns = ("id", "category_code", "source", "status", "reported_at", "deadline_at", "cell_code", "segment_id",
               "compound_code", "community_code", "zone_code", "department_code")
    return db_engine, store.query_issues(db_engine, jurisdiction_code=J, columns=columns)


def _reference(frame: pd.DataFrame, by: tuple[str, ...], *, nulls: bool = False) -> pd.Series:
    counted = frame.groupby(list(by), dropna=not nulls).size()
    return counted.rename("count").astype("int64")


def _same(got: pd.Series, expected: pd.Series) -> None:
    def norm(series: pd.Series) -> pd.Series:
        frame = series.reset_index()
        for column in frame.columns[:-1]:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None).map(
                lambda v: None if v is None else str(int(v)) if isinstance(v, (int, float, np.integer)) else str(v))
        return frame.sort_values(list(frame.columns[:-1]), na_position="first", key=lambda c: c.fillna("")
                                 ).reset_index(drop=True)

    assert_frame_equal(norm(got), norm(expected), check_dtype=False)


FILTERS = [IssueFilter(), IssueFilter(statuses=OPEN_STATUSES), IssueFilter(since=START + timedelta(days=20)),
           IssueFilter(since=START + timedelta(days=10), until=START + timedelta(days=30), categories=["06"]),
           IssueFilter(departments=["sanitation"], statuses=["closed", "reported"]),
           IssueFilter(categories=["06017", "07001"], zones=["east"]), IssueFilter(cells=[f"{J}000003", f"{J}000004"]),
           IssueFilter(segments=[2, 5], sources=["citizen"]), IssueFilter(bbox=(117.35, 39.09, 117.38, 39.11)),
           IssueFilter(until=START + timedelta(days=5), communities=[J + "002"])]


@pytest.mark.parametrize("where", FILTERS, ids=lambda f: repr({k: v for k, v in vars(f).items() if v is not None}))
@pytest.mark.parametrize("by", [("cell_code",), ("segment_id",), ("department_code", "status"),
                                ("cell_code", "category_code", "compound_code")])
def test_counts_per_group_equal_pandas(stored, where, by):
    engine, issues = stored
    kept = where.apply(issues)
    assert len(kept) and (len(kept) < len(issues) or where == IssueFilter())
    got = store.count_issues_by(engine, by, jurisdiction_code=J, where=where)
    _same(got, _reference(kept, by))
    with_nulls = store.count_issues_by(engine, by, jurisdiction_code=J, where=where, with_nulls=True)
    _same(with_nulls, _reference(kept, by, nulls=True))
    assert with_nulls.sum() == len(kept)


def test_pseudo_columns_major_bin_and_grid_square(stored):
    engine, issues = stored
    where = IssueFilter(since=START + timedelta(days=3), until=START + timedelta(days=50), statuses=OPEN_STATUSES)
    kept = where.apply(issues)
    bin_start = START + timedelta(days=7, hours=5)
    got = store.count_issues_by(engine, ("cell_code", "bin", "major"), jurisdiction_code=J, where=where,
                                time_bin=(bin_start, 9))
    later = kept[kept["reported_at"] >= bin_start]
    reference = later.assign(bin=((later["reported_at"] - bin_start) // pd.Timedelta(days=9)).astype(int),
                             major=later["category_code"].str[:2])
    _same(got, _reference(reference, ("cell_code", "bin", "major")))
    grid = store.count_issues_by(engine, ("gx", "gy"), jurisdiction_code=J, where=where, grid_deg=0.004)
    squares = kept.assign(gx=np.floor((kept.geometry.x + 180) / 0.004).astype(int),
                          gy=np.floor((kept.geometry.y + 90) / 0.004).astype(int))
    _same(grid, _reference(squares, ("gx", "gy")))
    off = store.count_issues_by(engine, ("gx", "gy"), jurisdiction_code=J, where=where, grid_deg=0.004,
                                unassigned="cell_code")
    assert off.sum() == kept["cell_code"].isna().sum() > 0


@pytest.mark.parametrize("bad, message", [
    ({"by": "geom"}, "cannot count issues by"), ({"by": ("cell_code", "cell_code")}, "each once"),
    ({"by": "bin"}, "time_bin"), ({"by": "bin", "time_bin": (START, 0)}, "time_bin"),
    ({"by": "gx", "grid_deg": 0}, "grid_deg"), ({"by": "cell_code", "unassigned": "status"}, "unassigned"),
])
def test_bad_groupings_are_refused_with_the_value(db_engine, bad, message):
    from geo.errors import ValidationError

    with pytest.raises(ValidationError, match=message):
        store.count_issues_by(db_engine, jurisdiction_code=J, **bad)


def test_newest_issues_per_group_equal_pandas(stored):
    engine, issues = stored
    where = IssueFilter(statuses=OPEN_STATUSES)
    got = store.newest_issues_by(engine, "cell_code", jurisdiction_code=J, where=where, per=2,
                                 columns=("id", "reported_at", "address"))
    expected = latest_by(where.apply(issues), "cell_code", per=2)
    assert sorted(got["id"].astype(int)) == sorted(expected["id"].astype(int))
    assert got.groupby("cell_code").size().max() == 2 and set(got["address"]) == {"y"}
    assert pd.api.types.is_datetime64_any_dtype(got["reported_at"])


def test_newest_issues_among_the_most_recent_when_too_many(stored):
    engine, issues = stored
    where = IssueFilter(statuses=OPEN_STATUSES)
    kept = where.apply(issues)
    got = store.newest_issues_by(engine, "cell_code", jurisdiction_code=J, where=where, per=2, columns=("id",),
                                 scan_limit=50)
    recent = kept.sort_values(["reported_at", "id"], ascending=False).dropna(subset=["cell_code"]).head(50)
    assert len(kept) > 50 and sorted(got["id"].astype(int)) == sorted(latest_by(recent, "cell_code", per=2)["id"])
    enough = store.newest_issues_by(engine, "cell_code", jurisdiction_code=J, where=where, per=2, columns=("id",),
                                    scan_limit=len(kept))
    assert sorted(enough["id"].astype(int)) == sorted(latest_by(kept, "cell_code", per=2)["id"])


def test_a_filter_read_without_the_spatial_index_gives_the_same_issues(stored):
    engine, issues = stored
    where = IssueFilter(statuses=OPEN_STATUSES, bbox=(117.34, 39.085, 117.39, 39.115))
    by_index = store.query_issues(engine, jurisdiction_code=J, where=where, columns=("id",), spatial_index=False)
    by_rtree = store.query_issues(engine, jurisdiction_code=J, where=where, columns=("id",))
    assert sorted(by_index["id"]) == sorted(by_rtree["id"]) == sorted(where.apply(issues)["id"])


def test_sqlite_reads_through_the_index_of_the_narrowest_criterion(spatialite_url):
    from geo.store.db import init_db
    from geo.store.issues import issue_where, sqlite_index

    engine = make_engine(spatialite_url)
    init_db(engine)
    cases = {IssueFilter(since=START): "ix_issues_reported_at", IssueFilter(until=START, statuses=["closed"]):
             "ix_issues_status", IssueFilter(departments=["a"]): "ix_issues_department",
             IssueFilter(categories=["06010"]): "ix_issues_category", IssueFilter(categories=["06"]): None}
    with engine.connect() as conn:
        for where, index in cases.items():
            assert sqlite_index(where, ()) == index
            if index:
                condition, params = issue_where(J, where)
                plan = conn.execute(text(f"EXPLAIN QUERY PLAN SELECT count(*) FROM issues t INDEXED BY {index} "
                                         f"WHERE {condition}"), params).fetchall()
                assert index in str(plan)
    assert sqlite_index(IssueFilter(), ("cell_code",)) == "ix_issues_cell"
    engine.dispose()


def test_the_late_cases_are_counted_from_their_partial_index(db_engine, monkeypatch):
    from test_figures import _cases

    from geo.store.models import LATE_CASE

    # a large load drops the indexes and builds them again from their definitions: the partial index must
    # still serve the query afterwards (PostgreSQL proves it from the predicate's text)
    monkeypatch.setattr("geo.store.bulk.REBUILD_INDEXES_ROWS", 5)
    cases = _cases()
    store.insert_issues(db_engine, cases, jurisdiction_code=J, file="cases.csv", actor="test")
    sql = ("SELECT count(*) FROM issues t WHERE t.jurisdiction_code = :j AND t.deadline_at >= :since "
           f"AND t.deadline_at < :until AND {LATE_CASE}")
    params = {"j": J, "since": datetime(2025, 3, 1), "until": datetime(2025, 4, 3)}
    with db_engine.connect() as conn:
        if db_engine.dialect.name == "sqlite":
            plan = conn.execute(text("EXPLAIN QUERY PLAN " + sql.replace("issues t", "issues t INDEXED BY "
                                                                         "ix_issues_late")), params).fetchall()
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.execute(text("EXPLAIN " + sql), params).fetchall()
        assert "ix_issues_late" in str(plan)
    days = store.daily_counts(db_engine, jurisdiction_code=J, since=datetime(2025, 3, 1).date(),
                              until=datetime(2025, 4, 3).date(), now=datetime(2025, 4, 2, 9))
    times = {c: pd.to_datetime(cases[c]) for c in ("registered_at", "deadline_at", "handled_at", "closed_at")}
    done = times["handled_at"].fillna(times["closed_at"])
    late = (times["registered_at"].notna() & ~cases["status"].isin(["refused", "merged"])
            & (times["deadline_at"] < datetime(2025, 4, 2, 9)) & (done.isna() | (done > times["deadline_at"])))
    assert days["overdue"].sum() == late.sum() >= 3


def test_migration_0016_changes_the_indexes_and_goes_back(db_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from conftest import migrate_to
    from sqlalchemy import inspect

    from geo.store.db import head_revision, init_db, schema_revision
    from geo.store.models import Base

    def indexes() -> dict[str, list[str]]:
        return {i["name"]: i["column_names"] for i in inspect(db_engine).get_indexes("issues")
                if i["name"] in ("ix_issues_status", "ix_issues_reported_at", "ix_issues_cell", "ix_issues_late")}

    with db_engine.connect() as conn:  # the model and the migration agree
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "ix_issues" in str(d)] == []
    after = {"ix_issues_status": ["jurisdiction_code", "status", "cell_code", "segment_id", "deadline_at",
                                  "department_code", "category_code"],
             "ix_issues_reported_at": ["jurisdiction_code", "reported_at", "cell_code", "segment_id"],
             "ix_issues_cell": ["jurisdiction_code", "cell_code"], "ix_issues_late": ["jurisdiction_code", "deadline_at"]}
    assert indexes() == after
    migrate_to(db_engine, "0014")
    assert schema_revision(db_engine) == "0014"
    assert indexes() == {"ix_issues_status": ["jurisdiction_code", "status"],
                         "ix_issues_reported_at": ["jurisdiction_code", "reported_at"]}
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision() and indexes() == after


# --------------------------------------------------------------------------- the sample's pages


@pytest.fixture(scope="module")
def sample(sample_db):
    engine = make_engine(sample_db.resolved_database_url)
    yield engine, sample_db
    engine.dispose()


PERIOD = IssueFilter(since=datetime(2025, 11, 1), until=datetime(2025, 12, 1))


@pytest.mark.parametrize("where", [PERIOD, PERIOD.narrowed(categories=["06"], departments=["sanitation"])])
def test_the_hotspot_view_equals_the_analysis_of_its_issues(sample, where):
    engine, settings = sample
    view = hotspot_views.hotspot_view(engine, settings, where, per_major=True)
    columns = ("id", "category_code", "status", "reported_at", "cell_code", "segment_id", "compound_code",
               "community_code", "department_code")
    j = settings.jurisdiction_code
    issues = store.query_issues(engine, jurisdiction_code=j, where=where, columns=columns)
    open_issues = store.query_issues(engine, jurisdiction_code=j, where=hotspot_views.open_now(where), columns=columns)
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    assert view.n_issues == len(issues) > 100 and view.n_open == len(open_issues) > 0
    assert_series_equal(view.cells["count"], cell_counts(issues, cells)["count"])
    assert_series_equal(view.cells["open_count"], cell_counts(open_issues, cells)["count"], check_names=False)
    segments = store.read_layer(engine, "segments", jurisdiction_code=j)
    assert_frame_equal(view.segments, segment_counts(issues, segments))
    names = hotspot_views.reference_names(engine, settings)
    segment_names = dict(zip(segments["segment_id"], segments["name"]))
    assert_frame_equal(view.top_cells, top_cells(view.cells, issues, open_issues, segment_names=segment_names,
                                                 names=names), check_dtype=False)
    assert_frame_equal(view.top_segments, top_segments(view.segments, issues, open_issues, names=names),
                       check_dtype=False)
    assert_series_equal(view.majors.sort_index(), issues["category_code"].str[:2].value_counts().sort_index(),
                        check_names=False, check_index_type=False)
    per_cell_major = issues.groupby([issues["cell_code"], issues["category_code"].str[:2]]).size()
    assert view.cell_majors.sort_index().tolist() == per_cell_major.sort_index().tolist()
    expected = latest_by(open_issues, "cell_code", per=hotspot_views.POPUP_ISSUES_PER_CELL)
    assert sorted(view.popup_issues["id"]) == sorted(expected["id"])
    # the density of the issues counted per 0.0002° square equals the density of the issues moved to their
    # square's centre, and is close to that of the issues where they are
    g = hotspot_views.DENSITY_GRID_DEG
    snapped = gpd.GeoDataFrame(geometry=gpd.points_from_xy((np.floor((issues.geometry.x + 180) / g) + 0.5) * g - 180,
                                                           (np.floor((issues.geometry.y + 90) / g) + 0.5) * g - 90),
                               crs="EPSG:4326")
    exact = kernel_density(snapped, metric_crs=settings.metric_crs)
    assert_frame_equal(pd.DataFrame(view.density.drop(columns="geometry")), pd.DataFrame(exact.drop(columns="geometry")),
                       rtol=1e-9)
    assert view.density.geom_equals_exact(exact.geometry, tolerance=1e-9).all()
    raw = kernel_density(issues, metric_crs=settings.metric_crs)
    assert abs(view.density["density_per_km2"].max() / raw["density_per_km2"].max() - 1) < 0.1


def test_emerging_hot_spots_from_counts_equal_those_of_the_issues(sample):
    engine, settings = sample
    where = IssueFilter(since=datetime(2025, 9, 8), until=datetime(2025, 12, 1), categories=["06"])
    cells, series = hotspot_views.emerging_view(engine, settings, where, bin_days=7, cell=f"{settings.jurisdiction_code}"
                                                "001001")
    issues = store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=where,
                                columns=("id", "cell_code", "reported_at"))
    grid = store.read_layer(engine, "unit_cells", jurisdiction_code=settings.jurisdiction_code)
    expected = emerging_hotspots(issues, grid, since=where.since, until=where.until, bin_days=7)
    assert_frame_equal(pd.DataFrame(cells.drop(columns="geometry")), pd.DataFrame(expected.drop(columns="geometry")))
    reference = emerging_series(issues, grid, since=where.since, until=where.until, bin_days=7)
    assert series["count"].tolist() == reference.counts[0].astype(int).tolist()
    assert cells["count"].sum() > 100 and (cells["ehsa_class"] != "no_pattern").any()


def test_the_overview_counts_the_last_year_per_cell(sample):
    engine, settings = sample
    counted = loop_views.overview_cells(engine, settings, now=datetime(2026, 12, 6, 10))
    assert (counted.since, counted.until) == (datetime(2025, 1, 1), datetime(2026, 1, 1))
    issues = store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code,
                                where=IssueFilter(since=counted.since, until=counted.until), columns=("cell_code",))
    assert_series_equal(counted.cells["count"], cell_counts(issues, counted.cells)["count"])
