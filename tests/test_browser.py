"""Pages in a real headless Chromium: drawn, no JS error, nothing fetched from outside."""

from __future__ import annotations

import pytest
from conftest import DRAWN_LAYERS, LIVE_LAYERS

pytestmark = pytest.mark.browser


def test_home_map_draws_clusters_and_layers(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/", wait_until="networkidle")
    assert page.locator("#fig-total").inner_text() == "20000"
    frame = page.frame_locator("#overview-map")
    frame.locator(".leaflet-container").wait_for()
    # the open issues are a live layer: the map asked for those of its view, one marker per open issue
    drawn = page.frames[1].evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true"
    [live] = page.frames[1].evaluate(LIVE_LAYERS, None)
    n_open = int(page.locator("#fig-open").inner_text())
    assert live["loaded"] and not live["clustered"] and live["issues"] == live["markers"] == n_open > 0
    frame.locator(".leaflet-control-layers").hover()
    labels = frame.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("单元网格问题数" in t for t in labels) and any("道路" in t for t in labels)
    assert errors == []
    assert outside == []
