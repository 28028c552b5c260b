"""Malformed request parameters get a 4xx that names the parameter, never a 5xx, on every route.

Each GET route of the URL map is asked once as a supervisor through a request class that
records which query parameters the view reads; then every parameter it read is sent each
value of BAD_VALUES (dates out of range, far offsets, numbers past 64 bits, inf/NaN, …).
The counts are printed (``-s``) for the issue note.

Not yet part of the suite (the file name keeps pytest from collecting it): on 2026-12-04 it
tried 3,660 bad values on 51 routes and saw 97 server errors (first: /greening ``as_of`` and
``year``), and it takes 200 s. Run it with
``python -m pytest -q -p no:cacheprovider tests/probe_bad_parameters.py -s``; it becomes
tests/test_bad_parameters.py when it passes (issue 14 item 3) and is fast enough.
"""

from __future__ import annotations

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property

from geo import store
from webmap.app import create_app

BAD_VALUES = (
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-02-30",
    "0001-01", "9999-W52", "99999999999999999999999", "-9223372036854775809", "inf", "-inf", "nan", "1e308",
    "-1", "0", "１２", "{{ 7*7 }}", "a\x00b", "2025-01-01/9999-12-31T23:59:59Z", "1,2,3,inf",
)
#: routes that serve files by name (static, photos, vendor assets): no query parameters to read
SKIPPED = {"static", "pages.photo", "vendor.asset", "_favicon"}


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

    class RecordingRequest(Request):
        @cached_property
        def args(self):
            args = _Reads(super().args)
            args.seen = seen
            return args

    app.request_class = RecordingRequest
    client = app.test_client()
    login(client, "supervisor")
    client.seen = seen
    return client


def _paths(client, engine_url: str, jurisdiction: str) -> list[str]:
    from geo.db import make_engine

    engine = make_engine(engine_url)
    issue_id = int(store.query_issues(engine, jurisdiction_code=jurisdiction, columns=("id",), limit=1)["id"].iloc[0])
    engine.dispose()
    # path variables: an existing issue and layer, the other converters' first choices
    fill = {"issue_id": issue_id, "fid": issue_id, "request_id": issue_id, "cid": "issues", "fmt": "json",
            "code": "06010", "token": "nope", "name": "roads"}
    paths = []
    for rule in client.application.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in SKIPPED:
            paths.append(rule.build({k: fill[k] for k in rule.arguments}, append_unknown=False)[1])
    return paths


def test_no_bad_parameter_gets_a_server_error(client, sample_copy):
    paths = _paths(client, sample_copy.resolved_database_url, sample_copy.jurisdiction_code)
    tried, failures, statuses = 0, [], {}
    for path in paths:
        client.seen.clear()
        assert client.get(path).status_code < 500, path
        for name in sorted(client.seen):
            for value in BAD_VALUES:
                answer = client.get(path, query_string={name: value})
                tried += 1
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code >= 500:
                    failures.append((path, name, value, answer.status_code))
    print(f"\n{len(paths)} routes, {tried} bad parameters tried, answers {dict(sorted(statuses.items()))}, "
          f"{len(failures)} server errors")
    failing = sorted({(path, name) for path, name, _value, _status in failures})
    assert tried > 1000 and not failures, (failing, failures[:10])
