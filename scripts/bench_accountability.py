"""Benchmark the accountability figures, duplicate suggestion and coverage on the Jinqiao sample.

Usage::

    .venv/bin/python scripts/bench_accountability.py [--repeat K] [--seed S]

Builds the sample layers, issues (20,000) and inspections in memory (no database),
then times ``geo.loop.metrics.accountability`` by department for a month,
``geo.loop.metrics.plan_task_figures``, ``geo.loop.suggest.suggest_duplicates`` over all
20,000 issues (as if all were open) and ``geo.loop.coverage.coverage`` of the grid centre's
patch (the whole jurisdiction, 2,714 cells). Prints the best of K times and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.io.ingest import load_layers_from_dir
from geo.loop import coverage, metrics, suggest
from geo.sample import make_issues
from geo.sample.inspections import make_inspections
from geo.taxonomy import load_taxonomy


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args()
    layers = load_layers_from_dir(ROOT / "data")
    raw = make_issues({"jurisdiction": layers.jurisdiction, "roads": layers.roads, "compounds": layers.compounds,
                       "communities": layers.communities}, seed=args.seed)
    tax = load_taxonomy()
    issues = gpd.GeoDataFrame(raw, geometry=gpd.points_from_xy(raw["lon"], raw["lat"]), crs="EPSG:4326")
    issues["id"] = range(1, len(issues) + 1)
    issues["deadline_at"] = tax.deadlines(issues["category_code"], pd.to_datetime(issues["reported_at"]))
    issues["department_code"] = issues["category_code"].map(tax.categories["lead_department"])
    for column in ("community_code", "grid_code", "zone_code"):
        issues[column] = None
    period = {"start": datetime(2025, 12, 1), "end": datetime(2026, 1, 1), "now": datetime(2026, 1, 1)}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"issues: {len(issues)}")
    t, table = best(lambda: metrics.accountability(issues, by="department", **period), args.repeat)
    print(f"accountability by department (1 month): {t * 1000:.1f} ms, {len(table)} departments")
    t, _board = best(lambda: metrics.plan_task_figures(issues, **period), args.repeat)
    print(f"plan-task figures (24 tasks): {t * 1000:.1f} ms")
    open_all = issues.assign(status="dispatched")
    t, pairs = best(lambda: suggest.suggest_duplicates(open_all, radius_m=20, window_h=24), args.repeat)
    print(f"duplicate suggestion over {len(issues)} issues: {t * 1000:.1f} ms, {len(pairs)} pairs")
    tracks = make_inspections(layers)
    patch = layers.jurisdiction.geometry.iloc[0]
    t, result = best(lambda: coverage.coverage(tracks, patch=patch, cells=layers.unit_cells, segments=layers.segments,
                                               until=datetime(2026, 1, 1), days=7, tolerance_m=25.0), args.repeat)
    print(f"coverage of the whole jurisdiction ({len(tracks)} inspections, {result.cells_total} cells, "
          f"{result.road_km:.1f} km of road): {t * 1000:.1f} ms; cells {result.cell_share:.1%}, "
          f"road {result.road_share:.1%}")


if __name__ == "__main__":
    main()
