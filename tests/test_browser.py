"""Pages in a real headless Chromium: drawn, no JS error, nothing fetched from outside."""

from __future__ import annotations

import pytest
from conftest import DRAWN_LAYERS

pytestmark = pytest.mark.browser


def test_home_map_draws_clusters_and_layers(live_server, page_watch, browser_login):
    page, errors, outside = page_watch
    browser_login(page, live_server, "supervisor")
    page.goto(f"{live_server}/", wait_until="networkidle")
    assert page.locator("#fig-total").inner_text() == "20000"
    frame = page.frame_locator("#overview-map")
    frame.locator(".leaflet-container").wait_for()
    # open issues are clustered: clusters are drawn, and the cluster layer holds one marker per open issue
    frame.locator(".marker-cluster").first.wait_for()
    drawn = page.frames[1].evaluate(DRAWN_LAYERS)
    assert drawn["state"] == "true"
    assert [d["issues"] for d in drawn["layers"] if d["kind"] == "cluster"] == [int(page.locator("#fig-open").inner_text())]
    frame.locator(".leaflet-control-layers").hover()
    labels = frame.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("单元网格问题数" in t for t in labels) and any("道路" in t for t in labels)
    assert errors == []
    assert outside == []
