"""Open311 GeoReport v2: the test client for every endpoint and error, then a live server driven by
the ``georeport`` client library from PyPI (reads, with a supervisor's and a department's API key) and by
plain HTTP following the spec (POST, tokens, discovery, which that library does not implement). Which
caller reads which request, route by route, is tests/test_api_scope.py."""

from __future__ import annotations

import importlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import requests
from georeport import GeoReport
from sqlalchemy import text

from geo import store
from geo.issue_filter import IssueFilter
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy
from webmap.app import create_app

J = "120110900"
BASE = "/open311/v2"
# the sample's issues are of 2025; the spec limits a query to 90 days
JUNE = {"start_date": "2025-06-01T00:00:00+08:00", "end_date": "2025-06-30T23:59:59+08:00"}
CITYMAP = str(Path(sys.executable).parent / "citymap")
INSIDE = {"lat": "39.1", "long": "117.37"}


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def api_key(copy_engine):
    """A key without a user, as keys were before they had users: it submits and reads nothing."""
    return store.create_api_key(copy_engine, "测试客户端", jurisdiction_code=J)


@pytest.fixture(scope="module")
def reader(api_keys):
    """Headers with a supervisor's API key, which reads every request."""
    return {"X-API-Key": api_keys["supervisor"]}


def _issues(copy_engine, *, columns=store.ISSUE_READ_COLUMNS, **criteria) -> pd.DataFrame:
    return store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(**criteria), columns=columns)


def test_services_are_the_taxonomy_categories(client):
    services = client.get(f"{BASE}/services.json").get_json()
    categories = load_taxonomy().categories
    assert [s["service_code"] for s in services] == list(categories["code"])
    garbage = next(s for s in services if s["service_code"] == "06010")
    assert garbage["service_name"] == categories.loc["06010", "name"]
    assert garbage["metadata"] is False and garbage["type"] == "realtime"
    assert garbage["group"] == categories.loc["06010", "major_name"]
    root = ET.fromstring(client.get(f"{BASE}/services.xml").get_data())
    assert root.tag == "services" and len(root.findall("service")) == len(categories)
    assert root.find("service/metadata").text == "false"


def test_service_definition_and_unknown_codes(client):
    assert client.get(f"{BASE}/services/06010.json").get_json() == {"service_code": "06010", "attributes": []}
    missing = client.get(f"{BASE}/services/99999.json")
    assert missing.status_code == 404
    assert missing.get_json() == [{"code": 404, "description": "service_code '99999' not found"}]
    xml = client.get(f"{BASE}/services/99999.xml")
    assert xml.status_code == 404 and xml.mimetype == "text/xml"
    root = ET.fromstring(xml.get_data())
    assert root.tag == "errors" and root.find("error/code").text == "404"


def test_jurisdiction_id_is_accepted_and_checked(client):
    assert client.get(f"{BASE}/services.json?jurisdiction_id={J}").status_code == 200
    wrong = client.get(f"{BASE}/requests.json?jurisdiction_id=110101001")
    assert wrong.status_code == 404 and "110101001" in wrong.get_json()[0]["description"]


def test_requests_in_a_window_by_code_and_status(client, copy_engine, reader):
    answer = client.get(f"{BASE}/requests.json", query_string={**JUNE, "service_code": "06010,07001"}, headers=reader)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    got = answer.get_json()
    expected = _issues(copy_engine, categories=["06010", "07001"], since=datetime.fromisoformat("2025-06-01"),
                       until=datetime.fromisoformat("2025-07-01"))
    assert len(got) == len(expected) > 0
    assert {r["service_request_id"] for r in got} == set(expected["id"])
    requested = [r["requested_datetime"] for r in got]
    assert requested == sorted(requested, reverse=True)  # newest first
    one = got[0]
    row = expected.set_index("id").loc[one["service_request_id"]]
    assert one["service_code"] == row["category_code"]
    assert (one["long"], one["lat"]) == (round(row.geometry.x, 6), round(row.geometry.y, 6))
    assert one["requested_datetime"] == f"{row['reported_at']:%Y-%m-%dT%H:%M:%S}+08:00"
    assert one["status"] == ("open" if row["status"] in OPEN_STATUSES else "closed")
    assert "phone" not in one and "email" not in one


def test_status_maps_to_open_and_closed(client, copy_engine, api_keys):
    # the key as Open311 clients send it: the api_key parameter
    window = {"start_date": "2025-10-01", "end_date": "2025-12-29", "api_key": api_keys["supervisor"]}
    frame = _issues(copy_engine, since=datetime.fromisoformat("2025-10-01"), until=datetime.fromisoformat("2025-12-30"))
    for status, ours in (("open", list(OPEN_STATUSES)), ("closed", ["closed", "refused", "merged"])):
        got = client.get(f"{BASE}/requests.json", query_string={**window, "status": status}).get_json()
        assert {r["status"] for r in got} <= {status}
        assert len(got) == min(1000, int(frame["status"].isin(ours).sum())), status
    assert client.get(f"{BASE}/requests.json", query_string={**window, "status": "pending"}).status_code == 400


def test_service_request_id_overrides_the_other_filters(client, reader):
    got = client.get(f"{BASE}/requests.json?service_request_id=3,1,2&service_code=09001&status=open",
                     headers=reader).get_json()
    assert sorted(r["service_request_id"] for r in got) == [1, 2, 3]
    assert client.get(f"{BASE}/requests.json?service_request_id=1;drop", headers=reader).status_code == 400


@pytest.mark.parametrize("query, message", [
    ({"start_date": "2025-01-01", "end_date": "2025-06-01"}, "more than 90 days"),
    ({"start_date": "2025-06-01", "end_date": "2025-05-01"}, "before start_date"),
    ({"start_date": "yesterday"}, "start_date='yesterday'"),
    ({"service_code": "00000"}, "00000"),
])
def test_bad_filters_are_400_errors(client, reader, query, message):
    answer = client.get(f"{BASE}/requests.json", query_string=query, headers=reader)
    assert answer.status_code == 400
    [error] = answer.get_json()
    assert error["code"] == 400 and message in error["description"]


def test_default_window_is_the_last_90_days(client, reader):
    # the sample ends in 2025; nothing of it is within 90 days of today
    assert client.get(f"{BASE}/requests.json", headers=reader).get_json() == []


def test_one_request_in_json_and_xml(client, reader):
    [one] = client.get(f"{BASE}/requests/5.json", headers=reader).get_json()
    assert one["service_request_id"] == 5
    root = ET.fromstring(client.get(f"{BASE}/requests/5.xml", headers=reader).get_data())
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == "5"
    assert root.find("request/lat").text == str(one["lat"])
    for missing in ("999999999", "abc"):
        answer = client.get(f"{BASE}/requests/{missing}.json", headers=reader)
        assert answer.status_code == 404 and answer.get_json()[0]["code"] == 404


def _post(client, fmt="json", **fields):
    return client.post(f"{BASE}/requests.{fmt}", data=fields)


@pytest.mark.parametrize("fields, status, message", [
    ({"service_code": "06010", **INSIDE}, 400, "api_key is required"),
    ({"api_key": "not-a-key", "service_code": "06010", **INSIDE}, 403, "invalid api_key"),
])
def test_post_needs_a_valid_api_key(client, fields, status, message):
    answer = _post(client, **fields)
    assert answer.status_code == status and message in answer.get_json()[0]["description"]


@pytest.mark.parametrize("fields, status, message", [
    ({}, 400, "service_code is required"),
    ({"service_code": "99999", **INSIDE}, 404, "'99999' not found"),
    ({"service_code": "06010"}, 400, "lat and long"),
    ({"service_code": "06010", "lat": "39.5", "long": "117.0"}, 400, "outside the jurisdiction"),
    ({"service_code": "06010", "lat": "north", "long": "117.37"}, 400, "lat='north'"),
    ({"service_code": "06010", "address_string": "火星路"}, 400, "'火星路'"),
    ({"service_code": "06010", "description": "长" * 4001, **INSIDE}, 400, "at most 4000"),
    ({"service_code": "06010", "jurisdiction_id": "999", **INSIDE}, 404, "'999' not found"),
])
def test_post_errors(client, api_key, fields, status, message):
    answer = _post(client, "xml", api_key=api_key, **fields)
    assert answer.status_code == status
    root = ET.fromstring(answer.get_data())
    assert root.find("error/code").text == str(status) and message in root.find("error/description").text


def test_post_creates_an_assigned_issue_and_keeps_the_contact_apart(client, copy_engine, api_key, api_keys, reader):
    answer = _post(client, api_key=api_key, service_code="06010", description="路边堆了垃圾，请联系13800138000",
                   phone="13912345678", email="reporter@example.cn", first_name="小", last_name="王", **INSIDE)
    assert answer.status_code == 201
    [created] = answer.get_json()
    issue_id, token = created["service_request_id"], created["token"]
    [issue] = _issues(copy_engine, ids=[issue_id], columns=(*store.ISSUE_READ_COLUMNS, "source_system")).to_dict("records")
    assert (issue["source"], issue["external_id"], issue["status"]) == ("open311", token, "reported")
    assert issue["category_code"] == "06010" and issue["department_code"] and issue["cell_code"]
    assert issue["deadline_at"] >= issue["reported_at"]
    with copy_engine.connect() as conn:
        contact = conn.execute(text("SELECT phone, email, name FROM reporter_contacts WHERE issue_id = :i"),
                               {"i": issue_id}).one()
        batch = conn.execute(text("SELECT b.actor FROM issues i JOIN import_batches b ON b.id = i.import_batch_id "
                                  "WHERE i.id = :i"), {"i": issue_id}).scalar_one()
    assert tuple(contact) == ("13912345678", "reporter@example.cn", "小 王")
    assert batch == "open311:测试客户端"
    # the token resolves for a reader and for the key that filed it (a key without a user reads only its own),
    # not for another public key; no output shows the contact or the unmasked number
    assert client.get(f"{BASE}/tokens/{token}.json", headers=reader).get_json() == [
        {"service_request_id": issue_id, "token": token}]
    assert client.get(f"{BASE}/tokens/{token}.json", query_string={"api_key": api_key}).get_json() == [
        {"service_request_id": issue_id, "token": token}]
    assert client.get(f"{BASE}/tokens/{token}.json", query_string={"api_key": api_keys["citizen"]}).status_code == 404
    outputs = [client.get(f"{BASE}/requests/{issue_id}.json", headers=reader),
               client.get(f"{BASE}/requests/{issue_id}.xml", headers=reader),
               client.get(f"/ogcapi/collections/issues/items/{issue_id}", headers=reader)]
    for output in outputs:
        body = output.get_data(as_text=True)
        assert output.status_code == 200 and str(issue_id) in body
        for secret in ("13912345678", "reporter@example.cn", "小 王", "13800138000"):
            assert secret not in body
        assert "138****8000" in body
    [shown] = outputs[0].get_json()
    assert shown["status"] == "open" and shown["token"] == token
    assert client.get(f"{BASE}/tokens/nope.xml", headers=reader).status_code == 404


def test_post_by_place_name(client, copy_engine, api_key):
    [created] = _post(client, api_key=api_key, service_code="07001", address_string="津北公路").get_json()
    [issue] = _issues(copy_engine, ids=[created["service_request_id"]]).to_dict("records")
    roads = store.read_layer(copy_engine, "roads", jurisdiction_code=J)
    road = roads.loc[roads["name"] == "津北公路"].geometry.union_all()
    assert issue["address"] == "津北公路" and road.distance(issue["geometry"]) < 1e-6


def test_cli_api_key_create_prints_the_key_last_and_stores_its_hash(sample_copy, copy_engine, client):
    env = {"CITYMAP_DATA_DIR": str(sample_copy.data_dir), "PATH": "/usr/bin:/bin"}

    def create(*args):
        return subprocess.run([CITYMAP, "api-key", "create", *args], capture_output=True, text=True, env=env,
                              check=False)

    done = create("12345热线平台", "--user", "dispatcher")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert len(key) >= 40 and "'dispatcher'" in done.stdout
    with copy_engine.connect() as conn:
        stored, user = conn.execute(text("SELECT k.key_sha256, u.name FROM api_keys k JOIN users u ON u.id = k.user_id "
                                         "WHERE k.name = '12345热线平台'")).one()
    import hashlib

    assert (stored, user) == (hashlib.sha256(key.encode()).hexdigest(), "dispatcher")
    assert _post(client, api_key=key, service_code="06010", **INSIDE).status_code == 201
    # the key reads as its user, a dispatcher: every request
    assert len(client.get(f"{BASE}/requests.json", query_string={**JUNE, "api_key": key}).get_json()) == len(
        _issues(copy_engine, since=datetime(2025, 6, 1), until=datetime(2025, 7, 1)).head(1000))
    again = create("12345热线平台")
    assert again.returncode == 1 and "already exists" in again.stderr
    nobody = create("无主", "--user", "nobody")
    assert nobody.returncode == 1 and "user 'nobody' not found" in nobody.stderr
    with copy_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys WHERE name = '无主'")).scalar_one() == 0


# --------------------------------------------------------------------------- live server, client library

def _georeport(monkeypatch, url: str, key: str, **options) -> GeoReport:
    """georeport's client reading with an API key. The library keeps ``api_key`` but sends it with no GET, so
    its module's ``requests`` becomes a Session that adds ``api_key`` to every query string."""
    session = requests.Session()
    session.params = {"api_key": key}
    monkeypatch.setattr(importlib.import_module("georeport.georeport"), "requests", session)
    return GeoReport(url, jurisdiction=J, api_key=key, **options)


def test_georeport_client_reads_services_and_requests(copy_server, copy_engine, api_keys, monkeypatch):
    for fmt in ("json", "xml"):
        client = _georeport(monkeypatch, f"{copy_server}{BASE}", api_keys["supervisor"], output_format=fmt)
        services = client.get_service_list()
        assert len(services) == len(load_taxonomy().categories)
        assert {s["service_code"] for s in services} >= {"06010", "07001"}
        definition = client.get_service_definition("06010")
        assert definition["service_code"] == "06010"
        got = client.get_service_requests(service_code="06042", status="closed", **JUNE)
        expected = _issues(copy_engine, categories=["06042"], statuses=["closed", "refused", "merged"],
                           since=datetime.fromisoformat("2025-06-01"), until=datetime.fromisoformat("2025-07-01"))
        assert len(got) == len(expected) > 1
        assert {int(r["service_request_id"]) for r in got} == set(expected["id"])
        one = client.get_service_request("7")
        assert int(one["service_request_id"]) == 7 and one["status"] in ("open", "closed")


def test_georeport_client_with_a_department_key_reads_its_own_requests_only(copy_server, copy_engine, api_keys,
                                                                             monkeypatch):
    june = _issues(copy_engine, since=datetime(2025, 6, 1), until=datetime(2025, 7, 1))
    own = june[june["department_code"].isin(["sanitation", "sanitation_west", "sanitation_east"])]
    other = june[june["department_code"] == "construction"]
    assert len(own) and len(other)
    client = _georeport(monkeypatch, f"{copy_server}{BASE}", api_keys["sanitation"])
    got = client.get_service_requests(**JUNE)
    assert {r["service_request_id"] for r in got} == set(own["id"].head(1000))
    assert int(client.get_service_request(str(own["id"].iloc[0]))["service_request_id"]) == own["id"].iloc[0]
    with pytest.raises(requests.HTTPError, match="404"):
        client.get_service_request(str(other["id"].iloc[0]))
    # the library as it is, sending no key: reading is refused as the spec refuses a bad key
    monkeypatch.undo()
    with pytest.raises(requests.HTTPError, match="403"):
        GeoReport(f"{copy_server}{BASE}", jurisdiction=J).get_service_requests(**JUNE)


def test_spec_post_then_read_back_over_http(copy_server, api_key, api_keys, monkeypatch):
    """POST as the spec describes (form-encoded) with a key that only submits, then the token and the request
    read back with a supervisor's key, plainly and through the client, and with the submitting key itself."""
    discovery = requests.get(f"{copy_server}{BASE}/discovery.json", timeout=10).json()
    [endpoint] = discovery["endpoints"]
    assert endpoint["url"] == f"{copy_server}{BASE}" and "application/json" in endpoint["formats"]
    posted = requests.post(f"{endpoint['url']}/requests.json", timeout=30, data={
        "api_key": api_key, "jurisdiction_id": J, "service_code": "06042", "description": "垃圾桶满溢",
        "email": "someone@example.cn", **INSIDE})
    assert posted.status_code == 201
    [created] = posted.json()
    token_url = f"{endpoint['url']}/tokens/{created['token']}.xml"
    assert requests.get(token_url, params={"api_key": api_keys["citizen"]}, timeout=10).status_code == 404
    own = requests.get(token_url, params={"api_key": api_key}, timeout=10)
    assert ET.fromstring(own.content).find("request/service_request_id").text == str(created["service_request_id"])
    token = requests.get(token_url, headers={"X-API-Key": api_keys["supervisor"]}, timeout=10)
    assert ET.fromstring(token.content).find("request/service_request_id").text == str(created["service_request_id"])
    client = _georeport(monkeypatch, endpoint["url"], api_keys["supervisor"])
    one = client.get_service_request(str(created["service_request_id"]))
    assert (one["service_code"], one["status"], one["status_notes"]) == ("06042", "open", "已上报")
    today = pd.Timestamp.now(tz="Asia/Shanghai")
    recent = client.get_service_requests(start_date=f"{today - timedelta(days=1):%Y-%m-%d}", status="open")
    assert created["service_request_id"] in {r["service_request_id"] for r in recent}
    assert all("someone@example.cn" not in str(r) for r in recent)


def test_a_request_without_description_or_address_shows_on_every_page(app, copy_engine, api_keys, login):
    """Open311 makes description optional: the NULL it stores renders on every page and map of every role."""
    answer = _post(app.test_client(), api_key=api_keys["citizen"], service_code="06010", **INSIDE)
    assert answer.status_code == 201
    issue_id = answer.get_json()[0]["service_request_id"]
    [issue] = _issues(copy_engine, ids=[issue_id], columns=("description", "address", "department_code")).to_dict("records")
    assert pd.isna(issue["description"]) and pd.isna(issue["address"]) and issue["department_code"] == "sanitation"
    pages = ["/issues", f"/issues/{issue_id}", "/api/issues", f"/api/issues/{issue_id}",
             "/maps/issues/data", "/maps/issues/points?view=117.3695,39.0995,117.3705,39.1005&zoom=19",
             f"/maps/issues/{issue_id}/data"]
    for name in ("supervisor", "dispatcher", "sanitation"):
        client = app.test_client()
        login(client, name)
        for url in pages:
            shown = client.get(url)
            assert shown.status_code == 200, (name, url, shown.status_code)
            body = shown.get_data(as_text=True)
            # the issue list's map document holds no issue: its live layer (points) does
            assert (str(issue_id) in body or url == "/maps/issues/data") \
                and "nan" not in body.lower().replace("nanjing", ""), (name, url)
        listed = client.get("/issues").get_data(as_text=True)
        row = listed[listed.index(f"#{issue_id}</a>"):].split("</tr>")[0]
        # the description's cell is empty (it holds user text, so it is marked data-value)
        assert row.endswith(("<td></td>", "<td data-value></td>")) and "None" not in row
