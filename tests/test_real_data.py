"""Real data in an afternoon (issue 18): layer files with little more than geometry, OpenStreetMap
extracts built here (XML by hand, PBF by osmium), the unit grid from a hand-made boundary.

The storage tests run on SpatiaLite and PostGIS (``db_engine``); the CLI and the README's
walkthrough are in tests/test_walkthrough.py.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Polygon, box

from geo import store
from geo.crs import metric_to_lonlat, to_metric
from geo.errors import ValidationError
from geo.io import ingest
from geo.io.grid import build_grid
from geo.io.layer_fill import LayerOptions
from geo.io.layers import read_layer_file
from geo.sample.office_files import write_osm_xml
from geo.settings import load_settings

J = "120110900"
METRIC = "EPSG:4548"
HOSTILE = "{{7*7}} </script><script>alert(1)</script> 金桥里 \u202e𝔘"
X0, Y0 = 530000.0, 4329000.0


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 of a point given in metres east and north of (X0, Y0), EPSG:4548."""
    lon, lat = metric_to_lonlat([X0 + x], [Y0 + y], crs=METRIC)
    return float(lon[0]), float(lat[0])


# An L-shaped boundary of 300 m × 200 m on the grid lines, without its north-east 100 m square.
BOUNDARY_M = Polygon([(X0, Y0), (X0 + 300, Y0), (X0 + 300, Y0 + 100), (X0 + 200, Y0 + 100), (X0 + 200, Y0 + 200),
                      (X0, Y0 + 200)])
# Nodes in metres from (X0, Y0); ways cross at shared nodes, as OpenStreetMap's do.
NODES_M = {1: (-100, 50), 2: (150, 50), 3: (400, 50), 4: (150, -100), 5: (150, 150), 6: (150, 300),
           7: (50, 150), 8: (280, 150), 9: (250, 95), 10: (250, 60), 11: (20, 20), 12: (80, 20), 13: (20, 80),
           14: (60, 80), 15: (30, 120), 16: (90, 120), 17: (100, 180), 18: (60, 190), 19: (5000, 5000),
           20: (5100, 5000)}
WAYS = (
    (1, (1, 2, 3), {"highway": "primary", "name": "Jinbei Gonglu", "name:zh": "津北公路"}),
    (2, (4, 2, 5, 6), {"highway": "residential", "name": HOSTILE}),
    (3, (7, 5, 8), {"highway": "tertiary", "name": "金桥路"}),
    (4, (9, 10), {"highway": "service", "name": "金桥小巷", "oneway": "-1"}),
    (5, (11, 12), {"highway": "footway"}),
    (6, (13, 14), {"highway": "path", "name": "绿道"}),
    (7, (15, 16), {"highway": "motorway_link"}),
    (8, (17, 18), {"highway": "unclassified", "junction": "roundabout", "name": "环岛"}),
    (9, (19, 20), {"highway": "trunk", "name": "外环线"}),
)


def write_extract(path, ways=WAYS):
    """The extract as an .osm XML file, coordinates in WGS84."""
    return write_osm_xml(path, {n: lonlat(*xy) for n, xy in NODES_M.items()}, ways)


def boundary_wgs84():
    return gpd.GeoSeries([BOUNDARY_M], crs=METRIC).to_crs(4326).iloc[0]


def by_way(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_index("road_id")


def test_an_extract_becomes_classed_named_one_way_roads_clipped_to_the_boundary(tmp_path):
    batch = read_layer_file(write_extract(tmp_path / "streets.osm"), kind="roads",
                            options=LayerOptions(jurisdiction_code=J), boundary=boundary_wgs84())
    assert batch.errors == []
    roads = by_way(batch.frame)
    assert sorted(roads.index) == ["osm-w1", "osm-w2", "osm-w3", "osm-w4", "osm-w5", "osm-w7", "osm-w8"]
    assert roads["road_class"].to_dict() == {
        "osm-w1": "arterial", "osm-w2": "branch", "osm-w3": "secondary", "osm-w4": "alley", "osm-w5": "alley",
        "osm-w7": "arterial", "osm-w8": "branch"}
    # name:zh before name; a way without a name is stored without one; the hostile name as typed
    assert roads["name"].to_dict() == {"osm-w1": "津北公路", "osm-w2": HOSTILE, "osm-w3": "金桥路", "osm-w4": "金桥小巷",
                                       "osm-w5": "", "osm-w7": "", "osm-w8": "环岛"}
    # oneway=-1 is one-way against the drawing: the line is turned round; roundabouts and motorways are one-way
    assert roads.loc[roads["oneway"]].index.tolist() == ["osm-w4", "osm-w7", "osm-w8"]
    service = to_metric(gpd.GeoSeries([roads.geometry["osm-w4"]], crs=4326), crs=METRIC).iloc[0]
    assert service.coords[0] == pytest.approx((X0 + 250, Y0 + 60), abs=0.05)
    # clipped: the primary enters at x = 0 and leaves at x = 300; the residential runs from y = 0 to y = 200
    metric = to_metric(batch.frame, crs=METRIC).set_index("road_id").geometry
    assert metric["osm-w1"].coords[0] == pytest.approx((X0, Y0 + 50), abs=0.05)
    assert metric["osm-w1"].length == pytest.approx(300, abs=0.05)
    assert metric["osm-w2"].length == pytest.approx(200, abs=0.05)
    assert metric["osm-w3"].length == pytest.approx(150, abs=0.05)  # leaves the L at x = 200
    assert batch.left_out == {"way(s) that are no street here (highway path 1)": 1}
    assert (roads["jurisdiction_code"] == J).all() and not roads["is_priority"].any()
    assert any(g.startswith("name: 1 way(s) named by name:zh, 5 by name, 2 without either") for g in batch.guesses)
    assert any("1 by oneway=-1" in g and "2 by OpenStreetMap's rule" in g for g in batch.guesses)


def test_a_way_leaving_and_entering_the_boundary_again_is_one_road_per_piece(tmp_path):
    # a U: the boundary without the square between x = 100 and 200 north of y = 100
    boundary = Polygon([(0, 0), (300, 0), (300, 200), (200, 200), (200, 100), (100, 100), (100, 200), (0, 200)])
    boundary = gpd.GeoSeries([shapely.affinity.translate(boundary, X0, Y0)], crs=METRIC).to_crs(4326).iloc[0]
    batch = read_layer_file(write_extract(tmp_path / "u.osm", ways=((7, (15, 16), {"highway": "primary"}),
                                                                   (3, (7, 5, 8), {"highway": "tertiary"}))),
                            kind="roads", options=LayerOptions(jurisdiction_code=J), boundary=boundary)
    metric = to_metric(batch.frame, crs=METRIC).set_index("road_id").geometry
    # way 3 runs at y = 150 from x = 50 to 280: inside for 50..100 and 200..280, numbered along the way
    assert metric.index.tolist() == ["osm-w7", "osm-w3-1", "osm-w3-2"]
    assert metric["osm-w3-1"].length == pytest.approx(50, abs=0.05)
    assert metric["osm-w3-2"].coords[0] == pytest.approx((X0 + 200, Y0 + 150), abs=0.05)
    assert metric["osm-w3-2"].length == pytest.approx(80, abs=0.05)
    assert ("boundary: 1 way(s) inside the jurisdiction, 1 cut at its boundary into 2 road(s); the ways outside "
            "left out") in batch.guesses


def test_a_pbf_extract_written_by_osmium_reads_as_its_xml_twin(tmp_path):
    osmium = pytest.importorskip("osmium")
    from osmium.osm.mutable import Node, Way

    pbf = tmp_path / "streets.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for node_id, xy in NODES_M.items():
        writer.add_node(Node(id=node_id, location=lonlat(*xy), version=1))
    for way_id, refs, tags in WAYS:
        writer.add_way(Way(id=way_id, nodes=list(refs), tags=tags, version=1))
    writer.close()
    options = LayerOptions(jurisdiction_code=J)
    from_pbf = read_layer_file(pbf, kind="roads", options=options, boundary=boundary_wgs84())
    from_xml = read_layer_file(write_extract(tmp_path / "streets.osm"), kind="roads", options=options,
                               boundary=boundary_wgs84())
    assert len(from_pbf.frame) == 7
    # the XML holds coordinates to 7 decimals, as does OpenStreetMap
    assert_geodataframe_equal(from_pbf.frame, from_xml.frame, check_less_precise=True)


def test_an_extract_is_roads_only_and_a_broken_one_is_named(tmp_path):
    path = write_extract(tmp_path / "streets.osm")
    with pytest.raises(ValidationError, match=r"streets\.osm: an OpenStreetMap extract gives roads, not communities"):
        read_layer_file(path, kind="communities")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a protocol buffer")
    with pytest.raises(ValidationError, match=r"broken\.osm\.pbf: not a readable OpenStreetMap extract"):
        read_layer_file(broken, kind="roads")


def _lines_file(path, columns: dict, geometry, crs="EPSG:4326"):
    gpd.GeoDataFrame(columns, geometry=geometry, crs=crs).to_file(path, driver="GeoJSON")
    return path


STREETS = [LineString([lonlat(0, 50), lonlat(300, 50)]), LineString([lonlat(150, 0), lonlat(150, 200)]),
           LineString([lonlat(20, 150), lonlat(140, 150)])]


def test_a_line_file_with_only_names_gets_stable_ids_and_every_guess_said(tmp_path):
    first = read_layer_file(_lines_file(tmp_path / "a.geojson", {"name": ["甲路", "乙路", HOSTILE]}, STREETS),
                            kind="roads", options=LayerOptions(jurisdiction_code=J))
    frame = first.frame
    assert frame["name"].tolist() == ["甲路", "乙路", HOSTILE]
    assert frame["road_id"].str.fullmatch(r"R[0-9A-F]{12}").all() and frame["road_id"].is_unique
    assert (frame["road_class"] == "branch").all() and not frame["oneway"].any() and not frame["is_priority"].any()
    assert (frame["jurisdiction_code"] == J).all()
    assert first.guesses == [
        "road_class: no class column (road_class/等级/道路等级/class/fclass/highway); every road taken as branch "
        "(--default-class)",
        "is_priority: no such column; no for every road but those named by --priority",
        "oneway: no such column; no for every road but those named by --oneway",
        "jurisdiction_code: none in the file; the settings' 120110900",
        "road_id: no id column; made from each feature's geometry and name (R + 12 hex digits, the same in every "
        "import of the same feature)",
    ]
    # the same streets in another order and another CRS keep their ids
    again = _lines_file(tmp_path / "b.geojson", {"name": [HOSTILE, "甲路", "乙路"]},
                        gpd.GeoSeries(STREETS[::-1][:1] + STREETS[:2], crs=4326).to_crs(METRIC), crs=METRIC)
    second = read_layer_file(again, kind="roads", options=LayerOptions(jurisdiction_code=J)).frame
    assert dict(zip(second["name"], second["road_id"])) == dict(zip(frame["name"], frame["road_id"]))
    # a renamed street is another feature
    renamed = read_layer_file(_lines_file(tmp_path / "c.geojson", {"name": ["丙路", "乙路", HOSTILE]}, STREETS),
                              kind="roads", options=LayerOptions(jurisdiction_code=J)).frame
    assert (renamed["road_id"] == frame["road_id"]).tolist() == [False, True, True]


def test_classes_and_flags_from_common_columns_and_flags(tmp_path):
    path = _lines_file(tmp_path / "roads.geojson", {
        "名称": ["津北公路", "先锋东路", "小巷", "绿道"], "class": ["主干路", "secondary", None, "高速"],
        "单行": ["是", None, "否", "否"]}, [*STREETS, LineString([lonlat(0, 10), lonlat(50, 10)])])
    batch = read_layer_file(path, kind="roads", options=LayerOptions(
        jurisdiction_code=J, default_class="背街小巷", priority=("津北公路", "先锋东路", "无此路"), oneway=("先锋东路",)))
    assert [(e.row, e.field, e.value) for e in batch.errors] == [(4, "road_class", "高速")]
    frame = batch.frame.set_index("name")
    assert frame["road_class"].to_dict() == {"津北公路": "arterial", "先锋东路": "secondary", "小巷": "alley"}
    assert frame["is_priority"].to_dict() == {"津北公路": True, "先锋东路": True, "小巷": False}
    assert frame["oneway"].to_dict() == {"津北公路": True, "先锋东路": True, "小巷": False}
    assert "road_class: 1 feature(s) with an empty class taken as alley (--default-class)" in batch.guesses
    assert "oneway: 1 empty cell(s) taken as no" in batch.guesses
    assert "is_priority: --priority names no road called '无此路'" in batch.guesses


def test_a_geofabrik_shapefile_with_fclass_and_oneway_f_t_b(tmp_path):
    path = tmp_path / "gis_osm_roads_free_1.shp"
    gpd.GeoDataFrame({"osm_id": ["11", "12", "13", "14"], "fclass": ["primary", "residential", "service", "cycleway"],
                      "name": ["津北公路", "幸福里", "小巷", None], "oneway": ["B", "F", "T", "B"]},
                     geometry=[*STREETS, LineString([lonlat(0, 10), lonlat(50, 10)])], crs=4326).to_file(path)
    batch = read_layer_file(path, kind="roads", options=LayerOptions(jurisdiction_code=J, id_column="osm_id"))
    frame = batch.frame.set_index("road_id")
    assert frame["road_class"].to_dict() == {"11": "arterial", "12": "branch", "13": "alley"}
    assert frame["oneway"].to_dict() == {"11": False, "12": True, "13": True}
    # T: one-way against the drawing, so the line is turned round
    assert frame.geometry["13"].coords[0] == pytest.approx(lonlat(140, 150), abs=1e-7)
    assert frame.geometry["12"].coords[0] == pytest.approx(lonlat(150, 0), abs=1e-7)
    assert batch.left_out == {}  # fclass is not OpenStreetMap's highway tag: an unknown class is a problem
    assert [(e.row, e.field, e.value) for e in batch.errors] == [(4, "road_class", "cycleway")]


def test_bad_features_are_named_and_the_good_ones_kept(tmp_path):
    long_name = "路" * 101
    path = _lines_file(tmp_path / "roads.geojson", {"name": ["好路", long_name, "零长"]},
                       [STREETS[0], STREETS[1], LineString([lonlat(5, 5), lonlat(5, 5)])])
    batch = read_layer_file(path, kind="roads", options=LayerOptions(jurisdiction_code=J))
    assert batch.frame["name"].tolist() == ["好路"] and batch.rejected == 2
    assert [(e.file, e.row, e.field) for e in batch.errors] == [("roads.geojson", 2, "name"),
                                                                 ("roads.geojson", 3, "geometry")]
    assert str(batch.errors[0]).startswith("roads.geojson: row 2: name: longer than 100 characters (101) (value '路路")
    # a file whose every feature is bad loads nothing
    with pytest.raises(ValidationError, match=r"no usable feature \(1 read\)"):
        read_layer_file(_lines_file(tmp_path / "bad.geojson", {"name": [long_name]}, [STREETS[0]]), kind="roads",
                        options=LayerOptions(jurisdiction_code=J)).usable()


def test_polygons_take_their_id_column_from_a_flag_or_get_one(tmp_path):
    squares = [box(*lonlat(0, 0), *lonlat(100, 100)), box(*lonlat(100, 0), *lonlat(200, 100))]
    path = tmp_path / "compounds.geojson"
    gpd.GeoDataFrame({"小区编号": ["XQ-7", "XQ-9"], "名称": ["金桥花园", "幸福里小区"]}, geometry=squares,
                     crs=4326).to_file(path)
    chosen = read_layer_file(path, kind="compounds", options=LayerOptions(jurisdiction_code=J, id_column="小区编号"))
    assert chosen.frame["code"].tolist() == ["XQ-7", "XQ-9"] and chosen.frame["community_code"].isna().all()
    made = read_layer_file(path, kind="compounds", options=LayerOptions(jurisdiction_code=J)).frame
    assert made["code"].str.fullmatch(r"X[0-9A-F]{12}").all()
    with pytest.raises(ValidationError, match=r"compounds\.geojson: no column '编号' \(--id-column\); headers found: "
                                              r"小区编号, 名称"):
        read_layer_file(path, kind="compounds", options=LayerOptions(jurisdiction_code=J, id_column="编号"))
    # communities without codes are numbered north to south after the jurisdiction's code (placeholders)
    north_south = [box(*lonlat(0, 0), *lonlat(100, 100)), box(*lonlat(0, 100), *lonlat(100, 200))]
    communities = tmp_path / "communities.geojson"
    gpd.GeoDataFrame({"名称": ["南", "北"]}, geometry=north_south, crs=4326).to_file(communities)
    numbered = read_layer_file(communities, kind="communities", options=LayerOptions(jurisdiction_code=J))
    assert numbered.frame["code"].tolist() == [f"{J}002", f"{J}001"]
    assert any(g.startswith(f"code: no id column; placeholders {J}001") for g in numbered.guesses)


def _grid_files(tmp_path):
    boundary = tmp_path / "boundary.geojson"
    gpd.GeoDataFrame({"名称": ["测试街道"]}, geometry=[BOUNDARY_M], crs=METRIC).to_file(boundary)
    communities = tmp_path / "communities.geojson"
    gpd.GeoDataFrame({"社区代码": ["1", "002"], "名称": ["西社区", "东社区"]},
                     geometry=[box(X0 - 50, Y0 - 50, X0 + 100, Y0 + 250), box(X0 + 100, Y0 - 50, X0 + 350, Y0 + 250)],
                     crs=METRIC).to_file(communities)
    return boundary, communities


def test_grid_build_and_an_extract_stored_on_both_back_ends(db_engine, tmp_path):
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    boundary, communities = _grid_files(tmp_path)
    report = build_grid(db_engine, boundary, settings=settings, communities_path=communities,
                        options=LayerOptions(id_column="社区代码"))
    cells = store.read_layer(db_engine, "unit_cells", jurisdiction_code=J).sort_values("code")
    # five cells (the north-east square is outside the L and only touches it), west→east, north→south per community
    assert list(zip(cells["code"], cells["col"], cells["row"])) == [
        (f"{J}001001", 0, 1), (f"{J}001002", 0, 0), (f"{J}002001", 1, 1), (f"{J}002002", 1, 0), (f"{J}002003", 2, 0)]
    assert (cells["community_code"].str.len() == 12).all() and (cells["code"].str.len() == 15).all()
    squares = to_metric(cells, crs=METRIC).geometry
    expected = [box(X0 + c * 100, Y0 + r * 100, X0 + (c + 1) * 100, Y0 + (r + 1) * 100)
                for c, r in zip(cells["col"], cells["row"])]
    assert all(s.symmetric_difference(e).area < 0.01 for s, e in zip(squares, expected))
    jurisdiction = store.read_layer(db_engine, "jurisdiction", jurisdiction_code=J).iloc[0]
    assert (jurisdiction["name"], jurisdiction["district_code"], jurisdiction["metric_crs"]) == ("测试街道", "120110",
                                                                                                 METRIC)
    assert (jurisdiction["grid_origin_x"], jurisdiction["grid_origin_y"], jurisdiction["cell_size_m"]) == (X0, Y0, 100)
    assert sorted(store.read_layer(db_engine, "communities", jurisdiction_code=J)["code"]) == [f"{J}001", f"{J}002"]
    assert report.lines()[2] == f"unit cells: 5 of 100 m in 2 communities (2–3 each), codes {J}001001 … {J}002003"

    extract = write_extract(tmp_path / "streets.osm")
    layer_report = ingest.import_layer_file(db_engine, extract, kind="roads", jurisdiction_code=J, settings=settings,
                                            options=LayerOptions(priority=("津北公路",)))
    assert (layer_report.loaded, layer_report.segments) == (7, 2 + 3 + 2 + 1 + 1 + 1 + 1)
    roads = store.read_layer(db_engine, "roads", jurisdiction_code=J).set_index("road_id")
    assert roads.loc["osm-w2", "name"] == HOSTILE and roads.loc["osm-w1", "is_priority"]
    segments = store.read_layer(db_engine, "segments", jurisdiction_code=J)
    lengths = to_metric(roads, crs=METRIC).length
    for road_id, part in segments.sort_values(["road_id", "seq"]).groupby("road_id"):
        assert part["seq"].tolist() == list(range(1, len(part) + 1))
        assert part["from_m"].iloc[0] == 0 and part["to_m"].iloc[-1] == pytest.approx(lengths[road_id], abs=1e-6)
        np.testing.assert_allclose(part["from_m"].iloc[1:], part["to_m"].iloc[:-1])
        np.testing.assert_allclose(part["length_m"], part["to_m"] - part["from_m"])
        assert (part["length_m"] <= 200).all()
        piece_lengths = to_metric(part, crs=METRIC).length.to_numpy()
        np.testing.assert_allclose(piece_lengths, part["length_m"], atol=1e-3)
    chainage = {road_id: list(zip(part["from_m"].round(1), part["to_m"].round(1)))
                for road_id, part in segments.sort_values(["road_id", "seq"]).groupby("road_id")}
    # the primary is cut where the residential crosses it (x = 150); the residential where the primary and the
    # tertiary cross it (y = 50, 150); each stretch in the fewest equal pieces of at most 200 m
    assert chainage["osm-w1"] == [(0, 150), (150, 300)]
    assert chainage["osm-w2"] == [(0, 50), (50, 150), (150, 200)]
    assert chainage["osm-w3"] == [(0, 100), (100, 150)]
    # importing the extract again gives the same roads and segments
    ingest.import_layer_file(db_engine, extract, kind="roads", jurisdiction_code=J, settings=settings,
                             options=LayerOptions(priority=("津北公路",)))
    again = store.read_layer(db_engine, "segments", jurisdiction_code=J)
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")),
                                  pd.DataFrame(segments.drop(columns="geometry")))


def test_roads_need_the_jurisdiction_first(db_engine, tmp_path):
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    with pytest.raises(Exception, match=r"run `citymap grid build --boundary FILE` first"):
        ingest.import_layer_file(db_engine, write_extract(tmp_path / "s.osm"), kind="roads", jurisdiction_code=J,
                                 settings=settings)


def test_grid_build_needs_communities_and_says_so(db_engine, tmp_path):
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    boundary, _ = _grid_files(tmp_path)
    with pytest.raises(ValidationError, match=r"no communities for jurisdiction 120110900: give --communities FILE"):
        build_grid(db_engine, boundary, settings=settings)


def test_a_bad_way_is_named_by_its_id_and_an_extract_without_streets_loads_nothing(tmp_path):
    too_long = "长" * 101
    path = write_extract(tmp_path / "streets.osm", ways=(
        (1, (1, 2, 3), {"highway": "primary", "name": "津北公路"}),
        (2, (4, 2, 5, 6), {"highway": "residential", "name": too_long}),
        (3, (7, 5, 8), {"highway": "tertiary", "name": "金桥路", "oneway": "alternating"})))
    batch = read_layer_file(path, kind="roads", options=LayerOptions(jurisdiction_code=J), boundary=boundary_wgs84())
    assert batch.frame["road_id"].tolist() == ["osm-w1", "osm-w3"] and not batch.frame["oneway"].any()
    assert [str(e) for e in batch.errors] == [
        f"streets.osm: way 2: name: longer than 100 characters (101) (value '{too_long[:60]}')"]
    assert any("1 of them with an oneway value taken as two-way (alternating 1)" in g for g in batch.guesses)
    paths_only = write_extract(tmp_path / "paths.osm", ways=((6, (13, 14), {"highway": "path"}),))
    empty = read_layer_file(paths_only, kind="roads", options=LayerOptions(jurisdiction_code=J),
                            boundary=boundary_wgs84())
    assert empty.frame.empty and empty.left_out == {"way(s) that are no street here (highway path 1)": 1}
    with pytest.raises(ValidationError, match=r"paths\.osm: no usable feature \(1 read\); nothing was loaded"):
        empty.usable()
