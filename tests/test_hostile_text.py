"""Text a user typed is data on every page and map (issue 14 items 1 and 2).

Template syntax (balanced and not), a script breakout, an HTML event handler and odd Unicode go in through
every way text reaches citymap — the report form, ``POST /api/issues``, Open311 with a public user's key, a
CSV and an XLSX import, a greening work record (team, photo reference, note), a reference layer's names and a
transition note — and come out as the same text on the pages, in the map documents and in headless
Chromium: nothing rendered as a template, no element made from it, no script run.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import DRAWN_LAYERS, ISSUE_POPUP_TEXTS, LIVE_LAYERS, _serve_in_thread

from geo import store
from geo.issue_filter import IssueFilter
from geo.store.db import make_engine
from webmap.app import create_app
from webmap.cli import main

#: every hostile pattern at once: Jinja2 expressions, one reaching Python objects, a statement, an unbalanced
#: ``{{``, a script breakout, an event handler, a JS template literal, a line separator and astral characters
PAYLOAD = ("{{7*7}} {{ cycler.__init__.__globals__.os.popen('id').read() }} {% if 1 %}T{% endif %} {{ "
           "</script><script>window.cmPwned=1</script><img src=x onerror=\"window.cmPwned=1\"> ${7*7} "
           "\u2028 𝔘ñí·码")
INSIDE = {"lon": 117.37, "lat": 39.1}
J = "120110900"


#: the payload's dangerous parts within a name column of 100 characters (a longer name is a rejected row)
SHORT_PAYLOAD = "{{7*7}} </script><script>window.cmPwned=1</script><img src=x onerror=\"cmPwned=1\"> \u2028 𝔘·码"
#: fields whose column holds 100 characters
SHORT_FIELDS = frozenset({"layer-name"})


def tagged(tag: str) -> str:
    """The payload as typed into one field, marked with the field's tag."""
    return f"[{tag}] {SHORT_PAYLOAD if tag in SHORT_FIELDS else PAYLOAD}"


class World:
    """The copy of the sample with the payloads in; ``issues``: entry point → issue id."""

    def __init__(self, settings, issues: dict[str, int], community: str):
        self.settings, self.issues, self.community = settings, issues, community


def _issue_rows(tag: str, external_id: str) -> dict:
    return {"external_id": external_id, "source": "12345", "reported_at": "2025-12-20 09:00:00",
            "lon": INSIDE["lon"] + 0.002, "lat": INSIDE["lat"], "coord_system": "wgs84", "category_code": "06010",
            "description": tagged(f"{tag}-description"), "address": tagged(f"{tag}-address"), "phone": "",
            "status": "dispatched", "registered_at": "2025-12-20 09:30:00", "dispatched_at": "2025-12-20 10:00:00"}


@pytest.fixture(scope="module")
def world(sample_copy, api_keys, login, tmp_path_factory) -> World:
    settings = sample_copy
    url = settings.resolved_database_url
    engine = make_engine(url)
    client = create_app(settings).test_client()
    issues = {}

    token = login(client, "citizen")
    answer = client.post("/report", data={**{k: str(v) for k, v in INSIDE.items()}, "category_code": "06010",
                                          "description": tagged("form-description"),
                                          "address": tagged("form-address"), "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    issues["form"] = int(re.search(r"issue=(\d+)", answer.headers["Location"]).group(1))

    token = login(client, "dispatcher")
    answer = client.post("/api/issues", headers={"X-CSRF-Token": token},
                         json={**INSIDE, "category_code": "06010", "description": tagged("rest-description"),
                               "address": tagged("rest-address")})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    issues["rest"] = answer.get_json()["id"]
    for action, extra in (("register", {}), ("dispatch", {"note": tagged("transition-note")})):
        moved = client.post(f"/api/issues/{issues['rest']}/transitions", headers={"X-CSRF-Token": token},
                            json={"action": action, **extra})
        assert moved.status_code == 200, moved.get_data(as_text=True)

    answer = client.post("/open311/v2/requests.json", data={
        "api_key": api_keys["citizen"], "service_code": "06010", "lat": INSIDE["lat"], "long": INSIDE["lon"] - 0.002,
        "description": tagged("open311-description"), "address_string": tagged("open311-address")})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    issues["open311"] = int(answer.get_json()[0]["service_request_id"])

    folder = tmp_path_factory.mktemp("hostile")
    runner = CliRunner()
    csv_path = folder / "issues.csv"
    pd.DataFrame([_issue_rows("csv", "HOSTILE-CSV")]).to_csv(csv_path, index=False)
    book = openpyxl.Workbook()
    row = _issue_rows("xlsx", "HOSTILE-XLSX")
    book.active.append(list(row))
    book.active.append(list(row.values()))
    book.save(folder / "issues.xlsx")
    for path in (csv_path, folder / "issues.xlsx"):
        result = runner.invoke(main, ["--database-url", url, "import", str(path)])
        assert result.exit_code == 0 and "1 rows rejected" not in result.output, result.output
    issues["csv"] = store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="HOSTILE-CSV")
    issues["xlsx"] = store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="HOSTILE-XLSX")

    records = folder / "greening.csv"
    record = {"道路": "津北公路", "作业": "夏季修剪", "侧别": "左侧", "起点桩号": 0, "终点桩号": 200,
              "作业日期": "2025-07-31", "班组": tagged("greening-team"), "照片": "IMG_0012.jpg",
              "备注": tagged("greening-note")}
    # a photo reference is a file name of the field app, never free text: the hostile one is refused
    pd.DataFrame([record, {**record, "侧别": "右侧", "照片": tagged("greening-photo")}]).to_csv(records, index=False)
    result = runner.invoke(main, ["--database-url", url, "greening", "import", str(records)])
    assert result.exit_code == 0 and "1 greening records loaded" in result.output, result.output
    assert "row 3: photo: not a photo reference" in result.output

    # the community of the hostile issues gets a hostile name (a reference layer re-imported)
    communities = store.read_layer(engine, "communities", jurisdiction_code=J)
    point = gpd.points_from_xy([INSIDE["lon"]], [INSIDE["lat"]], crs="EPSG:4326")[0]
    community = communities.index[communities.contains(point)][0]
    communities.loc[community, "name"] = tagged("layer-name")
    layer_path = folder / "communities.geojson"
    communities.reset_index(drop=True).assign(jurisdiction_code=J).to_file(layer_path, driver="GeoJSON")
    result = runner.invoke(main, ["--database-url", url, "import", "--kind", "communities", str(layer_path)])
    assert result.exit_code == 0, result.output
    engine.dispose()
    return World(settings, issues, str(communities.loc[community, "code"]))


#: HTML pages: path → the tags whose text it must show
ISSUE_TAGS = ("description", "address")
HOTSPOTS = "since=2025-12-01&until=2026-12-31"
NEAR = "117.367,39.099,117.373,39.101"


def shown(tag: str, path: str) -> str:
    """The part of a tagged payload a page shows in full (the issue list cuts descriptions at 60 characters)."""
    return f"[{tag}] {{{{7*7}}}}" if path.startswith("/issues?") else tagged(tag)


def _pages(world: World) -> dict[str, set[str]]:
    pages = {f"/issues/{i}": {f"{kind}-{field}" for field in ISSUE_TAGS} for kind, i in world.issues.items()}
    pages[f"/issues/{world.issues['rest']}"].add("transition-note")
    pages[f"/issues?since=2025-12-19&bbox={NEAR}"] = {f"{k}-description" for k in world.issues}
    pages["/greening?year=2025&task=summer_pruning"] = set()
    pages[f"/hotspots?{HOTSPOTS}"] = set()
    pages["/coverage?team=sanitation_west"] = set()
    pages["/"] = set()
    return pages


#: map pages: path → the tags its map document must carry
def _maps(world: World) -> dict[str, set[str]]:
    maps = {f"/maps/issues/{i}": {f"{kind}-{field}" for field in ISSUE_TAGS} for kind, i in world.issues.items()}
    everything = {f"{kind}-{field}" for kind in world.issues for field in ISSUE_TAGS}
    maps["/maps/issues?status=open"] = everything
    maps["/maps/overview"] = {f"{kind}-description" for kind in world.issues}
    maps["/maps/greening?year=2025&task=summer_pruning"] = {"greening-team", "greening-note"}
    maps[f"/maps/hotspots?{HOTSPOTS}"] = {"layer-name"}
    return maps


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def supervisor(world, login):
    client = create_app(world.settings).test_client()
    login(client, "supervisor")
    return client


def test_every_entry_point_stored_the_text_as_typed(world):
    engine = make_engine(world.settings.resolved_database_url)
    stored = store.query_issues(engine, jurisdiction_code=J, where=IssueFilter(ids=list(world.issues.values())),
                                columns=("id", "description", "address")).set_index("id")
    for kind, issue_id in world.issues.items():
        assert stored.loc[issue_id, "description"] == tagged(f"{kind}-description")
        assert stored.loc[issue_id, "address"] == tagged(f"{kind}-address")
    engine.dispose()


def _answers(client, path: str) -> list:
    """The map document of a map page and the answers of its live layers for the view around the hostile
    issues (NEAR), where each issue comes one by one."""
    answer = client.get(path.replace("?", "/data?", 1) if "?" in path else f"{path}/data")
    assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
    answers = [answer]
    for layer in answer.get_json()["layers"]:
        if layer["kind"] == "live":
            query = {**dict(parse_qsl(path.partition("?")[2])), **layer["params"], "view": NEAR, "zoom": "18"}
            live = client.get(layer["source"], query_string=query)
            assert live.status_code == 200 and not live.get_json()["clustered"], (path, layer["name"])
            answers.append(live)
    return answers


def test_map_documents_carry_the_text_unrendered(world, supervisor):
    checked = 0
    for path, tags in _maps(world).items():
        answers = _answers(supervisor, path)
        raw = "".join(answer.get_data(as_text=True) for answer in answers)
        # nothing that could close the page's script or open a tag survives in the JSON as sent
        assert "<" not in raw and ">" not in raw and "\u2028" not in raw, path
        strings = [s for answer in answers for s in _strings(answer.get_json())]
        for tag in tags:
            assert any(tagged(tag) in s for s in strings), (path, tag)
            checked += 1
        assert not any("49" in s and f"[{t}]" in s for s in strings for t in tags), path
    assert checked == sum(len(t) for t in _maps(world).values()) > 20


def test_pages_show_the_text_escaped_and_hash_only_their_own_scripts(world, supervisor):
    import html as html_lib

    for path, tags in _pages(world).items():
        answer = supervisor.get(path)
        assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
        page = answer.get_data(as_text=True)
        assert "<script>window.cmPwned" not in page and "<img src=x" not in page, path
        for tag in tags:
            assert shown(tag, path) in html_lib.unescape(page), (path, tag)
        script_src = re.search(r"script-src ([^;]+);", answer.headers["Content-Security-Policy"]).group(1)
        assert script_src == "'self'", (path, script_src)
    # a map page is the same fixed code whatever its data: its CSP hashes are those of that code only
    shells = [supervisor.get(p) for p in ("/maps/issues?status=open", f"/maps/issues?bbox={NEAR}")]
    assert shells[0].get_data() == shells[1].get_data()
    inline = re.findall(r"<script>(.*?)</script>", shells[0].get_data(as_text=True), flags=re.S)
    assert all("cmPwned" not in s for s in inline)
    assert shells[0].headers["Content-Security-Policy"] == shells[1].headers["Content-Security-Policy"]


def test_cli_standalone_hotspot_map_embeds_the_text_as_data(world, tmp_path):
    out = tmp_path / "hotspots.html"
    result = CliRunner().invoke(main, ["--database-url", world.settings.resolved_database_url, "hotspots",
                                       "--since", "2025-12-01", "--until", "2026-12-31",
                                       "--out", str(tmp_path / "cells.geojson"), "--map", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    embedded = re.search(r'<script type="application/json" id="citymap-map-data">(.*?)</script>', page, re.S)[1]
    assert "<" not in embedded and "cmPwned" not in page.replace(embedded, "")
    assert any(tagged("layer-name") in s for s in _strings(json.loads(embedded)))


# --------------------------------------------------------------------------- headless Chromium

@pytest.fixture(scope="module")
def hostile_server(world):
    yield from _serve_in_thread(world.settings)


#: every popup of the drawn map whose text holds a tag, rendered by the page's own code
TAGGED_POPUP_TEXTS = """async () => {
  for (let i = 0; i < 100 && document.body.getAttribute('data-map-drawn') === null; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  const out = [];
  citymapMap.drawn.forEach(d => (d.layer.getLayers ? d.layer.getLayers() : []).forEach(m => {
    const popup = m.getPopup && m.getPopup();
    if (!popup) return;
    const content = popup._content;
    const node = typeof content === 'function' ? content(m) : content;
    const text = node instanceof Node ? node.textContent : String(content);
    if (text.includes('[')) out.push(text);
  }));
  return out;
}"""


@pytest.mark.browser
def test_payloads_stay_text_in_chromium_on_every_page_and_map(world, hostile_server, page_watch, browser_login):
    page, errors, outside = page_watch
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, hostile_server, "supervisor")
    checked = 0
    for path, tags in _pages(world).items():
        page.goto(f"{hostile_server}{path}", wait_until="networkidle")
        text = page.locator("body").inner_text()
        for tag in tags:
            assert shown(tag, path).replace("\u2028", "") in text.replace("\u2028", ""), (path, tag)
            checked += 1
    west, south, east, north = (float(v) for v in NEAR.split(","))
    for path, tags in _maps(world).items():
        page.goto(f"{hostile_server}{path}", wait_until="networkidle")
        assert page.evaluate(DRAWN_LAYERS)["state"] == "true", path
        # where the hostile issues are: the live layers answer them one by one, with their popups
        live = page.evaluate(LIVE_LAYERS, [[south, west], [north, east]])
        assert all(layer["loaded"] and not layer["clustered"] for layer in live if layer["shown"]), (path, live)
        issue = re.match(r"/maps/issues/(\d+)$", path)
        texts = (page.evaluate(ISSUE_POPUP_TEXTS, f"/issues/{issue[1]}") if issue
                 else page.evaluate(TAGGED_POPUP_TEXTS))
        for tag in tags:
            assert any(tagged(tag) in t for t in texts), (path, tag, texts[:3])
            checked += 1
        assert page.evaluate("() => window.cmPwned") is None, path
        assert page.locator("img[src=x], .leaflet-container script").count() == 0, path
    assert checked == sum(len(t) for t in [*_pages(world).values(), *_maps(world).values()])
    assert dialogs == [] and errors == [] and outside == []
