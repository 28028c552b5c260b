"""Every page in one language at a time, for every role that may open it.

The walk takes every GET route of the URL map that answers a page (the APIs, files and map
documents aside), fills its path variables with real ids of the sample — the issues each role
works on, a citizen's own report and its tracking token — adds the queries that show a page's
other states, and reads each page as each role :data:`webmap.auth.ACCESS` lets open it, in
Chinese and in English (``?lang=en``), with ``tests/ui_language.py``: a Chinese page holds no
English word outside :data:`ALLOW`; an English page no Chinese outside data values
(``data-value``), and no data value is one of the product's own Chinese words (a category,
department, state, step or task name hidden from the check instead of translated). No page shows
``nan``, ``None`` or ``NaT``. The map documents' words (layer names, legends, messages, popup and
tooltip labels) follow the same rules, and their features name no category, department, state
or step in Chinese on an English map. Error pages speak the page's language.
"""

from __future__ import annotations

import html as html_lib
import re
from io import BytesIO

import openpyxl
import pytest
from conftest import tiny_image
from ui_language import chinese_runs, data_values, english_words, visible_text

from geo import store
from geo.greening.tasks import SEASONS, SIDES, load_greening_tasks
from geo.issue_filter import IssueFilter
from geo.loop.citizen import category_plain_words
from geo.loop.workflow import load_transitions
from geo.statuses import STATUS_LABELS, STATUS_PLAIN
from geo.taxonomy import load_taxonomy
from webmap.app import create_app
from webmap.auth import ACCESS, DEFAULT_ROLES, GUARDED_BLUEPRINTS

J = "120110900"
#: test user → role (tests/conftest.TEST_USERS): the four who use the pages
ROLES = {"supervisor": "supervisor", "dispatcher": "dispatcher", "sanitation": "department", "citizen": "public"}
#: English that stays on a Chinese page besides ui_language.ALLOWED_ENGLISH: names of methods and their authors,
#: statistics' letters, the GPS of a track, the Open of Open311, the standard OGC API's own name
ALLOW = {"Getis-Ord", "z", "p", "ArcGIS", "Pro", "Mann", "Kendall", "GPS", "Open", "Features"}
#: routes that are no page: the APIs (JSON, XML, GPX, XLSX), files, and the map documents (checked on their own)
NOT_PAGES = ("/api/", "/open311/", "/openapi.json", "/static/", "/vendor/", "/favicon.ico", "/photos/",
             "/reports/", "/routes.gpx")
#: the sample's jurisdiction in WGS84 degrees (minlon,minlat,maxlon,maxlat), the view a live layer is asked for
SAMPLE_VIEW = "117.30,39.04,117.45,39.16"
#: the states of a page a query shows, besides its default
VARIANTS = {
    "pages.issue_list": ("status=open", "status=reported,registered", "page=2"),
    "pages.hotspots": ("since=2025-12-31&until=2025-12-31&source=12345", "since=2024-01-01&until=2024-01-02"),
    "pages.emerging": ("cell=120110900004031",),
    "pages.league": ("month=2025-06",),
    "pages.plan_tasks": ("month=2025-06",),
    "pages.greening": ("year=2025&day=160",),
    "pages.routes": ("job=sweep", "set=open"),
    "pages.crew_todo": ("done=1",),
}
NAN = re.compile(r"\b(nan|NaN|None|NaT)\b")


def product_words() -> set[str]:
    """The product's own Chinese words that have an English name: what a page must translate, never mark data."""
    taxonomy = load_taxonomy()
    words = {*taxonomy.categories["name"], *taxonomy.categories["major_name"], *taxonomy.departments["name"],
             *taxonomy.plan_tasks["title"], *category_plain_words()["plain"], *STATUS_LABELS.values(),
             *STATUS_PLAIN.values(), *load_transitions()["name"], *load_greening_tasks()["name"], *SEASONS.values(),
             *SIDES.values()}
    return {w for w in words if w}


PRODUCT_WORDS = product_words()
PRODUCT_WORD = re.compile("|".join(re.escape(w) for w in sorted(PRODUCT_WORDS, key=len, reverse=True)))


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


@pytest.fixture(scope="module")
def world(app, login, copy_engine):
    """The ids the pages are read with: a citizen's reports (two alike, so the desk offers a duplicate, and one
    merged), its tracking token, a sanitation issue with a pending extension request, a closed issue."""
    clients = {}
    for name in ROLES:
        clients[name] = app.test_client()
        clients[name].csrf = login(clients[name], name)
    citizen = clients["citizen"]
    reports, token = [], None
    for n in range(3):
        answer = citizen.post("/report", data={"lon": "117.37", "lat": "39.1", "category_code": "06010",
                                               "description": f"门口垃圾 {n}", "csrf_token": citizen.csrf,
                                               "photos": (BytesIO(tiny_image()), "p.png")},
                              content_type="multipart/form-data")
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        reports.append(int(answer.headers["Location"].rsplit("=", 1)[1]))
        page = citizen.get(answer.headers["Location"]).get_data(as_text=True)
        token = re.search(r'href="[^"]*/track/([\w-]+)"', page)[1]
    dispatcher = clients["dispatcher"]
    merged = dispatcher.post(f"/issues/{reports[0]}/transitions", data={
        "action": "merge", "merge_into": reports[2], "csrf_token": dispatcher.csrf})
    assert merged.status_code == 302
    crew_issue = int(store.query_issues(copy_engine, jurisdiction_code=J, columns=("id",), limit=1, where=IssueFilter(
        statuses=["dispatched"], departments=["sanitation"]))["id"].iloc[0])
    crew = clients["sanitation"]
    asked = crew.post(f"/issues/{crew_issue}/transitions", data={
        "action": "ask_extension", "days": "2", "note": "设备检修", "back": "todo", "csrf_token": crew.csrf})
    assert asked.status_code == 302
    # the crew's page then shows an answered request, 督办 and a request waiting
    for client, step in ((dispatcher, {"action": "refuse_request", "note": "请按期完成"}),
                         (dispatcher, {"action": "urge", "note": "尽快处理"}),
                         (crew, {"action": "ask_return", "note": "不属本单位", "back": "todo"})):
        answer = client.post(f"/issues/{crew_issue}/transitions", data={**step, "csrf_token": client.csrf})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    closed = int(store.query_issues(copy_engine, jurisdiction_code=J, columns=("id",), limit=1,
                                    where=IssueFilter(statuses=["closed"]))["id"].iloc[0])
    others = int(store.query_issues(copy_engine, jurisdiction_code=J, columns=("id",), limit=1,
                                    where=IssueFilter(departments=["construction"]))["id"].iloc[0])
    return {"clients": clients, "reports": reports, "token": token, "crew_issue": crew_issue, "closed": closed,
            "others": others}


def _issue_ids(world, role: str) -> list[int]:
    """The issues a role's pages are read with: its own, or those that show the desk, a request, a merge, a
    full timeline."""
    merged, _other, master = world["reports"]
    return {"public": [master, merged], "department": [world["crew_issue"]],
            "dispatcher": [master, merged, world["crew_issue"], world["closed"]],
            "supervisor": [master, world["closed"]]}[role]


def _may_open(endpoint: str, role: str) -> bool:
    if endpoint.split(".")[0] not in GUARDED_BLUEPRINTS:
        return True
    return role in ACCESS.get(endpoint, DEFAULT_ROLES)


def _paths(app, world, role: str, *, documents: bool = False) -> list[str]:
    """The paths of every page (or, ``documents``, every map document) ``role`` may open, each state of it."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES) or "/photos/" in rule.rule:
            continue
        if rule.rule.endswith("/data") != documents or not _may_open(rule.endpoint, role):
            continue
        if rule.endpoint.startswith("ogcapi.") and role != "supervisor":
            continue  # the OGC API's pages are the GIS staff's: read once
        if rule.endpoint in ("pages.report_done", "pages.my_report") and role != "public":
            continue  # a user's own reports: read as the citizen who filed them
        if rule.endpoint.startswith("track.") or rule.endpoint == "auth.login":
            continue  # read logged out (test_logged_out_pages)
        fills = [{"issue_id": i, "fid": i, "cid": "issues"} for i in _issue_ids(world, role)] \
            if {"issue_id", "fid"} & set(rule.arguments) else [{"cid": "roads"}]
        for fill in fills:
            path = rule.build(fill, append_unknown=False)[1]
            query = ["f=html"] if rule.endpoint.startswith("ogcapi.") else [""]
            if rule.rule.endswith("/points"):
                query = [f"view={SAMPLE_VIEW}&zoom=17"]  # a map's live layer answers for a view and a zoom
            if rule.endpoint.removesuffix("_data") == "pages.routes_map_page":
                # today (after the sample's year) has no pickups: the page says so, its map has no plan to draw
                query = ["set=open", "job=sweep"]
            if rule.endpoint == "pages.report_done":
                query = [f"issue={world['reports'][2]}"]
            paths += [f"{path}?{q}" for q in (*query, *VARIANTS.get(rule.endpoint.removesuffix("_data"), ()))]
    return paths


def _check_page(html: str, lang: str, where: str) -> None:
    if lang == "zh":
        assert english_words(html, allow=ALLOW) == set(), where
    else:
        assert chinese_runs(html) == set(), where
        hidden = {v for v in data_values(html) if v in PRODUCT_WORDS}
        assert hidden == set(), f"{where}: the product's words marked as data instead of translated"
    shown = " ".join(visible_text(html)) + " " + " ".join(data_values(html))
    assert not NAN.search(shown), (where, NAN.search(shown))


def _read(client, path: str, lang: str):
    answer = client.get(path + ("&" if "?" in path else "?") + f"lang={lang}", follow_redirects=True)
    return answer, answer.get_data(as_text=True)


@pytest.mark.parametrize("user", ROLES)
def test_every_page_speaks_one_language_for_every_role(app, world, user):
    client, role = world["clients"][user], ROLES[user]
    paths = _paths(app, world, role)
    read = 0
    for path in paths:
        for lang in ("zh", "en"):
            answer, html = _read(client, path, lang)
            assert answer.status_code == 200, (user, path, html[:300])
            if answer.mimetype == "text/html":
                _check_page(html, lang, f"{user} {lang} {path}")
                read += 1
    print(f"\n{user}: {read} pages read")
    assert read >= {"supervisor": 60, "dispatcher": 50, "department": 20, "public": 10}[role]


def test_logged_out_pages(app, world):
    client = app.test_client()
    for path in ("/login", f"/track/{world['token']}"):
        for lang in ("zh", "en"):
            answer, html = _read(client, path, lang)
            assert answer.status_code == 200, path
            _check_page(html, lang, f"{lang} {path}")


@pytest.mark.parametrize("user, path, status, quoted", [
    ("supervisor", "/issues/99999999", 404, set()),
    ("dispatcher", "/coverage", 403, set()),
    ("sanitation", "/issues/{others}", 404, set()),
    ("citizen", "/issues", 403, set()),
    ("supervisor", "/issues?page=-1", 400, {"page"}),
    ("supervisor", "/hotspots?until=9999-12-31", 400, {"until"}),
    ("supervisor", "/routes?vehicles=100000", 400, {"vehicles"}),
    ("citizen", "/my/reports/1", 404, set()),
    ("citizen", "/track/not-a-token", 404, set()),
])
def test_error_pages_speak_the_pages_language(world, user, path, status, quoted):
    client, path = world["clients"][user], path.format(others=world["others"])
    for lang in ("zh", "en"):
        answer, html = _read(client, path, lang)
        assert answer.status_code == status, (path, html[:300])
        # a message quoting a parameter names it as the URL does
        if lang == "zh":
            assert english_words(html, allow=ALLOW | quoted) == set(), path
        else:
            assert chinese_runs(html) == set(), path
        assert 'id="error-message"' in html


def _document_words(document: dict, *, keep_empty: bool = False) -> list[str]:
    """The words a map document says itself: layer names, legend, message, popup and tooltip labels (``keep_empty``:
    the missing and empty ones too, in their places)."""
    words = [document.get("message")]
    legend = document.get("legend") or {}
    words += [legend.get("title"), *(row[1] for row in legend.get("rows", []))]
    for layer in document["layers"]:
        words.append(layer.get("name"))
        for spec in (layer.get("tooltip"), layer.get("popup")):
            words += [label for label, _prop in (spec or {}).get("fields", [])]
    return words if keep_empty else [w for w in words if w]


def _feature_texts(document: dict) -> list[str]:
    """The texts of the features' properties a popup or tooltip shows, users' own words (descriptions and
    addresses) left out."""
    out = []
    for layer in document["layers"]:
        for feature in (layer.get("data") or {}).get("features", []):
            for key, value in feature["properties"].items():
                values = value if isinstance(value, list) else [value]
                out += [v for v in values if isinstance(v, str) and key not in ("description", "address")]
    return out


@pytest.mark.parametrize("user", ["supervisor", "sanitation"])
def test_map_documents_speak_the_pages_language(app, world, user):
    client, role = world["clients"][user], ROLES[user]
    paths = _paths(app, world, role, documents=True)
    assert len(paths) >= (9 if role == "supervisor" else 3)
    for path in paths:
        said_in = {}
        for lang in ("zh", "en"):
            answer = client.get(f"{path}&lang={lang}")
            assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
            document = answer.get_json()
            said_in[lang] = _document_words(document, keep_empty=True)
            said = "".join(f"<p>{html_lib.escape(w)}</p>" for w in said_in[lang] if w)
            if lang == "zh":
                assert english_words(said, allow=ALLOW) == set(), path
            else:
                assert chinese_runs(said) == set(), path
                named = {m for text in _feature_texts(document) for m in PRODUCT_WORD.findall(text)}
                assert named == set(), f"{path}: Chinese product words in an English map's features"
        # the same words in both: a label the Chinese leaves empty (a value alone) is empty in English too
        assert [not w for w in said_in["zh"]] == [not w for w in said_in["en"]], path


def test_refused_forms_answer_in_the_pages_language(app, world, copy_engine):
    """A form the app refuses shows its message in the page's language: the report without a problem chosen, a
    rework without a note, a handling without its after-photo, a wrong password."""
    handled = int(store.query_issues(copy_engine, jurisdiction_code=J, columns=("id",), limit=1,
                                     where=IssueFilter(statuses=["handled"]))["id"].iloc[0])
    clients = world["clients"]
    posts = [
        ("citizen", "/report", {"lon": "117.37", "lat": "39.1", "description": "门口垃圾"}, 400),
        ("dispatcher", f"/issues/{handled}/transitions", {"action": "rework"}, 400),
        ("sanitation", f"/issues/{world['crew_issue']}/transitions", {"action": "handle", "note": "已清理"}, 400),
        (None, "/login", {"name": "citizen", "password": "not-the-password"}, 401),
    ]
    anonymous = app.test_client()
    anonymous.csrf = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/login").get_data(as_text=True))[1]
    for user, path, form, status in posts:
        client = clients[user] if user else anonymous
        for lang in ("zh", "en"):
            answer = client.post(f"{path}?lang={lang}", data={**form, "csrf_token": client.csrf})
            html = answer.get_data(as_text=True)
            assert answer.status_code == status, (path, html[:300])
            assert re.search(r'class="error"[^>]*>[^<]+<', html), path
            _check_page(html, lang, f"{user} {lang} POST {path}")


def test_the_weekly_workbook_follows_the_readers_language(world):
    """The weekly Excel's map says its title and legend in the reader's language (the PNG's Title is the map's
    title), and its plan tasks are named in it."""
    from PIL import Image

    from geo.loop.weekly import MAP_WORDS
    from webmap.figures import MAP_WORD_MARKS

    assert MAP_WORD_MARKS == MAP_WORDS
    client = world["clients"]["supervisor"]
    titles = {}
    for lang, sheet, tasks in (("en", "Map", "Plan tasks"), ("zh", "地图", "专项任务")):
        answer = client.get(f"/reports/weekly.xlsx?week=2025-W50&lang={lang}")
        assert answer.status_code == 200
        book = openpyxl.load_workbook(BytesIO(answer.data))
        image = book[sheet]._images[0]
        titles[lang] = Image.open(BytesIO(image._data())).info["Title"]
        names = [row[0] for row in book[tasks].iter_rows(min_row=2, values_only=True)]
        assert ("Green and beautify the priority roads" if lang == "en" else "开展重点道路绿化美化提升行动") in names
        assert all(chinese_runs(f"<p>{html_lib.escape(str(n))}</p>") == set() for n in names) or lang == "zh"
    assert titles["en"].startswith("Open and overdue issues (as of ") and chinese_runs(titles["en"]) == set()
    assert titles["zh"].startswith("未结案与超期问题（截至 ")
