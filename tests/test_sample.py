"""The illustrative sample-data generator: determinism, invariants, committed files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.crs import to_metric
from geo.layers import LAYERS
from geo.sample import JURISDICTION_CODE, make_issues, make_layers

LAYER_COLUMNS = {
    "jurisdiction": ["code", "name", "district_code", "metric_crs", "cell_size_m", "grid_origin_x", "grid_origin_y"],
    "communities": ["code", "name", "jurisdiction_code"],
    "compounds": ["code", "name", "community_code", "jurisdiction_code"],
    "grids": ["code", "name", "community_code", "worker", "department_code", "jurisdiction_code"],
    "zones": ["code", "name", "department_code", "depot_lon", "depot_lat", "jurisdiction_code"],
    "unit_cells": ["code", "community_code", "col", "row", "jurisdiction_code"],
    "roads": ["road_id", "name", "road_class", "is_priority", "oneway", "jurisdiction_code"],
    "segments": ["segment_id", "road_id", "name", "road_class", "is_priority", "oneway", "seq", "from_m", "to_m",
                 "length_m", "jurisdiction_code"],
}
ISSUE_COLUMNS = [
    "external_id", "source", "reported_at", "lon", "lat", "coord_system", "category_code", "description", "address",
    "phone", "status", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at", "rework_count",
]
STAMPS = ["reported_at", "registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at"]


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return make_layers()


@pytest.fixture(scope="module")
def metric(layers) -> dict[str, gpd.GeoDataFrame]:
    return {name: to_metric(frame) for name, frame in layers.items()}


@pytest.fixture(scope="module")
def issues(layers) -> pd.DataFrame:
    return make_issues(layers)


def _same_area(parts: gpd.GeoSeries, whole) -> bool:
    """Whether ``parts`` (metric) tile ``whole``: no gaps or overlaps beyond coordinate rounding.

    Rounding to 6 decimals moves a vertex by up to about 5 cm, so slivers along the
    outline may add up to a few square metres; allow 2 cm times the perimeter.
    """
    tol = 0.02 * whole.length
    union = shapely.union_all(parts.to_numpy())
    return shapely.symmetric_difference(union, whole).area < tol and abs(parts.area.sum() - whole.area) < tol


def _script(repo_root: Path):
    spec = importlib.util.spec_from_file_location("make_sample_data", repo_root / "scripts" / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_seed_same_layers(layers):
    again = make_layers()
    assert set(again) == set(layers)
    for name in layers:
        assert_geodataframe_equal(layers[name], again[name])


def test_same_seed_same_issues(layers):
    first = make_issues(layers, n=2000, seed=7)
    pd.testing.assert_frame_equal(first, make_issues(layers, n=2000, seed=7))
    assert not first["lon"].equals(make_issues(layers, n=2000, seed=8)["lon"])


def test_layers_follow_the_contract(layers):
    for name, columns in LAYER_COLUMNS.items():
        frame = layers[name]
        assert list(frame.columns) == [*columns, "geometry"], name
        assert frame.crs.to_epsg() == 4326, name
        assert frame.geometry.is_valid.all(), name
        if "jurisdiction_code" in frame:
            assert (frame["jurisdiction_code"] == JURISDICTION_CODE).all(), name
    jur = layers["jurisdiction"].iloc[0]
    assert (jur["code"], jur["name"], jur["district_code"], jur["metric_crs"]) == ("120110900", "金桥街道", "120110", "EPSG:4548")
    assert jur["grid_origin_x"] % 100 == 0 and jur["grid_origin_y"] % 100 == 0
    minx, miny, maxx, maxy = layers["jurisdiction"].total_bounds
    assert 117.32 < minx < maxx < 117.41 and 39.07 < miny < maxy < 39.13


def test_communities_partition_the_jurisdiction(metric):
    boundary = metric["jurisdiction"].geometry.iloc[0]
    communities = metric["communities"]
    assert 6 <= len(communities) <= 10
    assert communities["code"].str.fullmatch(JURISDICTION_CODE + r"\d{3}").all()
    assert communities["name"].str.endswith("社区").all()
    assert _same_area(communities.geometry, boundary)


def test_compounds_inside_communities_and_disjoint(metric):
    compounds, communities = metric["compounds"], metric["communities"].set_index("code")
    assert 30 <= len(compounds) <= 60
    assert compounds["name"].is_unique and compounds["code"].is_unique
    home = communities.geometry.loc[compounds["community_code"]].to_numpy()
    assert shapely.within(compounds.geometry.to_numpy(), home).all()
    left, right = shapely.STRtree(compounds.geometry.to_numpy()).query(compounds.geometry.to_numpy(), predicate="intersects")
    assert (left == right).all()
    roads = metric["roads"].geometry.to_numpy()
    assert not shapely.intersects(shapely.union_all(roads), shapely.union_all(compounds.geometry.to_numpy()))


def test_grids_partition_each_community(metric):
    grids = metric["grids"]
    per = grids.groupby("community_code")
    assert per.size().between(2, 4).all()
    assert grids["code"].str.fullmatch(r"\d{12}G\d{2}").all()
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    assert (grids["department_code"] == "grid_center").all()
    assert grids["worker"].str.fullmatch(r"网格员\d{2}").all()
    communities = metric["communities"].set_index("code").geometry
    for code, group in per:
        assert _same_area(group.geometry, communities[code]), code


def test_zones_split_the_jurisdiction_with_depots_on_roads(layers, metric):
    zones = metric["zones"]
    assert list(zones["code"]) == ["sanitation_west", "sanitation_east"]
    assert (zones["department_code"] == zones["code"]).all()
    assert _same_area(zones.geometry, metric["jurisdiction"].geometry.iloc[0])
    depots = to_metric(gpd.GeoSeries(gpd.points_from_xy(zones["depot_lon"], zones["depot_lat"]), crs=4326)).to_numpy()
    assert shapely.within(depots, zones.geometry.to_numpy()).all()
    assert (shapely.distance(depots, shapely.union_all(metric["roads"].geometry.to_numpy())) < 0.5).all()
    west, east = zones.geometry.centroid.x
    assert west < east


def test_roads(layers):
    roads = layers["roads"]
    priority = roads.set_index("name")
    for name in ("津北公路", "先锋东路"):
        assert priority.loc[name, "is_priority"] and priority.loc[name, "road_class"] == "arterial"
    counts = roads["road_class"].value_counts()
    assert 2 <= (roads["is_priority"] & ~roads["name"].isin(["津北公路", "先锋东路"])).sum() <= 3
    assert 5 <= counts["secondary"] + counts["branch"] <= 8
    assert 15 <= counts["alley"] <= 30
    assert roads.loc[roads["oneway"], "road_class"].eq("alley").all() and roads["oneway"].sum() >= 2
    assert roads["road_id"].is_unique and roads["name"].is_unique
    jinbei, xianfeng = (priority.loc[name, "geometry"] for name in ("津北公路", "先锋东路"))
    assert np.ptp(shapely.get_coordinates(jinbei)[:, 0]) > 4 * np.ptp(shapely.get_coordinates(jinbei)[:, 1])
    assert np.ptp(shapely.get_coordinates(xianfeng)[:, 1]) > 4 * np.ptp(shapely.get_coordinates(xianfeng)[:, 0])


def test_road_network_is_one_connected_graph(layers):
    segments = layers["segments"]
    # Junctions are exact shared vertices, so segment ends meet bit for bit.
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(segments.geometry.to_numpy(), i)) for i in (0, -1)])
    _, node = np.unique(ends, axis=0, return_inverse=True)
    n = len(segments)
    graph = coo_matrix((np.ones(n), (node[:n], node[n:])), shape=(node.max() + 1,) * 2)
    assert connected_components(graph, directed=False)[0] == 1
    # Every road meets another road at a node.
    road = np.tile(segments["road_id"].to_numpy(), 2)
    roads_at_node = pd.Series(road).groupby(node).nunique()
    shared = set(pd.Series(road)[roads_at_node.loc[node].to_numpy() > 1])
    assert shared == set(layers["roads"]["road_id"])
    assert (segments["length_m"] <= 200.01).all()


def test_unit_cells(layers):
    cells = layers["unit_cells"]
    assert 2500 <= len(cells) <= 3500
    assert cells["code"].is_unique and cells["code"].str.fullmatch(r"\d{15}").all()
    assert set(cells["community_code"]) == set(layers["communities"]["code"])


def test_issue_columns_and_values(issues, repo_root):
    assert list(issues.columns) == ISSUE_COLUMNS
    assert len(issues) == 20000
    assert issues["external_id"].is_unique and issues["external_id"].iloc[0] == "JQ2025-000001"
    codes = set(pd.read_csv(repo_root / "geo" / "data" / "event_codes.csv", dtype=str)["code"])
    assert set(issues["category_code"]) <= codes
    assert set(issues["source"]) == {"12345", "inspection", "grid_worker", "citizen", "leadership_check"}
    assert (issues["coord_system"] == "wgs84").all()
    phones = issues["phone"][issues["phone"] != ""]
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all() and 0.6 < len(phones) / len(issues) < 0.8
    assert (issues["lon"].round(6) == issues["lon"]).all() and (issues["lat"].round(6) == issues["lat"]).all()
    assert issues["description"].str.len().gt(3).all() and issues["address"].str.len().gt(3).all()


def test_issue_points_inside_the_jurisdiction(issues, layers):
    boundary = layers["jurisdiction"].geometry.iloc[0]
    assert shapely.contains_xy(boundary, issues["lon"], issues["lat"]).all()


def test_lifecycle(issues):
    times = issues[STAMPS]
    assert times["reported_at"].between("2025-01-01", "2026-01-01").all()
    for earlier, later in zip(STAMPS, STAMPS[1:]):
        both = times[earlier].notna() & times[later].notna()
        assert (times.loc[both, earlier] <= times.loc[both, later]).all(), (earlier, later)
        # A later stage is only reached after the earlier one.
        assert not (times[earlier].isna() & times[later].notna()).any(), (earlier, later)
    status = issues["status"].value_counts(normalize=True)
    assert set(status.index) <= {"reported", "registered", "dispatched", "handled", "verified", "closed", "refused", "merged"}
    assert 0.02 < status["refused"] < 0.04 and 0.005 < status["merged"] < 0.015
    ended = issues["status"].isin(["refused", "merged"])
    assert times.loc[ended, STAMPS[1:]].isna().all().all()
    assert 0.03 < (issues["rework_count"] > 0).mean() < 0.07
    late = issues[issues["reported_at"] >= "2025-12-17"]
    assert late["status"].isin(["reported", "registered", "dispatched", "handled", "verified"]).sum() > 50
    garbage = issues[(issues["category_code"] == "06042") & (issues["status"] == "closed")]
    assert (garbage["handled_at"].dt.date == garbage["reported_at"].dt.date).mean() > 0.6


def test_seasons(issues):
    month = issues["reported_at"].dt.month
    snow = issues["category_code"] == "10001"
    assert snow.sum() > 50 and month[snow].isin([12, 1, 2]).all()
    green = issues["category_code"].isin(["06017", "06018", "06021", "06022", "06045"])
    assert month[green].isin(range(3, 9)).mean() > 0.75


def test_committed_files_equal_a_fresh_generation(repo_root, tmp_path):
    script = _script(repo_root)
    script.write_sample_data(tmp_path)
    for rel in [*(spec.file for spec in LAYERS.values()), script.ISSUES_FILE]:
        committed = repo_root / "data" / rel
        assert committed.read_bytes() == (tmp_path / rel).read_bytes(), (
            f"data/{rel} differs from a fresh generation: run scripts/make_sample_data.py, do not edit it by hand"
        )
