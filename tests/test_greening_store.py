"""Greening files (plan and work records), their storage on both back ends, and the sample."""

from __future__ import annotations

import importlib.util

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import Workbook
from shapely import LineString
from sqlalchemy.exc import IntegrityError

from geo import store
from geo.errors import ImportRejected
from geo.greening import files
from geo.greening.tasks import load_greening_tasks
from geo.greening.views import with_geometry

TASKS = load_greening_tasks()
J = "120110900"
X0, Y0 = 532_000.0, 4_331_000.0
ROADS = gpd.GeoDataFrame(
    {"road_id": ["R001", "R002", "R003", "R004"], "name": ["津北公路", "先锋东路", "同名路", "同名路"]},
    geometry=[
        LineString([(X0, Y0), (X0 + 600, Y0), (X0 + 600, Y0 + 400)]),
        LineString([(X0, Y0), (X0, Y0 + 800)]),
        LineString([(X0, Y0), (X0 + 10, Y0)]),
        LineString([(X0, Y0 + 5), (X0 + 10, Y0 + 5)]),
    ],
    crs="EPSG:4548",
)
ROADS["length_m"] = ROADS.length


def write_csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_record_file_reports_bad_rows_like_the_issue_import(tmp_path):
    path = write_csv(
        tmp_path / "records.csv",
        "\n".join(
            [
                "记录编号,道路,作业,侧别,起点桩号,终点桩号,桩号,作业日期,班组,数量,照片,备注",
                "A1,津北公路,修剪,左侧,0,250,,2025-04-01,绿化一队,40,photos/a1.jpg,",
                "A2,R002,pruning,right,K0+100,K0+350.5,,2025/4/2,绿化二队,,,",
                "A3,先锋东路,补植补种,中央分隔带,,,K0+420,2025年4月3日,绿化二队,3,,单株",
                "A4,金桥路,修剪,左侧,0,10,,2025-04-01,,,,",
                "A5,津北公路,浇花,左,0,10,,2025-04-01,,,,",
                "A6,津北公路,修剪,上面,0,10,,2025-04-01,,,,",
                "A7,津北公路,修剪,左侧,300,200,,2025-04-01,,,,",
                "A8,津北公路,修剪,左侧,1200,1300,,2025-04-01,,,,",
                "A9,津北公路,修剪,左侧,900,1100,,2025-04-01,,,,",
                "A1,津北公路,修剪,左侧,0,10,,2025-04-01,,,,",
                "A11,津北公路,修剪,左侧,0,10,,明天,,-2,,",
                "A12,津北公路,修剪,左侧,,10,,2025-04-01,,,,",
                "A13,同名路,修剪,左侧,0,5,,2025-04-01,,,,",
                "A14,津北公路,修剪,右侧,abc,-5,,2025-04-01,,,,",
                "",
            ]
        ),
    )
    batch = files.read_greening_records(path, roads=ROADS, tasks=TASKS)
    good = batch.frame
    assert good["external_id"].tolist() == ["A1", "A2", "A3", "A9"]
    assert good["road_id"].tolist() == ["R001", "R002", "R002", "R001"]
    assert good["task_code"].tolist() == ["pruning", "pruning", "replanting", "pruning"]
    assert good["side"].tolist() == ["left", "right", "median", "left"]
    assert good["from_m"].tolist() == [0.0, 100.0, 420.0, 900.0]
    assert good["to_m"].tolist() == [250.0, 350.5, 420.0, 1100.0]  # A9 runs past the end: kept, clipped later
    assert good["done_on"].tolist() == list(pd.to_datetime(["2025-04-01", "2025-04-02", "2025-04-03", "2025-04-01"]))
    assert good["quantity"].tolist()[0] == 40.0 and pd.isna(good["quantity"].iloc[1])
    assert good["row"].tolist() == [2, 3, 4, 10]
    by_row = {(e.row, e.field): e for e in batch.errors}
    assert by_row[(5, "road")].value == "金桥路"
    assert by_row[(6, "task")].value == "浇花" and "修剪" in by_row[(6, "task")].reason
    assert by_row[(7, "side")].value == "上面"
    assert by_row[(8, "to_m")].reason == "smaller than from_m"
    assert by_row[(9, "from_m")].reason == "beyond the road's end (1000.0 m)"
    assert by_row[(11, "external_id")].reason == "duplicate of row 2"
    assert by_row[(12, "done_on")].value == "明天" and by_row[(12, "quantity")].value == "-2"
    assert by_row[(13, "from_m")].reason.startswith("missing")
    assert by_row[(14, "road")].reason.startswith("unknown road")  # two roads share the name
    assert by_row[(15, "from_m")].value == "abc" and by_row[(15, "to_m")].reason == "negative chainage"
    assert str(by_row[(5, "road")]).startswith("records.csv: row 5: road:")


def test_record_workbook_with_a_title_row(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["2025年重点道路绿化作业记录"])
    sheet.append(["编号", "道路", "作业", "侧别", "起点", "终点", "日期", "数量"])
    sheet.append(["B1", "先锋东路", "返青水", "右", 0, 120.5, "2025-03-05", 20])
    path = tmp_path / "records.xlsx"
    book.save(path)
    batch = files.read_greening_records(path, roads=ROADS, tasks=TASKS)
    assert batch.errors == []
    assert batch.frame[["external_id", "task_code", "side", "to_m", "row"]].values.tolist() == [
        ["B1", "spring_watering", "right", 120.5, 3]
    ]


def test_plan_file_is_all_or_nothing_and_defaults_the_due_date(tmp_path):
    good = write_csv(
        tmp_path / "plan.csv",
        "道路,作业,侧别,起点桩号,终点桩号,截止日期,路段,班组\n"
        "津北公路,修剪,左侧,0,500,,西段,绿化一队\n先锋东路,补植补种,右侧,0,800,2025-05-01,,绿化二队\n",
    )
    plan = files.read_greening_plan(good, roads=ROADS, tasks=TASKS, year=2025)
    assert plan["due_date"].tolist() == [pd.Timestamp("2025-04-30"), pd.Timestamp("2025-05-01")]
    assert plan["section_name"].tolist()[0] == "西段" and plan["year"].tolist() == [2025, 2025]
    bad = write_csv(
        tmp_path / "bad.csv",
        "道路,作业,侧别,起点桩号,终点桩号,截止日期\n"
        "津北公路,修剪,左侧,0,500,2024-04-30\n津北公路,修剪,左侧,100,100,\n津北公路,修剪,左侧,0,500,\n",
    )
    with pytest.raises(ImportRejected) as caught:
        files.read_greening_plan(bad, roads=ROADS, tasks=TASKS, year=2025)
    assert [(e.row, e.field) for e in caught.value.errors] == [(2, "due_date"), (3, "to_m")]


def _records_frame() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {
            "external_id": ["X1", "X2", None],
            "road_id": ["R001", "R001", "R002"],
            "task_code": ["pruning", "pruning", "replanting"],
            "side": ["left", "right", "median"],
            "from_m": [0.0, 550.0, 300.0],
            "to_m": [700.0, 1000.0, 300.0],
            "done_on": pd.to_datetime(["2025-04-01", "2025-04-20", "2025-05-02"]),
            "team": ["绿化一队", "绿化二队", None],
            "quantity": [12.0, None, 2.0],
            "photo": ["photos/x1.jpg", None, None],
            "note": [None, "<b>返工</b>", None],
            "source": "test",
        }
    )
    return with_geometry(frame, ROADS)


def test_greening_storage_round_trip(db_engine):
    plan = pd.DataFrame(
        {
            "year": 2025,
            "road_id": ["R001", "R002"],
            "task_code": ["pruning", "replanting"],
            "side": ["left", "median"],
            "from_m": [0.0, 0.0],
            "to_m": [1000.0, 800.0],
            "due_date": pd.to_datetime(["2025-04-30", "2025-05-15"]),
            "team": ["绿化一队", None],
        }
    )
    assert store.replace_greening_plan(db_engine, plan, jurisdiction_code=J, year=2025) == 2
    assert store.replace_greening_plan(db_engine, plan.iloc[:1], jurisdiction_code=J, year=2025) == 1
    stored = store.read_greening_plan(db_engine, jurisdiction_code=J, year=2025)
    assert stored[["road_id", "task_code", "side", "to_m", "team"]].values.tolist() == [
        ["R001", "pruning", "left", 1000.0, "绿化一队"]
    ]
    assert stored["due_date"].tolist() == [pd.Timestamp("2025-04-30")]
    assert store.read_greening_plan(db_engine, jurisdiction_code=J, year=2024).empty

    records = _records_frame()
    first = store.insert_greening_records(db_engine, records, jurisdiction_code=J)
    again = store.insert_greening_records(db_engine, records, jurisdiction_code=J)
    assert (first.inserted, first.skipped) == (3, 0)
    # X1 and X2 are known; the record without an id cannot be matched and goes in again.
    assert (again.inserted, again.skipped) == (1, 2)
    read = store.read_greening_records(db_engine, jurisdiction_code=J, road_ids=["R001"], until="2025-04-30")
    assert read["external_id"].tolist() == ["X1", "X2"]
    assert read["note"].tolist() == [None, "<b>返工</b>"]
    assert read["done_on"].tolist() == list(pd.to_datetime(["2025-04-01", "2025-04-20"]))
    assert read.crs.equals("EPSG:4326") and read.geom_type.tolist() == ["LineString", "LineString"]
    # The stored stretch is the road from 0 to 700 m: it turns the corner at 600 m.
    assert read.geometry.iloc[0].equals_exact(records.geometry.iloc[0], 1e-9)
    assert read.to_crs("EPSG:4548").length.iloc[0] == pytest.approx(700.0, abs=0.01)
    spots = store.read_greening_records(db_engine, jurisdiction_code=J, since="2025-05-01")
    assert spots.geom_type.tolist() == ["Point", "Point"] and spots["quantity"].tolist() == [2.0, 2.0]
    assert store.read_greening_records(db_engine, jurisdiction_code="999999999").empty


def test_a_failed_record_load_leaves_nothing_behind(db_engine):
    records = _records_frame()
    records.loc[1, "side"] = None  # NOT NULL: the second row fails after the first went in
    with pytest.raises(IntegrityError):
        store.insert_greening_records(db_engine, records, jurisdiction_code=J)
    assert store.read_greening_records(db_engine, jurisdiction_code=J).empty


def test_sample_greening_files_equal_a_fresh_generation_and_read_cleanly(repo_root, tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_data", repo_root / "scripts" / "make_sample_data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    from geo.sample import make_layers
    from geo.sample.greening import make_greening

    roads = make_layers()["roads"]
    plan, records = make_greening(roads, year=2025)
    for name, frame in zip(script.GREENING_FILES, (plan, records)):
        out = tmp_path / name
        frame.to_csv(out, index=False, encoding="utf-8", lineterminator="\n")
        assert (repo_root / "data" / script.GREENING_FILES[name]).read_bytes() == out.read_bytes()
    metric = roads.to_crs("EPSG:4548").assign(length_m=lambda f: f.length)
    stored_plan = files.read_greening_plan(
        repo_root / "data" / script.GREENING_FILES["greening_plan"], roads=metric, tasks=TASKS, year=2025
    )
    assert len(stored_plan) == 2 * len(TASKS) * 3 * 2
    batch = files.read_greening_records(
        repo_root / "data" / script.GREENING_FILES["greening_records"], roads=metric, tasks=TASKS
    )
    assert batch.errors == [] and len(batch.frame) == len(records)
    assert set(batch.frame["road_id"]) == {"R001", "R002"}
    assert (batch.frame["from_m"] == batch.frame["to_m"]).sum() == 6
    assert (batch.frame["to_m"] > batch.frame["road_id"].map(metric.set_index("road_id")["length_m"])).sum() == 3


@pytest.mark.parametrize("photo, accepted", [
    ("IMG_0012.jpg", True), ("photos/2025/GR-0001.jpg", True), ("现场照片1.jpg", True),
    ("//evil.example/x.jpg", False), ("/\\evil.example", False), ("http://evil.example/x.jpg", False),
    ("javascript:alert(1)", False), ("../../etc/passwd", False), ("/photos/x.jpg", False), ("a b.jpg", False),
])
def test_a_greening_photo_reference_is_a_field_app_file_name_never_a_link(tmp_path, photo, accepted):
    path = tmp_path / "records.csv"
    pd.DataFrame([{"道路": "津北公路", "作业": "修剪", "侧别": "左侧", "起点桩号": 0, "终点桩号": 100,
                   "作业日期": "2025-04-01", "照片": photo},
                  {"道路": "津北公路", "作业": "修剪", "侧别": "右侧", "起点桩号": 0, "终点桩号": 100,
                   "作业日期": "2025-04-01", "照片": ""}]).to_csv(path, index=False)
    batch = files.read_greening_records(path, roads=ROADS, tasks=TASKS)
    assert len(batch.frame) == (2 if accepted else 1)
    assert [(e.row, e.field, e.value) for e in batch.errors] == ([] if accepted else [(2, "photo", photo)])


@pytest.mark.parametrize("ref, link", [
    ("/photos/" + "a" * 32 + ".jpg", "/photos/" + "a" * 32 + ".jpg"), ("b" * 32 + ".png", "/photos/" + "b" * 32 + ".png"),
    ("photos/2025/GR-0001.jpg", None), ("//evil/x.jpg", None), ("/\\evil", None), ("/\t/evil", None),
    ("/photos/../" + "a" * 32 + ".jpg", None), (None, None), (float("nan"), None),
])
def test_only_photos_citymap_stored_are_linked_on_the_map(ref, link):
    from webmap.maps.greening import stored_photo_path

    assert stored_photo_path(ref) == link
