"""Every role's day in headless Chromium: the dispatcher merges a suggested duplicate and dispatches to the
suggested department (1400×900); the crew handles from its phone (390×844) with before and after photos and
downloads its route's GPX; a department asks for 延期 and gets an answer. Each page met on the way is read in
the Chinese UI for English words (tests/ui_language.py).

Screenshots go to ``$CITYMAP_SCREENSHOTS`` (a directory) when it is set.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import TEST_PASSWORD, tiny_image
from shapely.geometry import Point
from ui_language import english_words

from geo import store
from geo.clock import local_now
from geo.crs import wgs84_to_gcj02
from geo.io import ingest
from geo.issue_filter import IssueFilter
from geo.loop import workflow

pytestmark = pytest.mark.browser

DESK = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
#: a point on a road of the west contractor zone (a garbage pile there is the west contractor's)
WEST = (117.33797, 39.08977)
GPX = {"g": "http://www.topografix.com/GPX/1/1"}
#: English a Chinese page may hold besides tests/ui_language.ALLOWED_ENGLISH: none so far
ALLOW: set[str] = set()
#: the issue page's timeline is the citymap branch citizen-open311's (_timeline.html, action names in Chinese);
#: until it is merged the old one names actions by their codes, so it is left out of the language check here
_TIMELINE = re.compile(r'<table class="list" id="timeline">.*?</table>', re.S)


@pytest.fixture(scope="module")
def engine(copy_engine):
    return copy_engine


def _report(engine, settings, *, tag: str, category: str, point: tuple[float, float], minutes_ago: float) -> int:
    """A report stored as the web form would (assigned, scheduled), made ``minutes_ago`` minutes ago."""
    frame = gpd.GeoDataFrame({
        "source": ["web"], "external_id": [f"day-{tag}"], "source_system": ["wgs84"], "category_code": [category],
        "description": [f"测试：{tag}"], "address": ["栖霞路口"], "status": [None],
        "reported_at": [local_now().replace(microsecond=0) - timedelta(minutes=minutes_ago)],
    }, geometry=[Point(*point)], crs="EPSG:4326")
    layers = ingest.read_layers(engine, jurisdiction_code=settings.jurisdiction_code)
    issues = ingest.assign_and_schedule(frame, layers, settings=settings)
    store.insert_issues(engine, issues, jurisdiction_code=settings.jurisdiction_code, file="test", actor="test")
    return store.issue_id_of(engine, jurisdiction_code=settings.jurisdiction_code, source="web",
                             external_id=f"day-{tag}")


def _state(engine, settings, issue_id: int, *columns: str) -> pd.Series:
    return store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=IssueFilter(ids=[issue_id]),
                              columns=("id", *columns)).iloc[0]


class Day:
    """Browser contexts of one role (desk or phone), the JS errors and outside requests they met, the pages read."""

    def __init__(self, browser, base: str, shots: Path):
        self.browser, self.base, self.shots = browser, base, shots
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.pages: dict[str, str] = {}
        self.contexts = []

    def page(self, user: str, viewport: dict, **options):
        context = self.browser.new_context(viewport=viewport, locale="zh-CN", **options)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("request", lambda req: self.outside.append(req.url)
                if not req.url.startswith((self.base, "data:", "about:", "blob:")) else None)
        page.goto(f"{self.base}/login", wait_until="domcontentloaded")
        page.fill("#login-name", user)
        page.fill("#login-password", TEST_PASSWORD)
        page.click("#login-button")
        page.wait_for_load_state("networkidle")
        return page

    def read(self, page, name: str) -> None:
        """Keep the page's HTML for the language check and, when asked, a screenshot of it."""
        page.wait_for_load_state("networkidle")
        self.pages[name] = page.content()
        if self.shots:
            page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def day(browser, copy_server, tmp_path):
    shots = Path(os.environ["CITYMAP_SCREENSHOTS"]) if os.environ.get("CITYMAP_SCREENSHOTS") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    day = Day(browser, copy_server, shots)
    yield day
    day.close()
    for name, html in day.pages.items():
        assert english_words(_TIMELINE.sub("", html), allow=ALLOW) == set(), name
    assert day.errors == []
    assert day.outside == []


def test_dispatcher_merges_a_suggested_duplicate_and_dispatches_to_the_suggestion(day, engine, sample_copy):
    first = _report(engine, sample_copy, tag="pile-1", category="06010", point=WEST, minutes_ago=3)
    second = _report(engine, sample_copy, tag="pile-2", category="06010", point=WEST, minutes_ago=2)
    page = day.page("dispatcher", DESK)
    page.click("#nav-dispatch")
    day.read(page, "dispatch-inbox")
    waiting = store.count_issues(engine, jurisdiction_code=sample_copy.jurisdiction_code,
                                 where=IssueFilter(statuses=["reported"]))
    assert int(page.locator("#box-reported b").inner_text()) == waiting
    page.click("#box-reported")
    day.read(page, "dispatch-reported-list")
    assert page.locator(f'#issue-table a[href="/issues/{second}"]').count() == 1
    assert f"{waiting} 条" in page.locator("#issue-count").inner_text()
    page.click(f'#issue-table a[href="/issues/{second}"]')
    day.read(page, "dispatch-duplicate")
    row = page.locator("#duplicate-table tr", has=page.locator(f'a[href="/issues/{first}"]'))
    assert "早 1 分钟" in row.inner_text() and "0 m" in row.inner_text()
    page.click(f"#merge-{second}-into-{first}")
    page.wait_for_load_state("networkidle")
    # the merge leads to the master, which lists what was merged into it
    assert page.url.endswith(f"/issues/{first}")
    assert f"#{second}" in page.locator("#merged-list").inner_text()
    assert _state(engine, sample_copy, second, "status", "merged_into")[["status", "merged_into"]].tolist() == [
        "merged", first]
    suggestion = page.locator("#dispatch-suggestion")
    assert "仅供参考" in suggestion.inner_text()
    assert page.locator("#suggested-department").inner_text() == "西片环卫一体化作业单位"
    page.click("#action-register button")
    page.wait_for_load_state("networkidle")
    day.read(page, "dispatch-suggestion")
    chosen = page.locator("#dispatch-department option:checked")
    assert chosen.get_attribute("value") == "sanitation_west" and "（建议）" in chosen.inner_text()
    page.click("#action-dispatch button")
    page.wait_for_load_state("networkidle")
    assert page.locator("#issue-department").inner_text() == "西片环卫一体化作业单位"
    assert _state(engine, sample_copy, first, "status", "department_code")[["status", "department_code"]].tolist() == [
        "dispatched", "sanitation_west"]
    page.goto(f"{day.base}/issues/{second}", wait_until="networkidle")
    day.read(page, "dispatch-merged")
    assert page.locator("#merged-into a").get_attribute("href") == f"/issues/{first}"


def _tap_targets_too_small(page) -> list[str]:
    """Links, buttons and file pickers on the page smaller than 44 px in either direction."""
    return page.evaluate("""() => [...document.querySelectorAll('a, button, summary, input, select, textarea')]
        .filter(e => e.offsetParent !== null && e.type !== 'hidden')
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.height < 44 || r.width < 44)
        .map(([e, r]) => `${e.tagName} ${e.id || e.textContent.trim().slice(0, 20)} ${Math.round(r.width)}×${Math.round(r.height)}`)""")


def test_crew_handles_from_its_phone_with_photos_and_takes_its_route(day, engine, sample_copy, tmp_path):
    # reported today in Tianjin: the route's default stop set is the day's reports, and half an hour before
    # now is yesterday there from 00:00 to 00:30 (16:00–16:30 UTC)
    now = local_now()
    minutes_today = (now - now.replace(hour=0, minute=0, second=0)).total_seconds() / 60
    issue_id = _report(engine, sample_copy, tag="crew-pile", category="06010", point=WEST,
                       minutes_ago=min(30, minutes_today))
    for action, extra in (("register", {}), ("dispatch", {"department_code": "sanitation_west"})):
        workflow.apply_transition(engine, issue_id, action, actor="调度", role="dispatcher", **extra)
    here = (117.3420, 39.0930)
    page = day.page("sanitation", PHONE, geolocation={"longitude": here[0], "latitude": here[1]},
                    permissions=["geolocation"])
    # a department's landing page is its queue
    assert page.url.endswith("/todo")
    day.read(page, "crew-todo")
    card = page.locator(f"#card-{issue_id}")
    assert card.count() == 1
    assert _tap_targets_too_small(page) == []
    queue = page.locator(".card").evaluate_all("cards => cards.map(c => c.className)")
    urgency = [c.split("urgency-")[1] for c in queue]
    assert urgency == sorted(urgency, key=["overdue", "soon", "later", "none"].index)
    assert "车场" in page.locator("#distance-basis").inner_text()
    # the depot's distance is the server's; the phone's replaces it once the position is allowed
    page.click("#locate-button")
    page.locator("body[data-distance=phone]").wait_for()
    assert "我当前位置" in page.locator("#distance-basis").inner_text()
    metres = int(card.locator(".dist").get_attribute("data-phone-m"))
    assert 480 < metres < 560  # 117.3420,39.0930 → 117.33797,39.08977: ≈ 510 m
    geo_uri = card.locator(f"#nav-geo-{issue_id}").get_attribute("href")
    assert geo_uri.startswith(f"geo:{WEST[1]:.6f},{WEST[0]:.6f}?q=")
    gcj = wgs84_to_gcj02([WEST[0]], [WEST[1]])
    amap = card.locator(f"#nav-amap-{issue_id}").get_attribute("href")
    assert amap.startswith("https://uri.amap.com/navigation?to=") and f"{gcj[0][0]:.6f}%2C{gcj[1][0]:.6f}" in amap
    assert abs(gcj[0][0] - WEST[0]) > 0.004  # the GCJ-02 shift is some hundred metres here

    # today's route of its zone, planned by the crew, with the new pile among the stops; its GPX downloads
    page.click("#route-sanitation_west-pickup")
    day.read(page, "crew-route")
    assert page.locator("#route-error").count() == 0
    assert _tap_targets_too_small(page) == []
    with page.expect_download() as download:
        page.click("#gpx-link")
    gpx = ET.parse(download.value.path()).getroot()
    stops = {w.findtext("g:desc", "", GPX): (float(w.get("lon")), float(w.get("lat")))
             for w in gpx.findall("g:wpt", GPX)}
    assert stops[f"问题 {issue_id}"] == pytest.approx(WEST, abs=1e-4)  # the stop, on the road beside the pile
    assert len(gpx.findall("g:trk/g:trkseg/g:trkpt", GPX)) > 10
    # another department's zone is not offered, nor planned
    assert page.locator("#zone-select option").evaluate_all("o => o.map(x => x.value)") == [
        "sanitation_west", "sanitation_east"]

    page.goto(f"{day.base}/todo", wait_until="networkidle")
    page.click(f"#handle-{issue_id}")
    day.read(page, "crew-issue")
    assert _tap_targets_too_small(page) == []
    before, after = tmp_path / "before.jpg", tmp_path / "after.png"
    before.write_bytes(tiny_image("JPEG"))
    after.write_bytes(tiny_image("PNG", (6, 5)))
    form = page.locator("#action-handle")
    form.locator("input[name=photo_before]").set_input_files(str(before))
    form.locator("input[name=photo_after]").set_input_files(str(after))
    form.locator("textarea[name=note]").fill("已清运完毕")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/todo?done={issue_id}")
    day.read(page, "crew-done")
    assert f"#{issue_id}" in page.locator("#done-notice").inner_text()
    assert page.locator(f"#card-{issue_id}").count() == 0
    photos = store.read_issue_photos(engine, issue_id=issue_id)
    assert photos["kind"].tolist() == ["before", "after"]
    assert photos["content_type"].tolist() == ["image/jpeg", "image/png"]
    handled = store.read_issue_events(engine, issue_id).iloc[-1]
    assert (handled["action"], handled["note"], handled["photo"]) == ("handle", "已清运完毕", photos["file"].iloc[1])
    assert _state(engine, sample_copy, issue_id, "status")["status"] == "handled"


def test_a_department_asks_for_more_time_and_gets_an_answer(day, engine, sample_copy):
    issue_id = _report(engine, sample_copy, tag="crew-wall", category="06036", point=WEST, minutes_ago=600)
    for action, extra in (("register", {}), ("dispatch", {"department_code": "sanitation_west"})):
        workflow.apply_transition(engine, issue_id, action, actor="调度", role="dispatcher", **extra)
    deadline = _state(engine, sample_copy, issue_id, "deadline_at")["deadline_at"].to_pydatetime()
    crew = day.page("sanitation", PHONE)
    crew.goto(f"{day.base}/todo/{issue_id}", wait_until="networkidle")
    crew.click("#ask-extension summary")
    form = crew.locator("#action-ask_extension")
    form.locator("input[name=days]").fill("2")
    form.locator("textarea[name=note]").fill("杂物量大，需调派车辆")
    form.locator("button[type=submit]").click()
    crew.wait_for_load_state("networkidle")
    day.read(crew, "crew-asked")
    assert "等待调度员答复" in crew.locator("#pending-request").inner_text()
    assert crew.locator("#ask-extension").count() == 0  # one request at a time

    desk = day.page("dispatcher", DESK)
    desk.click("#nav-dispatch")
    assert int(desk.locator("#box-requests b").inner_text()) == 1
    row = desk.locator("#request-inbox tr", has=desk.locator(f'a[href="/issues/{issue_id}#requests"]'))
    assert "延期 2 个工作日" in row.inner_text() and "杂物量大" in row.inner_text()
    day.read(desk, "dispatch-requests")
    row.locator("a").click()
    desk.wait_for_load_state("networkidle")
    day.read(desk, "dispatch-request-issue")
    expected = workflow.extended_deadline(deadline, 2)[0]
    grant = desk.locator("#action-grant_extension button")
    assert f"新期限 {expected:%Y-%m-%d %H:%M}" in grant.inner_text()
    grant.click()
    desk.wait_for_load_state("networkidle")
    assert desk.locator("#issue-deadline").inner_text().startswith(f"{expected:%Y-%m-%d %H:%M}")
    assert "已同意" in desk.locator("#request-table .request-answer").inner_text()
    desk.locator("#action-urge textarea[name=note]").fill("请今日处置")
    desk.click("#action-urge button")
    desk.wait_for_load_state("networkidle")

    crew.goto(f"{day.base}/todo/{issue_id}", wait_until="networkidle")
    day.read(crew, "crew-answered")
    assert "已同意" in crew.locator(".request-answer").inner_text()
    assert crew.locator("#crew-issue-deadline").inner_text().startswith(f"{expected:%Y-%m-%d %H:%M}")
    assert "请今日处置" in crew.locator(".urged").inner_text()
    crew.goto(f"{day.base}/todo", wait_until="networkidle")
    assert "已督办 1 次" in crew.locator(f"#card-{issue_id}").inner_text()
    requests = store.read_requests(engine, jurisdiction_code=sample_copy.jurisdiction_code, issue_ids=[issue_id])
    assert requests[["kind", "days", "status", "answered_by"]].values.tolist() == [
        ["extension", 2, "granted", "dispatcher"]]
