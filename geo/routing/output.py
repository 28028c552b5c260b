"""What every route planner returns: driven pieces of road, per-vehicle lines, times,
a Chinese turn list and GPX.

Planners (:mod:`geo.routing.vrp` for pickups, :mod:`geo.routing.postman` for sweeping) describe a
route as *steps*: one row per piece of an edge driven, in driving order, with the
vehicle, whether the piece is work (sweeping a required street) or travel, and the
piece's line in the driving direction. Everything here derives from that frame.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.ops import substring

from geo.crs import to_wgs84
from geo.errors import ValidationError
from geo.routing.road_graph import RoadGraph, path_edges

#: default travel speed of a cleaning vehicle, km/h
DEFAULT_SPEED_KMH = 15.0
STEP_COLUMNS = ("vehicle", "step", "edge", "name", "from_m", "to_m", "length_m", "work")


def check_speed(speed_kmh: float) -> float:
    """The speed as a float, refusing non-positive or absurd values (km/h)."""
    try:
        speed = float(speed_kmh)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"speed {speed_kmh!r} km/h is not a number") from exc
    if not 0 < speed <= 120:
        raise ValidationError(f"speed {speed_kmh!r} km/h must be above 0 and at most 120")
    return speed


def node_walk_pieces(graph: RoadGraph, nodes: list[int]) -> list[tuple[int, float, float]]:
    """Edge pieces ``(edge, from_m, to_m)`` along a node path; offsets along the digitised line."""
    edges = path_edges(graph, nodes)
    u = graph.edges["u"].to_numpy()[edges]
    length = graph.edges["length_m"].to_numpy()[edges]
    forward = u == np.asarray(nodes[:-1])
    return [(int(e), 0.0 if f else float(L), float(L) if f else 0.0) for e, f, L in zip(edges, forward, length)]


def steps_frame(graph: RoadGraph, pieces: list[tuple[int, int, float, float, bool]]) -> gpd.GeoDataFrame:
    """Turn ``(vehicle, edge, from_m, to_m, work)`` pieces into the steps frame.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`STEP_COLUMNS` and the piece's line in the driving direction, in the
        graph's metric CRS; zero-length pieces are dropped.
    """
    frame = pd.DataFrame(pieces, columns=["vehicle", "edge", "from_m", "to_m", "work"])
    frame = frame[(frame["to_m"] - frame["from_m"]).abs() > 1e-6].reset_index(drop=True)
    lines = graph.edges.geometry.values[frame["edge"].to_numpy()]
    # shapely's substring returns the piece reversed when from_m > to_m: the driving direction.
    geometry = [substring(line, a, b) for line, a, b in zip(lines, frame["from_m"], frame["to_m"])]
    frame["step"] = frame.groupby("vehicle").cumcount() + 1
    frame["name"] = graph.edges["name"].to_numpy()[frame["edge"].to_numpy()]
    frame["length_m"] = (frame["to_m"] - frame["from_m"]).abs()
    return gpd.GeoDataFrame(frame[list(STEP_COLUMNS)], geometry=geometry, crs=graph.edges.crs)


def route_lines(steps: gpd.GeoDataFrame, *, speed_kmh: float = DEFAULT_SPEED_KMH,
                service_min: pd.Series | None = None) -> gpd.GeoDataFrame:
    """One line per vehicle with its lengths and driving time.

    Parameters
    ----------
    steps : GeoDataFrame
        From :func:`steps_frame`.
    speed_kmh : float, keyword-only
        Travel speed (km/h) for ``drive_min``.
    service_min : pandas.Series, optional
        Minutes spent at stops per vehicle, added into ``total_min``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``vehicle``, ``length_m``, ``work_m``, ``deadhead_m``, ``drive_min``,
        ``total_min``, a LineString (metric CRS) in driving order.
    """
    speed = check_speed(speed_kmh)
    work = steps["length_m"].where(steps["work"], 0.0)
    grouped = steps.assign(work_m=work).groupby("vehicle", sort=True)
    out = pd.DataFrame({"length_m": grouped["length_m"].sum(), "work_m": grouped["work_m"].sum()})
    out["deadhead_m"] = out["length_m"] - out["work_m"]
    out["drive_min"] = out["length_m"] / (speed * 1000.0 / 60.0)
    extra = service_min.reindex(out.index).fillna(0.0) if service_min is not None else 0.0
    out["total_min"] = out["drive_min"] + extra
    coords = shapely.get_coordinates(steps.geometry.values)
    counts = shapely.get_num_coordinates(steps.geometry.values)
    owner = np.repeat(steps["vehicle"].to_numpy(), counts)
    lines = []
    for vehicle in out.index:
        xy = coords[owner == vehicle]
        # consecutive pieces share their joint: drop repeated vertices
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)
        lines.append(shapely.linestrings(xy[keep]) if keep.sum() >= 2 else None)
    return gpd.GeoDataFrame(out.reset_index(), geometry=lines, crs=steps.crs)


def turn_list(steps: gpd.GeoDataFrame, *, speed_kmh: float = DEFAULT_SPEED_KMH, unnamed: str = "无名道路") -> pd.DataFrame:
    """Roads in driving order per vehicle, consecutive pieces of one road merged; a road without a name is called
    ``unnamed``.

    Returns
    -------
    pandas.DataFrame
        ``vehicle``, ``order``, ``name``, ``length_m``, ``work_m``, ``minutes``,
        ``start_m`` (distance driven before this road).
    """
    speed = check_speed(speed_kmh)
    names = steps["name"].fillna(unnamed).astype(str)
    new_run = (names != names.shift()) | (steps["vehicle"] != steps["vehicle"].shift())
    run = new_run.cumsum()
    frame = steps.assign(name=names, run=run, work_m=steps["length_m"].where(steps["work"], 0.0))
    out = frame.groupby("run").agg(vehicle=("vehicle", "first"), name=("name", "first"),
                                   length_m=("length_m", "sum"), work_m=("work_m", "sum")).reset_index(drop=True)
    out["order"] = out.groupby("vehicle").cumcount() + 1
    out["start_m"] = out.groupby("vehicle")["length_m"].cumsum() - out["length_m"]
    out["minutes"] = out["length_m"] / (speed * 1000.0 / 60.0)
    return out[["vehicle", "order", "name", "length_m", "work_m", "minutes", "start_m"]]


def format_turn_list(turns: pd.DataFrame, *, stops: pd.DataFrame | None = None) -> str:
    """A printable Chinese turn list: per vehicle, numbered roads with metres and minutes."""
    lines: list[str] = []
    for vehicle, group in turns.groupby("vehicle", sort=True):
        total = group["length_m"].sum()
        lines.append(f"车辆 {vehicle}：全程 {total:,.0f} 米，约 {group['minutes'].sum():.0f} 分钟")
        for row in group.itertuples():
            action = "出发，沿" if row.order == 1 else "转入"
            work = f"（作业 {row.work_m:,.0f} 米）" if row.work_m > 0 else ""
            lines.append(f"  {row.order:>3}. {action}{row.name}行驶 {row.length_m:,.0f} 米{work}")
        lines.append("  返回车场")
        if stops is not None:
            mine = stops[stops["vehicle"] == vehicle]
            if len(mine):
                lines.append("  停靠点：" + "、".join(f"{s.seq}#问题{s.issue_id}" for s in mine.itertuples()))
    return "\n".join(lines)


def routes_gpx(lines: gpd.GeoDataFrame, *, stops: gpd.GeoDataFrame | None = None, name: str = "citymap 路线") -> str:
    """GPX 1.1 text: one track per vehicle and, when given, the stops as numbered waypoints.

    Parameters
    ----------
    lines : GeoDataFrame
        From :func:`route_lines` (any CRS; written as WGS84).
    stops : GeoDataFrame, optional
        Points with ``vehicle``, ``seq`` and ``issue_id``.
    """
    ns = "http://www.topografix.com/GPX/1/1"
    root = ET.Element("gpx", {"version": "1.1", "creator": "citymap", "xmlns": ns})
    ET.SubElement(ET.SubElement(root, "metadata"), "name").text = name
    if stops is not None and len(stops):
        wgs = to_wgs84(stops)
        for row, xy in zip(wgs.itertuples(), shapely.get_coordinates(wgs.geometry.values)):
            wpt = ET.SubElement(root, "wpt", {"lat": f"{xy[1]:.7f}", "lon": f"{xy[0]:.7f}"})
            ET.SubElement(wpt, "name").text = f"{row.vehicle}-{row.seq}"
            ET.SubElement(wpt, "desc").text = f"问题 {row.issue_id}"
    wgs_lines = to_wgs84(lines[lines.geometry.notna()])
    for row in wgs_lines.itertuples():
        trk = ET.SubElement(root, "trk")
        ET.SubElement(trk, "name").text = f"车辆 {row.vehicle}"
        seg = ET.SubElement(trk, "trkseg")
        for x, y in shapely.get_coordinates(row.geometry):
            ET.SubElement(seg, "trkpt", {"lat": f"{y:.7f}", "lon": f"{x:.7f}"})
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
