"""Route planning: road graph, tour core, pickups (VRP), sweeping (Chinese/rural postman)."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString

from geo.crs import to_wgs84
from geo.errors import ValidationError
from geo.routing.output import format_turn_list, routes_gpx, turn_list
from geo.routing.postman import plan_sweep, required_by_filter
from geo.routing.road_graph import build_road_graph, point_distances, snap_points
from geo.routing.tsp import parse_tsplib, solve_tour, tour_length
from geo.routing.vrp import pickup_stops, plan_pickups, select_issues

METRIC = "EPSG:4548"
X0, Y0 = 530_000.0, 4_328_000.0


def lines_frame(lines, *, names=None, oneway=None, road_class=None) -> gpd.GeoDataFrame:
    """Road segments from local metre coordinates, placed near Jinqiao in EPSG:4548."""
    geoms = [LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"segment_id": np.arange(1, n + 1), "name": names or [f"路{i}" for i in range(n)],
         "oneway": oneway or [False] * n, "road_class": road_class or ["alley"] * n},
        geometry=geoms, crs=METRIC,
    )


def lonlat(x, y):
    p = to_wgs84(gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=METRIC)).iloc[0]
    return p.x, p.y


def domino():
    """Two 100 m squares side by side: 7 edges, 700 m; the two middle nodes are odd."""
    return lines_frame([
        [(0, 0), (100, 0)], [(100, 0), (200, 0)], [(0, 100), (100, 100)], [(100, 100), (200, 100)],
        [(0, 0), (0, 100)], [(100, 0), (100, 100)], [(200, 0), (200, 100)],
    ])


def assert_connected_closed(steps, start_xy):
    ends = np.array([shapely.get_coordinates(g)[[0, -1]] for g in steps.geometry.values])
    assert np.hypot(*(ends[1:, 0] - ends[:-1, 1]).T).max() < 1e-6  # each piece starts where the last ended
    assert np.hypot(*(ends[0, 0] - start_xy)) < 1e-6 and np.hypot(*(ends[-1, 1] - start_xy)) < 1e-6


# ------------------------------------------------------------------ road graph

def test_graph_merges_near_end_points_and_measures_metres():
    # the second line starts 0.2 m from where the first ends: one node
    g = build_road_graph(lines_frame([[(0, 0), (100, 0)], [(100.2, 0), (100.2, 50)]]))
    assert g.n_nodes == 3
    assert g.edges["length_m"].round(3).tolist() == [100.0, 50.0]
    assert len(np.unique(g.component)) == 1


def test_oneway_distances_and_snapping():
    # a 100 m one-way street eastwards, and a two-way street north from its east end
    g = build_road_graph(lines_frame([[(0, 0), (100, 0)], [(100, 0), (100, 80)]], oneway=[True, False]))
    pts = gpd.GeoSeries([shapely.Point(X0 + 20, Y0 + 3), shapely.Point(X0 + 101, Y0 + 40)], crs=METRIC)
    snapped = snap_points(g, pts)
    assert snapped["edge"].tolist() == [0, 1]
    assert snapped["offset_m"].round(6).tolist() == [20.0, 40.0]
    assert snapped["snap_dist_m"].round(6).tolist() == [3.0, 1.0]
    d = point_distances(g, snapped).dist_m
    assert d[0, 1] == pytest.approx(80 + 40)  # along the one-way, then north
    assert np.isinf(d[1, 0])  # no way back against the one-way street


# ------------------------------------------------------------------ tour core and TSPLIB

TSPLIB_TEXT = """NAME: square5
TYPE: TSP
DIMENSION: 5
EDGE_WEIGHT_TYPE: EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 0
3 3 4
4 0 4
5 1.4 1.6
EOF
"""


def test_tsplib_parsing_rounds_to_nearest_integer():
    inst = parse_tsplib(TSPLIB_TEXT)
    d = inst.distances()
    assert inst.name == "square5" and d.shape == (5, 5)
    assert d[0, 2] == 5 and d[0, 1] == 3
    assert d[0, 4] == 2  # sqrt(1.96 + 2.56) = 2.126 → 2
    assert d[1, 4] == 2  # sqrt(2.56 + 2.56) = 2.263 → 2
    with pytest.raises(ValidationError, match="GEO"):
        parse_tsplib(TSPLIB_TEXT.replace("EUC_2D", "GEO"))
    with pytest.raises(ValidationError, match="'4 0'"):
        parse_tsplib(TSPLIB_TEXT.replace("4 0 4", "4 0"))


@pytest.mark.parametrize("symmetric", [True, False])
def test_tour_core_is_optimal_on_small_instances(symmetric):
    rng = np.random.default_rng(3)
    d = rng.integers(1, 100, size=(9, 9)).astype(float)
    if symmetric:
        d = np.triu(d, 1) + np.triu(d, 1).T
    np.fill_diagonal(d, 0)
    best = min(tour_length(d, (0, *p)) for p in itertools.permutations(range(1, 9)))
    tour = solve_tour(d, seed=1, time_limit_s=0.5)
    assert tour[0] == 0 and sorted(tour.tolist()) == list(range(9))
    assert tour_length(d, tour) == best


def test_cli_tsplib_prints_the_tour_length(tmp_path):
    from webmap.cli import main

    path = tmp_path / "square5.tsp"
    path.write_text(TSPLIB_TEXT)
    result = CliRunner().invoke(main, ["route", "tsplib", str(path), "--time-limit-s", "0.3"])
    assert result.exit_code == 0, result.output
    # the 14-unit square plus the cheapest detour to node 5: 2 + 2 (nint) - 3 = 1
    assert "tour length 15" in result.output


# ------------------------------------------------------------------ sweeping

def test_cpp_exact_on_domino():
    g = build_road_graph(domino())
    plan = plan_sweep(g, np.ones(7, dtype=bool), depot_node=0)
    assert plan.exact
    assert plan.total_m == pytest.approx(800.0)  # 700 + the middle street again
    assert plan.lower_bound_m == pytest.approx(800.0)
    assert plan.required_m == pytest.approx(700.0) and plan.deadhead_m == pytest.approx(100.0)
    assert set(plan.steps.loc[plan.steps["work"], "edge"]) == set(range(7))
    assert_connected_closed(plan.steps, g.node_xy[0])


def test_cpp_counts_metres_not_added_edges():
    # a and b joined by two 1000 m detours and by a 2 x 100 m path through c: the odd
    # nodes a, b are paired through c (200 m), not along a 1000 m street (one edge)
    g = build_road_graph(lines_frame([
        [(0, 0), (0, 400), (200, 400), (200, 0)], [(0, 0), (0, -400), (200, -400), (200, 0)],
        [(0, 0), (100, 0)], [(100, 0), (200, 0)],
    ]))
    plan = plan_sweep(g, np.ones(4, dtype=bool), depot_node=0)
    assert plan.exact and plan.total_m == pytest.approx(2400.0)


def test_cpp_on_a_tree_drives_every_street_twice():
    comb = [[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(200, 0), (300, 0)]] + \
           [[(x, 0), (x, 10)] for x in (0, 100, 200, 300)]
    g = build_road_graph(lines_frame(comb))
    plan = plan_sweep(g, np.ones(7, dtype=bool), depot_node=0)
    assert plan.exact and plan.total_m == pytest.approx(2 * 340.0)


def test_rural_postman_covers_required_and_respects_bound():
    g = build_road_graph(domino())
    required = np.zeros(7, dtype=bool)
    required[[1, 2]] = True  # two opposite streets, not touching each other
    plan = plan_sweep(g, required, depot_node=0)
    assert not plan.exact
    assert set(plan.steps.loc[plan.steps["work"], "edge"]) == {1, 2}
    assert plan.total_m >= plan.lower_bound_m - 1e-6
    assert plan.lower_bound_m >= plan.required_m + 100 - 1e-6  # the pieces lie 100 m apart
    assert_connected_closed(plan.steps, g.node_xy[0])


def test_oneway_required_streets_are_driven_legally():
    # a one-way loop anticlockwise around one square, plus a two-way street hanging off it
    frame = lines_frame(
        [[(0, 0), (100, 0)], [(100, 0), (100, 100)], [(100, 100), (0, 100)], [(0, 100), (0, 0)],
         [(100, 0), (200, 0)]],
        oneway=[True, True, True, True, False],
    )
    g = build_road_graph(frame)
    plan = plan_sweep(g, np.ones(5, dtype=bool), depot_node=0)
    steps = plan.steps
    wrong = steps["from_m"] > steps["to_m"]
    assert not (wrong & g.edges["oneway"].to_numpy()[steps["edge"]]).any()
    assert set(steps.loc[steps["work"], "edge"]) == set(range(5))
    assert plan.total_m == pytest.approx(600.0)  # loop 400 + the spur out and back
    assert_connected_closed(steps, g.node_xy[0])


def test_disconnected_required_streets_are_named():
    frame = lines_frame([[(0, 0), (100, 0)], [(500, 0), (600, 0)]], names=["甲路", "孤岛巷"])
    g = build_road_graph(frame)
    with pytest.raises(ValidationError, match="孤岛巷"):
        plan_sweep(g, np.ones(2, dtype=bool), depot_node=0)


def test_required_filter():
    g = build_road_graph(lines_frame([[(0, 0), (100, 0)], [(100, 0), (200, 0)]], road_class=["alley", "branch"]))
    assert required_by_filter(g.edges, "road_class=alley").tolist() == [True, False]
    assert required_by_filter(g.edges, "all").tolist() == [True, True]
    with pytest.raises(ValidationError, match="nosuch"):
        required_by_filter(g.edges, "nosuch=1")


def test_sample_all_streets_is_exact_and_covered(repo_root):
    segments = gpd.read_file(repo_root / "data" / "roads" / "segments.geojson")
    g = build_road_graph(segments)
    plan = plan_sweep(g, np.ones(len(g.edges), dtype=bool), (117.354746, 39.090366), respect_oneway=False)
    assert plan.exact and plan.total_m == pytest.approx(plan.lower_bound_m)
    assert set(plan.steps.loc[plan.steps["work"], "edge"]) == set(range(len(g.edges)))
    assert_connected_closed(plan.steps, g.node_xy[plan.depot_node])
    # the sample's one-way 明珠巷 ends in a dead end: driving it legally is impossible, and said so
    with pytest.raises(ValidationError, match="明珠巷"):
        plan_sweep(g, np.ones(len(g.edges), dtype=bool), (117.354746, 39.090366))


def test_cli_sweep_on_a_road_file(tmp_path):
    from webmap.cli import main

    roads = domino().rename(columns={"segment_id": "road_id"})
    roads["road_id"] = [f"R{i}" for i in range(7)]
    roads["jurisdiction_code"] = "120110900"
    path = tmp_path / "roads.geojson"
    to_wgs84(roads).to_file(path, driver="GeoJSON")
    depot = "{:.7f},{:.7f}".format(*lonlat(0, 0))
    out = tmp_path / "sweep.geojson"
    result = CliRunner().invoke(main, ["route", "sweep", "--roads", str(path), "--depot", depot,
                                       "--out", str(out), "--gpx", str(tmp_path / "sweep.gpx")])
    assert result.exit_code == 0, result.output
    assert "total 800 m, required 700 m, deadhead 100 m" in result.output
    assert "exact" in result.output
    assert json.loads(out.read_text())["features"][0]["properties"]["length_m"] == pytest.approx(800.0)
    assert ET.parse(tmp_path / "sweep.gpx").getroot().tag.endswith("gpx")


# ------------------------------------------------------------------ pickups

def grid_graph():
    """A 4 x 4 grid of 100 m blocks (two-way), plus an island street far away."""
    lines = [[(x, y), (x + 100, y)] for x in range(0, 300, 100) for y in range(0, 400, 100)]
    lines += [[(x, y), (x, y + 100)] for x in range(0, 400, 100) for y in range(0, 300, 100)]
    lines += [[(2000, 0), (2100, 0)]]
    names = [f"横{i}" for i in range(12)] + [f"纵{i}" for i in range(12)] + ["孤岛路"]
    return build_road_graph(lines_frame(lines, names=names))


def stops_at(points, volumes):
    geoms = [shapely.Point(*lonlat(x, y)) for x, y in points]
    return gpd.GeoDataFrame({"issue_id": np.arange(101, 101 + len(points)), "category_code": "06010",
                             "volume_m3": volumes, "service_min": 5.0}, geometry=geoms, crs="EPSG:4326")


def test_pickup_covers_stops_within_capacity_and_shift():
    g = grid_graph()
    rng = np.random.default_rng(0)
    pts = [(float(x), float(y)) for x, y in zip(rng.choice([0, 100, 200, 300], 12), rng.uniform(0, 300, 12))]
    stops = stops_at(pts, [1.0] * 12)
    plan = plan_pickups(g, stops, lonlat(0, 0), vehicles=4, capacity_m3=4.0, shift_h=1.0, time_limit_s=0.5)
    assert sorted(plan.stops["issue_id"]) == list(range(101, 113))  # each stop exactly once
    assert (plan.stops.groupby("vehicle")["volume_m3"].sum() <= 4.0).all()
    assert len(plan.routes) >= 3  # 12 m³ in 4 m³ trucks
    assert (plan.routes["return_min"] <= 60.0).all()
    assert (plan.stops.groupby("vehicle")["load_m3"].max() <= 4.0).all()
    depot_xy = shapely.get_coordinates(plan.depot.geometry.values)[0]
    for _, steps in plan.steps.groupby("vehicle"):
        assert_connected_closed(steps, depot_xy)
    # every stop lies on its vehicle's line
    for vehicle, line in zip(plan.routes["vehicle"], plan.routes.geometry):
        mine = plan.stops[plan.stops["vehicle"] == vehicle]
        assert shapely.distance(line, mine.geometry.values).max() < 1e-6
    text = format_turn_list(turn_list(plan.steps), stops=plan.stops)
    assert text.startswith("车辆 1：全程") and "返回车场" in text
    gpx = ET.fromstring(routes_gpx(plan.routes, stops=plan.stops))
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert len(gpx.findall("g:wpt", ns)) == 12 and len(gpx.findall("g:trk", ns)) == len(plan.routes)


def test_pickup_unreachable_stop_is_named():
    g = grid_graph()
    stops = stops_at([(100, 50), (2050, 0)], [1.0, 1.0])
    with pytest.raises(ValidationError, match=r"\[102\].*孤岛路"):
        plan_pickups(g, stops, lonlat(0, 0), vehicles=1, time_limit_s=0.2)


def test_pickup_refuses_impossible_shift_and_oversize_piles():
    g = grid_graph()
    stops = stops_at([(300, 300), (0, 300)], [1.0, 1.0])
    with pytest.raises(ValidationError, match="班次"):
        plan_pickups(g, stops, lonlat(0, 0), vehicles=1, shift_h=0.05, time_limit_s=0.2)
    with pytest.raises(ValidationError, match=r"\[101\]"):
        plan_pickups(g, stops_at([(0, 50)], [9.0]), lonlat(0, 0), capacity_m3=8.0)


@pytest.mark.parametrize("options, words", [
    ({"vehicles": 100_000}, "1…50"), ({"vehicles": 0}, "1…50"), ({"vehicles": 2.5}, "1…50"),
    ({"capacity_m3": float("inf")}, "at most 100"), ({"capacity_m3": 1e308}, "at most 100"),
    ({"capacity_m3": float("nan")}, "at most 100"), ({"shift_h": float("inf")}, "at most 24"),
    ({"shift_h": -1.0}, "above 0"), ({"time_limit_s": 1e9}, "at most 60"),
])
def test_pickup_options_are_bounded_before_any_work(options, words):
    with pytest.raises(ValidationError, match=words):
        plan_pickups(grid_graph(), stops_at([(0, 50)], [1.0]), lonlat(0, 0), **options)


def test_pickup_refuses_more_stops_than_one_plan_takes_and_windows_outside_a_day():
    from geo.routing.vrp import MAX_STOPS

    g = grid_graph()
    many = stops_at([(0, 50)] * (MAX_STOPS + 1), [0.01] * (MAX_STOPS + 1))
    with pytest.raises(ValidationError, match=f"{MAX_STOPS + 1} 处.*上限 {MAX_STOPS}"):
        plan_pickups(g, many, lonlat(0, 0), vehicles=50, capacity_m3=100.0)
    for early in (float("inf"), -5.0, 1e308):
        with pytest.raises(ValidationError, match=r"tw_early_min of issue\(s\) \[101\]"):
            plan_pickups(g, stops_at([(0, 50)], [1.0]).assign(tw_early_min=early), lonlat(0, 0), time_limit_s=0.2)
    # a window that closes after the shift ends is cut at the shift's end, and planned
    plan = plan_pickups(g, stops_at([(0, 50)], [1.0]).assign(tw_early_min=0.0, tw_late_min=600.0), lonlat(0, 0),
                        shift_h=1.0, time_limit_s=0.2)
    assert plan.stops["issue_id"].tolist() == [101]


def test_select_issues_open_overdue_chosen():
    import pandas as pd

    issues = gpd.GeoDataFrame({
        "id": [1, 2, 3, 4], "status": ["registered", "dispatched", "closed", "reported"],
        "zone_code": ["w", "w", "w", "e"], "category_code": ["06010", "06011", "06010", "08005"],
        "reported_at": pd.to_datetime(["2025-03-01 08:00", "2025-03-02 08:00", "2025-03-01 00:00", "2025-03-01 00:00"]),
        "deadline_at": pd.to_datetime(["2025-03-01 20:00", "2025-03-03 20:00", None, None]),
    }, geometry=[shapely.Point(117.35, 39.09)] * 4, crs="EPSG:4326")
    day = pd.Timestamp("2025-03-02").date()
    assert select_issues(issues, zone_code="w", on_date=day)["issue_id"].tolist() == [1, 2]
    assert select_issues(issues, zone_code="w", issue_set="overdue", on_date=day)["issue_id"].tolist() == [1]
    chosen = select_issues(issues, zone_code=None, issue_set="chosen", chosen=[4])
    assert chosen["volume_m3"].tolist() == [3.0]
    with pytest.raises(ValidationError, match=r"\[9\]"):
        select_issues(issues, zone_code="w", issue_set="chosen", chosen=[1, 9])
    assert pickup_stops(issues.iloc[[0]])["service_min"].tolist() == [5.0]
