"""Benchmark geo.frames.assign against a plain geopandas chain doing the same joins.

Usage::

    .venv/bin/python scripts/bench_assign.py [--data DIR] [--points N] [--seed S]
    .venv/bin/python scripts/bench_assign.py --synthetic   # made-up layers, for development

Loads a jurisdiction's layers (default: the repository's ``data/``), draws N random
points (default 1,000,000) over the jurisdiction's bounding box, times
``prepare`` and ``assign_issues`` (cell, segment, compound, community, grid, zone,
department), times geopandas doing the same (``sjoin`` for cells and polygons,
``sjoin_nearest`` with ``max_distance`` for segments), checks that the two agree
and prints the times, the speed-up and the machine. Goals: 1M points in at most 2 s,
at least 4x faster than geopandas.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.crs import DEFAULT_METRIC_CRS, metric_to_lonlat, to_metric, to_wgs84  # noqa: E402
from geo.frames.assign import SANITATION, assign_issues, prepare  # noqa: E402
from geo.frames.reference import Layers
from geo.frames.segments import split_roads  # noqa: E402
from geo.frames.unit_grid import build_unit_grid, default_origin  # noqa: E402
from geo.io.ingest import load_layers_from_dir  # noqa: E402

MAX_DIST_M = 30.0
LEADS = np.array([SANITATION, "enforcement", "construction"], dtype=object)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def synthetic_layers(seed: int) -> Layers:
    """A made-up jurisdiction of about 6 km x 4 km near Jinqiao, for development only."""
    rng = np.random.default_rng(seed)
    jur = "120110900"
    x0, y0 = 530_040.0, 4_329_020.0
    w, h = 6000.0, 4000.0
    boundary = shapely.Polygon(
        [(x0, y0), (x0 + w, y0 + 150), (x0 + w - 200, y0 + h), (x0 + 300, y0 + h - 100), (x0 - 150, y0 + h / 2)]
    )
    bx0, by0, bx1, by1 = boundary.bounds
    crs = DEFAULT_METRIC_CRS

    def partition(nx: int, ny: int) -> list:
        xs = np.linspace(bx0, bx1, nx + 1)
        ys = np.linspace(by0, by1, ny + 1)
        boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(ny) for i in range(nx)]
        return [b for b in shapely.intersection(boxes, boundary) if not b.is_empty]

    comm_geoms = partition(5, 4)
    communities = gpd.GeoDataFrame(
        {"code": [f"{jur}{k + 1:03d}" for k in range(len(comm_geoms))], "name": "社区", "jurisdiction_code": jur},
        geometry=comm_geoms, crs=crs,
    )
    grid_geoms = partition(10, 8)
    grid_comm = communities["code"].to_numpy()[
        shapely.STRtree(comm_geoms).query_nearest(shapely.point_on_surface(grid_geoms))[1]
    ]
    grids = gpd.GeoDataFrame(
        {"code": [f"G{k + 1:03d}" for k in range(len(grid_geoms))], "name": "网格", "community_code": grid_comm,
         "worker": "w", "department_code": "grid_center", "jurisdiction_code": jur},
        geometry=grid_geoms, crs=crs,
    )
    mid = (bx0 + bx1) / 2
    zones = gpd.GeoDataFrame(
        {"code": ["sanitation_west", "sanitation_east"], "name": ["西片", "东片"],
         "department_code": ["sanitation_west", "sanitation_east"], "depot_lon": 117.3, "depot_lat": 39.1,
         "jurisdiction_code": jur},
        geometry=shapely.intersection(
            [shapely.box(bx0, by0, mid, by1), shapely.box(mid, by0, bx1, by1)], boundary
        ), crs=crs,
    )
    # Compounds on a jittered lattice, each well inside its lattice cell so none overlap.
    cx, cy = np.meshgrid(np.arange(bx0 + 200, bx1 - 200, 330.0), np.arange(by0 + 200, by1 - 200, 330.0))
    cx, cy = cx.ravel() + rng.uniform(-40, 40, cx.size), cy.ravel() + rng.uniform(-40, 40, cy.size)
    half = rng.uniform(50, 110, (2, cx.size))
    comp_geoms = shapely.box(cx - half[0], cy - half[1], cx + half[0], cy + half[1])
    inside = shapely.within(comp_geoms, boundary)
    comp_geoms = comp_geoms[inside]
    comp_comm = communities["code"].to_numpy()[
        shapely.STRtree(comm_geoms).query_nearest(shapely.centroid(comp_geoms))[1]
    ]
    compounds = gpd.GeoDataFrame(
        {"code": [f"C{k + 1:04d}" for k in range(len(comp_geoms))], "name": "小区", "community_code": comp_comm,
         "jurisdiction_code": jur},
        geometry=comp_geoms, crs=crs,
    )
    # Roads: a jittered street grid with bends, plus a few diagonals.
    lines = []
    for x in np.arange(bx0 + 150, bx1, 380.0):
        ys = np.linspace(by0, by1, 9)
        lines.append(shapely.LineString(np.c_[x + rng.uniform(-25, 25, ys.size), ys]))
    for y in np.arange(by0 + 120, by1, 350.0):
        xs = np.linspace(bx0, bx1, 13)
        lines.append(shapely.LineString(np.c_[xs, y + rng.uniform(-25, 25, xs.size)]))
    for k in range(6):
        a = rng.uniform([bx0, by0], [bx1, by1])
        b = rng.uniform([bx0, by0], [bx1, by1])
        lines.append(shapely.LineString(np.linspace(a, b, 12) + rng.normal(0, 8, (12, 2))))
    road_geoms = shapely.intersection(lines, boundary)
    keep = shapely.get_type_id(road_geoms) == 1
    road_geoms = road_geoms[keep]
    roads = gpd.GeoDataFrame(
        {"road_id": [f"R{k + 1:03d}" for k in range(len(road_geoms))], "name": "路",
         "road_class": rng.choice(["arterial", "secondary", "branch", "alley"], len(road_geoms)),
         "is_priority": False, "oneway": False, "jurisdiction_code": jur},
        geometry=road_geoms, crs=crs,
    )
    origin = default_origin(boundary, cell_size_m=100.0)
    cells = build_unit_grid(boundary, communities, jurisdiction_code=jur, origin=origin)
    jurisdiction = gpd.GeoDataFrame(
        {"code": [jur], "name": ["金桥街道（合成）"], "district_code": ["120110"], "metric_crs": [crs],
         "cell_size_m": [100.0], "grid_origin_x": [origin[0]], "grid_origin_y": [origin[1]]},
        geometry=[boundary], crs=crs,
    )
    frames = {
        "jurisdiction": jurisdiction, "communities": communities, "compounds": compounds, "grids": grids,
        "zones": zones, "unit_cells": cells, "segments": split_roads(roads), "roads": roads,
    }
    return Layers(
        **{name: to_wgs84(f) for name, f in frames.items()},
        metric_crs=crs, cell_size_m=100.0, grid_origin=origin,
    )


def geopandas_chain(lon: np.ndarray, lat: np.ndarray, lead: np.ndarray, layers: Layers) -> pd.DataFrame:
    """The same assignment with plain geopandas joins, edge and tie rules applied."""
    crs = layers.metric_crs
    pts = to_metric(gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"), crs=crs)
    index = pts.index

    def covering(layer: gpd.GeoDataFrame, extra: str | None = None) -> pd.DataFrame:
        cols = ["code", "geometry"] + ([extra] if extra else [])
        joined = gpd.sjoin(pts, to_metric(layer[cols], crs=crs), predicate="intersects", how="inner")
        joined = joined.sort_values("code").groupby(level=0).first()
        return joined.reindex(index)

    # The cells as the contract defines them, squares from (col, row, origin) in the
    # metric CRS: stored cell polygons went through WGS84 rounded to 6 decimals and
    # are off by centimetres.
    (ox, oy), s = layers.grid_origin, layers.cell_size_m
    col, row = layers.unit_cells["col"].to_numpy(), layers.unit_cells["row"].to_numpy()
    cells = gpd.GeoDataFrame(
        {"code": layers.unit_cells["code"].to_numpy(), "east": ox + (col + 1) * s, "north": oy + (row + 1) * s},
        geometry=shapely.box(ox + col * s, oy + row * s, ox + (col + 1) * s, oy + (row + 1) * s),
        crs=crs,
    )
    joined = gpd.sjoin(pts, cells, predicate="intersects", how="inner")
    # Half-open cells: drop the matches where the point lies on the cell's east / north edge.
    half_open = (joined.geometry.x < joined["east"]) & (joined.geometry.y < joined["north"])
    cell = joined.loc[half_open, "code"].reindex(index)

    segs = to_metric(layers.segments[["segment_id", "geometry"]], crs=crs)
    near = gpd.sjoin_nearest(pts, segs, how="inner", max_distance=MAX_DIST_M, distance_col="dist")
    near = near.sort_values("segment_id").groupby(level=0).first().reindex(index)

    compound = covering(layers.compounds, "community_code")
    zone = covering(layers.zones, "department_code")
    dept = lead.copy()
    san = lead == SANITATION
    in_comp = compound["code"].notna().to_numpy()
    dept[san & in_comp] = "community:" + compound["community_code"].to_numpy(dtype=object)[san & in_comp]
    to_zone = san & ~in_comp & near["segment_id"].notna().to_numpy() & zone["code"].notna().to_numpy()
    dept[to_zone] = zone["department_code"].to_numpy(dtype=object)[to_zone]

    def strings(values) -> pd.arrays.StringArray:
        return pd.array(np.asarray(values, dtype=object), dtype="string")

    return pd.DataFrame(
        {
            "cell_code": strings(cell),
            "segment_id": pd.array(near["segment_id"], dtype="Int64"),
            "segment_dist_m": near["dist"].to_numpy(dtype="float64"),
            "compound_code": strings(compound["code"]),
            "community_code": strings(covering(layers.communities)["code"]),
            "grid_code": strings(covering(layers.grids)["code"]),
            "zone_code": strings(zone["code"]),
            "department_code": strings(dept),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="data directory (default: repo data/)")
    parser.add_argument("--synthetic", action="store_true", help="use made-up layers instead (development only)")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of assign_issues (best is reported)")
    args = parser.parse_args(argv)

    layers = synthetic_layers(args.seed) if args.synthetic else load_layers_from_dir(args.data)
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}")
    print(f"layers: {'synthetic' if args.synthetic else args.data}; {len(layers.unit_cells)} cells, "
          f"{len(layers.segments)} segments, {len(layers.compounds)} compounds, {len(layers.communities)} "
          f"communities, {len(layers.grids)} grids, {len(layers.zones)} zones")

    rng = np.random.default_rng(args.seed)
    minx, miny, maxx, maxy = to_metric(layers.jurisdiction, crs=layers.metric_crs).total_bounds
    lon, lat = metric_to_lonlat(
        rng.uniform(minx, maxx, args.points), rng.uniform(miny, maxy, args.points), crs=layers.metric_crs
    )
    lead = LEADS[rng.integers(0, len(LEADS), args.points)]

    t = time.perf_counter()
    prepared = prepare(layers)
    t_prepare = time.perf_counter() - t
    assign_issues(lon[:1000], lat[:1000], prepared, max_dist_m=MAX_DIST_M)  # builds the 30 m bucket lists
    t_warm = time.perf_counter() - t
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        got = assign_issues(lon, lat, prepared, max_dist_m=MAX_DIST_M, lead_departments=lead)
        runs.append(time.perf_counter() - t)
    t_assign = min(runs)

    t = time.perf_counter()
    ref = geopandas_chain(lon, lat, lead, layers)
    t_ref = time.perf_counter() - t

    mismatch = {}
    for c in got.columns:
        same = (got[c] == ref[c]).fillna(False).to_numpy(dtype=bool) | (got[c].isna() & ref[c].isna()).to_numpy()
        mismatch[c] = int((~same).sum())
    agree = not any(mismatch.values())
    n = args.points
    print(f"points: {n:,} (seed {args.seed}); {got['segment_id'].notna().mean():.1%} within {MAX_DIST_M:g} m "
          f"of a segment, {got['compound_code'].notna().mean():.1%} in a compound")
    lists = f"(+ {t_warm - t_prepare:.3f} s for the {MAX_DIST_M:g} m bucket lists)"
    print(f"prepare:             {t_prepare:8.3f} s  {lists}")
    print(f"assign_issues:       {t_assign:8.3f} s  (best of {args.repeat}: {', '.join(f'{r:.3f}' for r in runs)})")
    print(f"geopandas chain:     {t_ref:8.3f} s")
    print(f"speed-up:            {t_ref / t_assign:8.1f} x")
    print(f"agreement:           {'all columns identical' if agree else mismatch}")
    goals = t_assign * 1_000_000 / n <= 2.0 and t_ref / t_assign >= 4.0
    print(f"goals (<= 2 s per 1M points, >= 4x): {'met' if goals else 'NOT met'}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
