"""Live map layers: a map never receives more features than its cap, whatever the issues (issue 19).

Over HTTP on the sample (20,000 issues) with a cap of 40 features: every live layer of every
map answers squares of counts at a city's zoom and the issues one by one where few are; the
squares count exactly the issues of the filter in the view; bad views and zooms are 400s
quoting the value. In headless Chromium the overview map draws its squares, zooms in to the
issues when one is clicked, and no request leaves 127.0.0.1. The squares' arithmetic
(geo.loop.points) on hand-made counts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from conftest import DRAWN_LAYERS, LIVE_LAYERS, _serve_in_thread, map_document

from geo import store
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.loop.points import cluster_squares, map_points
from geo.statuses import OPEN_STATUSES
from geo.store.db import make_engine
from webmap.app import create_app

CAP = 40
#: the whole sample, and a street corner of it (≈ 90 × 110 m)
CITY = "117.30,39.04,117.45,39.16"
CORNER = "117.3695,39.0995,117.3705,39.1005"
#: map page → the live layers' names it holds (prefixes)
MAPS = {"/maps/overview": ["未结案问题"], "/maps/issues": ["问题列表"], "/maps/issues?status=closed": ["问题列表"],
        "/maps/hotspots?since=2025-06-01&until=2025-12-31": ["全部问题", "市容环境"],
        "/maps/coverage?team=sanitation_west": ["未结案问题"],
        "/maps/greening?year=2025&as_of=2025-12-31&task=summer_pruning": ["绿化相关问题"]}


@pytest.fixture(scope="module")
def capped(sample_db):
    return replace(sample_db, map_max_features=CAP)


@pytest.fixture(scope="module")
def client(capped, login):
    client = create_app(capped).test_client()
    login(client, "supervisor")
    return client


def _live(client, path: str) -> list[dict]:
    document = map_document(client, path)
    return [layer for layer in document["layers"] if layer["kind"] == "live"]


def _ask(client, layer: dict, path: str, view: str, zoom: int):
    from urllib.parse import parse_qsl

    query = {**dict(parse_qsl(path.partition("?")[2])), **layer["params"], "view": view, "zoom": str(zoom)}
    return client.get(layer["source"], query_string=query)


@pytest.mark.parametrize("path", list(MAPS))
def test_every_live_layer_keeps_to_its_cap_at_every_zoom(client, path):
    layers = _live(client, path)
    assert all(any(layer["name"].startswith(name) for layer in layers) for name in MAPS[path])
    for layer in layers:
        assert layer["source"] == path.partition("?")[0] + "/points" and "data" not in layer
        totals = set()
        for zoom in range(8, 20, 2):
            answer = _ask(client, layer, path, CITY, zoom)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
            body = answer.get_json()
            features = body["data"]["features"]
            assert len(features) <= CAP, (path, layer["name"], zoom, len(features))
            if body["clustered"]:
                assert sum(f["properties"]["n"] for f in features) == body["total"]
                assert all(f["properties"]["tip"] == f"{f['properties']['n']} 件" for f in features)
            else:
                assert body["total"] == len(features) <= CAP and all("href" in f["properties"] for f in features)
            totals.add(body["total"])
        # the whole city holds the same issues at every zoom: only how they are drawn changes
        assert len(totals) == 1, (path, layer["name"], totals)


def test_the_squares_count_exactly_the_filters_issues_in_the_view(client, capped):
    engine = make_engine(capped.resolved_database_url)
    j = capped.jurisdiction_code
    where = IssueFilter(statuses=["closed"], categories=["06"])
    view = (117.35, 39.08, 117.39, 39.11)
    shown = map_points(engine, capped, where, view=view, zoom=15, cap=CAP, columns=("id",))
    issues = store.query_issues(engine, jurisdiction_code=j, where=where, columns=("id", "cell_code"))
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    centres = cells.set_index("code").geometry.centroid  # as geo.loop.points places a cell: in lon/lat
    x = issues["cell_code"].map(centres.x)
    y = issues["cell_code"].map(centres.y)
    inside = issues[(x >= view[0]) & (x <= view[2]) & (y >= view[1]) & (y <= view[3])]
    assert shown.clustered and shown.total == len(inside) > 1000 and len(shown.points) <= CAP
    # where the view holds few: each issue, exactly those of the filter in the view
    corner = tuple(float(v) for v in CORNER.split(","))
    few = map_points(engine, capped, IssueFilter(statuses=OPEN_STATUSES), view=corner, zoom=19, cap=CAP,
                     columns=("id", "status"))
    expected = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(statuses=OPEN_STATUSES, bbox=corner))
    assert not few.clustered and sorted(few.points["id"]) == sorted(expected["id"])
    assert set(few.points["status"]) <= set(OPEN_STATUSES)
    engine.dispose()


def test_a_department_user_gets_only_its_own_issues_counted(sample_db, login):
    client = create_app(replace(sample_db, map_max_features=CAP)).test_client()
    login(client, "sanitation")
    engine = make_engine(sample_db.resolved_database_url)
    own = store.count_issues(engine, jurisdiction_code=sample_db.jurisdiction_code,
                             where=IssueFilter(departments=["sanitation", "sanitation_west", "sanitation_east"]))
    engine.dispose()
    answer = client.get(f"/maps/issues/points?view={CITY}&zoom=12").get_json()
    assert answer["clustered"] and answer["total"] == own
    assert client.get(f"/maps/issues/points?view={CITY}&zoom=12&department=construction").get_json()["total"] == 0


@pytest.mark.parametrize("query, message", [
    ("zoom=12", "view"), (f"view={CITY}", "zoom"), ("view=1,2,3&zoom=12", "view='1,2,3'"),
    ("view=117.3,39.0,117.4,nan&zoom=12", "view"), ("view=117.3,95,117.4,96&zoom=12", "view"),
    (f"view={CITY}&zoom=23", "zoom='23'"), (f"view={CITY}&zoom=-1", "zoom"), (f"view={CITY}&zoom=1.5", "zoom"),
    (f"view={CITY}&zoom=99999999999999999999", "zoom"), ("view={{7*7}}&zoom=12", "view"),
])
def test_bad_views_and_zooms_are_400s_quoting_the_value(client, query, message):
    answer = client.get(f"/maps/overview/points?{query}")
    assert answer.status_code == 400 and answer.mimetype == "application/json"
    assert message in answer.get_json()["error"]


def test_an_answer_is_cached_by_its_etag_and_an_empty_view_is_empty(client):
    first = client.get(f"/maps/overview/points?view={CITY}&zoom=13")
    again = client.get(f"/maps/overview/points?view={CITY}&zoom=13", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and first.headers["Cache-Control"] == "private, no-cache"
    far = client.get("/maps/overview/points?view=100,20,100.1,20.1&zoom=13").get_json()
    assert far == {"clustered": False, "total": 0, "data": {"type": "FeatureCollection", "features": []}}
    # the issue list's own bbox narrows the view; apart from it, nothing
    apart = client.get(f"/maps/issues/points?view=117.30,39.04,117.31,39.05&zoom=13&bbox={CORNER}").get_json()
    assert apart["total"] == 0


def test_squares_grow_until_they_fit_the_cap():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(117.3, 117.45, 3000), rng.uniform(39.0, 39.15, 3000)
    n = rng.integers(0, 5, 3000)
    fine = cluster_squares(lon, lat, n, zoom=18, cap=5000)
    assert fine["n"].sum() == n.sum() and (fine["n"] > 0).all() and len(fine) > 1000
    for cap in (1, 7, 100):
        squares = cluster_squares(lon, lat, n, zoom=18, cap=cap)
        assert len(squares) <= cap and squares["n"].sum() == n.sum()
        # each square sits at the mean point of its counts, inside the area
        assert squares["lon"].between(117.3, 117.45).all() and squares["lat"].between(39.0, 39.15).all()
    one = cluster_squares([117.0, 117.0], [39.0, 39.0], [2, 3], zoom=5, cap=1)
    assert one.to_dict("records") == [{"lon": 117.0, "lat": 39.0, "n": 5}]
    assert cluster_squares([], [], [], zoom=3, cap=1).empty
    with pytest.raises(ValidationError, match="cap"):
        cluster_squares(lon, lat, n, zoom=3, cap=0)


# --------------------------------------------------------------------------- headless Chromium

@pytest.fixture(scope="module")
def capped_server(capped):
    yield from _serve_in_thread(capped)


@pytest.mark.browser
def test_a_map_draws_squares_then_issues_in_chromium(capped, capped_server, page_watch, browser_login):
    import os

    page, errors, outside = page_watch
    page.set_viewport_size({"width": 1400, "height": 900})
    browser_login(page, capped_server, "supervisor")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/points?" in request.url else None)
    page.goto(f"{capped_server}/maps/hotspots?since=2025-01-01&until=2025-12-31", wait_until="networkidle")
    assert page.evaluate(DRAWN_LAYERS)["state"] == "true"
    [every, *majors] = page.evaluate(LIVE_LAYERS, None)
    assert every["shown"] and every["loaded"] and every["clustered"] and 0 < every["markers"] <= CAP
    assert every["issues"] == 20000 and not any(layer["shown"] for layer in majors)
    assert page.locator(".marker-cluster").count() == every["markers"]
    shots = os.environ.get("CITYMAP_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/live-hotspots-city.png")
    # a click on a square zooms in, and the layer asks again for the smaller view
    before = len(asked)
    page.locator(".marker-cluster").first.click()
    page.wait_for_timeout(500)
    zoomed = page.evaluate(LIVE_LAYERS, None)[0]
    assert len(asked) > before and zoomed["loaded"] and zoomed["issues"] < 20000 and zoomed["markers"] <= CAP
    # around an issue of the last days of the year: each issue, with its popup
    engine = make_engine(capped.resolved_database_url)
    late = store.query_issues(engine, jurisdiction_code=capped.jurisdiction_code,
                              where=IssueFilter(since=datetime(2025, 12, 20), until=datetime(2026, 1, 1)), limit=1)
    engine.dispose()
    x, y = late.geometry.iloc[0].x, late.geometry.iloc[0].y
    page.goto(f"{capped_server}/maps/hotspots?since=2025-12-20&until=2025-12-31", wait_until="networkidle")
    assert page.evaluate(DRAWN_LAYERS)["state"] == "true"
    corner = page.evaluate(LIVE_LAYERS, [[y - 0.0005, x - 0.0005], [y + 0.0005, x + 0.0005]])[0]
    assert corner["loaded"] and not corner["clustered"] and 0 < corner["markers"] == corner["issues"] <= CAP
    popup = page.evaluate("""() => {
      const live = citymapMap.drawn.find(d => d.kind === 'live');
      live.layer.getLayers()[0].openPopup();
      return document.querySelector('.leaflet-popup-content').innerText;
    }""")
    assert popup.startswith("#") and "/issues/" not in popup
    assert page.locator(".leaflet-popup-content a").first.get_attribute("href").startswith("/issues/")
    if shots:
        page.wait_for_timeout(400)  # the popup fades in
        page.screenshot(path=f"{shots}/live-hotspots-corner.png")
    assert all("view=" in url and "zoom=" in url for url in asked)
    assert errors == [] and outside == []
