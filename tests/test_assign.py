"""geo.frames.assign against a plain geopandas reference on tiny hand-made layers.

The layers are drawn in EPSG:4548 near Jinqiao, relative to an origin that is a
multiple of the cell size, so points on cell edges and at exactly the tolerance from
a road can be written down exactly.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Polygon, box

from geo.crs import metric_to_lonlat, to_metric, to_wgs84
from geo.errors import ValidationError
from geo.frames.assign import assign_frame, assign_issues, assign_xy, prepare
from geo.frames.reference import Layers
from geo.frames.segments import split_roads
from geo.frames.unit_grid import build_unit_grid

CRS = "EPSG:4548"
X0, Y0 = 532_000.0, 4_331_000.0
S = 100.0
J = "120110900"
MAX_D = 30.0


def rect(x1, y1, x2, y2):
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def frame(rows: list[dict], geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=list(geoms), crs=CRS)


def metric_layers() -> Layers:
    boundary = rect(0, 0, 400, 300)
    communities = frame(
        [
            {"code": J + "002", "name": "东", "jurisdiction_code": J},
            {"code": J + "001", "name": "西", "jurisdiction_code": J},
        ],
        [rect(200, 0, 400, 300), rect(0, 0, 200, 300)],
    )
    compounds = frame(
        [
            {"code": "c1", "name": "一", "community_code": J + "001", "jurisdiction_code": J},
            {"code": "c0", "name": "零", "community_code": J + "001", "jurisdiction_code": J},
            {"code": "c2", "name": "二", "community_code": J + "002", "jurisdiction_code": J},
        ],
        [
            rect(20, 150, 120, 260),
            rect(120, 150, 180, 260),
            Polygon([(X0 + 260, Y0 + 160), (X0 + 380, Y0 + 160), (X0 + 380, Y0 + 280), (X0 + 300, Y0 + 280)]),
        ],
    )
    grids = frame(
        [
            {"code": f"g{k}", "name": f"网格{k}", "community_code": J + c, "worker": "w",
             "department_code": "grid_center", "jurisdiction_code": J}
            for k, c in (("b", "001"), ("a", "001"), ("c", "002"))
        ],
        [rect(150, 0, 275, 300), rect(0, 0, 150, 300), rect(275, 0, 400, 300)],
    )
    zones = frame(
        [
            {"code": z, "name": z, "department_code": z, "depot_lon": 117.3, "depot_lat": 39.1, "jurisdiction_code": J}
            for z in ("sanitation_east", "sanitation_west")
        ],
        [rect(250, 0, 400, 300), rect(0, 0, 250, 300)],
    )
    cells = build_unit_grid(boundary, communities, jurisdiction_code=J, origin=(X0, Y0), cell_size_m=S)
    roads = frame(
        [
            {"road_id": r, "name": r, "road_class": "branch", "is_priority": False, "oneway": False,
             "jurisdiction_code": J}
            for r in ("A", "B", "C", "D")
        ],
        [
            LineString([(X0, Y0 + 100), (X0 + 400, Y0 + 100)]),
            LineString([(X0 + 200, Y0), (X0 + 200, Y0 + 300)]),
            LineString([(X0 + 250, Y0 + 100), (X0 + 390, Y0 + 290)]),
            LineString([(X0 + 50, Y0 + 200), (X0 + 50, Y0 + 250), (X0 + 90, Y0 + 280)]),
        ],
    )
    jurisdiction = frame(
        [{"code": J, "name": "金桥街道", "district_code": "120110", "metric_crs": CRS, "cell_size_m": S,
          "grid_origin_x": X0, "grid_origin_y": Y0}],
        [boundary],
    )
    return Layers(
        jurisdiction=jurisdiction, communities=communities, compounds=compounds, grids=grids, zones=zones,
        unit_cells=cells, segments=split_roads(roads), roads=roads,
        metric_crs=CRS, cell_size_m=S, grid_origin=(X0, Y0),
    )


def wgs84_layers(layers: Layers) -> Layers:
    names = ("jurisdiction", "communities", "compounds", "grids", "zones", "unit_cells", "segments", "roads")
    return Layers(
        **{n: to_wgs84(getattr(layers, n)) for n in names},
        metric_crs=layers.metric_crs, cell_size_m=layers.cell_size_m, grid_origin=layers.grid_origin,
    )


def sample_points(rng: np.random.Generator, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Random points over and around the layers, plus points on edges and at the tolerance."""
    x = X0 + rng.uniform(-60, 460, n)
    y = Y0 + rng.uniform(-60, 360, n)
    # Every cell edge and corner, and the outer edges of the grid.
    k = np.arange(-1, 6) * S
    ex, ey = np.meshgrid(X0 + k, Y0 + np.r_[k, 37.5])
    fx, fy = np.meshgrid(X0 + np.r_[k, 62.5], Y0 + k)
    special = [
        (X0 + 430, Y0 + 100),            # exactly 30 m past road A's east end
        (X0 + 430.000001, Y0 + 100),     # just beyond
        (X0 + 200, Y0 - 30),             # exactly 30 m below road B's south end
        (X0 + 210, Y0 + 110),            # as far from A as from B: tie
        (X0 + 200, Y0 + 100),            # on the crossing node: four segments at 0 m
        (X0 + 250, Y0 + 100),            # on the T junction
        (X0 + 120, Y0 + 200),            # on the border shared by compounds c0 and c1
        (X0 + 150, Y0 + 200),            # on the border of grids ga and gb
        (X0 + 250, Y0 + 40),             # on the border of the zones
        (X0 + 300, Y0 + 280),            # on a vertex of compound c2
        (np.nan, Y0),                    # no position
    ]
    sx, sy = np.array(special).T
    return np.r_[x, ex.ravel(), fx.ravel(), sx], np.r_[y, ey.ravel(), fy.ravel(), sy]


def reference(x: np.ndarray, y: np.ndarray, layers: Layers, *, max_dist_m: float) -> pd.DataFrame:
    """The same assignment with geopandas joins, ties broken as documented."""
    index = pd.RangeIndex(len(x))
    # A point without position is left out of the joins and so gets missing values.
    ok = np.isfinite(x) & np.isfinite(y)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[ok], y[ok]), crs=layers.metric_crs, index=index[ok])

    def covering(layer: gpd.GeoDataFrame) -> pd.Series:
        layer = to_metric(layer, crs=layers.metric_crs)[["code", "geometry"]]
        joined = gpd.sjoin(pts, layer, predicate="intersects", how="inner")
        return joined.groupby(level=0)["code"].min().reindex(index)

    # Cells rebuilt in the metric CRS from (col, row, origin); the half-open rule
    # keeps a point only in the cell whose east / north edges it does not touch.
    (ox, oy), s = layers.grid_origin, layers.cell_size_m
    col, row = layers.unit_cells["col"].to_numpy(), layers.unit_cells["row"].to_numpy()
    cells = gpd.GeoDataFrame(
        {"code": layers.unit_cells["code"].to_numpy(), "east": ox + (col + 1) * s, "north": oy + (row + 1) * s},
        geometry=box(ox + col * s, oy + row * s, ox + (col + 1) * s, oy + (row + 1) * s),
        crs=layers.metric_crs,
    )
    joined = gpd.sjoin(pts, cells, predicate="intersects", how="inner")
    px, py = joined.geometry.x, joined.geometry.y
    joined = joined[(px < joined["east"]) & (py < joined["north"])]
    assert not joined.index.duplicated().any()
    cell = joined["code"].reindex(index)

    segs = to_metric(layers.segments, crs=layers.metric_crs)[["segment_id", "geometry"]]
    near = gpd.sjoin_nearest(pts, segs, how="inner", max_distance=max_dist_m, distance_col="dist")
    near = near.sort_values("segment_id").groupby(level=0).first().reindex(index)

    return pd.DataFrame(
        {
            "cell_code": pd.array(cell.to_numpy(dtype=object), dtype="string"),
            "segment_id": pd.array(near["segment_id"], dtype="Int64"),
            "segment_dist_m": near["dist"].to_numpy(dtype="float64"),
            "compound_code": pd.array(covering(layers.compounds).to_numpy(dtype=object), dtype="string"),
            "community_code": pd.array(covering(layers.communities).to_numpy(dtype=object), dtype="string"),
            "grid_code": pd.array(covering(layers.grids).to_numpy(dtype=object), dtype="string"),
            "zone_code": pd.array(covering(layers.zones).to_numpy(dtype=object), dtype="string"),
            "department_code": pd.array([None] * len(x), dtype="string"),
        }
    )


@pytest.fixture(scope="module")
def layers() -> Layers:
    return metric_layers()


@pytest.fixture(scope="module")
def prepared(layers):
    return prepare(layers)


def test_agrees_with_geopandas_in_metric_coordinates(layers, prepared):
    x, y = sample_points(np.random.default_rng(7))
    got = assign_xy(x, y, prepared, max_dist_m=MAX_D)
    pd.testing.assert_frame_equal(got, reference(x, y, layers, max_dist_m=MAX_D))


def test_agrees_with_geopandas_from_lonlat():
    layers = wgs84_layers(metric_layers())
    x, y = sample_points(np.random.default_rng(11), n=5_000)
    lon, lat = metric_to_lonlat(x, y, crs=CRS)
    got = assign_issues(lon, lat, prepare(layers), max_dist_m=MAX_D)
    # The reference sees the points as assign_issues does: projected from lon/lat.
    px, py = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(CRS).get_coordinates().to_numpy().T
    pd.testing.assert_frame_equal(got, reference(px, py, layers, max_dist_m=MAX_D))


def test_edge_and_tolerance_rules(layers, prepared):
    seg = layers.segments.set_index("segment_id")
    pts = np.array([
        (X0 + 100, Y0 + 100),            # corner of four cells: the north-east one
        (X0 + 399.999, Y0 + 50),
        (X0 + 400, Y0 + 50),             # east edge of the grid: outside
        (X0 + 430, Y0 + 100),            # exactly 30 m from road A's end: inside
        (X0 + 430.000001, Y0 + 100),     # just beyond
        (X0 + 210, Y0 + 110),            # tie between A and B
        (X0 + 120, Y0 + 200),            # shared compound border: lowest code
    ])
    got = assign_xy(pts[:, 0], pts[:, 1], prepared, max_dist_m=MAX_D)
    cells = layers.unit_cells.set_index("code")
    c = cells.loc[got["cell_code"].iloc[0]]
    assert (c["col"], c["row"]) == (1, 1)
    assert cells.loc[got["cell_code"].iloc[1], "col"] == 3
    assert pd.isna(got["cell_code"].iloc[2])
    assert got["segment_dist_m"].iloc[3] == 30.0
    assert seg.loc[got["segment_id"].iloc[3], "road_id"] == "A"
    assert pd.isna(got["segment_id"].iloc[4]) and np.isnan(got["segment_dist_m"].iloc[4])
    tied = seg[seg.geometry.distance(gpd.points_from_xy([X0 + 210], [Y0 + 110])[0]) == 10.0].index
    assert len(tied) == 2 and got["segment_id"].iloc[5] == tied.min()
    assert got["compound_code"].iloc[6] == "c0"


def test_departments(prepared):
    pts = np.array([
        (X0 + 100, Y0 + 105),   # on road A, west zone, no compound
        (X0 + 350, Y0 + 95),    # on road A, east zone
        (X0 + 60, Y0 + 220),    # on road D but inside compound c1
        (X0 + 150, Y0 + 50),    # off every road, no compound
        (X0 + 100, Y0 + 105),   # enforcement-led, on road
        (X0 + 100, Y0 + 105),   # no lead department
    ])
    lead = ["sanitation"] * 4 + ["enforcement", None]
    got = assign_xy(pts[:, 0], pts[:, 1], prepared, lead_departments=lead)
    assert got["department_code"].tolist() == [
        "sanitation_west", "sanitation_east", "community:" + J + "001", "sanitation", "enforcement", pd.NA,
    ]
    by_category = assign_xy(
        pts[:4, 0], pts[:4, 1], prepared,
        category_codes=["01001", "01001", "01001", "06001"],
        lead_departments={"01001": "sanitation", "06001": "enforcement"},
    )
    assert by_category["department_code"].tolist() == [
        "sanitation_west", "sanitation_east", "community:" + J + "001", "enforcement",
    ]
    assert assign_xy(pts[:1, 0], pts[:1, 1], prepared)["department_code"].isna().all()


def test_assign_frame_keeps_index_and_handles_missing_geometry(layers, prepared):
    x, y = sample_points(np.random.default_rng(3), n=200)
    ok = np.isfinite(x)
    issues = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(x[ok], y[ok]), crs=CRS, index=pd.RangeIndex(100, 100 + ok.sum())
    )
    issues.loc[100, "geometry"] = None
    in_wgs84 = to_wgs84(issues)
    got = assign_frame(in_wgs84, prepared)
    assert got.index.equals(issues.index)
    assert got.loc[100].isna().all()
    back = to_metric(in_wgs84.iloc[1:], crs=CRS).get_coordinates()
    expected = assign_xy(back["x"], back["y"], prepared).set_axis(issues.index[1:])
    pd.testing.assert_frame_equal(got.iloc[1:], expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_dist_m": -1}, "max_dist_m -1"),
        ({"max_dist_m": float("nan")}, "max_dist_m nan"),
        ({"lead_departments": ["sanitation"] * 3}, "3 lead departments"),
        ({"category_codes": ["01001", "01001"]}, "category_codes needs"),
        ({"category_codes": ["01001", "99999"], "lead_departments": {"01001": "sanitation"}}, "'99999'"),
    ],
)
def test_rejects_bad_options(prepared, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        assign_xy([X0, X0], [Y0, Y0], prepared, **kwargs)


def test_rejects_bad_coordinates(prepared):
    with pytest.raises(ValidationError, match="lat 95.0"):
        assign_issues([117.3], [95.0], prepared)
    with pytest.raises(ValidationError, match="equal length"):
        assign_xy([X0, X0], [Y0], prepared)


def test_layers_round_trip_through_geojson_files(tmp_path):
    from geo.errors import NotFoundError
    from geo.io.ingest import load_layers_from_dir
    from geo.layers import LAYERS

    layers = wgs84_layers(metric_layers())
    for name, spec in LAYERS.items():
        (tmp_path / spec.file).parent.mkdir(parents=True, exist_ok=True)
        getattr(layers, name).to_file(tmp_path / spec.file, driver="GeoJSON", engine="pyogrio")
    loaded = load_layers_from_dir(tmp_path)
    assert (loaded.metric_crs, loaded.cell_size_m, loaded.grid_origin) == (CRS, S, (X0, Y0))
    assert loaded.code == J
    x, y = sample_points(np.random.default_rng(5), n=2_000)
    # Cells are arithmetic and come out the same; the file's coordinate rounding moves
    # segments by millimetres, which may flip a point on a tie or at 30 m.
    got = assign_xy(x, y, prepare(loaded))
    want = assign_xy(x, y, prepare(layers))
    assert (got["cell_code"].fillna("") == want["cell_code"].fillna("")).all()
    assert (got["segment_id"].fillna(0) == want["segment_id"].fillna(0)).mean() > 0.99
    (tmp_path / LAYERS["zones"].file).unlink()
    with pytest.raises(NotFoundError, match="zones.geojson"):
        load_layers_from_dir(tmp_path)
