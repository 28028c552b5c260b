"""OGC API – Features: the test client for every resource and error, then a live server read by
OWSLib's client (with a supervisor's and a department's API key) and the way QGIS reads it (landing →
conformance → collections → bbox pages by rel=next). Which caller reads which issue, route by route, is
tests/test_api_scope.py."""

from __future__ import annotations

import subprocess
from datetime import datetime

import geopandas as gpd
import owslib.ogcapi
import pytest
import requests
import shapely
from owslib.ogcapi.features import Features

from geo import store
from geo.issue_filter import IssueFilter
from webmap.app import create_app

J = "120110900"
BBOX = (117.35, 39.09, 117.36, 39.10)
BBOX_TEXT = ",".join(map(str, BBOX))


@pytest.fixture(scope="module")
def client(sample_db, api_keys):
    """A test client sending a supervisor's API key (which reads every issue) with every request."""
    client = create_app(sample_db).test_client()
    client.environ_base["HTTP_X_API_KEY"] = api_keys["supervisor"]
    return client


def _rels(links: list[dict]) -> dict[str, dict]:
    return {link["rel"]: link for link in links}


def test_landing_links_to_the_api_conformance_and_data(client):
    answer = client.get("/ogcapi/")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    rels = _rels(answer.get_json()["links"])
    assert rels["service-desc"]["href"].endswith("/openapi.json")
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["conformance"]["href"].endswith("/ogcapi/conformance")
    assert rels["data"]["href"].endswith("/ogcapi/collections")
    assert client.get(rels["service-desc"]["href"]).get_json()["openapi"].startswith("3.")


def test_conformance_classes(client):
    classes = client.get("/ogcapi/conformance").get_json()["conformsTo"]
    assert {c.rsplit("/", 1)[-1] for c in classes} == {"core", "geojson", "oas30", "html"}


def test_collections_with_extents_from_the_data(client, sample_engine):
    collections = {c["id"]: c for c in client.get("/ogcapi/collections").get_json()["collections"]}
    assert {"issues", "segments", "roads", "unit_cells", "compounds", "grids"} <= set(collections)
    assert all(c["itemType"] == "feature" for c in collections.values())
    issues = store.query_issues(sample_engine, jurisdiction_code=J)
    [bbox] = collections["issues"]["extent"]["spatial"]["bbox"]
    assert bbox == pytest.approx(list(issues.total_bounds), abs=1e-6)
    [interval] = collections["issues"]["extent"]["temporal"]["interval"]
    assert interval == [f"{issues['reported_at'].min():%Y-%m-%dT%H:%M:%S}+08:00",
                        f"{issues['reported_at'].max():%Y-%m-%dT%H:%M:%S}+08:00"]
    cells = store.read_layer(sample_engine, "unit_cells", jurisdiction_code=J)
    assert collections["unit_cells"]["extent"]["spatial"]["bbox"][0] == pytest.approx(list(cells.total_bounds),
                                                                                       abs=1e-6)
    assert "temporal" not in collections["roads"]["extent"]
    one = client.get("/ogcapi/collections/roads").get_json()
    assert one["id"] == "roads"
    assert {link["type"] for link in one["links"] if link["rel"] == "items"} == {"application/geo+json", "text/html"}
    assert client.get("/ogcapi/collections/nope").status_code == 404


def test_items_default_page_and_counts(client, sample_engine):
    answer = client.get("/ogcapi/collections/issues/items")
    assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
    data = answer.get_json()
    assert data["numberReturned"] == len(data["features"]) == 10
    assert data["numberMatched"] == store.count_rows(sample_engine, "issues", jurisdiction_code=J)
    assert [f["id"] for f in data["features"]] == list(range(1, 11))
    rels = _rels(data["links"])
    assert "offset=10" in rels["next"]["href"] and "prev" not in rels


def test_items_in_a_bbox_follow_next_links_to_the_end(client, sample_engine):
    expected = store.query_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(bbox=BBOX))
    url, seen, pages = f"/ogcapi/collections/issues/items?bbox={BBOX_TEXT}&limit=100", [], 0
    while url:
        data = client.get(url).get_json()
        assert data["numberMatched"] == len(expected)
        seen += [f["id"] for f in data["features"]]
        for feature in data["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            assert BBOX[0] <= lon <= BBOX[2] and BBOX[1] <= lat <= BBOX[3]
        url = _rels(data["links"]).get("next", {}).get("href")
        pages += 1
    assert seen == list(expected["id"]) and pages == -(-len(expected) // 100)
    last = client.get(f"/ogcapi/collections/issues/items?bbox={BBOX_TEXT}&limit=100&offset=200").get_json()
    assert "offset=100" in _rels(last["links"])["prev"]["href"]


@pytest.mark.parametrize("value, since, until", [
    ("2025-03-01T00:00:00Z/2025-03-31T23:59:59+08:00", "2025-03-01 08:00:00", "2025-04-01 00:00:00"),
    ("2025-11-01/..", "2025-11-01", None),
    ("../2025-01-15", None, "2025-01-16"),
    ("2025-02-10", "2025-02-10", "2025-02-11"),
])
def test_items_datetime_instants_and_intervals(client, sample_engine, value, since, until):
    frame = store.query_issues(sample_engine, jurisdiction_code=J)
    keep = frame["reported_at"].notna()
    if since:
        keep &= frame["reported_at"] >= datetime.fromisoformat(since)
    if until:
        keep &= frame["reported_at"] < datetime.fromisoformat(until)
    data = client.get("/ogcapi/collections/issues/items", query_string={"datetime": value, "limit": 10000}).get_json()
    assert data["numberMatched"] == int(keep.sum()) > 0
    assert {f["id"] for f in data["features"]} == set(frame.loc[keep, "id"][:10000])


def test_an_instant_matches_that_second(client, sample_engine):
    issue = store.query_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(ids=[42])).iloc[0]
    instant = f"{issue['reported_at']:%Y-%m-%dT%H:%M:%S}+08:00"
    data = client.get("/ogcapi/collections/issues/items", query_string={"datetime": instant}).get_json()
    assert 42 in [f["id"] for f in data["features"]]
    assert all(f["properties"]["reported_at"] == instant for f in data["features"])


def test_limit_bounds(client):
    assert client.get("/ogcapi/collections/issues/items?limit=20000").get_json()["numberReturned"] == 10000
    for bad in ("0", "-1", "ten"):
        answer = client.get(f"/ogcapi/collections/issues/items?limit={bad}")
        assert answer.status_code == 400 and answer.get_json()["code"] == "InvalidParameterValue"


@pytest.mark.parametrize("url, message", [
    ("/ogcapi/collections/roads/items?color=red", "'color'"),
    ("/ogcapi/collections?limit=5", "'limit'"),
    ("/ogcapi/?bbox=1,2,3,4", "'bbox'"),
    ("/ogcapi/collections/issues/items?bbox=1,2,3", "bbox='1,2,3'"),
    ("/ogcapi/collections/issues/items?bbox=117.4,39,117.3,39.1", "min <= max"),
    ("/ogcapi/collections/issues/items?datetime=soon", "datetime='soon'"),
    ("/ogcapi/collections/issues/items?datetime=2025-03-02/2025-03-01", "ends before"),
    ("/ogcapi/collections/issues/items?f=xml", "f='xml'"),
])
def test_bad_parameters_are_400(client, url, message):
    answer = client.get(url)
    assert answer.status_code == 400 and message in answer.get_json()["description"]


def test_layer_items_and_single_features(client, sample_engine):
    roads = store.read_layer(sample_engine, "roads", jurisdiction_code=J)
    data = client.get("/ogcapi/collections/roads/items?limit=100").get_json()
    assert data["numberMatched"] == len(roads) == data["numberReturned"]
    assert [f["id"] for f in data["features"]] == list(roads["road_id"])
    first = data["features"][0]
    assert first["properties"]["is_priority"] in (True, False)
    assert shapely.geometry.shape(first["geometry"]).equals_exact(roads.geometry.iloc[0], 1e-6)
    road = client.get(f"/ogcapi/collections/roads/items/{roads['road_id'].iloc[0]}")
    assert road.mimetype == "application/geo+json" and road.get_json()["properties"]["name"] == roads["name"].iloc[0]
    segment = client.get("/ogcapi/collections/segments/items/3").get_json()
    assert segment["id"] == 3 and segment["properties"]["segment_id"] == 3
    issue = client.get("/ogcapi/collections/issues/items/42").get_json()
    assert issue["id"] == 42 and "phone" not in issue["properties"] and "id" not in issue["properties"]
    for missing in ("/ogcapi/collections/issues/items/99999999", "/ogcapi/collections/issues/items/x",
                    "/ogcapi/collections/roads/items/R999"):
        answer = client.get(missing)
        assert answer.status_code == 404 and answer.get_json()["code"] == "NotFound"


def test_json_without_accept_html_on_request(client):
    assert client.get("/ogcapi/collections", headers={"Accept": "*/*"}).mimetype == "application/json"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = client.get("/ogcapi/collections", headers={"Accept": browser})
    assert page.mimetype == "text/html" and "万米单元网格" in page.get_data(as_text=True)
    items = client.get("/ogcapi/collections/compounds/items?f=html&limit=5")
    assert items.mimetype == "text/html" and items.get_data(as_text=True).count("<tr>") == 6
    assert client.get("/ogcapi/collections/compounds/items?f=json").mimetype == "application/geo+json"


def test_phones_never_appear_in_issue_features(client):
    body = client.get("/ogcapi/collections/issues/items?limit=10000").get_data(as_text=True)
    import re

    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", body)


# --------------------------------------------------------------------------- live server clients

def _features(monkeypatch, url: str, key: str) -> Features:
    """OWSLib's client sending ``key`` in the X-API-Key header. OWSLib adds a client's headers to its module's
    shared header dict, so each client starts from a fresh copy of it (restored after the test)."""
    monkeypatch.setattr(owslib.ogcapi, "REQUEST_HEADERS", dict(owslib.ogcapi.REQUEST_HEADERS))
    return Features(url, headers={"X-API-Key": key})


def test_owslib_features_client(live_server, sample_engine, api_keys, monkeypatch):
    api = _features(monkeypatch, f"{live_server}/ogcapi", api_keys["supervisor"])
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    assert {"issues", "roads", "segments", "unit_cells", "compounds", "grids"} <= set(api.feature_collections())
    assert api.collection("segments")["itemType"] == "feature"
    page = api.collection_items("issues", bbox=list(BBOX), limit=5)
    assert page["numberReturned"] == 5
    assert page["numberMatched"] == store.count_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(bbox=BBOX))
    feature = api.collection_item("issues", str(page["features"][0]["id"]))
    assert feature["geometry"]["coordinates"] == page["features"][0]["geometry"]["coordinates"]
    assert api.api()["paths"]["/ogcapi/collections/{cid}/items"]["get"]


def test_owslib_with_a_department_key_reads_its_own_issues_only(live_server, sample_engine, api_keys, monkeypatch):
    own_departments = ["construction"]
    api = _features(monkeypatch, f"{live_server}/ogcapi", api_keys["construction"])
    page = api.collection_items("issues", bbox=list(BBOX), limit=10000)
    own = store.query_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(bbox=BBOX, departments=own_departments))
    assert page["numberMatched"] == page["numberReturned"] == len(own) > 0
    assert [f["id"] for f in page["features"]] == list(own["id"])
    assert {f["properties"]["department_code"] for f in page["features"]} == {"construction"}
    other = store.query_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(bbox=BBOX, departments=["sanitation_west",
                                                                                   "sanitation_east"]), limit=1)
    with pytest.raises(RuntimeError, match="NotFound"):
        api.collection_item("issues", str(other["id"].iloc[0]))
    # the reference layers are everyone's
    assert api.collection_items("roads", limit=1)["numberMatched"] == len(store.read_layer(sample_engine, "roads",
                                                                                            jurisdiction_code=J))


def test_read_the_way_qgis_does(live_server, sample_engine):
    """QGIS's OAPIF provider: landing page, conformance, the API's limit, collections, then items of the
    map extent page by page following rel=next, asking for GeoJSON."""
    session = requests.Session()
    session.headers["Accept"] = "application/geo+json, application/json"
    landing = session.get(f"{live_server}/ogcapi/", timeout=10).json()
    rels = _rels(landing["links"])
    assert "core" in str(session.get(rels["conformance"]["href"], timeout=10).json())
    api = session.get(rels["service-desc"]["href"], timeout=10).json()
    limit = api["components"]["parameters"]["ogcapi.limit"]["schema"]["maximum"]
    collections = session.get(rels["data"]["href"], timeout=10).json()["collections"]
    segments = next(c for c in collections if c["id"] == "segments")
    items = next(link for link in segments["links"] if link["rel"] == "items"
                 and link["type"] == "application/geo+json")
    extent = (117.34, 39.09, 117.37, 39.11)
    url = f"{items['href']}?bbox={','.join(map(str, extent))}&limit={min(limit, 50)}"
    ids = []
    while url:
        answer = session.get(url, timeout=30)
        assert answer.headers["Content-Type"].startswith("application/geo+json")
        data = answer.json()
        ids += [f["id"] for f in data["features"]]
        url = _rels(data["links"]).get("next", {}).get("href")
    expected = store.read_layer(sample_engine, "segments", jurisdiction_code=J, bbox=extent)
    assert len(ids) == len(set(ids)) == len(expected) > 50
    assert sorted(ids) == sorted(expected["segment_id"])


def test_gdal_reads_every_issue_of_a_bbox_page_by_page(live_server, sample_engine, api_keys, tmp_path):
    """GDAL's OAPIF driver (the library QGIS and ogr2ogr read OGC API – Features with), following next links."""
    out = tmp_path / "issues.geojson"
    done = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogcapi", "issues",
                           "-spat", *map(str, BBOX), "-oo", "PAGE_SIZE=100",
                           "--config", "GDAL_HTTP_HEADERS", f"X-API-Key: {api_keys['supervisor']}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = gpd.read_file(out).sort_values("external_id").reset_index(drop=True)
    expected = store.query_issues(sample_engine, jurisdiction_code=J, where=IssueFilter(bbox=BBOX)).sort_values(
        "external_id").reset_index(drop=True)
    assert len(got) == len(expected) > 100  # more than one page
    assert got["external_id"].tolist() == expected["external_id"].tolist()
    assert got["description"].tolist() == expected["description"].tolist()  # masked, as stored reads give them
    assert got.geometry.geom_equals_exact(expected.set_crs(got.crs, allow_override=True).geometry, tolerance=1e-6).all()
