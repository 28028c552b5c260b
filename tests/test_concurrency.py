"""Eight processes writing at once to SpatiaLite and to PostGIS lose no write.

Each worker is a separate process (multiprocessing "forkserver": a fresh interpreter,
its own engine through geo.store.db.make_engine, nothing shared with the parent but the
database). A barrier releases them together so their transactions really overlap.
"""

from __future__ import annotations

import multiprocessing
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo import store
from geo.store.db import init_db, make_engine, write_tx

J = "120110900"
PROCESSES = 8
INCREMENTS = 25  # per process: 8 × 25 = 200 read-modify-write transactions
OWN_ISSUES = 150  # per process, plus SHARED_ISSUES that every process tries to load too
SHARED_ISSUES = 50
# The gap between read and write in a read-modify-write: without the row lock on
# PostgreSQL nearly every increment would then be lost, so the test can tell.
THINK_S = 0.002


@pytest.fixture(scope="module")
def context():
    """A forkserver that has imported geo.store once, so that eight workers start in well under a second."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["geo.store", "test_concurrency"])
    return ctx


def _run_all(ctx, target, args_of) -> None:
    barrier = ctx.Barrier(PROCESSES)
    workers = [ctx.Process(target=target, args=(barrier, *args_of(i))) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    codes = [worker.exitcode for worker in workers]
    for worker in workers:
        if worker.is_alive():
            worker.kill()
            worker.join()
    assert codes == [0] * PROCESSES, f"worker exit codes {codes} (tracebacks above)"


def _increment(barrier, url: str, issue_id: int, times: int) -> None:
    engine = make_engine(url)
    barrier.wait()
    for _ in range(times):
        with write_tx(engine) as conn:
            count = store.lock_row(conn, "issues", issue_id, ["rework_count"])["rework_count"]
            time.sleep(THINK_S)
            conn.execute(text("UPDATE issues SET rework_count = :n WHERE id = :id"), {"n": count + 1, "id": issue_id})
    engine.dispose()


def _issues(external_ids: list[str], *, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    n = len(external_ids)
    return gpd.GeoDataFrame({
        "source": "12345",
        "external_id": external_ids,
        "source_system": "wgs84",
        "category_code": "06010",
        "status": "registered",
        "reported_at": pd.Timestamp("2025-03-01 08:00") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
        "registered_at": pd.Timestamp("2025-04-01 08:00"),
        "phone": "13800138000",
    }, geometry=gpd.points_from_xy(rng.uniform(117.33, 117.40, n), rng.uniform(39.08, 39.12, n)), crs="EPSG:4326")


def _shared_ids() -> list[str]:
    return [f"S{i:04d}" for i in range(SHARED_ISSUES)]


def _load(barrier, url: str, worker: int, results) -> None:
    engine = make_engine(url)
    ids = [f"P{worker}-{i:04d}" for i in range(OWN_ISSUES)] + _shared_ids()
    batch = _issues(ids, seed=worker)
    barrier.wait()
    result = store.insert_issues(engine, batch, jurisdiction_code=J, file=f"worker{worker}.csv", actor=f"w{worker}")
    results.put((worker, result.inserted, result.skipped))
    engine.dispose()


def test_concurrent_read_modify_writes_lose_no_update(db_url, context):
    engine = make_engine(db_url)
    init_db(engine)
    store.insert_issues(engine, _issues(["COUNTER"], seed=0), jurisdiction_code=J, file="counter.csv", actor="test")
    issue_id = store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="COUNTER")
    _run_all(context, _increment, lambda _i: (db_url, issue_id, INCREMENTS))
    with engine.connect() as conn:
        final = conn.execute(text("SELECT rework_count FROM issues WHERE id = :id"), {"id": issue_id}).scalar_one()
    engine.dispose()
    assert final == PROCESSES * INCREMENTS


def test_concurrent_imports_keep_every_row_once(db_url, context):
    engine = make_engine(db_url)
    init_db(engine)
    results = context.Queue()
    _run_all(context, _load, lambda i: (db_url, i, results))
    outcomes = sorted(results.get(timeout=10) for _ in range(PROCESSES))
    expected_ids = {f"P{w}-{i:04d}" for w in range(PROCESSES) for i in range(OWN_ISSUES)} | set(_shared_ids())
    got = store.query_issues(engine, jurisdiction_code=J, columns=("id", "external_id"))
    assert len(got) == len(expected_ids) and set(got["external_id"]) == expected_ids
    # Each shared issue was loaded by exactly one worker, whichever came first.
    assert sum(inserted for _w, inserted, _s in outcomes) == len(expected_ids)
    assert all(inserted + skipped == OWN_ISSUES + SHARED_ISSUES for _w, inserted, skipped in outcomes)
    assert sum(skipped for _w, _i, skipped in outcomes) == (PROCESSES - 1) * SHARED_ISSUES
    # Every issue kept its one contact and its imported lifecycle; every load left its batch record.
    for table, rows in (("reporter_contacts", len(expected_ids)), ("imported_lifecycles", len(expected_ids)),
                        ("import_batches", PROCESSES)):
        assert store.count_rows(engine, table, jurisdiction_code=J) == rows, table
    engine.dispose()
