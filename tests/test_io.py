"""geo.io: reading and validating issue files and layers, writing masked exports."""

import datetime as dt
import json
import warnings
from io import BytesIO

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box

from geo.crs import convert_to_wgs84
from geo.errors import ImportRejected, ValidationError
from geo.io import (
    ISSUE_FILE_COLUMNS,
    read_issue_file,
    read_layer_file,
    write_frame,
    write_xlsx,
    write_xlsx_with_images,
)
from geo.io.tables import parse_times
from geo.layers import LAYERS

HEADER = "工单编号,受理时间,经度,纬度,问题类型,问题描述,联系电话,地址"
GOOD_ROW = "GD001,2025-03-12 08:30:00,117.350000,39.100000,暴露垃圾,路边垃圾无人清理,13800138000,津北公路88号"
# Around Jinqiao, Dongli District (WGS84).
BOUNDARY = box(117.30, 39.05, 117.45, 39.15)


def write_csv(path, lines, *, encoding="utf-8"):
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def write_shapefile(frame, path):
    # GDAL cuts long field names and warns about it (and about a missing CRS):
    # exactly the situation the reader must cope with, so the warnings are noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(path)


def by_row(batch):
    """{row: {field: reason}} of a batch's errors."""
    found = {}
    for error in batch.errors:
        found.setdefault(error.row, {})[error.field] = error.reason
    return found


# ------------------------------------------------------------------ good rows


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_good_row_in_every_encoding(tmp_path, encoding):
    path = write_csv(tmp_path / "issues.csv", [HEADER, GOOD_ROW], encoding=encoding)
    batch = read_issue_file(path)
    assert batch.errors == []
    assert batch.file == "issues.csv"
    frame = batch.frame
    assert frame.crs.to_epsg() == 4326
    assert list(frame.columns) == [*ISSUE_FILE_COLUMNS, "row", "geometry"]
    issue = frame.iloc[0]
    assert issue["external_id"] == "GD001"
    assert issue["source"] == "12345"
    assert issue["source_system"] == "wgs84"
    assert issue["reported_at"] == pd.Timestamp("2025-03-12 08:30:00")
    assert issue["category_code"] == "06010"
    assert issue["description"] == "路边垃圾无人清理"
    assert issue["address"] == "津北公路88号"
    assert issue["phone"] == "13800138000"
    assert issue["row"] == 2
    assert (issue.geometry.x, issue.geometry.y) == pytest.approx((117.35, 39.10))
    assert pd.api.types.is_datetime64_dtype(frame["reported_at"])


def test_english_headers_source_column_and_optional_columns(tmp_path):
    path = write_csv(
        tmp_path / "inspection.csv",
        [
            "id,time,lng,lat,category,description,phone,source,status,registered_at,closed_at,rework_count",
            "X1,2025-03-12 08:30,117.35,39.1,06042,满溢,,inspection,已结案,2025-03-12 09:00,2025-03-12 17:00,1",
            "X2,2025-03-12 08:30,117.35,39.1,06042,,,,,2025-03-12 09:00,,",
        ],
    )
    frame = read_issue_file(path, source="grid_worker").frame
    assert frame["source"].tolist() == ["inspection", "grid_worker"]
    assert frame["status"].tolist() == ["closed", "registered"]
    assert frame["closed_at"].iloc[0] == pd.Timestamp("2025-03-12 17:00")
    assert pd.isna(frame["closed_at"].iloc[1])
    assert frame["rework_count"].tolist() == [1, 0]
    assert "verified_at" not in frame


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-12 08:30:00", "2025-03-12 08:30:00"),
        ("2025/3/12 8:30", "2025-03-12 08:30:00"),
        ("2025年3月12日 8:30", "2025-03-12 08:30:00"),
        ("2025-03-12T00:30:00Z", "2025-03-12 08:30:00"),
        ("2025-03-12T08:30:00+08:00", "2025-03-12 08:30:00"),
        ("2025-03-11T19:30:00-05:00", "2025-03-12 08:30:00"),
        ("2025-03-12 08:30:00.250", "2025-03-12 08:30:00.250"),
    ],
)
def test_time_formats_become_naive_shanghai_time(tmp_path, text, expected):
    path = write_csv(tmp_path / "t.csv", ["id,time,lon,lat,category", f"A,{text},117.35,39.1,暴露垃圾"])
    batch = read_issue_file(path)
    assert batch.errors == []
    assert batch.frame["reported_at"].iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("excel", [False, True])
def test_times_that_are_no_real_date_and_time_are_missing_whichever_way_written(excel):
    """The export's own shape is read off its characters, the rest by the pattern: both refuse the same
    impossible values (no 25 o'clock carried into the next day, no year 0, no 30 February) and keep leap days."""
    text = pd.Series(["2025-03-12 25:00:00", "2025/3/12 25:00", "2025-03-12 08:60:00", "2025/3/12 8:60",
                      "2025-03-12 08:30:60", "0000-01-01 00:00:00", "2025-02-30 08:00:00", "2025/2/30 8:00",
                      "2025-13-01 08:00:00", "2024-02-29 23:59:59", "2024/2/29 23:59:59", "1900-02-29 00:00:00",
                      "2000-02-29 00:00:00", "9999-12-31 23:59:59", "２０２５-03-12 08:30:00", None, ""],
                     dtype="string")
    parsed = parse_times(text, excel=excel)
    assert parsed.dtype == "datetime64[us]"
    assert parsed.isna().tolist() == [True] * 9 + [False, False, True, False, False, False, True, True]
    assert parsed.dropna().tolist() == [pd.Timestamp("2024-02-29 23:59:59")] * 2 + [
        pd.Timestamp("2000-02-29"), pd.Timestamp("9999-12-31 23:59:59"), pd.Timestamp("2025-03-12 08:30")]


def test_xlsx_with_title_row_excel_dates_and_numeric_cells(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["金桥街道12345工单明细"])
    sheet.append(["工单编号", "受理时间", "经度", "纬度", "事项类型", "联系电话"])
    sheet.append([2025031200123, dt.datetime(2025, 3, 12, 8, 30), 117.35, 39.10, 6010, 13800138000])
    sheet.append(["B2", 45728.5, 117.36, 39.11, "暴露垃圾", None])  # a date cell shown as a number
    sheet.append(["B3", "not a time", 117.36, 39.11, "暴露垃圾", None])
    workbook.save(tmp_path / "export.xlsx")
    batch = read_issue_file(tmp_path / "export.xlsx")
    frame = batch.frame
    assert frame["external_id"].tolist() == ["2025031200123", "B2"]
    assert frame["reported_at"].tolist() == [pd.Timestamp("2025-03-12 08:30"), pd.Timestamp("2025-03-12 12:00")]
    # Excel dropped the leading zero of 06010.
    assert frame["category_code"].tolist() == ["06010", "06010"]
    assert frame["phone"].iloc[0] == "13800138000"
    # The header is on spreadsheet row 2, so data starts on row 3.
    assert frame["row"].tolist() == [3, 4]
    assert [(e.row, e.field) for e in batch.errors] == [(5, "reported_at")]


def test_blank_lines_keep_row_numbers(tmp_path):
    bad = GOOD_ROW.replace("GD001", "GD002").replace("暴露垃圾", "no such thing")
    path = write_csv(tmp_path / "gaps.csv", [HEADER, GOOD_ROW, "", bad])
    batch = read_issue_file(path)
    assert len(batch.frame) == 1
    assert [(e.row, e.field) for e in batch.errors] == [(4, "category")]


# ------------------------------------------------------------------ row errors


def test_each_row_problem_is_reported_with_file_row_field_and_reason(tmp_path):
    rows = [
        "id,time,lon,lat,category,coord_system",
        "OK1,2025-03-12 08:30,117.35,39.10,暴露垃圾,",  # 2 good
        "T1,,117.35,39.10,暴露垃圾,",  # 3 missing time
        "T2,yesterday,117.35,39.10,暴露垃圾,",  # 4 unparseable time
        "N1,2025-03-12 08:30,abc,39.10,暴露垃圾,",  # 5 lon not a number
        "R1,2025-03-12 08:30,190.5,39.10,暴露垃圾,",  # 6 lon out of range
        "R2,2025-03-12 08:30,117.35,-95,暴露垃圾,",  # 7 lat out of range (lon no latitude)
        "S1,2025-03-12 08:30,39.10,117.35,暴露垃圾,",  # 8 swapped
        "B1,2025-03-12 08:30,116.40,39.90,暴露垃圾,",  # 9 outside (Beijing)
        "C1,2025-03-12 08:30,117.35,39.10,垃圾太多了吧,",  # 10 unknown category
        "OK1,2025-03-12 08:30,117.35,39.10,暴露垃圾,",  # 11 duplicate id
        "K1,2025-03-12 08:30,117.35,39.10,暴露垃圾,mercator",  # 12 unknown system
        "M1,,abc,39.10,no such,",  # 13 three problems
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    batch = read_issue_file(path, boundary=BOUNDARY)
    assert batch.frame["external_id"].tolist() == ["OK1"]
    assert all(error.file == "bad.csv" for error in batch.errors)
    found = by_row(batch)
    assert found[3] == {"reported_at": "missing"}
    assert "not a date-time" in found[4]["reported_at"]
    assert found[5] == {"lon": "not a number"}
    assert "out of range" in found[6]["lon"]
    assert "out of range" in found[7]["lat"]
    assert set(found[8]) == {"lon/lat"} and "swapped" in found[8]["lon/lat"]
    assert "outside the jurisdiction boundary" in found[9]["lon/lat"]
    assert found[10]["category"].startswith("unknown event category '垃圾太多了吧'; closest: 0")
    assert found[11] == {"external_id": "duplicate of row 2"}
    assert "unknown coordinate system" in found[12]["coord_system"]
    assert set(found[13]) == {"reported_at", "lon", "category"}
    assert sorted(found) == list(range(3, 14))
    # Messages quote the bad value as written.
    values = {(e.row, e.field): e.value for e in batch.errors}
    assert values[(4, "reported_at")] == "yesterday"
    assert values[(6, "lon")] == "190.5"
    assert values[(12, "coord_system")] == "mercator"
    assert str(next(e for e in batch.errors if e.row == 5)) == "bad.csv: row 5: lon: not a number (value 'abc')"


def test_lifecycle_problems(tmp_path):
    path = write_csv(
        tmp_path / "life.csv",
        [
            "id,time,lon,lat,category,status,closed_at,rework_count",
            "L1,2025-03-12 08:30,117.35,39.1,暴露垃圾,飞走了,,",
            "L2,2025-03-12 08:30,117.35,39.1,暴露垃圾,closed,2025-03-11 08:30,",
            "L3,2025-03-12 08:30,117.35,39.1,暴露垃圾,,,-1",
        ],
    )
    found = by_row(read_issue_file(path))
    assert "unknown status" in found[2]["status"]
    assert found[3]["closed_at"].startswith("earlier than reported_at 2025-03-12 08:30:00")
    assert "whole number" in found[4]["rework_count"]


def test_missing_column_names_file_column_and_headers(tmp_path):
    path = write_csv(tmp_path / "nocat.csv", ["工单编号,受理时间,经度,纬度", "A,2025-03-12 08:30,117.35,39.1"])
    with pytest.raises(ValidationError) as caught:
        read_issue_file(path)
    message = str(caught.value)
    assert "nocat.csv" in message
    assert "missing column(s) category" in message
    assert "问题类型" in message
    assert "headers found: 工单编号, 受理时间, 经度, 纬度" in message


def test_neither_coordinates_nor_address_column(tmp_path):
    path = write_csv(tmp_path / "nowhere.csv", ["id,time,category", "A,2025-03-12 08:30,暴露垃圾"])
    with pytest.raises(ValidationError, match=r"nowhere\.csv: missing column\(s\) lon .*lat .*address"):
        read_issue_file(path)


def test_unknown_coord_system_argument():
    with pytest.raises(ValidationError, match="'mars'"):
        read_issue_file("whatever.csv", coord_system="mars")


# ------------------------------------------------------------------ coordinates


def test_gcj02_and_bd09_inputs_are_converted(tmp_path):
    lon, lat = 117.35, 39.10
    path = write_csv(
        tmp_path / "amap.csv",
        [
            "id,time,lon,lat,category,坐标系",
            f"G1,2025-03-12 08:30,{lon},{lat},暴露垃圾,",
            f"B1,2025-03-12 08:30,{lon},{lat},暴露垃圾,BD-09",
            f"W1,2025-03-12 08:30,{lon},{lat},暴露垃圾,WGS84",
        ],
    )
    frame = read_issue_file(path, coord_system="gcj02").frame
    assert frame["source_system"].tolist() == ["gcj02", "bd09", "wgs84"]
    for system, point in zip(("gcj02", "bd09", "wgs84"), frame.geometry):
        expected_lon, expected_lat = convert_to_wgs84(np.array([lon]), np.array([lat]), system)
        assert (point.x, point.y) == pytest.approx((expected_lon[0], expected_lat[0]), abs=1e-9)
    # The shift is a few hundred metres, not nothing.
    assert abs(frame.geometry.iloc[0].x - lon) > 1e-3


def test_boundary_is_checked_after_conversion(tmp_path):
    # A GCJ-02 point just inside the box whose WGS84 position falls outside it.
    wgs_edge_lon = BOUNDARY.bounds[0]
    gcj_lon = wgs_edge_lon + 0.003
    path = write_csv(tmp_path / "edge.csv", ["id,time,lon,lat,category", f"E1,2025-03-12 08:30,{gcj_lon},39.10,暴露垃圾"])
    assert len(read_issue_file(path, boundary=BOUNDARY, coord_system="wgs84").frame) == 1
    batch = read_issue_file(path, boundary=BOUNDARY, coord_system="gcj02")
    assert batch.frame.empty
    assert "outside the jurisdiction boundary" in batch.errors[0].reason


def test_projected_coordinates(tmp_path):
    x, y = convert_to_wgs84(np.array([117.35]), np.array([39.10]), "wgs84")
    metric = gpd.GeoSeries([Point(x[0], y[0])], crs=4326).to_crs(4548).iloc[0]
    path = write_csv(tmp_path / "cgcs.csv", ["id,time,x,y,category", f"P1,2025-03-12 08:30,{metric.x},{metric.y},暴露垃圾"])
    frame = read_issue_file(path, coord_system="EPSG:4548").frame
    assert frame["source_system"].tolist() == ["EPSG:4548"]
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == pytest.approx((117.35, 39.10))


def test_address_rows_use_the_gazetteer_longest_name(tmp_path):
    gazetteer = pd.DataFrame(
        {
            "name": ["金桥花园", "金桥花园二期", "津北公路"],
            "lon": [117.36, 117.37, 117.38],
            "lat": [39.11, 39.12, 39.13],
        }
    )
    path = write_csv(
        tmp_path / "addr.csv",
        [
            "id,time,lon,lat,category,address",
            "A1,2025-03-12 08:30,,,暴露垃圾,金桥花园二期 5号楼",
            "A2,2025-03-12 08:30,,,暴露垃圾,津北公路与先锋东路交口",
            "A3,2025-03-12 08:30,,,暴露垃圾,月亮上",
            "A4,2025-03-12 08:30,,,暴露垃圾,",
        ],
    )
    batch = read_issue_file(path, gazetteer=gazetteer, coord_system="gcj02")
    frame = batch.frame
    assert frame["external_id"].tolist() == ["A1", "A2"]
    assert [(p.x, p.y) for p in frame.geometry] == [(117.37, 39.12), (117.38, 39.13)]
    # Gazetteer coordinates are WGS84 whatever the file's system.
    assert frame["source_system"].tolist() == ["wgs84", "wgs84"]
    found = by_row(batch)
    assert "no place in the gazetteer" in found[4]["address"]
    assert found[5] == {"lon/lat": "no coordinates and no address"}


def test_address_without_gazetteer(tmp_path):
    path = write_csv(tmp_path / "addr.csv", ["id,time,category,address", "A1,2025-03-12 08:30,暴露垃圾,金桥花园"])
    batch = read_issue_file(path)
    assert batch.frame.empty
    assert batch.errors[0].field == "address"


# ------------------------------------------------------------------ vector files


def point_features():
    return gpd.GeoDataFrame(
        {
            "id": ["G1", "G2", "G3", "G4", "G5"],
            "time": ["2025-03-12 08:30:00"] * 5,
            "category": ["暴露垃圾"] * 5,
            "phone": ["13800138000"] * 5,
        },
        geometry=[
            Point(117.35, 39.10),
            LineString([(117.35, 39.10), (117.36, 39.10)]),
            Point(),
            None,
            Point(39.10, 117.35),
        ],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("suffix", ["geojson", "gpkg"])
def test_vector_issue_files(tmp_path, suffix):
    path = tmp_path / f"points.{suffix}"
    point_features().to_file(path)
    batch = read_issue_file(path, coord_system="gcj02")
    frame = batch.frame
    assert frame["external_id"].tolist() == ["G1"]
    assert frame["row"].tolist() == [1]
    assert frame["source_system"].tolist() == ["gcj02"]
    expected = convert_to_wgs84(np.array([117.35]), np.array([39.10]), "gcj02")
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == pytest.approx((expected[0][0], expected[1][0]))
    found = by_row(batch)
    assert found[2] == {"geometry": "geometry is LineString, expected Point"}
    # GeoJSON has no empty point: GDAL writes it as null.
    assert found[3]["geometry"] in ("empty geometry", "no geometry")
    assert found[4] == {"geometry": "no geometry"}
    assert "swapped" in found[5]["lon/lat"]


def test_vector_file_in_a_projected_crs(tmp_path):
    path = tmp_path / "metric.gpkg"
    point_features().iloc[[0]].to_crs(4548).to_file(path)
    frame = read_issue_file(path, boundary=BOUNDARY).frame
    assert frame["source_system"].tolist() == ["EPSG:4548"]
    assert (frame.geometry.iloc[0].x, frame.geometry.iloc[0].y) == pytest.approx((117.35, 39.10))


# ------------------------------------------------------------------ layers


def roads_frame():
    return gpd.GeoDataFrame(
        {
            "road_id": ["R1", "R2"],
            "名称": ["津北公路", "金桥小巷"],
            "等级": ["主干路", "背街小巷"],
            "jurisdiction_code": ["120110900", "120110900"],
        },
        geometry=[
            LineString([(117.30, 39.10), (117.35, 39.10)]),
            # Two pieces that meet end to end: one road.
            MultiLineString([[(117.30, 39.08), (117.31, 39.08)], [(117.31, 39.08), (117.32, 39.09)]]),
        ],
        crs="EPSG:4326",
    )


def test_shapefile_in_epsg4548_is_reprojected(tmp_path):
    path = tmp_path / "roads.shp"
    write_shapefile(roads_frame().to_crs(4548), path)
    roads = read_layer_file(path, kind="roads").whole()
    assert roads.crs.to_epsg() == 4326
    assert list(roads.columns) == [*LAYERS["roads"].columns, "geometry"]
    assert roads["name"].tolist() == ["津北公路", "金桥小巷"]
    assert roads["road_class"].tolist() == ["arterial", "alley"]
    assert roads["is_priority"].tolist() == [False, False]
    assert roads["jurisdiction_code"].tolist() == ["120110900", "120110900"]
    assert roads.geom_type.tolist() == ["LineString", "LineString"]
    start = roads.geometry.iloc[0].coords[0]
    assert start == pytest.approx((117.30, 39.10), abs=1e-7)


def test_bad_features_are_reported_and_the_good_ones_load_unless_strict(tmp_path):
    communities = gpd.GeoDataFrame(
        {"code": ["1", "2", "1", "3", "3"], "名称": ["a", "b", "c", "d", "e"], "jurisdiction_code": ["120110900"] * 5},
        geometry=[
            Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # bow-tie
            Point(0, 0),
            box(0, 0, 1, 1),
            box(1, 0, 2, 1),
            box(2, 0, 3, 1),
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "communities.geojson"
    communities.to_file(path)
    batch = read_layer_file(path, kind="communities")
    problems = [(e.file, e.row, e.field) for e in batch.errors]
    assert problems == [
        ("communities.geojson", 1, "geometry"),
        ("communities.geojson", 2, "geometry"),
        ("communities.geojson", 5, "code"),
    ]
    assert "Self-intersection" in batch.errors[0].reason
    # row 3 repeats the code of row 1, which is rejected: it is the one feature "1" that loads
    assert batch.frame["name"].tolist() == ["c", "d"] and batch.rejected == 3
    with pytest.raises(ImportRejected) as caught:
        batch.whole()
    assert caught.value.errors == batch.errors
    assert "communities.geojson: 3 problem(s)" in str(caught.value) and "nothing was loaded" in str(caught.value)


def test_layer_without_crs(tmp_path):
    path = tmp_path / "nocrs.shp"
    frame = roads_frame().drop(columns="jurisdiction_code").assign(juris="120110900").set_crs(None, allow_override=True)
    write_shapefile(frame, path)
    with pytest.raises(ValidationError, match=r"nocrs\.shp: has no CRS"):
        read_layer_file(path, kind="roads")


def test_layer_missing_column_and_bad_road_class(tmp_path):
    path = tmp_path / "roads.geojson"
    roads_frame().drop(columns="jurisdiction_code").to_file(path)
    with pytest.raises(ValidationError, match=r"roads\.geojson: missing column\(s\) for a roads layer: jurisdiction_code"):
        read_layer_file(path, kind="roads")
    roads_frame().assign(等级=["主干路", "高速"]).to_file(path)
    batch = read_layer_file(path, kind="roads")
    assert [(e.row, e.field, e.value) for e in batch.errors] == [(2, "road_class", "高速")]
    # the good road loads
    assert batch.frame["road_id"].tolist() == ["R1"] and batch.frame["road_class"].tolist() == ["arterial"]


# ------------------------------------------------------------------ export


def test_export_masks_phones_and_rounds(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "external_id": ["GD20250312001234567"],
            "phone": ["13800138000"],
            "description": ["请回电 022-2437 1234"],
        },
        geometry=[Point(117.123456789, 39.987654321)],
        crs="EPSG:4326",
    )
    geojson = write_frame(frame.to_crs(4548), tmp_path / "out.geojson")
    document = json.loads(geojson.read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    assert properties == {
        "external_id": "GD20250312001234567",
        "phone": "138****8000",
        "description": "请回电 022-****1234",
    }
    assert "13800138000" not in geojson.read_text(encoding="utf-8")
    assert document["features"][0]["geometry"]["coordinates"] == pytest.approx([117.123457, 39.987654], abs=1e-9)
    assert "crs" not in document  # RFC 7946: WGS84 implied
    # The caller's frame keeps its raw values.
    assert frame["phone"].iloc[0] == "13800138000"

    gpkg = write_frame(frame, tmp_path / "out.gpkg")
    written = gpd.read_file(gpkg)
    assert written["phone"].tolist() == ["138****8000"]
    assert written.crs.to_epsg() == 4326


def test_export_of_an_issue_batch_never_writes_raw_phones(tmp_path):
    path = write_csv(tmp_path / "issues.csv", [HEADER, GOOD_ROW])
    out = write_frame(read_issue_file(path).frame, tmp_path / "issues.geojson")
    text = out.read_text(encoding="utf-8")
    assert "13800138000" not in text and "138****8000" in text


def test_export_rejects_unknown_suffix(tmp_path):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    with pytest.raises(ValidationError, match="out.shp"):
        write_frame(frame, tmp_path / "out.shp")


HOSTILE_CELLS = ["=HYPERLINK(\"http://evil\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
                 "\t=1+1", "\r=1+1", "=", "普通文字 =1", "", None, "13812345678"]


@pytest.mark.parametrize("with_images", [False, True])
def test_xlsx_text_that_looks_like_a_formula_stays_text(tmp_path, with_images):
    from PIL import Image as PILImage

    frame = pd.DataFrame({"note": HOSTILE_CELLS, "n": range(len(HOSTILE_CELLS))})
    path = tmp_path / "out.xlsx"
    if with_images:
        png = BytesIO()
        PILImage.new("RGB", (4, 4)).save(png, format="PNG")
        write_xlsx_with_images({"表": frame}, path, images={"地图": png.getvalue()})
    else:
        write_xlsx({"表": frame}, path)
    sheet = openpyxl.load_workbook(path)["表"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2, max_col=1)]
    assert [c.data_type for c in cells if c.value is not None] == ["s"] * 9
    # the phone is masked, every other value is exactly what was written
    assert [c.value for c in cells] == [*HOSTILE_CELLS[:8], None, None, "138****5678"]
    assert [bool(c.quotePrefix) for c in cells] == [True] * 7 + [False] * 4
    assert [row[0].value for row in sheet.iter_rows(min_row=2, min_col=2, max_col=2)] == list(range(11))


def _with_cached_values(path, values: dict[str, str]) -> None:
    """Give formula cells of the first sheet a calculated value, as Excel does when it saves (cell → text)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as book:
        parts = {n: book.read(n) for n in book.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in values.items():
        sheet = re.sub(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?',
                       rf'<c r="{ref}" t="str"><f>\2</f><v>{value}</v>', sheet)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)


def test_xlsx_formulas_without_a_value_refuse_their_row_and_cached_values_are_read(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["工单编号", "受理时间", "经度", "纬度", "问题类型", "问题描述", "地址"])
    sheet.append(["F1", "2025-03-12 08:30", 117.35, 39.10, "暴露垃圾", '=CONCAT("路边","垃圾")', "津北公路"])
    sheet.append(["F2", "2025-03-12 08:30", 117.35, 39.10, "暴露垃圾", "路边垃圾", "=G1"])
    sheet.append(["F3", "2025-03-12 08:30", 117.35, 39.10, "暴露垃圾", "=A1", "东兴路"])
    sheet.append(["OK", "2025-03-12 08:30", 117.35, 39.10, "暴露垃圾", "没有公式", "东兴路"])
    path = tmp_path / "formulas.xlsx"
    workbook.save(path)
    _with_cached_values(path, {"F4": "工单编号"})  # F3's description was calculated when the file was saved
    batch = read_issue_file(path)
    assert batch.frame["external_id"].tolist() == ["F3", "OK"]
    assert batch.frame["description"].tolist() == ["工单编号", "没有公式"]
    assert [(e.file, e.row, e.field, e.value) for e in batch.errors] == [
        ("formulas.xlsx", 2, "description", '=CONCAT("路边","垃圾")'), ("formulas.xlsx", 3, "address", "=G1")]
    assert all("no calculated value" in e.reason for e in batch.errors)
