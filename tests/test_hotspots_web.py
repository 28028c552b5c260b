"""The hotspot and emerging-hotspot pages and maps through Flask's test client, and `citymap hotspots`."""

from __future__ import annotations

import re
from datetime import datetime

import geopandas as gpd
import pytest
from click.testing import CliRunner
from conftest import map_document, map_layer

from geo import store
from geo.issue_filter import IssueFilter
from geo.store.db import make_engine
from geo.taxonomy import load_taxonomy
from webmap.app import create_app
from webmap.cli import main

EVIL = "<img src=x onerror=alert(1)>`${document.cookie}`"


@pytest.fixture(scope="module")
def evil_db(sample_copy):
    """The sample plus one open issue whose address and description are markup."""
    engine = make_engine(sample_copy.resolved_database_url)
    cell = store.read_layer(engine, "unit_cells", jurisdiction_code=sample_copy.jurisdiction_code).iloc[100]
    issue = gpd.GeoDataFrame({
        "source": ["citizen"], "source_system": ["wgs84"], "external_id": ["evil-1"], "category_code": ["06010"], "address": [EVIL],
        "description": [EVIL], "status": ["registered"], "reported_at": [datetime(2025, 12, 31, 23, 0)],
        "registered_at": [datetime(2025, 12, 31, 23, 5)], "cell_code": [cell["code"]],
        "community_code": [cell["community_code"]], "department_code": ["sanitation"],
    }, geometry=[cell.geometry.centroid], crs="EPSG:4326")
    store.insert_issues(engine, issue, jurisdiction_code=sample_copy.jurisdiction_code, file="evil.csv", actor="test")
    engine.dispose()
    return sample_copy, cell["code"]


@pytest.fixture(scope="module")
def client(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    return client


def test_home_links_the_hotspot_pages(client):
    html = client.get("/").get_data(as_text=True)
    assert 'id="hotspots-link" href="/hotspots"' in html and 'id="emerging-link" href="/emerging"' in html


def test_hotspot_page_has_the_form_the_tables_and_a_map_with_the_same_query(client):
    page = client.get("/hotspots?since=2025-10-01&until=2025-12-31&category=06&community=120110900005")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for field in ("since", "until", "category", "department", "community", "source"):
        assert f'name="{field}"' in html
    src = re.search(r'id="hotspot-map"[^>]*src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert src.startswith("/maps/hotspots?") and "category=06" in src and "community=120110900005" in src
    assert "since=2025-10-01" in src and "until=2025-12-31" in src
    assert '<option value="06" selected>' in html
    issues = int(re.search(r'id="fig-issues">(\d+)<', html).group(1))
    assert 0 < issues < 20000
    assert html.count('<tr><td class="num">') >= 10  # ranked cells and segments
    assert client.get(src).status_code == 200
    assert map_document(client, src)["layers"]


def test_hotspot_map_layers_assets_and_size(client):
    page = client.get("/maps/hotspots?since=2025-01-01&until=2025-12-31")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/vendor/") for u in urls), urls
    assert all(client.get(u).status_code == 200 for u in set(urls))
    answer = client.get("/maps/hotspots/data?since=2025-01-01&until=2025-12-31")
    assert answer.status_code == 200 and len(answer.data) < 3_000_000
    document = answer.get_json()
    cells = map_layer(document, "热点分析")
    assert 0 < len(cells["data"]["features"]) <= 2714 and "bbox" not in cells["data"]["features"][0]
    # a year of the sample is 20,000 issues: the map asks for those of its view, squares of counts for them all
    every = map_layer(document, "全部问题（20000）")
    assert every["kind"] == "live" and every["source"] == "/maps/hotspots/points" and "data" not in every
    answer = client.get(every["source"], query_string={"since": "2025-01-01", "until": "2025-12-31",
                                                       "view": "117.2,38.9,117.6,39.3", "zoom": "13"}).get_json()
    squares = [f["properties"]["n"] for f in answer["data"]["features"]]
    assert answer["clustered"] and sum(squares) == answer["total"] == 20000 and len(squares) <= 2000
    names = [layer["name"] for layer in document["layers"]]
    for label in ("热点分析（Gi*）", "问题核密度（热力）", "全部问题（20000）", "重点道路（每公里问题数）"):
        assert label in names
    assert any(name.startswith("市容环境（") for name in names)
    legend = [label for _colour, label, *_ in document["legend"]["rows"]]
    assert "热点（99% 置信）" in legend and "冷点（95% 置信）" in legend


def test_a_short_period_ships_one_point_per_issue_and_a_class_its_own(client):
    document = map_document(client, "/maps/hotspots?since=2025-12-25&until=2025-12-31")
    every = next(layer for layer in document["layers"] if layer["name"].startswith("全部问题"))
    query = {"since": "2025-12-25", "until": "2025-12-31", "view": "117.2,38.9,117.6,39.3", "zoom": "13"}
    answer = client.get(every["source"], query_string=query).get_json()
    hrefs = [f["properties"]["href"] for f in answer["data"]["features"]]
    assert not answer["clustered"] and every["name"] == f"全部问题（{len(hrefs)}）" == f"全部问题（{answer['total']}）"
    city = next(layer for layer in document["layers"] if layer["name"].startswith("市容环境（"))
    assert city["params"] == {"major": "06"} and city["show"] is False
    only = client.get(city["source"], query_string={**query, **city["params"]}).get_json()
    assert 0 < only["total"] < answer["total"] and city["name"] == f"市容环境（{only['total']}）"
    assert {f["properties"]["title"].split()[1] for f in only["data"]["features"]} < set(
        load_taxonomy().categories.query("major_code == '06'")["name"])
    # a class the filter leaves out shows nothing; one that is no class is a 400 naming it
    narrowed = client.get(city["source"], query_string={**query, "category": "07", "major": "06"}).get_json()
    assert narrowed["total"] == 0
    bad = client.get(city["source"], query_string={**query, "major": "6"})
    assert bad.status_code == 400 and "major" in bad.get_json()["error"]


@pytest.mark.parametrize("query, message", [
    ("since=2025-13-01", "since='2025-13-01'"), ("category=6", "'6'"), ("since=2025-12-31&until=2025-12-01", "晚于")])
def test_bad_filters_are_a_400_with_a_message(client, query, message):
    answer = client.get(f"/maps/hotspots/data?{query}")
    assert answer.status_code == 400 and message in answer.get_json()["error"]
    # the page is fixed code: it shows the document's error in the map
    assert client.get(f"/maps/hotspots?{query}").status_code == 200


def test_user_text_is_plain_text_in_the_popups(evil_db, login):
    settings, _cell = evil_db
    client = create_app(settings).test_client()
    login(client, "supervisor")
    document = map_document(client, "/maps/hotspots?since=2025-12-01&until=2025-12-31")
    cells = map_layer(document, "热点分析")
    tops = [line for f in cells["data"]["features"] for line in f["properties"]["top"] or [] if EVIL in line]
    # the text as typed, as data: the renderer puts it in the page with textContent
    assert len(tops) == 1 and tops[0].endswith(" · " + EVIL)


def test_emerging_page_and_map(client):
    page = client.get("/emerging?until=2025-12-31&weeks=12&category=06")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    counts = {key: int(n) for key, n in re.findall(r'data-class="(\w+)"><td>[^<]+</td><td>(\d+)<', html)}
    assert sum(counts.values()) == 2714 and counts.get("no_pattern", 0) < 2714
    src = re.search(r'id="emerging-map"[^>]*src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(src).status_code == 200
    drawn = map_layer(map_document(client, src), "时空热点类型")
    assert len(drawn["data"]["features"]) == 2714 - counts.get("no_pattern", 0)
    assert client.get("/emerging?weeks=1").status_code == 400


def test_cli_writes_cells_and_a_standalone_map(sample_db, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYMAP_DATA_DIR", str(sample_db.data_dir))
    out, page = tmp_path / "cells.geojson", tmp_path / "page.html"
    result = CliRunner().invoke(main, ["hotspots", "--category", "06", "--since", "2025-10-01", "--until",
                                       "2025-12-31", "--out", str(out), "--map", str(page)])
    assert result.exit_code == 0, result.output
    cells = gpd.read_file(out)
    assert len(cells) == 2714 and cells["cell_code"].is_unique
    assert {"cell_code", "count", "gi_z", "gi_p", "gi_bin"} <= set(cells.columns)
    engine = make_engine(sample_db.resolved_database_url)
    expected = store.count_issues(engine, jurisdiction_code=sample_db.jurisdiction_code,
                                  where=IssueFilter(since=datetime(2025, 10, 1), until=datetime(2026, 1, 1),
                                                    categories=[c for c in load_taxonomy().categories.index if c.startswith("06")]))
    engine.dispose()
    assert cells["count"].sum() == expected and f"{expected} issues" in result.output
    assert set(cells["gi_bin"]) <= set(range(-3, 4)) and (cells["gi_bin"] == 3).any()
    html = page.read_text(encoding="utf-8")
    assert "/vendor/" not in html and "L.map(" in html and "markerClusterGroup" in html
    assert 'id="citymap-map-data"' in html and "citymapMap.start(" in html
    bad = CliRunner().invoke(main, ["hotspots", "--category", "6", "--out", str(out)])
    assert bad.exit_code == 1 and "'6'" in bad.output
