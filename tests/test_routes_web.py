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
