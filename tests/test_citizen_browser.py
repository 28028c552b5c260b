"""The citizen's journey on a 390×844 phone in headless Chromium: report with the phone's position, a common problem
and a photo; get the deadline and the tracking link; follow the report through the loop (the dispatcher's and the
crew's steps taken by the workflow) to 结案 on the status page, logged out, with the after-photo. Every page of the
journey is read for English words on the Chinese UI. No JS error, nothing fetched from outside 127.0.0.1.

Screenshots of each page are written to ``$CITYMAP_SCREENSHOTS`` when it names a directory (for people to look at)."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from conftest import TEST_PASSWORD, tiny_image
from ui_language import english_words

from geo import store
from geo.clock import local_now
from geo.issue_filter import IssueFilter
from geo.loop import workflow
from geo.store.db import make_engine

pytestmark = pytest.mark.browser

J = "120110900"
PHONE = {"width": 390, "height": 844}
#: where the phone is (WGS84): on a road of the sample, inside the sub-district
HERE = {"latitude": 39.1, "longitude": 117.37}


@pytest.fixture
def phone(browser):
    """A 390×844 phone (Chinese UI, its position known) and its lists of JS errors and outside requests."""
    errors: list[str] = []
    outside: list[str] = []
    contexts = []

    def new_page():
        context = browser.new_context(viewport=PHONE, geolocation=HERE, permissions=["geolocation"],
                                      locale="zh-CN", device_scale_factor=1, is_mobile=True, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("request", lambda req: outside.append(req.url)
                if urlparse(req.url).hostname not in {"127.0.0.1", None} and not req.url.startswith(("data:", "about:"))
                else None)
        return page

    yield new_page, errors, outside
    for context in contexts:
        context.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("CITYMAP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _login(page, base: str) -> None:
    page.goto(f"{base}/login", wait_until="domcontentloaded")
    page.fill("#login-name", "citizen")
    page.fill("#login-password", TEST_PASSWORD)
    page.click("#login-button")
    page.wait_for_url(f"{base}/report")


def _chinese(page, seen: dict[str, set[str]], name: str) -> None:
    """Note the English words of the page as the browser shows it now (scripts run, map drawn)."""
    seen[name] = english_words(page.content())


def test_a_citizen_reports_on_a_phone_and_follows_it_to_closing(copy_server, sample_copy, phone, tmp_path):
    new_page, errors, outside = phone
    words: dict[str, set[str]] = {}
    page = new_page()
    page.goto(f"{copy_server}/login", wait_until="networkidle")
    _chinese(page, words, "login")
    _login(page, copy_server)

    page.locator("#report-map path").first.wait_for()
    page.wait_for_load_state("networkidle")
    tiles = page.locator("#category-tiles .tile")
    assert tiles.count() == 10
    for box in (tiles.nth(i).bounding_box() for i in range(10)):
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.locator("#report-button").bounding_box()["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(page, "1-report-form")
    _chinese(page, words, "report form")

    # a tap on 提交 before the place is chosen: the page says what is missing, in Chinese, and sends nothing
    page.fill("#description", "小区门口垃圾堆了三天")
    page.click("#report-button")
    assert page.locator("#report-error").inner_text() == "请先在地图上点选问题位置，或使用我的位置"
    page.click("#locate-button")
    page.wait_for_selector("#locate-status:has-text('已使用您的位置')")
    assert page.locator("#locate-status").inner_text() == "已使用您的位置"
    assert (float(page.input_value("#lon")), float(page.input_value("#lat"))) == (117.37, 39.1)
    assert page.locator("#point-shown").inner_text() == "津北公路附近（117.370000, 39.100000）"
    # close enough to read: the names of the roads around the point are on the map
    labels = page.locator(".map-label").all_inner_texts()
    assert labels and all(label.strip() for label in labels)
    tiles.first.click()
    chosen = page.locator("#category-tiles input:checked").get_attribute("value")
    photo = tmp_path / "pile.png"
    photo.write_bytes(tiny_image(size=(40, 30)))
    page.set_input_files("#photos", str(photo))
    assert page.locator("#photos-chosen").inner_text() == "已选 1 张照片"
    _shot(page, "2-report-filled")
    page.click("#report-button")
    page.wait_for_url(f"{copy_server}/report/done?*")
    _chinese(page, words, "confirmation")
    _shot(page, "3-confirmation")
    issue_id = int(page.locator("#report-number").inner_text().lstrip("#"))
    link = page.locator("#tracking-link").get_attribute("href")
    engine = make_engine(sample_copy.resolved_database_url)
    issue = store.query_issues(engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]),
                               columns=("category_code", "deadline_at", "department_code", "source")).iloc[0]
    assert (issue["category_code"], issue["source"]) == (chosen, "web")
    assert page.locator("#report-deadline").inner_text() == f"{issue['deadline_at']:%Y-%m-%d %H:%M} 前"

    # logged out, on another phone: the link alone opens the report's progress
    stranger = new_page()
    stranger.goto(link, wait_until="networkidle")
    assert stranger.locator("#status-plain").inner_text() == "已收到，等待受理"
    _chinese(stranger, words, "status: received")
    _shot(stranger, "4-status-received")

    # the grid centre and the crew do their part (the crew with a photo of the place afterwards)
    dispatcher = requests.Session()
    answer = dispatcher.post(f"{copy_server}/login", json={"name": "dispatcher", "password": TEST_PASSWORD}, timeout=10)
    dispatcher.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    after = dispatcher.post(f"{copy_server}/api/issues/{issue_id}/photos", timeout=10,
                            files={"photo": ("after.png", BytesIO(tiny_image(size=(64, 48))), "image/png")})
    assert after.status_code == 201, after.text
    now = local_now()
    for action, role, extra in (("register", "dispatcher", {}), ("dispatch", "dispatcher", {}),
                                ("handle", "department", {"note": "已清运", "photo": after.json()["photo"],
                                                          "department_code": issue["department_code"]}),
                                ("verify", "dispatcher", {}), ("close", "dispatcher", {})):
        workflow.apply_transition(engine, issue_id, action, actor="网格中心", role=role, now=now, **extra)
        if action == "dispatch":
            stranger.reload(wait_until="networkidle")
            assert stranger.locator("#status-plain").inner_text() == "已派给责任单位处理"
    engine.dispose()

    stranger.reload(wait_until="networkidle")
    assert stranger.locator("#status-plain").inner_text() == "已办结"
    assert stranger.locator("#timeline .plain").all_inner_texts() == [
        "已收到，等待受理", "已受理，等待派遣", "已派给责任单位处理", "已处理，等待核查", "已核查，即将办结", "已办结"]
    image = stranger.locator("#after-photos img")
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 64
    assert "网格中心" not in stranger.content() and "已清运" not in stranger.content()
    _chinese(stranger, words, "status: closed")
    _shot(stranger, "5-status-closed")

    page.click("#nav-my-reports")
    page.wait_for_load_state("networkidle")
    assert page.locator(f"#my-report-{issue_id}").inner_text().count("已办结") == 1
    _chinese(page, words, "my reports")
    _shot(page, "6-my-reports")
    page.click(f"#my-report-{issue_id}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#status-plain").inner_text() == "已办结"
    _chinese(page, words, "my report")

    assert errors == []
    # what goes wrong, in Chinese too: a place outside the sub-district, a link that opens nothing (the browser
    # logs the answers' 400 and 404, and nothing else)
    page.goto(f"{copy_server}/report", wait_until="networkidle")
    # a place the map would not offer
    page.locator("#report-form").evaluate("form => { form.lon.value = '117.2'; form.lat.value = '39.1'; }")
    page.locator("#category-tiles .tile").nth(1).click()
    page.fill("#description", "测试")
    page.click("#report-button")
    page.wait_for_load_state("networkidle")
    assert page.locator("#report-refused").inner_text() == "这个位置不在本街道范围内，请在地图上重新选择"
    assert page.input_value("#description") == "测试"  # what was typed is kept
    _chinese(page, words, "refused report")
    _shot(page, "7-report-refused")
    stranger.goto(link[:-3] + "xyz", wait_until="networkidle")
    assert stranger.locator("#error-message").inner_text() == "未找到该上报，请检查链接是否完整"
    _chinese(stranger, words, "wrong link")
    _shot(stranger, "8-wrong-link")

    assert words == {name: set() for name in words}
    assert [e.split(" (")[0] for e in errors] == ["Failed to load resource: the server responded with a status of 400",
                                                 "Failed to load resource: the server responded with a status of 404"]
    assert outside == []
