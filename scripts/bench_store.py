"""Benchmark of the storage layer on SpatiaLite and on a throwaway PostGIS.

Prints, for each back end: the bulk load of N synthetic issues through
``geo.store.insert_issues`` (rows/s; one transaction, with the issues' reporter
contacts and their audit events, spatial index maintained), and the median and
p90 time of bbox queries returning about 1,000 issues through
``geo.store.query_issues`` (the spatial index; GeoDataFrame out), once with the
ids and points only and once with the full records the API and maps show.

    python scripts/bench_store.py [--n 1000000] [--loads 3] [--queries 50] [--backend spatialite|postgis|both]
                                  [--sqlite-page-bytes 4096]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import create_engine, make_url

from geo import store
from geo.io import ingest
from geo.io.ingest import load_layers_from_dir
from geo.issue_filter import IssueFilter
from geo.settings import load_settings
from geo.store.db import init_db, make_engine

ROOT = Path(__file__).resolve().parents[1]


def synthetic_issues(n: int, layers, *, seed: int) -> gpd.GeoDataFrame:
    """N issues spread uniformly over the jurisdiction's bounding box, assigned."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = layers.boundary.bounds
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    codes = rng.choice(np.array(["06010", "06011", "07001", "09006", "08005"]), n)
    frame = gpd.GeoDataFrame({
        "source": "12345",
        "external_id": np.char.add("B", np.arange(n).astype(str)),
        "source_system": "wgs84",
        "category_code": codes,
        "description": "测试问题",
        "address": "金桥街道",
        "status": "registered",
        "reported_at": pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 86400 * 180, n), unit="s"),
        "phone": np.where(rng.random(n) < 0.7, "13800138000", None),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    settings = load_settings(environ={})
    return ingest.assign_and_schedule(frame, layers, settings=settings)


def bench_backend(name: str, database_url: Callable[[int], str], issues: gpd.GeoDataFrame, layers, *,
                  loads: int, queries: int, seed: int) -> None:
    """Load the issues into ``loads`` fresh databases, then time bbox queries on the last one."""
    rates = []
    for run in range(loads):
        engine = make_engine(database_url(run))
        init_db(engine)
        ingest.save_layers(engine, layers)
        start = time.perf_counter()
        result = store.insert_issues(engine, issues, jurisdiction_code=layers.code, file="bench", actor="bench")
        rates.append(result.inserted / (time.perf_counter() - start))
        if run < loads - 1:
            engine.dispose()
    pages = ""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            pages = f", {conn.exec_driver_sql('PRAGMA page_size').scalar_one():,}-byte pages"
    print(f"{name}: bulk load of {result.inserted:,} issues, {loads} runs{pages}: median {np.median(rates):,.0f} "
          f"rows/s, best {max(rates):,.0f} rows/s ({', '.join(f'{r:,.0f}' for r in rates)})")

    rng = np.random.default_rng(seed + 1)
    minx, miny, maxx, maxy = layers.boundary.bounds
    # a box holding ~1/1000 of a uniform spread over the bounding box holds ~1,000 of 1M
    share = np.sqrt(1000 / len(issues))
    w, h = (maxx - minx) * share, (maxy - miny) * share
    boxes = [(x0, y0, x0 + w, y0 + h) for x0, y0 in zip(rng.uniform(minx, maxx - w, queries),
                                                          rng.uniform(miny, maxy - h, queries))]
    for what, columns in (("ids and points", ("id",)), ("full records", store.ISSUE_READ_COLUMNS)):
        times, sizes = [], []
        for bbox in boxes:
            t = time.perf_counter()
            got = store.query_issues(engine, jurisdiction_code=layers.code, where=IssueFilter(bbox=bbox),
                                     columns=columns)
            times.append(time.perf_counter() - t)
            sizes.append(len(got))
        times_ms = np.array(times) * 1000
        print(f"{name}: bbox query, {what} ({len(columns)} columns + point), {queries} boxes returning "
              f"{np.median(sizes):,.0f} issues (median): median {np.median(times_ms):.2f} ms, "
              f"p90 {np.percentile(times_ms, 90):.2f} ms")
    engine.dispose()


def _new_sqlite_file(path: Path, *, page_bytes: int | None) -> str:
    """The URL of a new SpatiaLite file; with ``page_bytes``, the file is made first with that page size.

    citymap sets the page size of a file it creates; a file that exists keeps its own.
    """
    if page_bytes is not None:
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA page_size = {int(page_bytes)}")
            conn.execute("VACUUM")
    return f"sqlite:///{path}"


def _fresh_postgis_database(server_url: str, run: int) -> str:
    """A new, empty database ``bench<run>`` on the throwaway server, the previous run's dropped; its URL.

    Dropped so that its autovacuum does not take a core from the next load or the queries.
    """
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if run:
            conn.exec_driver_sql(f"DROP DATABASE bench{run - 1}")
        conn.exec_driver_sql(f"CREATE DATABASE bench{run}")
    admin.dispose()
    return make_url(server_url).set(database=f"bench{run}").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--loads", type=int, default=3,
                        help="loads per back end, each into a fresh database (this machine's speed drifts)")
    parser.add_argument("--backend", choices=("spatialite", "postgis", "both"), default="both")
    parser.add_argument("--sqlite-page-bytes", type=int, default=None,
                        help="page size of the SpatiaLite files (default: citymap's, geo.store.db.SQLITE_PAGE_BYTES)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}")
    layers = load_layers_from_dir(ROOT / "data")
    t = time.perf_counter()
    issues = synthetic_issues(args.n, layers, seed=args.seed)
    print(f"{args.n:,} synthetic issues generated and assigned in {time.perf_counter() - t:.2f} s")

    if args.backend in ("spatialite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            bench_backend("SpatiaLite", lambda run: _new_sqlite_file(Path(tmp) / f"bench{run}.sqlite",
                                                                     page_bytes=args.sqlite_page_bytes),
                          issues, layers, loads=args.loads, queries=args.queries, seed=args.seed)
    if args.backend in ("postgis", "both"):
        spec = importlib.util.spec_from_file_location("pg_throwaway", ROOT / "scripts" / "pg_throwaway.py")
        pg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pg)
        base = Path(tempfile.mkdtemp(prefix="citymap-bench-pg-"))
        try:
            server = pg.start(base)
            bench_backend("PostGIS", lambda run: _fresh_postgis_database(server, run), issues, layers,
                          loads=args.loads, queries=args.queries, seed=args.seed)
        finally:
            pg.stop(base)


if __name__ == "__main__":
    main()
