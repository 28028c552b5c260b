"""Pickup routes: several vehicles from a depot collect garbage and debris piles.

Each stop is an open issue with an estimated volume and handling time by category
(``geo/data/pickup_volumes.csv``, data not code). Vehicles have a capacity (m³) and a
shift length; stops may carry time windows. Distances are shortest paths on the road
graph (:func:`geo.routing.road_graph.point_distances`); the plan is solved by PyVRP, a
state-of-the-art iterated local search for vehicle routing, with a seed and a time
limit. Volumes are handled in litres and times in seconds, because PyVRP works on
integers.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

from geo.clock import local_today
from geo.errors import ValidationError
from geo.routing.output import (
    DEFAULT_SPEED_KMH,
    check_speed,
    node_walk_pieces,
    route_lines,
    steps_frame,
)
from geo.routing.road_graph import (
    RoadGraph,
    describe_edges,
    node_path,
    point_distances,
    snap_points,
)

VOLUMES_CSV = Path(__file__).resolve().parents[1] / "data" / "pickup_volumes.csv"
#: statuses of a pile still lying there (handled and later mean the crew has been)
PENDING_STATUSES = ("reported", "registered", "dispatched")
_LITRES = 1000
#: Bounds of one plan. A sub-district runs a handful of trucks on one shift; beyond these a request is a
#: typo or an attack, and the solver's work grows with them (3,000 stops and 20 vehicles took 14.7 s of CPU).
MAX_VEHICLES = 50
MAX_STOPS = 1000
MAX_CAPACITY_M3 = 100.0
MAX_SHIFT_H = 24.0
MAX_TIME_LIMIT_S = 60.0


@lru_cache(maxsize=1)
def pickup_volumes() -> pd.DataFrame:
    """Estimated volume (m³) and handling time (minutes) per pickup category, by ``category_code``."""
    frame = pd.read_csv(VOLUMES_CSV, dtype={"category_code": str})
    bad = frame[(frame["volume_m3"] <= 0) | (frame["service_min"] < 0)]
    if len(bad):
        raise ValidationError(f"{VOLUMES_CSV.name}: non-positive volume or negative time for {bad['category_code'].tolist()}")
    return frame.set_index("category_code")


def pickup_stops(issues: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the issues that a pickup crew collects and attach ``volume_m3`` and ``service_min``.

    Parameters
    ----------
    issues : GeoDataFrame
        Points (EPSG:4326) with ``id`` and ``category_code``, and optionally
        ``tw_early_min`` / ``tw_late_min`` (minutes after the shift starts).

    Returns
    -------
    geopandas.GeoDataFrame
        The issues of pickup categories, with ``issue_id``, ``volume_m3``, ``service_min``.
    """
    table = pickup_volumes()
    kept = issues[issues["category_code"].isin(table.index)].copy()
    kept["issue_id"] = kept["id"]
    kept["volume_m3"] = kept["category_code"].map(table["volume_m3"]).astype(float)
    kept["service_min"] = kept["category_code"].map(table["service_min"]).astype(float)
    return kept.reset_index(drop=True)


ISSUE_SETS = ("today", "open", "overdue", "chosen")


def select_issues(
    issues: gpd.GeoDataFrame,
    *,
    zone_code: str | None,
    issue_set: str = "open",
    on_date: date | None = None,
    chosen: list[int] | None = None,
) -> gpd.GeoDataFrame:
    """The pending pickup issues of a zone: the day's, all open, only the overdue, or a chosen set.

    Parameters
    ----------
    issues : GeoDataFrame
        Issues with ``id``, ``status``, ``zone_code``, ``reported_at``, ``deadline_at``,
        ``category_code`` (as :func:`geo.store.query_issues` returns them).
    zone_code : str or None, keyword-only
        Keep the issues of this contractor zone; None keeps all.
    issue_set : {"today", "open", "overdue", "chosen"}, keyword-only
        ``today``: pending piles reported on ``on_date``; ``open``: pending piles
        reported up to the end of ``on_date``; ``overdue``: those whose deadline passed
        before the end of ``on_date``; ``chosen``: the issue ids in ``chosen`` (pending or not).
    on_date : datetime.date, optional, keyword-only
        The day planned; today when omitted.
    """
    if issue_set not in ISSUE_SETS:
        raise ValidationError(f"issue set {issue_set!r} is not one of {', '.join(ISSUE_SETS)}")
    day_end = pd.Timestamp(on_date or local_today()) + pd.Timedelta(days=1)
    kept = issues if zone_code is None else issues[issues["zone_code"] == zone_code]
    if issue_set == "chosen":
        wanted = set(chosen or [])
        if not wanted:
            raise ValidationError("issue set 'chosen' needs the issue ids to visit")
        kept = kept[kept["id"].isin(wanted)]
        missing = sorted(wanted - set(kept["id"]))
        if missing:
            raise ValidationError(f"issue(s) {missing} are not in zone {zone_code!r} or do not exist")
        return pickup_stops(kept)
    kept = kept[kept["status"].isin(PENDING_STATUSES) & (kept["reported_at"] < day_end)]
    if issue_set == "today":
        kept = kept[kept["reported_at"] >= day_end - pd.Timedelta(days=1)]
    if issue_set == "overdue":
        kept = kept[kept["deadline_at"].notna() & (kept["deadline_at"] < day_end)]
    return pickup_stops(kept)


@dataclass(frozen=True)
class PickupPlan:
    """A pickup plan.

    Attributes
    ----------
    stops : GeoDataFrame
        One row per stop in visiting order (metric CRS): ``vehicle``, ``seq``,
        ``issue_id``, ``category_code``, ``volume_m3``, ``load_m3`` (on board after
        the stop), ``arrive_min`` (minutes after the shift starts), ``leg_m``
        (metres driven from the previous stop), ``snap_dist_m``; point geometry.
    steps : GeoDataFrame
        Driven pieces (:func:`geo.routing.output.steps_frame`).
    routes : GeoDataFrame
        One line per used vehicle (:func:`geo.routing.output.route_lines`) with
        ``n_stops``, ``load_m3``, ``return_min``.
    depot : GeoDataFrame
        The depot point (metric CRS).
    """

    stops: gpd.GeoDataFrame
    steps: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    depot: gpd.GeoDataFrame


def plan_pickups(
    graph: RoadGraph,
    stops: gpd.GeoDataFrame,
    depot: tuple[float, float],
    *,
    vehicles: int = 2,
    capacity_m3: float = 8.0,
    shift_h: float = 8.0,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    seed: int = 0,
    time_limit_s: float = 3.0,
    stall_iterations: int | None = None,
) -> PickupPlan:
    """Plan pickup routes from a depot over the road graph.

    Parameters
    ----------
    graph : RoadGraph
    stops : GeoDataFrame
        From :func:`pickup_stops` (``issue_id``, ``category_code``, ``volume_m3``,
        ``service_min``, optional ``tw_early_min``/``tw_late_min``), EPSG:4326.
    depot : (float, float)
        Depot longitude, latitude (WGS84).
    vehicles : int, keyword-only
        Vehicles available; the plan may use fewer.
    capacity_m3 : float, keyword-only
        Capacity of each vehicle in m³.
    shift_h : float, keyword-only
        Longest time (hours) from leaving the depot to returning, handling included.
    speed_kmh : float, keyword-only
        Travel speed on every road.
    seed, time_limit_s : keyword-only
        PyVRP's seed and wall-clock limit (seconds).
    stall_iterations : int, optional, keyword-only
        Stop sooner, after this many of PyVRP's iterations without a better plan: a dozen
        stops are solved in a tenth of the time limit (the page's plans).

    Raises
    ------
    geo.errors.ValidationError
        Bad options, a stop bigger than a vehicle, stops the depot cannot reach or
        return from (named), or no plan within capacity, shift and windows.
    """
    speed = check_speed(speed_kmh)
    if not isinstance(vehicles, (int, np.integer)) or not 1 <= vehicles <= MAX_VEHICLES:
        raise ValidationError(f"vehicles {vehicles!r} must be a whole number 1…{MAX_VEHICLES}")
    if stall_iterations is not None and not (isinstance(stall_iterations, (int, np.integer)) and stall_iterations >= 1):
        raise ValidationError(f"stall_iterations {stall_iterations!r} must be a whole number of iterations >= 1")
    for name, value, highest in (("capacity_m3", capacity_m3, MAX_CAPACITY_M3), ("shift_h", shift_h, MAX_SHIFT_H),
                                 ("time_limit_s", time_limit_s, MAX_TIME_LIMIT_S)):
        if not 0 < value <= highest:
            raise ValidationError(f"{name} {value!r} must be above 0 and at most {highest:g}")
    if len(stops) == 0:
        raise ValidationError("no stops to plan: the chosen issue set holds no open garbage or debris issue")
    if len(stops) > MAX_STOPS:
        raise ValidationError(f"{len(stops)} 处清运超过一次规划的上限 {MAX_STOPS} 处：请选“已超时”、指定问题或分日规划 "
                              f"(at most {MAX_STOPS} stops per plan)")
    too_big = stops[stops["volume_m3"] > capacity_m3]
    if len(too_big):
        raise ValidationError(f"issue(s) {too_big['issue_id'].tolist()} exceed the vehicle capacity of {capacity_m3} m³")

    depot_pt = gpd.GeoSeries(gpd.points_from_xy([depot[0]], [depot[1]]), crs="EPSG:4326")
    points = pd.concat([depot_pt, stops.geometry], ignore_index=True)
    snapped = snap_points(graph, gpd.GeoSeries(points, crs="EPSG:4326"))
    dists = point_distances(graph, snapped)
    d = dists.dist_m
    unreachable = ~(np.isfinite(d[0, 1:]) & np.isfinite(d[1:, 0]))
    if unreachable.any():
        bad = stops.loc[unreachable, "issue_id"].tolist()
        edges = snapped["edge"].to_numpy()[1:][unreachable]
        raise ValidationError(f"从车场无法往返问题 {bad}（所在道路：{describe_edges(graph, edges)}），"
                              "请检查道路连通性或单行方向")

    metres = np.rint(d).astype(np.int64)
    seconds = np.rint(d / (speed / 3.6)).astype(np.int64)
    service_s = np.rint(stops["service_min"].to_numpy() * 60).astype(np.int64)
    load = np.rint(stops["volume_m3"].to_numpy() * _LITRES).astype(np.int64)
    shift_s = round(shift_h * 3600)
    early = _window(stops, "tw_early_min", 0)
    late = _window(stops, "tw_late_min", shift_s // 60)
    clients = [pyvrp.Client(location=i + 1, pickup=[int(load[i])], service_duration=int(service_s[i]),
                            tw_early=int(early[i]), tw_late=int(min(late[i], shift_s)))
               for i in range(len(stops))]
    data = pyvrp.ProblemData(
        [pyvrp.Location(float(x), float(y)) for x, y in snapped[["x", "y"]].to_numpy()],
        clients,
        [pyvrp.Depot(location=0)],
        [pyvrp.VehicleType(int(vehicles), capacity=[round(capacity_m3 * _LITRES)], shift_duration=shift_s)],
        [metres],
        [seconds],
    )
    with warnings.catch_warnings():
        # An infeasible instance makes PyVRP warn about its penalties; we raise a clear error instead.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        stop = MaxRuntime(time_limit_s) if stall_iterations is None else MultipleCriteria(
            [MaxRuntime(time_limit_s), NoImprovement(int(stall_iterations))])
        result = pyvrp.solve(data, stop=stop, seed=seed, display=False, collect_stats=False)
    if not result.best.is_feasible():
        total = stops["volume_m3"].sum()
        raise ValidationError(
            f"在 {vehicles} 辆车、每车 {capacity_m3} m³、班次 {shift_h} 小时内无法完成全部 {len(stops)} 处清运"
            f"（共约 {total:.1f} m³）：请增加车辆、容量或班次时长"
        )
    return _plan(graph, stops, snapped, dists, result.best, depot_pt, speed)


def _window(stops: pd.DataFrame, column: str, default: int) -> np.ndarray:
    """A time-window bound in seconds after the shift starts; a missing bound is ``default`` minutes."""
    if column not in stops.columns:
        return np.full(len(stops), default * 60, dtype=np.int64)
    minutes = pd.to_numeric(stops[column], errors="coerce").fillna(default).to_numpy(dtype=float)
    outside = ~((minutes >= 0) & (minutes <= MAX_SHIFT_H * 60))
    if outside.any():
        raise ValidationError(f"{column} of issue(s) {stops.loc[outside, 'issue_id'].tolist()[:10]} lies outside "
                              f"0…{MAX_SHIFT_H * 60:g} minutes after the shift starts")
    return np.rint(minutes * 60).astype(np.int64)


def _plan(graph, stops, snapped, dists, solution, depot_pt, speed) -> PickupPlan:
    rows, pieces = [], []
    edge = snapped["edge"].to_numpy()
    off = snapped["offset_m"].to_numpy()
    for vehicle, route in enumerate(solution.routes(), start=1):
        schedule = [a for a in route.schedule() if a.is_client()]
        visits = [0] + [a.idx + 1 for a in schedule] + [0]
        for a, b in itertools.pairwise(visits):
            pieces += [(vehicle, *p) for p in _leg(graph, dists, edge, off, a, b)]
        load = np.cumsum(stops["volume_m3"].to_numpy()[[v - 1 for v in visits[1:-1]]])
        for seq, (activity, point, on_board) in enumerate(zip(schedule, visits[1:-1], load), start=1):
            rows.append({"vehicle": vehicle, "seq": seq, "point": point, "load_m3": on_board,
                         "arrive_min": activity.start_time / 60.0, "leg_m": dists.dist_m[visits[seq - 1], point]})
    order = pd.DataFrame(rows)
    chosen = stops.iloc[order["point"].to_numpy() - 1].reset_index(drop=True)
    metric = snapped.iloc[order["point"].to_numpy()].reset_index(drop=True)
    keep = [c for c in ("issue_id", "category_code", "volume_m3", "service_min", "address") if c in chosen.columns]
    stop_frame = gpd.GeoDataFrame(
        pd.concat([order.drop(columns="point"), chosen[keep], metric[["snap_dist_m"]]], axis=1),
        geometry=gpd.points_from_xy(metric["x"], metric["y"]), crs=graph.edges.crs,
    )
    steps = steps_frame(graph, pieces)
    routes = route_lines(steps, speed_kmh=speed, service_min=stop_frame.groupby("vehicle")["service_min"].sum())
    per = stop_frame.groupby("vehicle").agg(n_stops=("seq", "size"), load_m3=("volume_m3", "sum"))
    routes = routes.merge(per, left_on="vehicle", right_index=True, how="left")
    routes["return_min"] = [r.duration() / 60.0 for r in solution.routes()]
    depot = gpd.GeoDataFrame({"name": ["车场"]}, geometry=gpd.points_from_xy(snapped["x"][:1], snapped["y"][:1]),
                             crs=graph.edges.crs)
    return PickupPlan(stops=stop_frame, steps=steps, routes=routes, depot=depot)


def _leg(graph: RoadGraph, dists, edge: np.ndarray, off: np.ndarray, a: int, b: int):
    """Edge pieces ``(edge, from_m, to_m, work=False)`` from snapped point a to b."""
    exit_node, entry_node = int(dists.exit_node[a, b]), int(dists.entry_node[a, b])
    if exit_node < 0:
        return [(int(edge[a]), float(off[a]), float(off[b]), False)]
    e = graph.edges
    length_a, length_b = e["length_m"].iat[edge[a]], e["length_m"].iat[edge[b]]
    out = [(int(edge[a]), float(off[a]), float(length_a if e["v"].iat[edge[a]] == exit_node else 0.0), False)]
    row = int(np.searchsorted(dists.sources, exit_node))
    out += [(p[0], p[1], p[2], False) for p in node_walk_pieces(graph, node_path(dists.predecessors, row, entry_node))]
    out.append((int(edge[b]), float(0.0 if e["u"].iat[edge[b]] == entry_node else length_b), float(off[b]), False))
    return out
