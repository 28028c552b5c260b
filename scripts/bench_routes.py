"""Benchmark the route planners.

Usage::

    .venv/bin/python scripts/bench_routes.py [--tsplib DIR] [--tsp-limit-s 4] [--vrp-limit-s 6] [--seed 0]

Prints:

1. the tour core (:func:`geo.routing.tsp.solve_tour`) on the TSPLIB instances of ``DIR``
   (default ``../shared/benchmarks/tsplib`` beside the repository): length, optimum,
   gap and time of each — goal: within 1 % in at most 5 s each;
2. the Chinese postman on a constructed 4 x 3 block grid whose optimum is found by
   enumerating every pairing of its odd nodes, and on every street of the sample —
   goal: equal to the exact optimum;
3. 300 pickup stops with 5 vehicles on the sample road graph: PyVRP's plan (length,
   time) beside a nearest-neighbour baseline (each vehicle takes the nearest stop it
   can carry until full, then returns) — goal: a plan in at most 10 s.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csgraph
from shapely.geometry import LineString

from geo.crs import to_wgs84
from geo.routing.postman import plan_sweep
from geo.routing.road_graph import build_road_graph, point_distances, snap_points
from geo.routing.tsp import parse_tsplib, solve_tour, tour_length
from geo.routing.vrp import plan_pickups

ROOT = Path(__file__).resolve().parents[1]
OPTIMA = {"berlin52": 7542, "kroC100": 20749, "a280": 2579}
DEPOT = (117.354746, 39.090366)  # the West zone's depot in the sample


def bench_tsplib(directory: Path, limit_s: float, seed: int) -> None:
    print(f"TSPLIB (limit {limit_s:g} s each, seed {seed})")
    for name, optimum in OPTIMA.items():
        path = directory / f"{name}.tsp"
        if not path.exists():
            print(f"  {name}: {path} missing, skipped")
            continue
        d = parse_tsplib(path.read_text(), source=path.name).distances()
        t0 = time.perf_counter()
        tour = solve_tour(d, seed=seed, time_limit_s=limit_s)
        took = time.perf_counter() - t0
        length = tour_length(d, tour)
        print(f"  {name:9s} n={len(d):3d}  length {length:8.0f}  optimum {optimum:6d}  "
              f"gap {100 * (length / optimum - 1):5.2f} %  time {took:4.2f} s")


def _best_pairing(points: list[tuple[int, int]]) -> float:
    """Cheapest perfect pairing of grid nodes by Manhattan distance, by exhaustive recursion."""
    if not points:
        return 0.0
    (ax, ay), rest = points[0], points[1:]
    return min(abs(ax - bx) + abs(ay - by) + _best_pairing(rest[:i] + rest[i + 1:]) for i, (bx, by) in enumerate(rest))


def bench_postman(segments: gpd.GeoDataFrame) -> None:
    # 4 x 3 blocks of 100 m: 5 x 4 nodes, 31 streets, 3100 m. The 10 odd nodes are the
    # non-corner border nodes; on a street grid the shortest path between two nodes is
    # their Manhattan distance, so the exact optimum is 3100 m plus the best of all 945
    # pairings of the odd nodes, enumerated here independently of networkx.
    x0, y0 = 530_000.0, 4_328_000.0
    lines = [[(x, y), (x + 100, y)] for x in range(0, 400, 100) for y in range(0, 400, 100)]
    lines += [[(x, y), (x, y + 100)] for x in range(0, 500, 100) for y in range(0, 300, 100)]
    frame = gpd.GeoDataFrame({"name": [f"街{i}" for i in range(len(lines))], "oneway": False},
                             geometry=[LineString([(x0 + a, y0 + b) for a, b in line]) for line in lines],
                             crs="EPSG:4548")
    odd = [(x, y) for x in range(0, 500, 100) for y in range(0, 400, 100)
           if (x in (0, 400)) != (y in (0, 300))]
    optimum = 3100.0 + _best_pairing(odd)
    g = build_road_graph(frame)
    t0 = time.perf_counter()
    plan = plan_sweep(g, np.ones(len(g.edges), dtype=bool), depot_node=0)
    print(f"Chinese postman, 4x3 block grid: total {plan.total_m:.0f} m, exact optimum {optimum:.0f} m "
          f"(all pairings enumerated): {'equal' if abs(plan.total_m - optimum) < 1e-6 else 'DIFFERENT'} "
          f"({time.perf_counter() - t0:.2f} s)")
    g = build_road_graph(segments)
    t0 = time.perf_counter()
    plan = plan_sweep(g, np.ones(len(g.edges), dtype=bool), DEPOT, respect_oneway=False)
    print(f"Chinese postman, all {len(g.edges)} sample segments: total {plan.total_m:.0f} m, required "
          f"{plan.required_m:.0f} m, deadhead {plan.deadhead_m:.0f} m, matching bound {plan.lower_bound_m:.0f} m, "
          f"exact={plan.exact} ({time.perf_counter() - t0:.2f} s)")


def nearest_neighbour_length(d: np.ndarray, volume: np.ndarray, capacity: float, vehicles: int) -> float:
    """Greedy baseline: each vehicle in turn takes the nearest stop that still fits, then returns."""
    left = set(range(1, len(d)))
    total = 0.0
    for _ in range(vehicles):
        here, load = 0, 0.0
        while True:
            fits = [j for j in left if load + volume[j] <= capacity]
            if not fits:
                break
            nxt = min(fits, key=lambda j: d[here, j])
            total += d[here, nxt]
            load += volume[nxt]
            left.discard(nxt)
            here = nxt
        total += d[here, 0]
    if left:
        raise RuntimeError(f"baseline left {len(left)} stops unserved")
    return total


def bench_vrp(segments: gpd.GeoDataFrame, limit_s: float, seed: int) -> None:
    g = build_road_graph(segments)
    # stops on streets that can be driven both to and from everywhere (the sample has one-way dead ends)
    _, strong = csgraph.connected_components(g.matrix, directed=True, connection="strong")
    big = np.bincount(strong).argmax()
    ok = np.flatnonzero((strong[g.edges["u"]] == big) & (strong[g.edges["v"]] == big))
    rng = np.random.default_rng(seed)
    edge = rng.choice(ok, 300)
    points = shapely.line_interpolate_point(g.edges.geometry.values[edge], rng.random(300), normalized=True)
    volume = rng.choice([0.3, 0.5, 1.0, 1.5, 2.0], 300)
    stops = gpd.GeoDataFrame({"issue_id": np.arange(1, 301), "category_code": "06010", "volume_m3": volume,
                              "service_min": 3.0}, geometry=to_wgs84(gpd.GeoSeries(points, crs=g.crs)).values,
                             crs="EPSG:4326")
    capacity = float(np.ceil(volume.sum() / 5 * 1.1))
    t0 = time.perf_counter()
    plan = plan_pickups(g, stops, DEPOT, vehicles=5, capacity_m3=capacity, shift_h=12, seed=seed,
                        time_limit_s=limit_s)
    took = time.perf_counter() - t0
    all_points = gpd.GeoSeries([shapely.Point(DEPOT), *stops.geometry], crs="EPSG:4326")
    d = point_distances(g, snap_points(g, all_points)).dist_m
    baseline = nearest_neighbour_length(d, np.r_[0.0, volume], capacity, 5)
    length = plan.routes["length_m"].sum()
    print(f"Pickups: 300 stops, 5 vehicles x {capacity:g} m³ on the sample graph: PyVRP {length:,.0f} m "
          f"in {took:.2f} s (limit {limit_s:g} s, {len(plan.routes)} vehicles used); nearest-neighbour baseline "
          f"{baseline:,.0f} m; saving {100 * (1 - length / baseline):.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsplib", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "tsplib")
    parser.add_argument("--tsp-limit-s", type=float, default=4.0)
    parser.add_argument("--vrp-limit-s", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    segments = gpd.read_file(ROOT / "data" / "roads" / "segments.geojson")
    bench_tsplib(args.tsplib, args.tsp_limit_s, args.seed)
    bench_postman(segments)
    bench_vrp(segments, args.vrp_limit_s, args.seed)


if __name__ == "__main__":
    main()
