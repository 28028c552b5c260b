"""Coverage, league table, plan-task board and weekly report through the app, the CLI and headless Chromium."""

from __future__ import annotations

import io
import re
from datetime import datetime

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import DRAWN_LAYERS, map_document, map_layer

from geo.clock import local_now
from geo.loop import views as loop_views
from webmap.app import create_app
from webmap.cli import main


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


def cells_text(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]


def test_league_table_lists_departments_best_first(client, sample_engine, sample_db):
    html = client.get("/league?month=2025-12&lang=zh").get_data(as_text=True)
    table = html.split('id="league-table"', 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>(.*?)</th>", table)
    assert header[:5] == ["科室", "立案数", "应结案数", "结案数", "按期结案数"]
    rows = re.findall(r'<tr data-code="([^"]+)"><td class="name"(?: data-value)?>([^<]+)</td>(.*?)</tr>', table, re.S)
    expected = loop_views.league(sample_engine, sample_db, start=datetime(2025, 12, 1), end=datetime(2026, 1, 1),
                                 now=local_now())
    shown = [code for code, _name, _cells in rows]
    assert shown == [c for c in expected.index if c in shown]
    cells = {code: re.findall(r"<td[^>]*>([^<]*)</td>", rest) for code, _name, rest in rows}
    on_time = [float(cells[c][header.index("按期结案率(%)") - 1]) for c in shown if cells[c][header.index("按期结案率(%)") - 1] != "—"]
    assert on_time == sorted(on_time, reverse=True)
    west = dict((code, name) for code, name, _ in rows)["sanitation_west"]
    assert west == "西片环卫一体化作业单位"
    assert int(cells["sanitation_west"][header.index("应结案数") - 1]) == expected.loc["sanitation_west", "due"] > 0
    assert 'action="/reports/weekly.xlsx"' in html


def test_plan_task_board_shows_all_24_tasks_with_departments(client):
    html = client.get("/plan-tasks?month=2025-12").get_data(as_text=True)
    assert len(re.findall(r'<section class="task[^"]*" id="task-\d+"', html)) == 24
    task14 = html.split('id="task-14"', 1)[1].split("</section>", 1)[0]
    assert "开展重点道路绿化美化提升行动" in task14 and "公共管理办（市容环卫）" in task14
    task2 = html.split('id="task-2"', 1)[1].split("</section>", 1)[0]
    assert "城建办" in task2 and "综合执法大队" in task2 and "07001" in task2


def test_coverage_page_figures_match_the_analysis(client, sample_engine, sample_db):
    html = client.get("/coverage?team=sanitation_west").get_data(as_text=True)
    view = loop_views.coverage_view(sample_engine, sample_db, team="sanitation_west", until=datetime(2026, 1, 1), days=7,
                              now=local_now())
    share = re.search(r'id="fig-cell-share">([\d.]+)%', html)[1]
    assert float(share) == round(view.result.cell_share * 100, 1)
    assert 0 < view.result.cell_share < 1 and 0 < view.result.road_share < 1
    assert 'value="2025-12-31"' in html
    m = client.get("/maps/coverage?team=sanitation_west&until=2025-12-31&days=7").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', m)
    assert urls and all(u.startswith("/vendor/") for u in urls), urls
    unvisited = view.result.cells_total - view.result.cells_visited
    layer = map_layer(map_document(client, "/maps/coverage?team=sanitation_west&until=2025-12-31&days=7"),
                      "未巡查单元网格")
    assert layer["name"] == f"未巡查单元网格（{unvisited}）" and len(layer["data"]["features"]) == unvisited


@pytest.mark.parametrize("query, status, message", [
    ("/coverage?team=nobody", 404, "nobody"),
    ("/coverage?days=abc", 400, "days"),
    ("/coverage?until=2025-13-01", 400, "until"),
    ("/league?month=2025-13", 400, "month"),
    ("/reports/weekly.xlsx?week=2025-50", 400, "YYYY-Www"),
])
def test_bad_requests_get_a_message(client, query, status, message):
    response = client.get(query)
    assert response.status_code == status and message in response.get_data(as_text=True)


def test_weekly_report_download_and_cli(client, sample_db, tmp_path):
    response = client.get("/reports/weekly.xlsx?week=2025-W50")
    assert response.status_code == 200 and "weekly-report-2025-W50.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "概况" and "地图" in book.sheetnames
    out = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["report", "--week", "2025-W50", "--out", str(out)],
                                env={"CITYMAP_DATA_DIR": str(sample_db.data_dir)})
    assert result.exit_code == 0, result.output
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(out)["概况"].iter_rows(values_only=True)}
    web = {r[0]: r[1] for r in book["概况"].iter_rows(values_only=True)}
    assert summary["应结案数"] == web["应结案数"] and summary["结案率(%)"] == web["结案率(%)"]
    bad = CliRunner().invoke(main, ["report", "--week", "W50", "--out", str(out)],
                             env={"CITYMAP_DATA_DIR": str(sample_db.data_dir)})
    assert bad.exit_code == 1 and "YYYY-Www" in bad.output


# --------------------------------------------------------------------------- headless Chromium

@pytest.mark.browser
def test_coverage_page_in_chromium(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/coverage?team=sanitation_east", wait_until="networkidle")
    page.frame_locator("#coverage-map").locator(".leaflet-container").wait_for()
    drawn = page.frame(url=re.compile(r"/maps/coverage")).evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true"
    unvisited = [d["features"] for d in drawn["layers"] if d["name"].startswith("未巡查单元网格")]
    total = page.locator("#fig-cell-share").locator("xpath=..").inner_text()
    visited, cells = (int(v) for v in re.search(r"（(\d+) / (\d+)）", total).groups())
    assert unvisited == [cells - visited]
    page.frame_locator("#coverage-map").locator(".leaflet-control-layers").hover()
    labels = page.frame_locator("#coverage-map").locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("未巡查单元网格" in t for t in labels) and any("未结案问题" in t for t in labels)
    assert errors == []
    assert outside == []


@pytest.mark.browser
def test_league_table_and_plan_task_board_in_chromium(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/", wait_until="networkidle")
    with page.expect_navigation(wait_until="networkidle"):
        page.locator("#league-link").click()
    assert page.locator("#league-table tr").count() > 5
    page.locator("#month-input").fill("2025-12")
    with page.expect_navigation(wait_until="networkidle"):
        page.locator("#month-input").press("Enter")
    assert "2025-12" in page.locator("header h1").inner_text()
    with page.expect_navigation(wait_until="networkidle"):
        page.locator("#plan-tasks-link").click()
    assert page.locator("#plan-task-board section.task").count() == 24
    assert "津北公路" not in page.locator("#task-14 h2").inner_text()  # the title, not the roads
    assert page.locator("#task-14 h2 span").first.inner_text() == "开展重点道路绿化美化提升行动"
    assert errors == []
    assert outside == []
