"""Who reads which issue through the standard APIs, route by route, on SpatiaLite and PostGIS.

Every issue route of Open311 (``GET requests`` by window and by id list, ``requests/{id}``,
``tokens/{token}``) and of OGC API – Features (``collections/issues/items`` and ``items/{id}``)
is asked by a department (with its API key and with a login), by the all-seeing roles, by keys
that only submit (a ``public`` user's, one without a user), by nobody and with a wrong key.
Last, the web app's cached layers follow a layer import made by the CLI in another process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import (
    TEST_PASSWORD,
    create_test_keys,
    create_test_users,
    new_postgis_database,
)
from flask import Flask
from sqlalchemy import Engine, text

from geo import store
from geo.io import ingest
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.settings import Settings, load_settings
from geo.store.db import init_db, make_engine
from webmap.app import create_app
from webmap.context import layers_of

J = "120110900"
O311 = "/open311/v2"
ITEMS = "/ogcapi/collections/issues/items"
#: the first sample rows: 1–10 January 2025, every kind of department among them
ROWS = 400
WINDOW = {"start_date": "2025-01-01", "end_date": "2025-01-31"}
SINCE, UNTIL = datetime(2025, 1, 1), datetime(2025, 2, 1)
INSIDE = {"lat": "39.1", "long": "117.37"}
CITYMAP = str(Path(sys.executable).parent / "citymap")
DEPARTMENTS = ("sanitation", "construction")


@dataclass
class World:
    """A database with layers, the first :data:`ROWS` sample issues, the test users and their keys."""

    settings: Settings
    app: Flask
    engine: Engine
    keys: dict[str, str]
    #: department → (id of an imported issue it owns, id and token of a request it POSTed)
    issues: dict[str, tuple[int, int, str]]

    def owned(self, department: str) -> list[str]:
        communities = store.read_layer(self.engine, "communities", jurisdiction_code=J)["code"].tolist()
        return users.owned_departments(department, community_codes=communities)

    def client(self, who: str):
        """A test client acting as ``who``: ``anonymous``, ``login:<user>`` or a key of create_test_keys."""
        client = self.app.test_client()
        if who.startswith("login:"):
            answer = client.post("/login", json={"name": who.split(":", 1)[1], "password": TEST_PASSWORD})
            assert answer.status_code == 200, answer.get_data(as_text=True)
        elif who != "anonymous":
            client.environ_base["HTTP_X_API_KEY"] = self.keys[who]
        return client


@pytest.fixture(scope="module", params=["spatialite", "postgis"])
def world(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"scope-{request.param}")
    overrides = {"data_dir": str(data_dir)}
    if request.param == "postgis":
        overrides["database_url"] = new_postgis_database(request.getfixturevalue("postgis_server"))
    settings = load_settings(overrides, environ={})
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    ingest.load_layer_dir(engine, settings.sample_dir)
    rows = pd.read_csv(settings.sample_dir / "issues" / "jinqiao_2025_issues.csv", dtype=str, keep_default_na=False)
    rows.head(ROWS).to_csv(data_dir / "issues.csv", index=False)
    ingest.import_issue_file(engine, data_dir / "issues.csv", jurisdiction_code=J, settings=settings, actor="test")
    create_test_users(engine, J)
    keys = create_test_keys(engine, J)
    app = create_app(settings)
    client = app.test_client()
    issues = {}
    # garbage (06010) at INSIDE is the sanitation office's; a broken road (06013) the construction office's
    for department, category in zip(DEPARTMENTS, ("06010", "06013")):
        answer = client.post(f"{O311}/requests.json", data={"api_key": keys[department], "service_code": category,
                                                             **INSIDE})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        [created] = answer.get_json()
        imported = store.query_issues(engine, jurisdiction_code=J,
                                      where=IssueFilter(departments=[department], since=SINCE, until=UNTIL), limit=1)
        issues[department] = (int(imported["id"].iloc[0]), created["service_request_id"], created["token"])
    yield World(settings=settings, app=app, engine=engine, keys=keys, issues=issues)
    engine.dispose()


def _department_of(world: World, issue_id: int) -> str:
    return store.query_issues(world.engine, jurisdiction_code=J,
                              where=IssueFilter(ids=[issue_id]))["department_code"].iloc[0]


def test_the_fixture_posted_one_request_per_department(world):
    for department, (imported, posted, _token) in world.issues.items():
        assert _department_of(world, imported) == department
        assert _department_of(world, posted) == department
    with world.engine.connect() as conn:
        actors = conn.execute(text("SELECT b.actor FROM issues i JOIN import_batches b ON b.id = i.import_batch_id "
                                   "WHERE i.source = 'open311' ORDER BY i.id")).scalars().all()
    # a key records its user as the actor
    assert actors == ["open311:sanitation", "open311:construction"]


# --------------------------------------------------------------------------- a department: its own only

@pytest.mark.parametrize("department", DEPARTMENTS)
@pytest.mark.parametrize("how", ["key", "login"])
def test_open311_routes_show_a_department_its_own_requests_only(world, department, how):
    client = world.client(department if how == "key" else f"login:{department}")
    other = next(d for d in DEPARTMENTS if d != department)
    own_imported, own_posted, own_token = world.issues[department]
    other_imported, other_posted, other_token = world.issues[other]
    owned = world.owned(department)
    # GET requests in a window: exactly the department's requests of that window
    listed = client.get(f"{O311}/requests.json", query_string=WINDOW).get_json()
    expected = store.query_issues(world.engine, jurisdiction_code=J,
                                  where=IssueFilter(since=SINCE, until=UNTIL, departments=owned))
    assert {r["service_request_id"] for r in listed} == set(expected["id"]) and own_imported in expected["id"].values
    # the default window (the last 90 days) holds the POSTed requests: one's own only
    recent = {r["service_request_id"] for r in client.get(f"{O311}/requests.json").get_json()}
    assert own_posted in recent and other_posted not in recent
    # GET requests by id: another department's ids are left out
    by_id = client.get(f"{O311}/requests.json",
                       query_string={"service_request_id": f"{own_imported},{other_imported},{other_posted}"})
    assert [r["service_request_id"] for r in by_id.get_json()] == [own_imported]
    # requests/{id} and tokens/{token}: another department's answer exactly like missing ones
    for fmt in ("json", "xml"):
        assert client.get(f"{O311}/requests/{own_imported}.{fmt}").status_code == 200
    [mine] = client.get(f"{O311}/requests/{own_posted}.json").get_json()
    assert mine["service_request_id"] == own_posted and mine["token"] == own_token
    assert client.get(f"{O311}/tokens/{own_token}.json").get_json() == [
        {"service_request_id": own_posted, "token": own_token}]
    for path, missing in ((f"requests/{other_imported}", "requests/999999999"),
                          (f"requests/{other_posted}", "requests/999999998"),
                          (f"tokens/{other_token}", "tokens/no-such-token")):
        refused, absent = client.get(f"{O311}/{path}.json"), client.get(f"{O311}/{missing}.json")
        assert refused.status_code == absent.status_code == 404, path
        assert refused.get_json()[0]["code"] == 404
        assert refused.get_json()[0]["description"].replace(path.split("/")[1], "X") == \
            absent.get_json()[0]["description"].replace(missing.split("/")[1], "X")
    xml = client.get(f"{O311}/requests/{other_imported}.xml")
    assert xml.status_code == 404 and ET.fromstring(xml.get_data()).find("error/code").text == "404"


@pytest.mark.parametrize("department", DEPARTMENTS)
@pytest.mark.parametrize("how", ["key", "login"])
def test_ogc_issue_routes_show_a_department_its_own_issues_only(world, department, how):
    client = world.client(department if how == "key" else f"login:{department}")
    other = next(d for d in DEPARTMENTS if d != department)
    owned = world.owned(department)
    expected = store.query_issues(world.engine, jurisdiction_code=J, where=IssueFilter(departments=owned))
    # one feature a page: numberMatched is counted in SQL, and counts only what the department reads
    answer = client.get(ITEMS, query_string={"limit": 1})
    assert answer.headers["Cache-Control"] == "private, no-store"  # what a caller reads is no shared cache's
    first = answer.get_json()
    assert first["numberMatched"] == store.count_issues(world.engine, jurisdiction_code=J,
                                                        where=IssueFilter(departments=owned)) \
        == len(expected) > 1
    assert [f["id"] for f in first["features"]] == [int(expected["id"].iloc[0])]
    every = client.get(ITEMS, query_string={"limit": 10000}).get_json()
    assert [f["id"] for f in every["features"]] == list(expected["id"])
    assert {f["properties"]["department_code"] for f in every["features"]} <= set(owned)
    # a bbox and a time window keep the department's filter
    bbox = ",".join(map(str, expected.total_bounds))
    windowed = client.get(ITEMS, query_string={"bbox": bbox, "datetime": "2025-01-01/2025-01-05", "limit": 1})
    window = IssueFilter(departments=owned, bbox=tuple(expected.total_bounds), since=datetime(2025, 1, 1),
                         until=datetime(2025, 1, 6))
    assert windowed.get_json()["numberMatched"] == store.count_issues(world.engine, jurisdiction_code=J, where=window)
    for own_id in world.issues[department][:2]:
        answer = client.get(f"{ITEMS}/{own_id}")
        assert answer.status_code == 200 and answer.get_json()["id"] == own_id
    absent = client.get(f"{ITEMS}/999999999").get_json()
    for other_id in world.issues[other][:2]:
        refused = client.get(f"{ITEMS}/{other_id}")
        assert refused.status_code == 404
        body = refused.get_json()
        assert body["code"] == absent["code"] == "NotFound"
        assert body["description"].replace(str(other_id), "X") == absent["description"].replace("999999999", "X")
    html = client.get(f"{ITEMS}/{world.issues[other][0]}?f=html")
    assert html.status_code == 404


# --------------------------------------------------------------------------- roles that read everything or nothing

@pytest.mark.parametrize("who", ["supervisor", "dispatcher", "admin", "login:supervisor"])
def test_all_seeing_roles_read_every_issue(world, who):
    client = world.client(who)
    everything = store.query_issues(world.engine, jurisdiction_code=J, where=IssueFilter(since=SINCE, until=UNTIL))
    listed = client.get(f"{O311}/requests.json", query_string=WINDOW).get_json()
    assert {r["service_request_id"] for r in listed} == set(everything["id"])
    assert client.get(ITEMS, query_string={"limit": 1}).get_json()["numberMatched"] == store.count_issues(
        world.engine, jurisdiction_code=J)
    for imported, posted, token in world.issues.values():
        assert client.get(f"{O311}/requests/{imported}.json").status_code == 200
        assert client.get(f"{O311}/tokens/{token}.json").get_json()[0]["service_request_id"] == posted
        assert client.get(f"{ITEMS}/{posted}").get_json()["id"] == posted


@pytest.mark.parametrize("who", ["citizen", "keyless", "login:citizen"])
def test_keys_and_logins_that_only_submit_read_no_issue(world, who):
    client = world.client(who)
    assert client.get(f"{O311}/requests.json", query_string=WINDOW).get_json() == []
    assert client.get(f"{O311}/requests.json").get_json() == []
    ids = ",".join(str(i) for issue in world.issues.values() for i in issue[:2])
    assert client.get(f"{O311}/requests.json", query_string={"service_request_id": ids}).get_json() == []
    page = client.get(ITEMS, query_string={"limit": 1}).get_json()
    assert (page["numberMatched"], page["features"]) == (0, [])
    for imported, posted, token in world.issues.values():
        assert client.get(f"{O311}/requests/{imported}.json").status_code == 404
        assert client.get(f"{O311}/tokens/{token}.json").status_code == 404
        assert client.get(f"{ITEMS}/{posted}").status_code == 404
    # the reference layers stay everyone's
    assert client.get("/ogcapi/collections/roads/items?limit=1").get_json()["numberMatched"] > 0


@pytest.mark.parametrize("who, actor", [("citizen", "open311:citizen"), ("keyless", "open311:test-keyless")])
def test_keys_that_only_submit_still_submit(world, who, actor):
    answer = world.app.test_client().post(f"{O311}/requests.json", data={
        "api_key": world.keys[who], "service_code": "07001", **INSIDE})
    assert answer.status_code == 201
    [created] = answer.get_json()
    with world.engine.connect() as conn:
        stored = conn.execute(text("SELECT b.actor FROM issues i JOIN import_batches b ON b.id = i.import_batch_id "
                                   "WHERE i.id = :i"), {"i": created["service_request_id"]}).scalar_one()
    assert stored == actor


# --------------------------------------------------------------------------- nobody, a wrong key, a key gone stale

def test_reading_issues_without_a_key_or_login_is_refused(world):
    client = world.client("anonymous")
    imported, posted, token = world.issues["sanitation"]
    for path in ("requests.json", f"requests.json?{'&'.join(f'{k}={v}' for k, v in WINDOW.items())}",
                 f"requests/{imported}.json", f"tokens/{token}.json"):
        answer = client.get(f"{O311}/{path}")
        assert answer.status_code == 403, path
        assert answer.get_json() == [{"code": 403, "description":
                                      "读取服务请求需要 api_key 或登录 (an api_key is needed to read service requests)"}]
    xml = client.get(f"{O311}/requests/{imported}.xml")
    assert xml.status_code == 403 and ET.fromstring(xml.get_data()).find("error/code").text == "403"
    for path in (ITEMS, f"{ITEMS}/{posted}", f"{ITEMS}?limit=1&bbox=117.3,39.0,117.5,39.2"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.get_json()["code"] == "Unauthorized", path
        assert answer.headers["WWW-Authenticate"].startswith("ApiKey ")
        assert 'header="X-API-Key"' in answer.headers["WWW-Authenticate"]
    # what needs no caller stays open
    for path in (f"{O311}/discovery.json", f"{O311}/services.json", "/ogcapi/", "/ogcapi/collections",
                 "/ogcapi/collections/issues", "/ogcapi/collections/segments/items?limit=1",
                 "/ogcapi/collections/grids/items"):
        assert client.get(path).status_code == 200, path


def test_a_wrong_key_is_refused_everywhere_it_is_read(world):
    client = world.app.test_client()
    imported, posted, token = world.issues["construction"]
    wrong = {"X-API-Key": "not-a-key"}
    for answer in (client.get(f"{O311}/requests.json", headers=wrong),
                   client.get(f"{O311}/requests.json?api_key=not-a-key"),
                   client.get(f"{O311}/requests/{imported}.json", headers=wrong),
                   client.get(f"{O311}/tokens/{token}.json?api_key=not-a-key"),
                   client.post(f"{O311}/requests.json", data={"api_key": "not-a-key", "service_code": "06010",
                                                               **INSIDE}),
                   client.post(f"{O311}/requests.json", data={"service_code": "06010", **INSIDE}, headers=wrong)):
        assert answer.status_code == 403
        assert answer.get_json() == [{"code": 403, "description": "API key 无效 (invalid api_key)"}]
    for path in (ITEMS, f"{ITEMS}/{posted}", f"{ITEMS}?api_key=not-a-key"):
        answer = client.get(path, headers=wrong if "api_key" not in path else None)
        assert answer.status_code == 403 and answer.get_json()["code"] == "Forbidden", path
    # the OGC API takes the key as a query parameter too, on every resource, and keeps it in its paging links
    key = world.keys["supervisor"]
    assert client.get(f"/ogcapi/collections?api_key={key}").status_code == 200
    page = client.get(ITEMS, query_string={"api_key": key, "limit": 5}).get_json()
    following = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert f"api_key={key}" in following
    assert client.get(following).get_json()["features"][0]["id"] == page["features"][-1]["id"] + 1


def test_a_login_wins_over_a_key_and_a_deactivated_users_key_stops(world):
    store.create_user(world.engine, name="leaver", password_hash=users.hash_password(TEST_PASSWORD),
                      role="supervisor", department_code=None, jurisdiction_code=J, now=datetime(2025, 1, 1))
    key = store.create_api_key(world.engine, "leaver's app", jurisdiction_code=J, user="leaver")
    client = world.app.test_client()
    assert client.get(f"{O311}/requests.json", headers={"X-API-Key": key}).status_code == 200
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = :no WHERE name = 'leaver'"), {"no": False})
    assert client.get(f"{O311}/requests.json", headers={"X-API-Key": key}).status_code == 403
    assert client.get(ITEMS, headers={"X-API-Key": key}).status_code == 403
    # a logged-in department reads as itself whatever key comes along
    logged_in = world.client("login:construction")
    listed = logged_in.get(f"{O311}/requests.json", query_string=WINDOW,
                           headers={"X-API-Key": world.keys["supervisor"]}).get_json()
    assert {r["agency_responsible"] for r in listed} == {"城建办"}


# --------------------------------------------------------------------------- cached layers

def test_cached_layers_follow_a_layer_import_by_the_cli(world, tmp_path):
    """POST reuses the layers it read; ``citymap import --kind zones`` in another process makes the next POST
    read them again: the west contractor's zone handed to the east contractor changes the next assignment."""
    west = store.query_issues(world.engine, jurisdiction_code=J, where=IssueFilter(departments=["sanitation_west"]),
                              limit=1).iloc[0]
    at = {"lat": f"{west.geometry.y:.6f}", "long": f"{west.geometry.x:.6f}", "service_code": west["category_code"]}
    client = world.app.test_client()

    def post() -> str:
        answer = client.post(f"{O311}/requests.json", data={"api_key": world.keys["dispatcher"], **at})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return _department_of(world, answer.get_json()[0]["service_request_id"])

    assert post() == "sanitation_west"
    with world.app.app_context():
        ready = layers_of(world.app)
        assert layers_of(world.app) is ready  # nothing changed: nothing is read again
    zones = gpd.read_file(world.settings.sample_dir / "grids" / "zones.geojson")
    zones["department_code"] = "sanitation_east"
    zones.to_file(tmp_path / "zones.geojson", driver="GeoJSON")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYMAP_")}
    env.update({"CITYMAP_DATA_DIR": str(world.settings.data_dir),
                "CITYMAP_DATABASE_URL": world.settings.resolved_database_url})
    done = subprocess.run([CITYMAP, "import", "--kind", "zones", str(tmp_path / "zones.geojson")],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert post() == "sanitation_east"
    with world.app.app_context():
        assert layers_of(world.app).version == ready.version + 1
