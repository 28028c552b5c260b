"""Malformed request input gets a 4xx that names what was wrong, never a 5xx, on every route.

Each GET route of the URL map is asked once as a supervisor through a request class that
records which query parameters the view reads; then every parameter it read is sent each
value of BAD_VALUES (dates out of range, far offsets, numbers past 64 bits, inf/NaN,
template syntax, NUL, …), and every path variable each value of BAD_PATH_VALUES. Every
POST route is sent JSON nested past Python's recursion limit and a form of bad values.
"""

from __future__ import annotations

import html
import json

import pytest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import AnyConverter, IntegerConverter
from werkzeug.utils import cached_property

from geo import store
from geo.store.db import make_engine
from webmap.app import create_app

BAD_VALUES = (
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-02-30",
    "0001-01", "9999-W52", "99999999999999999999999", "-9223372036854775809", "inf", "-inf", "nan", "1e308",
    "-1", "0", "１２", "{{ 7*7 }}", "a\x00b", "2025-01-01/9999-12-31T23:59:59Z", "1,2,3,inf",
)
BAD_PATH_VALUES = ("99999999999999999999999", "9223372036854775808", "0", "a%00b", "%7B%7B%207*7%20%7D%7D", "..%2F..")
#: routes that serve files by name (static, photos): no query parameters to read; their paths are tried
NO_QUERY = {"static", "pages.photo", "vendor.asset", "_favicon"}
#: the language switch is read before any view (webmap.i18n) and ignores what it does not know: one route tries it
ONCE = {"lang": "/"}
#: a JSON body nested deeper than Python's recursion limit (1000)
DEEP_JSON = "[" * 50_000 + "]" * 50_000


class _Reads(ImmutableMultiDict):
    """Query arguments that note each name a view asks for."""

    seen: set

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        self.seen.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        self.seen.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


@pytest.fixture(scope="module")
def client(sample_copy, login):
    app = create_app(sample_copy)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen: set[str] = set()

    class RecordingRequest(app.request_class):
        @cached_property
        def args(self):
            args = _Reads(super().args)
            args.seen = seen
            return args

    app.request_class = RecordingRequest
    client = app.test_client()
    client.csrf = login(client, "supervisor")
    client.seen = seen
    return client


@pytest.fixture(scope="module")
def issue_id(sample_copy) -> int:
    engine = make_engine(sample_copy.resolved_database_url)
    found = store.query_issues(engine, jurisdiction_code=sample_copy.jurisdiction_code, columns=("id",), limit=1)
    engine.dispose()
    return int(found["id"].iloc[0])


def _fill(issue_id: int) -> dict:
    """Path variables that work: an existing issue and layer, the converters' first choices."""
    return {"issue_id": issue_id, "fid": issue_id, "request_id": issue_id, "cid": "issues", "fmt": "json",
            "code": "06010", "token": "nope", "name": "roads", "prefix": "leaflet", "filename": "leaflet.js"}


def _build(rule, fill: dict) -> str:
    return rule.build({k: fill.get(k, "x") for k in rule.arguments}, append_unknown=False)[1]


def _rules(client, method: str, issue_id: int):
    """(rule, a working path) of each rule for ``method``."""
    for rule in client.application.url_map.iter_rules():
        if method in rule.methods and rule.endpoint != "static":
            yield rule, _build(rule, _fill(issue_id))


def _tally(answers: list[tuple[str, int]]) -> tuple[dict[int, int], list[tuple[str, int]]]:
    statuses: dict[int, int] = {}
    for _what, status in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return dict(sorted(statuses.items())), [(what, status) for what, status in answers if status >= 500]


def test_no_bad_query_parameter_gets_a_server_error(client, issue_id):
    answers = []
    paths = [path for rule, path in _rules(client, "GET", issue_id) if rule.endpoint not in NO_QUERY]
    for path in paths:
        client.seen.clear()
        assert client.get(path).status_code < 500, path
        for name in sorted(client.seen):
            if ONCE.get(name, path) != path:
                continue
            for value in BAD_VALUES:
                answers.append((f"{path}?{name}={value!r}", client.get(path, query_string={name: value}).status_code))
    statuses, failures = _tally(answers)
    print(f"\n{len(paths)} GET routes, {len(answers)} bad query values, answers {statuses}")
    assert len(paths) > 45 and len(answers) > 1500 and statuses.get(400, 0) > 1000
    assert not failures, failures[:20]


def test_no_bad_path_variable_gets_a_server_error(client, issue_id):
    answers = []
    for rule, _path in _rules(client, "GET", issue_id):
        for argument, converter in rule._converters.items():
            if isinstance(converter, AnyConverter):
                continue  # a fixed choice (json or xml): any other value does not match the rule
            # a marker the converter takes, then replaced by the bad value in the built path
            marker = 7_777_777_777_777 if isinstance(converter, IntegerConverter) else "marker"
            built = _build(rule, {**_fill(issue_id), argument: marker})
            for value in BAD_PATH_VALUES:
                bad = built.replace(str(marker), value)
                answers.append((bad, client.get(bad).status_code))
    statuses, failures = _tally(answers)
    print(f"\n{len(answers)} bad path variables, answers {statuses}")
    assert len(answers) > 60 and not failures, failures[:20]


def test_no_bad_body_gets_a_server_error(client, issue_id):
    answers = []
    headers = {"X-CSRF-Token": client.csrf}
    form = {name: value for name, value in zip(("merge_into", "lon", "lat", "long", "category_code", "action",
                                                "service_code", "description"), BAD_VALUES[7:])}
    for rule, path in _rules(client, "POST", issue_id):
        if rule.endpoint in ("auth.login", "auth.logout"):
            continue  # a failed login counts against the address; logging out ends the test's session
        answers.append((f"{path} deep JSON", client.post(path, data=DEEP_JSON, headers=headers,
                                                         content_type="application/json").status_code))
        answers.append((f"{path} form", client.post(path, data={**form, "csrf_token": client.csrf}).status_code))
    answers.append(("/login deep JSON", client.post("/login", data=DEEP_JSON,
                                                    content_type="application/json").status_code))
    statuses, failures = _tally(answers)
    print(f"\n{len(answers)} bad bodies, answers {statuses}")
    assert len(answers) >= 15 and not failures, failures
    assert client.get("/api/issues?limit=1").status_code == 200  # still logged in


def test_deep_json_is_a_400_that_says_so(client):
    answer = client.post("/api/issues", data=DEEP_JSON, headers={"X-CSRF-Token": client.csrf},
                         content_type="application/json")
    assert answer.status_code == 400 and "nested too deeply" in answer.get_json()["error"]


@pytest.mark.parametrize("path, name, words", [
    ("/api/issues?limit=99999999999999999999999", "limit", "1…10000"),
    ("/issues?page=-9223372036854775809", "page", "的整数"),  # a page says it in its own language
    ("/api/analysis/league?month=9999-12", "month", "1900…2199"),
    ("/league?month=0001-01", "month", "1900…2199"),
    ("/reports/weekly.xlsx?week=9999-W52", "week", "1900…2199"),
    ("/hotspots?until=9999-12-31", "until", "1900…2199"),
    ("/coverage?until=0001-01-01", "until", "1900…2199"),
    ("/greening?as_of=9999-12-31", "as_of", "1900…2199"),
    ("/greening?year=99999", "year", "1900…2199"),
    ("/ogcapi/collections/issues/items?offset=99999999999999999999", "offset", "0…1000000000"),
    ("/ogcapi/collections/issues/items?datetime=9999-12-31T23:59:59-14:00", "datetime", "1900…2199"),
    ("/open311/v2/requests.json?start_date=0001-01-01T00:00:00%2B14:00", "start_date", "1900…2199"),
    ("/routes?vehicles=100000", "vehicles", "1…50"),
    ("/routes?capacity_m3=inf", "capacity_m3", "0.1…100 m³"),
    ("/routes?shift_h=1e308", "shift_h", "0.1…24 h"),
    ("/api/issues?bbox=1,2,3,inf", "bbox", "minlon,minlat,maxlon,maxlat"),
])
def test_a_bad_value_is_a_400_naming_the_parameter_and_the_range(client, path, name, words):
    answer = client.get(path)
    # each surface words its errors its own way (REST, OGC API, Open311, pages): read the message wherever it is
    text = json.dumps(answer.get_json(), ensure_ascii=False) if answer.is_json else \
        html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400, text[:300]
    assert f"{name}=" in text and words in text, text[:2000]
