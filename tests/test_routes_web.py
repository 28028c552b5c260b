"""The route page, its map and the GPX download: over Flask's test client and in Chromium."""

from __future__ import annotations

import html as html_lib
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import map_document

from webmap.app import create_app

GPX = {"g": "http://www.topografix.com/GPX/1/1"}


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


def test_pickup_page_map_and_gpx_agree(client):
    page = client.get("/routes?job=pickup&zone=sanitation_east&set=open&date=2025-12-31&vehicles=3")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="route-error"' not in text
    n_stops = sum(int(n) for n in re.findall(r"<tr><td>\d+</td><td>[\d,]+</td>\s*<td>(\d+)</td>", text))
    assert n_stops > 0
    assert "车辆 1：全程" in text and "返回车场" in text
    map_src = html_lib.unescape(re.search(r'src="(/maps/routes\?[^"]+)"', text).group(1))
    assert "https://" not in client.get(map_src).get_data(as_text=True)
    layers = map_document(client, map_src)["layers"]
    badges = [f for layer in layers if layer["point"] == "badge" for f in layer["data"]["features"]]
    assert len(badges) == n_stops and all(f["properties"]["href"].startswith("/issues/") for f in badges)
    assert any(layer["point"] == "arrow" and layer["data"]["features"] for layer in layers)
    gpx_href = html_lib.unescape(re.search(r'href="(/routes\.gpx\?[^"]+)"', text).group(1))
    gpx = client.get(gpx_href)
    assert gpx.mimetype == "application/gpx+xml"
    root = ET.fromstring(gpx.data)
    assert len(root.findall("g:wpt", GPX)) == n_stops
    assert len(root.findall("g:trk/g:trkseg/g:trkpt", GPX)) > 10


def test_sweep_page_reports_lengths(client):
    text = client.get("/routes?job=sweep&zone=sanitation_west&streets=alleys&oneway=0").get_data(as_text=True)
    assert 'id="sweep-bound"' in text and "作业" in text


def test_bad_input_is_named(client):
    page = client.get("/routes?job=fly")
    assert page.status_code == 400 and "fly" in page.get_data(as_text=True)
    # the sample's one-way dead end 明珠巷 lies in the east zone: a legal sweep is refused, naming it
    text = client.get("/routes?job=sweep&zone=sanitation_east&streets=alleys&oneway=1").get_data(as_text=True)
    assert 'id="route-error"' in text and "明珠巷" in text


@pytest.mark.browser
def test_route_page_in_browser(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/", wait_until="networkidle")
    page.click("#routes-link")
    page.wait_for_load_state("networkidle")
    page.select_option("#zone-select", "sanitation_east")
    page.fill("input[name=date]", "2025-12-31")
    page.fill("input[name=vehicles]", "3")
    page.click("#route-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    frame = page.frame_locator("#routes-map")
    frame.locator(".leaflet-container").wait_for()
    frame.locator(".cm-badge").first.wait_for()
    assert frame.locator(".cm-badge").count() >= 1
    assert frame.locator(".cm-arrow").count() >= 1
    assert frame.locator(".cm-tag").count() == 1 and frame.locator(".cm-tag").inner_text() == "车场"
    assert page.locator("#gpx-link").get_attribute("href").startswith("/routes.gpx?")
    assert errors == []
    assert outside == []


def test_cli_pickup_on_the_sample(sample_db, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("CITYMAP_DATA_DIR", str(sample_db.data_dir))
    out, gpx = tmp_path / "route.geojson", tmp_path / "route.gpx"
    result = CliRunner().invoke(main, ["route", "pickup", "--zone", "sanitation_east", "--date", "2025-12-31",
                                       "--vehicles", "3", "--capacity-m3", "10", "--time-limit-s", "1",
                                       "--out", str(out), "--gpx", str(gpx)])
    assert result.exit_code == 0, result.output
    features = json.loads(out.read_text())["features"]
    stops = [f for f in features if f["properties"]["kind"] == "stop"]
    routes = [f for f in features if f["properties"]["kind"] == "route"]
    assert f"{len(stops)} stops, {len(routes)} vehicle(s)" in result.output
    assert all(f["geometry"]["type"] == "LineString" for f in routes)
    assert sum(f["properties"]["volume_m3"] for f in stops) <= 10 * len(routes)
    assert len(ET.parse(gpx).getroot().findall("g:wpt", GPX)) == len(stops)
    bad = CliRunner().invoke(main, ["route", "pickup", "--zone", "nowhere", "--out", str(out)])
    assert bad.exit_code == 1 and "nowhere" in bad.output


# --------------------------------------------------------------------------- bounded stop sets (issue 19)

@pytest.mark.parametrize("issue_set", ["today", "open", "overdue", "chosen"])
def test_the_stop_sets_read_in_sql_are_those_select_issues_picks(sample_db, issue_set):
    from datetime import date

    from geo import store
    from geo.issue_filter import IssueFilter
    from geo.routing.views import pickup_filter
    from geo.routing.vrp import pickup_volumes, select_issues
    from geo.store.db import make_engine

    engine = make_engine(sample_db.resolved_database_url)
    j = sample_db.jurisdiction_code
    every = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(categories=list(pickup_volumes().index)))
    day = date(2025, 12, 30)
    chosen = every[every["zone_code"] == "sanitation_east"]["id"].head(5).tolist()
    expected = select_issues(every, zone_code="sanitation_east", issue_set=issue_set, on_date=day, chosen=chosen)
    where = pickup_filter("sanitation_east", issue_set=issue_set, on_date=day, chosen=chosen)
    got = store.query_issues(engine, jurisdiction_code=j, where=where)
    engine.dispose()
    assert sorted(got["id"]) == sorted(expected["issue_id"]) and len(got) > 0
    if issue_set == "today":
        assert (got["reported_at"].dt.date == day).all()


def test_the_page_plans_the_days_pickups_by_default_and_caps_the_rest(client, monkeypatch):
    import webmap.pages.routes as routes_page

    page = client.get("/routes?job=pickup&zone=sanitation_east&date=2025-12-30&vehicles=2")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="route-error"' not in text
    assert '<option value="today" selected>当日上报未清运</option>' in text
    # more stops than the page plans: a message naming how many and the cap, no plan
    monkeypatch.setattr(routes_page, "WEB_MAX_STOPS", 3)
    capped = client.get("/routes?job=pickup&zone=sanitation_east&set=open&date=2025-12-30&vehicles=5")
    error = re.search(r'id="route-error"[^>]*>(.*?)</', capped.get_data(as_text=True), re.S)
    assert capped.status_code == 200 and error and "超过一次规划的上限 3 处" in html_lib.unescape(error[1])


def test_the_cli_offers_the_same_stop_sets():
    from geo.routing.vrp import ISSUE_SETS
    from webmap.cli.route import pickup_cmd

    [option] = [p for p in pickup_cmd.params if p.name == "issue_set"]
    assert tuple(option.type.choices) == ISSUE_SETS
