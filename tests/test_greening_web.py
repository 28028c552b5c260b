"""Greening progress through the web app, the CLI and a real headless Chromium."""

from __future__ import annotations

import re

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import DRAWN_LAYERS, map_document, map_layer
from shapely import LineString

from datetime import datetime

from geo import store
from geo.crs import to_metric, to_wgs84
from geo.greening.progress import greening_issues
from geo.greening.tasks import greening_issue_codes
from geo.greening.views import greening_view
from geo.issue_filter import IssueFilter
from geo.settings import load_settings
from geo.statuses import OPEN_STATUSES
from geo.store.db import make_engine
from geo.taxonomy import load_taxonomy
from webmap.app import create_app
from webmap.cli import main
from webmap.maps.document import MapDocument
from webmap.maps.greening import greening_issue_layer, greening_map, share_colors

AS_OF = "2025-05-20"


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


@pytest.fixture(scope="module")
def view(sample_db):
    engine = make_engine(sample_db.resolved_database_url)
    yield greening_view(engine, jurisdiction_code=sample_db.jurisdiction_code, year=2025, as_of=AS_OF)
    engine.dispose()


def test_sample_progress_has_overdue_work_clipped_records_and_related_issues(view):
    table = view.table
    assert table["road_name"].unique().tolist() == ["津北公路", "先锋东路"] and len(table) == 18
    assert set(table["status"]) >= {"done", "overdue", "in_progress", "not_started"}
    assert ((table["done_m"] <= table["planned_m"] + 1e-6) & (table["done_share"].between(0, 1))).all()
    assert len(view.clipped) == 3 and (view.clipped["road_id"] == "R001").all()
    assert set(view.issues.categories) == {"06017", "06018", "06021", "06022", "06045"}
    assert view.issues.until == pd.Timestamp(AS_OF) + pd.Timedelta(days=1)


@pytest.mark.parametrize("as_of, road", [("2025-05-20", None), ("2025-12-31", None), ("2025-12-31", "先锋东路")])
def test_greening_issue_counts_in_sql_equal_the_pandas_reference(sample_db, as_of, road):
    # the reference: every greening issue of the year read, kept by greening_issues, counted by pandas
    engine = make_engine(sample_db.resolved_database_url)
    j = sample_db.jurisdiction_code
    view = greening_view(engine, jurisdiction_code=j, year=2025, as_of=as_of, road=road)
    codes = greening_issue_codes(load_taxonomy())
    issues = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(
        categories=codes, since=datetime(2025, 1, 1), until=pd.Timestamp(as_of) + pd.Timedelta(days=1)))
    segments = store.read_layer(engine, "segments", jurisdiction_code=j)
    engine.dispose()
    related = greening_issues(issues, segments, view.roads_metric, codes=codes)
    expected = (related.assign(open=related["status"].isin(OPEN_STATUSES)).groupby(["road_id", "category_code"])
                .agg(n_issues=("id", "size"), n_open=("open", "sum")).astype("int64").reset_index())
    assert len(expected) >= 3
    got = view.issue_counts.sort_values(["road_id", "category_code"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.astype({"road_id": got["road_id"].dtype}), check_dtype=False)


def test_greening_page_has_a_table_per_road(client, view):
    page = client.get(f"/greening?year=2025&as_of={AS_OF}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.findall(r'<h2 id="road-\d" data-value>([^<]+)</h2>', html) == ["津北公路", "先锋东路"]
    assert html.count('class="progress greening-table"') == 2
    assert html.count('<tr class="overdue">') == (view.table["status"] == "overdue").sum()
    # The task due around 20 May is pest control (window 1 May – 31 August): it is the one selected and mapped.
    assert '<option value="pest_control" selected>' in html
    assert 'src="/maps/greening?year=2025&amp;as_of=2025-05-20&amp;task=pest_control"' in html
    assert "3 条作业记录超出道路范围" in html
    assert 'href="/greening"' in client.get("/").get_data(as_text=True)


def test_season_and_road_filters_and_the_day_slider(client):
    html = client.get("/greening?year=2025&road=先锋东路&season=summer&day=150").get_data(as_text=True)
    assert re.findall(r'<h2 id="road-\d" data-value>([^<]+)</h2>', html) == ["先锋东路"]
    assert re.findall(r'<option value="(\w+)"(?: selected)?>[^<]+</option>', html)[-2:] == [
        "pest_control",
        "summer_pruning",
    ]
    assert 'id="as-of-label">2025-05-31<' in html and 'value="150"' in html


@pytest.mark.parametrize(
    "query, status, message",
    [
        ("task=mowing", 400, "task=&#39;mowing&#39;"),
        ("year=2025&day=400", 400, "day=&#39;400&#39;"),
        ("season=monsoon", 400, "season &#39;monsoon&#39;"),
        ("road=金桥路", 404, "津北公路、先锋东路"),
        ("year=2019", 404, "no greening plan for 2019"),
    ],
)
def test_bad_greening_requests_are_answered_with_a_message(client, query, status, message):
    answer = client.get(f"/greening?{query}")
    assert answer.status_code == status and message in answer.get_data(as_text=True)
    answer = client.get(f"/maps/greening/data?{query}")
    assert answer.status_code == status and message.replace("&#39;", "'") in answer.get_json()["error"]


def test_greening_map_uses_only_local_assets_and_draws_every_section(client):
    url = f"/maps/greening?year=2025&as_of={AS_OF}&task=pruning"
    urls = re.findall(r'(?:src|href)="([^"]+)"', client.get(url).get_data(as_text=True))
    assert urls and all(u.startswith("/vendor/") for u in urls), urls
    document = map_document(client, url)
    # 津北公路 is 6041.8 m (31 sections of up to 200 m), 先锋东路 4322.2 m (22).
    labels = [f["properties"]["label"] for f in map_layer(document, "修剪进度")["data"]["features"]]
    assert (
        sum(t.startswith("津北公路 K") for t in labels) == 31 and sum(t.startswith("先锋东路 K") for t in labels) == 22
    )
    assert labels[0] == "津北公路 K0+000–K0+200 100%"
    assert document["legend"]["title"] == "修剪完成率"


def test_map_popups_carry_user_text_as_data():
    crs = "EPSG:4326"
    sections = gpd.GeoDataFrame(
        {
            "road_id": ["R1"],
            "name": ["<i>路</i>"],
            "section_no": [1],
            "section_name": ["K0+000–K0+200"],
            "planned_m": [600.0],
            "done_m": [150.0],
            "done_share": [0.25],
            "n_records": [1],
        },
        geometry=[LineString([(117.35, 39.1), (117.352, 39.1)])],
        crs=crs,
    )
    pairs = pd.DataFrame(
        {
            "road_id": ["R1"],
            "section_no": [1],
            "done_on": [pd.Timestamp("2025-04-01")],
            "team": ["<script>alert(1)</script>"],
            "side": ["left"],
            "from_m": [0.0],
            "to_m": [150.0],
            "quantity": [3.0],
            "photo": ["javascript:alert(2)"],
            "note": ["`${document.cookie}`"],
        }
    )
    # an issue 12 m along the road from its start
    road_metric = to_metric(sections, crs="EPSG:4548")
    start = road_metric.geometry.iloc[0].coords[0]
    issues = to_wgs84(gpd.GeoDataFrame(
        {
            "id": [7],
            "category_code": ["06021"],
            "status": ["registered"],
            "reported_at": [pd.Timestamp("2025-04-02")],
            "address": ["<img src=x onerror=alert(3)>"],
            "segment_id": [70],
        },
        geometry=gpd.points_from_xy([start[0] + 12.0], [start[1] + 3.0]),
        crs="EPSG:4548",
    ))
    boundary = gpd.GeoDataFrame(geometry=[sections.geometry.iloc[0].buffer(0.01)], crs=crs)
    roads = sections.assign(road_class="arterial", is_priority=True)
    document = (
        greening_map(
            boundary=boundary,
            roads=roads,
            sections=sections,
            section_records=pairs,
            issue_count=1,
            source="/maps/greening/points",
            task_name="修剪",
            unit="株",
            as_of=pd.Timestamp("2025-04-20"),
            settings=load_settings(environ={}),
        )
        .as_dict()
    )
    [section] = map_layer(document, "修剪进度")["data"]["features"]
    live = map_layer(document, "绿化相关问题（1）")
    assert live["kind"] == "live" and live["source"] == "/maps/greening/points" and live["show"] is False
    layer = greening_issue_layer(IssueFilter(categories=["06021"]), segments=pd.DataFrame({"segment_id": [70],
                                                                                           "road_id": ["R1"]}),
                                 roads_metric=road_metric.assign(length_m=road_metric.length),
                                 category_names={"06021": "病虫害"})
    [issue] = MapDocument((117.3, 39.0, 117.4, 39.2), load_settings(environ={})).feature_collection(
        layer.describe(issues), layer.properties)["features"]
    # every value as typed, as plain text: the renderer never reads them as HTML
    assert section["properties"]["title"] == "<i>路</i> K0+000–K0+200"
    assert section["properties"]["progress"] == "25%（150 / 600 m，各侧合计）"
    [line] = section["properties"]["lines"]
    assert line == ("2025-04-01 <script>alert(1)</script> · 左侧 K0+000–K0+150 · 3 株 · 照片 javascript:alert(2)"
                    " · `${document.cookie}`")
    # a photo is linked only when it is a path of this server
    assert section["properties"]["photos"] is None
    assert issue["properties"]["address"] == "<img src=x onerror=alert(3)>"
    assert issue["properties"]["title"] == "#7 病虫害" and issue["properties"]["state"] == "2025-04-02 · 已立案 · K0+012"


def test_share_colours():
    shares = pd.Series([float("nan"), 0.0, 0.2, 0.5, 0.99, 1.0])
    assert share_colors(shares).tolist() == ["#9e9e9e", "#d73027", "#fc8d59", "#fc8d59", "#fee08b", "#1a9850"]


def test_cli_progress_prints_and_exports(sample_db, tmp_path):
    out = tmp_path / "progress.xlsx"
    result = CliRunner().invoke(
        main,
        [
            "--database-url",
            sample_db.resolved_database_url,
            "greening",
            "progress",
            "--road",
            "先锋东路",
            "--season",
            "spring",
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "绿化进度 2025 年，截至 2025-05-20"
    assert len([line for line in lines if line.startswith("先锋东路")]) == 5
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["进度", "季节汇总", "超出范围", "相关问题"]
    sheet = book["进度"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["道路", "作业", "季节"] and sheet.max_row == 6
    assert [sheet.cell(row=r, column=2).value for r in range(2, 7)] == [
        "返青水",
        "防寒围挡拆除",
        "树挂清理",
        "修剪",
        "补植补种",
    ]


def test_cli_load_sample_and_import_with_a_bad_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    runner = CliRunner()
    loaded = runner.invoke(main, ["--database-url", url, "load-sample", "--no-issues"])
    assert loaded.exit_code == 0, loaded.output
    assert "greening plan: 108 rows; records_2025.csv: 1212 rows read, 1212 greening records loaded" in loaded.output
    path = tmp_path / "more.csv"
    path.write_text(
        "道路,作业,侧别,起点桩号,终点桩号,作业日期,班组\n"
        "津北公路,夏季修剪,左侧,0,200,2025-06-03,绿化一队\n津北公路,割草,左侧,0,200,2025-06-03,绿化一队\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["--database-url", url, "greening", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "more.csv: row 3: task: unknown task" in result.output
    assert "2 rows read, 1 greening records loaded, 0 already present, 1 rows rejected" in result.output
    strict = runner.invoke(main, ["--database-url", url, "greening", "import", "--strict", str(path)])
    assert strict.exit_code == 1 and "--strict loads nothing" in strict.output


@pytest.mark.browser
def test_greening_page_in_chromium(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/greening?year=2025&as_of=2025-04-20&task=pruning", wait_until="networkidle")
    page.frame_locator("#greening-map").locator(".leaflet-container").wait_for()
    map_frame = page.frame(url=re.compile(r"/maps/greening"))
    assert map_frame.evaluate(DRAWN_LAYERS)["state"] == "true"
    sections = "citymapMap.drawn.find(d => d.name.startsWith('修剪进度')).layer"
    colors = map_frame.evaluate(f"() => {sections}.getLayers().map(s => s.options.color)")
    assert len(colors) == 53 and set(colors) <= {"#d73027", "#fc8d59", "#fee08b", "#1a9850", "#9e9e9e"}
    # Open the popup of 津北公路's last full section: it lists its pruning records.
    map_frame.evaluate(f"""() => {{
        const s = {sections}.getLayers()[29];
        s.fire('click', {{latlng: s.getBounds().getCenter()}}, true);
    }}""")
    popup = page.frame_locator("#greening-map").locator(".leaflet-popup-content")
    popup.wait_for()
    assert "津北公路 K5+800–K6+000" in popup.inner_text() and "修剪" in popup.inner_text()
    # Moving the season slider re-queries the page and the map for the new day.
    with page.expect_navigation(wait_until="networkidle"):
        page.locator("#day-slider").evaluate("s => { s.value = 200; s.dispatchEvent(new Event('change')); }")
    assert page.locator("#as-of-label").inner_text() == "2025-07-20"
    assert "as_of=2025-07-20" in page.locator("#greening-map").get_attribute("src")
    page.frame_locator("#greening-map").locator(".leaflet-container").wait_for()
    assert errors == []
    assert outside == []
