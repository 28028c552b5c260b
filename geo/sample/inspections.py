"""Deterministic sample inspections and 门前三包 frontage units on the Jinqiao sample (illustrative).

The sanitation crews of the two contractor zones drive a few of their roads each day
(GPS fixes every ~10 m with a few metres of noise), the grid centre's workers walk
around compounds and check in at a few spots, and three community teams walk their
compounds, over the last :data:`SAMPLE_DAYS` days of the sample year — so the
coverage page has something to show, and something left unvisited. Frontage units
are 10 m deep strips along stretches of arterial roads.

Nothing is surveyed and the worker names are placeholders, not people.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from sqlalchemy import Engine

from geo import store
from geo.crs import to_metric
from geo.frames.reference import Layers
from geo.io.ingest import load_layers_from_dir

SAMPLE_END = pd.Timestamp("2026-01-01 00:00")  # the sample's snapshot: the end of 31 December 2025
SAMPLE_DAYS = 7
_FIX_SPACING_M = 10.0
_GPS_NOISE_M = 3.0


def _noisy(line: shapely.LineString, rng: np.random.Generator) -> shapely.LineString:
    """The line resampled every ~10 m with Gaussian GPS noise (metric coordinates)."""
    n = max(2, int(line.length // _FIX_SPACING_M) + 1)
    points = shapely.get_coordinates(shapely.line_interpolate_point(line, np.linspace(0, line.length, n)))
    return shapely.linestrings(points + rng.normal(0.0, _GPS_NOISE_M, points.shape))


def make_inspections(layers: Layers, *, seed: int = 20251225, end: pd.Timestamp = SAMPLE_END,
                     days: int = SAMPLE_DAYS) -> gpd.GeoDataFrame:
    """Simulated inspections of the ``days`` days before ``end`` (see the module docstring).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``team``, ``actor``, ``kind``, ``started_at``, ``ended_at``,
        ``source`` ("sample"), ordered by start; the same seed gives the same frame.
    """
    rng = np.random.default_rng(seed)
    crs = layers.metric_crs
    segments = to_metric(layers.segments, crs=crs)
    zones = to_metric(layers.zones, crs=crs)
    compounds = to_metric(layers.compounds, crs=crs)
    road_mid = shapely.line_interpolate_point(segments.geometry.values, 0.5, normalized=True)
    rows: list[dict] = []
    first_day = end.normalize() - pd.Timedelta(days=days)
    for day in pd.date_range(first_day, periods=days, freq="D"):
        for zone in zones.itertuples():
            # A crew drives the whole of 3 roads of its zone, one after the other, at ~15 km/h.
            inside = segments[shapely.contains(zone.geometry, road_mid)]
            roads = rng.choice(inside["road_id"].unique(), size=3, replace=False)
            start = day + pd.Timedelta(hours=7) + pd.Timedelta(minutes=int(rng.integers(0, 60)))
            for road in roads:
                line = shapely.line_merge(shapely.union_all(inside.loc[inside["road_id"] == road].geometry.values))
                for part in getattr(line, "geoms", [line]):
                    minutes = part.length / 250.0
                    rows.append({"team": zone.department_code, "actor": f"{zone.department_code}-车组1",
                                 "kind": "track", "started_at": start,
                                 "ended_at": start + pd.Timedelta(minutes=minutes), "geometry": _noisy(part, rng)})
                    start += pd.Timedelta(minutes=minutes + 5)
        # Grid workers walk around 4 compounds (~4 km/h) and check in at 3 spots; community teams around 2.
        walkers = [("grid_center", "网格员A", 4)] + [
            (f"community:{c}", f"社区巡查{c[-3:]}", 2) for c in layers.communities["code"].iloc[:3]]
        for team, actor, k in walkers:
            pool = compounds if team == "grid_center" else compounds[compounds["community_code"] == team[10:]]
            picks = pool.iloc[rng.choice(len(pool), size=min(k, len(pool)), replace=False)]
            start = day + pd.Timedelta(hours=9) + pd.Timedelta(minutes=int(rng.integers(0, 90)))
            for ring in shapely.get_exterior_ring(picks.geometry.values):
                minutes = ring.length / 67.0
                rows.append({"team": team, "actor": actor, "kind": "track", "started_at": start,
                             "ended_at": start + pd.Timedelta(minutes=minutes), "geometry": _noisy(ring, rng)})
                start += pd.Timedelta(minutes=minutes + 10)
            if team == "grid_center":
                for spot in shapely.centroid(picks.geometry.values[:3]):
                    rows.append({"team": team, "actor": actor, "kind": "checkin", "started_at": start,
                                 "ended_at": start, "geometry": spot})
                    start += pd.Timedelta(minutes=15)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_crs("EPSG:4326")
    frame["source"] = "sample"
    frame["geometry"] = shapely.set_precision(frame.geometry.values, 1e-6)
    return frame.sort_values("started_at", kind="stable").reset_index(drop=True)


def make_frontage_units(layers: Layers, *, seed: int = 20250311, n: int = 12) -> gpd.GeoDataFrame:
    """``n`` 门前三包 frontage units: 60–120 m stretches of arterial roads, 10 m deep on one side.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 polygons with ``code`` (``F001`` …), ``name``, ``kind``,
        ``road_id``, ``from_m``, ``to_m`` (chainage along the segment's road).
    """
    rng = np.random.default_rng(seed)
    crs = layers.metric_crs
    segments = to_metric(layers.segments, crs=crs)
    arterial = segments[(segments["road_class"] == "arterial") & (segments["length_m"] >= 130)]
    picks = arterial.iloc[np.sort(rng.choice(len(arterial), size=n, replace=False))]
    length = rng.uniform(60, 120, n)
    offset = rng.uniform(0, picks["length_m"].to_numpy() - length)
    pieces = [shapely.ops.substring(g, a, a + b) for g, a, b in zip(picks.geometry.values, offset, length)]
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    strips = shapely.buffer(shapely.offset_curve(pieces, side * 8.0), 5.0, cap_style="flat")
    kinds = rng.choice(["shop", "institution", "property"], size=n, p=[0.6, 0.2, 0.2])
    names = {"shop": "沿街商铺", "institution": "机关单位", "property": "物业公司"}
    frame = gpd.GeoDataFrame({
        "code": [f"F{i + 1:03d}" for i in range(n)],
        "name": [f"{names[k]}{i + 1:02d}（示例）" for i, k in enumerate(kinds)],
        "kind": kinds, "road_id": picks["road_id"].to_numpy(),
        "from_m": np.round(picks["from_m"].to_numpy() + offset, 1),
        "to_m": np.round(picks["from_m"].to_numpy() + offset + length, 1),
    }, geometry=strips, crs=crs).to_crs("EPSG:4326")
    frame["geometry"] = shapely.set_precision(frame.geometry.values, 1e-6)
    return frame


def load_sample_inspections(engine: Engine, sample_dir: Path, *, jurisdiction_code: str) -> tuple[int, int]:
    """Store the sample frontage units and inspections, replacing earlier sample ones; (units, inspections)."""
    layers = load_layers_from_dir(Path(sample_dir))
    units = store.replace_frontage_units(engine, make_frontage_units(layers), jurisdiction_code=jurisdiction_code)
    store.purge_inspections(engine, before=SAMPLE_END.to_pydatetime(), jurisdiction_code=jurisdiction_code,
                            source="sample")
    tracks = store.insert_inspections(engine, make_inspections(layers), jurisdiction_code=jurisdiction_code)
    return units, tracks
