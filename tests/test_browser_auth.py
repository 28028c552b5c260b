"""People's pages in headless Chromium: log in, see the map with its markers, report an issue with a photo and
find it again; stored XSS payloads in every user-text field stay inert text. No JS error (a CSP violation
is one), no request leaving 127.0.0.1."""

from __future__ import annotations

import re

import pytest
import requests
from conftest import ISSUE_POPUP_TEXTS, LIVE_LAYERS, TEST_PASSWORD
from PIL import Image

pytestmark = pytest.mark.browser

PHONE = "13812345678"
PAYLOADS = {
    "description": "<img src=x onerror=alert('xss-d')>\"><script>alert('xss-s')</script>`${alert('xss-t')}`\\",
    "address": "</script><svg onload=alert('xss-a')>javascript:alert('xss-j')",
    "note": "<iframe srcdoc=\"<script>parent.alert('xss-n')</script>\"></iframe>${alert('xss-n2')}",
    "phone": "<b onclick=alert(1)>13812345678</b>",
}


def _png(path):
    Image.new("RGB", (40, 30), (200, 40, 40)).save(path, format="PNG")
    return path


def _api_session(base: str, name: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{base}/login", json={"name": name, "password": TEST_PASSWORD}, timeout=10)
    answer.raise_for_status()
    session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return session


def test_log_in_see_the_map_report_an_issue_and_find_it(copy_server, page_watch, browser_login, tmp_path):
    page, errors, outside = page_watch
    page.goto(f"{copy_server}/issues")
    assert "/login" in page.url  # not logged in yet
    browser_login(page, copy_server, "dispatcher")
    page.goto(f"{copy_server}/", wait_until="networkidle")
    page.frame_locator("#overview-map").locator(".leaflet-container").wait_for()
    # the open issues are the overview map's live layer: the map asked for those of its view, one marker each
    [live] = page.frame(url=re.compile(r"/maps/overview")).evaluate(LIVE_LAYERS, None)
    n_open = int(page.locator("#fig-open").inner_text())
    assert live["loaded"] and not live["clustered"] and live["issues"] == live["markers"] == n_open > 0

    page.click("#report-link")
    page.wait_for_load_state("networkidle")
    page.locator("#report-map path").first.wait_for()  # the boundary and roads from the GeoJSON API
    page.click("#more-categories summary")  # the full list of categories, behind 更多类别
    page.select_option("#category-select", "06010")
    page.fill("#description", "浏览器测试：路口暴露垃圾")
    page.set_input_files("#photos", str(_png(tmp_path / "pile.png")))
    page.click("#report-button")
    assert "地图上点选" in page.locator("#report-error").inner_text()  # no point yet: the form is not sent
    page.locator("#report-map").click()  # its centre, scrolled back into view from the message
    lon, lat = float(page.input_value("#lon")), float(page.input_value("#lat"))
    assert f"{lon:.6f}, {lat:.6f}" in page.locator("#point-shown").inner_text()
    assert 117.2 < lon < 117.6 and 39.0 < lat < 39.2
    page.click("#report-button")
    page.wait_for_load_state("networkidle")
    number = int(page.locator("#report-number").inner_text().lstrip("#"))

    page.click("#view-issue")
    page.wait_for_load_state("networkidle")
    assert page.locator("#issue-description").inner_text() == "浏览器测试：路口暴露垃圾"
    assert page.locator("#issue-status").inner_text().startswith("已上报")
    assert page.locator(".photos img").evaluate("img => img.complete && img.naturalWidth") == 40
    page.frame_locator("#issue-map").locator(".leaflet-container").wait_for()

    page.goto(f"{copy_server}/issues?status=reported", wait_until="networkidle")
    assert page.locator(f'#issue-table a[href="/issues/{number}"]').count() == 1
    page.frame_locator("#issues-map").locator(".leaflet-container").wait_for()
    popups = page.frame(url=re.compile(r"/maps/issues")).evaluate(ISSUE_POPUP_TEXTS, f"/issues/{number}")
    assert popups and all("浏览器测试：路口暴露垃圾" in p for p in popups)
    assert errors == []
    assert outside == []


def test_stored_xss_payloads_stay_inert_text(copy_server, page_watch, browser_login):
    dispatcher = _api_session(copy_server, "dispatcher")
    fields = {"lon": 117.37, "lat": 39.1, "category_code": "07001", "description": PAYLOADS["description"],
              "address": PAYLOADS["address"]}
    # markup is not a phone number: refused on the way in, so only a real number is stored and revealed
    refused = dispatcher.post(f"{copy_server}/api/issues", json={**fields, "phone": PAYLOADS["phone"]}, timeout=30)
    assert refused.status_code == 400 and "phone" in refused.json()["error"]
    created = dispatcher.post(f"{copy_server}/api/issues", json={**fields, "phone": PHONE}, timeout=30)
    assert created.status_code == 201, created.text
    issue_id = created.json()["id"]
    for action, extra in (("register", {}), ("reassign", {}), ("dispatch", {"note": PAYLOADS["note"]})):
        dispatcher.post(f"{copy_server}/api/issues/{issue_id}/transitions", json={"action": action, **extra},
                        timeout=30)
    page, errors, outside = page_watch
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, copy_server, "dispatcher")

    page.goto(f"{copy_server}/issues/{issue_id}", wait_until="networkidle")
    assert page.locator("#issue-description").inner_text() == PAYLOADS["description"]
    assert page.locator("#issue-address").inner_text() == PAYLOADS["address"]
    assert PAYLOADS["note"] in page.locator("#timeline").inner_text()
    page.click("#reveal-button")
    page.wait_for_load_state("networkidle")
    assert page.locator("#phone-revealed").inner_text() == PHONE

    # the popups of the issue's map, of the list's map and of the overview render the text, not markup
    for url, frame_url in ((f"/issues/{issue_id}", r"/maps/issues/\d+"), ("/issues?status=registered,dispatched",
                                                                          r"/maps/issues"), ("/", r"/maps/overview")):
        page.goto(f"{copy_server}{url}", wait_until="networkidle")
        page.locator("iframe").first.wait_for()
        frame = page.frame(url=re.compile(frame_url))
        frame.wait_for_selector(".leaflet-container")
        texts = frame.evaluate(ISSUE_POPUP_TEXTS, f"/issues/{issue_id}")
        assert texts, url
        assert all("<img src=x onerror=alert('xss-d')>" in t for t in texts), texts
    assert dialogs == []
    assert errors == []
    assert outside == []
