"""The supervisors' pages of issue 17: dashboard figures, safe defaults, names, both languages, charts, caching.

Pages through Flask's test client; charts and maps in headless Chromium (no request may leave
127.0.0.1); the weekly workbook read back with openpyxl.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta

import openpyxl
import pytest
from ui_language import chinese_runs, english_words

from geo import store
from geo.clock import local_now
from geo.loop import metrics
from geo.loop import views as loop_views
from geo.store.db import make_engine
from webmap.app import create_app

#: the supervisors' pages (issue 17), each with a query that exercises it
PAGES = ("/", "/hotspots", "/hotspots?since=2025-12-31&until=2025-12-31&source=12345", "/emerging",
         "/emerging?cell=120110900004031", "/coverage", "/league", "/league?month=2025-06", "/plan-tasks",
         "/greening", "/greening?year=2025&day=160")
#: English that stays on a Chinese page: names of methods and their authors, statistics' letters
ALLOWED_ON_CHINESE = {"Getis-Ord", "z", "p", "ArcGIS", "Pro", "Mann", "Kendall", "Open", "GPS"}


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


def _page(client, url: str, lang: str) -> str:
    answer = client.get(url + ("&" if "?" in url else "?") + f"lang={lang}")
    assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:300])
    return answer.get_data(as_text=True)


@pytest.mark.parametrize("url", PAGES)
def test_each_page_speaks_one_language_and_shows_no_nan(client, url):
    chinese, english = _page(client, url, "zh"), _page(client, url, "en")
    assert english_words(chinese, allow=ALLOWED_ON_CHINESE) == set()
    assert chinese_runs(english) == set()
    for html in (chinese, english):
        shown = " ".join(re.sub(r"<script.*?</script>", "", html, flags=re.S).split())
        assert not re.search(r"\b(nan|NaN|None|NaT)\b", re.sub(r"<[^>]+>", " ", shown)), url
        # codes are not names: no raw community-team code as visible text
        assert not re.search(r">\s*community:\d+", html)


def test_switching_language_keeps_the_query_string(client):
    html = _page(client, "/league?month=2025-06", "zh")
    link = re.search(r'id="lang-switch" href="([^"]+)"', html)[1].replace("&amp;", "&")
    assert link == "?month=2025-06&lang=en"


def test_home_tiles_are_the_figures_of_the_latest_day_with_data(client, sample_engine, sample_db):
    html = _page(client, "/", "zh")
    now = local_now()
    issues = store.query_issues(sample_engine, jurisdiction_code=sample_db.jurisdiction_code, columns=metrics.METRIC_COLUMNS)
    day = min(issues["reported_at"].max(), now).normalize()
    assert "数据截至 " + f"{day:%Y-%m-%d}" in html and f"今天是 {now:%Y-%m-%d}" in html
    shown = {key: re.search(rf'id="fig-{key}"[^>]*>([^<]+)<', html)[1]
             for key in ("new-today", "closed-today", "open", "overdue", "on-time-rate", "total")}
    that_day = metrics.home_figures(issues, now=(day + timedelta(days=1) - timedelta(microseconds=1)).to_pydatetime())
    assert int(shown["new-today"]) == that_day["new_today"] > 0
    assert int(shown["closed-today"]) == that_day["closed_today"]
    assert int(shown["open"]) == int(issues["status"].isin(metrics.OPEN_STATUSES).sum())
    assert int(shown["overdue"]) == int(metrics.overdue_mask(issues, now=now).sum())
    month = loop_views.month_span(day.date())
    expected = metrics.period_figures(issues, start=month[0], end=month[1], now=now)
    assert shown["on-time-rate"] == f"{expected['on_time_rate_pct']:.2f}%"
    assert int(shown["total"]) == len(issues)
    # the last 7 days against the 7 before, as the tile says
    week = issues["reported_at"].between(day - timedelta(days=6), day + timedelta(days=1), inclusive="left")
    assert f"近 7 天 {int(week.sum())}（" in html
    # each tile opens its list
    assert re.search(r'id="tile-open" href="/issues\?status=open"', html)
    assert re.search(rf'id="tile-new-today" href="/issues\?since={day:%Y-%m-%d}&amp;until={day:%Y-%m-%d}"', html)


def _chart_spec(html: str, chart_id: str) -> dict:
    return json.loads(re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)[1])


def test_home_charts_hold_the_days_weeks_and_the_departments_ranked_by_name(client, sample_engine, sample_db):
    html = _page(client, "/", "zh")
    daily = _chart_spec(html, "chart-daily")
    assert len(daily["categories"]) == loop_views.DASHBOARD_DAYS and [s["name"] for s in daily["series"]] == [
        "新增", "结案", "逾期"]
    weekly = _chart_spec(html, "chart-weekly")
    assert len(weekly["categories"]) == loop_views.DASHBOARD_WEEKS
    departments = _chart_spec(html, "chart-departments")
    rates = departments["series"][0]["values"]
    assert rates == sorted(rates, reverse=True) and len(rates) > 5
    assert "公共管理办（市容环卫）" in departments["categories"]
    assert not any(c.startswith("community:") or c.isascii() for c in departments["categories"])
    assert all(link.startswith("/issues?department=") for link in departments["links"])
    english = _chart_spec(_page(client, "/", "en"), "chart-departments")
    assert any("Sanitation" in c for c in english["categories"])


def test_hotspots_withhold_gi_classes_in_a_period_with_too_few_issues(client):
    html = _page(client, "/hotspots?since=2025-12-31&until=2025-12-31&source=12345", "zh")
    issues = int(re.search(r'id="fig-issues">(\d+)<', html)[1])
    assert 0 < issues < 30
    assert 'id="gi-withheld"' in html and "至少要有 30 件问题" in html
    assert re.search(r'id="fig-hot">—<', html)
    document = client.get("/maps/hotspots/data?since=2025-12-31&until=2025-12-31&source=12345&lang=zh").get_json()
    assert "不判定冷热点" in document["message"] and "未做 Gi* 判定" in document["legend"]["title"]
    full = _page(client, "/hotspots", "zh")
    assert 'id="gi-withheld"' not in full and int(re.search(r'id="fig-issues">(\d+)<', full)[1]) >= 30


def test_hotspot_default_period_skips_a_few_reports_made_today(sample_copy, login):
    from geo.hotspots.views import default_period
    from geo.io.ingest import assign_and_schedule, read_layers

    engine = make_engine(sample_copy.resolved_database_url)
    try:
        import geopandas as gpd

        today = local_now()
        two = gpd.GeoDataFrame({"source": "web", "external_id": ["T1", "T2"], "source_system": "wgs84",
                                "category_code": "06010", "reported_at": [today, today]},
                               geometry=gpd.points_from_xy([117.36, 117.37], [39.1, 39.1]), crs="EPSG:4326")
        layers = read_layers(engine, jurisdiction_code=sample_copy.jurisdiction_code)
        store.insert_issues(engine, assign_and_schedule(two, layers, settings=sample_copy),
                            jurisdiction_code=sample_copy.jurisdiction_code,
                            file="web", actor="test")
        since, until = default_period(engine, sample_copy)
        assert until == datetime(2026, 1, 1) and since == datetime(2025, 12, 2)
    finally:
        engine.dispose()


def test_top_cells_are_named_by_community_and_road(client):
    html = _page(client, "/hotspots", "zh")
    body = html.split('id="top-cells"', 1)[1].split("</table>", 1)[0]
    places = re.findall(r"<td><span data-value>([^<]+)</span>", body)
    assert len(places) == 10 and all(p.endswith(("路", "里", "园", "社区", "苑", "道", "街", "巷")) or "·" in p
                                     for p in places)
    assert all(re.match(r"\D", p) for p in places)


def test_emerging_cell_shows_its_series_and_the_reason_of_its_class(client):
    html = _page(client, "/emerging?cell=120110900004031", "zh")
    assert 'id="cell"' in html and "分类依据：" in html
    spec = _chart_spec(html, "chart-cell")
    assert len(spec["categories"]) == 12 and sum(spec["series"][0]["values"]) >= 1
    english = _page(client, "/emerging?cell=120110900004031", "en")
    assert "Why: " in english and "none of the classes" in english
    assert client.get("/emerging?cell=nowhere").status_code == 404
    document = client.get("/maps/emerging/data?lang=zh").get_json()
    layer = next(layer for layer in document["layers"] if layer["name"] == "时空热点类型")
    href = layer["data"]["features"][0]["properties"]["href"]
    assert re.fullmatch(r"/emerging\?cell=\d{15}#cell", href)


def test_league_folds_empty_rows_names_departments_and_compares_with_last_month(client, sample_engine, sample_db):
    html = _page(client, "/league?month=2025-12", "zh")
    assert "上月按期结案率" in html and "与上月（2025-11）比较" in html
    table = html.split('id="league-table"', 1)[1].split("</table>", 1)[0]
    names = re.findall(r'<td class="name"(?: data-value)?>([^<]+)</td>', table)
    league = loop_views.league(sample_engine, sample_db, start=datetime(2025, 12, 1), end=datetime(2026, 1, 1),
                               now=local_now(), densities=False)
    active = league[(league[["registered", "due", "handled", "backlog"]].sum(axis=1) > 0)]
    # a community's team is named as on every page: the community's name and （社区）
    known = loop_views.department_names(sample_engine, sample_db)
    assert names == [known.get(code, name) for code, name in zip(active.index, active["name"])]
    assert all(re.search(rf'data-code="{code}"><td class="name" data-value>', table)
               for code in active.index if code.startswith("community:"))
    assert 'id="league-folded"' in html or len(active) == len(league)
    assert _chart_spec(html, "chart-league")["series"][1]["name"] == "按期结案率 2025-11"
    default = _page(client, "/league", "zh")
    assert "显示 2025-12：最近有上报的月份" in default


def test_plan_task_board_colours_progress_and_overdue(client, sample_engine, sample_db):
    html = _page(client, "/plan-tasks?month=2025-12", "zh")
    states = dict(re.findall(r'id="task-(\d+)" data-state="([\w-]+)"', html))
    assert len(states) == 24
    board = loop_views.plan_task_board(sample_engine, sample_db, start=datetime(2025, 12, 1), end=datetime(2026, 1, 1),
                                       now=local_now())
    late = {str(n) for n, row in board.iterrows() if row["overdue"] > 0}
    assert {n for n, s in states.items() if s == "task-late"} == late
    quiet = {str(n) for n, row in board.iterrows() if not (row["due"] or row["registered"] or row["backlog"])}
    assert {n for n, s in states.items() if s == "task-quiet"} == quiet
    task1 = html.split('id="task-1"', 1)[1].split("</section>", 1)[0]
    row = board.loc[1]
    assert f"结案 {row['closed']} / 应结案 {row['due']}" in task1 and 'class="progress"' in task1
    assert _chart_spec(html, "chart-tasks")["kind"] == "stack"


def test_greening_defaults_to_the_latest_record_and_formats_lengths(client):
    html = _page(client, "/greening", "zh")
    assert "2025 年最近一条作业记录的日期" in html
    assert not re.search(r">\d{4,}\.0<", html) and re.search(r">\d{1,3},\d{3}<", html)
    june = _page(client, "/greening?year=2025&day=160", "zh")
    assert re.search(r'<option value="(pest_control|summer_pruning)" selected>', june)
    document = client.get("/maps/greening/data?year=2025&day=160&lang=zh").get_json()
    names = [layer["name"] for layer in document["layers"]]
    assert "道路名称" in names
    issues = next(layer for layer in document["layers"] if (layer["name"] or "").startswith("绿化相关问题"))
    assert issues["show"] is False


def test_maps_are_compressed_and_answer_304_while_unchanged(client):
    first = client.get("/maps/overview/data", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["Cache-Control"] == "private, no-cache"
    assert len(first.data) < 200_000
    again = client.get("/maps/overview/data", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    page = client.get("/maps/overview")
    assert client.get("/maps/overview", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    # pages hold the CSRF token: never compressed, never kept
    home = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in home.headers and home.headers["Cache-Control"] == "private, no-store"


def test_weekly_workbook_has_names_frozen_headers_widths_charts_and_last_week(client):
    answer = client.get("/reports/weekly.xlsx?week=2025-W50&lang=en")
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["Summary", "This and last week", "Per day", "Department", "Community", "Grids",
                               "Zones", "Plan tasks", "Map"]
    departments = book["Department"]
    header = [c.value for c in departments[1]]
    assert header[0] == "Name" and "On-time rate (%) Last week" in header and header[-1] == "Department code"
    assert departments.freeze_panes == "A2" and departments.column_dimensions["A"].width >= 10
    names = [row[0] for row in departments.iter_rows(min_row=2, values_only=True)]
    assert not any(str(n).startswith("community:") for n in names)
    assert "West Section Integrated Sanitation Contractor" in names and "东兴社区" in names
    charts = {sheet.title: [c.tagname for c in sheet._charts] for sheet in book if sheet._charts}
    assert charts == {"This and last week": ["barChart"], "Per day": ["lineChart"], "Department": ["barChart"]}
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Week"][:2] == ("2025-W50", "2025-W49")
    assert [c.value for c in book["Summary"][1]] == ["Figure", "This week 2025-W50", "Last week 2025-W49", "Change"]
    chinese = openpyxl.load_workbook(io.BytesIO(client.get("/reports/weekly.xlsx?week=2025-W50&lang=zh").data))
    assert chinese.sheetnames[0] == "概况"


# --------------------------------------------------------------------------- headless Chromium

@pytest.mark.browser
@pytest.mark.parametrize("url, charts", [
    ("/", 3), ("/league", 1), ("/plan-tasks", 1), ("/greening", 2), ("/emerging?cell=120110900004031", 1),
])
def test_every_chart_renders_offline(live_server, page_watch, browser_login, url, charts):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}{url}", wait_until="networkidle")
    page.wait_for_function("document.body.getAttribute('data-charts-drawn') !== null")
    assert page.evaluate("document.body.getAttribute('data-charts-drawn')") == str(charts)
    drawn = page.eval_on_selector_all("[data-chart]", "nodes => nodes.map(n => n.getAttribute('data-chart-drawn'))")
    assert drawn == ["true"] * charts
    # ECharts drew on a canvas of the box's size
    sizes = page.eval_on_selector_all("[data-chart] canvas", "nodes => nodes.map(n => n.width * n.height)")
    assert len(sizes) >= charts and all(s > 10_000 for s in sizes)
    assert errors == [] and outside == []


@pytest.mark.browser
def test_maps_show_a_metric_scale_only_and_the_overview_legend(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/?lang=en", wait_until="networkidle")
    frame = page.frame_locator("#overview-map")
    frame.locator(".cm-legend").wait_for()
    assert "Issues per cell" in frame.locator(".cm-legend").inner_text()
    scale = frame.locator(".leaflet-control-scale").inner_text()
    assert re.search(r"\d+ (m|km)", scale) and not re.search(r"\b(ft|mi)\b", scale)
    assert frame.locator(".leaflet-control-scale-line").count() == 1
    assert errors == [] and outside == []
