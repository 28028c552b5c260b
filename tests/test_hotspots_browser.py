"""The hotspot pages in headless Chromium: layers drawn, no JS error, nothing fetched from outside."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from conftest import DRAWN_LAYERS, LIVE_LAYERS

from webmap.cli import main

pytestmark = pytest.mark.browser

def test_hotspot_page_draws_its_layers(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/hotspots?since=2025-12-01&until=2025-12-31", wait_until="networkidle")
    issues = int(page.locator("#fig-issues").inner_text())
    frame = page.frame_locator("#hotspot-map")
    frame.locator(".leaflet-container").wait_for()
    assert "热点分析" in frame.locator(".cm-legend").inner_text()
    map_frame = next(f for f in page.frames if "/maps/hotspots" in f.url)
    drawn = map_frame.evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true"
    by_name = {d["name"]: d for d in drawn["layers"]}
    assert by_name["热点分析（Gi*）"]["features"] > 500
    assert by_name["问题核密度（热力）"]["kind"] == "heat" and by_name["问题核密度（热力）"]["features"] > 100
    # the "all issues" live layer, shown, holds every issue of the period in the view (the whole jurisdiction);
    # the five major-class layers, hidden at first, add up to it
    live = map_frame.evaluate(LIVE_LAYERS, None)
    [every] = [d for d in live if d["shown"]]
    assert every["name"] == f"全部问题（{issues}）" and every["loaded"] and every["issues"] == issues
    majors = [int(re.search(r"（(\d+)）$", d["name"]).group(1)) for d in live if not d["shown"]]
    assert len(majors) == 5 and sum(majors) == issues
    frame.locator(".leaflet-control-layers").hover()
    labels = " ".join(frame.locator(".leaflet-control-layers-overlays label").all_inner_texts())
    for name in ("热点分析（Gi*）", "问题核密度（热力）", f"全部问题（{issues}）", "重点道路（每公里问题数）", "市容环境"):
        assert name in labels
    # a cell's popup opens with its figures
    map_frame.evaluate("""() => {
      const layer = citymapMap.drawn.find(d => d.name === '热点分析（Gi*）').layer;
      const cell = layer.getLayers()[0];
      cell.fire('click', {latlng: cell.getBounds().getCenter()}, true);  // as a click: the popup is the layer's
    }""")
    frame.locator(".leaflet-popup-content .cm-label", has_text="Gi* z").wait_for()
    # the filter form asks the server again
    page.select_option("#category-select", "07")
    page.click("#hotspot-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "category=07" in page.url
    assert int(page.locator("#fig-issues").inner_text()) < issues
    assert errors == []
    assert outside == []


def test_emerging_page_draws_its_classes(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/emerging?until=2025-12-31&weeks=12", wait_until="networkidle")
    frame = page.frame_locator("#emerging-map")
    frame.locator(".cm-legend").wait_for()
    map_frame = next(f for f in page.frames if "/maps/emerging" in f.url)
    drawn = map_frame.evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true" and max(d["features"] for d in drawn["layers"] if d["kind"] == "geojson") > 0
    assert errors == [] and outside == []


def test_cli_standalone_map_opens_offline(sample_db, tmp_path, monkeypatch, page_watch):
    page, errors, outside = page_watch
    monkeypatch.setenv("CITYMAP_DATA_DIR", str(sample_db.data_dir))
    out = tmp_path / "page.html"
    result = CliRunner().invoke(main, ["hotspots", "--since", "2025-12-01", "--until", "2025-12-31",
                                       "--out", str(tmp_path / "cells.geojson"), "--map", str(out)])
    assert result.exit_code == 0, result.output
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri(), wait_until="load")
    page.locator(".marker-cluster").first.wait_for()
    drawn = page.evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true" and max(d["features"] for d in drawn["layers"]) > 500
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert errors == [] and outside == []
