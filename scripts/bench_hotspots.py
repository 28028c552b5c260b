"""Benchmark of the hot-spot analysis and of the hotspot map's size.

1. Getis-Ord Gi* on square grids of ~10k and ~100k unit cells (queen contiguity):
   ``geo.hotspots.gi_star.gi_star_z`` beside ``esda.G_Local(star=True)`` with a libpysal Graph
   and with a ``lat2W`` W, in the same run, on the same counts and weights (the
   z-scores are checked equal). Times are medians of ``--repeat`` runs; building the
   weights is timed apart.
2. The bytes of ``/maps/hotspots`` for a whole year at 10k, 100k and 1M synthetic
   issues (clustered and scattered over the Jinqiao sample layers, assigned like an
   import) loaded into a temporary SpatiaLite database through
   ``geo.store.insert_issues``, served by the app (test client, supervisor login).

    python scripts/bench_hotspots.py [--sizes 10000,100000,1000000] [--repeat 5] [--skip-pages]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from libpysal.weights import lat2W

from geo import store
from geo.hotspots.gi_star import gi_star_z, queen_weights
from geo.io import ingest
from geo.io.ingest import load_layers_from_dir
from geo.loop import users
from geo.settings import load_settings
from geo.store.db import init_db, make_engine
from geo.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]


def _median_s(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_gi(side: int, *, repeat: int, seed: int) -> None:
    n = side * side
    cells = pd.DataFrame({"col": np.tile(np.arange(side), side), "row": np.repeat(np.arange(side), side)})
    cells["code"] = cells.index.astype(str)
    y = np.random.default_rng(seed).poisson(2.0, n).astype(float)
    start = time.perf_counter()
    w = queen_weights(cells)
    build_s = time.perf_counter() - start
    ours_s = _median_s(lambda: gi_star_z(y, w), repeat)
    graph = Graph.from_sparse(w)
    lattice = lat2W(side, side, rook=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph_s = _median_s(lambda: esda.G_Local(y, graph, transform="B", star=True, permutations=0), repeat)
        lat_s = _median_s(lambda: esda.G_Local(y, lattice, transform="B", star=True, permutations=0),
                          max(1, repeat // 2))
        diff = np.abs(gi_star_z(y, w) - esda.G_Local(y, graph, transform="B", star=True, permutations=0).Zs).max()
    print(f"Gi* {n:>7,} cells: ours {ours_s * 1e3:8.2f} ms (weights {build_s * 1e3:.0f} ms) | "
          f"esda+Graph {graph_s * 1e3:8.1f} ms ({graph_s / ours_s:5.0f}x) | "
          f"esda+lat2W {lat_s * 1e3:8.1f} ms ({lat_s / ours_s:5.0f}x) | max |dz| {diff:.1e}")


def synthetic_issues(n: int, layers, *, seed: int) -> gpd.GeoDataFrame:
    """N issues of 2025: 60 % around 40 hot centres (σ 60 m), 40 % over the bounding box, assigned."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = layers.boundary.bounds
    centres = np.column_stack([rng.uniform(minx, maxx, 40), rng.uniform(miny, maxy, 40)])
    clustered = rng.random(n) < 0.6
    pick = rng.integers(0, 40, n)
    lon = np.where(clustered, centres[pick, 0] + rng.normal(0, 0.0007, n), rng.uniform(minx, maxx, n))
    lat = np.where(clustered, centres[pick, 1] + rng.normal(0, 0.00054, n), rng.uniform(miny, maxy, n))
    codes = load_taxonomy().categories.index.to_numpy()
    frame = gpd.GeoDataFrame({
        "source": rng.choice(np.array(["12345", "inspection", "grid_worker", "citizen"]), n),
        "external_id": np.char.add("H", np.arange(n).astype(str)),
        "source_system": "wgs84",
        "category_code": rng.choice(codes, n),
        "description": "测试问题：路边堆放垃圾",
        "address": "金桥街道测试路1号",
        "status": np.where(rng.random(n) < 0.1, "registered", "closed"),
        "reported_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 365, n), unit="s"),
    }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    return ingest.assign_and_schedule(frame, layers, settings=load_settings(environ={}))


def bench_pages(sizes: list[int], *, seed: int) -> None:
    from webmap.app import create_app

    layers = load_layers_from_dir(ROOT / "data")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="citymap-bench-hot-") as tmp:
            settings = load_settings({"data_dir": tmp}, environ={})
            engine = make_engine(settings.resolved_database_url)
            init_db(engine)
            ingest.save_layers(engine, layers)
            issues = synthetic_issues(n, layers, seed=seed)
            start = time.perf_counter()
            store.insert_issues(engine, issues, jurisdiction_code=layers.code, file="bench", actor="bench")
            load_s = time.perf_counter() - start
            store.create_user(engine, name="bench", password_hash=users.hash_password("bench-password-1"),
                              role="supervisor", department_code=None, jurisdiction_code=layers.code,
                              now=datetime(2025, 1, 1))
            client = create_app(settings).test_client()
            client.post("/login", json={"name": "bench", "password": "bench-password-1"})
            for label, query in (("whole year", "since=2025-01-01&until=2025-12-31"),
                                 ("last 30 days", "since=2025-12-02&until=2025-12-31")):
                start = time.perf_counter()
                answer = client.get(f"/maps/hotspots?{query}")
                map_s = time.perf_counter() - start
                page = client.get(f"/hotspots?{query}")
                assert answer.status_code == 200 and page.status_code == 200, answer.status_code
                print(f"page {n:>9,} issues (DB load {load_s:6.1f} s), {label:>12}: map {len(answer.data) / 1e6:5.2f} MB"
                      f" in {map_s:5.2f} s, page {len(page.data) / 1e3:5.1f} kB")
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="issue counts for the page sizes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pages", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, esda {esda.__version__}, {platform.machine()}")
    for side in (100, 317):
        bench_gi(side, repeat=args.repeat, seed=args.seed)
    if not args.skip_pages:
        bench_pages([int(s) for s in args.sizes.split(",")], seed=args.seed)


if __name__ == "__main__":
    main()
