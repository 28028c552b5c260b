"""People on the web app through Flask's test client: login, logout, sessions, CSRF, rate limit, headers and
CSP, roles on every route, department isolation on every issue route, phone reveals, reports with photos,
the REST API's issue routes and transitions, the pages' filters and languages."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from io import BytesIO

import pandas as pd
import pytest
from conftest import TEST_PASSWORD, map_document, map_layer, tiny_image
from sqlalchemy import text

from geo import store
from geo.clock import local_now
from geo.issue_filter import IssueFilter
from geo.loop import metrics
from geo.statuses import OPEN_STATUSES
from webmap.app import create_app
from webmap.auth import ACCESS, GUARDED_BLUEPRINTS

J = "120110900"
PNG = tiny_image("PNG")
INSIDE = {"lon": "117.37", "lat": "39.1"}


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


def _open_issue(copy_engine, department: str, status: str = "dispatched") -> int:
    frame = store.query_issues(copy_engine, jurisdiction_code=J,
                               where=IssueFilter(statuses=[status], departments=[department]), limit=1)
    assert len(frame), (department, status)
    return int(frame.iloc[0]["id"])


# --------------------------------------------------------------------------- login, logout, sessions

def test_anonymous_requests_are_sent_to_the_login(app):
    client = app.test_client()
    page = client.get("/issues?status=open")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/issues?status%3Dopen"
    api = client.get("/api/issues")
    assert api.status_code == 401 and "login" in api.get_json()["error"]
    assert client.get("/login").status_code == 200
    # the standard APIs and the assets keep their own rules
    assert client.get("/ogcapi/").status_code == 200
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200


def test_form_login_then_logout_revokes_the_cookie(app, copy_engine):
    client = app.test_client()
    form = client.get("/login?next=/issues").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    done = client.post("/login", data={"name": "dispatcher", "password": TEST_PASSWORD, "next": "/issues",
                                       "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"] == "/issues"
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/issues").status_code == 200
    before = copy_engine.connect().execute(text("SELECT count(*) FROM user_sessions")).scalar_one()
    page_token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/issues").get_data(as_text=True)).group(1)
    assert page_token != token  # a login starts a fresh CSRF token
    assert client.post("/logout", data={"csrf_token": page_token}).status_code == 302
    after = copy_engine.connect().execute(text("SELECT count(*) FROM user_sessions")).scalar_one()
    assert after == before - 1
    # the old cookie, replayed by someone who copied it, no longer works
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/issues").status_code == 302
    assert thief.get("/api/issues").status_code == 401


def test_bad_logins_and_the_login_throttle_shared_by_processes(sample_copy, monkeypatch):
    # two apps on one database stand for two worker processes; one client address (not the other tests'), and
    # a clock stopped in the past (so the wait cannot end between two requests, nor outlast the test)
    monkeypatch.setattr("webmap.auth.local_now", lambda: datetime(2020, 1, 1, 9, 0))
    first = create_app(replace(sample_copy, login_free_failures=2))
    second = create_app(replace(sample_copy, login_free_failures=2))

    def post(app, name, password):
        return app.test_client().post("/login", json={"name": name, "password": password},
                                      environ_base={"REMOTE_ADDR": "10.30.0.1"})

    assert post(first, "citizen", "not-the-password").status_code == 401
    unknown = post(second, "nobody", "x" * 10)
    assert unknown.status_code == 401 and unknown.get_json()["error"] == post(
        first, "citizen", "not-the-password").get_json()["error"]  # an unknown name answers like a wrong password
    # the address's third failure (counted by the other process) makes its next attempt wait a second
    waiting = post(second, "supervisor", TEST_PASSWORD)
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"


@pytest.mark.parametrize("target, expected", [
    ("/issues", "/issues"), ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
])
def test_login_redirects_only_to_local_paths(app, target, expected):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    done = client.post("/login", data={"name": "supervisor", "password": TEST_PASSWORD, "next": target,
                                       "csrf_token": token})
    assert done.headers["Location"] == expected


def test_every_form_and_api_write_needs_the_csrf_token(app, as_user, copy_engine):
    client = as_user("dispatcher")
    issue_id = _open_issue(copy_engine, "enforcement", "reported")
    assert app.test_client().post("/login", data={"name": "supervisor", "password": TEST_PASSWORD}).status_code == 400
    for url, kwargs in [(f"/issues/{issue_id}/transitions", {"data": {"action": "register"}}),
                        (f"/issues/{issue_id}/phone", {"data": {}}),
                        ("/report", {"data": {**INSIDE, "category_code": "07001", "description": "x"}}),
                        (f"/api/issues/{issue_id}/transitions", {"json": {"action": "register"}}),
                        ("/api/issues", {"json": {**INSIDE, "category_code": "07001", "description": "x"}}),
                        ("/logout", {"data": {}})]:
        missing = client.post(url, **kwargs)
        wrong = client.post(url, headers={"X-CSRF-Token": "forged"}, **kwargs)
        assert missing.status_code == wrong.status_code == 400, url
        assert "CSRF" in missing.get_data(as_text=True)
    assert store.query_issues(copy_engine, jurisdiction_code=J,
                              where=IssueFilter(ids=[issue_id]))["status"].tolist() == ["reported"]
    assert client.get("/issues").status_code == 200  # still logged in


# --------------------------------------------------------------------------- headers

def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def test_security_headers_and_a_csp_that_hashes_the_maps_inline_scripts(as_user):
    client = as_user("supervisor")
    answer = client.get("/maps/overview")
    html = answer.get_data(as_text=True)
    csp = answer.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+);", csp).group(1).split()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(inline) >= 2
    assert set(script_src) == {"'self'", *map(_hash, inline)}
    assert "unsafe-inline" not in " ".join(script_src) and "unsafe-eval" not in csp
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    # a map may stay in the user's own browser and be asked for again (ETag, 304); no shared cache keeps it
    assert answer.headers["Cache-Control"] == "private, no-cache" and answer.headers["ETag"]
    assert client.get("/issues").headers["Cache-Control"] == "private, no-store"
    api = client.get("/api/issues?limit=1")
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'"


def test_csp_allows_the_configured_tile_server_only(sample_copy, login):
    from webmap.auth import tile_sources

    assert tile_sources(sample_copy) == ()
    assert tile_sources(replace(sample_copy, basemap="local", tile_url="http://tiles.intra:8080/{z}/{x}/{y}.png")) \
        == ("http://tiles.intra:8080",)
    assert tile_sources(replace(sample_copy, basemap="amap")) == ("https://*.is.autonavi.com",)
    app = create_app(replace(sample_copy, basemap="osm"))
    client = app.test_client()
    login(client, "supervisor")
    csp = client.get("/maps/overview").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in csp


# --------------------------------------------------------------------------- roles on every route

ISSUE_ROUTES = ["/issues/{id}", "/maps/issues/{id}/data", "/api/issues/{id}", "/api/issues/{id}/events", "/todo/{id}"]
#: the view and zoom of a live layer's question: the whole sample
VIEW = "view=117.33,39.05,117.42,39.13&zoom=14"
ROUTES = [
    ("GET", "/"), ("GET", "/maps/overview"), ("GET", "/maps/overview/data"), ("GET", f"/maps/overview/points?{VIEW}"),
    ("GET", "/greening?year=2025"),
    ("GET", "/maps/greening?year=2025"), ("GET", "/maps/greening/data?year=2025"),
    ("GET", f"/maps/greening/points?year=2025&{VIEW}"),
    ("GET", "/league?month=2025-06"), ("GET", "/plan-tasks?month=2025-06"), ("GET", "/coverage"),
    ("GET", "/maps/coverage"), ("GET", "/maps/coverage/data"), ("GET", f"/maps/coverage/points?{VIEW}"),
    ("GET", "/reports/weekly.xlsx?week=2025-W26"),
    ("GET", "/routes?job=sweep"), ("GET", "/maps/routes?job=sweep"), ("GET", "/maps/routes/data?job=sweep"),
    ("GET", "/routes.gpx?job=sweep"), ("GET", "/hotspots"), ("GET", "/maps/hotspots"), ("GET", "/maps/hotspots/data"),
    ("GET", f"/maps/hotspots/points?{VIEW}"),
    ("GET", "/emerging"), ("GET", "/maps/emerging"), ("GET", "/maps/emerging/data"),
    ("GET", "/issues"), ("GET", "/maps/issues"), ("GET", "/maps/issues/data"), ("GET", f"/maps/issues/points?{VIEW}"),
    ("GET", "/issues/{id}"),
    ("GET", "/maps/issues/{id}"), ("GET", "/maps/issues/{id}/data"),
    ("POST", "/issues/{id}/transitions"), ("POST", "/issues/{id}/phone"), ("GET", "/photos/{photo}"),
    ("GET", "/report"), ("POST", "/report"), ("GET", "/report/done?issue=1"), ("GET", "/my/reports"),
    ("GET", "/my/reports/{id}"), ("GET", "/my/reports/{id}/photos/{photo}"),
    ("GET", "/todo"), ("GET", "/todo/{id}"), ("GET", "/dispatch"),
    ("GET", "/api/me"), ("GET", "/api/issues"), ("GET", "/api/issues/{id}"), ("GET", "/api/issues/{id}/events"),
    ("POST", "/api/issues"), ("POST", "/api/issues/{id}/photos"), ("POST", "/api/issues/{id}/transitions"),
    ("GET", "/api/layers/roads"), ("GET", "/api/analysis/league?month=2025-06"), ("GET", "/api/analysis/greening"),
]
USERS = {"supervisor": "supervisor", "dispatcher": "dispatcher", "department": "sanitation", "public": "citizen",
         "admin": "admin"}


def test_every_guarded_endpoint_has_its_roles_and_every_one_is_tested(app):
    guarded = {rule.endpoint for rule in app.url_map.iter_rules()
               if rule.endpoint.split(".")[0] in GUARDED_BLUEPRINTS}
    assert guarded == set(ACCESS)
    tested = {app.url_map.bind("localhost").match(path.split("?")[0].format(id=1, photo="x.png"), method=method)[0]
              for method, path in ROUTES}
    assert tested == guarded


@pytest.fixture(scope="module")
def sanitation_photo(app, copy_engine, login):
    """A photo on an issue of the west sanitation contractor (uploaded by the dispatcher) and that issue's id."""
    issue_id = _open_issue(copy_engine, "sanitation_west")
    client = app.test_client()
    token = login(client, "dispatcher")
    answer = client.post(f"/api/issues/{issue_id}/photos", headers={"X-CSRF-Token": token},
                         data={"photo": (BytesIO(PNG), "a.png")}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return issue_id, answer.get_json()["photo"]


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_gets_exactly_the_routes_of_its_table(as_user, sanitation_photo, role):
    client = as_user(USERS[role])
    issue_id, photo = sanitation_photo
    for method, path in ROUTES:
        url = path.format(id=issue_id, photo=photo)
        endpoint = client.application.url_map.bind("localhost").match(url.split("?")[0], method=method)[0]
        # bodies that fail validation: a role that passes the guard gets a 4xx of its own, never 403
        answer = client.open(url, method=method, headers={"X-CSRF-Token": client.csrf},
                             json={} if method == "POST" and url.startswith("/api/") else None,
                             data=None if url.startswith("/api/") else ({} if method == "POST" else None))
        if role in ACCESS[endpoint]:
            assert answer.status_code != 403 and answer.status_code < 500, (role, url, answer.status_code,
                                                                             answer.get_data(as_text=True)[:300])
        else:
            assert answer.status_code == 403, (role, url, answer.status_code)


def test_a_department_reads_and_changes_only_its_own_issues_on_every_route(as_user, copy_engine, sanitation_photo):
    own_id, photo = sanitation_photo
    other_id = _open_issue(copy_engine, "construction")
    other = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(ids=[other_id])).iloc[0]
    client = as_user("sanitation")
    headers = {"X-CSRF-Token": client.csrf}
    for path in ISSUE_ROUTES:
        assert client.get(path.format(id=own_id)).status_code == 200, path
        refused = client.get(path.format(id=other_id))
        assert refused.status_code == 404, path
        assert other["description"] not in refused.get_data(as_text=True)
    writes = [
        client.post(f"/issues/{other_id}/transitions", data={"action": "handle", "note": "done",
                                                            "csrf_token": client.csrf}),
        client.post(f"/api/issues/{other_id}/transitions", json={"action": "handle", "note": "n", "photo": photo},
                    headers=headers),
        client.post(f"/api/issues/{other_id}/photos", data={"photo": (BytesIO(PNG), "b.png")},
                    content_type="multipart/form-data", headers=headers),
    ]
    assert [w.status_code for w in writes] == [404, 404, 404]
    assert store.query_issues(copy_engine, jurisdiction_code=J,
                              where=IssueFilter(ids=[other_id]))["status"].tolist() == ["dispatched"]
    assert store.read_issue_photos(copy_engine, issue_id=other_id).empty
    # a photo of another department's issue is not served
    construction = as_user("construction")
    assert construction.get(f"/photos/{photo}").status_code == 404
    assert client.get(f"/photos/{photo}").status_code == 200
    # lists: asking for another department's issues gives none; no filter gives only one's own
    assert client.get("/api/issues?department=construction").get_json()["numberMatched"] == 0
    own = client.get("/api/issues?limit=10000").get_json()
    departments = {f["properties"]["department_code"] for f in own["features"]}
    assert departments <= {"sanitation", "sanitation_west", "sanitation_east"} and own["numberMatched"] > 0
    sanitation = IssueFilter(departments=["sanitation", "sanitation_west", "sanitation_east"])
    assert own["numberMatched"] == store.count_issues(copy_engine, jurisdiction_code=J, where=sanitation)
    listed = client.get("/issues?department=construction").get_data(as_text=True)
    assert 'id="no-issues"' in listed and "0 条" in listed
    # the list's map asks for the issues of its view: around either issue, only one's own comes back
    assert map_layer(map_document(client, "/maps/issues"), "问题列表")["kind"] == "live"
    for issue_id, shown in ((own_id, True), (other_id, False)):
        [x, y] = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id])).geometry.iloc[0].coords[0]
        near = client.get(f"/maps/issues/points?view={x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}&zoom=19").get_json()
        assert not near["clustered"]
        hrefs = {f["properties"]["href"] for f in near["data"]["features"]}
        assert (f"/issues/{issue_id}" in hrefs) == shown
    assert client.get("/").headers["Location"] == "/todo"


# --------------------------------------------------------------------------- phones

def test_phones_are_masked_and_a_dispatcher_reveal_is_logged(as_user, copy_engine):
    issue_id = int(copy_engine.connect().execute(text(
        "SELECT c.issue_id FROM reporter_contacts c JOIN issues i ON i.id = c.issue_id "
        "WHERE c.phone IS NOT NULL AND i.department_code = 'sanitation_west' ORDER BY c.issue_id LIMIT 1")).scalar_one())
    phone = store.read_contact(copy_engine, issue_id)["phone"]
    digits = re.sub(r"\D", "", phone)[:11]
    masked = digits[:3] + "****" + digits[-4:]
    for name in ("supervisor", "sanitation", "dispatcher"):
        client = as_user(name)
        page = client.get(f"/issues/{issue_id}").get_data(as_text=True)
        assert masked in page and digits not in page
        api = client.get(f"/api/issues/{issue_id}").get_json()
        assert api["properties"]["phone"].startswith(masked[:7]) and digits not in json.dumps(api)
        assert ('id="reveal-button"' in page) == (name == "dispatcher")
    assert as_user("supervisor").post(f"/issues/{issue_id}/phone", headers={"X-CSRF-Token": "x"}).status_code in (400, 403)
    supervisor = as_user("supervisor")
    assert supervisor.post(f"/issues/{issue_id}/phone", data={"csrf_token": supervisor.csrf}).status_code == 403
    before = store.read_phone_reveals(copy_engine, jurisdiction_code=J, issue_id=issue_id)
    dispatcher = as_user("dispatcher")
    shown = dispatcher.post(f"/issues/{issue_id}/phone", data={"csrf_token": dispatcher.csrf})
    assert shown.status_code == 200 and digits in re.sub(r"\D", "", shown.get_data(as_text=True))
    assert shown.headers["Cache-Control"] == "private, no-store"
    log = store.read_phone_reveals(copy_engine, jurisdiction_code=J, issue_id=issue_id)
    assert len(log) == len(before) + 1 and log.iloc[-1]["user_name"] == "dispatcher"


# --------------------------------------------------------------------------- reports and photos

def test_a_decompression_bomb_upload_gets_400_on_the_form_and_the_api(as_user, copy_engine):
    from test_users import _bomb_png

    bomb = _bomb_png(20000, 20000)
    issue_id = _open_issue(copy_engine, "sanitation_west")
    photos_before = len(store.read_issue_photos(copy_engine, issue_id=issue_id))
    dispatcher = as_user("dispatcher")
    answer = dispatcher.post(f"/api/issues/{issue_id}/photos", headers={"X-CSRF-Token": dispatcher.csrf},
                             data={"photo": (BytesIO(bomb), "bomb.png")}, content_type="multipart/form-data")
    assert answer.status_code == 400 and "megapixels" in answer.get_json()["error"]
    assert len(store.read_issue_photos(copy_engine, issue_id=issue_id)) == photos_before
    citizen = as_user("citizen")
    count = store.count_issues(copy_engine, jurisdiction_code=J)
    form = citizen.post("/report", data={**INSIDE, "category_code": "07001", "description": "大图",
                                         "csrf_token": citizen.csrf, "photos": [(BytesIO(bomb), "bomb.png")]},
                        content_type="multipart/form-data")
    assert form.status_code == 400 and "百万像素" in form.get_data(as_text=True)
    assert store.count_issues(copy_engine, jurisdiction_code=J) == count


def test_a_report_with_a_photo_becomes_an_assigned_issue(as_user, copy_engine, sample_copy):
    client = as_user("citizen")
    answer = client.post("/report", data={**INSIDE, "category_code": "07001", "description": "墙上小广告",
                                          "address": "东兴路", "phone": "13912345678", "csrf_token": client.csrf,
                                          "photos": [(BytesIO(PNG), "wall.png")]},
                         content_type="multipart/form-data")
    assert answer.status_code == 302
    issue_id = int(re.search(r"issue=(\d+)", answer.headers["Location"]).group(1))
    done = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"#{issue_id}" in done and 'id="view-issue"' not in done
    issue = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]),
                               columns=("id", "source", "status", "category_code", "cell_code", "department_code",
                                        "deadline_at", "description")).iloc[0]
    assert (issue["source"], issue["status"], issue["category_code"]) == ("web", "reported", "07001")
    assert issue["cell_code"].startswith(J) and issue["department_code"] and issue["deadline_at"] is not None
    assert store.read_contact(copy_engine, issue_id)["phone"] == "13912345678"
    photos = store.read_issue_photos(copy_engine, issue_id=issue_id)
    assert photos["content_type"].tolist() == ["image/png"] and photos["uploaded_by"].tolist() == ["citizen"]
    # the public submits only: it cannot read the issue or its photo back
    assert client.get(f"/issues/{issue_id}").status_code == 403
    assert client.get(f"/photos/{photos['file'][0]}").status_code == 403
    served = as_user("supervisor").get(f"/photos/{photos['file'][0]}")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == PNG
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert (sample_copy.data_dir / "photos" / photos["file"][0]).read_bytes() == PNG


@pytest.mark.parametrize("change, status, message", [
    ({"photos": [(BytesIO(b"<script>alert(1)</script>"), "x.jpg")]}, 400, "照片“x.jpg”无法使用"),
    ({"photos": [(BytesIO(PNG), f"{i}.png") for i in range(5)]}, 400, "照片太多：最多 4 张"),
    ({"lon": "117.0"}, 400, "这个位置不在本街道范围内"),
    ({"lon": "east"}, 400, "lon=&#39;east&#39;"),
    ({"category_code": "99999"}, 400, "没有这个问题类别"),
    ({"description": ""}, 400, "请填写问题描述"),
    ({"description": "x" * 2001}, 400, "最多 2000 个"),
])
def test_bad_reports_store_nothing(as_user, copy_engine, sample_copy, change, status, message):
    """The form comes back with the refusal in the page's language (Chinese), and nothing is stored."""
    client = as_user("citizen")
    before = store.count_rows(copy_engine, "issues", jurisdiction_code=J)
    files = len(list((sample_copy.data_dir / "photos").glob("*"))) if (sample_copy.data_dir / "photos").exists() else 0
    form = {**INSIDE, "category_code": "07001", "description": "小广告", "csrf_token": client.csrf, **change}
    answer = client.post("/report", data=form, content_type="multipart/form-data")
    assert answer.status_code == status and message in answer.get_data(as_text=True)
    assert store.count_rows(copy_engine, "issues", jurisdiction_code=J) == before
    after = len(list((sample_copy.data_dir / "photos").glob("*"))) if (sample_copy.data_dir / "photos").exists() else 0
    assert after == files


def test_an_oversized_upload_is_refused_before_it_is_read(as_user):
    client = as_user("citizen")
    big = b"\xff\xd8\xff" + b"\x00" * 22_000_000
    answer = client.post("/report", data={**INSIDE, "category_code": "07001", "description": "x",
                                          "csrf_token": client.csrf, "photos": [(BytesIO(big), "big.jpg")]},
                         content_type="multipart/form-data")
    assert answer.status_code == 413 and "5 MB" in answer.get_data(as_text=True)


# --------------------------------------------------------------------------- REST API

def test_api_create_and_the_whole_loop_with_roles(as_user, copy_engine):
    dispatcher, department, public = as_user("dispatcher"), as_user("sanitation"), as_user("citizen")
    body = {"lon": 117.37, "lat": 39.1, "category_code": "06010", "description": "路边垃圾堆", "phone": "13812345678"}
    created = public.post("/api/issues", json=body, headers={"X-CSRF-Token": public.csrf})
    assert created.status_code == 201 and set(created.get_json()) == {"id", "tracking_url"}
    issue_id = created.get_json()["id"]
    assert created.headers["Location"] == f"/api/issues/{issue_id}"
    # the public learns its report's status page, which needs no login
    tracked = as_user("citizen").application.test_client().get(created.get_json()["tracking_url"])
    assert tracked.status_code == 200 and f"#{issue_id}" in tracked.get_data(as_text=True)
    feature = dispatcher.get(f"/api/issues/{issue_id}").get_json()
    assert feature["type"] == "Feature" and feature["geometry"]["coordinates"] == [117.37, 39.1]
    assert feature["properties"]["reported_at"].endswith("+08:00") and feature["properties"]["phone"] == "138****5678"

    def step(client, action, **extra):
        return client.post(f"/api/issues/{issue_id}/transitions", json={"action": action, **extra},
                           headers={"X-CSRF-Token": client.csrf})

    assert step(public, "register").status_code == 403
    assert step(dispatcher, "register").get_json()["to_status"] == "registered"
    assert step(dispatcher, "register").status_code == 409
    assert step(dispatcher, "dispatch", department_code="sanitation_west").get_json()["department_code"] == \
        "sanitation_west"
    assert step(department, "handle", note="清理完毕").status_code == 400  # a handling step needs a photo
    assert step(department, "handle", note="清理完毕", photo="0" * 32 + ".png").status_code == 400  # not this issue's
    photo = department.post(f"/api/issues/{issue_id}/photos", data={"photo": (BytesIO(PNG), "after.png")},
                            content_type="multipart/form-data", headers={"X-CSRF-Token": department.csrf})
    assert photo.status_code == 201
    handled = step(department, "handle", note="清理完毕", photo=photo.get_json()["photo"], lon=117.37, lat=39.1)
    assert handled.status_code == 200 and handled.get_json()["at"].endswith("+08:00")
    assert step(dispatcher, "verify").status_code == 200 and step(dispatcher, "close").status_code == 200
    events = dispatcher.get(f"/api/issues/{issue_id}/events").get_json()
    assert [e["action"] for e in events] == ["register", "dispatch", "handle", "verify", "close"]
    assert events[2]["actor"] == "sanitation" and events[2]["photo"] == photo.get_json()["photo"]
    page = dispatcher.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert "清理完毕" in page and f"/photos/{photo.get_json()['photo']}" in page


def test_api_issue_list_filters_and_paging(as_user, copy_engine):
    client = as_user("supervisor")
    url = "/api/issues?status=open&category=06010,07001&since=2025-06-01&until=2025-12-31&limit=5"
    first = client.get(url).get_json()
    expected = store.count_issues(copy_engine, jurisdiction_code=J,
                                  where=IssueFilter(statuses=OPEN_STATUSES, categories=["06010", "07001"],
                                                    since=pd_ts("2025-06-01"), until=pd_ts("2026-01-01")))
    assert first["numberMatched"] == expected and first["numberReturned"] == len(first["features"]) == min(5, expected)
    second = client.get(url + "&offset=5").get_json()
    assert not {f["properties"]["id"] for f in first["features"]} & {f["properties"]["id"] for f in second["features"]}
    for feature in first["features"] + second["features"]:
        assert feature["properties"]["status"] in OPEN_STATUSES
        assert feature["properties"]["category_code"] in ("06010", "07001")
    box = client.get("/api/issues?bbox=117.35,39.09,117.36,39.10&community=120110900001&limit=10000").get_json()
    assert all(117.35 <= f["geometry"]["coordinates"][0] <= 117.36 for f in box["features"])
    assert {f["properties"]["community_code"] for f in box["features"]} <= {"120110900001"}
    for query, message in [("status=lost", "status='lost'"), ("category=x1", "category='x1'"),
                           ("since=yesterday", "since='yesterday'"), ("bbox=1,2", "bbox"), ("limit=0", "limit='0'")]:
        answer = client.get(f"/api/issues?{query}")
        assert answer.status_code == 400 and message in answer.get_json()["error"], query


def pd_ts(text_):
    import pandas as pd

    return pd.Timestamp(text_).to_pydatetime()


def test_api_analysis_results(as_user):
    client = as_user("supervisor")
    league = client.get("/api/analysis/league?month=2025-06").get_json()
    assert league["month"] == "2025-06" and len(league["rows"]) > 5
    row = league["rows"][0]
    if row["due"]:
        assert row["close_rate_pct"] == pytest.approx(100 * row["closed"] / row["due"])
    greening = client.get("/api/analysis/greening?year=2025&as_of=2025-06-30").get_json()
    assert greening["year"] == 2025 and greening["as_of"] == "2025-06-30" and greening["rows"]
    assert client.get("/api/analysis/league?month=2025-13").status_code == 400


# --------------------------------------------------------------------------- pages

def test_home_figures_are_the_metrics_of_the_stored_issues(as_user, copy_engine):
    html = as_user("supervisor").get("/").get_data(as_text=True)
    issues = store.query_issues(copy_engine, jurisdiction_code=J, columns=metrics.METRIC_COLUMNS)
    now = local_now()
    # the figures are as of the latest day with a report (today here: the tests report issues today)
    day = min(issues["reported_at"].max(), pd.Timestamp(now)).normalize()
    expected = metrics.home_figures(issues, now=(day + pd.Timedelta(days=1, microseconds=-1)).to_pydatetime())
    shown = {key: re.search(rf'id="fig-{key}"[^>]*>([^<]+)<', html).group(1)
             for key in ("new-today", "open", "overdue", "closed-today", "close-rate", "on-time-rate", "total")}
    assert int(shown["open"]) == int(issues["status"].isin(OPEN_STATUSES).sum())
    assert int(shown["overdue"]) == int(metrics.overdue_mask(issues, now=now).sum())
    assert int(shown["new-today"]) == expected["new_today"] and int(shown["closed-today"]) == expected["closed_today"]
    assert int(shown["total"]) == len(issues)
    month = metrics.period_figures(issues, start=day.replace(day=1).to_pydatetime(),
                                   end=(day.replace(day=1) + pd.DateOffset(months=1)).to_pydatetime(), now=now)
    rate = month["close_rate_pct"]
    assert shown["close-rate"] == ("—" if rate != rate else f"{rate:.2f}%")
    for link in ("greening-link", "routes-link", "coverage-link", "league-link", "issues-link", "report-link"):
        assert f'id="{link}"' in html


def test_issue_list_filters_pages_and_languages(as_user, copy_engine):
    client = as_user("dispatcher")
    page = client.get("/issues?status=open&category=06010").get_data(as_text=True)
    total = store.count_issues(copy_engine, jurisdiction_code=J,
                               where=IssueFilter(statuses=OPEN_STATUSES, categories=["06010"]))
    assert f"{total} 条" in page and "问题列表" in page
    ids = re.findall(r'href="/issues/(\d+)"', page)
    assert 0 < len(ids) <= 50
    assert 'src="/maps/issues?status=open&amp;category=06010"' in page
    second = client.get("/issues?page=2").get_data(as_text=True)
    assert not set(re.findall(r'href="/issues/(\d+)"', second)) & set(re.findall(r'href="/issues/(\d+)"',
                                                                                  client.get("/issues").get_data(as_text=True)))
    assert client.get("/issues?page=0").status_code == 400
    english = client.get("/issues?lang=en")
    assert "Issues" in english.get_data(as_text=True) and 'lang="en"' in english.get_data(as_text=True)
    assert "lang=en" in english.headers["Set-Cookie"]
    assert 'lang="en"' in client.get("/issues").get_data(as_text=True)  # the cookie remembers
    assert 'lang="zh-CN"' in client.get("/issues?lang=zh").get_data(as_text=True)


def test_transition_form_on_the_issue_page(as_user, copy_engine):
    issue_id = _open_issue(copy_engine, "enforcement", "reported")
    client = as_user("dispatcher")
    page = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert 'id="action-register"' in page and 'id="action-refuse"' in page
    assert 'id="action-' not in as_user("supervisor").get(f"/issues/{issue_id}").get_data(as_text=True)
    done = client.post(f"/issues/{issue_id}/transitions", data={"action": "register", "csrf_token": client.csrf})
    assert done.status_code == 302 and done.headers["Location"] == f"/issues/{issue_id}"
    assert store.query_issues(copy_engine, jurisdiction_code=J,
                              where=IssueFilter(ids=[issue_id]))["status"].tolist() == ["registered"]
    again = client.post(f"/issues/{issue_id}/transitions", data={"action": "register", "csrf_token": client.csrf})
    assert again.status_code == 409
