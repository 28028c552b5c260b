"""The crews' and the dispatcher's pages over HTTP (Flask's test client on a copy of the sample): who plans
which zone's route, photo kinds and requests from the forms, the inbox's links, hostile text, bad input."""

from __future__ import annotations

import html as html_lib
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import tiny_image

from geo import store
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.store.db import make_engine
from webmap.app import create_app

J = "120110900"
GPX = {"g": "http://www.topografix.com/GPX/1/1"}
HOSTILE = '</script><script>alert(1)</script>{{7*7}}'


@pytest.fixture(scope="module")
def app(sample_copy):
    engine = make_engine(sample_copy.resolved_database_url)
    # a crew of the west contractor alone: one zone of its own
    store.create_user(engine, name="west", password_hash=users.hash_password("test-password-1"), role="department",
                      department_code="sanitation_west", jurisdiction_code=J, now=datetime(2025, 1, 1))
    engine.dispose()
    return create_app(sample_copy)


@pytest.fixture(scope="module")
def engine(copy_engine):
    return copy_engine


def _dispatched(engine, department: str) -> list[int]:
    frame = store.query_issues(engine, jurisdiction_code=J, columns=("id",),
                               where=IssueFilter(statuses=["dispatched"], departments=[department]))
    return frame["id"].astype(int).tolist()


def test_a_crew_plans_its_own_zones_only_and_picks_up_its_own_issues(as_user, engine):
    west = as_user("west")
    page = west.get("/routes?job=pickup&date=2025-12-31&set=open").get_data(as_text=True)
    assert re.findall(r'<option value="(\w+)"', page.split('id="zone-select"')[1].split("</select>")[0]) == [
        "sanitation_west"]
    refused = west.get("/routes?zone=sanitation_east")
    assert refused.status_code == 400 and "sanitation_west" in refused.get_data(as_text=True)
    for path in ("/maps/routes/data?zone=sanitation_east", "/routes.gpx?zone=sanitation_east"):
        assert west.get(path).status_code == 400
    gpx_href = html_lib.unescape(re.search(r'href="(/routes\.gpx\?[^"]+)"', page).group(1))
    gpx = ET.fromstring(west.get(gpx_href).data)
    stops = [int(w.findtext("g:desc", "", GPX).split()[-1]) for w in gpx.findall("g:wpt", GPX)]
    assert stops
    owners = store.query_issues(engine, jurisdiction_code=J, where=IssueFilter(ids=stops), columns=("department_code",))
    assert set(owners["department_code"]) == {"sanitation_west"}
    # a department without a contractor zone is told so, in Chinese first
    none = as_user("construction").get("/routes")
    assert none.status_code == 404 and "本单位没有作业片区" in none.get_data(as_text=True)
    # the supervisor still plans every zone with every department's piles
    supervisor = as_user("supervisor").get("/routes?zone=sanitation_east&date=2025-12-31")
    assert supervisor.status_code == 200 and 'id="route-error"' not in supervisor.get_data(as_text=True)


def test_handling_from_the_form_stores_before_and_after_and_refuses_without_after(as_user, engine, sample_copy):
    crew = as_user("west")
    issue_id = _dispatched(engine, "sanitation_west")[0]
    form = {"action": "handle", "note": "清理完毕", "back": "todo", "csrf_token": crew.csrf}
    photos_dir = sample_copy.data_dir / "photos"
    before = len(list(photos_dir.glob("*"))) if photos_dir.exists() else 0
    missing = crew.post(f"/issues/{issue_id}/transitions", data={**form, "photo_before": (BytesIO(tiny_image()), "b.png")},
                        content_type="multipart/form-data")
    assert missing.status_code == 400 and "照片" in missing.get_data(as_text=True)
    # the refused step keeps no photo file
    assert (len(list(photos_dir.glob("*"))) if photos_dir.exists() else 0) == before
    done = crew.post(f"/issues/{issue_id}/transitions", content_type="multipart/form-data", data={
        **form, "photo_before": (BytesIO(tiny_image("JPEG")), "b.jpg"), "photo_after": (BytesIO(tiny_image()), "a.png")})
    assert done.status_code == 302 and done.headers["Location"] == f"/todo?done={issue_id}"
    photos = store.read_issue_photos(engine, issue_id=issue_id)
    assert photos["kind"].tolist() == ["before", "after"]
    page = crew.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert "处置前照片" in page and "处置后照片" in page
    # a verification may carry a photo, of its own kind
    desk = as_user("dispatcher")
    verified = desk.post(f"/issues/{issue_id}/transitions", content_type="multipart/form-data", data={
        "action": "verify", "csrf_token": desk.csrf, "photo_verify": (BytesIO(tiny_image()), "v.png")})
    assert verified.status_code == 302
    assert store.read_issue_photos(engine, issue_id=issue_id)["kind"].tolist() == ["before", "after", "verify"]
    assert store.read_issue_events(engine, issue_id).iloc[-1]["photo"] == \
        store.read_issue_photos(engine, issue_id=issue_id)["file"].iloc[-1]


def test_requests_from_the_forms_their_bad_days_and_hostile_reasons(as_user, engine):
    crew, desk = as_user("west"), as_user("dispatcher")
    issue_id = _dispatched(engine, "sanitation_west")[0]
    ask = {"action": "ask_extension", "note": HOSTILE, "back": "todo", "csrf_token": crew.csrf}
    for days in ("0", "31", "1.5", "{{7*7}}"):
        refused = crew.post(f"/issues/{issue_id}/transitions", data={**ask, "days": days})
        assert refused.status_code == 400 and f"days={days!r}" in html_lib.unescape(refused.get_data(as_text=True))
    asked = crew.post(f"/issues/{issue_id}/transitions", data={**ask, "days": "3"})
    assert asked.status_code == 302 and asked.headers["Location"] == f"/todo/{issue_id}"
    again = crew.post(f"/issues/{issue_id}/transitions", data={**ask, "action": "ask_return"})
    assert again.status_code == 409 and "已有待答复的申请" in again.get_data(as_text=True)
    for page in (desk.get("/dispatch"), desk.get(f"/issues/{issue_id}")):
        text = page.get_data(as_text=True)
        # the reason is shown as text: no script breaks out, the template syntax stays as typed
        assert page.status_code == 200 and "<script>alert(1)" not in text and "{{7*7}}" in text
    inbox = desk.get("/dispatch").get_data(as_text=True)
    assert html_lib.escape(HOSTILE, quote=False) in inbox or html_lib.escape(HOSTILE) in inbox
    refused = desk.post(f"/issues/{issue_id}/transitions", data={"action": "refuse_request", "note": "今天必须完成",
                                                                 "csrf_token": desk.csrf})
    assert refused.status_code == 302
    assert "不同意" in crew.get(f"/todo/{issue_id}").get_data(as_text=True)
    # a crew cannot answer its own request, nor a dispatcher ask one
    assert crew.post(f"/issues/{issue_id}/transitions", data={"action": "grant_extension",
                                                             "csrf_token": crew.csrf}).status_code == 403
    assert desk.post(f"/issues/{issue_id}/transitions", data={"action": "ask_return", "note": "x",
                                                             "csrf_token": desk.csrf}).status_code == 403


def test_inbox_counts_open_the_lists_they_count(as_user, engine):
    desk = as_user("dispatcher")
    page = desk.get("/dispatch").get_data(as_text=True)
    for box in ("reported", "registered", "handled", "due_soon", "overdue"):
        match = re.search(rf'id="box-{box}" href="([^"]+)"[^>]*>\s*<b>(\d+)</b>', page)
        href, count = html_lib.unescape(match.group(1)), int(match.group(2))
        listed = desk.get(href).get_data(as_text=True)
        assert f"{count} 条" in listed, box
        assert parse_qs(urlsplit(href).query)["status"], box
    overdue = html_lib.unescape(re.search(r'id="box-overdue" href="([^"]+)"', page).group(1))
    assert 'id="due-filter"' in desk.get(overdue).get_data(as_text=True)
    # the crew lands on its queue; the dispatcher finds the desk in the menu
    assert as_user("west").get("/").headers["Location"] == "/todo"
    assert 'id="nav-dispatch"' in page


def test_the_queue_refuses_bad_input_and_shows_only_its_own(as_user, engine):
    west = as_user("west")
    for path in ("/todo?page=0", "/todo?page=99999999999999999999", "/todo?done={{7*7}}", "/todo?done=-1"):
        assert west.get(path).status_code == 400, path
    assert west.get("/todo/99999999999999999999").status_code == 404
    east = _dispatched(engine, "sanitation_east")[0]
    assert west.get(f"/todo/{east}").status_code == 404
    cards = re.findall(r'id="card-(\d+)"', west.get("/todo").get_data(as_text=True))
    assert set(map(int, cards)) <= set(_dispatched(engine, "sanitation_west"))
    assert as_user("dispatcher").get("/todo").status_code == 403


def test_the_rest_api_takes_photo_kinds_and_extension_days(as_user, engine):
    crew = as_user("west")
    issue_id = _dispatched(engine, "sanitation_west")[-1]
    headers = {"X-CSRF-Token": crew.csrf}
    bad = crew.post(f"/api/issues/{issue_id}/photos", headers=headers, content_type="multipart/form-data",
                    data={"photo": (BytesIO(tiny_image()), "a.png"), "kind": "selfie"})
    assert bad.status_code == 400 and "kind='selfie'" in bad.get_json()["error"]
    before = crew.post(f"/api/issues/{issue_id}/photos", headers=headers, content_type="multipart/form-data",
                       data={"photo": (BytesIO(tiny_image()), "a.png"), "kind": "before"})
    assert before.status_code == 201
    assert store.read_issue_photos(engine, issue_id=issue_id)["kind"].tolist()[-1] == "before"
    asked = crew.post(f"/api/issues/{issue_id}/transitions", headers=headers,
                      json={"action": "ask_extension", "note": "需要吊车", "days": 2})
    assert asked.status_code == 200, asked.get_data(as_text=True)
    body = asked.get_json()
    assert isinstance(body["request_id"], int) and body["deadline_at"].endswith("+08:00")
    desk = as_user("dispatcher")
    granted = desk.post(f"/api/issues/{issue_id}/transitions", headers={"X-CSRF-Token": desk.csrf},
                        json={"action": "grant_extension"}).get_json()
    assert granted["request_id"] == body["request_id"] and granted["deadline_at"] > body["deadline_at"]
