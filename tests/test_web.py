"""The web app through Flask's test client (no server): pages, maps, GeoJSON API."""

from __future__ import annotations

import json
import re

import pytest

from webmap.app import create_app


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


def test_home_shows_the_figures_of_the_sample(client, sample_db):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "金桥街道" in html
    total = int(re.search(r'id="fig-total">(\d+)<', html).group(1))
    assert total == 20000
    assert 'src="/maps/overview"' in html


def test_overview_map_uses_only_local_assets(client):
    page = client.get("/maps/overview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, "the map should load Leaflet"
    assert all(u.startswith("/vendor/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_issues_bbox_geojson(client):
    bbox = "117.35,39.09,117.36,39.10"
    body = client.get(f"/api/issues?bbox={bbox}&limit=10000")
    assert body.status_code == 200 and body.mimetype == "application/geo+json"
    data = json.loads(body.get_data())
    assert data["type"] == "FeatureCollection" and len(data["features"]) > 0
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 117.35 <= lon <= 117.36 and 39.09 <= lat <= 39.10
        assert lon == round(lon, 6)
        assert "phone" not in feature["properties"]


@pytest.mark.parametrize("query, message", [
    ("bbox=1,2,3", "bbox"),
    ("limit=0", "limit='0'"),
    ("limit=abc", "limit='abc'"),
])
def test_bad_api_input_is_a_400_with_a_message(client, query, message):
    answer = client.get(f"/api/issues?{query}")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


def test_unknown_api_paths_and_methods_answer_in_the_api_format(client):
    answer = client.get("/api/no-such-thing")
    assert answer.status_code == 404 and answer.get_json() == {"error": "no such resource: /api/no-such-thing",
                                                              "status": 404}
    answer = client.delete("/api/issues")
    assert answer.status_code == 405 and "DELETE is not allowed on /api/issues" in answer.get_json()["error"]
    assert "GET" in answer.headers["Allow"]
    answer = client.get("/open311/v2/no-such-thing.json")
    assert answer.status_code == 404
    assert answer.get_json() == [{"code": 404, "description": "no such resource: /open311/v2/no-such-thing.json"}]
    answer = client.get("/open311/v2/no-such-thing.xml")
    assert answer.status_code == 404 and answer.mimetype == "text/xml"
    assert "<errors><error><code>404</code>" in answer.get_data(as_text=True)
    answer = client.get("/ogcapi/collections/issues/no-such-thing")
    assert answer.status_code == 404 and answer.get_json()["code"] == "NotFound"
    # the pages keep their HTML error page
    answer = client.get("/no-such-page")
    assert answer.status_code == 404 and answer.mimetype == "text/html"


@pytest.mark.parametrize("path, status, message", [
    # an id past 64 bits matches no route (webmap.app.IdConverter); one within them is looked up
    ("/api/issues/99999999999999999999999", 404, "no such resource: /api/issues/99999999999999999999999"),
    ("/api/issues/99999999999999999999999/events", 404, "no such resource"),
    ("/api/issues/9223372036854775807", 404, "issue 9223372036854775807 not found"),
    ("/api/analysis/greening?year=%C2%B2", 400, "year='²'"),
    ("/api/analysis/greening?year=0", 400, "year='0'"),
    ("/api/analysis/greening?as_of=0500-11-14", 400, "as_of='0500-11-14'：应为 1900…2199 年内的日期"),
    ("/api/analysis/league?month=0000-01", 400, "month='0000-01'"),
    ("/api/analysis/league?month=9999-12", 400, "month='9999-12'"),
])
def test_out_of_range_api_input_is_an_error_not_a_500(client, path, status, message):
    """Found by the schemathesis run: ids beyond SQLite's integers, and years Python or pandas cannot hold."""
    answer = client.get(path)
    assert answer.status_code == status and message in answer.get_json()["error"]


def test_api_numbers_and_dates_keep_their_json_types(client):
    """Integer columns stay integers beside missing values (not 397.0), and the last as-of date allowed stays."""
    features = client.get("/api/issues?limit=200").get_json()["features"]
    segments = [f["properties"]["segment_id"] for f in features]
    assert None in segments and all(isinstance(s, int) for s in segments if s is not None)
    assert client.get("/api/analysis/greening?as_of=2199-12-31").get_json()["as_of"] == "2199-12-31"


def test_unknown_layer_is_a_400(client):
    answer = client.get("/api/layers/nope")
    assert answer.status_code == 400 and "nope" in answer.get_json()["error"]


def test_empty_database_page_says_what_to_do(tmp_path, login):
    from conftest import create_test_users

    from geo.store.db import init_db

    app = create_app({"data_dir": str(tmp_path)})
    init_db(app.extensions["citymap.engine"])
    create_test_users(app.extensions["citymap.engine"], "120110900")
    client = app.test_client()
    login(client, "supervisor")
    page = client.get("/")
    assert page.status_code == 404
    assert "load-sample" in page.get_data(as_text=True)
